//! The task as a first-class record: what a task's slot accumulates, when the task is over,
//! and the `invoke_agent` span, log record and stats it leaves.
//!
//! This module owns the task slot's record format, the pure updates a finished call
//! ([`apply_call`]) and the root tick ([`apply_check`]) make to it, and building the record's
//! telemetry ([`span`], [`log_record`], [`stats`]). It does not touch proxy-wasm and never
//! reads a clock: the host hands it a [`SharedData`] and `now_ms`. The slot keys, their tags
//! and the compare-and-swap loop are `session`'s ([`SlotKey::task`], [`update`]).
//!
//! # One record per task
//!
//! Every worker that finishes a call of a task adds to the task's slot, and remembers the
//! slot's index (at most `sessions.max_tasks` of them, so bounded by construction). A task
//! ends in one of two ways, each a state change of the slot written with CAS:
//!
//! - a call carries the end header (`identity.task_end_header`): the worker finishing it adds
//!   the call and marks the record ended in the same write;
//! - the task has been idle for `sessions.task_idle_timeout_ms`: every worker that remembers
//!   the slot checks it on its tick, and the one whose CAS marks it ended wins.
//!
//! Only the worker whose write moved the record from live to ended emits it; the others read
//! an ended record and forget the slot. So each proxy emits exactly one record per task (a
//! write that loses the race is retried from the new state, which is then ended). A call of
//! the same task id that arrives after the end starts a new task.
//!
//! The budget flag works the same way: the first write (a call's or a tick's) that sees the
//! task past twice its declared budget sets a flag bit and counts `tasks_over_budget` once.
//!
//! # Fleet scale
//!
//! Shared data is per proxy. When a task's calls pass through several proxies, each emits its
//! own part. A proxy cannot know whether it saw every call, so every record is marked
//! `genai_tap.task.partial`, says which proxy wrote it (`service.instance.id` on the
//! resource), and carries only counts and sums, which add up across proxies. The merge query
//! is in `docs/operators.md`.
//!
//! # Record (little-endian), at most [`record::MAX_RECORD_LEN`] bytes
//!
//! `'U'`, tag[8], state u8 (0 live, 1 ended by header, 2 ended idle), flags u8, thirteen u64
//! (start_ms, last_seen_ms, end_ms, budget_ms, llm_calls, tool_calls, input, output,
//! cached_input, uncached_input, reasoning, cost_micro_usd, unpriced_calls), trace_id[16],
//! parent span id[8] (zeros: none), n links (u8) then n × (trace id[16], span id[8]), then
//! six texts (task id, spec version, agent version, surface reason, declared outcome, agent
//! name) and
//! n models (u8) then n texts; a text is a length (u8) and at most [`crate::session::MAX_TEXT`] bytes.

mod record;
mod telemetry;

pub use record::{State, TaskRecord, MAX_LINKS, MAX_MODELS};
#[cfg(test)]
pub use record::MAX_RECORD_LEN;
pub use telemetry::{log_record, span, stats};

use record::{ANY_ERRORED, LAST_ERRORED, LAST_SURFACED, OVER_BUDGET, SURFACED};
use crate::session::{cut, update, Limits, SharedData, SlotKey, UpdateError};
use crate::span::{SpanId, TraceId};

/// What one finished call adds to its task. Texts are already sanitised for telemetry.
#[derive(Debug, Clone, Default)]
pub struct CallDelta<'a> {
    pub task_id: &'a str,
    /// An LLM call (else a tool call).
    pub llm: bool,
    /// When the request arrived, and when the call ended (Unix ms).
    pub start_ms: u64,
    pub end_ms: u64,
    pub budget_ms: Option<u64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_input_tokens: u64,
    pub uncached_input_tokens: u64,
    pub reasoning_tokens: u64,
    /// `None` for an unpriced LLM call (or a tool call, which has no price).
    pub cost_micro_usd: Option<u64>,
    /// The call's outcome (`Outcome::as_str`).
    pub outcome: &'a str,
    pub surface_reason: Option<&'a str>,
    pub model: Option<&'a str>,
    pub spec_version: Option<&'a str>,
    pub agent_version: Option<&'a str>,
    pub agent: Option<&'a str>,
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent: Option<SpanId>,
    /// The end header's value: the task ends with this call.
    pub end: Option<&'a str>,
}

