//! `identity`, `sessions`, `pricing` and `stats`: what operators read and roll up.
//!
//! This module owns the raw and compiled forms of those four blocks and their validation. It
//! does not price a call (see `cost`), keep session totals (see `session`) or name stats (see
//! `stats`); it only checks what the operator wrote and builds what those modules read.

use super::ConfigError;
use crate::cost::PriceTable;
use serde::Deserialize;
use sha2::{Digest, Sha256};

#[cfg(test)]
mod assets_tests;

/// `identity`: the request headers that say who is calling, in which session and task.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdentity {
    #[serde(default = "default_user_header")]
    pub user_header: String,
    #[serde(default = "default_session_header")]
    pub session_header: String,
    #[serde(default = "default_task_header")]
    pub task_header: String,
    #[serde(default = "default_spec_version_header")]
    pub spec_version_header: String,
    #[serde(default = "default_agent_version_header")]
    pub agent_version_header: String,
    #[serde(default = "default_task_budget_header")]
    pub task_budget_header: String,
    /// Record a salted hash of the user id. Off by default because it needs a salt; with it
    /// off, the user id is not recorded at all (a raw user id is never exported).
    #[serde(default)]
    pub hash_user_id: bool,
    /// The salt for `hash_user_id`. Keep it secret and stable: changing it changes every hash.
    #[serde(default)]
    pub user_id_salt: String,
}

impl Default for RawIdentity {
    fn default() -> Self {
        RawIdentity {
            user_header: default_user_header(),
            session_header: default_session_header(),
            task_header: default_task_header(),
            spec_version_header: default_spec_version_header(),
            agent_version_header: default_agent_version_header(),
            task_budget_header: default_task_budget_header(),
            hash_user_id: false,
            user_id_salt: String::new(),
        }
    }
}

fn default_user_header() -> String {
    "x-agent-user-id".to_owned()
}
fn default_session_header() -> String {
    "x-agent-session-id".to_owned()
}
fn default_task_header() -> String {
    "x-agent-task-id".to_owned()
}
fn default_spec_version_header() -> String {
    "x-agent-spec-version".to_owned()
}
fn default_agent_version_header() -> String {
    "x-agent-version".to_owned()
}
fn default_task_budget_header() -> String {
    "x-agent-task-budget-ms".to_owned()
}

/// The compiled `identity` block. Header names are lowercase, as Envoy presents them.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user_header: String,
    pub session_header: String,
    pub task_header: String,
    pub spec_version_header: String,
    pub agent_version_header: String,
    pub task_budget_header: String,
    /// `Some(salt)` when user ids are hashed; `None` when they are not recorded.
    user_id_salt: Option<String>,
}

impl Default for Identity {
    fn default() -> Self {
        // The defaults are valid by construction, so this never takes the fallback arm.
        Identity::compile(RawIdentity::default()).unwrap_or_else(|_| Identity {
            user_header: default_user_header(),
            session_header: default_session_header(),
            task_header: default_task_header(),
            spec_version_header: default_spec_version_header(),
            agent_version_header: default_agent_version_header(),
            task_budget_header: default_task_budget_header(),
            user_id_salt: None,
        })
    }
}

/// The most bytes a task budget header may hold; a longer value is not a number we accept.
const MAX_BUDGET_DIGITS: usize = 15;

impl Identity {
    pub fn compile(raw: RawIdentity) -> Result<Identity, ConfigError> {
        let header = |name: &str, value: String| -> Result<String, ConfigError> {
            let field = format!("identity.{name}");
            if value.is_empty() {
                return Err(ConfigError::new(field, "must name a request header"));
            }
            if !value.bytes().all(is_header_name_byte) {
                return Err(ConfigError::new(
                    field,
                    "must be a header name (letters, digits and !#$%&'*+-.^_`|~)",
                ));
            }
            Ok(value.to_ascii_lowercase())
        };
        let user_id_salt = if raw.hash_user_id {
            if raw.user_id_salt.trim().is_empty() {
                return Err(ConfigError::new(
                    "identity.user_id_salt",
                    "must not be empty when identity.hash_user_id is true",
                ));
            }
            Some(raw.user_id_salt)
        } else {
            None
        };
        Ok(Identity {
            user_header: header("user_header", raw.user_header)?,
            session_header: header("session_header", raw.session_header)?,
            task_header: header("task_header", raw.task_header)?,
            spec_version_header: header("spec_version_header", raw.spec_version_header)?,
            agent_version_header: header("agent_version_header", raw.agent_version_header)?,
            task_budget_header: header("task_budget_header", raw.task_budget_header)?,
            user_id_salt,
        })
    }

