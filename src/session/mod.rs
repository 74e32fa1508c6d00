//! Per-session and per-task roll-ups, kept in proxy-wasm shared data across workers.
//!
//! This module owns the record formats, the slot design that bounds them, and the pure update
//! function [`apply_call`]. It does not touch proxy-wasm: the host gives it
//! a [`SharedData`] (five lines over `get_shared_data` / `set_shared_data`) and calls
//! [`record_call`], which runs the compare-and-swap loop. It never reads a
//! clock; `now_ms` (Unix milliseconds) is an argument.
//!
//! # Slots: bounded by construction
//!
//! Shared data cannot be listed or deleted reliably, so nothing here ever needs to be. A
//! session id is hashed (SHA-256 with a domain prefix); the first 8 bytes, modulo
//! `sessions.max_sessions`, pick the slot whose key is `genai_tap.session.<slot>`, and the
//! next 8 bytes are the session's *tag*, stored in the record. So at most `max_sessions`
//! keys ever exist, whatever the traffic. When a call arrives, the slot's record is:
//!
//! - absent, unreadable, or idle for `idle_ttl_ms` or more: the call starts a new session
//!   there (an idle session is over; the same id coming back later starts afresh);
//! - the same tag and live: the call adds to it;
//! - another tag and live: a collision. The newer session takes the slot and the older one
//!   is evicted ([`Replaced::Evicted`]; the host may count it). With `n` live sessions in
//!   `m` slots about `n²/2m` collide, so size `max_sessions` at ten times the sessions live
//!   within one `idle_ttl_ms` or more.
//!
//! Tasks work the same way in `max_tasks` slots keyed `genai_tap.task.<slot>`; the task
//! record, its end and its budget flag are `task`'s (`src/task/`).
//!
//! # One record per session
//!
//! A session ends when a call carries the end header (`identity.session_end_header`: that
//! call's write marks it ended), when it has been idle for `idle_ttl_ms` (the tick of every
//! worker that wrote to the slot checks it, [`check_slot`]), or when another live session
//! evicts it. Each end is a state change of the slot written with CAS, and only the worker
//! whose write made it emits the session's record ([`SessionUpdate::ended`],
//! [`Check::Ended`]); a write that finds an idle session the tick has not ended yet ends it
//! itself. The record's telemetry is built by `record`. Like a task's, a session's record is
//! this proxy's part (`genai_tap.session.partial`): parts from several proxies add up.
//!
//! # Concurrency
//!
//! Each worker's VM runs the read-modify-write with the CAS token from the read, and retries
//! on a mismatch up to [`MAX_CAS_ATTEMPTS`] times. A slot is one key, so one CAS covers the
//! whole update. Envoy gives a key that does not exist yet no token to compare, so two
//! workers creating the same slot at the same instant can lose one call's delta; that is
//! the only lost update, and only at a session's first calls.
//!
//! # Records (little-endian)
//!
//! Session, at most 112 + 3 × 64 + 8·n bytes: `'V'`, tag[8], state u8 (0 live, 1 ended by
//! header, 2 ended idle, 3 evicted), flags u8, nine u64 (first_seen_ms, last_seen_ms, end_ms,
//! calls, tasks, input_tokens, output_tokens, cost_micro_usd, unpriced_calls), the first
//! call's trace id[16] and span id[8], three texts (session id, user hash, agent; a length u8
//! and at most [`MAX_TEXT`] bytes), n (u16), then n task tags[8], oldest first,
//! n ≤ `max_tasks_per_session`.
//! Task: see `task` (at most `task::MAX_RECORD_LEN` bytes).

pub mod record;
mod slot;

pub use slot::SessionRecord;
pub(crate) use slot::{cut, MAX_TEXT};

use crate::config::sessions::RawSessions;
use core::fmt;
use sha2::{Digest, Sha256};

/// How many times an update re-reads and retries after another worker wrote first.
pub const MAX_CAS_ATTEMPTS: usize = 8;

/// `'V'`: the second session format (`'S'` records, which had no end, read as unreadable).
const SESSION_MAGIC: u8 = b'V';
/// Magic, tag, state, flags, nine u64, the first call's trace and span ids, three text
/// lengths and the task tag count.
const SESSION_FIXED_LEN: usize = 1 + 8 + 1 + 1 + 9 * 8 + 16 + 8 + 3 + 2;

