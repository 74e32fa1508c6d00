//! `pii` and `secrets` as written: modes, placeholders, allowlists and custom rules.
//!
//! This module owns the keys of those two blocks and their defaults. It does not decide what
//! the modes mean or compile a pattern: `scan::Guard::compile` does, and owns the modes the
//! filter runs with (`scan::PiiMode` and friends). The enums here are only the spellings.
//!
//! Modes are set for both directions with `mode`, or per direction with `request` and
//! `response`, and per route kind with `routes.{llm,mcp,tool}.{request,response}`; the most
//! specific setting wins.

use serde::Deserialize;

/// `pii.mode` and friends: `off`, `observe` or `redact`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawPiiMode {
    Off,
    Observe,
    Redact,
}

/// `secrets.mode` and friends: `off`, `observe` or `block`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawSecretMode {
    Off,
    Observe,
    Block,
}

/// `pii.placeholder`: `label` (the default) or `pseudonym`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawPlaceholder {
    #[default]
    Label,
    Pseudonym,
}

/// `{pii,secrets}.routes`: the modes per route kind. A struct rather than a map keyed by the
/// kind, so that an error names the kind (`secrets.routes.llm.request`) instead of `?`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouteModes<M> {
    pub llm: Option<RawDirections<M>>,
    pub mcp: Option<RawDirections<M>>,
    pub tool: Option<RawDirections<M>>,
}

impl<M> Default for RawRouteModes<M> {
    fn default() -> Self {
        RawRouteModes { llm: None, mcp: None, tool: None }
    }
}

/// `{pii,secrets}.routes.<kind>`: the modes of one route kind.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDirections<M> {
    pub request: Option<M>,
    pub response: Option<M>,
}

/// `pii`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPii {
    pub mode: Option<RawPiiMode>,
    pub request: Option<RawPiiMode>,
    pub response: Option<RawPiiMode>,
    #[serde(default)]
    pub routes: RawRouteModes<RawPiiMode>,
    /// Enabled built-in kinds (default: all).
    pub kinds: Option<Vec<String>>,
    #[serde(default)]
    pub placeholder: RawPlaceholder,
    /// Salt of the pseudonyms; required with `placeholder: "pseudonym"`.
    #[serde(default)]
    pub pseudonym_salt: String,
    #[serde(default)]
    pub custom: Vec<RawCustomPii>,
    /// IP ranges (CIDRs, or `private`) whose addresses are not PII.
    #[serde(default)]
    pub ignore_ip_ranges: Vec<String>,
}

/// `pii.custom[]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCustomPii {
    /// The kind's name: `EMPLOYEE_ID` gives `[REDACTED:EMPLOYEE_ID]` and the stat label
    /// `employee_id`.
    pub name: String,
    /// regex-lite syntax.
    pub pattern: String,
}

/// `secrets`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecrets {
    pub mode: Option<RawSecretMode>,
    pub request: Option<RawSecretMode>,
    pub response: Option<RawSecretMode>,
    #[serde(default)]
    pub routes: RawRouteModes<RawSecretMode>,
    /// The status of the local reply that blocks a request.
    pub block_status: Option<u32>,
    /// Literal values never reported (test keys, documentation examples you do use).
    #[serde(default)]
    pub allowlist: Vec<String>,
    /// Patterns (regex-lite) of values never reported.
    #[serde(default)]
    pub allowlist_patterns: Vec<String>,
    /// Built-in rule ids to turn off.
    #[serde(default)]
    pub disabled_rules: Vec<String>,
    #[serde(default)]
    pub custom: Vec<RawCustomSecret>,
    /// The most request body bytes held back at once while the body streams (default 64 KiB,
    /// at least 16 KiB).
    pub request_hold_bytes: Option<usize>,
    /// A request body that cannot be inspected or redacted in place (`br`, `zstd`, a gzip body
    /// with PII to redact, a decode error): `block` or `pass`. Default: `block` where the
    /// request's secrets mode is `block`, else `pass`.
    pub uninspectable_request: Option<RawUninspectable>,
}

/// `secrets.uninspectable_request`: what happens to a request body the guard cannot inspect
/// or redact in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawUninspectable {
    Block,
    Pass,
}

/// `secrets.custom[]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCustomSecret {
    pub id: String,
    pub pattern: String,
    /// Literals that appear in or just before every match; without them the pattern runs over
    /// the whole body, which is slow on large bodies.
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub min_entropy: f32,
}
