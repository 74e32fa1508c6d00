//! The JSON redactor: valid JSON in means valid JSON out, and nothing panics.
#![no_main]

#[path = "../oracles/redactor.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
