//! `routes`: which hosts and paths are LLMs, MCP servers or plain tools.
//!
//! The first route that matches wins; where none matches, detection is automatic (see
//! `providers::detect` and `mcp`).

use super::ConfigError;
use crate::providers::Provider;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// Exact host, `*`, or `*.suffix`; matched without the port, case-insensitively.
    pub host: String,
    #[serde(default)]
    pub path_prefix: Option<String>,
    pub kind: RouteKind,
    /// For `llm` routes: the `gen_ai.provider.name` to use.
    #[serde(default)]
    pub provider: Option<String>,
    /// For `tool` routes: the tool's name (default: the host).
    #[serde(default)]
    pub tool: Option<String>,
}

/// What a route carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
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
                    && host.as_bytes()[host.len() - s.len()..].eq_ignore_ascii_case(s.as_bytes())
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
    pub fn compile(raw: Vec<RawRoute>) -> Result<Routes, ConfigError> {
        let mut routes = Vec::with_capacity(raw.len());
        for (i, r) in raw.into_iter().enumerate() {
            let field = |k: &str| format!("routes[{i}].{k}");
            let host = r.host.trim().to_ascii_lowercase();
            let host = if host == "*" {
                HostPattern::Any
            } else if let Some(suffix) = host.strip_prefix("*.") {
                if suffix.is_empty() || suffix.contains('*') {
                    return Err(ConfigError::new(field("host"), "must be exact, '*' or '*.suffix'"));
                }
                HostPattern::Suffix(format!(".{suffix}"))
            } else if host.is_empty() || host.contains('*') || host.contains(':') {
                return Err(ConfigError::new(
                    field("host"),
                    "must be exact, '*' or '*.suffix', without a port",
                ));
            } else {
                HostPattern::Exact(host)
            };
            if let Some(p) = &r.path_prefix {
                if !p.starts_with('/') {
                    return Err(ConfigError::new(field("path_prefix"), "must start with '/'"));
                }
            }
            let provider = match (&r.provider, r.kind) {
                (None, _) => None,
                (Some(p), RouteKind::Llm) => Some(Provider::from_config_name(p).ok_or_else(|| {
                    ConfigError::new(
                        field("provider"),
                        format!(
                            "unknown provider {p:?}; expected one of openai, azure.ai.openai, \
                             anthropic, gcp.gemini, gcp.vertex_ai, aws.bedrock, ollama, groq, \
                             mistral_ai, deepseek, openai_compatible"
                        ),
                    )
                })?),
                (Some(_), _) => {
                    return Err(ConfigError::new(field("provider"), "only applies to kind \"llm\""))
                }
            };
            if r.tool.is_some() && r.kind != RouteKind::Tool {
                return Err(ConfigError::new(field("tool"), "only applies to kind \"tool\""));
            }
            if matches!(&r.tool, Some(t) if t.trim().is_empty()) {
                return Err(ConfigError::new(field("tool"), "must not be empty"));
            }
            routes.push(Route { host, path_prefix: r.path_prefix, kind: r.kind, provider, tool: r.tool });
        }
        Ok(Routes { routes })
    }

    /// The first route matching `host` (without port) and `path`.
    pub fn find(&self, host: &str, path: &str) -> Option<&Route> {
        self.routes.iter().find(|r| {
            r.host.matches(host)
                && r.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
        })
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

/// The host without its port (`[::1]:8080` gives `[::1]`).
pub fn strip_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(i) => &authority[..=i],
            None => authority,
        };
    }
    match authority.rfind(':') {
        Some(i) if authority[i + 1..].bytes().all(|b| b.is_ascii_digit()) => &authority[..i],
        _ => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(json: &str) -> Result<Routes, ConfigError> {
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
        let e = routes(r#"[{"host":"a:80","kind":"llm"}]"#).unwrap_err();
        assert_eq!(e.field, "routes[0].host");
        let e = routes(r#"[{"host":"a","kind":"llm","provider":"openia"}]"#).unwrap_err();
        assert_eq!(e.field, "routes[0].provider");
        let e = routes(r#"[{"host":"a","kind":"mcp","tool":"x"}]"#).unwrap_err();
        assert_eq!(e.field, "routes[0].tool");
    }

    #[test]
    fn strips_ports() {
        assert_eq!(strip_port("a.b:443"), "a.b");
        assert_eq!(strip_port("a.b"), "a.b");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
    }
}
