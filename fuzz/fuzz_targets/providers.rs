//! Every provider's reader, fed any frames and bodies: no panic, whatever the bytes.
#![no_main]

#[path = "../oracles/providers.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
