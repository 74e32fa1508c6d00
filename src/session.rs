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
//! record, its end and its budget flag are `task`'s (`src/task.rs`).
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
//! Session, 75 + 8·n bytes: `'S'`, tag[8], first_seen_ms, last_seen_ms, calls, tasks,
//! input_tokens, output_tokens, cost_micro_usd, unpriced_calls (u64 each), n (u16), then n
//! task tags[8], oldest first, n ≤ `max_tasks_per_session`.
//! Task: see `task` (at most `task::MAX_RECORD_LEN` bytes).

use crate::config::sessions::RawSessions;
use core::fmt;
use sha2::{Digest, Sha256};

/// How many times an update re-reads and retries after another worker wrote first.
pub const MAX_CAS_ATTEMPTS: usize = 8;

const SESSION_MAGIC: u8 = b'S';
const SESSION_HEADER_LEN: usize = 1 + 8 + 8 * 8 + 2;

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
            task_idle_timeout_ms: raw.task_idle_timeout_ms,
        })
    }

    /// The most shared-data bytes the roll-ups can hold (values only; Envoy adds the keys).
    #[cfg(test)]
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

/// What one finished LLM call adds to its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallDelta<'a> {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// `None` when the call was unpriced: the session's cost is then a lower bound, and
    /// `unpriced_calls` says so.
    pub cost_micro_usd: Option<u64>,
    /// The call's task id, if the agent sent one; counts toward `tasks`.
    pub task_id: Option<&'a str>,
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
    /// The slot held bytes that are not a record of this version.
    Unreadable,
}

/// The result of [`apply_call`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUpdate {
    /// The new record, to store under the slot's key.
    pub bytes: Vec<u8>,
    pub totals: SessionTotals,
    pub replaced: Replaced,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct SessionRecord {
    tag: [u8; 8],
    totals: SessionTotals,
    /// Oldest first.
    task_tags: Vec<[u8; 8]>,
}

fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let b: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(b))
}

fn read_tag(bytes: &[u8], at: usize) -> Option<[u8; 8]> {
    bytes.get(at..at + 8)?.try_into().ok()
}

impl SessionRecord {
    fn decode(bytes: &[u8]) -> Option<SessionRecord> {
        if bytes.first() != Some(&SESSION_MAGIC) {
            return None;
        }
        let tag = read_tag(bytes, 1)?;
        let f = |i: usize| read_u64(bytes, 9 + 8 * i);
        let totals = SessionTotals {
            first_seen_ms: f(0)?,
            last_seen_ms: f(1)?,
            calls: f(2)?,
            tasks: f(3)?,
            input_tokens: f(4)?,
            output_tokens: f(5)?,
            cost_micro_usd: f(6)?,
            unpriced_calls: f(7)?,
        };
        let n = u16::from_le_bytes(bytes.get(73..75)?.try_into().ok()?) as usize;
        if bytes.len() != SESSION_HEADER_LEN + 8 * n {
            return None;
        }
        let task_tags = (0..n)
            .map(|i| read_tag(bytes, SESSION_HEADER_LEN + 8 * i))
            .collect::<Option<_>>()?;
        Some(SessionRecord {
            tag,
            totals,
            task_tags,
        })
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SESSION_HEADER_LEN + 8 * self.task_tags.len());
        out.push(SESSION_MAGIC);
        out.extend_from_slice(&self.tag);
        let t = &self.totals;
        for v in [
            t.first_seen_ms,
            t.last_seen_ms,
            t.calls,
            t.tasks,
            t.input_tokens,
            t.output_tokens,
            t.cost_micro_usd,
            t.unpriced_calls,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        let n = u16::try_from(self.task_tags.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&n.to_le_bytes());
        for tag in self.task_tags.iter().take(usize::from(n)) {
            out.extend_from_slice(tag);
        }
        out
    }
}

fn idle(last_seen_ms: u64, now_ms: u64, ttl_ms: u64) -> bool {
    now_ms.saturating_sub(last_seen_ms) >= ttl_ms
}

