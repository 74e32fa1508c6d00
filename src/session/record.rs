//! An ended session as telemetry: its `genai_tap.session` span, the matching log record and
//! its stats.
//!
//! This module owns the record's shape and attribute set. It does not own the slot, its end
//! or who emits it (`session`), nor where the record goes (`exchange` for a call that ended
//! it, `host::root`'s tick for an idle end).

use super::SessionRecord;
use crate::span::{attr, AttrValue, Link, LogRecord, Severity, Span, SpanId, SpanKind, StatusCode, TraceId};
use crate::stats::{self, StatUpdate};

/// The session's INTERNAL span. A session spans many traces (a task or a turn each), so the
/// span starts a trace of its own (`trace_id`, random) and links to the session's first call.
pub fn span(rec: &SessionRecord, span_id: SpanId, trace_id: TraceId) -> Span {
    let t = &rec.totals;
    let links = if rec.first_trace_id != [0; 16] && rec.first_span_id != [0; 8] {
        vec![Link { trace_id: rec.first_trace_id, span_id: rec.first_span_id, attributes: Vec::new() }]
    } else {
        Vec::new()
    };
    let mut s = Span {
        trace_id,
        span_id,
        parent_span_id: None,
        trace_state: String::new(),
        name: "genai_tap.session".to_owned(),
        kind: SpanKind::Internal,
        start_time_unix_nano: t.first_seen_ms.saturating_mul(1_000_000),
        end_time_unix_nano: rec.end_ms.max(t.first_seen_ms).saturating_mul(1_000_000),
        attributes: Vec::with_capacity(16),
        events: Vec::new(),
        links,
        status: StatusCode::Unset,
        status_message: String::new(),
    };
    s.set(attr::SESSION_ID, rec.session_id.as_str());
    s.set(attr::GEN_AI_CONVERSATION_ID, rec.session_id.as_str());
    if !rec.user_hash.is_empty() {
        s.set(attr::USER_ID_HASH, rec.user_hash.as_str());
    }
    if !rec.agent.is_empty() {
        s.set(attr::GEN_AI_AGENT_NAME, rec.agent.as_str());
    }
    s.set(attr::TAP_SESSION_END_REASON, rec.state.end_reason());
    s.set(attr::TAP_SESSION_START_MS, t.first_seen_ms);
    s.set(attr::TAP_SESSION_END_MS, rec.end_ms);
    s.set(attr::TAP_SESSION_DURATION_MS, rec.end_ms.saturating_sub(t.first_seen_ms));
    s.set(attr::TAP_SESSION_CALLS, t.calls);
    s.set(attr::TAP_SESSION_TASKS, t.tasks);
    s.set(attr::TAP_SESSION_INPUT_TOKENS, t.input_tokens);
    s.set(attr::TAP_SESSION_OUTPUT_TOKENS, t.output_tokens);
    s.set(attr::TAP_SESSION_COST_USD, rec.cost_usd());
    s.set(attr::TAP_SESSION_UNPRICED_CALLS, t.unpriced_calls);
    // a proxy cannot know whether it saw every call of the session: its part adds up with the
    // other proxies' parts (counts and sums only)
    s.set(attr::TAP_SESSION_PARTIAL, true);
    s
}

/// The matching log record, on the session span's trace, for backends that prefer logs.
pub fn log_record(span: &Span) -> LogRecord {
    let text = |k| match span.attr(k) {
        Some(AttrValue::Str(s)) => s,
        _ => "",
    };
    LogRecord {
        time_unix_nano: span.end_time_unix_nano,
        severity: Severity::Info,
        event_name: "genai_tap.session.record",
        body: format!("session {} ended ({})", text(attr::SESSION_ID), text(attr::TAP_SESSION_END_REASON)),
        attributes: span.attributes.clone(),
        trace_id: span.trace_id,
        span_id: span.span_id,
    }
}

/// The stat updates of an ended session: `sessions{reason, agent}` and the tasks it held.
pub fn stats(rec: &SessionRecord, out: &mut Vec<StatUpdate>) {
    let mut labels = vec![("reason", rec.state.end_reason())];
    if !rec.agent.is_empty() {
        labels.push(("agent", rec.agent.as_str()));
    }
    out.push(StatUpdate::new(stats::SESSIONS, &labels, 1));
    out.push(StatUpdate::new(stats::SESSION_TASKS, &labels[1..], i64::try_from(rec.totals.tasks).unwrap_or(i64::MAX)));
}
