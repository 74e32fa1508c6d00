//! `identity`, `sessions`, `pricing` and `stats`: what operators read and roll up.

use super::ConfigError;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdentity {}

#[derive(Debug, Default)]
pub struct Identity {}

impl Identity {
    pub fn compile(_raw: RawIdentity) -> Result<Identity, ConfigError> {
        Ok(Identity {})
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSessions {}

#[derive(Debug, Default)]
pub struct Sessions {}

impl Sessions {
    pub fn compile(_raw: RawSessions) -> Result<Sessions, ConfigError> {
        Ok(Sessions {})
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPricing {}

#[derive(Debug, Default)]
pub struct Pricing {}

impl Pricing {
    pub fn compile(_raw: RawPricing) -> Result<Pricing, ConfigError> {
        Ok(Pricing {})
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
        RawStats { max_label_values: default_max_label_values() }
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
            return Err(ConfigError::new("stats.max_label_values", "must be between 1 and 10000"));
        }
        Ok(StatsConfig { max_label_values: raw.max_label_values as usize })
    }
}