/// What a write did to the task, beyond the new bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// The record after the write.
    pub record: TaskRecord,
    /// How long the task had run when this call arrived.
    pub elapsed_ms: u64,
    /// The budget in force: this call's header, else the first one the task declared.
    pub budget_ms: Option<u64>,
    /// The task is past twice its budget.
    pub over_budget: bool,
    /// This write set the over-budget flag: count `tasks_over_budget` once.
    pub newly_over_budget: bool,
    /// This write ended the task: emit its record.
    pub ended: bool,
}

/// True when a task that has run `elapsed_ms` is past twice its budget.
pub fn over_budget(elapsed_ms: u64, budget_ms: u64) -> bool {
    budget_ms > 0 && elapsed_ms > budget_ms.saturating_mul(2)
}

fn live_record(cfg: &Limits, key: &SlotKey, prev: Option<&[u8]>, now_ms: u64) -> Option<TaskRecord> {
    let r = TaskRecord::decode(prev?)?;
    let live = r.state == State::Live && r.tag == key.tag() && now_ms.saturating_sub(r.last_seen_ms) < cfg.idle_ttl_ms;
    live.then_some(r)
}

/// Adds one finished call to the task in `key`'s slot.
pub fn apply_call(cfg: &Limits, key: &SlotKey, prev: Option<&[u8]>, d: &CallDelta<'_>, now_ms: u64) -> Applied {
    let mut rec = live_record(cfg, key, prev, now_ms).unwrap_or_else(|| TaskRecord {
        tag: key.tag(),
        start_ms: d.start_ms,
        last_seen_ms: d.end_ms,
        trace_id: d.trace_id,
        parent: d.parent.unwrap_or_default(),
        task_id: cut(d.task_id).to_owned(),
        ..TaskRecord::default()
    });
    rec.start_ms = rec.start_ms.min(d.start_ms);
    rec.last_seen_ms = rec.last_seen_ms.max(d.end_ms);
    if d.llm {
        rec.llm_calls = rec.llm_calls.saturating_add(1);
        match d.cost_micro_usd {
            Some(c) => rec.cost_micro_usd = rec.cost_micro_usd.saturating_add(c),
            None => rec.unpriced_calls = rec.unpriced_calls.saturating_add(1),
        }
        let errored = matches!(d.outcome, "errored" | "blocked" | "timed_out" | "cancelled");
        rec.flags = (rec.flags & !(LAST_ERRORED | LAST_SURFACED)) | if errored { LAST_ERRORED | ANY_ERRORED } else { 0 };
        if d.outcome == "surfaced" {
            rec.flags |= LAST_SURFACED;
        }
    } else {
        rec.tool_calls = rec.tool_calls.saturating_add(1);
        if matches!(d.outcome, "errored" | "blocked") {
            rec.flags |= ANY_ERRORED;
        }
    }
    for (sum, v) in [
        (&mut rec.input_tokens, d.input_tokens),
        (&mut rec.output_tokens, d.output_tokens),
        (&mut rec.cached_input_tokens, d.cached_input_tokens),
        (&mut rec.uncached_input_tokens, d.uncached_input_tokens),
        (&mut rec.reasoning_tokens, d.reasoning_tokens),
    ] {
        *sum = sum.saturating_add(v);
    }
    if d.outcome == "surfaced" {
        rec.flags |= SURFACED;
        if let Some(r) = d.surface_reason {
            rec.surface_reason = cut(r).to_owned();
        }
    }
    if let Some(m) = d.model.filter(|m| !m.is_empty()) {
        let m = cut(m);
        if rec.models.len() < MAX_MODELS && !rec.models.iter().any(|x| x == m) {
            rec.models.push(m.to_owned());
        }
    }
    for (field, v) in [(&mut rec.spec_version, d.spec_version), (&mut rec.agent_version, d.agent_version), (&mut rec.agent, d.agent)] {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            *field = cut(v).to_owned();
        }
    }
    if rec.links.len() < MAX_LINKS {
        rec.links.push((d.trace_id, d.span_id));
    }
    if rec.budget_ms == 0 {
        rec.budget_ms = d.budget_ms.unwrap_or(0);
    }
    let budget = d.budget_ms.or((rec.budget_ms > 0).then_some(rec.budget_ms));
    let elapsed_ms = d.start_ms.saturating_sub(rec.start_ms);
    let over = budget.is_some_and(|b| over_budget(elapsed_ms, b));
    let newly_over_budget = over && rec.flags & OVER_BUDGET == 0;
    if over {
        rec.flags |= OVER_BUDGET;
    }
    let ended = d.end.is_some();
    if let Some(declared) = d.end {
        rec.state = State::EndedByHeader;
        rec.end_ms = rec.last_seen_ms;
        rec.declared = cut(declared.trim()).to_ascii_lowercase();
    }
    Applied { record: rec, elapsed_ms, budget_ms: budget, over_budget: over, newly_over_budget, ended }
}

