//! Configuration: the plugin's JSON, parsed strictly, then compiled into what the filter runs.
//!
//! This module owns the public configuration contract (every key is documented in the
//! README and never renamed) and its validation. Parsing is two steps: serde reads the raw
//! types (`deny_unknown_fields` everywhere, no untagged enums), then `compile` checks values
//! and builds what the hot path needs (routes, scanners, price tables) once per configuration.
//! Errors name the field and say what was expected; they never echo a secret.
//!
//! Submodules hold the raw and compiled types of one concern each.

use serde::Deserialize;

pub mod export;
pub mod guard;
pub mod operator;
pub mod routes;
pub mod tools;

/// A configuration error: the dotted path of the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError { field: field.into(), message: message.into() }
    }
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.field.is_empty() {
            write!(f, "invalid genai-tap configuration: {}", self.message)
        } else {
            write!(f, "invalid genai-tap configuration: {}: {}", self.field, self.message)
        }
    }
}

/// The configuration as written. See the README for every key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default = "default_service_name")]
    pub service_name: String,
    #[serde(default)]
    pub service_version: Option<String>,
    #[serde(default)]
    pub collector: export::RawCollector,
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: u64,
    #[serde(default)]
    pub routes: Vec<routes::RawRoute>,
    #[serde(default)]
    pub trace_context: RawTraceContext,
    #[serde(default)]
    pub llm: RawLlm,
    #[serde(default)]
    pub pii: guard::RawPii,
    #[serde(default)]
    pub secrets: guard::RawSecrets,
    #[serde(default)]
    pub content: export::RawContent,
    #[serde(default)]
    pub tools: tools::RawTools,
    #[serde(default)]
    pub identity: operator::RawIdentity,
    #[serde(default)]
    pub sessions: operator::RawSessions,
    #[serde(default)]
    pub pricing: operator::RawPricing,
    #[serde(default)]
    pub stats: operator::RawStats,
    #[serde(default)]
    pub spec_gap: RawSpecGap,
}

/// `spec_gap`: candidate spec-gap entries as OTLP log records on the collector.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpecGap {
    /// Surfaced, blocked and errored calls, and tasks over budget, leave a
    /// `genai_tap.spec_gap.candidate` log record at `collector.logs_path`.
    #[serde(default = "yes")]
    pub enabled: bool,
}
impl Default for RawSpecGap {
    fn default() -> Self {
        RawSpecGap { enabled: true }
    }
}

fn default_service_name() -> String {
    "genai-tap".to_owned()
}
fn default_max_body_bytes() -> u64 {
    4 * 1024 * 1024
}

/// `trace_context`: joining the agent's trace.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTraceContext {
    /// Set `traceparent` (and `tracestate`) on the upstream request so tool servers join.
    #[serde(default = "yes")]
    pub inject_traceparent: bool,
    /// The request header whose value becomes `genai_tap.correlation_id`.
    #[serde(default = "default_correlation_header")]
    pub correlation_header: String,
}
impl Default for RawTraceContext {
    fn default() -> Self {
        RawTraceContext {
            inject_traceparent: true,
            correlation_header: default_correlation_header(),
        }
    }
}
fn default_correlation_header() -> String {
    "x-request-id".to_owned()
}
pub(crate) fn yes() -> bool {
    true
}

/// `llm`: behaviour on LLM routes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLlm {
    /// Ask LLM upstreams for `accept-encoding: identity`, so bodies can be read.
    #[serde(default = "yes")]
    pub narrow_accept_encoding: bool,
    /// Most bytes one stream frame (an SSE event, an NDJSON line) may hold.
    #[serde(default = "default_max_frame_bytes")]
    pub max_frame_bytes: u64,
}
impl Default for RawLlm {
    fn default() -> Self {
        RawLlm { narrow_accept_encoding: true, max_frame_bytes: default_max_frame_bytes() }
    }
}
fn default_max_frame_bytes() -> u64 {
    256 * 1024
}

