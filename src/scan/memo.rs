//! Remembering the strings bound for telemetry that the detectors found clean.
//!
//! This module owns a small, bounded memo of such strings, per VM (per compiled [`Guard`]).
//! It does not scan (that is `detect`) and it never holds a string that had a finding. A
//! model name, a host and a span name come back on every call, and each pass of the
//! detectors costs thousands of instructions; the detectors are a pure function of the
//! string, so a remembered answer is the answer.
//!
//! Response ids and tool call ids are unique, and would push the repeated strings out of a
//! plain ring. So a string is remembered only when it is found clean a second time: the first
//! time, only its hash goes into a ring of sightings. The memo costs at most
//! [`SLOTS`] × [`MAX_LEN`] bytes plus the ring of hashes.
//!
//! [`Guard`]: super::Guard

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

/// How many clean strings are remembered.
pub const SLOTS: usize = 32;
/// The longest string remembered: model names, hosts and span names are shorter.
pub const MAX_LEN: usize = 128;
/// How many first sightings are remembered (hashes).
const SIGHTINGS: usize = 64;

/// Clean strings seen at least twice, and the hashes of those seen once. Behind a mutex so
/// that a compiled configuration stays `Sync`; it is never contended (one VM, one thread),
/// and a memo that cannot be locked is passed by, never waited on.
#[derive(Debug, Default)]
pub(crate) struct CleanMemo(Mutex<Memo>);

#[derive(Debug)]
struct Memo {
    clean: Vec<Box<str>>,
    next_clean: usize,
    seen: [u64; SIGHTINGS],
    next_seen: usize,
}

impl Default for Memo {
    fn default() -> Memo {
        Memo { clean: Vec::new(), next_clean: 0, seen: [0; SIGHTINGS], next_seen: 0 }
    }
}

impl CleanMemo {
    /// Whether `s` was found clean before (and remembered).
    pub(crate) fn is_clean(&self, s: &str) -> bool {
        s.len() <= MAX_LEN && self.0.try_lock().is_ok_and(|m| m.clean.iter().any(|c| **c == *s))
    }

    /// `s` was just found clean: remembered on its second sighting.
    pub(crate) fn found_clean(&self, s: &str) {
        if s.len() > MAX_LEN {
            return;
        }
        let Ok(mut m) = self.0.try_lock() else { return };
        let mut h = DefaultHasher::new();
        s.hash(&mut h);
        // 0 marks an empty sighting slot
        let hash = h.finish().max(1);
        if !m.seen.contains(&hash) {
            let at = m.next_seen;
            m.seen[at] = hash;
            m.next_seen = (at + 1) % SIGHTINGS;
            return;
        }
        if m.clean.iter().any(|c| **c == *s) {
            return;
        }
        if m.clean.len() < SLOTS {
            m.clean.push(s.into());
        } else {
            let at = m.next_clean;
            m.clean[at] = s.into();
            m.next_clean = (at + 1) % SLOTS;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_string_is_remembered_on_its_second_clean_sighting_and_unique_ones_never_evict_it() {
        let memo = CleanMemo::default();
        memo.found_clean("gpt-4o-2024-08-06");
        assert!(!memo.is_clean("gpt-4o-2024-08-06"), "once is not enough");
        memo.found_clean("gpt-4o-2024-08-06");
        assert!(memo.is_clean("gpt-4o-2024-08-06"));
        // a thousand unique ids, each seen once, pass through the sightings only
        for i in 0..1000 {
            memo.found_clean(&format!("chatcmpl-{i:020}"));
        }
        assert!(memo.is_clean("gpt-4o-2024-08-06"));
        assert!(!memo.is_clean("chatcmpl-00000000000000000999"));
        // too long to remember
        let long = "x".repeat(MAX_LEN + 1);
        memo.found_clean(&long);
        memo.found_clean(&long);
        assert!(!memo.is_clean(&long));
    }

    #[test]
    fn the_memo_stays_bounded() {
        let memo = CleanMemo::default();
        for i in 0..(SLOTS * 3) {
            let s = format!("model-{i}");
            memo.found_clean(&s);
            memo.found_clean(&s);
        }
        // the newest are kept, the oldest gone
        assert!(memo.is_clean(&format!("model-{}", SLOTS * 3 - 1)));
        assert!(!memo.is_clean("model-0"));
        assert_eq!(memo.0.lock().map(|m| m.clean.len()).unwrap_or(0), SLOTS);
    }
}
