//! The compiled guard: the modes per route kind and direction, and the detectors they run.
//!
//! This module owns the modes the filter runs with ([`PiiMode`], [`SecretMode`],
//! [`Placeholder`], [`Direction`], [`Policy`]) and [`Guard::compile`], which turns the raw
//! `pii` and `secrets` blocks into them. It does not scan (the detectors do) and does not
//! decide when to scan (the exchange does, from [`Guard::policy`]).
//!
//! Errors name the field inside its block (`custom[0].pattern`) and which block it is; the
//! caller puts the block's own key in front, so no configuration path is written here.
//! Defaults: PII is observed in requests and not scanned in responses; secrets are blocked
//! in requests and not scanned in responses. Whatever the modes, every string that leaves in
//! telemetry is sanitised (see `scan::sanitize_for_telemetry`).

use super::{CustomPii, CustomSecret, Detectors, PiiKinds};
use crate::config::guard::{
    RawDirections, RawPii, RawPiiMode, RawPlaceholder, RawRouteModes, RawSecretMode, RawSecrets,
};
use crate::routes::RouteKind;
use core::fmt;

/// What the guard does with PII.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PiiMode {
    /// Do not look for PII.
    Off,
    /// Find and count PII, change nothing.
    Observe,
    /// Replace PII with placeholders.
    Redact,
}

/// What the guard does with secrets. In a response, whose headers are gone, `block` redacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretMode {
    /// Do not look for secrets.
    Off,
    /// Find and count secrets, change nothing.
    Observe,
    /// Refuse a request that carries a secret.
    Block,
}

/// Which way the bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Request,
    Response,
}

/// How a redacted value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Placeholder {
    /// `[REDACTED:EMAIL]`
    #[default]
    Label,
    /// `<EMAIL:4f2a9c>`: a salted sha256 prefix, the same for the same value.
    Pseudonym,
}

impl From<RawPiiMode> for PiiMode {
    fn from(m: RawPiiMode) -> PiiMode {
        match m {
            RawPiiMode::Off => PiiMode::Off,
            RawPiiMode::Observe => PiiMode::Observe,
            RawPiiMode::Redact => PiiMode::Redact,
        }
    }
}

impl From<RawSecretMode> for SecretMode {
    fn from(m: RawSecretMode) -> SecretMode {
        match m {
            RawSecretMode::Off => SecretMode::Off,
            RawSecretMode::Observe => SecretMode::Observe,
            RawSecretMode::Block => SecretMode::Block,
        }
    }
}

impl From<RawPlaceholder> for Placeholder {
    fn from(p: RawPlaceholder) -> Placeholder {
        match p {
            RawPlaceholder::Label => Placeholder::Label,
            RawPlaceholder::Pseudonym => Placeholder::Pseudonym,
        }
    }
}

/// The modes that apply to one direction of one route kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// What to do with PII.
    pub pii: PiiMode,
    /// What to do with secrets.
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
    pub(crate) detectors: Detectors,
    pub(crate) placeholder: Placeholder,
    pub(crate) pseudonym_salt: String,
    pub(crate) block_status: u32,
    /// `secrets.request_hold_bytes`: the most request body bytes held back at once.
    pub request_hold_bytes: usize,
    /// `secrets.uninspectable_request`; `None`: block where the request's secrets are blocked.
    pub uninspectable_request: Option<bool>,
    /// Strings bound for telemetry found clean before.
    pub(crate) clean_memo: super::memo::CleanMemo,
}

/// The most `secrets.request_hold_bytes` may be: what one request may hold in the VM.
const MAX_HOLD_BYTES: usize = 16 * 1024 * 1024;

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
                request_hold_bytes: super::request::DEFAULT_WINDOW,
                uninspectable_request: None,
                clean_memo: Default::default(),
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

/// The configured modes of one route kind, if any.
fn for_kind<M>(routes: &RawRouteModes<M>, k: RouteKind) -> Option<&RawDirections<M>> {
    match k {
        RouteKind::Llm => routes.llm.as_ref(),
        RouteKind::Mcp => routes.mcp.as_ref(),
        RouteKind::Tool => routes.tool.as_ref(),
    }
}

