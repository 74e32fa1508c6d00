//! The active spec and model versions: the versions seen in the last
//! `stats.active_version_window_ms`, one gauge series each, set to 1 while a version is in the
//! window and back to 0 when it leaves (Envoy cannot delete a series, so queries use `== 1`).
//!
//! This module owns what "active" means for a whole proxy, the shared-data record that makes
//! every worker agree on it, and which gauge values change. It does not touch proxy-wasm: the
//! host feeds [`Tracker::note`] from finished calls, calls [`Tracker::tick`] with a
//! [`SharedData`] once a second, and sets the gauges it answers.
//!
//! # Why shared data
//!
//! A wasm gauge is one Envoy stat shared by every VM of the plugin, and setting it is "last
//! writer wins". If each worker set it from what it alone saw, a worker that saw a version
//! would set 1 and another that did not would set 0. So each worker merges the versions it saw
//! since its last tick into one record per kind (`genai_tap.active.spec_version`,
//! `genai_tap.active.model`) with CAS, and every worker sets the gauges from the merged
//! record: they all set the same values. A call only touches worker memory; the tick writes
//! only when this worker saw something new, at most once a second.
//!
//! # Bounds
//!
//! A record keeps at most `stats.max_label_values` versions (the label cap: more could not be
//! told apart in the stats anyway), each a last-seen time and a text of at most
//! [`crate::session::MAX_TEXT`] bytes, so at most 1 + cap × 73 bytes per kind. A version stays in the record
//! for one window after it left it, so that every worker's tick sees it inactive and sets 0;
//! when the record is full, the version seen longest ago goes.
//!
//! Record (little-endian): count u16, then per version last_seen_ms u64, length u8, text.

use crate::session::{update, SharedData, UpdateError};
use crate::stats::{self, Metric, StatUpdate};
use std::collections::HashMap;


/// What kind of version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `identity.spec_version_header`.
    Spec,
    /// The model that answered (`gen_ai.response.model`), else the one asked for.
    Model,
}

impl Kind {
    const ALL: [Kind; 2] = [Kind::Spec, Kind::Model];

    fn key(self) -> &'static str {
        match self {
            Kind::Spec => "genai_tap.active.spec_version",
            Kind::Model => "genai_tap.active.model",
        }
    }

    fn metric(self) -> Metric {
        match self {
            Kind::Spec => stats::ACTIVE_SPEC_VERSION,
            Kind::Model => stats::ACTIVE_MODEL_VERSION,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Spec => "spec_version",
            Kind::Model => "model",
        }
    }

    fn index(self) -> usize {
        match self {
            Kind::Spec => 0,
            Kind::Model => 1,
        }
    }
}

use crate::session::cut;

/// Versions and when each was last seen (Unix ms).
type Seen = Vec<(String, u64)>;

fn decode(bytes: &[u8]) -> Option<Seen> {
    let n = usize::from(u16::from_le_bytes(bytes.get(..2)?.try_into().ok()?));
    let mut at = 2;
    let mut out = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let t = u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?);
        let len = usize::from(*bytes.get(at + 8)?);
        let text = std::str::from_utf8(bytes.get(at + 9..at + 9 + len)?).ok()?;
        out.push((text.to_owned(), t));
        at += 9 + len;
    }
    (at == bytes.len()).then_some(out)
}

fn encode(seen: &Seen) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + seen.len() * (9 + 16));
    let n = u16::try_from(seen.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&n.to_le_bytes());
    for (text, t) in seen.iter().take(usize::from(n)) {
        let text = cut(text);
        out.extend_from_slice(&t.to_le_bytes());
        out.push(text.len() as u8);
        out.extend_from_slice(text.as_bytes());
    }
    out
}

/// Merges `local` into `prev` (unreadable bytes start afresh), drops versions that left the
/// window more than a window ago, and keeps the `cap` seen most recently.
fn merge(prev: Option<&[u8]>, local: &Seen, now_ms: u64, window_ms: u64, cap: usize) -> Seen {
    let mut seen = prev.and_then(decode).unwrap_or_default();
    for (v, t) in local {
        match seen.iter_mut().find(|(x, _)| x == v) {
            Some(e) => e.1 = e.1.max(*t),
            None => seen.push((v.clone(), *t)),
        }
    }
    seen.retain(|(_, t)| now_ms.saturating_sub(*t) < window_ms.saturating_mul(2));
    if seen.len() > cap {
        seen.sort_by_key(|e| std::cmp::Reverse(e.1));
        seen.truncate(cap);
    }
    seen
}

/// One VM's view: what it saw since its last tick, and the gauge values it last set.
#[derive(Debug)]
pub struct Tracker {
    window_ms: u64,
    cap: usize,
    local: [Seen; 2],
    shown: [HashMap<String, bool>; 2],
}

impl Tracker {
    /// `cap`: the label cap (`stats.max_label_values`).
    pub fn new(window_ms: u64, cap: usize) -> Tracker {
        Tracker { window_ms, cap: cap.max(1), local: Default::default(), shown: Default::default() }
    }

    /// A finished call carried this version. Worker memory only, bounded by the cap.
    pub fn note(&mut self, kind: Kind, version: &str, now_ms: u64) {
        if version.is_empty() {
            return;
        }
        let version = cut(version);
        let local = &mut self.local[kind.index()];
        if let Some(e) = local.iter_mut().find(|(v, _)| v == version) {
            e.1 = e.1.max(now_ms);
        } else if local.len() < self.cap {
            local.push((version.to_owned(), now_ms));
        }
    }

    /// Merges what this worker saw into the proxy's record (when it saw anything) and
    /// answers the gauge values that changed since this worker last set them: `Gauge`
    /// updates whose value is what to set (1 or 0), not a delta.
    pub fn tick<S: SharedData>(&mut self, store: &mut S, now_ms: u64) -> Vec<StatUpdate> {
        let mut out = Vec::new();
        for kind in Kind::ALL {
            let i = kind.index();
            let merged = if self.local[i].is_empty() {
                let (prev, _) = store.get(kind.key());
                Ok(prev.as_deref().and_then(decode).unwrap_or_default())
            } else {
                let (local, window, cap) = (&self.local[i], self.window_ms, self.cap);
                update(store, kind.key(), |prev| {
                    let m = merge(prev, local, now_ms, window, cap);
                    (encode(&m), m)
                })
            };
            let merged = match merged {
                Ok(m) => {
                    self.local[i].clear();
                    m
                }
                // a lost race or a host refusal: keep what this worker saw for the next tick
                Err(UpdateError::Contended | UpdateError::Host) => continue,
            };
            let shown = &mut self.shown[i];
            for (version, last) in &merged {
                let active = now_ms.saturating_sub(*last) < self.window_ms;
                if shown.get(version) != Some(&active) && (active || shown.contains_key(version) || shown.len() < self.cap) {
                    shown.insert(version.clone(), active);
                    out.push(StatUpdate::new(kind.metric(), &[(kind.label(), version)], i64::from(active)));
                }
            }
            // gone from the record (pruned or pushed out): its series reads 0 from now on
            shown.retain(|version, active| {
                let keep = merged.iter().any(|(v, _)| v == version);
                if !keep && *active {
                    out.push(StatUpdate::new(kind.metric(), &[(kind.label(), version)], 0));
                }
                keep
            });
        }
        out
    }
}

#[cfg(test)]
/// The most bytes the two records can hold with a label cap of `cap`.
pub fn max_shared_bytes(cap: usize) -> u64 {
    2 * (2 + cap as u64 * (9 + crate::session::MAX_TEXT as u64))
}

#[cfg(test)]
mod tests;
