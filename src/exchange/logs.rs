//! The log records a finished call leaves: a spec-gap candidate when it is notable, and its
//! captured content when capture is on and the call is sampled.

use super::common::Common;
use super::llm::Captured;
use super::verdict::{LogOut, LogSink};
use crate::plugin::Config;
use crate::scan;
use crate::span::{attr, Attr, AttrValue, LogRecord, Severity, Span};

/// A candidate spec gap: its kind (`surfaced`, `blocked`, `errored`, `refused`,
/// `over_budget`) and its sanitised reason.
pub(super) struct Gap {
    pub kind: &'static str,
    pub reason: String,
}

/// The attributes a record copies from its (already sanitised) span.
const SPAN_KEYS: &[&str] = &[
    attr::GEN_AI_PROVIDER_NAME,
    attr::GEN_AI_REQUEST_MODEL,
    attr::GEN_AI_TOOL_NAME,
    attr::TAP_SPEC_VERSION,
    attr::TAP_AGENT_VERSION,
    attr::TAP_CORRELATION_ID,
    attr::TAP_TASK_ID,
    attr::SESSION_ID,
];

fn copy_from(span: &Span, into: &mut Vec<Attr>) {
    for (k, v) in &span.attributes {
        if SPAN_KEYS.contains(k) {
            into.push((k, v.clone()));
        }
    }
}

/// The spec-gap record for `gap` on `span`'s trace.
pub(super) fn spec_gap(span: &Span, common: &Common, gap: Gap) -> LogOut {
    let Gap { kind, reason } = gap;
    let mut attributes = vec![(attr::TAP_SPEC_GAP_KIND, AttrValue::from(kind)), (attr::TAP_SPEC_GAP_REASON, AttrValue::from(reason.as_str()))];
    copy_from(span, &mut attributes);
    LogOut {
        sink: LogSink::SpecGap,
        record: LogRecord {
            time_unix_nano: span.end_time_unix_nano,
            severity: Severity::Warn,
            event_name: "genai_tap.spec_gap.candidate",
            body: format!("candidate spec gap: {kind} call to {} ({reason})", common.host),
            attributes,
            trace_id: span.trace_id,
            span_id: span.span_id,
        },
    }
}

/// The spec-gap candidate (when `gap` is set and spec-gap records are on) and the captured
/// content (when capture is on and the call is sampled; `notable` calls can always be) of a
/// finished LLM call.
pub(super) fn records(cfg: &Config, span: &Span, common: &Common, gap: Option<Gap>, notable: bool, captured: Option<Captured>) -> Vec<LogOut> {
    let mut out = Vec::new();
    if let (true, Some(gap)) = (cfg.spec_gap, gap) {
        out.push(spec_gap(span, common, gap));
    }
    let (Some(cap), Some(c)) = (cfg.content.capture.as_ref(), captured) else { return out };
    // the span id is random: its top bits are a fair coin for sampling
    let draw = u64::from_be_bytes(span.span_id) as f64 / u64::MAX as f64;
    if !(draw < cap.sample_rate || (cap.always_on_surface_or_error && notable)) {
        return out;
    }
    for (part, bytes, truncated) in [("prompt", c.prompt, c.prompt_truncated), ("completion", c.completion, c.completion_truncated)] {
        if bytes.is_empty() {
            continue;
        }
        let clean = scan::redact_all(&cfg.guard, &bytes);
        let mut attributes = vec![
            (attr::TAP_CONTENT_PART, AttrValue::from(part)),
            (attr::TAP_RETENTION_BUCKET, AttrValue::from(cap.bucket.as_str())),
            (attr::TAP_CONTENT_TRUNCATED, AttrValue::Bool(truncated)),
        ];
        copy_from(span, &mut attributes);
        out.push(LogOut {
            sink: LogSink::Capture,
            record: LogRecord {
                time_unix_nano: span.end_time_unix_nano,
                severity: Severity::Info,
                event_name: if part == "prompt" { "genai_tap.content.prompt" } else { "genai_tap.content.completion" },
                body: String::from_utf8_lossy(&clean).into_owned(),
                attributes,
                trace_id: span.trace_id,
                span_id: span.span_id,
            },
        });
    }
    out
}
