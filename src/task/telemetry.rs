//! What an ended task leaves behind: its `invoke_agent` span, the log record beside it, and
//! its stats.
//!
//! This module owns building that telemetry from a [`TaskRecord`], as pure functions. It does
//! not decide when a task ends (the parent module) or how a record is stored (`record`).

use super::TaskRecord;
use crate::span::{attr, Attr, AttrValue, Link, LogRecord, Severity, Span, SpanId, SpanKind, StatusCode, TraceId};
use crate::stats::{self, StatUpdate};

/// The task's `invoke_agent` INTERNAL span. It joins the first call's trace under the agent's
/// own span when the agent propagated one, and links to the first [`MAX_LINKS`](super::MAX_LINKS) call spans.
pub fn span(rec: &TaskRecord, span_id: SpanId, fallback_trace: TraceId) -> Span {
    let trace_id = if rec.trace_id == [0; 16] { fallback_trace } else { rec.trace_id };
    let mut s = Span {
        trace_id,
        span_id,
        parent_span_id: (rec.parent != [0; 8] && rec.trace_id != [0; 16]).then_some(rec.parent),
        trace_state: String::new(),
        name: "invoke_agent".to_owned(),
        kind: SpanKind::Internal,
        start_time_unix_nano: rec.start_ms.saturating_mul(1_000_000),
        end_time_unix_nano: rec.end_ms.max(rec.start_ms).saturating_mul(1_000_000),
        attributes: Vec::with_capacity(32),
        events: Vec::new(),
        links: rec.links.iter().map(|(t, id)| Link { trace_id: *t, span_id: *id, attributes: Vec::new() }).collect(),
        status: StatusCode::Unset,
        status_message: String::new(),
    };
    for (k, v) in attributes(rec) {
        s.set(k, v);
    }
    if rec.outcome() == "errored" {
        s.status = StatusCode::Error;
        s.set(attr::ERROR_TYPE, "task_errored");
    }
    s
}

/// The record's attributes, shared by the span and the log record.
pub fn attributes(rec: &TaskRecord) -> Vec<Attr> {
    let mut a: Vec<Attr> = vec![
        (attr::GEN_AI_OPERATION_NAME, "invoke_agent".into()),
        (attr::TAP_TASK_ID, rec.task_id.as_str().into()),
        (attr::TAP_CORRELATION_ID, rec.task_id.as_str().into()),
        (attr::TAP_TASK_OUTCOME, rec.outcome().into()),
        (attr::TAP_TASK_END_REASON, rec.state.end_reason().into()),
        (attr::TAP_TASK_START_MS, rec.start_ms.into()),
        (attr::TAP_TASK_END_MS, rec.end_ms.into()),
        (attr::TAP_TASK_DURATION_MS, rec.end_ms.saturating_sub(rec.start_ms).into()),
        (attr::TAP_TASK_LLM_CALLS, rec.llm_calls.into()),
        (attr::TAP_TASK_TOOL_CALLS, rec.tool_calls.into()),
        (attr::GEN_AI_USAGE_INPUT_TOKENS, rec.input_tokens.into()),
        (attr::GEN_AI_USAGE_OUTPUT_TOKENS, rec.output_tokens.into()),
        (attr::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, rec.cached_input_tokens.into()),
        (attr::TAP_USAGE_UNCACHED_INPUT_TOKENS, rec.uncached_input_tokens.into()),
        (attr::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, rec.reasoning_tokens.into()),
        (attr::TAP_COST_USD, rec.cost_usd().into()),
        (attr::TAP_TASK_UNPRICED_CALLS, rec.unpriced_calls.into()),
        (attr::TAP_TASK_OVER_BUDGET, rec.over_budget().into()),
        (attr::TAP_TASK_FIRST_PASS, rec.first_pass().into()),
        // a proxy cannot know whether it saw every call of the task: its part adds up with
        // the other proxies' parts (counts and sums only)
        (attr::TAP_TASK_PARTIAL, true.into()),
    ];
    if rec.budget_ms > 0 {
        a.push((attr::TAP_TASK_BUDGET_MS, rec.budget_ms.into()));
    }
    if !rec.surface_reason.is_empty() && rec.outcome() == "surfaced" {
        a.push((attr::TAP_SURFACE_REASON, rec.surface_reason.as_str().into()));
    }
    if !rec.spec_version.is_empty() {
        a.push((attr::TAP_SPEC_VERSION, rec.spec_version.as_str().into()));
    }
    if !rec.agent_version.is_empty() {
        a.push((attr::TAP_AGENT_VERSION, rec.agent_version.as_str().into()));
        a.push((attr::GEN_AI_AGENT_VERSION, rec.agent_version.as_str().into()));
    }
    if !rec.agent.is_empty() {
        a.push((attr::GEN_AI_AGENT_NAME, rec.agent.as_str().into()));
    }
    if !rec.models.is_empty() {
        a.push((attr::TAP_TASK_MODELS, AttrValue::StrList(rec.models.clone())));
    }
    a
}

/// The matching log record, on the task span's trace, for backends that prefer logs.
pub fn log_record(span: &Span) -> LogRecord {
    LogRecord {
        time_unix_nano: span.end_time_unix_nano,
        severity: Severity::Info,
        event_name: "genai_tap.task.record",
        body: format!(
            "task {} ended ({})",
            match span.attr(attr::TAP_TASK_ID) {
                Some(AttrValue::Str(s)) => s,
                _ => "",
            },
            match span.attr(attr::TAP_TASK_OUTCOME) {
                Some(AttrValue::Str(s)) => s,
                _ => "",
            }
        ),
        attributes: span.attributes.clone(),
        trace_id: span.trace_id,
        span_id: span.span_id,
    }
}

/// The stat updates of an ended task.
/// The cohort labels (`spec_version`, `agent_version`, `agent`) are there only when the task's
/// calls carried the headers, and are capped like every label.
pub fn stats(rec: &TaskRecord, out: &mut Vec<StatUpdate>) {
    let mut labels = vec![("outcome", rec.outcome())];
    if !rec.spec_version.is_empty() {
        labels.push(("spec_version", rec.spec_version.as_str()));
    }
    if !rec.agent_version.is_empty() {
        labels.push(("agent_version", rec.agent_version.as_str()));
    }
    if !rec.agent.is_empty() {
        labels.push(("agent", rec.agent.as_str()));
    }
    out.push(StatUpdate::new(stats::TASKS, &labels, 1));
    if rec.first_pass() {
        out.push(StatUpdate::new(stats::TASKS_FIRST_PASS, &labels[1..], 1));
    }
}
