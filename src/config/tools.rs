//! `tools` as written: tool-call capture and the surface tools that hand a task back to a
//! person. Checked by `plugin::Tools::compile`.

use serde::Deserialize;

/// `tools`.
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
