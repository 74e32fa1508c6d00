//! MCP JSON-RPC parsing and the HTTP tool helpers: no panic on any bytes.
#![no_main]

#[path = "../oracles/mcp.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
