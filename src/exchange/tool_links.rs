//! Tool calls an LLM asked for, remembered per session and tool so the tool's own span can link
//! back to the span that asked for it. Slots are fixed in number (a hash picks one), so shared
//! data stays bounded whatever the traffic; a newer request for the same slot replaces the old.

use crate::session::SharedData;
use sha2::{Digest, Sha256};

/// How many slots there are, whatever the traffic.
const SLOTS: u64 = 4096;

/// The most bytes one slot's value holds: tag, trace id, span id and time (40), and a call id
/// cut at 128. With [`SLOTS`], what the documented shared-data bound (docs/operators.md) adds for tool links.
const MAX_SLOT_BYTES: usize = 40 + 128;

fn slot(session: &str, tool: &str) -> ([u8; 8], String) {
    let d = Sha256::new().chain_update(session.as_bytes()).chain_update([0u8]).chain_update(tool.as_bytes()).finalize();
    let mut tag = [0u8; 8];
    tag.copy_from_slice(&d[..8]);
    (tag, format!("genai_tap.toolreq.{}", u64::from_be_bytes(tag) % SLOTS))
}

/// Remembers that the LLM span `(trace, span)` asked for `tool` with `call_id`.
pub(super) fn remember<S: SharedData>(store: &mut S, session: &str, tool: &str, call_id: &str, trace: &[u8; 16], span: &[u8; 8], now_ms: u64) {
    let (tag, key) = slot(session, tool);
    let mut v = Vec::with_capacity(MAX_SLOT_BYTES);
    v.extend_from_slice(&tag);
    v.extend_from_slice(trace);
    v.extend_from_slice(span);
    v.extend_from_slice(&now_ms.to_be_bytes());
    v.extend_from_slice(call_id.as_bytes().get(..call_id.len().min(MAX_SLOT_BYTES - 40)).unwrap_or_default());
    let (_, cas) = store.get(&key);
    let _ = store.set(&key, &v, cas);
}

/// The LLM span that last asked for `tool` in `session`, within `ttl_ms`.
pub(super) fn find<S: SharedData>(store: &S, session: &str, tool: &str, now_ms: u64, ttl_ms: u64) -> Option<([u8; 16], [u8; 8], String)> {
    let (tag, key) = slot(session, tool);
    let (v, _) = store.get(&key);
    let v = v?;
    if v.get(..8)? != tag {
        return None;
    }
    let trace: [u8; 16] = v.get(8..24)?.try_into().ok()?;
    let span: [u8; 8] = v.get(24..32)?.try_into().ok()?;
    let at = u64::from_be_bytes(v.get(32..40)?.try_into().ok()?);
    if now_ms.saturating_sub(at) > ttl_ms {
        return None;
    }
    Some((trace, span, String::from_utf8_lossy(v.get(40..)?).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Store(HashMap<String, Vec<u8>>);

    impl SharedData for Store {
        fn get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
            (self.0.get(key).cloned(), None)
        }
        fn set(&mut self, key: &str, value: &[u8], _cas: Option<u32>) -> Result<(), crate::session::SetError> {
            self.0.insert(key.to_owned(), value.to_vec());
            Ok(())
        }
    }

    #[test]
    fn links_stay_within_their_slots_and_their_size() {
        let mut store = Store::default();
        let long_id = "c".repeat(1000);
        for i in 0..20_000 {
            remember(&mut store, &format!("s{i}"), "get_weather", &long_id, &[1; 16], &[2; 8], 5);
        }
        assert!(store.0.len() as u64 <= SLOTS, "{} keys", store.0.len());
        assert!(store.0.values().all(|v| v.len() == MAX_SLOT_BYTES));
        let (trace, span, id) = find(&store, "s19999", "get_weather", 6, 10).expect("the last one is there");
        assert_eq!((trace, span, id.len()), ([1; 16], [2; 8], 128));
        assert!(find(&store, "s19999", "get_weather", 100, 10).is_none(), "past its ttl");
    }
}
