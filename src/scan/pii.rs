//! PII scanners, written by hand so that clean text costs a byte loop rather than a regex.
//!
//! Each scanner finds candidates by a cheap trigger (`@` for email, `:` for IPv6, runs of
//! digits for the rest) and validates them: Luhn for cards, the SSA's rules for SSNs, mod-97
//! for IBANs, real parsing for IP addresses. A finding is a kind and a byte range, never text.

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

pub(super) fn emails(t: &[u8], out: &mut Vec<Finding>) {
    for at in memchr::memchr_iter(b'@', t) {
        let mut s = at;
        while s > 0 && is_local(t[s - 1]) {
            s -= 1;
        }
        // a local part cannot start with a dot
        while s < at && t[s] == b'.' {
            s += 1;
        }
        if s == at {
            continue;
        }
        let mut e = at + 1;
        while e < t.len() && is_domain(t[e]) {
            e += 1;
        }
        // trailing dots and dashes belong to the sentence, not the domain
        while e > at + 1 && matches!(t[e - 1], b'.' | b'-') {
            e -= 1;
        }
        let domain = &t[at + 1..e];
        let Some(dot) = domain.iter().rposition(|b| *b == b'.') else { continue };
        let tld = &domain[dot + 1..];
        if dot == 0 || tld.len() < 2 || !tld.iter().all(u8::is_ascii_alphabetic) {
            continue;
        }
        out.push(Finding { start: s, end: e, kind: Kind::Email });
    }
}

pub(super) fn ipv6(t: &[u8], out: &mut Vec<Finding>) {
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
            if addr.is_unspecified() || text.len() < 6 {
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
    /// Digits as `9` and the separators, in order (for shape checks).
    shape: Inline<40>,
}

/// Up to `N` bytes on the stack: every run of digits in a body is a token, and a heap
/// allocation for each was a tenth of the guard's time on clean text.
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

fn number_tokens(t: &[u8]) -> impl Iterator<Item = NumberToken> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < t.len() {
            let b = t[i];
            let starts = b.is_ascii_digit() || ((b == b'+' || b == b'(') && t.get(i + 1).is_some_and(u8::is_ascii_digit));
            if !starts {
                i += 1;
                continue;
            }
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
            let (mut digits, mut shape, mut n_digits) = (Inline::new(), Inline::new(), 0);
            let mut last_digit_end = i;
            while i < t.len() {
                let c = t[i];
                if c.is_ascii_digit() {
                    n_digits += 1;
                    digits.push(c - b'0');
                    shape.push(b'9');
                    i += 1;
                    last_digit_end = i;
                } else if matches!(c, b' ' | b'-' | b'.' | b'(' | b')' | b'+') && t.get(i + 1).is_some_and(|n| n.is_ascii_digit() || *n == b'(' || *n == b' ') && shape.last() != Some(&c) {
                    shape.push(c);
                    i += 1;
                } else {
                    break;
                }
            }
            // a closing parenthesis may follow the last digit group: "(415) 555"
            let end = last_digit_end;
            if end == start {
                i = start + 1;
                continue;
            }
            i = end.max(start + 1);
            return Some(NumberToken { start, end, n_digits, digits, shape });
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
        Some(5) => len == 16 && (51..=55).contains(&n(2)) || len == 16 && (2221..=2720).contains(&n(4)), // Mastercard
        Some(2) => len == 16 && (2221..=2720).contains(&n(4)),                            // Mastercard 2-series
        Some(3) => (len == 15 && matches!(n(2), 34 | 37)) || (len == 16 && (3528..=3589).contains(&n(4))) || (len == 14 && (matches!(n(2), 36 | 38 | 39) || (300..=305).contains(&n(3)))), // Amex, JCB, Diners
        Some(6) => len >= 16 && len <= 19 && (n(4) == 6011 || n(2) == 65 || (644..=649).contains(&n(3)) || n(2) == 62), // Discover, UnionPay
        _ => false,
    }
}

