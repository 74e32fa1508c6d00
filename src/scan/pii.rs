//! PII scanners, written by hand so that clean text costs a byte loop rather than a regex.
//!
//! Each scanner finds candidates by a cheap trigger (`@` for email, `:` for IPv6, runs of
//! digits for the rest) and validates them: Luhn for cards, the SSA's rules for SSNs, mod-97
//! for IBANs, real parsing for IP addresses. A finding is a kind and a byte range, never text.

use super::bytes::{find_digit, find_iban_head};
use super::ipranges::IpRanges;
use super::{Finding, Kind};

/// Which PII kinds are enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PiiKinds {
    pub email: bool,
    pub phone: bool,
    pub ssn: bool,
    pub credit_card: bool,
    pub iban: bool,
    pub ipv4: bool,
    pub ipv6: bool,
}

impl PiiKinds {
    pub const ALL: PiiKinds = PiiKinds { email: true, phone: true, ssn: true, credit_card: true, iban: true, ipv4: true, ipv6: true };
}

fn is_local(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}
fn is_domain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

/// The non-ASCII letter or digit that ends just before `i`: its start, if there is one.
fn letter_before(t: &[u8], i: usize) -> Option<usize> {
    let lo = i.saturating_sub(4);
    let start = (lo..i).rev().find(|&j| t[j] & 0xC0 != 0x80)?;
    let c = std::str::from_utf8(&t[start..i]).ok()?.chars().next()?;
    (!c.is_ascii() && c.is_alphanumeric()).then_some(start)
}

/// The non-ASCII letter or digit that starts at `i`: where it ends, if there is one.
fn letter_at(t: &[u8], i: usize) -> Option<usize> {
    let len = match t.get(i)? {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => return None,
    };
    let c = std::str::from_utf8(t.get(i..i + len)?).ok()?.chars().next()?;
    c.is_alphanumeric().then_some(i + len)
}

/// Emails, with ASCII or UTF-8 local parts and domains, and percent-encoded in URLs
/// (`jane%40example.com`). Not: a URL's userinfo (`https://user:pass@host`, a Sentry DSN's
/// key), an scp-style remote (`git@github.com:org/repo.git`), or a domain whose top level is
/// not in the IANA list (`logo@2x.png`).
pub(super) fn emails(t: &[u8], out: &mut Vec<Finding>) {
    // one pass for both forms of the `@`
    for at in memchr::memchr2_iter(b'@', b'%', t) {
        if t[at] == b'@' {
            email_at(t, at, at + 1, out);
        } else if t.get(at + 1..at + 3) == Some(b"40") {
            email_at(t, at, at + 3, out);
        }
    }
}

fn email_at(t: &[u8], at: usize, domain_start: usize, out: &mut Vec<Finding>) {
    let mut s = at;
    loop {
        if s > 0 && is_local(t[s - 1]) {
            s -= 1;
        } else if let Some(p) = (s > 0 && t[s - 1] >= 0x80).then(|| letter_before(t, s)).flatten() {
            s = p;
        } else {
            break;
        }
    }
    // a local part cannot start with a dot
    while s < at && t[s] == b'.' {
        s += 1;
    }
    if s == at {
        return;
    }
    // userinfo: `scheme://user@` or `scheme://user:password@`
    let head = &t[..s];
    if head.ends_with(b"://") {
        return;
    }
    if head.ends_with(b":") {
        let word_start = head.iter().rposition(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'<' | b'(')).map_or(0, |i| i + 1);
        if memchr::memmem::find(&head[word_start..], b"://").is_some() {
            return;
        }
    }
    let mut e = domain_start;
    loop {
        if e < t.len() && is_domain(t[e]) {
            e += 1;
        } else if let Some(n) = letter_at(t, e) {
            e = n;
        } else {
            break;
        }
    }
    // trailing dots and dashes belong to the sentence, not the domain
    while e > domain_start && matches!(t[e - 1], b'.' | b'-') {
        e -= 1;
    }
    let domain = &t[domain_start..e];
    let Some(dot) = domain.iter().rposition(|b| *b == b'.') else { return };
    if dot == 0 || memchr::memmem::find(domain, b"..").is_some() || !tld_ok(&domain[dot + 1..]) {
        return;
    }
    // `git@github.com:org/repo.git`: an scp-style remote, not a mailbox
    if t.get(e) == Some(&b':') && t.get(e + 1).is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'~' | b'_')) {
        return;
    }
    out.push(Finding { start: s, end: e, kind: Kind::Email });
}

