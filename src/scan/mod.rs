//! The guard's scanners: PII and secret detectors, and redaction that keeps JSON valid.
//!
//! This module owns finding sensitive values in bytes and replacing them. It does not decide
//! when to scan or what to do with a finding (that is `exchange`, from `policy`'s
//! policies), and it never keeps the values it finds: a [`Finding`] is a kind and a byte
//! range.
//!
//! # How a scan stays cheap
//!
//! Clean text costs one pass of each trigger: `memchr` for `@` and `:`, a byte loop for runs
//! of digits, and one Aho-Corasick pass over every secret rule's keywords (the way gitleaks
//! prefilters). A secret rule is checked only in a small window around a keyword hit, never
//! over the whole body, and most rules (50 of 56) by hand: `shape` matches their patterns
//! (literals and runs of a byte class) with regex-lite's semantics at a fraction of the cost
//! of its PikeVM, which has no DFA and stays for the rest and for configured rules.
//!
//! # Redacting JSON
//!
//! Bodies are redacted as bytes, in place, which keeps them valid JSON without re-encoding:
//! detectors never match a quote, a finding never starts inside an escape sequence, a
//! placeholder needs no escaping, and a finding outside a string (a card number written as a
//! JSON number) becomes a quoted placeholder. Values hidden behind `\u` escapes are found by
//! first decoding the escapes of printable ASCII, which yields the same JSON value.

mod bytes;
mod entropy;
mod ipranges;
mod pii;
mod policy;
pub mod request;
mod rules;
mod shape;
mod tlds;
mod validate;

pub use ipranges::IpRanges;
pub use pii::PiiKinds;
pub use policy::{Block, Direction, Error, Guard, PiiMode, Placeholder, Policy, SecretMode};

use policy::DetectorError;
use aho_corasick::automaton::Automaton;
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind};
use regex_lite::Regex;
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// What was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Email,
    Phone,
    Ssn,
    CreditCard,
    Iban,
    Ipv4,
    Ipv6,
    /// A configured PII kind, by index.
    CustomPii(u16),
    /// A secret rule (built-in or configured), by index.
    Secret(u16),
}

impl Kind {
    pub fn is_secret(self) -> bool {
        matches!(self, Kind::Secret(_))
    }
}

/// A sensitive value: its kind and where it is. Never the value itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finding {
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
}

/// A configured PII kind.
#[derive(Debug)]
pub struct CustomPii {
    pub name: String,
    pub regex: Regex,
    pub keyword: Option<String>,
}

/// A configured secret rule.
#[derive(Debug)]
pub struct CustomSecret {
    pub id: String,
    pub regex: Regex,
    pub keywords: Vec<String>,
    pub min_entropy: f32,
}

#[derive(Debug)]
struct SecretRule {
    id: String,
    regex: Regex,
    /// The pattern checked by hand, when it is in `shape`'s subset (most built-in rules).
    shape: Option<shape::Shape>,
    before: usize,
    after: usize,
    min_entropy: f32,
    /// No keywords: the regex runs over the whole text.
    everywhere: bool,
    /// A built-in rule, which gets `validate`'s second looks (a configured one is taken as written).
    builtin: bool,
}

/// Which rule or custom kind an Aho-Corasick pattern belongs to.
#[derive(Debug, Clone, Copy)]
enum Hint {
    Secret(u16),
    Pii(u16),
}

/// The compiled detectors.
#[derive(Debug)]
pub struct Detectors {
    pii: PiiKinds,
    custom_pii: Vec<CustomPii>,
    secrets: Vec<SecretRule>,
    /// Every keyword of every rule and custom kind, in one case-insensitive automaton.
    keywords: Option<DFA>,
    /// By pattern id: whose keyword it is, and the keyword itself when it must match exactly.
    keyword_hints: Vec<(Hint, Option<Box<[u8]>>)>,
    allow: Vec<String>,
    allow_patterns: Vec<Regex>,
    /// IP ranges whose addresses are not PII (`pii.ignore_ip_ranges`).
    ip_ranges: IpRanges,
    /// The index of the telemetry-only high-entropy rule (no keywords: never run on the wire).
    entropy_rule: Option<u16>,
}

