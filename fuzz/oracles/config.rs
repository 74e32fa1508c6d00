//! The configuration parser: any bytes are refused or accepted, never a panic; an error names
//! a field or says why.
//!
//! Shared by the `cargo fuzz` target of the same name and by `tests/fuzz_smoke.rs`.

/// The property this target checks, for one input: panics when it does not hold.
pub fn check(data: &[u8]) {
    if let Err(e) = genai_tap::Config::from_json(data) {
        assert!(!e.message().is_empty());
    }
}
