//! Tool egress: MCP (JSON-RPC over streamable HTTP) and plain HTTP tool calls.
//!
//! This module reads what a tool call was, by shape: the method and tool, the result's content
//! types and keys, its size, the authorization outcome, and the side effect as an action
//! (`POST api.github.com /repos/{id}/{id}/issues`), never the content. The exchange turns that
//! into tool spans and stats; the guard sanitises anything that could carry content.

pub mod http;
pub mod mcp;
