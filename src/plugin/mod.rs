//! The compiled configuration: what the filter runs, built once from the raw configuration.
//!
//! This module owns [`Config`] and [`Config::compile`], which checks the top-level limits and
//! calls each domain's own compile (`routes::Routes`, `scan::Guard`, `cost::PriceTable`,
//! `session::Limits`), naming the field of any error under the block's key. It also compiles
//! the blocks that have no domain of their own: `collector` and `content` ([`export`]),
//! `identity`, `tools` and `stats`. It does not define keys or defaults: those are `config`'s,
//! which imports nothing of ours, so that every domain can read its raw block without a cycle.

pub mod export;
pub mod identity;
pub mod tools;

#[cfg(test)]
mod assets_tests;

use crate::config::stats::RawStats;
use crate::config::{ConfigError, RawConfig};
use crate::routes::Routes;
use crate::scan::{Block, Guard};
use crate::session::Limits;
use crate::cost::PriceTable;

/// The compiled configuration: everything the hot path reads, built once.
#[derive(Debug)]
pub struct Config {
    /// `service.name` on the resource.
    pub service_name: String,
    /// `service.version` on the resource.
    pub service_version: String,
    /// The configured `service_instance_id`, if any.
    pub(crate) service_instance_id: Option<String>,
    /// Where and how spans and log records are exported.
    pub collector: export::Collector,
    pub(crate) max_body_bytes: usize,
    pub(crate) routes: Routes,
    pub(crate) inject_traceparent: bool,
    pub(crate) correlation_header: String,
    pub(crate) narrow_accept_encoding: bool,
    pub(crate) max_frame_bytes: usize,
    /// The compiled guard: detectors, placeholders and the block reply.
    pub guard: Guard,
    pub(crate) content: export::Content,
    pub(crate) tools: tools::Tools,
    pub(crate) identity: identity::Identity,
    pub(crate) sessions: Limits,
    pub(crate) pricing: PriceTable,
    pub(crate) stats: StatsConfig,
    pub(crate) spec_gap: bool,
    pub(crate) tiers: crate::tier::Tiers,
    /// `compat.gen_ai_system`.
    pub(crate) gen_ai_system: bool,
}

impl Config {
    /// Parses and compiles a configuration. Empty input means every default.
    pub fn from_json(bytes: &[u8]) -> Result<Config, ConfigError> {
        Config::compile(RawConfig::parse(bytes)?)
    }

    /// Checks every value and builds what the hot path needs. Errors name the field.
    pub fn compile(raw: RawConfig) -> Result<Config, ConfigError> {
        if raw.service_name.trim().is_empty() {
            return Err(ConfigError::new("service_name", "must not be empty"));
        }
        let max_body_bytes = usize::try_from(raw.max_body_bytes)
            .ok()
            .filter(|n| (1024..=(64 << 20)).contains(n))
            .ok_or_else(|| ConfigError::new("max_body_bytes", "must be between 1024 and 67108864"))?;
        let max_frame_bytes = usize::try_from(raw.llm.max_frame_bytes)
            .ok()
            .filter(|n| (1024..=(16 << 20)).contains(n))
            .ok_or_else(|| ConfigError::new("llm.max_frame_bytes", "must be between 1024 and 16777216"))?;
        if raw.trace_context.correlation_header.trim().is_empty() {
            return Err(ConfigError::new("trace_context.correlation_header", "must not be empty"));
        }
        let routes = Routes::compile(raw.routes)
            .map_err(|e| ConfigError::within("routes", &e.field(), e.to_string()))?;
        let guard = Guard::compile(raw.pii, raw.secrets).map_err(|e| {
            let block = match e.block() {
                Block::Pii => "pii",
                Block::Secrets => "secrets",
            };
            ConfigError::within(block, e.field(), e.to_string())
        })?;
        let sessions = Limits::compile(raw.sessions)
            .map_err(|e| ConfigError::within("sessions", e.field(), e.to_string()))?;
        let pricing = PriceTable::compile(raw.pricing)
            .map_err(|e| ConfigError::within("pricing", e.field(), e.to_string()))?;
        Ok(Config {
            service_version: raw.service_version.unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned()),
            service_name: raw.service_name,
            service_instance_id: raw.service_instance_id,
            collector: export::Collector::compile(raw.collector, "collector")?,
            max_body_bytes,
            routes,
            inject_traceparent: raw.trace_context.inject_traceparent,
            correlation_header: raw.trace_context.correlation_header.to_ascii_lowercase(),
            narrow_accept_encoding: raw.llm.narrow_accept_encoding,
            max_frame_bytes,
            guard,
            content: export::Content::compile(raw.content)?,
            tools: tools::Tools::compile(raw.tools)?,
            identity: identity::Identity::compile(raw.identity)?,
            sessions,
            pricing,
            stats: StatsConfig::compile(raw.stats)?,
            spec_gap: raw.spec_gap.enabled,
            tiers: crate::tier::Tiers::compile(raw.model_tiers)?,
            gen_ai_system: raw.compat.gen_ai_system,
        })
    }
}

