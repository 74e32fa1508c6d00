//! The configuration parser: any bytes are refused or accepted, never a panic; an error names
//! a field or says why.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = genai_tap::config::Config::from_json(data) {
        assert!(!e.message.is_empty());
    }
});
