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
//! # Record (little-endian), at most [`MAX_RECORD_LEN`] bytes
//!
//! `'U'`, tag[8], state u8 (0 live, 1 ended by header, 2 ended idle), flags u8, thirteen u64
//! (start_ms, last_seen_ms, end_ms, budget_ms, llm_calls, tool_calls, input, output,
//! cached_input, uncached_input, reasoning, cost_micro_usd, unpriced_calls), trace_id[16],
//! parent span id[8] (zeros: none), n links (u8) then n × (trace id[16], span id[8]), then
//! six texts (task id, spec version, agent version, surface reason, declared outcome, agent
//! name) and
//! n models (u8) then n texts; a text is a length (u8) and at most [`MAX_TEXT`] bytes.

use crate::session::{update, Limits, SharedData, SlotKey, UpdateError};
use crate::span::{attr, Attr, AttrValue, Link, LogRecord, Severity, Span, SpanId, SpanKind, StatusCode, TraceId};
use crate::stats::{self, StatUpdate};

const MAGIC: u8 = b'U';
/// The longest text kept in a record, in bytes (cut on a character boundary).
pub const MAX_TEXT: usize = 64;
/// Distinct models remembered per task.
pub const MAX_MODELS: usize = 4;
/// Call spans a task record links to (the first ones).
pub const MAX_LINKS: usize = 4;
const FIXED_LEN: usize = 1 + 8 + 1 + 1 + 13 * 8 + 16 + 8 + 1;
/// The largest record a task slot can hold.
pub const MAX_RECORD_LEN: usize = FIXED_LEN + MAX_LINKS * 24 + 6 * (1 + MAX_TEXT) + 1 + MAX_MODELS * (1 + MAX_TEXT);

const SURFACED: u8 = 1;
const LAST_ERRORED: u8 = 2;
const OVER_BUDGET: u8 = 4;
const ANY_ERRORED: u8 = 8;
const LAST_SURFACED: u8 = 16;

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum State {
    #[default]
    Live,
    /// A call said so (`identity.task_end_header`).
    EndedByHeader,
    /// Idle past `sessions.task_idle_timeout_ms`.
    EndedIdle,
}

impl State {
    fn byte(self) -> u8 {
        match self {
            State::Live => 0,
            State::EndedByHeader => 1,
            State::EndedIdle => 2,
        }
    }

    fn from_byte(b: u8) -> Option<State> {
        match b {
            0 => Some(State::Live),
            1 => Some(State::EndedByHeader),
            2 => Some(State::EndedIdle),
            _ => None,
        }
    }

    /// `genai_tap.task.end_reason`.
    pub fn end_reason(self) -> &'static str {
        match self {
            State::Live => "live",
            State::EndedByHeader => "header",
            State::EndedIdle => "idle",
        }
    }
}

/// A task's slot, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskRecord {
    pub tag: [u8; 8],
    pub state: State,
    flags: u8,
    pub start_ms: u64,
    pub last_seen_ms: u64,
    /// When the task ended (the ending call, or the last activity of an idle task).
    pub end_ms: u64,
    /// 0: none declared.
    pub budget_ms: u64,
    pub llm_calls: u64,
    pub tool_calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_input_tokens: u64,
    pub uncached_input_tokens: u64,
    pub reasoning_tokens: u64,
    pub cost_micro_usd: u64,
    pub unpriced_calls: u64,
    /// The first call's trace, and its parent span (the agent's, when it propagated one).
    pub trace_id: TraceId,
    pub parent: SpanId,
    pub links: Vec<(TraceId, SpanId)>,
    pub task_id: String,
    pub spec_version: String,
    pub agent_version: String,
    pub surface_reason: String,
    /// The outcome the end header declared, if it named one.
    pub declared: String,
    /// The agent's name (`identity.agent_header`), the latest a call carried.
    pub agent: String,
    pub models: Vec<String>,
}

