//! What a finished call gives its task: the delta written to the task's slot and, when that
//! write ended the task (the end header), the task's record as telemetry.
//!
//! This module owns turning one call into a `task::CallDelta` and collecting what the write
//! says (the over-budget flag, the slot to watch, the ended record). It does not own the slot
//! format or the record's shape (`task`), nor the tick that ends idle tasks (`host::root`).

use super::common::Common;
use super::verdict::{Finished, LogOut, LogSink};
use crate::plugin::Config;
use crate::session::SharedData;
use crate::span::SpanId;
use crate::stats::{self, StatUpdate};
use crate::task::{self, CallDelta, TaskRecord};

/// What the call's write did to its task.
#[derive(Debug, Default)]
pub(super) struct TaskWrite {
    /// The task is past twice its budget (as of this call's arrival).
    pub over_budget: bool,
}

/// The per-call facts `task::CallDelta` needs that only the caller knows.
pub(super) struct CallFacts<'a> {
    pub llm: bool,
    pub end_ns: u64,
    pub usage: Option<&'a crate::providers::Usage>,
    pub cost_micro_usd: Option<u64>,
    pub outcome: &'a str,
    pub surface_reason: Option<&'a str>,
    /// Already sanitised for telemetry.
    pub model: Option<&'a str>,
}

/// Writes the call into its task's slot; an ended task's record goes into `out`.
pub(super) fn write<S: SharedData>(cfg: &Config, common: &Common, f: &CallFacts<'_>, store: &mut S, out: &mut Finished) -> TaskWrite {
    let mut w = TaskWrite::default();
    let idf = &common.identity;
    let Some(task_id) = idf.task_id.as_deref().filter(|_| cfg.sessions.enabled) else { return w };
    let clean = |s: &str| crate::scan::sanitize_for_telemetry(&cfg.guard, s).into_owned();
    let (task_id, spec, agent) = (clean(task_id), idf.spec_version.as_deref().map(clean), idf.agent_version.as_deref().map(clean));
    let agent_name = idf.agent.as_deref().map(clean);
    let reason = f.surface_reason.map(clean);
    let declared = idf.task_end.as_deref().map(clean);
    let u = f.usage.copied().unwrap_or_default();
    let split = crate::cost::split_tokens(&u);
    let d = CallDelta {
        task_id: &task_id,
        llm: f.llm,
        start_ms: common.start_ns / 1_000_000,
        end_ms: f.end_ns / 1_000_000,
        budget_ms: idf.task_budget_ms,
        input_tokens: u.input.unwrap_or(0),
        output_tokens: u.output.unwrap_or(0),
        cached_input_tokens: u.cache_read.unwrap_or(0),
        uncached_input_tokens: if u.input.is_some() { split.uncached_input } else { 0 },
        reasoning_tokens: u.reasoning.unwrap_or(0),
        cost_micro_usd: f.cost_micro_usd,
        outcome: f.outcome,
        surface_reason: reason.as_deref(),
        model: f.model,
        spec_version: spec.as_deref(),
        agent_version: agent.as_deref(),
        agent: agent_name.as_deref(),
        trace_id: common.trace_id,
        span_id: common.span_id,
        parent: common.parent,
        end: declared.as_deref(),
    };
    let Ok((key, a)) = task::record_call(store, &cfg.sessions, &d, f.end_ns / 1_000_000) else { return w };
    w.over_budget = a.over_budget;
    if a.newly_over_budget {
        out.stats.push(StatUpdate::new(stats::TASKS_OVER_BUDGET, &[], 1));
    }
    if a.ended {
        if cfg.sessions.task_records {
            // the task span's id: this call's, with its top bit flipped (random either way)
            let mut id: SpanId = common.span_id;
            id[0] ^= 0x80;
            emit_task(&a.record, id, common.trace_id, out);
        }
    } else {
        out.task_slot = Some(key.slot());
    }
    w
}

/// An ended task's span, log record and stats, into `out` (a call's, or the tick's).
pub fn emit_task(rec: &TaskRecord, span_id: SpanId, fallback_trace: crate::span::TraceId, out: &mut Finished) {
    let span = task::span(rec, span_id, fallback_trace);
    out.logs.push(LogOut { sink: LogSink::Task, record: task::log_record(&span) });
    task::stats(rec, &mut out.stats);
    out.spans.push(span);
}