/// The shared-data store, as the host sees it.
pub trait SharedData {
    /// The value under `key` and its CAS token. Absent keys give `(None, _)`.
    fn get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>);
    /// Stores `value` if the key's token still equals `cas` (`None`: unconditionally).
    fn set(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), SetError>;
}

/// Why a shared-data write failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetError {
    /// Another worker wrote the key after we read it: read again and retry.
    CasMismatch,
    /// Any other host failure: give up on this update.
    Host,
}

/// Why an update was not stored. The call itself is unaffected; only the roll-up misses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateError {
    /// Every attempt lost the race to another worker.
    Contended,
    /// The host refused the write.
    Host,
}

/// The compiled `sessions` block: whether roll-ups are kept, and the bounds of their slots.
#[derive(Debug, Clone)]
pub struct Limits {
    pub enabled: bool,
    pub idle_ttl_ms: u64,
    pub max_sessions: u32,
    pub max_tasks: u32,
    pub max_tasks_per_session: u16,
    /// Emit task records when tasks end.
    pub task_records: bool,
    /// Emit session records when sessions end.
    pub session_records: bool,
    /// A task idle this long is over (checked on the tick).
    pub task_idle_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            enabled: true,
            idle_ttl_ms: 30 * 60 * 1000,
            max_sessions: 10_000,
            max_tasks: 10_000,
            max_tasks_per_session: 32,
            task_records: true,
            session_records: true,
            task_idle_timeout_ms: 5 * 60 * 1000,
        }
    }
}

/// The longest idle time: a session idle for a week is over whatever the operator wants.
const MAX_IDLE_TTL_MS: u64 = 7 * 24 * 3600 * 1000;

impl Limits {
    /// Compiles the `sessions` block. An error names the field inside the block.
    pub fn compile(raw: RawSessions) -> Result<Limits, Error> {
        if !(1000..=MAX_IDLE_TTL_MS).contains(&raw.idle_ttl_ms) {
            return Err(Error { field: "idle_ttl_ms", min: 1000, max: MAX_IDLE_TTL_MS });
        }
        let bounded = |field: &'static str, v: u64, max: u64| -> Result<u64, Error> {
            if (1..=max).contains(&v) {
                Ok(v)
            } else {
                Err(Error { field, min: 1, max })
            }
        };
        let max_sessions = bounded("max_sessions", raw.max_sessions, 1_000_000)?;
        let max_tasks = bounded("max_tasks", raw.max_tasks, 1_000_000)?;
        let per_session = bounded("max_tasks_per_session", raw.max_tasks_per_session, 1024)?;
        // a task must end (and be emitted) before its slot may be taken over as idle
        if !(1000..=raw.idle_ttl_ms).contains(&raw.task_idle_timeout_ms) {
            return Err(Error { field: "task_idle_timeout_ms", min: 1000, max: raw.idle_ttl_ms });
        }
        Ok(Limits {
            enabled: raw.enabled,
            idle_ttl_ms: raw.idle_ttl_ms,
            max_sessions: u32::try_from(max_sessions).unwrap_or(u32::MAX),
            max_tasks: u32::try_from(max_tasks).unwrap_or(u32::MAX),
            max_tasks_per_session: u16::try_from(per_session).unwrap_or(u16::MAX),
            task_records: raw.task_records,
            session_records: raw.session_records,
            task_idle_timeout_ms: raw.task_idle_timeout_ms,
        })
    }

    #[cfg(test)]
    /// The most shared-data bytes the roll-ups can hold (values only; Envoy adds the keys).
    pub fn max_shared_bytes(&self) -> u64 {
        max_shared_bytes(self)
    }
}

/// A `sessions` bound out of range. The message gives the range, never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    field: &'static str,
    min: u64,
    max: u64,
}

impl Error {
    /// The field inside the `sessions` block.
    pub fn field(&self) -> &str {
        self.field
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "must be between {} and {}", self.min, self.max)
    }
}

impl std::error::Error for Error {}

/// Which slot an id lives in and the tag that tells it apart from others in that slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotKey {
    key: String,
    tag: [u8; 8],
    slot: u32,
}