/// The compiled configuration: everything the hot path reads, built once.
#[derive(Debug)]
pub struct Config {
    pub service_name: String,
    pub service_version: String,
    pub collector: export::Collector,
    pub max_body_bytes: usize,
    pub routes: routes::Routes,
    pub inject_traceparent: bool,
    pub correlation_header: String,
    pub narrow_accept_encoding: bool,
    pub max_frame_bytes: usize,
    pub guard: guard::Guard,
    pub content: export::Content,
    pub tools: tools::Tools,
    pub identity: operator::Identity,
    pub sessions: operator::Sessions,
    pub pricing: operator::Pricing,
    pub stats: operator::StatsConfig,
    pub spec_gap: bool,
}

impl Config {
    /// Parses and compiles a configuration. Empty input means every default.
    pub fn from_json(bytes: &[u8]) -> Result<Config, ConfigError> {
        let raw: RawConfig = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            parse_raw(b"{}")?
        } else {
            parse_raw(bytes)?
        };
        Config::compile(raw)
    }

    pub fn compile(raw: RawConfig) -> Result<Config, ConfigError> {
        if raw.service_name.trim().is_empty() {
            return Err(ConfigError::new("service_name", "must not be empty"));
        }
        let max_body_bytes = usize::try_from(raw.max_body_bytes)
            .ok()
            .filter(|n| (1024..=(64 << 20)).contains(n))
            .ok_or_else(|| {
                ConfigError::new("max_body_bytes", "must be between 1024 and 67108864")
            })?;
        let max_frame_bytes = usize::try_from(raw.llm.max_frame_bytes)
            .ok()
            .filter(|n| (1024..=(16 << 20)).contains(n))
            .ok_or_else(|| {
                ConfigError::new("llm.max_frame_bytes", "must be between 1024 and 16777216")
            })?;
        if raw.trace_context.correlation_header.trim().is_empty() {
            return Err(ConfigError::new("trace_context.correlation_header", "must not be empty"));
        }
        Ok(Config {
            service_version: raw
                .service_version
                .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned()),
            service_name: raw.service_name,
            collector: export::Collector::compile(raw.collector, "collector")?,
            max_body_bytes,
            routes: routes::Routes::compile(raw.routes)?,
            inject_traceparent: raw.trace_context.inject_traceparent,
            correlation_header: raw.trace_context.correlation_header.to_ascii_lowercase(),
            narrow_accept_encoding: raw.llm.narrow_accept_encoding,
            max_frame_bytes,
            guard: guard::Guard::compile(raw.pii, raw.secrets)?,
            content: export::Content::compile(raw.content)?,
            tools: tools::Tools::compile(raw.tools)?,
            identity: operator::Identity::compile(raw.identity)?,
            sessions: operator::Sessions::compile(raw.sessions)?,
            pricing: operator::Pricing::compile(raw.pricing)?,
            stats: operator::StatsConfig::compile(raw.stats)?,
            spec_gap: raw.spec_gap.enabled,
        })
    }
}

/// Parses the raw configuration, naming the failing field.
pub fn parse_raw(bytes: &[u8]) -> Result<RawConfig, ConfigError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." { String::new() } else { field };
        ConfigError::new(field, strip_position(&e.into_inner().to_string()))
    })
}

/// serde_json appends " at line 1 column 17"; the field path says more, so drop it.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_is_all_defaults() {
        let c = Config::from_json(b"").unwrap();
        assert_eq!(c.service_name, "genai-tap");
        assert_eq!(c.max_body_bytes, 4 * 1024 * 1024);
        assert!(c.inject_traceparent);
    }

    #[test]
    fn unknown_key_names_the_field() {
        let e = Config::from_json(br#"{"trace_context":{"inject":true}}"#).unwrap_err();
        assert_eq!(e.field, "trace_context.inject");
        assert!(e.message.contains("unknown field `inject`"), "{}", e.message);
    }

    #[test]
    fn bad_limit_is_refused() {
        let e = Config::from_json(br#"{"max_body_bytes": 3}"#).unwrap_err();
        assert_eq!(e.field, "max_body_bytes");
    }
}