    /// Whether user ids are hashed (and so recorded at all).
    pub fn hashes_user_id(&self) -> bool {
        self.user_id_salt.is_some()
    }

    /// The value of `genai_tap.user.id_hash` for a user id: lowercase hex SHA-256 of the salt,
    /// a zero byte and the id. `None` when hashing is off: the user id is then not recorded.
    /// An empty id gives `None` too, so that "no header" and "empty header" look the same.
    pub fn user_hash(&self, user_id: &str) -> Option<String> {
        let salt = self.user_id_salt.as_deref()?;
        if user_id.is_empty() {
            return None;
        }
        let mut h = Sha256::new();
        h.update(salt.as_bytes());
        h.update([0u8]);
        h.update(user_id.as_bytes());
        Some(hex(&h.finalize()))
    }

    /// Parses the task budget header: a positive integer number of milliseconds. Anything
    /// else (empty, signs, decimals, units, absurd lengths) is ignored rather than guessed.
    pub fn parse_task_budget_ms(value: &str) -> Option<u64> {
        let v = value.trim();
        if v.is_empty() || v.len() > MAX_BUDGET_DIGITS || !v.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        v.parse::<u64>().ok().filter(|&n| n > 0)
    }
}

fn is_header_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// `sessions`: per-session and per-task roll-ups kept in proxy-wasm shared data.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSessions {
    /// Keep session totals and task start times. With it off, nothing is written to shared
    /// data and the task budget check is off too.
    #[serde(default = "super::yes")]
    pub enabled: bool,
    /// A session or task not seen for this long is over; its slot starts afresh.
    #[serde(default = "default_idle_ttl_ms")]
    pub idle_ttl_ms: u64,
    /// Session slots. The number of sessions kept is bounded by this, by construction.
    #[serde(default = "default_max_sessions")]
    pub max_sessions: u64,
    /// Task slots, for task start times (the budget check).
    #[serde(default = "default_max_tasks")]
    pub max_tasks: u64,
    /// Distinct task ids remembered per session, to count tasks. Past it the oldest is
    /// forgotten (a forgotten task seen again is counted again).
    #[serde(default = "default_max_tasks_per_session")]
    pub max_tasks_per_session: u64,
}

impl Default for RawSessions {
    fn default() -> Self {
        RawSessions {
            enabled: true,
            idle_ttl_ms: default_idle_ttl_ms(),
            max_sessions: default_max_sessions(),
            max_tasks: default_max_tasks(),
            max_tasks_per_session: default_max_tasks_per_session(),
        }
    }
}

fn default_idle_ttl_ms() -> u64 {
    30 * 60 * 1000
}
fn default_max_sessions() -> u64 {
    10_000
}
fn default_max_tasks() -> u64 {
    10_000
}
fn default_max_tasks_per_session() -> u64 {
    32
}

/// The compiled `sessions` block.
#[derive(Debug, Clone)]
pub struct Sessions {
    pub enabled: bool,
    pub idle_ttl_ms: u64,
    pub max_sessions: u32,
    pub max_tasks: u32,
    pub max_tasks_per_session: u16,
}

impl Default for Sessions {
    fn default() -> Self {
        let raw = RawSessions::default();
        Sessions {
            enabled: raw.enabled,
            idle_ttl_ms: raw.idle_ttl_ms,
            max_sessions: 10_000,
            max_tasks: 10_000,
            max_tasks_per_session: 32,
        }
    }
}