/// The id of the telemetry-only catch-all: a token-like run random enough to be a credential.
pub const HIGH_ENTROPY_RULE: &str = "high-entropy-string";

/// One automaton for all keywords, so that clean text costs one pass: case-insensitive,
/// because some rules' keywords are; an exact keyword is compared again at each hit.
fn build_keywords(patterns: &[(String, Hint, bool)]) -> Result<(Option<DFA>, Vec<(Hint, Option<Box<[u8]>>)>), String> {
    if patterns.is_empty() {
        return Ok((None, Vec::new()));
    }
    let dfa = aho_corasick::dfa::Builder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .prefilter(false)
        .build(patterns.iter().map(|(p, _, _)| p.as_bytes()))
        .map_err(|e| e.to_string())?;
    let hints = patterns.iter().map(|(p, h, exact)| (*h, exact.then(|| p.as_bytes().into()))).collect();
    Ok((Some(dfa), hints))
}

impl Detectors {
    /// Nothing enabled.
    pub fn empty() -> Detectors {
        Detectors {
            pii: PiiKinds { email: false, phone: false, ssn: false, credit_card: false, iban: false, ipv4: false, ipv6: false },
            custom_pii: Vec::new(),
            secrets: Vec::new(),
            keywords: None,
            keyword_hints: Vec::new(),
            allow: Vec::new(),
            allow_patterns: Vec::new(),
            ip_ranges: IpRanges::default(),
            entropy_rule: None,
        }
    }

    /// The same detectors, with addresses in `ranges` no longer reported as PII.
    pub fn with_ignored_ips(mut self, ranges: IpRanges) -> Detectors {
        self.ip_ranges = ranges;
        self
    }

    /// Builds the detectors. Errors name the offending entry by its index.
    pub(crate) fn compile(
        pii: PiiKinds,
        custom_pii: Vec<CustomPii>,
        custom_secrets: Vec<CustomSecret>,
        disabled: &[String],
        allow: Vec<String>,
        allow_patterns: Vec<Regex>,
    ) -> Result<Detectors, DetectorError> {
        for (i, d) in disabled.iter().enumerate() {
            if !rules::RULES.iter().any(|r| r.id == d) {
                return Err(DetectorError::UnknownRule { index: i });
            }
        }
        // (keyword, whose, exact)
        let mut keywords: Vec<(String, Hint, bool)> = Vec::new();
        let mut secrets = Vec::new();
        for r in rules::RULES.iter().filter(|r| !disabled.iter().any(|d| d == r.id)) {
            let regex = Regex::new(r.pattern).map_err(|_| DetectorError::BuiltIn)?;
            let idx = secrets.len() as u16;
            for k in r.keywords {
                keywords.push(((*k).to_owned(), Hint::Secret(idx), !r.nocase));
            }
            let shape = shape::Shape::parse(r.pattern);
            secrets.push(SecretRule { id: r.id.to_owned(), regex, shape, before: r.before, after: r.after, min_entropy: r.min_entropy, everywhere: false, builtin: true });
        }
        for (i, c) in custom_secrets.into_iter().enumerate() {
            if secrets.iter().any(|s| s.id == c.id) {
                return Err(DetectorError::TakenId { index: i });
            }
            let idx = secrets.len() as u16;
            for k in &c.keywords {
                keywords.push((k.clone(), Hint::Secret(idx), true));
            }
            secrets.push(SecretRule { id: c.id, everywhere: c.keywords.is_empty(), regex: c.regex, shape: None, before: 64, after: 512, min_entropy: c.min_entropy, builtin: false });
        }
        let entropy_rule = Some(secrets.len() as u16);
        secrets.push(SecretRule {
            id: HIGH_ENTROPY_RULE.to_owned(),
            regex: Regex::new(r"[A-Za-z0-9+/=_.~-]{20,}").map_err(|_| DetectorError::BuiltIn)?,
            shape: None,
            before: 0,
            after: 0,
            min_entropy: 0.0,
            everywhere: false,
            builtin: false,
        });
        for (i, c) in custom_pii.iter().enumerate() {
            if let Some(k) = &c.keyword {
                keywords.push((k.clone(), Hint::Pii(i as u16), true));
            }
        }
        let (keywords, keyword_hints) = build_keywords(&keywords).map_err(|_| DetectorError::BuiltIn)?;
        Ok(Detectors {
            pii,
            custom_pii,
            secrets,
            keywords,
            keyword_hints,
            allow,
            allow_patterns,
            ip_ranges: IpRanges::default(),
            entropy_rule,
        })
    }

