//! The compiled `tools` block: argument capture limits and the surface tools.
//!
//! This module owns validating `tools` and the one cut helper the tool paths share. It does
//! not parse tool calls (see `tools`).

use crate::config::tools::RawTools;
use crate::config::ConfigError;

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

