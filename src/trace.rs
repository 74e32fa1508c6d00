//! W3C trace context: reading the agent's `traceparent` and writing ours.
//!
//! This module owns the `traceparent` / `tracestate` wire format (W3C Trace Context, version
//! 00). It does not make ids: random bytes come from the caller (the host reads `getrandom`),
//! so the core stays deterministic under test.

use crate::span::{SpanId, TraceId};

/// The agent's trace context, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: TraceId,
    pub parent_id: SpanId,
    pub flags: u8,
}

/// Parses a `traceparent` header. Invalid values (wrong length, bad hex, all-zero ids,
/// version ff) give `None`, and the caller starts a new trace, as the W3C spec says.
pub fn parse_traceparent(value: &str) -> Option<TraceParent> {
    let v = value.trim().as_bytes();
    // version 00 is exactly 55 bytes; later versions may append fields after a '-'.
    if v.len() < 55 || (v.len() > 55 && v.get(55) != Some(&b'-')) {
        return None;
    }
    if v.get(2) != Some(&b'-') || v.get(35) != Some(&b'-') || v.get(52) != Some(&b'-') {
        return None;
    }
    let version = hex_byte(v.get(0..2)?)?;
    if version == 0xff || (version == 0 && v.len() != 55) {
        return None;
    }
    let mut trace_id = [0u8; 16];
    for (i, b) in trace_id.iter_mut().enumerate() {
        *b = hex_byte(v.get(3 + 2 * i..5 + 2 * i)?)?;
    }
    let mut parent_id = [0u8; 8];
    for (i, b) in parent_id.iter_mut().enumerate() {
        *b = hex_byte(v.get(36 + 2 * i..38 + 2 * i)?)?;
    }
    let flags = hex_byte(v.get(53..55)?)?;
    if trace_id == [0; 16] || parent_id == [0; 8] {
        return None;
    }
    Some(TraceParent { trace_id, parent_id, flags })
}

/// Formats a version-00 `traceparent`.
pub fn format_traceparent(trace_id: &TraceId, span_id: &SpanId, flags: u8) -> String {
    let mut s = String::with_capacity(55);
    s.push_str("00-");
    push_hex(&mut s, trace_id);
    s.push('-');
    push_hex(&mut s, span_id);
    s.push('-');
    push_hex(&mut s, &[flags]);
    s
}

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    push_hex(&mut s, bytes);
    s
}

fn push_hex(s: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 0xf) as usize] as char);
    }
}

fn hex_byte(two: &[u8]) -> Option<u8> {
    let d = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None, // uppercase is invalid per the spec
    };
    match two {
        [h, l] => Some(d(*h)? << 4 | d(*l)?),
        _ => None,
    }
}

/// Ids for a new span: `trace_id` is used only when there is no incoming trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreshIds {
    /// The new span's trace id, used when no traceparent came in.
    pub trace_id: TraceId,
    /// The new span's id.
    pub span_id: SpanId,
}

impl FreshIds {
    /// Builds ids from 24 random bytes; all-zero ids (invalid) get a low bit set.
    pub fn from_random(bytes: [u8; 24]) -> FreshIds {
        let mut trace_id = [0u8; 16];
        let mut span_id = [0u8; 8];
        trace_id.copy_from_slice(&bytes[..16]);
        span_id.copy_from_slice(&bytes[16..]);
        if trace_id == [0; 16] {
            trace_id[15] = 1;
        }
        if span_id == [0; 8] {
            span_id[7] = 1;
        }
        FreshIds { trace_id, span_id }
    }
}

/// Random bytes for new ids, fetched [`RandomPool::CALLS`] calls' worth at a time.
///
/// Inside Envoy each fetch is a host call that reads the system's random source, about 4 us: a
/// pool makes it one call in 64 instead of one per call. Spent bytes are wiped, so no id can be
/// handed out twice, even if a refill fails and leaves zeros.
pub struct RandomPool {
    bytes: [u8; 24 * RandomPool::CALLS],
    used: usize,
}

impl Default for RandomPool {
    fn default() -> RandomPool {
        RandomPool { bytes: [0; 24 * RandomPool::CALLS], used: 24 * RandomPool::CALLS }
    }
}

impl RandomPool {
    /// How many calls' ids one refill serves.
    pub const CALLS: usize = 64;

    /// The next 24 bytes (a trace id and a span id), refilling the pool with `refill` when it
    /// is spent.
    pub fn take(&mut self, refill: impl FnOnce(&mut [u8])) -> [u8; 24] {
        if self.used == self.bytes.len() {
            refill(&mut self.bytes);
            self.used = 0;
        }
        let mut out = [0u8; 24];
        let spent = &mut self.bytes[self.used..self.used + 24];
        out.copy_from_slice(spent);
        spent.fill(0);
        self.used += 24;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_random_pool_refills_once_per_64_calls_and_never_repeats() {
        let mut pool = RandomPool::default();
        let mut refills = 0u8;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..RandomPool::CALLS * 3 {
            let ids = pool.take(|b| {
                refills += 1;
                // each window names its place and its refill
                for (w, window) in b.chunks_mut(24).enumerate() {
                    window.fill(0);
                    window[0] = w as u8;
                    window[1] = refills;
                }
            });
            assert!(seen.insert(ids), "an id was handed out twice");
        }
        assert_eq!(refills, 3);
        // a refill that fails leaves the wiped (zero) bytes, never old ones
        let mut pool = RandomPool::default();
        let first = pool.take(|b| b.fill(7));
        assert_eq!(first, [7; 24]);
        for _ in 1..RandomPool::CALLS {
            pool.take(|_| unreachable!());
        }
        assert_eq!(pool.take(|_| {}), [0; 24]);
    }

    #[test]
    fn parses_the_spec_example() {
        let tp = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(to_hex(&tp.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(to_hex(&tp.parent_id), "00f067aa0ba902b7");
        assert_eq!(tp.flags, 1);
        assert_eq!(
            format_traceparent(&tp.trace_id, &tp.parent_id, tp.flags),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
    }

    #[test]
    fn refuses_invalid_values() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(parse_traceparent(bad), None, "{bad:?}");
        }
        // a future version may carry more fields
        assert!(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-ab").is_some());
    }

    #[test]
    fn zero_random_bytes_still_give_valid_ids() {
        let ids = FreshIds::from_random([0; 24]);
        assert_ne!(ids.trace_id, [0; 16]);
        assert_ne!(ids.span_id, [0; 8]);
    }
}
