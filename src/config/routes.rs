//! `routes` as written: which hosts and paths are LLMs, MCP servers or plain tools.
//!
//! This module owns the keys of a route. It does not match requests or know the providers:
//! `routes::Routes::compile` checks the host pattern and maps `provider` (kept a string here,
//! so that configuration never depends on the provider list) to a provider.

use serde::Deserialize;

/// `routes[]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// Exact host, `*`, or `*.suffix`; matched without the port, case-insensitively.
    pub host: String,
    #[serde(default)]
    pub path_prefix: Option<String>,
    pub kind: RawRouteKind,
    /// For `llm` routes: the `gen_ai.provider.name` to use.
    #[serde(default)]
    pub provider: Option<String>,
    /// For `tool` routes: the tool's name (default: the host).
    #[serde(default)]
    pub tool: Option<String>,
}

/// `routes[].kind`: `llm`, `mcp` or `tool`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawRouteKind {
    Llm,
    Mcp,
    Tool,
}
