//! `tools`: tool-call capture and the surface tools that hand a task back to a person.

use super::ConfigError;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTools {
    /// Put tool-call arguments in spans, after the guard has sanitised them.
    #[serde(default)]
    pub capture_arguments: bool,
    /// Arguments longer than this are cut (bytes).
    #[serde(default = "default_max_argument_bytes")]
    pub max_argument_bytes: u64,
    /// Tools whose call hands the task back to a person: a `surface` step.
    #[serde(default = "default_surface_tools")]
    pub surface_tools: Vec<String>,
    /// The surface reason (the call's `reason` argument) is cut to this many bytes.
    #[serde(default = "default_surface_reason_max_bytes")]
    pub surface_reason_max_bytes: u64,
}

impl Default for RawTools {
    fn default() -> Self {
        RawTools {
            capture_arguments: false,
            max_argument_bytes: default_max_argument_bytes(),
            surface_tools: default_surface_tools(),
            surface_reason_max_bytes: default_surface_reason_max_bytes(),
        }
    }
}

fn default_max_argument_bytes() -> u64 {
    2048
}
fn default_surface_tools() -> Vec<String> {
    vec!["escalate_to_human".to_owned()]
}
fn default_surface_reason_max_bytes() -> u64 {
    256
}

/// The compiled tool settings.
#[derive(Debug, Default)]
pub struct Tools {
    pub capture_arguments: bool,
    pub max_argument_bytes: usize,
    pub surface_tools: Vec<String>,
    pub surface_reason_max_bytes: usize,
}

impl Tools {
    pub fn compile(raw: RawTools) -> Result<Tools, ConfigError> {
        if !(16..=65_536).contains(&raw.max_argument_bytes) {
            return Err(ConfigError::new("tools.max_argument_bytes", "must be between 16 and 65536"));
        }
        if !(16..=4096).contains(&raw.surface_reason_max_bytes) {
            return Err(ConfigError::new("tools.surface_reason_max_bytes", "must be between 16 and 4096"));
        }
        for (i, t) in raw.surface_tools.iter().enumerate() {
            if t.trim().is_empty() {
                return Err(ConfigError::new(format!("tools.surface_tools[{i}]"), "must not be empty"));
            }
        }
        Ok(Tools {
            capture_arguments: raw.capture_arguments,
            max_argument_bytes: raw.max_argument_bytes as usize,
            surface_tools: raw.surface_tools,
            surface_reason_max_bytes: raw.surface_reason_max_bytes as usize,
        })
    }

    /// The tool hands the task back to a person.
    pub fn is_surface(&self, name: &str) -> bool {
        self.surface_tools.iter().any(|t| t == name)
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
