//! `tools`: tool-call capture and the surface tools that hand a task back to a person.

use super::ConfigError;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTools {}

/// The compiled tool settings.
#[derive(Debug, Default)]
pub struct Tools {}

impl Tools {
    pub fn compile(_raw: RawTools) -> Result<Tools, ConfigError> {
        Ok(Tools {})
    }
}