/// The most specific setting for one direction: the route kind's, then the direction's, then
/// the block's `mode`, then the default.
fn pick<R: Copy, M: From<R>>(
    route: Option<&RawDirections<R>>,
    dir: Direction,
    request: Option<R>,
    response: Option<R>,
    mode: Option<R>,
    default: M,
) -> M {
    let (from_route, side) = match dir {
        Direction::Request => (route.and_then(|r| r.request), request),
        Direction::Response => (route.and_then(|r| r.response), response),
    };
    from_route.or(side).or(mode).map_or(default, M::from)
}

impl Guard {
    /// Compiles the `pii` and `secrets` blocks. An error says which block and which field in it.
    pub fn compile(pii: RawPii, secrets: RawSecrets) -> Result<Guard, Error> {
        let mut policies = [[Policy { pii: PiiMode::Off, secrets: SecretMode::Off }; 2]; 3];
        for kind in [RouteKind::Llm, RouteKind::Mcp, RouteKind::Tool] {
            for (d, dir) in [Direction::Request, Direction::Response].into_iter().enumerate() {
                let request = dir == Direction::Request;
                let p = pick(
                    for_kind(&pii.routes, kind),
                    dir,
                    pii.request,
                    pii.response,
                    pii.mode,
                    if request { PiiMode::Observe } else { PiiMode::Off },
                );
                let s = pick(
                    for_kind(&secrets.routes, kind),
                    dir,
                    secrets.request,
                    secrets.response,
                    secrets.mode,
                    if request { SecretMode::Block } else { SecretMode::Off },
                );
                if let Some(slot) = policies.get_mut(kind_index(kind)).and_then(|k| k.get_mut(d)) {
                    *slot = Policy { pii: p, secrets: s };
                }
            }
        }
        let placeholder = Placeholder::from(pii.placeholder);
        if placeholder == Placeholder::Pseudonym && pii.pseudonym_salt.is_empty() {
            return Err(Error::pii("pseudonym_salt", ErrorKind::SaltNeeded));
        }
        let block_status = secrets.block_status.unwrap_or(403);
        if !(400..=599).contains(&block_status) {
            return Err(Error::secrets("block_status", ErrorKind::NotAnErrorStatus));
        }
        let request_hold_bytes = secrets.request_hold_bytes.unwrap_or(super::request::DEFAULT_WINDOW);
        if !(super::request::MIN_WINDOW..=MAX_HOLD_BYTES).contains(&request_hold_bytes) {
            return Err(Error::secrets("request_hold_bytes", ErrorKind::HoldBytes));
        }
        let uninspectable_request = secrets.uninspectable_request.map(|a| a == crate::config::guard::RawUninspectable::Block);
        let mut custom_pii = Vec::new();
        for (i, c) in pii.custom.into_iter().enumerate() {
            let name = c.name.trim().to_ascii_uppercase();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(Error::pii(format!("custom[{i}].name"), ErrorKind::PiiName));
            }
            let field = || format!("custom[{i}].pattern");
            let regex = regex(&c.pattern).map_err(|k| Error::pii(field(), k))?;
            if regex.is_match("") {
                return Err(Error::pii(field(), ErrorKind::MatchesEmpty));
            }
            custom_pii.push(CustomPii { name, regex, keyword: literal_prefix(&c.pattern) });
        }
        let mut custom_secrets = Vec::new();
        for (i, c) in secrets.custom.into_iter().enumerate() {
            let id = c.id.trim().to_owned();
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                return Err(Error::secrets(format!("custom[{i}].id"), ErrorKind::RuleId));
            }
            let field = || format!("custom[{i}].pattern");
            let regex = regex(&c.pattern).map_err(|k| Error::secrets(field(), k))?;
            if regex.is_match("") {
                return Err(Error::secrets(field(), ErrorKind::MatchesEmpty));
            }
            if !(0.0..=8.0).contains(&c.min_entropy) {
                return Err(Error::secrets(format!("custom[{i}].min_entropy"), ErrorKind::Entropy));
            }
            if c.keywords.iter().any(|k| k.is_empty()) {
                return Err(Error::secrets(format!("custom[{i}].keywords"), ErrorKind::EmptyKeyword));
            }
            let mut keywords = c.keywords;
            if keywords.is_empty() {
                keywords.extend(literal_prefix(&c.pattern));
            }
            custom_secrets.push(CustomSecret { id, regex, keywords, min_entropy: c.min_entropy });
        }
        let mut allow_patterns = Vec::new();
        for (i, p) in secrets.allowlist_patterns.iter().enumerate() {
            allow_patterns.push(regex(p).map_err(|k| Error::secrets(format!("allowlist_patterns[{i}]"), k))?);
        }
        let kinds = match &pii.kinds {
            None => PiiKinds::ALL,
            Some(list) => {
                let mut k = PiiKinds { email: false, phone: false, ssn: false, credit_card: false, iban: false, ipv4: false, ipv6: false };
                for (i, name) in list.iter().enumerate() {
                    match name.as_str() {
                        "email" => k.email = true,
                        "phone" => k.phone = true,
                        "ssn" => k.ssn = true,
                        "credit_card" => k.credit_card = true,
                        "iban" => k.iban = true,
                        "ipv4" => k.ipv4 = true,
                        "ipv6" => k.ipv6 = true,
                        _ => return Err(Error::pii(format!("kinds[{i}]"), ErrorKind::UnknownPiiKind)),
                    }
                }
                k
            }
        };
        let detectors = Detectors::compile(kinds, custom_pii, custom_secrets, &secrets.disabled_rules, secrets.allowlist, allow_patterns)
            .map_err(|e| match e {
                DetectorError::UnknownRule { index } => Error::secrets(format!("disabled_rules[{index}]"), ErrorKind::UnknownRule),
                DetectorError::TakenId { index } => Error::secrets(format!("custom[{index}].id"), ErrorKind::TakenId),
                DetectorError::BuiltIn => Error::secrets("", ErrorKind::BuiltIn),
            })?;
        let ignored_ips = super::IpRanges::parse(&pii.ignore_ip_ranges).map_err(|(i, why)| Error::pii(format!("ignore_ip_ranges[{i}]"), ErrorKind::IpRange(why)))?;
        let detectors = detectors.with_ignored_ips(ignored_ips);
        Ok(Guard { policies, detectors, placeholder, pseudonym_salt: pii.pseudonym_salt, block_status, request_hold_bytes, uninspectable_request, clean_memo: Default::default() })
    }

    /// Whether a request body the guard cannot inspect or redact in place is refused under
    /// the request policy `p`: as configured, else where the request's secrets are blocked.
    pub fn blocks_uninspectable(&self, p: Policy) -> bool {
        self.uninspectable_request.unwrap_or(p.secrets == SecretMode::Block)
    }

    /// The modes for one direction of one route kind.
    pub fn policy(&self, direction: Direction, kind: RouteKind) -> Policy {
        let d = match direction {
            Direction::Request => 0,
            Direction::Response => 1,
        };
        self.policies
            .get(kind_index(kind))
            .and_then(|k| k.get(d))
            .copied()
            .unwrap_or(Policy { pii: PiiMode::Off, secrets: SecretMode::Off })
    }
}

