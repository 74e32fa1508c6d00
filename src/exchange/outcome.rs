//! How a call ended and what kind of step it was, in the seed's terms.

use super::common::Common;
use super::verdict::EndInfo;
use crate::plugin::Config;
use crate::providers::LlmCall;

/// The outcome of a call, as the seed names them (plus `blocked`, `cancelled`, `truncated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Surfaced,
    Errored,
    TimedOut,
    Cancelled,
    Truncated,
    Blocked,
}

impl Outcome {
    /// The span attribute value and stat label (a contract).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Surfaced => "surfaced",
            Outcome::Errored => "errored",
            Outcome::TimedOut => "timed_out",
            Outcome::Cancelled => "cancelled",
            Outcome::Truncated => "truncated",
            Outcome::Blocked => "blocked",
        }
    }

    /// The call stopped before its answer was whole: its usage, if any, is partial.
    pub fn stopped_early(self) -> bool {
        matches!(self, Outcome::Truncated | Outcome::Cancelled | Outcome::TimedOut)
    }

    /// `error.type` for an outcome that is an error; `provider_error` is what the body said.
    pub fn error_type(self, provider_error: Option<&str>, status: Option<u16>) -> Option<String> {
        match self {
            Outcome::Errored => Some(
                provider_error.map(str::to_owned).or_else(|| status.map(|s| s.to_string())).unwrap_or_else(|| "_OTHER".to_owned()),
            ),
            Outcome::TimedOut => Some("timeout".to_owned()),
            Outcome::Cancelled => Some("cancelled".to_owned()),
            Outcome::Truncated => Some("truncated".to_owned()),
            Outcome::Blocked => Some("secret_detected".to_owned()),
            Outcome::Completed | Outcome::Surfaced => None,
        }
    }
}

/// Classifies how an LLM call ended from the guard, the status, the stream and Envoy's details.
pub(super) fn outcome_of(common: &Common, blocked: bool, provider_error: bool, end: &EndInfo) -> Outcome {
    if blocked {
        return Outcome::Blocked;
    }
    let details = end.code_details.as_deref().unwrap_or("");
    if details.contains("upstream_response_timeout") || details.contains("request_overall_timeout") {
        return Outcome::TimedOut;
    }
    if client_went_away(details) && common.response_end_ns.is_none() {
        return Outcome::Cancelled;
    }
    if common.response_end_ns.is_none() {
        return match common.status {
            // headers arrived, the body did not finish: the upstream went away
            Some(_) => Outcome::Truncated,
            None => Outcome::Cancelled,
        };
    }
    match common.status {
        Some(s) if s >= 400 => Outcome::Errored,
        None => Outcome::Errored,
        _ if provider_error => Outcome::Errored,
        _ => Outcome::Completed,
    }
}

/// Envoy's details for a client that left: an HTTP/1 client closes its connection
/// (`downstream_remote_disconnect`); an HTTP/2 client resets its stream and the connection stays
/// up, which the downstream codec reports as `http2.remote_reset` (measured in Envoy 1.40, with
/// response flag `DR`; `http2.remote_refuse` is its REFUSED_STREAM twin). An upstream's reset
/// reads `upstream_reset_...` and is not the client's doing.
fn client_went_away(details: &str) -> bool {
    details.contains("downstream_") || details.starts_with("http2.remote_")
}

/// The seed's step types, from the bodies.
pub(super) fn step_type(call: &LlmCall, outcome: Outcome) -> &'static str {
    if outcome == Outcome::Surfaced {
        "surface"
    } else if !call.tool_calls.is_empty() {
        "tool_call"
    } else if call.last_message_is_tool_result {
        "tool_result"
    } else if outcome == Outcome::Completed {
        "final"
    } else {
        "prompt"
    }
}

/// The first surface-tool call's `reason` argument, sanitised and cut; `None` when the model
/// called no surface tool.
pub(super) fn surface_of(cfg: &Config, call: &LlmCall) -> Option<String> {
    let t = call.tool_calls.iter().find(|t| cfg.tools.is_surface(&t.name))?;
    let reason = serde_json::from_str::<serde_json::Value>(&t.arguments)
        .ok()
        .and_then(|v| v.get("reason").and_then(|r| r.as_str()).map(str::to_owned))
        .unwrap_or_default();
    let clean = crate::scan::sanitize_for_telemetry(&cfg.guard, &reason);
    Some(crate::text::cut(&clean, cfg.tools.surface_reason_max_bytes).to_owned())
}
