//! The JSON redactor: valid JSON in means valid JSON out, and nothing panics.
//!
//! Shared by the `cargo fuzz` target of the same name and by `tests/fuzz_smoke.rs`, whose
//! seeds include every case of the guard's labelled set (`tests/data/detectors.jsonl`). Every
//! way a body is redacted is checked: PII redacted on the wire, secrets redacted (a response's
//! `block`), and everything for the capture bucket (`redact_all`, with its high-entropy pass).

use genai_tap::{RequestGuard, RequestGuardSetup as Setup, RequestGuardVerdict as Verdict};
use genai_tap::{PiiMode, Policy, SecretMode};
use genai_tap::{guard_body, redact_all, sanitize_for_telemetry, GuardOutcome as Outcome};
use std::sync::OnceLock;

/// The property this target checks, for one input: panics when it does not hold.
pub fn check(data: &[u8]) {
    static CFG: OnceLock<genai_tap::Config> = OnceLock::new();
    let cfg = CFG.get_or_init(|| genai_tap::Config::from_json(b"{}").expect("defaults"));
    let valid = serde_json::from_slice::<serde_json::Value>(data).is_ok();
    for policy in [Policy { pii: PiiMode::Redact, secrets: SecretMode::Observe }, Policy { pii: PiiMode::Redact, secrets: SecretMode::Block }] {
        let r = guard_body(&cfg.guard, policy, data);
        if let Outcome::Rewritten(out) = r.outcome {
            if valid {
                serde_json::from_slice::<serde_json::Value>(&out).expect("redaction keeps JSON valid");
            }
        }
    }
    // the wire's own path: the request guard as it streams, with and without a declared length
    for content_length in [false, true] {
        let setup = Setup { policy: Policy { pii: PiiMode::Redact, secrets: SecretMode::Observe }, content_length, content_encoding: None, window: 65_536, block_uninspectable: false };
        let mut g = RequestGuard::new(setup);
        if let Verdict::Forward(out) = g.push(&cfg.guard, data, true) {
            if valid {
                serde_json::from_slice::<serde_json::Value>(&out).expect("the request guard keeps JSON valid");
            }
            if content_length {
                assert_eq!(out.len(), data.len(), "a declared length is kept");
            }
        }
    }
    let out = redact_all(&cfg.guard, data);
    if valid {
        serde_json::from_slice::<serde_json::Value>(&out).expect("redact_all keeps JSON valid");
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = sanitize_for_telemetry(&cfg.guard, s);
    }
}