    /// The stat label of a kind: `email`, a rule id, or a custom kind's name in lowercase.
    pub fn kind_name(&self, k: Kind) -> Cow<'_, str> {
        match k {
            Kind::Email => "email".into(),
            Kind::Phone => "phone".into(),
            Kind::Ssn => "ssn".into(),
            Kind::CreditCard => "credit_card".into(),
            Kind::Iban => "iban".into(),
            Kind::Ipv4 => "ipv4".into(),
            Kind::Ipv6 => "ipv6".into(),
            Kind::CustomPii(i) => self.custom_pii.get(i as usize).map(|c| c.name.to_ascii_lowercase()).unwrap_or_default().into(),
            Kind::Secret(i) => self.secrets.get(i as usize).map(|s| s.id.as_str()).unwrap_or("secret").into(),
        }
    }

    /// The word inside a placeholder: `EMAIL`, `SECRET`, or a custom kind's name.
    fn label(&self, k: Kind) -> Cow<'_, str> {
        match k {
            Kind::Secret(_) => "SECRET".into(),
            Kind::CustomPii(i) => self.custom_pii.get(i as usize).map(|c| c.name.as_str()).unwrap_or("PII").into(),
            other => self.kind_name(other).to_ascii_uppercase().into(),
        }
    }

    /// Every finding in `text`, sorted by start, without overlaps (the longer one wins).
    /// `secrets`/`pii` choose which detectors run.
    pub fn find(&self, text: &[u8], pii: bool, secrets: bool) -> Vec<Finding> {
        let mut out = Vec::new();
        if pii {
            if self.pii.email {
                pii::emails(text, &mut out);
            }
            if self.pii.ipv6 {
                pii::ipv6(text, &self.ip_ranges, &mut out);
            }
            if self.pii.phone || self.pii.ssn || self.pii.credit_card || self.pii.ipv4 {
                pii::numbers(text, self.pii, &self.ip_ranges, &mut out);
            }
            if self.pii.iban {
                pii::ibans(text, &mut out);
            }
        }
        let wanted = |h: &Hint| match h {
            Hint::Secret(_) => secrets,
            Hint::Pii(_) => pii,
        };
        let str_text = utf8_prefix(text);
        // per rule, where its last finding ends: a hit inside it needs no second look
        let mut covered = vec![0usize; self.secrets.len()];
        let keywords = self.keywords.as_ref().filter(|_| self.keyword_hints.iter().any(|(h, _)| wanted(h)));
        // an unanchored search always has a start state
        if let Some((dfa, Ok(mut sid))) = keywords.map(|d| (d, d.start_state(Anchored::No))) {
            let bytes = str_text.as_bytes();
            for (i, &b) in bytes.iter().enumerate() {
                sid = dfa.next_state(Anchored::No, sid, b);
                if !dfa.is_special(sid) || !dfa.is_match(sid) {
                    continue;
                }
                for k in 0..dfa.match_len(sid) {
                    let pid = dfa.match_pattern(sid, k);
                    let Some((hint, exact)) = self.keyword_hints.get(pid.as_usize()) else { continue };
                    let (start, end) = (i + 1 - dfa.pattern_len(pid), i + 1);
                    if !wanted(hint) || exact.as_deref().is_some_and(|e| bytes.get(start..end) != Some(e)) {
                        continue;
                    }
                    match *hint {
                        Hint::Secret(r) => {
                            if covered.get(r as usize).is_some_and(|c| start < *c) {
                                continue;
                            }
                            let before = out.len();
                            self.secret_at(str_text, r, start, end, &mut out);
                            if let (Some(f), Some(c)) = (out[before..].iter().map(|f| f.end).max(), covered.get_mut(r as usize)) {
                                *c = (*c).max(f);
                            }
                        }
                        Hint::Pii(c) => self.custom_pii_at(str_text, c, start, &mut out),
                    }
                }
            }
        }
        if secrets {
            for (i, r) in self.secrets.iter().enumerate().filter(|(_, r)| r.everywhere) {
                for c in r.regex.captures_iter(str_text) {
                    if let Some(g) = c.get(1).or_else(|| c.get(0)) {
                        self.push_secret(str_text, i as u16, g.start(), g.end(), &mut out);
                    }
                }
            }
        }
        if pii {
            for (i, c) in self.custom_pii.iter().enumerate().filter(|(_, c)| c.keyword.is_none()) {
                for m in c.regex.find_iter(str_text) {
                    out.push(Finding { start: m.start(), end: m.end(), kind: Kind::CustomPii(i as u16) });
                }
            }
        }
        normalize(&mut out);
        out
    }

    /// Every finding, plus the telemetry-only last line: token-like runs random enough to be
    /// a credential of a vendor no rule knows. For strings bound for the trace store, never
    /// for the wire (a false positive there would block a request).
    pub fn find_for_telemetry(&self, text: &[u8]) -> Vec<Finding> {
        let mut out = self.find(text, true, true);
        let Some(rule) = self.entropy_rule else { return out };
        let mut runs = Vec::new();
        entropy::runs(text, &mut runs);
        if runs.is_empty() {
            return out;
        }
        out.extend(runs.into_iter().map(|(start, end)| Finding { start, end, kind: Kind::Secret(rule) }));
        normalize(&mut out);
        out
    }

    fn secret_at(&self, text: &str, rule: u16, hit_start: usize, hit_end: usize, out: &mut Vec<Finding>) {
        let Some(r) = self.secrets.get(rule as usize) else { return };
        let from = floor_char(text, hit_start.saturating_sub(r.before + 1));
        let to = floor_char(text, (hit_end + r.after).min(text.len()));
        let window = &text[from..to];
        // start where a match can start; the byte before stays visible for `\b`
        let start_at = floor_char(window, hit_start.saturating_sub(r.before).saturating_sub(from));
        // a match that starts after the hit is refused below, so the shape stops looking there
        let by_hand = r.shape.as_ref().map(|s| s.find(window.as_bytes(), start_at, hit_end.saturating_sub(from)));
        let found = match by_hand {
            Some(Ok(m)) => m,
            // no shape, or its step budget ran out: the regex decides
            _ => r.regex.captures_at(window, start_at).and_then(|c| {
                let whole = c.get(0)?;
                let g = c.get(1).unwrap_or(whole);
                Some(shape::Match { start: whole.start(), end: whole.end(), group: (g.start(), g.end()) })
            }),
        };
        let Some(m) = found else { return };
        // the match must contain the keyword hit, or start right after it
        if from + m.start > hit_end || from + m.end < hit_start {
            return;
        }
        self.push_secret(text, rule, from + m.group.0, from + m.group.1, out);
    }

    fn push_secret(&self, text: &str, rule: u16, start: usize, mut end: usize, out: &mut Vec<Finding>) {
        let Some(r) = self.secrets.get(rule as usize) else { return };
        let value = &text[start..end];
        if r.min_entropy > 0.0 && entropy(value.as_bytes()) < r.min_entropy {
            return;
        }
        if self.allow.iter().any(|a| value.contains(a.as_str())) || self.allow_patterns.iter().any(|p| p.is_match(value)) {
            return;
        }
        if r.builtin {
            let before = &text[floor_char(text, start.saturating_sub(512))..start];
            let after = &text[end..floor_char(text, (end + 1024).min(text.len()))];
            if !validate::plausible(&r.id, value, before, after) {
                return;
            }
        }
        if r.id == "private-key" {
            // cover the key, not just its header, when the END line is near
            if let Some(e) = text[end..].get(..text.len().saturating_sub(end).min(16 * 1024)).and_then(|rest| rest.find("PRIVATE KEY-----")) {
                end += e + "PRIVATE KEY-----".len();
            }
        }
        out.push(Finding { start, end, kind: Kind::Secret(rule) });
    }

    fn custom_pii_at(&self, text: &str, i: u16, hit: usize, out: &mut Vec<Finding>) {
        let Some(c) = self.custom_pii.get(i as usize) else { return };
        let to = floor_char(text, (hit + 256).min(text.len()));
        if let Some(m) = c.regex.find(&text[hit..to]) {
            if m.start() == 0 {
                out.push(Finding { start: hit, end: hit + m.end(), kind: Kind::CustomPii(i) });
            }
        }
    }
}

