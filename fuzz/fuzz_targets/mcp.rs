//! MCP JSON-RPC parsing and the HTTP tool helpers: no panic on any bytes.
#![no_main]
use genai_tap::tools::{http, mcp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mcp::parse_requests(data);
    let _ = mcp::parse_responses(data);
    let _ = http::result_shape(data);
    let text = String::from_utf8_lossy(data);
    let s = http::side_effect("POST", "h", &text);
    assert!(!s.contains('?'));
});