/// Adds one call to the session in `key`'s slot. `prev` is what the slot holds now.
pub fn apply_call(
    cfg: &Limits,
    key: &SlotKey,
    prev: Option<&[u8]>,
    delta: &CallDelta<'_>,
    now_ms: u64,
) -> SessionUpdate {
    let fresh = || SessionRecord {
        tag: key.tag,
        totals: SessionTotals {
            first_seen_ms: now_ms,
            last_seen_ms: now_ms,
            ..SessionTotals::default()
        },
        task_tags: Vec::new(),
    };
    let (mut rec, replaced) = match prev.filter(|b| !b.is_empty()) {
        None => (fresh(), Replaced::Nothing),
        Some(bytes) => match SessionRecord::decode(bytes) {
            None => (fresh(), Replaced::Unreadable),
            Some(r) if idle(r.totals.last_seen_ms, now_ms, cfg.idle_ttl_ms) => {
                (fresh(), Replaced::Expired)
            }
            Some(r) if r.tag != key.tag => (fresh(), Replaced::Evicted),
            Some(r) => (r, Replaced::Continued),
        },
    };
    let t = &mut rec.totals;
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
    SessionUpdate {
        bytes: rec.encode(),
        totals: rec.totals,
        replaced,
    }
}

/// Reads a session's totals from its slot, if the slot holds that session and it is live.
#[cfg(test)]
pub fn read_session(
    cfg: &Limits,
    key: &SlotKey,
    bytes: Option<&[u8]>,
    now_ms: u64,
) -> Option<SessionTotals> {
    let rec = SessionRecord::decode(bytes?)?;
    (rec.tag == key.tag && !idle(rec.totals.last_seen_ms, now_ms, cfg.idle_ttl_ms))
        .then_some(rec.totals)
}