/// An IANA top-level domain: listed (ASCII), `xn--` (an IDN in ASCII), or non-ASCII letters.
fn tld_ok(tld: &[u8]) -> bool {
    if tld.len() < 2 {
        return false;
    }
    if tld.is_ascii() {
        if tld.len() > 4 && tld[..4].eq_ignore_ascii_case(b"xn--") {
            return tld[4..].iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-');
        }
        if tld.len() > 24 || !tld.iter().all(u8::is_ascii_alphabetic) {
            return false;
        }
        let mut buf = [0u8; 24];
        let lower = &mut buf[..tld.len()];
        lower.copy_from_slice(tld);
        lower.make_ascii_lowercase();
        return super::tlds::TLDS.binary_search_by(|w| w.as_bytes().cmp(lower)).is_ok();
    }
    std::str::from_utf8(tld).is_ok_and(|s| s.chars().count() >= 2 && s.chars().all(char::is_alphabetic))
}

pub(super) fn ipv6(t: &[u8], ranges: &IpRanges, out: &mut Vec<Finding>) {
    let mut next_free = 0;
    for colon in memchr::memchr_iter(b':', t) {
        if colon < next_free {
            continue;
        }
        let ok = |b: u8| b.is_ascii_hexdigit() || b == b':' || b == b'.';
        let mut s = colon;
        while s > 0 && ok(t[s - 1]) {
            s -= 1;
        }
        let mut e = colon;
        while e < t.len() && ok(t[e]) {
            e += 1;
        }
        next_free = e;
        let cand = &t[s..e];
        if cand.iter().filter(|b| **b == b':').count() < 2 || cand.len() < 3 {
            continue;
        }
        // neighbours that make it part of a longer word (timestamps, hashes) disqualify it
        if s > 0 && (t[s - 1].is_ascii_alphanumeric()) || e < t.len() && t[e].is_ascii_alphanumeric() {
            continue;
        }
        let Ok(text) = std::str::from_utf8(cand) else { continue };
        let text = text.trim_end_matches('.');
        if let Ok(addr) = text.parse::<std::net::Ipv6Addr>() {
            // `::` and `::1`-style tokens in prose and code are not worth a finding
            if ranges.skip_v6(addr) || text.len() < 6 {
                continue;
            }
            out.push(Finding { start: s, end: s + text.len(), kind: Kind::Ipv6 });
        }
    }
}

/// A token made of digits and the separators numbers are written with.
struct NumberToken {
    start: usize,
    end: usize,
    /// How many digits the token has; `digits` keeps the first 20 (no PII number has more).
    n_digits: usize,
    digits: Inline<20>,
    /// Digits as `9` and the separators, in order (for shape checks); a Unicode space is ` `.
    shape: Inline<40>,
}

/// Up to `N` bytes on the stack: every run of digits in a body is a token, and a heap
/// allocation for each was a tenth of the guard's time on clean text.
#[derive(Clone, Copy)]
struct Inline<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Inline<N> {
    fn new() -> Self {
        Inline { buf: [0; N], len: 0 }
    }
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }
    fn last(&self) -> Option<&u8> {
        self.buf[..self.len].last()
    }
}