/// The longest valid UTF-8 prefix: regexes work on `str`, and bodies are JSON, so this is
/// almost always all of it.
fn utf8_prefix(b: &[u8]) -> &str {
    match std::str::from_utf8(b) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&b[..e.valid_up_to()]).unwrap_or(""),
    }
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Sorts and removes overlaps; secrets win over PII, then the longer finding.
fn normalize(out: &mut Vec<Finding>) {
    out.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut kept: Vec<Finding> = Vec::with_capacity(out.len());
    for f in out.drain(..) {
        match kept.last_mut() {
            Some(last) if f.start < last.end => {
                let better = (f.kind.is_secret() && !last.kind.is_secret()) || (f.kind.is_secret() == last.kind.is_secret() && f.end - f.start > last.end - last.start);
                if better {
                    *last = Finding { start: last.start.min(f.start), end: last.end.max(f.end), kind: f.kind };
                } else {
                    last.end = last.end.max(f.end);
                }
            }
            _ => kept.push(f),
        }
    }
    *out = kept;
}

/// Shannon entropy in bits per byte.
pub fn entropy(b: &[u8]) -> f32 {
    if b.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &x in b {
        counts[x as usize] += 1;
    }
    let n = b.len() as f32;
    counts.iter().filter(|c| **c > 0).map(|&c| {
        let p = c as f32 / n;
        -p * p.log2()
    }).sum()
}

