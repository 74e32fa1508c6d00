//! OTLP protobuf encoding: any span encodes, and the real decoder gives the same span back.
#![no_main]

#[path = "../oracles/otlp.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