/// What the tick found in a slot it watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// A live task, nothing to write.
    Live,
    /// Nothing live is there any more (absent, ended, unreadable): stop watching the slot.
    Forget,
    /// This write changed the task: it `ended` (emit it) and/or was `newly_over_budget`.
    Changed { record: Box<TaskRecord>, ended: bool, newly_over_budget: bool },
}

/// The tick's look at a task slot: ends a task idle past `idle_timeout_ms`, and flags one that
/// has run past twice its budget while it is still running. `None` bytes: nothing to write.
pub fn apply_check(cfg: &Limits, idle_timeout_ms: u64, prev: Option<&[u8]>, now_ms: u64) -> (Option<Vec<u8>>, Check) {
    let Some(mut rec) = prev.and_then(TaskRecord::decode) else { return (None, Check::Forget) };
    if rec.state != State::Live || now_ms.saturating_sub(rec.last_seen_ms) >= cfg.idle_ttl_ms.max(idle_timeout_ms) {
        return (None, Check::Forget);
    }
    let ended = now_ms.saturating_sub(rec.last_seen_ms) >= idle_timeout_ms;
    let running_ms = if ended { rec.last_seen_ms } else { now_ms }.saturating_sub(rec.start_ms);
    let newly_over_budget = over_budget(running_ms, rec.budget_ms) && rec.flags & OVER_BUDGET == 0;
    if !ended && !newly_over_budget {
        return (None, Check::Live);
    }
    if newly_over_budget {
        rec.flags |= OVER_BUDGET;
    }
    if ended {
        rec.state = State::EndedIdle;
        rec.end_ms = rec.last_seen_ms;
    }
    (Some(rec.encode()), Check::Changed { record: Box::new(rec), ended, newly_over_budget })
}

/// Adds a finished call to its task in shared data.
pub fn record_call<S: SharedData>(store: &mut S, cfg: &Limits, d: &CallDelta<'_>, now_ms: u64) -> Result<(SlotKey, Applied), UpdateError> {
    let key = SlotKey::task(cfg, d.task_id);
    let applied = update(store, key.shared_data_key(), |prev| {
        let a = apply_call(cfg, &key, prev, d, now_ms);
        (a.record.encode(), a)
    })?;
    Ok((key, applied))
}

/// The tick's check of one watched slot, written with CAS when it changes the task.
pub fn check_slot<S: SharedData>(store: &mut S, cfg: &Limits, idle_timeout_ms: u64, slot: u32, now_ms: u64) -> Result<Check, UpdateError> {
    let key = SlotKey::task_slot(slot);
    for _ in 0..crate::session::MAX_CAS_ATTEMPTS {
        let (prev, cas) = store.get(key.shared_data_key());
        let (bytes, check) = apply_check(cfg, idle_timeout_ms, prev.as_deref(), now_ms);
        let Some(bytes) = bytes else { return Ok(check) };
        match store.set(key.shared_data_key(), &bytes, cas) {
            Ok(()) => return Ok(check),
            Err(crate::session::SetError::CasMismatch) => continue,
            Err(crate::session::SetError::Host) => return Err(UpdateError::Host),
        }
    }
    Err(UpdateError::Contended)
}

#[cfg(test)]
mod tests;
