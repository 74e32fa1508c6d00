//! Tool calls an LLM asked for, remembered per session and tool so the tool's own span can link
//! back to the span that asked for it. Slots are fixed in number (a hash picks one), so shared
//! data stays bounded whatever the traffic; a newer request for the same slot replaces the old.

use crate::session::SharedData;
use sha2::{Digest, Sha256};

/// How many slots there are, whatever the traffic.
pub(crate) const SLOTS: u64 = 4096;

/// The most bytes one slot's value holds: tag, trace id, span id, time, and a call id cut at 128.
pub(crate) const MAX_SLOT_BYTES: u64 = 8 + 16 + 8 + 8 + 128;

fn slot(session: &str, tool: &str) -> ([u8; 8], String) {
    let d = Sha256::new().chain_update(session.as_bytes()).chain_update([0u8]).chain_update(tool.as_bytes()).finalize();
    let mut tag = [0u8; 8];
    tag.copy_from_slice(&d[..8]);
    (tag, format!("genai_tap.toolreq.{}", u64::from_be_bytes(tag) % SLOTS))
}

/// Remembers that the LLM span `(trace, span)` asked for `tool` with `call_id`.
pub(super) fn remember<S: SharedData>(store: &mut S, session: &str, tool: &str, call_id: &str, trace: &[u8; 16], span: &[u8; 8], now_ms: u64) {
    let (tag, key) = slot(session, tool);
    let mut v = Vec::with_capacity(40 + call_id.len());
    v.extend_from_slice(&tag);
    v.extend_from_slice(trace);
    v.extend_from_slice(span);
    v.extend_from_slice(&now_ms.to_be_bytes());
    v.extend_from_slice(call_id.as_bytes().get(..call_id.len().min(128)).unwrap_or_default());
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
