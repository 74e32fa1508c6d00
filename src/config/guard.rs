//! `pii` and `secrets`: the guard's modes, placeholders, allowlists and custom rules.
//!
//! Modes are set for both directions with `mode`, or per direction with `request` and
//! `response`, and per route kind with `routes.{llm,mcp,tool}.{request,response}`; the most
//! specific setting wins. Defaults: PII is observed in requests and not scanned in responses;
//! secrets are blocked in requests and not scanned in responses. Whatever the modes, every
//! string that leaves in telemetry is sanitised (see `scan::sanitize_for_telemetry`).

use super::routes::RouteKind;
use super::ConfigError;
use crate::scan::{CustomPii, CustomSecret, Detectors};
use serde::Deserialize;
use std::collections::BTreeMap;

/// What the guard does with PII.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PiiMode {
    Off,
    Observe,
    Redact,
}

/// What the guard does with secrets. In a response, whose headers are gone, `block` redacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretMode {
    Off,
    Observe,
    Block,
}

/// Which way the bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Request,
    Response,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDirections<M> {
    pub request: Option<M>,
    pub response: Option<M>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPii {
    pub mode: Option<PiiMode>,
    pub request: Option<PiiMode>,
    pub response: Option<PiiMode>,
    #[serde(default)]
    pub routes: BTreeMap<RouteKind, RawDirections<PiiMode>>,
    /// Enabled built-in kinds (default: all).
    pub kinds: Option<Vec<String>>,
    #[serde(default)]
    pub placeholder: Placeholder,
    /// Salt of the pseudonyms; required with `placeholder: "pseudonym"`.
    #[serde(default)]
    pub pseudonym_salt: String,
    #[serde(default)]
    pub custom: Vec<RawCustomPii>,
    /// IP ranges (CIDRs, or `private`) whose addresses are not PII.
    #[serde(default)]
    pub ignore_ip_ranges: Vec<String>,
}

/// How a redacted value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Placeholder {
    /// `[REDACTED:EMAIL]`
    #[default]
    Label,
    /// `<EMAIL:4f2a9c>`: a salted sha256 prefix, the same for the same value.
    Pseudonym,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCustomPii {
    /// The kind's name: `EMPLOYEE_ID` gives `[REDACTED:EMPLOYEE_ID]` and the stat label
    /// `employee_id`.
    pub name: String,
    /// regex-lite syntax.
    pub pattern: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecrets {
    pub mode: Option<SecretMode>,
    pub request: Option<SecretMode>,
    pub response: Option<SecretMode>,
    #[serde(default)]
    pub routes: BTreeMap<RouteKind, RawDirections<SecretMode>>,
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
}

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

/// The modes that apply to one direction of one route kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub pii: PiiMode,
    pub secrets: SecretMode,
}

impl Policy {
    /// Nothing to do on the wire.
    pub fn is_off(self) -> bool {
        self.pii == PiiMode::Off && self.secrets == SecretMode::Off
    }
    /// The body may change or be refused, so it must be held until it is whole.
    pub fn may_rewrite(self) -> bool {
        self.pii == PiiMode::Redact || self.secrets == SecretMode::Block
    }
}

/// The compiled guard settings.
#[derive(Debug)]
pub struct Guard {
    /// [route kind][direction]
    policies: [[Policy; 2]; 3],
    pub detectors: Detectors,
    pub placeholder: Placeholder,
    pub pseudonym_salt: String,
    pub block_status: u32,
}

impl Default for Guard {
    fn default() -> Self {
        // the default configuration always compiles
        match Guard::compile(RawPii::default(), RawSecrets::default()) {
            Ok(g) => g,
            Err(_) => Guard {
                policies: [[Policy { pii: PiiMode::Off, secrets: SecretMode::Off }; 2]; 3],
                detectors: Detectors::empty(),
                placeholder: Placeholder::Label,
                pseudonym_salt: String::new(),
                block_status: 403,
            },
        }
    }
}

fn kind_index(k: RouteKind) -> usize {
    match k {
        RouteKind::Llm => 0,
        RouteKind::Mcp => 1,
        RouteKind::Tool => 2,
    }
}

impl Guard {
    pub fn compile(pii: RawPii, secrets: RawSecrets) -> Result<Guard, ConfigError> {
        let mut policies = [[Policy { pii: PiiMode::Off, secrets: SecretMode::Off }; 2]; 3];
        for kind in [RouteKind::Llm, RouteKind::Mcp, RouteKind::Tool] {
            for (d, dir) in [Direction::Request, Direction::Response].into_iter().enumerate() {
                let pick = |route: Option<&RawDirections<PiiMode>>, side: Option<PiiMode>, default: PiiMode| {
                    let from_route = route.and_then(|r| if dir == Direction::Request { r.request } else { r.response });
                    from_route.or(side).or(pii.mode).unwrap_or(default)
                };
                let p = pick(
                    pii.routes.get(&kind),
                    if dir == Direction::Request { pii.request } else { pii.response },
                    if dir == Direction::Request { PiiMode::Observe } else { PiiMode::Off },
                );
                let route = secrets.routes.get(&kind);
                let from_route = route.and_then(|r| if dir == Direction::Request { r.request } else { r.response });
                let side = if dir == Direction::Request { secrets.request } else { secrets.response };
                let default = if dir == Direction::Request { SecretMode::Block } else { SecretMode::Off };
                let s = from_route.or(side).or(secrets.mode).unwrap_or(default);
                policies[kind_index(kind)][d] = Policy { pii: p, secrets: s };
            }
        }
        if pii.placeholder == Placeholder::Pseudonym && pii.pseudonym_salt.is_empty() {
            return Err(ConfigError::new("pii.pseudonym_salt", "must be set when pii.placeholder is \"pseudonym\""));
        }
        let block_status = secrets.block_status.unwrap_or(403);
        if !(400..=599).contains(&block_status) {
            return Err(ConfigError::new("secrets.block_status", "must be an HTTP error status (400 to 599)"));
        }
        let mut custom_pii = Vec::new();
        for (i, c) in pii.custom.into_iter().enumerate() {
            let name = c.name.trim().to_ascii_uppercase();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(ConfigError::new(format!("pii.custom[{i}].name"), "must be letters, digits and '_'"));
            }
            let regex = regex_lite::Regex::new(&c.pattern).map_err(|e| {
                ConfigError::new(format!("pii.custom[{i}].pattern"), format!("is not a valid regex: {}", first_line(&e.to_string())))
            })?;
            if regex.is_match("") {
                return Err(ConfigError::new(format!("pii.custom[{i}].pattern"), "matches the empty string, so it would match everywhere"));
            }
            custom_pii.push(CustomPii { name, regex, keyword: literal_prefix(&c.pattern) });
        }
        let mut custom_secrets = Vec::new();
        for (i, c) in secrets.custom.into_iter().enumerate() {
            let id = c.id.trim().to_owned();
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                return Err(ConfigError::new(format!("secrets.custom[{i}].id"), "must be letters, digits, '-' and '_'"));
            }
            let regex = regex_lite::Regex::new(&c.pattern).map_err(|e| {
                ConfigError::new(format!("secrets.custom[{i}].pattern"), format!("is not a valid regex: {}", first_line(&e.to_string())))
            })?;
            if regex.is_match("") {
                return Err(ConfigError::new(format!("secrets.custom[{i}].pattern"), "matches the empty string, so it would match everywhere"));
            }
            if !(0.0..=8.0).contains(&c.min_entropy) {
                return Err(ConfigError::new(format!("secrets.custom[{i}].min_entropy"), "must be between 0 and 8 bits per byte"));
            }
            if c.keywords.iter().any(|k| k.is_empty()) {
                return Err(ConfigError::new(format!("secrets.custom[{i}].keywords"), "must not contain an empty keyword"));
            }
            let mut keywords = c.keywords;
            if keywords.is_empty() {
                keywords.extend(literal_prefix(&c.pattern));
            }
            custom_secrets.push(CustomSecret { id, regex, keywords, min_entropy: c.min_entropy });
        }
        let mut allow_patterns = Vec::new();
        for (i, p) in secrets.allowlist_patterns.iter().enumerate() {
            allow_patterns.push(regex_lite::Regex::new(p).map_err(|e| {
                ConfigError::new(format!("secrets.allowlist_patterns[{i}]"), format!("is not a valid regex: {}", first_line(&e.to_string())))
            })?);
        }
        let kinds = match &pii.kinds {
            None => crate::scan::PiiKinds::ALL,
            Some(list) => {
                let mut k = crate::scan::PiiKinds { email: false, phone: false, ssn: false, credit_card: false, iban: false, ipv4: false, ipv6: false };
                for (i, name) in list.iter().enumerate() {
                    match name.as_str() {
                        "email" => k.email = true,
                        "phone" => k.phone = true,
                        "ssn" => k.ssn = true,
                        "credit_card" => k.credit_card = true,
                        "iban" => k.iban = true,
                        "ipv4" => k.ipv4 = true,
                        "ipv6" => k.ipv6 = true,
                        other => {
                            return Err(ConfigError::new(
                                format!("pii.kinds[{i}]"),
                                format!("unknown kind {other:?}; expected email, phone, ssn, credit_card, iban, ipv4 or ipv6"),
                            ))
                        }
                    }
                }
                k
            }
        };
        let ignored_ips = crate::scan::IpRanges::parse(&pii.ignore_ip_ranges).map_err(|(i, msg)| ConfigError::new(format!("pii.ignore_ip_ranges[{i}]"), msg))?;
        let detectors = Detectors::compile(kinds, custom_pii, custom_secrets, &secrets.disabled_rules, secrets.allowlist, allow_patterns)
            .map_err(|(field, msg)| ConfigError::new(field, msg))?
            .with_ignored_ips(ignored_ips);
        Ok(Guard { policies, detectors, placeholder: pii.placeholder, pseudonym_salt: pii.pseudonym_salt, block_status })
    }

    /// The modes for one direction of one route kind.
    pub fn policy(&self, direction: Direction, kind: RouteKind) -> Policy {
        let d = match direction {
            Direction::Request => 0,
            Direction::Response => 1,
        };
        self.policies[kind_index(kind)][d]
    }
}