impl<const N: usize> std::ops::Deref for Inline<N> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The length of a Unicode space at `i` that people put between digit groups (no-break,
/// figure, thin, narrow no-break and the other fixed-width spaces), 0 when there is none.
fn unicode_space(t: &[u8], i: usize) -> usize {
    match t.get(i..) {
        Some([0xC2, 0xA0, ..]) => 2,
        Some([0xE2, 0x80, 0x80..=0x8A | 0xAF, ..]) => 3,
        Some([0xE3, 0x80, 0x80, ..]) => 3,
        _ => 0,
    }
}

fn number_tokens(t: &[u8]) -> impl Iterator<Item = NumberToken> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < t.len() {
            // a token starts at a digit, or at a `+` or `(` just before one: jump to the next
            // digit (eight bytes a step) and look one byte back
            let Some(d) = find_digit(t, i) else { break };
            i = if d > i && matches!(t[d - 1], b'+' | b'(') { d - 1 } else { d };
            // digits glued to a word (`mc2`, `v10`, an IBAN's check digits) are not a number
            // of their own: skip the whole word
            if i > 0 && (t[i - 1].is_ascii_alphanumeric() || t[i - 1] == b'_') {
                i += 1;
                while i < t.len() && (t[i].is_ascii_alphanumeric() || t[i] == b'_') {
                    i += 1;
                }
                continue;
            }
            let start = i;
            let mut tok = NumberToken { start, end: start, n_digits: 0, digits: Inline::new(), shape: Inline::new() };
            let mut last_digit_end = i;
            while i < t.len() {
                let c = t[i];
                if c.is_ascii_digit() {
                    tok.n_digits += 1;
                    tok.digits.push(c - b'0');
                    tok.shape.push(b'9');
                    i += 1;
                    last_digit_end = i;
                    continue;
                }
                let sep_len = if matches!(c, b' ' | b'-' | b'.' | b'(' | b')' | b'+') { 1 } else { unicode_space(t, i) };
                let sep = if sep_len > 1 { b' ' } else { c };
                if sep_len > 0 && t.get(i + sep_len).is_some_and(|n| n.is_ascii_digit() || *n == b'(' || *n == b' ') && tok.shape.last() != Some(&sep) {
                    tok.shape.push(sep);
                    i += sep_len;
                } else {
                    break;
                }
            }
            // a closing parenthesis may follow the last digit group: "(415) 555"
            tok.end = last_digit_end;
            if tok.end == start {
                i = start + 1;
                continue;
            }
            i = tok.end.max(start + 1);
            return Some(tok);
        }
        None
    })
}

