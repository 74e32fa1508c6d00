//! MCP JSON-RPC parsing and the HTTP tool helpers: no panic on any bytes.
//!
//! Shared by the `cargo fuzz` target of the same name and by `tests/fuzz_smoke.rs`.

use genai_tap::tools::{http, mcp};

/// The property this target checks, for one input: panics when it does not hold.
pub fn check(data: &[u8]) {
    let _ = mcp::parse_requests(data);
    let _ = mcp::parse_responses(data);
    let _ = http::result_shape(data);
    let text = String::from_utf8_lossy(data);
    let s = http::side_effect("POST", "h", &text);
    assert!(!s.contains('?'));
}
