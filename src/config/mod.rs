//! Configuration as written: the plugin's JSON, parsed strictly into raw types.
//!
//! This module owns the public configuration contract (every key and default is documented
//! in docs/configuration.md and never renamed) and [`ConfigError`], whose messages never echo a value.
//! It is a leaf: it imports nothing else of this crate. It does not check values or build
//! what the hot path runs; each domain compiles its own block (`scan::Guard::compile`,
//! `cost::PriceTable::compile`, `session::Limits::compile`, `routes::Routes::compile`) and
//! `plugin::Config::compile` calls them all, naming the field of any error.
//!
//! Parsing uses `deny_unknown_fields` everywhere and no untagged enums, whose errors say
//! nothing. Submodules hold the raw types of one block each.

use serde::Deserialize;

mod error;
pub mod export;
pub mod guard;
pub mod identity;
pub mod pricing;
pub mod routes;
pub mod sessions;
pub mod stats;
pub mod tools;

pub use error::ConfigError;

/// The configuration as written. See docs/configuration.md for every key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default = "default_service_name")]
    pub service_name: String,
    #[serde(default)]
    pub service_version: Option<String>,
    /// `service.instance.id` on the resource; unset: Envoy's node id, else an id generated
    /// once per proxy.
    #[serde(default)]
    pub service_instance_id: Option<String>,
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
    pub identity: identity::RawIdentity,
    #[serde(default)]
    pub sessions: sessions::RawSessions,
    #[serde(default)]
    pub pricing: pricing::RawPricing,
    #[serde(default)]
    pub stats: stats::RawStats,
    #[serde(default)]
    pub spec_gap: RawSpecGap,
    /// A model name, or a prefix ending in `*`, to its tier (`frontier`, `mid`, `small`...).
    /// Models not named here take their tier from their list input price.
    #[serde(default)]
    pub model_tiers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub compat: RawCompat,
}

/// `compat`: attribute names that older backends read, beside the current ones.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCompat {
    /// Also emit `gen_ai.system` (replaced by `gen_ai.provider.name` in semconv v1.37) on LLM
    /// spans, with the same value. Off by default.
    #[serde(default)]
    pub gen_ai_system: bool,
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
fn yes() -> bool {
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

impl RawConfig {
    /// Parses the configuration as written, naming the failing field. Empty input (or only
    /// whitespace) means every default.
    pub fn parse(bytes: &[u8]) -> Result<RawConfig, ConfigError> {
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return parse_json(b"{}");
        }
        parse_json(bytes)
    }
}

/// Parses any raw type from JSON; errors name the field and never hold a value.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ConfigError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." { String::new() } else { field };
        ConfigError::from_serde(field, e.inner())
    })?;
    // Trailing bytes after the document are refused, as serde_json::from_slice does.
    de.end().map_err(|e| ConfigError::from_serde("", &e))?;
    Ok(value)
}
