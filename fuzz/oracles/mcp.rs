//! MCP JSON-RPC parsing and the HTTP tool helpers: no panic on any bytes.
//!
//! Shared by the `cargo fuzz` target of the same name and by `tests/fuzz_smoke.rs`.

use genai_tap::{http_result_shape, http_side_effect, parse_mcp_requests, parse_mcp_responses};

/// The property this target checks, for one input: panics when it does not hold.
pub fn check(data: &[u8]) {
    let _ = parse_mcp_requests(data);
    let _ = parse_mcp_responses(data);
    let _ = http_result_shape(data);
    let text = String::from_utf8_lossy(data);
    let s = http_side_effect("POST", "h", &text);
    assert!(!s.contains('?'));
}