/// The placeholder for one finding.
pub(crate) fn placeholder(guard: &Guard, text: &[u8], f: &Finding) -> String {
    let label = guard.detectors.label(f.kind);
    match (guard.placeholder, f.kind.is_secret()) {
        (Placeholder::Pseudonym, false) => {
            let mut h = Sha256::new();
            h.update(guard.pseudonym_salt.as_bytes());
            h.update(text.get(f.start..f.end).unwrap_or_default());
            let digest = h.finalize();
            format!("<{label}:{}>", crate::trace::to_hex(&digest[..3]))
        }
        _ => format!("[REDACTED:{label}]"),
    }
}

/// What the guard decided about a whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to change (there may be observed findings).
    Unchanged,
    /// The body with its findings replaced.
    Rewritten(Vec<u8>),
    /// A secret that must not leave: the first rule id.
    Blocked(String),
}

/// The result of guarding a body: the decision, and the labels of what was found (secret rule
/// ids and PII kind names, once per finding) for stats and spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guarded {
    pub outcome: Outcome,
    pub pii: Vec<String>,
    pub secrets: Vec<String>,
}

/// Guards a whole body (JSON, or any text) under `policy`.
pub fn guard_body(guard: &Guard, policy: Policy, body: &[u8]) -> Guarded {
    let want_pii = policy.pii != PiiMode::Off;
    let want_secrets = policy.secrets != SecretMode::Off;
    let mut result = Guarded { outcome: Outcome::Unchanged, pii: Vec::new(), secrets: Vec::new() };
    if !want_pii && !want_secrets {
        return result;
    }
    // values hidden behind \u escapes are only visible once decoded
    let normalized = decode_ascii_escapes(body);
    let text: &[u8] = normalized.as_deref().unwrap_or(body);
    let findings = guard.detectors.find(text, want_pii, want_secrets);
    for f in &findings {
        let name = guard.detectors.kind_name(f.kind).into_owned();
        if f.kind.is_secret() {
            result.secrets.push(name);
        } else {
            result.pii.push(name);
        }
    }
    if policy.secrets == SecretMode::Block {
        if let Some(first) = result.secrets.first() {
            result.outcome = Outcome::Blocked(first.clone());
            return result;
        }
    }
    let replace: Vec<Finding> = findings
        .into_iter()
        .filter(|f| if f.kind.is_secret() { policy.secrets == SecretMode::Block } else { policy.pii == PiiMode::Redact })
        .collect();
    if !replace.is_empty() {
        result.outcome = Outcome::Rewritten(redact(guard, text, &replace));
    }
    result
}

