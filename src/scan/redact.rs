//! Redaction: replacing findings with placeholders in a whole body, in a string bound for
//! telemetry, and in a response stream line by line; and the guard's decision about a body.
//!
//! This module owns what a finding is replaced with and how a body stays valid JSON while it
//! is. It does not find values (`detect`), decide when to scan (`exchange`), or hold a request
//! body back as it streams (`request`).

use super::json::{align_to_escapes, decode_ascii_escapes, is_json, number_around, string_ranges};
use super::{Finding, Guard, PiiMode, Placeholder, Policy, SecretMode, Tally};
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// Writes the placeholder for one finding onto `out`: `[REDACTED:EMAIL]`, or a pseudonym
/// (`<EMAIL:1a2b3c>`, the same for the same value under the same salt). Written in place: a
/// dense prompt has a finding every few dozen bytes, and a `String` each was a fifth of the scan.
pub(crate) fn write_placeholder(out: &mut Vec<u8>, guard: &Guard, text: &[u8], f: &Finding) {
    let label = guard.detectors.label(f.kind).as_bytes();
    match (guard.placeholder, f.kind.is_secret()) {
        (Placeholder::Pseudonym, false) => {
            let mut h = Sha256::new();
            h.update(guard.pseudonym_salt.as_bytes());
            h.update(text.get(f.start..f.end).unwrap_or_default());
            let digest = h.finalize();
            out.push(b'<');
            out.extend_from_slice(label);
            out.push(b':');
            out.extend_from_slice(crate::trace::to_hex(&digest[..3]).as_bytes());
            out.push(b'>');
        }
        _ => {
            out.extend_from_slice(b"[REDACTED:");
            out.extend_from_slice(label);
            out.push(b']');
        }
    }
}

/// The length of the placeholder [`write_placeholder`] writes for a finding of `kind`.
pub(crate) fn placeholder_len(guard: &Guard, kind: crate::scan::Kind) -> usize {
    let label = guard.detectors.label(kind).len();
    match (guard.placeholder, kind.is_secret()) {
        // `<` label `:` six hex digits `>`
        (Placeholder::Pseudonym, false) => label + 9,
        // `[REDACTED:` label `]`
        _ => label + 11,
    }
}

/// The placeholder for one finding, as a string.
pub(crate) fn placeholder(guard: &Guard, text: &[u8], f: &Finding) -> String {
    let mut out = Vec::with_capacity(32);
    write_placeholder(&mut out, guard, text, f);
    // labels are configured strings and the digest is hex: the bytes are UTF-8
    String::from_utf8(out).unwrap_or_default()
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

/// The result of guarding a body: the decision, and what was found, by kind, for stats and
/// spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guarded {
    /// What the guard decided.
    pub outcome: Outcome,
    /// The PII found, by kind.
    pub pii: Tally,
    /// The secrets found, by rule.
    pub secrets: Tally,
}

/// Guards a whole body (JSON, or any text) under `policy`.
pub fn guard_body(guard: &Guard, policy: Policy, body: &[u8]) -> Guarded {
    let want_pii = policy.pii != PiiMode::Off;
    let want_secrets = policy.secrets != SecretMode::Off;
    let mut result = Guarded { outcome: Outcome::Unchanged, pii: Tally::default(), secrets: Tally::default() };
    if !want_pii && !want_secrets {
        return result;
    }
    // values hidden behind \u escapes are only visible once decoded
    let normalized = decode_ascii_escapes(body);
    let text: &[u8] = normalized.as_deref().unwrap_or(body);
    let findings = guard.detectors.find(text, want_pii, want_secrets);
    for f in &findings {
        if f.kind.is_secret() {
            result.secrets.add(f.kind);
        } else {
            result.pii.add(f.kind);
        }
    }
    if policy.secrets == SecretMode::Block {
        if let Some(first) = result.secrets.first() {
            result.outcome = Outcome::Blocked(guard.detectors.kind_name(first).into_owned());
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
        // the ranges are sorted and disjoint: the candidate is the last one starting at or before
        let idx = strings.partition_point(|(s, _)| *s <= start);
        let inside = idx > 0 && strings.get(idx - 1).is_some_and(|(_, e)| f.end <= *e);
        // a body without strings is JSON only if it is a bare value (`4111111111111111`)
        if inside || !*looks_json.get_or_insert_with(|| !strings.is_empty() || is_json(text)) {
            out.extend_from_slice(&text[at..start]);
            write_placeholder(&mut out, guard, text, f);
            at = f.end;
        } else {
            // a number outside any string: the placeholder replaces the whole number, as a
            // string value (a part of one, `777.[REDACTED]`, would break the JSON)
            let (start, end) = number_around(text, at, start, f.end);
            out.extend_from_slice(&text[at..start]);
            out.push(b'"');
            write_placeholder(&mut out, guard, text, f);
            out.push(b'"');
            at = end;
        }
    }
    out.extend_from_slice(&text[at..]);
    out
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
    if s.len() < 6 || guard.clean_memo.is_clean(s) {
        return Cow::Borrowed(s);
    }
    let findings = guard.detectors.find_for_telemetry(s.as_bytes());
    if findings.is_empty() {
        guard.clean_memo.found_clean(s);
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    for f in &findings {
        out.push_str(&s[at..f.start]);
        out.push_str("[REDACTED:");
        out.push_str(guard.detectors.label(f.kind));
        out.push(']');
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
    pub pii: Tally,
    pub secrets: Tally,
}

impl StreamRedactor {
    pub fn new(window: usize) -> StreamRedactor {
        StreamRedactor { held: Vec::new(), window, pii: Tally::default(), secrets: Tally::default() }
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
            let redact = if f.kind.is_secret() { policy.secrets == SecretMode::Block } else { policy.pii == PiiMode::Redact };
            if f.kind.is_secret() { self.secrets.add(f.kind) } else { self.pii.add(f.kind) }
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