impl SlotKey {
    /// The slot of a session id (the `identity.session_header` value).
    pub fn session(cfg: &Limits, session_id: &str) -> SlotKey {
        let (slot_hash, tag) = hash_id(b"genai-tap session\0", session_id);
        let slot = slot_hash % u64::from(cfg.max_sessions.max(1));
        SlotKey {
            key: format!("genai_tap.session.{slot}"),
            tag,
            slot: u32::try_from(slot).unwrap_or(u32::MAX),
        }
    }

    /// The slot of a task id (the `identity.task_header` value).
    pub fn task(cfg: &Limits, task_id: &str) -> SlotKey {
        let (slot_hash, tag) = hash_id(b"genai-tap task\0", task_id);
        let slot = slot_hash % u64::from(cfg.max_tasks.max(1));
        SlotKey {
            key: format!("genai_tap.task.{slot}"),
            tag,
            slot: u32::try_from(slot).unwrap_or(u32::MAX),
        }
    }

    /// A session slot by its index, for the tick that watches it (the tag is not known).
    pub fn session_slot(slot: u32) -> SlotKey {
        SlotKey { key: format!("genai_tap.session.{slot}"), tag: [0; 8], slot }
    }

    /// A task slot by its index, for the tick that watches it (the tag is not known).
    pub fn task_slot(slot: u32) -> SlotKey {
        SlotKey {
            key: format!("genai_tap.task.{slot}"),
            tag: [0; 8],
            slot,
        }
    }

    /// The tag that tells this id apart from others hashed to the same slot.
    pub fn tag(&self) -> [u8; 8] {
        self.tag
    }

    /// The slot's index.
    pub fn slot(&self) -> u32 {
        self.slot
    }

    /// The shared-data key to read and write.
    pub fn shared_data_key(&self) -> &str {
        &self.key
    }
}

fn hash_id(domain: &[u8], id: &str) -> (u64, [u8; 8]) {
    let mut h = Sha256::new();
    h.update(domain);
    h.update(id.as_bytes());
    let d = h.finalize();
    let mut slot = [0u8; 8];
    let mut tag = [0u8; 8];
    slot.copy_from_slice(&d[..8]);
    tag.copy_from_slice(&d[8..16]);
    (u64::from_be_bytes(slot), tag)
}

/// What one finished LLM call adds to its session. Texts are already sanitised for telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallDelta<'a> {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// `None` when the call was unpriced: the session's cost is then a lower bound, and
    /// `unpriced_calls` says so.
    pub cost_micro_usd: Option<u64>,
    /// The call's task id, if the agent sent one; counts toward `tasks`.
    pub task_id: Option<&'a str>,
    /// The session id as the record carries it (cut to [`MAX_TEXT`] bytes).
    pub session_id: &'a str,
    pub user_hash: Option<&'a str>,
    pub agent: Option<&'a str>,
    /// The call's span: a new session links to its first call.
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    /// The call carries the session end header: the session ends with it.
    pub end: bool,
    /// When the call's request arrived (Unix ms; 0: unknown, the update's `now_ms` stands in).
    pub start_ms: u64,
}

/// A session's totals after an update: the `genai_tap.session.*` span attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionTotals {
    pub first_seen_ms: u64,
    pub last_seen_ms: u64,
    pub calls: u64,
    pub tasks: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_micro_usd: u64,
    pub unpriced_calls: u64,
}

impl SessionTotals {
    /// `genai_tap.session.cost_usd`.
    pub fn cost_usd(&self) -> f64 {
        self.cost_micro_usd as f64 / 1e6
    }
}

/// What the slot held before this update, when it was not this live session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replaced {
    /// The slot was empty.
    Nothing,
    /// The slot held this session and it goes on.
    Continued,
    /// The slot held a session (this one or another) idle past `idle_ttl_ms`.
    Expired,
    /// The slot held another live session, which this one evicted.
    Evicted,
    /// The slot held a session that had ended (the same id coming back starts afresh).
    Ended,
    /// The slot held bytes that are not a record of this version.
    Unreadable,
}

/// Where a session, or a task (`task`'s records share this byte and these reasons), stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum State {
    #[default]
    Live,
    /// A call carried the end header (`identity.session_end_header`, `identity.task_end_header`).
    EndedByHeader,
    /// No call for the idle time (`sessions.idle_ttl_ms`, `sessions.task_idle_timeout_ms`).
    EndedIdle,
    /// Sessions only: another live session took its slot (a hash collision): it ends early.
    Evicted,
}