fn cut(s: &str) -> &str {
    if s.len() <= MAX_TEXT {
        return s;
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let out = self.bytes.get(self.at..self.at + n)?;
        self.at += n;
        Some(out)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn arr<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn text(&mut self) -> Option<String> {
        let n = usize::from(self.u8()?);
        if n > MAX_TEXT {
            return None;
        }
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

impl TaskRecord {
    /// The outcome by the chapter's four values: `completed`, `surfaced`, `errored`,
    /// `timed_out` (spelled as the call outcomes are). An end header may declare one of the
    /// first three; otherwise a task takes its last LLM call's outcome, except that a task
    /// that stopped calling without a surface is `timed_out`: the proxy never learned it was
    /// done (a surfaced task is waiting for a person, and says so).
    pub fn outcome(&self) -> &'static str {
        match self.declared.as_str() {
            "completed" => return "completed",
            "surfaced" => return "surfaced",
            "errored" => return "errored",
            _ => {}
        }
        match self.state {
            State::EndedIdle if self.flags & LAST_SURFACED != 0 => "surfaced",
            State::EndedIdle => "timed_out",
            _ if self.flags & LAST_ERRORED != 0 => "errored",
            _ if self.flags & SURFACED != 0 => "surfaced",
            _ => "completed",
        }
    }

    /// Whether the task ran past twice its declared budget (flagged once, on time).
    pub fn over_budget(&self) -> bool {
        self.flags & OVER_BUDGET != 0
    }

    /// First-pass acceptance, as far as a proxy can see it: the task completed, and none of
    /// its calls surfaced, errored (or was blocked), and it stayed within its budget.
    pub fn first_pass(&self) -> bool {
        self.outcome() == "completed" && self.flags & (SURFACED | ANY_ERRORED | OVER_BUDGET) == 0
    }

    pub fn cost_usd(&self) -> f64 {
        self.cost_micro_usd as f64 / 1e6
    }

    pub fn decode(bytes: &[u8]) -> Option<TaskRecord> {
        let mut r = Reader { bytes, at: 0 };
        if r.u8()? != MAGIC {
            return None;
        }
        let mut rec = TaskRecord { tag: r.arr()?, state: State::from_byte(r.u8()?)?, flags: r.u8()?, ..TaskRecord::default() };
        for f in [
            &mut rec.start_ms,
            &mut rec.last_seen_ms,
            &mut rec.end_ms,
            &mut rec.budget_ms,
            &mut rec.llm_calls,
            &mut rec.tool_calls,
            &mut rec.input_tokens,
            &mut rec.output_tokens,
            &mut rec.cached_input_tokens,
            &mut rec.uncached_input_tokens,
            &mut rec.reasoning_tokens,
            &mut rec.cost_micro_usd,
            &mut rec.unpriced_calls,
        ] {
            *f = r.u64()?;
        }
        rec.trace_id = r.arr()?;
        rec.parent = r.arr()?;
        let n = usize::from(r.u8()?);
        if n > MAX_LINKS {
            return None;
        }
        for _ in 0..n {
            rec.links.push((r.arr()?, r.arr()?));
        }
        rec.task_id = r.text()?;
        rec.spec_version = r.text()?;
        rec.agent_version = r.text()?;
        rec.surface_reason = r.text()?;
        rec.declared = r.text()?;
        rec.agent = r.text()?;
        let n = usize::from(r.u8()?);
        if n > MAX_MODELS {
            return None;
        }
        for _ in 0..n {
            rec.models.push(r.text()?);
        }
        (r.at == bytes.len()).then_some(rec)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MAX_RECORD_LEN);
        out.push(MAGIC);
        out.extend_from_slice(&self.tag);
        out.push(self.state.byte());
        out.push(self.flags);
        for v in [
            self.start_ms,
            self.last_seen_ms,
            self.end_ms,
            self.budget_ms,
            self.llm_calls,
            self.tool_calls,
            self.input_tokens,
            self.output_tokens,
            self.cached_input_tokens,
            self.uncached_input_tokens,
            self.reasoning_tokens,
            self.cost_micro_usd,
            self.unpriced_calls,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.trace_id);
        out.extend_from_slice(&self.parent);
        let links = &self.links[..self.links.len().min(MAX_LINKS)];
        out.push(links.len() as u8);
        for (t, s) in links {
            out.extend_from_slice(t);
            out.extend_from_slice(s);
        }
        let text = |out: &mut Vec<u8>, s: &str| {
            let s = cut(s);
            out.push(s.len() as u8);
            out.extend_from_slice(s.as_bytes());
        };
        for s in [&self.task_id, &self.spec_version, &self.agent_version, &self.surface_reason, &self.declared, &self.agent] {
            text(&mut out, s);
        }
        let models = &self.models[..self.models.len().min(MAX_MODELS)];
        out.push(models.len() as u8);
        for m in models {
            text(&mut out, m);
        }
        out
    }
}

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

/// The task's `invoke_agent` INTERNAL span. It joins the first call's trace under the agent's
/// own span when the agent propagated one, and links to the first [`MAX_LINKS`] call spans.
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
                Some(AttrValue::Str(s)) => s.as_str(),
                _ => "",
            },
            match span.attr(attr::TAP_TASK_OUTCOME) {
                Some(AttrValue::Str(s)) => s.as_str(),
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

#[cfg(test)]
mod tests;