/// The compiled `stats` block.
#[derive(Debug)]
pub struct StatsConfig {
    pub max_label_values: usize,
    pub active_version_window_ms: u64,
}

impl StatsConfig {
    pub fn compile(raw: RawStats) -> Result<StatsConfig, ConfigError> {
        let max_label_values = usize::try_from(raw.max_label_values)
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| ConfigError::new("stats.max_label_values", "must be between 1 and 10000"))?;
        const DAY_MS: u64 = 24 * 3600 * 1000;
        if !(1000..=DAY_MS).contains(&raw.active_version_window_ms) {
            return Err(ConfigError::new("stats.active_version_window_ms", "must be between 1000 and 86400000"));
        }
        Ok(StatsConfig { max_label_values, active_version_window_ms: raw.active_version_window_ms })
    }
}

#[cfg(test)]
mod no_echo_tests;

#[cfg(test)]
mod top_tests {
    use super::Config;

    #[test]
    fn empty_config_is_all_defaults() {
        let c = Config::from_json(b"").unwrap();
        assert_eq!(c.service_name, "genai-tap");
        assert_eq!(c.max_body_bytes, 4 * 1024 * 1024);
        assert!(c.inject_traceparent);
        let c = Config::from_json(b" \n\t").unwrap();
        assert_eq!(c.max_frame_bytes, 256 * 1024);
    }

