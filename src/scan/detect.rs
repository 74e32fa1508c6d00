//! The compiled detectors: what a finding is, how the built-in and configured PII kinds and
//! secret rules are compiled, and the scan loop that finds them in a text.
//!
//! This module owns [`Detectors`] (the keyword automaton, the secret rule table, the custom
//! kinds, the allow lists) and [`Detectors::find`]. It does not replace anything (`redact`),
//! lex JSON (`json`) or decide what a finding means for the call (`policy`, `exchange`).

use super::ipranges::IpRanges;
use super::pii::PiiKinds;
use super::policy::DetectorError;
use super::{pii, rules, shape, validate};
use std::borrow::Cow;
use super::keywords::Keywords;
use regex_lite::Regex;

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
pub(super) struct SecretRule {
    pub(super) id: String,
    pub(super) regex: Regex,
    /// The pattern checked by hand, when it is in `shape`'s subset (most built-in rules).
    pub(super) shape: Option<shape::Shape>,
    pub(super) before: usize,
    pub(super) after: usize,
    pub(super) min_entropy: f32,
    /// No keywords: the regex runs over the whole text.
    pub(super) everywhere: bool,
    /// A built-in rule, which gets `validate`'s second looks (a configured one is taken as written).
    pub(super) builtin: bool,
}

/// Which rule or custom kind an Aho-Corasick pattern belongs to.
#[derive(Debug, Clone, Copy)]
pub(super) enum Hint {
    Secret(u16),
    Pii(u16),
}

/// The compiled detectors.
#[derive(Debug)]
pub struct Detectors {
    pub(super) pii: PiiKinds,
    pub(super) custom_pii: Vec<CustomPii>,
    pub(super) secrets: Vec<SecretRule>,
    /// Every keyword of every rule and custom kind, in one case-insensitive automaton.
    pub(super) keywords: Option<Keywords>,
    /// By pattern id: whose keyword it is, and the keyword itself when it must match exactly.
    pub(super) keyword_hints: Vec<(Hint, Option<Box<[u8]>>)>,
    pub(super) allow: Vec<String>,
    pub(super) allow_patterns: Vec<Regex>,
    /// IP ranges whose addresses are not PII (`pii.ignore_ip_ranges`).
    pub(super) ip_ranges: IpRanges,
    /// The index of the telemetry-only high-entropy rule (no keywords: never run on the wire).
    pub(super) entropy_rule: Option<u16>,
    /// How far before the end of a text a keyword hit may start and still have its rule (or
    /// custom kind) look past that end; fixed at compile, read for every chunk of a body.
    keyword_reach: usize,
}

/// Bytes after its keyword where a keyed custom PII kind's match may end.
pub(super) const CUSTOM_PII_REACH: usize = 256;

/// The id of the telemetry-only catch-all: a token-like run random enough to be a credential.
pub const HIGH_ENTROPY_RULE: &str = "high-entropy-string";