fn ssn_ok(d: &[u8]) -> bool {
    let area = u32::from(d[0]) * 100 + u32::from(d[1]) * 10 + u32::from(d[2]);
    let group = u32::from(d[3]) * 10 + u32::from(d[4]);
    let serial = d[5..9].iter().fold(0u32, |a, x| a * 10 + u32::from(*x));
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

fn boundary_ok(t: &[u8], start: usize, end: usize) -> bool {
    let before = start.checked_sub(1).and_then(|i| t.get(i));
    let after = t.get(end);
    let word = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
    !word(before) && !word(after)
}

pub(super) fn numbers(t: &[u8], kinds: PiiKinds, out: &mut Vec<Finding>) {
    for tok in number_tokens(t) {
        let n = tok.n_digits;
        if n < 7 || !boundary_ok(t, tok.start, tok.end) {
            // IPv4 addresses have as few as 4 digits
            if kinds.ipv4 && n >= 4 {
                ipv4(t, &tok, out);
            }
            continue;
        }
        if n > 20 {
            continue;
        }
        let seps = || tok.shape.iter().copied().filter(|c| *c != b'9');
        let n_seps = seps().count();
        let only = |c: u8| seps().all(|s| s == c);
        // dots between digit groups of an IP address are not phone separators
        if kinds.ipv4 && n_seps == 3 && only(b'.') && ipv4(t, &tok, out) {
            continue;
        }
        if kinds.ssn && n == 9 && n_seps == 2 && (only(b'-') || only(b' ')) && shape_groups(&tok.shape) == [3, 2, 4] {
            if ssn_ok(&tok.digits) {
                out.push(Finding { start: tok.start, end: tok.end, kind: Kind::Ssn });
            }
            continue;
        }
        if kinds.credit_card && (13..=19).contains(&n) && (n_seps == 0 || only(b' ') || only(b'-')) && card_brand_ok(&tok.digits) && luhn(&tok.digits) {
            out.push(Finding { start: tok.start, end: tok.end, kind: Kind::CreditCard });
            continue;
        }
        if kinds.phone && phone_ok(t, &tok) {
            out.push(Finding { start: tok.start, end: tok.end, kind: Kind::Phone });
        }
    }
}

fn shape_groups(shape: &[u8]) -> Vec<usize> {
    shape.split(|c| *c != b'9').map(<[u8]>::len).collect()
}

fn phone_ok(t: &[u8], tok: &NumberToken) -> bool {
    let n = tok.n_digits;
    let groups = shape_groups(&tok.shape);
    let has_seps = groups.len() > 1;
    let international = t.get(tok.start) == Some(&b'+');
    if international {
        // E.164: up to 15 digits, country code first; written with or without separators
        return (8..=15).contains(&n) && tok.digits[0] != 0;
    }
    // NANP: 10 digits (or 11 with a leading 1), area and exchange codes start 2-9, written in
    // the usual groups; a bare 10-digit run is too often an id to call it a phone number
    let d = if n == 11 && tok.digits[0] == 1 { &tok.digits[1..] } else { &tok.digits[..] };
    if d.len() != 10 || !has_seps {
        return false;
    }
    let tail: Vec<usize> = groups.iter().copied().filter(|g| *g > 0).collect();
    let shaped = tail.ends_with(&[3, 3, 4]) || tail.ends_with(&[3, 7]);
    shaped && d[0] >= 2 && d[3] >= 2
}

/// Validates an IPv4 address at the token; returns whether one was found.
fn ipv4(t: &[u8], tok: &NumberToken, out: &mut Vec<Finding>) -> bool {
    let Ok(text) = std::str::from_utf8(&t[tok.start..tok.end]) else { return false };
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() != 4 || parts.iter().any(|p| p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) || (p.len() > 1 && p.starts_with('0'))) {
        return false;
    }
    if parts.iter().any(|p| p.parse::<u16>().map_or(true, |v| v > 255)) {
        return false;
    }
    // version strings (v1.2.3.4) and longer dotted numbers are not addresses
    let before = tok.start.checked_sub(1).and_then(|i| t.get(i)).copied();
    let after = t.get(tok.end).copied();
    if matches!(before, Some(b'v' | b'V' | b'.')) || before.is_some_and(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    if after.is_some_and(|b| b.is_ascii_alphanumeric()) || (after == Some(b'.') && t.get(tok.end + 1).is_some_and(u8::is_ascii_digit)) {
        return false;
    }
    out.push(Finding { start: tok.start, end: tok.end, kind: Kind::Ipv4 });
    true
}

/// IBANs: two letters, two check digits, then 11 to 30 alphanumerics (a space every 4
/// allowed), checked with mod-97.
pub(super) fn ibans(t: &[u8], out: &mut Vec<Finding>) {
    let mut i = 0;
    while i + 4 <= t.len() {
        if t[i].is_ascii_uppercase()
            && t[i + 1].is_ascii_uppercase()
            && t[i + 2].is_ascii_digit()
            && t[i + 3].is_ascii_digit()
            && (i == 0 || !t[i - 1].is_ascii_alphanumeric())
        {
            if let Some(end) = iban_at(t, i) {
                out.push(Finding { start: i, end, kind: Kind::Iban });
                i = end;
                continue;
            }
        }
        i += 1;
    }
}

fn iban_at(t: &[u8], start: usize) -> Option<usize> {
    let mut chars: Vec<u8> = vec![t[start], t[start + 1]];
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
        emails(t, &mut out);
        ipv6(t, &mut out);
        numbers(t, PiiKinds::ALL, &mut out);
        ibans(t, &mut out);
        out.sort_by_key(|f| f.start);
        out.into_iter().map(|f| (f.kind, text[f.start..f.end].to_owned())).collect()
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
            ("ssn 123-45-6789", Kind::Ssn, "123-45-6789"),
            ("ssn 123 45 6789", Kind::Ssn, "123 45 6789"),
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
            ("host 2001:db8:85a3::8a2e:370:7334 up", Kind::Ipv6, "2001:db8:85a3::8a2e:370:7334"),
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