/// Read-modify-write of one key with compare-and-swap, retried on a lost race.
pub fn update<S: SharedData, T>(
    store: &mut S,
    key: &str,
    mut f: impl FnMut(Option<&[u8]>) -> (Vec<u8>, T),
) -> Result<T, UpdateError> {
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

/// Adds one finished call to its session in shared data. Returns the session's totals.
pub fn record_call<S: SharedData>(
    store: &mut S,
    cfg: &Limits,
    session_id: &str,
    delta: &CallDelta<'_>,
    now_ms: u64,
) -> Result<SessionUpdate, UpdateError> {
    let key = SlotKey::session(cfg, session_id);
    update(store, key.shared_data_key(), |prev| {
        let u = apply_call(cfg, &key, prev, delta, now_ms);
        (u.bytes.clone(), u)
    })
}

/// The most value bytes the roll-ups can occupy in shared data with this configuration.
#[cfg(test)]
pub fn max_shared_bytes(cfg: &Limits) -> u64 {
    let session = (SESSION_HEADER_LEN + 8 * usize::from(cfg.max_tasks_per_session)) as u64;
    u64::from(cfg.max_sessions) * session + u64::from(cfg.max_tasks) * crate::task::MAX_RECORD_LEN as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Envoy's shared data, as the host sees it: a token per key, bumped on every write.
    #[derive(Default)]
    struct FakeShared {
        map: HashMap<String, (Vec<u8>, u32)>,
        /// Writes to fail with a CAS mismatch before succeeding (simulated rivals).
        rival_writes: usize,
    }

    impl SharedData for FakeShared {
        fn get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
            match self.map.get(key) {
                Some((v, cas)) => (Some(v.clone()), Some(*cas)),
                None => (None, None),
            }
        }
        fn set(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), SetError> {
            if self.rival_writes > 0 {
                self.rival_writes -= 1;
                // a rival bumps the token between our read and our write
                if let Some(e) = self.map.get_mut(key) {
                    e.1 += 1;
                }
                return Err(SetError::CasMismatch);
            }
            let current = self.map.get(key).map(|e| e.1);
            if let (Some(want), Some(have)) = (cas, current) {
                if want != have {
                    return Err(SetError::CasMismatch);
                }
            }
            let next = current.unwrap_or(0) + 1;
            self.map.insert(key.to_owned(), (value.to_vec(), next));
            Ok(())
        }
    }

    fn cfg() -> Limits {
        Limits {
            enabled: true,
            idle_ttl_ms: 30 * 60_000,
            max_sessions: 10_000,
            max_tasks: 10_000,
            max_tasks_per_session: 4,
            task_records: true,
            task_idle_timeout_ms: 60_000,
        }
    }

    fn call(input: u64, output: u64, cost: Option<u64>, task: Option<&str>) -> CallDelta<'_> {
        CallDelta {
            input_tokens: input,
            output_tokens: output,
            cost_micro_usd: cost,
            task_id: task,
        }
    }

    const T0: u64 = 1_764_000_000_000;

    #[test]
    fn a_session_rolls_up_on_a_virtual_clock() {
        let cfg = cfg();
        let mut store = FakeShared::default();
        let mut now = T0;
        // (input, output, cost, task, totals after: calls, tasks, in, out, cost, unpriced, replaced)
        type Totals = (u64, u64, u64, u64, u64, u64);
        type Step = (u64, u64, Option<u64>, Option<&'static str>, Totals, Replaced);
        let steps: [Step; 5] = [
            (
                1167,
                202,
                Some(3391),
                Some("t1"),
                (1, 1, 1167, 202, 3391, 0),
                Replaced::Nothing,
            ),
            (
                1149,
                353,
                Some(307),
                Some("t1"),
                (2, 1, 2316, 555, 3698, 0),
                Replaced::Continued,
            ),
            (
                11,
                703,
                None,
                Some("t2"),
                (3, 2, 2327, 1258, 3698, 1),
                Replaced::Continued,
            ),
            (
                5,
                5,
                Some(1),
                None,
                (4, 2, 2332, 1263, 3699, 1),
                Replaced::Continued,
            ),
            (
                1,
                1,
                Some(1),
                Some("t1"),
                (5, 2, 2333, 1264, 3700, 1),
                Replaced::Continued,
            ),
        ];
        for (input, output, cost, task, want, replaced) in steps {
            now += 60_000;
            let u = record_call(
                &mut store,
                &cfg,
                "sess-a",
                &call(input, output, cost, task),
                now,
            )
            .unwrap();
            let t = u.totals;
            assert_eq!(
                (
                    t.calls,
                    t.tasks,
                    t.input_tokens,
                    t.output_tokens,
                    t.cost_micro_usd,
                    t.unpriced_calls
                ),
                want
            );
            assert_eq!(u.replaced, replaced);
            assert_eq!(t.first_seen_ms, T0 + 60_000);
            assert_eq!(t.last_seen_ms, now);
        }
        assert_eq!(store.map.len(), 1);
        let key = SlotKey::session(&cfg, "sess-a");
        let stored = store.map[key.shared_data_key()].0.clone();
        let totals = read_session(&cfg, &key, Some(&stored), now).unwrap();
        assert_eq!(totals.calls, 5);
        assert!((totals.cost_usd() - 0.0037).abs() < 1e-12);
        // another session is not this one
        assert_eq!(
            read_session(&cfg, &SlotKey::session(&cfg, "sess-b"), Some(&stored), now),
            None
        );
    }

    #[test]
    fn an_idle_session_is_over() {
        let cfg = cfg();
        let mut store = FakeShared::default();
        record_call(&mut store, &cfg, "s", &call(10, 10, Some(5), None), T0).unwrap();
        let just_before = T0 + cfg.idle_ttl_ms - 1;
        let u = record_call(
            &mut store,
            &cfg,
            "s",
            &call(10, 10, Some(5), None),
            just_before,
        )
        .unwrap();
        assert_eq!((u.totals.calls, u.replaced), (2, Replaced::Continued));
        // idle_ttl after the *last* call, not the first
        let later = just_before + cfg.idle_ttl_ms;
        let u = record_call(&mut store, &cfg, "s", &call(1, 1, Some(1), None), later).unwrap();
        assert_eq!(
            (u.totals.calls, u.totals.cost_micro_usd, u.replaced),
            (1, 1, Replaced::Expired)
        );
        assert_eq!(u.totals.first_seen_ms, later);
        let key = SlotKey::session(&cfg, "s");
        let bytes = store.map[key.shared_data_key()].0.clone();
        assert!(read_session(&cfg, &key, Some(&bytes), later + cfg.idle_ttl_ms).is_none());
    }

    #[test]
    fn slots_bound_the_count_and_collisions_evict_the_older() {
        let mut cfg = cfg();
        cfg.max_sessions = 16;
        let mut store = FakeShared::default();
        let mut evicted = 0;
        for i in 0..500 {
            let u = record_call(
                &mut store,
                &cfg,
                &format!("session-{i}"),
                &call(1, 1, Some(1), None),
                T0 + i,
            )
            .unwrap();
            if u.replaced == Replaced::Evicted {
                evicted += 1;
                assert_eq!(u.totals.calls, 1);
            }
        }
        assert!(store.map.len() <= 16, "{}", store.map.len());
        assert_eq!(evicted, 500 - store.map.len());
        // with one slot, two live sessions evict each other
        cfg.max_sessions = 1;
        let mut store = FakeShared::default();
        record_call(&mut store, &cfg, "a", &call(1, 1, Some(1), None), T0).unwrap();
        record_call(&mut store, &cfg, "a", &call(1, 1, Some(1), None), T0 + 1).unwrap();
        let b = record_call(&mut store, &cfg, "b", &call(1, 1, Some(1), None), T0 + 2).unwrap();
        assert_eq!((b.replaced, b.totals.calls), (Replaced::Evicted, 1));
        let a = record_call(&mut store, &cfg, "a", &call(1, 1, Some(1), None), T0 + 3).unwrap();
        assert_eq!((a.replaced, a.totals.calls), (Replaced::Evicted, 1));
    }

    #[test]
    fn tasks_per_session_are_bounded() {
        let cfg = cfg(); // 4 task ids remembered
        let mut store = FakeShared::default();
        let mut last = None;
        for task in ["a", "b", "c", "d", "e", "e", "b", "a"] {
            last = Some(
                record_call(&mut store, &cfg, "s", &call(1, 1, Some(0), Some(task)), T0).unwrap(),
            );
        }
        let u = last.unwrap();
        // a..e are five, e again is not new, b is still remembered, a was forgotten
        assert_eq!(u.totals.tasks, 6);
        assert_eq!(u.bytes.len(), SESSION_HEADER_LEN + 8 * 4);
    }

    #[test]
    fn racing_workers_lose_nothing() {
        let cfg = cfg();
        let mut store = FakeShared::default();
        record_call(&mut store, &cfg, "s", &call(1, 1, Some(1), None), T0).unwrap();
        let key = SlotKey::session(&cfg, "s");
        let k = key.shared_data_key();
        // Workers A and B both read, B writes first, A's write is refused and retried.
        let (a_prev, a_cas) = store.get(k);
        let (b_prev, b_cas) = store.get(k);
        let b = apply_call(
            &cfg,
            &key,
            b_prev.as_deref(),
            &call(10, 0, Some(10), None),
            T0 + 1,
        );
        store.set(k, &b.bytes, b_cas).unwrap();
        let a = apply_call(
            &cfg,
            &key,
            a_prev.as_deref(),
            &call(100, 0, Some(100), None),
            T0 + 2,
        );
        assert_eq!(store.set(k, &a.bytes, a_cas), Err(SetError::CasMismatch));
        let a = record_call(
            &mut store,
            &cfg,
            "s",
            &call(100, 0, Some(100), None),
            T0 + 2,
        )
        .unwrap();
        assert_eq!(
            (
                a.totals.calls,
                a.totals.input_tokens,
                a.totals.cost_micro_usd
            ),
            (3, 111, 111)
        );
        // rivals win a few times: still one update, counted once
        store.rival_writes = MAX_CAS_ATTEMPTS - 1;
        let u = record_call(&mut store, &cfg, "s", &call(1, 0, Some(1), None), T0 + 3).unwrap();
        assert_eq!(u.totals.calls, 4);
        // rivals always win: give up, store unchanged
        store.rival_writes = MAX_CAS_ATTEMPTS;
        let before = store.map[k].0.clone();
        assert_eq!(
            record_call(&mut store, &cfg, "s", &call(1, 0, Some(1), None), T0 + 4),
            Err(UpdateError::Contended)
        );
        assert_eq!(store.map[k].0, before);
    }

    #[test]
    fn host_failure_is_not_retried() {
        struct Broken(usize);
        impl SharedData for Broken {
            fn get(&self, _: &str) -> (Option<Vec<u8>>, Option<u32>) {
                (None, None)
            }
            fn set(&mut self, _: &str, _: &[u8], _: Option<u32>) -> Result<(), SetError> {
                self.0 += 1;
                Err(SetError::Host)
            }
        }
        let mut s = Broken(0);
        assert_eq!(
            record_call(&mut s, &cfg(), "s", &call(1, 1, Some(1), None), T0),
            Err(UpdateError::Host)
        );
        assert_eq!(s.0, 1);
    }

    #[test]
    fn a_clock_that_steps_back_does_not_underflow() {
        let cfg = cfg();
        let mut store = FakeShared::default();
        let s = record_call(&mut store, &cfg, "s", &call(1, 1, Some(1), None), T0).unwrap();
        let s2 = record_call(&mut store, &cfg, "s", &call(1, 1, Some(1), None), T0 - 5).unwrap();
        assert_eq!(s2.totals.last_seen_ms, s.totals.last_seen_ms);
    }

    #[test]
    fn unreadable_bytes_start_afresh() {
        let cfg = cfg();
        let key = SlotKey::session(&cfg, "s");
        let good = apply_call(&cfg, &key, None, &call(1, 2, Some(3), Some("t")), T0).bytes;
        // every truncation, a bad magic, and a task record in a session slot
        let mut bad: Vec<Vec<u8>> = (1..good.len()).map(|n| good[..n].to_vec()).collect();
        let mut wrong_magic = good.clone();
        wrong_magic[0] = b'X';
        bad.push(wrong_magic);
        let task = crate::task::CallDelta { task_id: "t", ..Default::default() };
        bad.push(crate::task::apply_call(&cfg, &SlotKey::task(&cfg, "t"), None, &task, T0).record.encode());
        let mut longer = good.clone();
        longer.push(0);
        bad.push(longer);
        for b in bad {
            let u = apply_call(&cfg, &key, Some(&b), &call(1, 1, Some(1), None), T0);
            assert_eq!(
                (u.replaced, u.totals.calls),
                (Replaced::Unreadable, 1),
                "{} bytes",
                b.len()
            );
        }
        let u = apply_call(&cfg, &key, Some(&good), &call(1, 1, Some(1), None), T0);
        assert_eq!(
            (u.replaced, u.totals.calls, u.totals.tasks),
            (Replaced::Continued, 2, 1)
        );
        let empty = apply_call(&cfg, &key, Some(&[]), &call(1, 1, Some(1), None), T0);
        assert_eq!(empty.replaced, Replaced::Nothing);
    }

    #[test]
    fn memory_bound() {
        let c = Limits::compile(RawSessions::default()).unwrap();
        // 10000 × (75 + 8 × 32) + 10000 × 822 (a task record at its largest)
        assert_eq!(crate::task::MAX_RECORD_LEN, 822);
        assert_eq!(max_shared_bytes(&c), 10_000 * 331 + 10_000 * 822);
        assert_eq!(c.max_shared_bytes(), 11_530_000);
    }

    #[test]
    fn keys_are_stable_and_spread() {
        let cfg = cfg();
        let a = SlotKey::session(&cfg, "abc");
        assert_eq!(a, SlotKey::session(&cfg, "abc"));
        assert!(a.shared_data_key().starts_with("genai_tap.session."));
        assert!(SlotKey::task(&cfg, "abc")
            .shared_data_key()
            .starts_with("genai_tap.task."));
        assert_ne!(a.tag, SlotKey::task(&cfg, "abc").tag);
        let slots: std::collections::HashSet<String> = (0..1000)
            .map(|i| SlotKey::session(&cfg, &i.to_string()).key)
            .collect();
        assert!(slots.len() > 940, "{}", slots.len()); // ~951 expected for 1000 in 10000
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_are_handled(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), now in 0u64..u64::MAX) {
            let cfg = cfg();
            let key = SlotKey::session(&cfg, "s");
            let u = apply_call(&cfg, &key, Some(&bytes), &call(u64::MAX, u64::MAX, Some(u64::MAX), Some("t")), now);
            proptest::prop_assert!(SessionRecord::decode(&u.bytes).is_some());
            let _ = read_session(&cfg, &key, Some(&bytes), now);
        }
    }
}
