//! `stats` as written: label bounds. Checked by `plugin::StatsConfig::compile`.

use serde::Deserialize;

/// `stats`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStats {
    /// The most distinct values one label (such as `model`) may take; more become `other`.
    #[serde(default = "default_max_label_values")]
    pub max_label_values: u64,
    /// How long a spec or model version stays "active" after a call last carried it (the
    /// `active_spec_version` and `active_model_version` gauges).
    #[serde(default = "default_active_version_window_ms")]
    pub active_version_window_ms: u64,
}

impl Default for RawStats {
    fn default() -> Self {
        RawStats { max_label_values: default_max_label_values(), active_version_window_ms: default_active_version_window_ms() }
    }
}

fn default_max_label_values() -> u64 {
    50
}
fn default_active_version_window_ms() -> u64 {
    10 * 60 * 1000
}
