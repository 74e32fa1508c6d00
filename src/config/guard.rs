//! `pii` and `secrets`: the guard's modes, placeholders, allowlists and custom rules.

use super::ConfigError;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPii {}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecrets {}

/// The compiled guard settings.
#[derive(Debug, Default)]
pub struct Guard {}

impl Guard {
    pub fn compile(_pii: RawPii, _secrets: RawSecrets) -> Result<Guard, ConfigError> {
        Ok(Guard {})
    }
}