fn luhn(d: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &x) in d.iter().rev().enumerate() {
        let mut v = u32::from(x);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

fn card_brand_ok(d: &[u8]) -> bool {
    let n = |k: usize| d.iter().take(k).fold(0u32, |a, x| a * 10 + u32::from(*x));
    let len = d.len();
    match d.first() {
        Some(4) => matches!(len, 13 | 16 | 19),                                           // Visa
        Some(5) => len == 16 && ((51..=55).contains(&n(2)) || (2221..=2720).contains(&n(4))), // Mastercard
        Some(2) => len == 16 && (2221..=2720).contains(&n(4)),                            // Mastercard 2-series
        Some(3) => (len == 15 && matches!(n(2), 34 | 37)) || (len == 16 && (3528..=3589).contains(&n(4))) || (len == 14 && (matches!(n(2), 36 | 38 | 39) || (300..=305).contains(&n(3)))), // Amex, JCB, Diners
        Some(6) => (16..=19).contains(&len) && (n(4) == 6011 || n(2) == 65 || (644..=649).contains(&n(3)) || n(2) == 62), // Discover, UnionPay
        _ => false,
    }
}

/// The SSA's rules (area 000, 666 and 900-999, group 00, serial 0000 were never issued), and
/// the numbers everyone has seen: voided after they were printed in advertising (078-05-1120,
/// 219-09-9999, 457-55-5462), one digit repeated, and the obvious sequences.
fn ssn_ok(d: &[u8]) -> bool {
    let Some(d) = d.get(..9) else { return false };
    let num = |r: std::ops::Range<usize>| d[r].iter().fold(0u32, |a, x| a * 10 + u32::from(*x));
    let (area, group, serial, all) = (num(0..3), num(3..5), num(5..9), num(0..9));
    let valid = area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
    let famous = matches!(all, 78_051_120 | 219_099_999 | 457_555_462 | 123_456_789 | 12_345_678 | 234_567_890);
    valid && !famous && !d.iter().all(|x| *x == d[0])
}

fn boundary_ok(t: &[u8], start: usize, end: usize) -> bool {
    let before = start.checked_sub(1).and_then(|i| t.get(i));
    let after = t.get(end);
    let word = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
    !word(before) && !word(after)
}

/// Presidio's context words for a US SSN: a bare nine-digit run is one only near them.
fn ssn_context(t: &[u8], start: usize) -> bool {
    let from = start.saturating_sub(48);
    let window = &t[from..start];
    let mut lower = [0u8; 48];
    let w = &mut lower[..window.len()];
    w.copy_from_slice(window);
    w.make_ascii_lowercase();
    [&b"ssn"[..], b"social security", b"ss#", b"ss #", b"ssa number", b"taxpayer id", b"tin:"].iter().any(|k| memchr::memmem::find(w, k).is_some())
}

/// Phones, SSNs, cards and IPv4 addresses: number tokens, classified. `inside` are ranges
/// already found (IBANs), sorted by start: a token wholly inside one is skipped.
pub(super) fn numbers(t: &[u8], kinds: PiiKinds, ranges: &IpRanges, inside: &[(usize, usize)], out: &mut Vec<Finding>) {
    let mut inside = inside.iter().peekable();
    for tok in number_tokens(t) {
        while inside.next_if(|(_, end)| *end <= tok.start).is_some() {}
        if inside.peek().is_some_and(|&&(start, end)| start <= tok.start && tok.end <= end) {
            continue;
        }
        let n = tok.n_digits;
        if n < 7 || !boundary_ok(t, tok.start, tok.end) {
            // IPv4 addresses have as few as 4 digits
            if kinds.ipv4 && n >= 4 {
                ipv4(t, &tok, ranges, out);
            }
            continue;
        }
        let seps = || tok.shape.iter().copied().filter(|c| *c != b'9');
        let n_seps = seps().count();
        let only = |c: u8| seps().all(|s| s == c);
        // dots between digit groups of an IP address are not phone separators
        if kinds.ipv4 && n_seps == 3 && only(b'.') && ipv4(t, &tok, ranges, out) {
            continue;
        }
        if n <= 20 && classify(t, &tok, kinds, false, out) {
            continue;
        }
        // the token may glue several values ("415 555 2671 4111 1111 1111 1111"), or a value
        // and a number before it: try its runs of digit groups, longest first, left to right
        // (a part has at least 9 digits, so a token with fewer than 10 has no part to try)
        if tok.n_digits >= 10 {
            // the byte ranges of its first 12 digit groups, found again only on this rare path
            let mut groups = [(0u32, 0u32); 12];
            let mut n_groups = 0;
            let mut i = tok.start;
            while i < tok.end && n_groups < groups.len() {
                if t[i].is_ascii_digit() {
                    let s = i;
                    while i < tok.end && t[i].is_ascii_digit() {
                        i += 1;
                    }
                    groups[n_groups] = (s as u32, i as u32);
                    n_groups += 1;
                } else {
                    i += 1;
                }
            }
            let g = &groups[..n_groups];
            let mut a = 0;
            while a < g.len() {
                let mut found = false;
                for b in (a + 1..=g.len().min(a + 6)).rev() {
                    if a == 0 && b == g.len() {
                        continue;
                    }
                    let (s, e) = (g[a].0 as usize, g[b - 1].1 as usize);
                    // groups are runs of ASCII digits: their lengths are their digit counts
                    let digits: u32 = g[a..b].iter().map(|(x, y)| y - x).sum();
                    if !(9..=19).contains(&digits) {
                        continue;
                    }
                    let Some(sub) = number_tokens(&t[s..e]).next() else { continue };
                    if sub.start != 0 || sub.end != e - s || sub.n_digits < 9 || sub.n_digits > 19 {
                        continue;
                    }
                    let sub = NumberToken { start: s, end: e, ..sub };
                    if classify(t, &sub, kinds, true, out) {
                        a = b;
                        found = true;
                        break;
                    }
                }
                if !found {
                    a += 1;
                }
            }
        }
    }
}

/// Finds the one value a whole token is, in order of how specific its check is: an SSN
/// (its written shape), a card (brand and Luhn), then a phone. `part` means the token is a
/// run of groups cut from a longer one, where only written shapes count.
fn classify(t: &[u8], tok: &NumberToken, kinds: PiiKinds, part: bool, out: &mut Vec<Finding>) -> bool {
    let n = tok.n_digits;
    let seps = || tok.shape.iter().copied().filter(|c| *c != b'9');
    let n_seps = seps().count();
    let only = |c: u8| seps().all(|s| s == c);
    let groups = shape_groups(&tok.shape);
    if kinds.ssn && n == 9 {
        let written = n_seps == 2 && (only(b'-') || only(b' ') || only(b'.')) && *groups == [3, 2, 4];
        let bare = n_seps == 0 && !part && ssn_context(t, tok.start);
        if (written || bare) && ssn_ok(&tok.digits) {
            out.push(Finding { start: tok.start, end: tok.end, kind: Kind::Ssn });
            return true;
        }
    }
    if kinds.credit_card && (13..=19).contains(&n) && (n_seps == 0 && !part || only(b' ') || only(b'-')) && card_brand_ok(&tok.digits) && luhn(&tok.digits) {
        let shaped = !part || groups.iter().all(|g| (4..=6).contains(g) || groups.len() == 1) || groups.last().is_some_and(|g| *g <= 4);
        if shaped {
            out.push(Finding { start: tok.start, end: tok.end, kind: Kind::CreditCard });
            return true;
        }
    }
    if kinds.phone && phone_ok(t, tok, &groups) {
        out.push(Finding { start: tok.start, end: tok.end, kind: Kind::Phone });
        return true;
    }
    false
}

/// The lengths of the digit groups in a shape, on the stack: a shape has at most 40 bytes,
/// so at most 20 groups of at most 40 digits (a `Vec` here was a third of `classify`).
fn shape_groups(shape: &[u8]) -> Inline<20> {
    let mut groups = Inline::new();
    for g in shape.split(|c| *c != b'9').filter(|g| !g.is_empty()) {
        groups.push(u8::try_from(g.len()).unwrap_or(u8::MAX));
    }
    groups
}

fn phone_ok(t: &[u8], tok: &NumberToken, groups: &[u8]) -> bool {
    let n = tok.n_digits;
    let has_seps = groups.len() > 1;
    let international = t.get(tok.start) == Some(&b'+');
    if international {
        // E.164: up to 15 digits, country code first; written with or without separators
        return (8..=15).contains(&n) && tok.digits[0] != 0;
    }
    if !has_seps {
        // a bare run of digits is too often an id to call it a phone number
        return false;
    }
    if tok.digits[0] == 0 {
        return national_ok(&tok.digits, groups);
    }
    // NANP: 10 digits (or 11 with a leading 1), area and exchange codes start 2-9, written in
    // the usual groups
    let d = if n == 11 && tok.digits[0] == 1 { &tok.digits[1..] } else { &tok.digits[..] };
    if d.len() != 10 {
        return false;
    }
    let shaped = groups.ends_with(&[3, 3, 4]) || groups.ends_with(&[3, 7]);
    shaped && d[0] >= 2 && d[3] >= 2
}

/// National numbers with a trunk `0`, in the groups people write them in: the UK's 11 digits
/// (`020 7946 0958`, `0113 496 0000`, `01632 960 983`, `07700 900 123`) and Australia's 10
/// (`0412 345 678`, `(02) 9876 5432`).
fn national_ok(d: &[u8], groups: &[u8]) -> bool {
    match (d.len(), d.get(1)) {
        (11, Some(1..=3 | 5 | 7 | 8)) => matches!(groups, [3, 4, 4] | [4, 3, 4] | [5, 3, 3] | [5, 6] | [4, 7] | [3, 8]),
        (10, Some(2..=4 | 7 | 8)) => matches!(groups, [4, 3, 3] | [2, 4, 4] | [4, 6]),
        _ => false,
    }
}

/// Validates an IPv4 address at the token; returns whether one was found (or skipped as one
/// that names no one).
fn ipv4(t: &[u8], tok: &NumberToken, ranges: &IpRanges, out: &mut Vec<Finding>) -> bool {
    // four dot-separated decimal octets, without leading zeros (parsed by hand: no `Vec` for
    // every dotted number in a prompt)
    let mut octets = [0u8; 4];
    let mut parts = 0;
    for p in t[tok.start..tok.end].split(|b| *b == b'.') {
        if p.is_empty() || p.len() > 3 || !p.iter().all(u8::is_ascii_digit) || (p.len() > 1 && p[0] == b'0') {
            return false;
        }
        let value = p.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0'));
        match (u8::try_from(value), octets.get_mut(parts)) {
            (Ok(v), Some(slot)) => *slot = v,
            _ => return false,
        }
        parts += 1;
    }
    if parts != 4 {
        return false;
    }
    let addr = std::net::Ipv4Addr::from(octets);
    // version strings (v1.2.3.4) and longer dotted numbers are not addresses
    let before = tok.start.checked_sub(1).and_then(|i| t.get(i)).copied();
    let after = t.get(tok.end).copied();
    if matches!(before, Some(b'v' | b'V' | b'.')) || before.is_some_and(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    if after.is_some_and(|b| b.is_ascii_alphanumeric()) || (after == Some(b'.') && t.get(tok.end + 1).is_some_and(u8::is_ascii_digit)) {
        return false;
    }
    if !ranges.skip_v4(addr) {
        out.push(Finding { start: tok.start, end: tok.end, kind: Kind::Ipv4 });
    }
    true
}

/// IBANs: two letters, two check digits, then 11 to 30 alphanumerics (a space every 4
/// allowed), checked with mod-97.
pub(super) fn ibans(t: &[u8], out: &mut Vec<Finding>) {
    let mut i = 0;
    while let Some(head) = find_iban_head(t, i) {
        if head == 0 || !t[head - 1].is_ascii_alphanumeric() {
            if let Some(end) = iban_at(t, head) {
                out.push(Finding { start: head, end, kind: Kind::Iban });
                i = end;
                continue;
            }
        }
        i = head + 1;
    }
}

fn iban_at(t: &[u8], start: usize) -> Option<usize> {
    // on the stack: every digit of a card or phone number is a candidate start
    let mut chars: Inline<34> = Inline::new();
    chars.push(t[start]);
    chars.push(t[start + 1]);
    let mut i = start + 2;
    let mut end = i;
    while i < t.len() && chars.len() < 34 {
        let b = t[i];
        if b.is_ascii_digit() || b.is_ascii_uppercase() {
            chars.push(b);
            i += 1;
            end = i;
        } else if b == b' ' && t.get(i + 1).is_some_and(|n| n.is_ascii_alphanumeric()) {
            i += 1;
        } else {
            break;
        }
    }
    if chars.len() < 15 || !chars[2].is_ascii_digit() || !chars[3].is_ascii_digit() || t.get(end).is_some_and(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    // mod-97 over the rearranged string, letters as 10..35
    let mut rem = 0u32;
    for &c in chars[4..].iter().chain(chars[..4].iter()) {
        let v = if c.is_ascii_digit() { u32::from(c - b'0') } else { u32::from(c - b'A') + 10 };
        rem = if v >= 10 { (rem * 100 + v) % 97 } else { (rem * 10 + v) % 97 };
    }
    (rem == 1).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds_in(text: &str) -> Vec<(Kind, String)> {
        let t = text.as_bytes();
        let mut out = Vec::new();
        let ranges = IpRanges::default();
        emails(t, &mut out);
        ipv6(t, &ranges, &mut out);
        numbers(t, PiiKinds::ALL, &ranges, &[], &mut out);
        ibans(t, &mut out);
        out.sort_by_key(|f| f.start);
        out.into_iter().map(|f| (f.kind, text[f.start..f.end].to_owned())).collect()
    }

    #[test]
    fn ibans_right_after_runs_of_digits_are_found() {
        for prefix in ["", "1 ", "12 ", "4111 1111 1111 1111 ", "9GB82 ", "1234567 ", "x1 ", "DE1 "] {
            let text = format!("{prefix}GB82 WEST 1234 5698 7654 32 and 7 GB82WEST12345698765432.");
            let mut out = Vec::new();
            ibans(text.as_bytes(), &mut out);
            let found: Vec<&str> = out.iter().map(|f| &text[f.start..f.end]).collect();
            assert_eq!(found, vec!["GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432"], "prefix {prefix:?}");
        }
    }

    #[test]
    fn number_tokens_inside_an_iban_are_skipped_and_the_rest_found_alike() {
        let t = b"iban GB82 WEST 1234 5698 7654 32 then call 415-555-2671; 4111 1111 1111 1111";
        let ranges = IpRanges::default();
        let mut ibans_found = Vec::new();
        ibans(t, &mut ibans_found);
        let iban: Vec<(usize, usize)> = ibans_found.iter().map(|f| (f.start, f.end)).collect();
        assert_eq!(iban.len(), 1);
        let (mut all, mut skipping) = (Vec::new(), Vec::new());
        numbers(t, PiiKinds::ALL, &ranges, &[], &mut all);
        numbers(t, PiiKinds::ALL, &ranges, &iban, &mut skipping);
        let (s, e) = iban[0];
        let outside: Vec<Finding> = all.iter().copied().filter(|f| !(s <= f.start && f.end <= e)).collect();
        // the skipped tokens are the IBAN's digit groups only: what lies outside it is found alike
        assert_eq!(skipping, outside);
        assert_eq!(skipping.iter().map(|f| f.kind).collect::<Vec<_>>(), vec![Kind::Phone, Kind::CreditCard]);
    }

    #[test]
    fn positives() {
        let cases: &[(&str, Kind, &str)] = &[
            ("write to jane.doe+tag@example.co.uk.", Kind::Email, "jane.doe+tag@example.co.uk"),
            ("call (415) 555-2671 now", Kind::Phone, "(415) 555-2671"),
            ("call 415-555-2671", Kind::Phone, "415-555-2671"),
            ("call 415.555.2671", Kind::Phone, "415.555.2671"),
            ("call +1 415 555 2671", Kind::Phone, "+1 415 555 2671"),
            ("ring +44 20 7946 0958 today", Kind::Phone, "+44 20 7946 0958"),
            ("ring +4915123456789", Kind::Phone, "+4915123456789"),
            ("ssn 536-22-4187", Kind::Ssn, "536-22-4187"),
            ("ssn 536 22 4187", Kind::Ssn, "536 22 4187"),
            ("visa 4111 1111 1111 1111", Kind::CreditCard, "4111 1111 1111 1111"),
            ("mc 5555-5555-5555-4444", Kind::CreditCard, "5555-5555-5555-4444"),
            ("amex 378282246310005", Kind::CreditCard, "378282246310005"),
            ("discover 6011111111111117", Kind::CreditCard, "6011111111111117"),
            ("mc2 2223003122003222", Kind::CreditCard, "2223003122003222"),
            ("jcb 3530111333300000", Kind::CreditCard, "3530111333300000"),
            ("unionpay 6200000000000005", Kind::CreditCard, "6200000000000005"),
            ("unionpay 6212 3456 7890 1232", Kind::CreditCard, "6212 3456 7890 1232"),
            ("diners 36227206271667", Kind::CreditCard, "36227206271667"),
            ("iban GB82 WEST 1234 5698 7654 32 ok", Kind::Iban, "GB82 WEST 1234 5698 7654 32"),
            ("iban DE89370400440532013000", Kind::Iban, "DE89370400440532013000"),
            ("host 192.168.10.254 up", Kind::Ipv4, "192.168.10.254"),
            ("host 2a01:4f8:85a3::8a2e:370:7334 up", Kind::Ipv6, "2a01:4f8:85a3::8a2e:370:7334"),
            ("fe80::1ff:fe23:4567:890a", Kind::Ipv6, "fe80::1ff:fe23:4567:890a"),
        ];
        for (text, kind, want) in cases {
            let found = kinds_in(text);
            assert!(found.contains(&(*kind, want.to_string())), "{text:?}: {found:?}");
        }
    }

    #[test]
    fn hard_negatives_find_nothing() {
        for text in [
            "uuid 123e4567-e89b-12d3-a456-426614174000",
            "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
            "blob aGVsbG8gd29ybGQgdGhpcyBpcyBiYXNlNjQ=",
            "card 4111 1111 1111 1112",
            "ssn 000-12-3456 666-12-3456 912-12-3456 123-00-4567 123-45-0000",
            "version 1.2.3 and v10.0.0.1 and 2.14.0.3.1",
            "at 2026-11-24T21:45:56Z and 12:30:45.123",
            "order #100234567 shipped, order 2024-000123",
            "sk- is a prefix some keys use",
            "price 1234567.89 and 0.0001",
            "an email@ without a domain, and foo@bar",
            "ratio 3:2:1 and std::io::Read",
            "a 10-digit id 4155552671 stays",
        ] {
            assert_eq!(kinds_in(text), vec![], "{text:?}");
        }
    }
}
