//! The configuration parser: any bytes are refused or accepted, never a panic; an error names
//! a field or says why.
#![no_main]

#[path = "../oracles/config.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