/// Replaces `findings` (sorted, disjoint) in a JSON or text body, keeping JSON valid.
pub fn redact(guard: &Guard, text: &[u8], findings: &[Finding]) -> Vec<u8> {
    let strings = string_ranges(text);
    let mut looks_json: Option<bool> = None;
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    for f in findings {
        // never start or end inside an escape sequence (`\n` followed by a token)
        let (start, end) = align_to_escapes(text, f.start.max(at), f.end.min(text.len()));
        if start >= end {
            continue;
        }
        let f = &Finding { start, end, kind: f.kind };
        let p = placeholder(guard, text, f);
        // the ranges are sorted and disjoint: the candidate is the last one starting at or before
        let idx = strings.partition_point(|(s, _)| *s <= start);
        let inside = idx > 0 && strings.get(idx - 1).is_some_and(|(_, e)| f.end <= *e);
        // a body without strings is JSON only if it is a bare value (`4111111111111111`)
        if inside || !*looks_json.get_or_insert_with(|| !strings.is_empty() || is_json(text)) {
            out.extend_from_slice(&text[at..start]);
            out.extend_from_slice(p.as_bytes());
            at = f.end;
        } else {
            // a number outside any string: the placeholder replaces the whole number, as a
            // string value (a part of one, `777.[REDACTED]`, would break the JSON)
            let (start, end) = number_around(text, at, start, f.end);
            out.extend_from_slice(&text[at..start]);
            out.push(b'"');
            out.extend_from_slice(p.as_bytes());
            out.push(b'"');
            at = end;
        }
    }
    out.extend_from_slice(&text[at..]);
    out
}

/// Whether `text` is one JSON value; asked only of a body without strings that has a finding.
fn is_json(text: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(text).is_ok()
}

/// The JSON number token around `start..end`, not reaching back before `floor`.
fn number_around(t: &[u8], floor: usize, mut start: usize, mut end: usize) -> (usize, usize) {
    let in_number = |b: u8| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-');
    while start > floor && in_number(t[start - 1]) {
        start -= 1;
    }
    while end < t.len() && in_number(t[end]) {
        end += 1;
    }
    (start, end)
}

/// Whether byte `i` is the second byte of an escape (`\n`, `\"`), counting the backslashes.
fn escape_in_progress(t: &[u8], i: usize) -> bool {
    let mut n = 0;
    let mut j = i;
    while j > 0 && t[j - 1] == b'\\' {
        n += 1;
        j -= 1;
    }
    n % 2 == 1
}

/// The byte ranges of the insides of JSON string literals.
fn string_ranges(t: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(q) = memchr::memchr(b'"', &t[i..]) {
        let start = i + q + 1;
        let mut j = start;
        loop {
            match memchr::memchr2(b'"', b'\\', &t[j..]) {
                Some(k) if t[j + k] == b'\\' => j += k + 2,
                Some(k) => {
                    out.push((start, j + k));
                    i = j + k + 1;
                    break;
                }
                None => return out,
            }
            if j >= t.len() {
                return out;
            }
        }
        if i >= t.len() {
            break;
        }
    }
    out
}