impl State {
    /// The record's state byte.
    pub(crate) fn byte(self) -> u8 {
        match self {
            State::Live => 0,
            State::EndedByHeader => 1,
            State::EndedIdle => 2,
            State::Evicted => 3,
        }
    }

    /// The state a record's byte holds; `None` for a byte no version wrote.
    pub(crate) fn from_byte(b: u8) -> Option<State> {
        Some(match b {
            0 => State::Live,
            1 => State::EndedByHeader,
            2 => State::EndedIdle,
            3 => State::Evicted,
            _ => return None,
        })
    }

    /// `genai_tap.session.end_reason`, `genai_tap.task.end_reason`.
    pub fn end_reason(self) -> &'static str {
        match self {
            State::Live => "live",
            State::EndedByHeader => "header",
            State::EndedIdle => "idle",
            State::Evicted => "evicted",
        }
    }
}

/// The result of [`apply_call`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUpdate {
    /// The new record, to store under the slot's key.
    pub bytes: Vec<u8>,
    pub totals: SessionTotals,
    pub replaced: Replaced,
    /// Sessions this write ended, to emit: the one it replaced (idle or evicted) and this
    /// one when the call carried the end header. Only the write that stores them emits.
    pub ended: Vec<SessionRecord>,
}


fn idle(last_seen_ms: u64, now_ms: u64, ttl_ms: u64) -> bool {
    now_ms.saturating_sub(last_seen_ms) >= ttl_ms
}

/// Adds one call to the session in `key`'s slot. `prev` is what the slot holds now.
pub fn apply_call(cfg: &Limits, key: &SlotKey, prev: Option<&[u8]>, delta: &CallDelta<'_>, now_ms: u64) -> SessionUpdate {
    // a session starts when its first call's request arrived, not when that call ended
    let start_ms = if delta.start_ms == 0 { now_ms } else { delta.start_ms.min(now_ms) };
    let fresh = || SessionRecord {
        tag: key.tag,
        totals: SessionTotals { first_seen_ms: start_ms, last_seen_ms: now_ms, ..SessionTotals::default() },
        first_trace_id: delta.trace_id,
        first_span_id: delta.span_id,
        session_id: cut(delta.session_id).to_owned(),
        ..SessionRecord::default()
    };
    let mut ended = Vec::new();
    let (mut rec, replaced) = match prev.filter(|b| !b.is_empty()) {
        None => (fresh(), Replaced::Nothing),
        Some(bytes) => match SessionRecord::decode(bytes) {
            None => (fresh(), Replaced::Unreadable),
            Some(r) if r.state != State::Live => (fresh(), Replaced::Ended),
            Some(r) if idle(r.totals.last_seen_ms, now_ms, cfg.idle_ttl_ms) => {
                // the tick had not ended it yet: this write does, and emits it
                ended.push(r.ended(State::EndedIdle));
                (fresh(), Replaced::Expired)
            }
            Some(r) if r.tag != key.tag => {
                ended.push(r.ended(State::Evicted));
                (fresh(), Replaced::Evicted)
            }
            Some(r) => (r, Replaced::Continued),
        },
    };
    let t = &mut rec.totals;
    t.first_seen_ms = t.first_seen_ms.min(start_ms);
    t.last_seen_ms = t.last_seen_ms.max(now_ms);
    t.calls = t.calls.saturating_add(1);
    t.input_tokens = t.input_tokens.saturating_add(delta.input_tokens);
    t.output_tokens = t.output_tokens.saturating_add(delta.output_tokens);
    match delta.cost_micro_usd {
        Some(c) => t.cost_micro_usd = t.cost_micro_usd.saturating_add(c),
        None => t.unpriced_calls = t.unpriced_calls.saturating_add(1),
    }
    if let Some(task_id) = delta.task_id.filter(|id| !id.is_empty()) {
        let (_, tag) = hash_id(b"genai-tap task\0", task_id);
        if !rec.task_tags.contains(&tag) {
            rec.totals.tasks = rec.totals.tasks.saturating_add(1);
            rec.task_tags.push(tag);
        }
    }
    let cap = usize::from(cfg.max_tasks_per_session.max(1));
    if rec.task_tags.len() > cap {
        let excess = rec.task_tags.len() - cap;
        rec.task_tags.drain(..excess);
    }
    // the latest values the session's calls carried
    for (field, v) in [(&mut rec.user_hash, delta.user_hash), (&mut rec.agent, delta.agent)] {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            *field = cut(v).to_owned();
        }
    }
    if delta.end {
        rec = rec.ended(State::EndedByHeader);
        ended.push(rec.clone());
    }
    SessionUpdate { bytes: rec.encode(), totals: rec.totals, replaced, ended }
}

