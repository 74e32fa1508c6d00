//! `stats` as written: label bounds. Checked by `plugin::StatsConfig::compile`.

use serde::Deserialize;

/// `stats`.
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
