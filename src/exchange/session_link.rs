//! What a finished LLM call gives its session: the delta written to the session's slot and,
//! when that write ended a session (the end header, or a session it found idle or evicted),
//! the session's record as telemetry.
//!
//! This module owns turning one call into a `session::CallDelta` and collecting what the write
//! says (the totals, the slot to watch, the ended records). It does not own the slot format
//! (`session`), the record's shape (`session::record`), nor the tick that ends idle sessions
//! (`host::root`).

use super::common::Common;
use super::verdict::{Finished, LogOut, LogSink};
use crate::plugin::Config;
use crate::providers::Usage;
use crate::session::{self, record, SessionRecord, SessionTotals, SharedData};
use crate::span::{SpanId, TraceId};

/// Writes the call into its session's slot; ended sessions' records go into `out`. Returns
/// the session's totals after the call.
pub(super) fn write<S: SharedData>(cfg: &Config, common: &Common, usage: Usage, cost_micro_usd: Option<u64>, end_ns: u64, store: &mut S, out: &mut Finished) -> Option<SessionTotals> {
    let idf = &common.identity;
    let sid = idf.session_id.as_deref()?;
    let clean = |s: &str| crate::scan::sanitize_for_telemetry(&cfg.guard, s).into_owned();
    let (id_text, agent) = (clean(sid), idf.agent.as_deref().map(clean));
    let delta = session::CallDelta {
        input_tokens: usage.input.unwrap_or(0),
        output_tokens: usage.output.unwrap_or(0),
        cost_micro_usd,
        task_id: idf.task_id.as_deref(),
        session_id: &id_text,
        user_hash: idf.user_hash.as_deref(),
        agent: agent.as_deref(),
        trace_id: common.trace_id,
        span_id: common.span_id,
        end: idf.session_end,
        start_ms: common.start_ns / 1_000_000,
    };
    let upd = session::record_call(store, &cfg.sessions, sid, &delta, end_ns / 1_000_000).ok()?;
    let ended_here = upd.ended.iter().any(|r| r.state == session::State::EndedByHeader);
    if !ended_here {
        out.session_slot = Some(session::SlotKey::session(&cfg.sessions, sid).slot());
    }
    if cfg.sessions.session_records {
        for (i, rec) in upd.ended.iter().enumerate() {
            // random ids of this call's, changed apart from its own span and from each other
            let (mut trace, mut id) = (common.fresh_trace_id, common.span_id);
            trace[0] ^= 0x80;
            trace[1] ^= i as u8;
            id[0] ^= 0x40;
            id[1] ^= i as u8;
            emit_session(rec, id, trace, out);
        }
    }
    Some(upd.totals)
}

/// An ended session's span, log record and stats, into `out` (a call's, or the tick's).
pub fn emit_session(rec: &SessionRecord, span_id: SpanId, trace_id: TraceId, out: &mut Finished) {
    let span = record::span(rec, span_id, trace_id);
    out.logs.push(LogOut { sink: LogSink::Task, record: record::log_record(&span) });
    record::stats(rec, &mut out.stats);
    out.spans.push(span);
}
