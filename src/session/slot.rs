//! A session's slot record as bytes: the decoded `SessionRecord`, its encoding and its
//! reader. The format is described in `session`'s module doc; when and how a slot is written
//! (CAS, idle ends, eviction) is `session`'s, not this file's.

use super::{SessionTotals, State, SESSION_FIXED_LEN, SESSION_MAGIC};

/// The longest text a session, task or active-version record keeps, in bytes (cut on a
/// character boundary by [`cut`]).
pub const MAX_TEXT: usize = 64;

/// `s` cut to [`MAX_TEXT`] bytes on a character boundary; task, session and active-version
/// records all keep their texts this way.
pub(crate) fn cut(s: &str) -> &str {
    crate::text::cut(s, MAX_TEXT)
}

/// A session's slot, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionRecord {
    pub tag: [u8; 8],
    pub state: State,
    pub totals: SessionTotals,
    /// When the session ended (the ending call, or the last call of an idle or evicted one).
    pub end_ms: u64,
    /// The first call's span, which the session record links to.
    pub first_trace_id: [u8; 16],
    pub first_span_id: [u8; 8],
    pub session_id: String,
    pub user_hash: String,
    pub agent: String,
    /// Oldest first.
    pub(super) task_tags: Vec<[u8; 8]>,
}

pub(super) fn read_tag(bytes: &[u8], at: usize) -> Option<[u8; 8]> {
    bytes.get(at..at + 8)?.try_into().ok()
}


pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let out = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(out)
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn arr<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn text(&mut self) -> Option<String> {
        let n = usize::from(*self.take(1)?.first()?);
        if n > MAX_TEXT {
            return None;
        }
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

impl SessionRecord {
    pub fn decode(bytes: &[u8]) -> Option<SessionRecord> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(1)? != [SESSION_MAGIC] {
            return None;
        }
        let tag = r.arr()?;
        let state = State::from_byte(*r.take(1)?.first()?)?;
        let _flags = r.take(1)?;
        let mut t = SessionTotals::default();
        let mut end_ms = 0;
        for f in [
            &mut t.first_seen_ms,
            &mut t.last_seen_ms,
            &mut end_ms,
            &mut t.calls,
            &mut t.tasks,
            &mut t.input_tokens,
            &mut t.output_tokens,
            &mut t.cost_micro_usd,
            &mut t.unpriced_calls,
        ] {
            *f = r.u64()?;
        }
        let mut rec = SessionRecord { tag, state, totals: t, end_ms, first_trace_id: r.arr()?, first_span_id: r.arr()?, ..SessionRecord::default() };
        rec.session_id = r.text()?;
        rec.user_hash = r.text()?;
        rec.agent = r.text()?;
        let n = usize::from(u16::from_le_bytes(r.arr()?));
        if bytes.len() != r.at + 8 * n {
            return None;
        }
        rec.task_tags = (0..n).map(|i| read_tag(bytes, r.at + 8 * i)).collect::<Option<_>>()?;
        Some(rec)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SESSION_FIXED_LEN + 3 * MAX_TEXT + 8 * self.task_tags.len());
        out.push(SESSION_MAGIC);
        out.extend_from_slice(&self.tag);
        out.push(self.state.byte());
        out.push(0);
        let t = &self.totals;
        for v in [t.first_seen_ms, t.last_seen_ms, self.end_ms, t.calls, t.tasks, t.input_tokens, t.output_tokens, t.cost_micro_usd, t.unpriced_calls] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.first_trace_id);
        out.extend_from_slice(&self.first_span_id);
        for s in [&self.session_id, &self.user_hash, &self.agent] {
            let s = cut(s);
            out.push(s.len() as u8);
            out.extend_from_slice(s.as_bytes());
        }
        let n = u16::try_from(self.task_tags.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&n.to_le_bytes());
        for tag in self.task_tags.iter().take(usize::from(n)) {
            out.extend_from_slice(tag);
        }
        out
    }

    /// `genai_tap.session.cost_usd`.
    pub fn cost_usd(&self) -> f64 {
        self.totals.cost_usd()
    }

    /// The record as it ends: `state`, at its last call.
    pub(super) fn ended(mut self, state: State) -> SessionRecord {
        self.state = state;
        self.end_ms = self.totals.last_seen_ms;
        self
    }
}