/// Decodes `\uXXXX` escapes inside JSON strings to UTF-8 (surrogate pairs included), except
/// `"`, `\` and control characters, which must stay escaped: the result is the same JSON value,
/// and a value hidden behind escapes (`jos\u00e9\u0040example.com`, Python's `json.dumps` of
/// any non-ASCII letter) is visible to the detectors and is never cut in the middle of an
/// escape. `None` when there are none: the common case costs one `memmem` pass.
pub(crate) fn decode_ascii_escapes(t: &[u8]) -> Option<Vec<u8>> {
    memchr::memmem::find(t, b"\\u")?;
    let mut out = Vec::with_capacity(t.len());
    let mut i = 0;
    let mut changed = false;
    while i < t.len() {
        if t[i] == b'\\' && i + 1 < t.len() {
            if t[i + 1] == b'u' {
                if let Some((c, len)) = decode_escape(t, i) {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    i += len;
                    changed = true;
                    continue;
                }
            }
            out.extend_from_slice(&t[i..i + 2]);
            i += 2;
            continue;
        }
        out.push(t[i]);
        i += 1;
    }
    changed.then_some(out)
}

/// The character the `\uXXXX` escape at `t[i..]` stands for, and the escape's length (12 for
/// a surrogate pair), when it may be decoded without changing the JSON value: never `"`, `\`
/// or a control character, and never half a surrogate pair.
pub(crate) fn decode_escape(t: &[u8], i: usize) -> Option<(char, usize)> {
    let hex4 = |i: usize| -> Option<u32> {
        let h = t.get(i..i + 4)?;
        if !h.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
    };
    if t.get(i..i + 2) != Some(b"\\u") {
        return None;
    }
    match hex4(i + 2)? {
        v @ 0xD800..=0xDBFF => {
            // a high surrogate counts only with its low half right after it
            let lo = (t.get(i + 6..i + 8) == Some(b"\\u")).then(|| hex4(i + 8)).flatten().filter(|lo| (0xDC00..=0xDFFF).contains(lo))?;
            char::from_u32(0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00)).map(|c| (c, 12))
        }
        0xDC00..=0xDFFF => None,
        v if v < 0x20 || v == 0x22 || v == 0x5C || v == 0x7F => None,
        v => char::from_u32(v).map(|c| (c, 6)),
    }
}

/// Moves `start..end` so that it neither starts nor ends inside an escape sequence (`\n`,
/// `\u000a`): cutting one leaves a stray backslash or `\u` with no digits, which is not JSON.
/// The start moves forward past the escape (a control character is not part of a value), the
/// end forward to the escape's end (a secret is never left in part).
pub(crate) fn align_to_escapes(t: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    // the escape that holds byte `i` after its backslash, if any: where it ends
    let escape_end = |i: usize| -> Option<usize> {
        (i.saturating_sub(5)..i).rev().find_map(|b| {
            if t.get(b) != Some(&b'\\') || escape_in_progress(t, b) {
                return None;
            }
            let len = if t.get(b + 1) == Some(&b'u') && t.get(b + 2..b + 6).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) { 6 } else { 2 };
            (i < b + len).then_some(b + len)
        })
    };
    if let Some(e) = escape_end(start) {
        start = e;
    }
    if end > start {
        if let Some(e) = escape_end(end) {
            end = e.min(t.len());
        }
    }
    (start, end.max(start))
}

/// Every PII value and secret in `body` replaced: content bound for the capture bucket.
pub fn redact_all(guard: &Guard, body: &[u8]) -> Vec<u8> {
    let normalized = decode_ascii_escapes(body);
    let text: &[u8] = normalized.as_deref().unwrap_or(body);
    let findings = guard.detectors.find_for_telemetry(text);
    if findings.is_empty() {
        return text.to_vec();
    }
    redact(guard, text, &findings)
}

