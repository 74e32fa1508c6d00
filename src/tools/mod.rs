//! TODO(tools)

pub mod http;
pub mod mcp;