fn first_line(s: &str) -> &str {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or(s).trim()
}

/// The literal text a pattern starts with (`EMP-\d{6}` gives `EMP-`), used as a prefilter
/// keyword when it is at least 3 bytes long.
fn literal_prefix(pattern: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) if "-.[](){}*+?|^$\\/#&~".contains(n) => out.push(n),
                _ => break,
            },
            c if "[](){}*+?|^$.".contains(c) => {
                // a quantifier makes the previous character optional or repeated
                if "*?{".contains(c) {
                    out.pop();
                }
                break;
            }
            c => out.push(c),
        }
    }
    (out.len() >= 3).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn defaults_and_overrides() {
        let c = Config::from_json(b"{}").unwrap();
        let p = c.guard.policy(Direction::Request, RouteKind::Llm);
        assert_eq!((p.pii, p.secrets), (PiiMode::Observe, SecretMode::Block));
        let p = c.guard.policy(Direction::Response, RouteKind::Llm);
        assert_eq!((p.pii, p.secrets), (PiiMode::Off, SecretMode::Off));
        let c = Config::from_json(br#"{"pii":{"mode":"redact","routes":{"mcp":{"response":"observe"}}},"secrets":{"response":"block"}}"#).unwrap();
        assert_eq!(c.guard.policy(Direction::Response, RouteKind::Llm).pii, PiiMode::Redact);
        assert_eq!(c.guard.policy(Direction::Response, RouteKind::Mcp).pii, PiiMode::Observe);
        assert_eq!(c.guard.policy(Direction::Response, RouteKind::Tool).secrets, SecretMode::Block);
    }

    #[test]
    fn bad_settings_name_the_field_and_say_why() {
        let cases: &[(&str, &str, &str)] = &[
            (r#"{"pii":{"custom":[{"name":"EMP","pattern":"EMP-(\\d{6}"}]}}"#, "pii.custom[0].pattern", "is not a valid regex"),
            (r#"{"pii":{"custom":[{"name":"EMP","pattern":"\\d*"}]}}"#, "pii.custom[0].pattern", "empty string"),
            (r#"{"pii":{"custom":[{"name":"EMP ID","pattern":"x"}]}}"#, "pii.custom[0].name", "letters"),
            (r#"{"pii":{"kinds":["email","passport"]}}"#, "pii.kinds[1]", "unknown kind"),
            (r#"{"pii":{"placeholder":"pseudonym"}}"#, "pii.pseudonym_salt", "must be set"),
            (r#"{"pii":{"mode":"scrub"}}"#, "pii.mode", "unknown variant"),
            (r#"{"secrets":{"block_status":200}}"#, "secrets.block_status", "error status"),
            (r#"{"secrets":{"disabled_rules":["no-such-rule"]}}"#, "secrets.disabled_rules[0]", "unknown rule"),
            (r#"{"secrets":{"custom":[{"id":"acme","pattern":"acme_[a-z"}]}}"#, "secrets.custom[0].pattern", "is not a valid regex"),
            (r#"{"secrets":{"custom":[{"id":"github-pat","pattern":"acme_[a-z]+"}]}}"#, "secrets.custom[0].id", "already"),
            (r#"{"secrets":{"allowlist_patterns":["("]}}"#, "secrets.allowlist_patterns[0]", "is not a valid regex"),
        ];
        for (json, field, why) in cases {
            let e = Config::from_json(json.as_bytes()).unwrap_err();
            assert_eq!(e.field, *field, "{json}: {e}");
            assert!(e.message.contains(why), "{json}: {e}");
        }
    }

    #[test]
    fn literal_prefixes() {
        assert_eq!(literal_prefix(r"EMP-\d{6}").as_deref(), Some("EMP-"));
        assert_eq!(literal_prefix(r"acme_[a-z]+").as_deref(), Some("acme_"));
        assert_eq!(literal_prefix(r"ab?c"), None);
        assert_eq!(literal_prefix(r"\d+"), None);
        assert_eq!(literal_prefix(r"tok\.x"), Some("tok.x".to_owned()));
    }
}