/// Redacts PII and secrets from a string that is about to leave in telemetry, whatever the
/// wire modes: the defence in depth. Borrowed when there is nothing to redact.
pub fn sanitize_for_telemetry<'a>(guard: &Guard, s: &'a str) -> Cow<'a, str> {
    // model names, ids and versions are short: most are 6 to 60 bytes of one word
    if s.len() < 6 {
        return Cow::Borrowed(s);
    }
    let findings = guard.detectors.find_for_telemetry(s.as_bytes());
    if findings.is_empty() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    for f in &findings {
        out.push_str(&s[at..f.start]);
        out.push_str(&format!("[REDACTED:{}]", guard.detectors.label(f.kind)));
        at = f.end;
    }
    out.push_str(&s[at..]);
    Cow::Owned(out)
}

/// The JSON body of the local reply that blocks a request. Names the rule, never the secret.
pub fn block_body(rule: &str) -> Vec<u8> {
    let body = serde_json::json!({
        "error": {
            "type": "secret_detected",
            "rule": rule,
            "message": format!("genai-tap blocked this request: it contains a credential matching rule {rule}. Remove it and retry."),
        }
    });
    body.to_string().into_bytes()
}

/// Redacts a response stream on its way, holding back at most `window` bytes so that no match
/// is lost at a chunk boundary. Lines are the unit: a finding never spans a newline, so bytes
/// up to the last newline leave at once, and only the unfinished line waits.
#[derive(Debug)]
pub struct StreamRedactor {
    held: Vec<u8>,
    window: usize,
    pub pii: Vec<String>,
    pub secrets: Vec<String>,
}

impl StreamRedactor {
    pub fn new(window: usize) -> StreamRedactor {
        StreamRedactor { held: Vec::new(), window, pii: Vec::new(), secrets: Vec::new() }
    }

    /// Takes a chunk; returns the bytes that may leave now.
    pub fn push(&mut self, guard: &Guard, policy: Policy, chunk: &[u8]) -> Vec<u8> {
        self.held.extend_from_slice(chunk);
        let mut cut = match memchr::memrchr(b'\n', &self.held) {
            Some(nl) => nl + 1,
            None => 0,
        };
        // an unfinished line longer than the window goes out in part
        cut = cut.max(self.held.len().saturating_sub(self.window));
        self.release(guard, policy, cut)
    }

    /// The stream ended: everything left.
    pub fn finish(&mut self, guard: &Guard, policy: Policy) -> Vec<u8> {
        let n = self.held.len();
        self.release(guard, policy, n)
    }

    fn release(&mut self, guard: &Guard, policy: Policy, mut cut: usize) -> Vec<u8> {
            if cut == 0 {
            return Vec::new();
        }
        let findings = guard.detectors.find(&self.held, policy.pii != PiiMode::Off, policy.secrets != SecretMode::Off);
        // a finding that crosses the cut keeps its start back
        if cut < self.held.len() {
            if let Some(f) = findings.iter().find(|f| f.start < cut && cut < f.end) {
                cut = f.start;
            }
        }
        let mut replace = Vec::new();
        for f in findings.into_iter().filter(|f| f.end <= cut) {
            let name = guard.detectors.kind_name(f.kind).into_owned();
            let redact = if f.kind.is_secret() { policy.secrets == SecretMode::Block } else { policy.pii == PiiMode::Redact };
            if f.kind.is_secret() { self.secrets.push(name) } else { self.pii.push(name) }
            if redact {
                replace.push(f);
            }
        }
        let rest = self.held.split_off(cut);
        let out = if replace.is_empty() { std::mem::take(&mut self.held) } else { redact(guard, &self.held, &replace) };
        self.held = rest;
        out
    }

    pub fn state_bytes(&self) -> usize {
        self.held.capacity()
    }
}

#[cfg(test)]
mod tests;