/// Why `Detectors::compile` refused, by the index of the offending entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DetectorError {
    /// `disabled_rules[index]` names no built-in rule.
    UnknownRule { index: usize },
    /// `custom[index].id` is already a rule id.
    TakenId { index: usize },
    /// The built-in rules or their keyword automaton did not build: a bug, not the operator's.
    BuiltIn,
}

/// Which block of the configuration a [`Error`] is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// `pii`
    Pii,
    /// `secrets`
    Secrets,
}

/// A `pii` or `secrets` setting that does not compile. The message never holds the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    block: Block,
    field: String,
    kind: ErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ErrorKind {
    SaltNeeded,
    NotAnErrorStatus,
    PiiName,
    RuleId,
    /// regex-lite's own message, which describes the syntax error without quoting the pattern.
    BadRegex(String),
    /// The pattern is over regex-lite's size limits.
    RegexTooBig,
    MatchesEmpty,
    Entropy,
    EmptyKeyword,
    UnknownPiiKind,
    UnknownRule,
    TakenId,
    BuiltIn,
    HoldBytes,
    /// Why an IP range did not parse; the message never quotes the entry.
    IpRange(String),
}

impl Error {
    fn pii(field: impl Into<String>, kind: ErrorKind) -> Error {
        Error { block: Block::Pii, field: field.into(), kind }
    }
    fn secrets(field: impl Into<String>, kind: ErrorKind) -> Error {
        Error { block: Block::Secrets, field: field.into(), kind }
    }
    /// The block the field is in.
    pub fn block(&self) -> Block {
        self.block
    }
    /// The field inside its block (`custom[0].pattern`); empty for the block as a whole.
    pub fn field(&self) -> &str {
        &self.field
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::SaltNeeded => f.write_str("must be set when placeholder is \"pseudonym\""),
            ErrorKind::NotAnErrorStatus => f.write_str("must be an HTTP error status (400 to 599)"),
            ErrorKind::PiiName => f.write_str("must be letters, digits and '_'"),
            ErrorKind::RuleId => f.write_str("must be letters, digits, '-' and '_'"),
            ErrorKind::BadRegex(why) => write!(f, "is not a valid regex: {why}"),
            ErrorKind::RegexTooBig => f.write_str("is not a valid regex: it is too large"),
            ErrorKind::MatchesEmpty => f.write_str("matches the empty string, so it would match everywhere"),
            ErrorKind::Entropy => f.write_str("must be between 0 and 8 bits per byte"),
            ErrorKind::EmptyKeyword => f.write_str("must not contain an empty keyword"),
            ErrorKind::UnknownPiiKind => {
                f.write_str("unknown kind; expected email, phone, ssn, credit_card, iban, ipv4 or ipv6")
            }
            ErrorKind::UnknownRule => f.write_str("unknown rule; see docs/guard.md for the rule ids"),
            ErrorKind::TakenId => f.write_str("is already a rule id"),
            ErrorKind::BuiltIn => f.write_str("the built-in rules do not compile"),
            ErrorKind::IpRange(why) => f.write_str(why),
            ErrorKind::HoldBytes => write!(
                f,
                "must be between {} and {MAX_HOLD_BYTES} (the longest built-in rule reaches 8 KiB past its keyword)",
                super::request::MIN_WINDOW
            ),
        }
    }
}

