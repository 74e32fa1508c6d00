//! Routes: which hosts and paths are LLMs, MCP servers or plain tools.
//!
//! This module owns the compiled route table, its matching, and [`RouteKind`], which the
//! guard's policies and the exchange read. It does not parse JSON (`config::routes` holds the
//! raw route) and does not detect a provider from a request (see `providers::detect`); it
//! only maps a route's configured `provider` name to a [`Provider`].
//!
//! The first route that matches wins; where none matches, detection is automatic (see
//! `providers::detect` and `mcp`).

use crate::config::routes::{RawRoute, RawRouteKind};
use crate::providers::Provider;
use core::fmt;

/// What a route carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteKind {
    Llm,
    Mcp,
    Tool,
}

impl RouteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteKind::Llm => "llm",
            RouteKind::Mcp => "mcp",
            RouteKind::Tool => "tool",
        }
    }
}

impl From<RawRouteKind> for RouteKind {
    fn from(k: RawRouteKind) -> RouteKind {
        match k {
            RawRouteKind::Llm => RouteKind::Llm,
            RawRouteKind::Mcp => RouteKind::Mcp,
            RawRouteKind::Tool => RouteKind::Tool,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Exact(String),
    /// `*.example.com` is stored as `.example.com`.
    Suffix(String),
}

impl HostPattern {
    fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Any => true,
            HostPattern::Exact(h) => h.eq_ignore_ascii_case(host),
            HostPattern::Suffix(s) => {
                host.len() > s.len()
                    && host
                        .as_bytes()
                        .get(host.len() - s.len()..)
                        .is_some_and(|tail| tail.eq_ignore_ascii_case(s.as_bytes()))
            }
        }
    }
}

/// One compiled route.
#[derive(Debug, Clone)]
pub struct Route {
    host: HostPattern,
    path_prefix: Option<String>,
    pub kind: RouteKind,
    pub provider: Option<Provider>,
    pub tool: Option<String>,
}

/// The compiled route table.
#[derive(Debug, Default, Clone)]
pub struct Routes {
    routes: Vec<Route>,
}

impl Routes {
    /// Compiles `routes`. An error names the route by its index.
    pub fn compile(raw: Vec<RawRoute>) -> Result<Routes, Error> {
        let mut routes = Vec::with_capacity(raw.len());
        for (index, r) in raw.into_iter().enumerate() {
            let err = |field: &'static str, kind: ErrorKind| Error { index, field, kind };
            let kind = RouteKind::from(r.kind);
            let host = r.host.trim().to_ascii_lowercase();
            let host = if host == "*" {
                HostPattern::Any
            } else if let Some(suffix) = host.strip_prefix("*.") {
                if suffix.is_empty() || suffix.contains('*') {
                    return Err(err("host", ErrorKind::HostPattern));
                }
                HostPattern::Suffix(format!(".{suffix}"))
            } else if host.is_empty() || host.contains('*') || host.contains(':') {
                return Err(err("host", ErrorKind::HostWithPort));
            } else {
                HostPattern::Exact(host)
            };
            if let Some(p) = &r.path_prefix {
                if !p.starts_with('/') {
                    return Err(err("path_prefix", ErrorKind::PathPrefix));
                }
            }
            let provider = match (&r.provider, kind) {
                (None, _) => None,
                (Some(p), RouteKind::Llm) => {
                    Some(Provider::from_config_name(p).ok_or(err("provider", ErrorKind::UnknownProvider))?)
                }
                (Some(_), _) => return Err(err("provider", ErrorKind::ProviderNotLlm)),
            };
            if r.tool.is_some() && kind != RouteKind::Tool {
                return Err(err("tool", ErrorKind::ToolNotTool));
            }
            if matches!(&r.tool, Some(t) if t.trim().is_empty()) {
                return Err(err("tool", ErrorKind::EmptyTool));
            }
            routes.push(Route { host, path_prefix: r.path_prefix, kind, provider, tool: r.tool });
        }
        Ok(Routes { routes })
    }

    /// The first route matching `host` (without port) and `path`.
    pub fn find(&self, host: &str, path: &str) -> Option<&Route> {
        self.routes.iter().find(|r| {
            r.host.matches(host) && r.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
        })
    }
}

