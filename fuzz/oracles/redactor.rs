//! The JSON redactor: valid JSON in means valid JSON out, and nothing panics.
//!
//! Shared by the `cargo fuzz` target of the same name and by `tests/fuzz_smoke.rs`.

use genai_tap::scan::{PiiMode, Policy, SecretMode};
use genai_tap::scan::{guard_body, Outcome};
use std::sync::OnceLock;

/// The property this target checks, for one input: panics when it does not hold.
pub fn check(data: &[u8]) {
    static CFG: OnceLock<genai_tap::plugin::Config> = OnceLock::new();
    let cfg = CFG.get_or_init(|| genai_tap::plugin::Config::from_json(b"{}").expect("defaults"));
    let policy = Policy { pii: PiiMode::Redact, secrets: SecretMode::Observe };
    let r = guard_body(&cfg.guard, policy, data);
    if let Outcome::Rewritten(out) = r.outcome {
        if serde_json::from_slice::<serde_json::Value>(data).is_ok() {
            serde_json::from_slice::<serde_json::Value>(&out).expect("redaction keeps JSON valid");
        }
    }
}