/// One automaton for all keywords, so that clean text costs one pass: case-insensitive,
/// because some rules' keywords are; an exact keyword is compared again at each hit.
#[allow(clippy::type_complexity)]
fn build_keywords(patterns: &[(String, Hint, bool)]) -> Result<(Option<Keywords>, Vec<(Hint, Option<Box<[u8]>>)>), String> {
    let keywords = Keywords::new(patterns.iter().map(|(p, _, _)| p.as_bytes()))?;
    let hints = patterns.iter().map(|(p, h, exact)| (*h, exact.then(|| p.as_bytes().into()))).collect();
    Ok((keywords, hints))
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
            keyword_reach: 0,
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
        let longest = keywords.as_ref().map_or(0, Keywords::longest);
        let after = keyword_hints.iter().map(|(h, _)| match h {
            Hint::Secret(r) => secrets.get(*r as usize).map_or(0, |r| r.after),
            Hint::Pii(_) => CUSTOM_PII_REACH,
        });
        let keyword_reach = after.max().unwrap_or(0) + longest + 1;
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
            keyword_reach,
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
    pub(super) fn label(&self, k: Kind) -> &str {
        match k {
            Kind::Email => "EMAIL",
            Kind::Phone => "PHONE",
            Kind::Ssn => "SSN",
            Kind::CreditCard => "CREDIT_CARD",
            Kind::Iban => "IBAN",
            Kind::Ipv4 => "IPV4",
            Kind::Ipv6 => "IPV6",
            Kind::Secret(_) => "SECRET",
            Kind::CustomPii(i) => self.custom_pii.get(i as usize).map_or("PII", |c| c.name.as_str()),
        }
    }

    /// How far before the end of a text a keyword hit may start and still have its rule (or
    /// custom kind) look past that end.
    pub(super) fn keyword_reach(&self) -> usize {
        self.keyword_reach
    }

    /// Every finding in `text`, sorted by start, without overlaps (the longer one wins).
    /// `secrets`/`pii` choose which detectors run.
    pub fn find(&self, text: &[u8], pii: bool, secrets: bool) -> Vec<Finding> {
        self.find_noting_keywords(text, pii, secrets, |_, _, _| {})
    }

    /// [`Detectors::find`], also calling `keyword(hint, start, end)` for every keyword hit the
    /// chosen detectors look at (an exact keyword only where its case matches), in order of
    /// where the hits end. The streaming request guard holds back what a hit's rule window may
    /// still reach, and learns the hits from here rather than from a second walk.
    pub(super) fn find_noting_keywords(&self, text: &[u8], pii: bool, secrets: bool, mut keyword: impl FnMut(Hint, usize, usize)) -> Vec<Finding> {
        let mut out = Vec::new();
        if pii {
            if self.pii.email {
                pii::emails(text, &mut out);
            }
            if self.pii.ipv6 {
                pii::ipv6(text, &self.ip_ranges, &mut out);
            }
            // IBANs first: a number token wholly inside one can only yield a finding that
            // `normalize` would merge into it, so `numbers` skips those tokens (on text dense
            // with IBANs, their digit groups were the costliest tokens to classify)
            let ibans_from = out.len();
            if self.pii.iban {
                pii::ibans(text, &mut out);
            }
            let ibans_to = out.len();
            if self.pii.phone || self.pii.ssn || self.pii.credit_card || self.pii.ipv4 {
                let ibans: Vec<(usize, usize)> = out[ibans_from..ibans_to].iter().map(|f| (f.start, f.end)).collect();
                pii::numbers(text, self.pii, &self.ip_ranges, &ibans, &mut out);
            }
        }
        let wanted = |h: &Hint| match h {
            Hint::Secret(_) => secrets,
            Hint::Pii(_) => pii,
        };
        let str_text = utf8_view(text);
        let str_text: &str = &str_text;
        // per rule, where its last finding ends: a hit inside it needs no second look
        let mut covered = vec![0usize; self.secrets.len()];
        let keywords = self.keywords.as_ref().filter(|_| self.keyword_hints.iter().any(|(h, _)| wanted(h)));
        if let Some(keywords) = keywords {
            let bytes = str_text.as_bytes();
            keywords.for_each(bytes, 0, |pid, start, end| {
                let Some((hint, exact)) = self.keyword_hints.get(pid) else { return };
                if !wanted(hint) || exact.as_deref().is_some_and(|e| bytes.get(start..end) != Some(e)) {
                    return;
                }
                keyword(*hint, start, end);
                match *hint {
                    Hint::Secret(r) => {
                        if covered.get(r as usize).is_some_and(|c| start < *c) {
                            return;
                        }
                        let before = out.len();
                        self.secret_at(str_text, r, start, end, &mut out);
                        if let (Some(f), Some(c)) = (out[before..].iter().map(|f| f.end).max(), covered.get_mut(r as usize)) {
                            *c = (*c).max(f);
                        }
                    }
                    Hint::Pii(c) => self.custom_pii_at(str_text, c, start, &mut out),
                }
            });
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
        super::entropy::runs(text, &mut runs);
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
        let to = floor_char(text, (hit + CUSTOM_PII_REACH).min(text.len()));
        if let Some(m) = c.regex.find(&text[hit..to]) {
            if m.start() == 0 {
                out.push(Finding { start: hit, end: hit + m.end(), kind: Kind::CustomPii(i) });
            }
        }
    }
}

/// `b` as a `str` with the same offsets, for the regexes and the keyword walk: each byte of an
/// invalid UTF-8 sequence is read as a space, and an incomplete sequence at the very end (a
/// chunk that stops inside a character, whose rest the next chunk brings) is left out.
///
/// Before, the text stopped at the first invalid byte, so a secret after one (a body that is
/// not UTF-8 throughout, JSON or not) was never looked for. Bodies are almost always valid, and
/// then nothing is copied.
fn utf8_view(b: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(b) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(crate::text::blanking_invalid_utf8(b.to_vec()))
}

use crate::text::floor_char;

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