    #[test]
    fn unknown_key_names_the_field() {
        let e = Config::from_json(br#"{"trace_context":{"inject":true}}"#).unwrap_err();
        assert_eq!(e.field(), "trace_context.inject");
        assert!(e.message().contains("unknown field `inject`"), "{}", e.message());
    }

    #[test]
    fn bad_limit_is_refused() {
        let e = Config::from_json(br#"{"max_body_bytes": 3}"#).unwrap_err();
        assert_eq!(e.field(), "max_body_bytes");
        assert_eq!(e.to_string(), "invalid genai-tap configuration: max_body_bytes: must be between 1024 and 67108864");
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let e = Config::from_json(b"{} {}").unwrap_err();
        assert_eq!(e.field(), "");
        assert_eq!(e.message(), "trailing characters");
    }
}

#[cfg(test)]
mod tests {
    use super::Config;

    fn err(json: &str) -> (String, String) {
        let e = Config::from_json(json.as_bytes()).unwrap_err();
        (e.field().to_owned(), e.message().to_owned())
    }

    #[test]
    fn defaults() {
        let c = Config::from_json(b"{}").unwrap();
        let id = &c.identity;
        assert_eq!(id.user_header, "x-agent-user-id");
        assert_eq!(id.session_header, "x-agent-session-id");
        assert_eq!(id.task_header, "x-agent-task-id");
        assert_eq!(id.spec_version_header, "x-agent-spec-version");
        assert_eq!(id.agent_version_header, "x-agent-version");
        assert_eq!(id.task_budget_header, "x-agent-task-budget-ms");
        assert!(!id.hashes_user_id());
        assert_eq!(id.user_hash("alice"), None);
        let s = &c.sessions;
        assert!(s.enabled);
        assert_eq!(s.idle_ttl_ms, 1_800_000);
        assert_eq!(s.max_sessions, 10_000);
        assert_eq!(s.max_tasks, 10_000);
        assert_eq!(s.max_tasks_per_session, 32);
        assert!(c.pricing.len() > 50, "{}", c.pricing.len());
        assert_eq!(c.stats.max_label_values, 50);
    }

    #[test]
    fn hashing_needs_a_salt() {
        let (field, msg) = err(r#"{"identity":{"hash_user_id":true}}"#);
        assert_eq!(field, "identity.user_id_salt");
        assert!(msg.contains("hash_user_id"), "{msg}");
        let (field, _) = err(r#"{"identity":{"hash_user_id":true,"user_id_salt":"   "}}"#);
        assert_eq!(field, "identity.user_id_salt");
    }

    #[test]
    fn salt_error_never_echoes_the_salt() {
        // A bad header next to a real salt: the error names the header, never the salt.
        let (field, msg) = err(
            r#"{"identity":{"hash_user_id":true,"user_id_salt":"s3cr3t-salt","user_header":"a b"}}"#,
        );
        assert_eq!(field, "identity.user_header");
        assert!(!msg.contains("s3cr3t"), "{msg}");
    }

    #[test]
    fn user_hash_is_salted_sha256() {
        let c = Config::from_json(
            br#"{"identity":{"hash_user_id":true,"user_id_salt":"pepper","user_header":"X-User"}}"#,
        )
        .unwrap();
        let id = &c.identity;
        assert_eq!(id.user_header, "x-user");
        // printf 'pepper\0alice' | sha256sum
        assert_eq!(
            id.user_hash("alice").as_deref(),
            Some("4f69ec537ef117ae0c79dc6e4b5701e00297eaa1b76bc476880789eba5ccffda")
        );
        assert_ne!(id.user_hash("alice"), id.user_hash("alicf"));
        assert_eq!(id.user_hash(""), None);
        let other =
            Config::from_json(br#"{"identity":{"hash_user_id":true,"user_id_salt":"salt2"}}"#)
                .unwrap();
        assert_ne!(other.identity.user_hash("alice"), id.user_hash("alice"));
    }

    #[test]
    fn bad_values_name_the_field() {
        let cases = [
            (
                r#"{"identity":{"session_header":""}}"#,
                "identity.session_header",
            ),
            (
                r#"{"identity":{"task_header":"x:y"}}"#,
                "identity.task_header",
            ),
            (r#"{"identity":{"salt":"x"}}"#, "identity.salt"),
            (r#"{"sessions":{"idle_ttl_ms":5}}"#, "sessions.idle_ttl_ms"),
            (
                r#"{"sessions":{"max_sessions":0}}"#,
                "sessions.max_sessions",
            ),
            (
                r#"{"sessions":{"max_tasks":2000000}}"#,
                "sessions.max_tasks",
            ),
            (
                r#"{"sessions":{"max_tasks_per_session":4096}}"#,
                "sessions.max_tasks_per_session",
            ),
            (
                r#"{"pricing":{"models":[{"match":"","input":1,"output":1}]}}"#,
                "pricing.models[0].match",
            ),
            (
                r#"{"pricing":{"models":[{"match":"a*b","input":1,"output":1}]}}"#,
                "pricing.models[0].match",
            ),
            (
                r#"{"pricing":{"models":[{"match":"m","input":-1,"output":1}]}}"#,
                "pricing.models[0].input",
            ),
            (
                r#"{"pricing":{"models":[{"match":"m","input":1,"output":1e9}]}}"#,
                "pricing.models[0].output",
            ),
            (
                r#"{"pricing":{"models":[{"match":"m","input":1,"cached_input":0.1234567,"output":1}]}}"#,
                "pricing.models[0].cached_input",
            ),
            (
                r#"{"pricing":{"models":[{"match":"m","provider":"nope","input":1,"output":1}]}}"#,
                "pricing.models[0].provider",
            ),
            (
                r#"{"pricing":{"models":[{"match":"m","input":1,"outptu":1}]}}"#,
                "pricing.models[0].outptu",
            ),
            (
                r#"{"stats":{"max_label_values":0}}"#,
                "stats.max_label_values",
            ),
        ];
        for (json, field) in cases {
            assert_eq!(err(json).0, field, "{json}");
        }
    }

    #[test]
    fn task_budget_header_values() {
        use super::identity::Identity;
        let cases = [
            ("60000", Some(60_000)),
            (" 1500 ", Some(1500)),
            ("0", None),
            ("", None),
            ("-5", None),
            ("1.5", None),
            ("10s", None),
            ("+10", None),
            ("9999999999999999999999", None),
        ];
        for (v, want) in cases {
            assert_eq!(Identity::parse_task_budget_ms(v), want, "{v:?}");
        }
    }
}