impl std::error::Error for Error {}

/// Compiles a configured pattern. regex-lite's message says what is wrong (`unclosed group`)
/// and sometimes quotes a piece of the pattern; only its first line is kept, and only when it
/// holds no part of the pattern longer than two characters.
fn regex(pattern: &str) -> Result<regex_lite::Regex, ErrorKind> {
    regex_lite::Regex::new(pattern).map_err(|e| {
        let text = e.to_string();
        let line = first_line(&text);
        if line.contains("size limit") || line.contains("too big") {
            ErrorKind::RegexTooBig
        } else if quotes_pattern(line, pattern) {
            ErrorKind::BadRegex("its syntax is not regex-lite's".to_owned())
        } else {
            ErrorKind::BadRegex(line.to_owned())
        }
    })
}

/// The message holds 3 or more consecutive characters of the pattern.
fn quotes_pattern(message: &str, pattern: &str) -> bool {
    let chars: Vec<char> = pattern.chars().collect();
    chars.windows(3).any(|w| message.contains(&w.iter().collect::<String>()))
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

    /// A configuration's `pii` and `secrets`, compiled.
    struct Compiled {
        guard: Guard,
    }

    fn config(json: &[u8]) -> Result<Compiled, Error> {
        let raw = crate::config::RawConfig::parse(json).unwrap();
        Guard::compile(raw.pii, raw.secrets).map(|guard| Compiled { guard })
    }

    #[test]
    fn defaults_and_overrides() {
        let c = config(b"{}").unwrap();
        let p = c.guard.policy(Direction::Request, RouteKind::Llm);
        assert_eq!((p.pii, p.secrets), (PiiMode::Observe, SecretMode::Block));
        let p = c.guard.policy(Direction::Response, RouteKind::Llm);
        assert_eq!((p.pii, p.secrets), (PiiMode::Off, SecretMode::Off));
        let c = config(br#"{"pii":{"mode":"redact","routes":{"mcp":{"response":"observe"}}},"secrets":{"response":"block"}}"#).unwrap();
        assert_eq!(c.guard.policy(Direction::Response, RouteKind::Llm).pii, PiiMode::Redact);
        assert_eq!(c.guard.policy(Direction::Response, RouteKind::Mcp).pii, PiiMode::Observe);
        assert_eq!(c.guard.policy(Direction::Response, RouteKind::Tool).secrets, SecretMode::Block);
        // the route kind's setting beats the direction's, which beats the block's mode
        let c = config(br#"{"secrets":{"mode":"off","request":"observe","routes":{"tool":{"request":"block"}}}}"#).unwrap();
        assert_eq!(c.guard.policy(Direction::Request, RouteKind::Tool).secrets, SecretMode::Block);
        assert_eq!(c.guard.policy(Direction::Request, RouteKind::Llm).secrets, SecretMode::Observe);
        assert_eq!(c.guard.policy(Direction::Response, RouteKind::Llm).secrets, SecretMode::Off);
    }

    #[test]
    fn bad_settings_name_the_field_and_say_why() {
        use Block::{Pii, Secrets};
        let cases: &[(&str, Block, &str, &str)] = &[
            (r#"{"pii":{"custom":[{"name":"EMP","pattern":"EMP-(\\d{6}"}]}}"#, Pii, "custom[0].pattern", "is not a valid regex"),
            (r#"{"pii":{"custom":[{"name":"EMP","pattern":"\\d*"}]}}"#, Pii, "custom[0].pattern", "empty string"),
            (r#"{"pii":{"custom":[{"name":"EMP ID","pattern":"x"}]}}"#, Pii, "custom[0].name", "letters"),
            (r#"{"pii":{"kinds":["email","passport"]}}"#, Pii, "kinds[1]", "unknown kind"),
            (r#"{"pii":{"placeholder":"pseudonym"}}"#, Pii, "pseudonym_salt", "must be set"),
            (r#"{"secrets":{"block_status":200}}"#, Secrets, "block_status", "error status"),
            (r#"{"secrets":{"request_hold_bytes":1024}}"#, Secrets, "request_hold_bytes", "between 16384"),
            (r#"{"secrets":{"disabled_rules":["no-such-rule"]}}"#, Secrets, "disabled_rules[0]", "unknown rule"),
            (r#"{"secrets":{"disabled_rules":["github-pat","nope"]}}"#, Secrets, "disabled_rules[1]", "unknown rule"),
            (r#"{"secrets":{"custom":[{"id":"acme","pattern":"acme_[a-z"}]}}"#, Secrets, "custom[0].pattern", "is not a valid regex"),
            (r#"{"secrets":{"custom":[{"id":"ok","pattern":"ok_[a-z]+"},{"id":"github-pat","pattern":"acme_[a-z]+"}]}}"#, Secrets, "custom[1].id", "already"),
            (r#"{"secrets":{"custom":[{"id":"a b","pattern":"acme_[a-z]+"}]}}"#, Secrets, "custom[0].id", "letters, digits, '-' and '_'"),
            (r#"{"secrets":{"custom":[{"id":"acme","pattern":"x*"}]}}"#, Secrets, "custom[0].pattern", "empty string"),
            (r#"{"secrets":{"custom":[{"id":"acme","pattern":"acme_[a-z]+","min_entropy":9}]}}"#, Secrets, "custom[0].min_entropy", "between 0 and 8"),
            (r#"{"secrets":{"custom":[{"id":"acme","pattern":"acme_[a-z]+","keywords":[""]}]}}"#, Secrets, "custom[0].keywords", "empty keyword"),
            (r#"{"secrets":{"allowlist_patterns":["("]}}"#, Secrets, "allowlist_patterns[0]", "is not a valid regex"),
        ];
        for (json, block, field, why) in cases {
            let Err(e) = config(json.as_bytes()) else { panic!("{json}: accepted") };
            assert_eq!((e.block(), e.field()), (*block, *field), "{json}: {e}");
            assert!(e.to_string().contains(why), "{json}: {e}");
        }
    }

    #[test]
    fn errors_are_per_block_and_relative() {
        let raw: RawSecrets = serde_json::from_str(r#"{"disabled_rules":["x"]}"#).unwrap();
        let e = Guard::compile(RawPii::default(), raw).unwrap_err();
        assert_eq!((e.block(), e.field()), (Block::Secrets, "disabled_rules[0]"));
        assert_eq!(e.to_string(), "unknown rule; see docs/guard.md for the rule ids");
        let raw: RawPii = serde_json::from_str(r#"{"kinds":["email","ssn","x"]}"#).unwrap();
        let e = Guard::compile(raw, RawSecrets::default()).unwrap_err();
        assert_eq!((e.block(), e.field()), (Block::Pii, "kinds[2]"));
    }

    #[test]
    fn regex_errors_never_quote_the_pattern() {
        for pattern in ["s3cr3t-(salt", "s3cr3t[salt", "s3cr3t{99999999}", r"s3cr3t\q", "s3cr3t)", "(?P<s3cr3t", "s3cr3t{2,1}", "[z-a]s3cr3t"] {
            let Err(kind) = regex(pattern) else { panic!("{pattern} compiled") };
            let msg = Error::secrets("x", kind).to_string();
            assert!(msg.starts_with("is not a valid regex"), "{pattern}: {msg}");
            assert!(!msg.contains("s3cr3t"), "{pattern}: {msg}");
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
