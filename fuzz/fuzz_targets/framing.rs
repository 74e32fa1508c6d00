//! Every framer: any bytes, cut anywhere, give the same frames as the bytes whole, or the same error.
#![no_main]

#[path = "../oracles/framing.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