/// A route that does not compile. The message never holds the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    index: usize,
    field: &'static str,
    kind: ErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorKind {
    HostPattern,
    HostWithPort,
    PathPrefix,
    UnknownProvider,
    ProviderNotLlm,
    ToolNotTool,
    EmptyTool,
}

impl Error {
    /// The field inside the route list: `[2].host`.
    pub fn field(&self) -> String {
        format!("[{}].{}", self.index, self.field)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            ErrorKind::HostPattern => "must be exact, '*' or '*.suffix'",
            ErrorKind::HostWithPort => "must be exact, '*' or '*.suffix', without a port",
            ErrorKind::PathPrefix => "must start with '/'",
            ErrorKind::UnknownProvider => {
                "unknown provider; expected one of openai, azure.ai.openai, anthropic, gcp.gemini, \
                 gcp.vertex_ai, aws.bedrock, ollama, groq, mistral_ai, deepseek, openai_compatible"
            }
            ErrorKind::ProviderNotLlm => "only applies to kind \"llm\"",
            ErrorKind::ToolNotTool => "only applies to kind \"tool\"",
            ErrorKind::EmptyTool => "must not be empty",
        })
    }
}

impl std::error::Error for Error {}

/// The host without its port (`[::1]:8080` gives `[::1]`).
pub fn strip_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(i) => authority.get(..=i).unwrap_or(authority),
            None => authority,
        };
    }
    match authority.rfind(':') {
        Some(i) if authority.get(i + 1..).is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit())) => {
            authority.get(..i).unwrap_or(authority)
        }
        _ => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(json: &str) -> Result<Routes, Error> {
        Routes::compile(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn first_match_wins_and_patterns_work() {
        let r = routes(
            r#"[{"host":"api.openai.com","path_prefix":"/v1/","kind":"llm","provider":"openai"},
                {"host":"*.internal.example","path_prefix":"/mcp","kind":"mcp"},
                {"host":"inventory.internal.example","kind":"tool","tool":"inventory"},
                {"host":"*","kind":"tool"}]"#,
        )
        .unwrap();
        assert_eq!(r.find("API.OpenAI.com", "/v1/chat").unwrap().provider, Some(Provider::OpenAi));
        assert_eq!(r.find("api.openai.com", "/v2/x").unwrap().kind, RouteKind::Tool);
        assert_eq!(r.find("a.internal.example", "/mcp/x").unwrap().kind, RouteKind::Mcp);
        let inv = r.find("inventory.internal.example", "/items").unwrap();
        assert_eq!(inv.tool.as_deref(), Some("inventory"));
        // a bare suffix is not a subdomain of itself
        assert_eq!(r.find("internal.example", "/mcp").unwrap().tool, None);
    }

    #[test]
    fn bad_routes_name_the_field() {
        let cases = [
            (r#"[{"host":"a:80","kind":"llm"}]"#, "[0].host", "without a port"),
            (r#"[{"host":"a","kind":"tool"},{"host":"*.","kind":"tool"}]"#, "[1].host", "'*.suffix'"),
            (r#"[{"host":"a","kind":"llm","provider":"openia"}]"#, "[0].provider", "unknown provider"),
            (r#"[{"host":"a","kind":"tool","provider":"openai"}]"#, "[0].provider", "only applies"),
            (r#"[{"host":"a","kind":"mcp","tool":"x"}]"#, "[0].tool", "only applies"),
            (r#"[{"host":"a","kind":"tool","tool":" "}]"#, "[0].tool", "must not be empty"),
            (r#"[{"host":"a","kind":"tool","path_prefix":"x"}]"#, "[0].path_prefix", "start with '/'"),
        ];
        for (json, field, why) in cases {
            let e = routes(json).unwrap_err();
            assert_eq!(e.field(), field, "{json}");
            assert!(e.to_string().contains(why), "{json}: {e}");
            assert!(!e.to_string().contains("openia"), "{e}");
        }
    }

    #[test]
    fn strips_ports() {
        assert_eq!(strip_port("a.b:443"), "a.b");
        assert_eq!(strip_port("a.b"), "a.b");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("[::1"), "[::1");
        assert_eq!(strip_port("a.b:"), "a.b");
    }
}