impl Sessions {
    pub fn compile(raw: RawSessions) -> Result<Sessions, ConfigError> {
        const WEEK_MS: u64 = 7 * 24 * 3600 * 1000;
        if !(1000..=WEEK_MS).contains(&raw.idle_ttl_ms) {
            return Err(ConfigError::new(
                "sessions.idle_ttl_ms",
                format!("must be between 1000 and {WEEK_MS}"),
            ));
        }
        let bounded = |field: &str, v: u64, max: u64| -> Result<u64, ConfigError> {
            if (1..=max).contains(&v) {
                Ok(v)
            } else {
                Err(ConfigError::new(
                    format!("sessions.{field}"),
                    format!("must be between 1 and {max}"),
                ))
            }
        };
        let max_sessions = bounded("max_sessions", raw.max_sessions, 1_000_000)?;
        let max_tasks = bounded("max_tasks", raw.max_tasks, 1_000_000)?;
        let per_session = bounded("max_tasks_per_session", raw.max_tasks_per_session, 1024)?;
        Ok(Sessions {
            enabled: raw.enabled,
            idle_ttl_ms: raw.idle_ttl_ms,
            max_sessions: u32::try_from(max_sessions).unwrap_or(u32::MAX),
            max_tasks: u32::try_from(max_tasks).unwrap_or(u32::MAX),
            max_tasks_per_session: u16::try_from(per_session).unwrap_or(u16::MAX),
        })
    }

    /// The most shared-data bytes the roll-ups can hold (values only; Envoy adds the keys).
    pub fn max_shared_bytes(&self) -> u64 {
        crate::session::max_shared_bytes(self)
    }
}

/// `pricing`: USD list prices per million tokens.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPricing {
    /// Start from the table compiled into the module (`envoy/pricing.json`).
    #[serde(default = "super::yes")]
    pub use_default_table: bool,
    /// The operator's prices. An entry with the same `match` (and `provider`) as a built-in
    /// one replaces it; otherwise the most specific match wins (see `cost`).
    #[serde(default)]
    pub models: Vec<RawModelPrice>,
}

impl Default for RawPricing {
    fn default() -> Self {
        RawPricing {
            use_default_table: true,
            models: Vec::new(),
        }
    }
}

/// One price entry, in `pricing.models` and in `envoy/pricing.json` alike.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModelPrice {
    /// A model id (`gpt-4o`, exact) or a prefix ending in `*` (`gpt-4o-2024*`).
    #[serde(rename = "match")]
    pub pattern: String,
    /// Only for calls to this provider (a `gen_ai.provider.name` or its alias); any if absent.
    #[serde(default)]
    pub provider: Option<String>,
    /// USD per million uncached input tokens.
    pub input: f64,
    /// USD per million input tokens read from the provider's cache; `input` if absent.
    #[serde(default)]
    pub cached_input: Option<f64>,
    /// USD per million input tokens written to the provider's cache; `input` if absent.
    #[serde(default)]
    pub cache_write: Option<f64>,
    /// USD per million output tokens (reasoning tokens included, as providers bill them).
    #[serde(default)]
    pub output: f64,
}

/// The compiled `pricing` block: the table `cost::cost` reads.
#[derive(Debug, Default)]
pub struct Pricing {
    pub table: PriceTable,
}

impl Pricing {
    pub fn compile(raw: RawPricing) -> Result<Pricing, ConfigError> {
        let mut table = PriceTable::default();
        if raw.use_default_table {
            table = PriceTable::builtin().map_err(|e| {
                ConfigError::new(
                    "pricing.use_default_table",
                    format!("built-in table: {}", e.message),
                )
            })?;
        }
        for (i, entry) in raw.models.into_iter().enumerate() {
            table.insert(entry, &format!("pricing.models[{i}]"))?;
        }
        Ok(Pricing { table })
    }
}

/// `stats`: label bounds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStats {
    /// The most distinct values one label (such as `model`) may take; more become `other`.
    #[serde(default = "default_max_label_values")]
    pub max_label_values: u64,
}
impl Default for RawStats {
    fn default() -> Self {
        RawStats {
            max_label_values: default_max_label_values(),
        }
    }
}
fn default_max_label_values() -> u64 {
    50
}

#[derive(Debug)]
pub struct StatsConfig {
    pub max_label_values: usize,
}

impl StatsConfig {
    pub fn compile(raw: RawStats) -> Result<StatsConfig, ConfigError> {
        if !(1..=10_000).contains(&raw.max_label_values) {
            return Err(ConfigError::new(
                "stats.max_label_values",
                "must be between 1 and 10000",
            ));
        }
        Ok(StatsConfig {
            max_label_values: raw.max_label_values as usize,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn err(json: &str) -> (String, String) {
        let e = Config::from_json(json.as_bytes()).unwrap_err();
        (e.field, e.message)
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
        assert!(c.pricing.table.len() > 50, "{}", c.pricing.table.len());
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
        use super::Identity;
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