#[cfg(test)]
/// Reads a session's totals from its slot, if the slot holds that session and it is live.
pub fn read_session(cfg: &Limits, key: &SlotKey, bytes: Option<&[u8]>, now_ms: u64) -> Option<SessionTotals> {
    let rec = SessionRecord::decode(bytes?)?;
    (rec.tag == key.tag && rec.state == State::Live && !idle(rec.totals.last_seen_ms, now_ms, cfg.idle_ttl_ms)).then_some(rec.totals)
}

/// Read-modify-write of one key with compare-and-swap, retried on a lost race.
pub fn update<S: SharedData, T>(store: &mut S, key: &str, mut f: impl FnMut(Option<&[u8]>) -> (Vec<u8>, T)) -> Result<T, UpdateError> {
    for _ in 0..MAX_CAS_ATTEMPTS {
        let (prev, cas) = store.get(key);
        let (bytes, out) = f(prev.as_deref());
        match store.set(key, &bytes, cas) {
            Ok(()) => return Ok(out),
            Err(SetError::CasMismatch) => continue,
            Err(SetError::Host) => return Err(UpdateError::Host),
        }
    }
    Err(UpdateError::Contended)
}

/// Adds one finished call to its session in shared data. Returns the session's totals and
/// the slot (live still, unless the call ended it), for the tick to watch.
pub fn record_call<S: SharedData>(store: &mut S, cfg: &Limits, session_id: &str, delta: &CallDelta<'_>, now_ms: u64) -> Result<SessionUpdate, UpdateError> {
    let key = SlotKey::session(cfg, session_id);
    update(store, key.shared_data_key(), |prev| {
        let u = apply_call(cfg, &key, prev, delta, now_ms);
        (u.bytes.clone(), u)
    })
}

/// What the tick found in a session slot it watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// A live session, nothing to write.
    Live,
    /// Nothing live is there any more (absent, ended, unreadable): stop watching the slot.
    Forget,
    /// This write ended the session (idle past `idle_ttl_ms`): emit it.
    Ended(Box<SessionRecord>),
}

/// The tick's look at a session slot: a live session idle for `idle_ttl_ms` ends, and only the
/// worker whose CAS ends it emits its record.
pub fn check_slot<S: SharedData>(store: &mut S, cfg: &Limits, slot: u32, now_ms: u64) -> Result<Check, UpdateError> {
    let key = SlotKey::session_slot(slot);
    for _ in 0..MAX_CAS_ATTEMPTS {
        let (prev, cas) = store.get(key.shared_data_key());
        let Some(rec) = prev.as_deref().and_then(SessionRecord::decode).filter(|r| r.state == State::Live) else { return Ok(Check::Forget) };
        if !idle(rec.totals.last_seen_ms, now_ms, cfg.idle_ttl_ms) {
            return Ok(Check::Live);
        }
        let rec = rec.ended(State::EndedIdle);
        match store.set(key.shared_data_key(), &rec.encode(), cas) {
            Ok(()) => return Ok(Check::Ended(Box::new(rec))),
            Err(SetError::CasMismatch) => continue,
            Err(SetError::Host) => return Err(UpdateError::Host),
        }
    }
    Err(UpdateError::Contended)
}

#[cfg(test)]
/// The largest session record with this configuration.
pub fn max_session_record_len(cfg: &Limits) -> usize {
    SESSION_FIXED_LEN + 3 * MAX_TEXT + 8 * usize::from(cfg.max_tasks_per_session)
}

#[cfg(test)]
/// The most value bytes the roll-ups can occupy in shared data with this configuration.
pub fn max_shared_bytes(cfg: &Limits) -> u64 {
    u64::from(cfg.max_sessions) * max_session_record_len(cfg) as u64 + u64::from(cfg.max_tasks) * crate::task::MAX_RECORD_LEN as u64
}

#[cfg(test)]
mod tests;
