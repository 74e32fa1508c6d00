//! The task slot's record format: the fields a task accumulates, and their little-endian
//! encoding (laid out in the parent module's doc).
//!
//! This module owns encoding and decoding a [`TaskRecord`] and the questions asked of one
//! (outcome, budget, first pass). It does not decide how a call or a tick changes a record
//! (the parent module) or what telemetry a record leaves (`telemetry`).

use crate::session::{cut, MAX_TEXT};
use crate::span::{SpanId, TraceId};

const MAGIC: u8 = b'U';
/// Distinct models remembered per task.
pub const MAX_MODELS: usize = 4;
/// Call spans a task record links to (the first ones).
pub const MAX_LINKS: usize = 4;
const FIXED_LEN: usize = 1 + 8 + 1 + 1 + 13 * 8 + 16 + 8 + 1;
/// The largest record a task slot can hold.
pub const MAX_RECORD_LEN: usize = FIXED_LEN + MAX_LINKS * 24 + 6 * (1 + MAX_TEXT) + 1 + MAX_MODELS * (1 + MAX_TEXT);

pub(super) const SURFACED: u8 = 1;
pub(super) const LAST_ERRORED: u8 = 2;
pub(super) const OVER_BUDGET: u8 = 4;
pub(super) const ANY_ERRORED: u8 = 8;
pub(super) const LAST_SURFACED: u8 = 16;

/// Where a task stands: the session's states, of which a task takes all but `Evicted` (a
/// task that loses its slot is replaced, not ended).
pub use crate::session::State;

/// A task's slot, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskRecord {
    pub tag: [u8; 8],
    pub state: State,
    pub(super) flags: u8,
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
        let mut rec = TaskRecord { tag: r.arr()?, state: State::from_byte(r.u8()?).filter(|s| *s != State::Evicted)?, flags: r.u8()?, ..TaskRecord::default() };
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
