//! The compiled `identity` block: checked header names and the salted user hash.
//!
//! This module owns validating `identity`, hashing a user id and reading the task budget
//! header. It does not read headers from a request (the exchange does).

use crate::config::identity::RawIdentity;
use crate::config::ConfigError;
use sha2::{Digest, Sha256};

/// The compiled `identity` block. Header names are lowercase, as Envoy presents them.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user_header: String,
    pub session_header: String,
    pub task_header: String,
    pub spec_version_header: String,
    pub agent_version_header: String,
    pub task_budget_header: String,
    pub task_end_header: String,
    pub session_end_header: String,
    pub agent_header: String,
    /// `Some(salt)` when user ids are hashed; `None` when they are not recorded.
    user_id_salt: Option<String>,
}

impl Default for Identity {
    fn default() -> Self {
        // The defaults are valid by construction, so this never takes the fallback arm.
        Identity::compile(RawIdentity::default()).unwrap_or_else(|_| Identity {
            user_header: "x-agent-user-id".to_owned(),
            session_header: "x-agent-session-id".to_owned(),
            task_header: "x-agent-task-id".to_owned(),
            spec_version_header: "x-agent-spec-version".to_owned(),
            agent_version_header: "x-agent-version".to_owned(),
            task_budget_header: "x-agent-task-budget-ms".to_owned(),
            task_end_header: "x-agent-task-end".to_owned(),
            session_end_header: "x-agent-session-end".to_owned(),
            agent_header: "x-agent-name".to_owned(),
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
                    "must not be empty when hash_user_id is true",
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
            task_end_header: header("task_end_header", raw.task_end_header)?,
            session_end_header: header("session_end_header", raw.session_end_header)?,
            agent_header: header("agent_header", raw.agent_header)?,
            user_id_salt,
        })
    }

    /// Whether user ids are hashed (and so recorded at all).
    #[cfg(test)]
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

