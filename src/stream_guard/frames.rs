//! Cuts a response stream into the raw bytes of whole events, so that an event can leave
//! byte-identical or be replaced whole. `framing` decodes events but hands out their fields,
//! not their bytes; this finds the same boundaries and keeps the bytes. Bounded: one partial
//! event, at most `max` bytes.

use crate::framing::{message_total_len, FramingError, StreamFormat};

/// A run of the stream's bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RawFrame {
    pub bytes: Vec<u8>,
    /// An event of the format; otherwise bytes between events (a JSON array's `]`).
    pub event: bool,
    /// For a JSON-array element: how many leading bytes are separators (`[`, `,`, spaces).
    pub prefix: usize,
}

/// A framer's buffer keeps at most this much spare capacity after a burst.
const SHRINK_ABOVE: usize = 64 * 1024;

#[derive(Debug)]
pub(crate) struct RawFramer {
    format: StreamFormat,
    max: usize,
    buf: Vec<u8>,
    /// Bytes of `buf` already looked at and known not to end an event.
    scanned: usize,
    array: ArrayState,
}

#[derive(Debug, Default)]
struct ArrayState {
    open: bool,
    depth: usize,
    in_str: bool,
    esc: bool,
    /// Where the current element begins in `buf` (after its separators).
    elem_start: Option<usize>,
}

impl RawFramer {
    pub(crate) fn new(format: StreamFormat, max: usize) -> RawFramer {
        RawFramer { format, max, buf: Vec::new(), scanned: 0, array: ArrayState::default() }
    }

    /// Appends `chunk` and moves every whole event into `out`. On an error the bytes not yet
    /// framed stay in the framer ([`RawFramer::take_rest`]).
    pub(crate) fn push(&mut self, chunk: &[u8], out: &mut Vec<RawFrame>) -> Result<(), FramingError> {
        self.buf.extend_from_slice(chunk);
        // Events are copied out of `buf` at their size and the framed front is dropped once,
        // after the loop. Splitting `buf` per event would leave each event's bytes holding the
        // capacity of everything behind it: a 1.4 MB burst of 5,000 events then held ~1.8 GB
        // until the chunk was done (measured in Envoy: the VM ran out of memory).
        let mut start = 0;
        let result = loop {
            let found = match self.format {
                StreamFormat::Sse => self.sse_end(),
                StreamFormat::Ndjson => memchr::memchr(b'\n', &self.buf[self.scanned..]).map(|i| (self.scanned + i + 1, 0)),
                StreamFormat::JsonArray => self.array_end(start),
                StreamFormat::EventStream => match message_total_len(&self.buf[start..]) {
                    Some(n) if n < 16 => break Err(FramingError::malformed("event-stream lengths do not add up")),
                    Some(n) if n > self.max => break Err(FramingError::too_large(self.max)),
                    Some(n) if self.buf.len() - start >= n => Some((start + n, 0)),
                    _ => None,
                },
            };
            let Some((end, prefix)) = found else { break Ok(()) };
            out.push(RawFrame { bytes: self.buf[start..end].to_vec(), event: true, prefix });
            start = end;
            self.scanned = end;
        };
        self.consume(start);
        result?;
        if self.buf.len() > self.max {
            return Err(FramingError::too_large(self.max));
        }
        if self.format == StreamFormat::Ndjson {
            self.scanned = self.buf.len();
        }
        Ok(())
    }

    /// Drops the first `n` bytes of `buf` (handed out as events), and the capacity a burst
    /// left behind once the partial event is small again.
    fn consume(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        self.buf.drain(..n);
        self.scanned = self.scanned.saturating_sub(n);
        if let Some(e) = self.array.elem_start.as_mut() {
            *e = e.saturating_sub(n);
        }
        if self.buf.capacity() > SHRINK_ABOVE && self.buf.capacity() / 4 > self.buf.len() {
            self.buf.shrink_to(self.buf.len().max(SHRINK_ABOVE / 4));
        }
    }

    /// The stream ended: what is left goes out as it is (an SSE event or NDJSON line with no
    /// terminator is still an event; a JSON array's closing bracket is not).
    pub(crate) fn finish(&mut self, out: &mut Vec<RawFrame>) {
        let bytes = self.take_rest();
        if bytes.is_empty() {
            return;
        }
        let event = matches!(self.format, StreamFormat::Sse | StreamFormat::Ndjson);
        out.push(RawFrame { bytes, event, prefix: 0 });
    }

    /// The bytes not framed yet; the framer starts over.
    pub(crate) fn take_rest(&mut self) -> Vec<u8> {
        self.scanned = 0;
        self.array.elem_start = None;
        std::mem::take(&mut self.buf)
    }

    pub(crate) fn state_bytes(&self) -> usize {
        self.buf.capacity()
    }

    /// An SSE event ends at an empty line (`\n\n` or `\r\n\r\n`). `scanned` stays at the start
    /// of the first line not yet seen whole.
    fn sse_end(&mut self) -> Option<(usize, usize)> {
        let b = &self.buf;
        let mut ls = self.scanned;
        while let Some(nl) = memchr::memchr(b'\n', b.get(ls..).unwrap_or_default()).map(|k| ls + k) {
            let line = b.get(ls..nl).unwrap_or_default();
            if line.is_empty() || line == b"\r" {
                return Some((nl + 1, 0));
            }
            ls = nl + 1;
        }
        self.scanned = ls;
        None
    }

    /// A JSON array element ends where its object or array closes. `start` is where the
    /// bytes not yet handed out begin: the element's prefix is counted from there.
    fn array_end(&mut self, start: usize) -> Option<(usize, usize)> {
        let s = &mut self.array;
        let mut i = self.scanned;
        while let Some(&c) = self.buf.get(i) {
            i += 1;
            if s.in_str {
                if s.esc {
                    s.esc = false;
                } else if c == b'\\' {
                    s.esc = true;
                } else if c == b'"' {
                    s.in_str = false;
                }
                continue;
            }
            match c {
                b'"' if s.depth > 0 => s.in_str = true,
                b'[' if !s.open => s.open = true,
                b'{' | b'[' => {
                    if s.depth == 0 {
                        s.elem_start = Some(i - 1);
                    }
                    s.depth += 1;
                }
                b'}' | b']' if s.depth > 0 => {
                    s.depth -= 1;
                    if s.depth == 0 {
                        let prefix = s.elem_start.take().map_or(0, |e| e.saturating_sub(start));
                        return Some((i, prefix));
                    }
                }
                _ => {}
            }
        }
        self.scanned = i;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(format: StreamFormat, input: &[u8], step: usize) -> Vec<(Vec<u8>, bool)> {
        let mut f = RawFramer::new(format, 1 << 16);
        let mut out = Vec::new();
        for c in input.chunks(step.max(1)) {
            f.push(c, &mut out).unwrap();
        }
        f.finish(&mut out);
        out.into_iter().map(|r| (r.bytes, r.event)).collect()
    }

    #[test]
    fn sse_events_keep_their_bytes_at_every_step() {
        let s = b"event: a\ndata: {\"x\":1}\n\ndata: 2\r\n\r\n: comment\ndata: 3\n\ndata: tail";
        for step in [1, 2, 3, 7, s.len()] {
            let got = frames(StreamFormat::Sse, s, step);
            let want: Vec<(Vec<u8>, bool)> = vec![
                (b"event: a\ndata: {\"x\":1}\n\n".to_vec(), true),
                (b"data: 2\r\n\r\n".to_vec(), true),
                (b": comment\ndata: 3\n\n".to_vec(), true),
                (b"data: tail".to_vec(), true),
            ];
            assert_eq!(got, want, "step {step}");
        }
    }

    #[test]
    fn json_array_elements_carry_their_separators() {
        let s = b"[{\"a\":\"}]\\\"\"},\r\n {\"b\":[1,{}]}\n]";
        for step in [1, 2, 5, s.len()] {
            let got = frames(StreamFormat::JsonArray, s, step);
            let joined: Vec<u8> = got.iter().flat_map(|(b, _)| b.clone()).collect();
            assert_eq!(joined, s.to_vec());
            assert_eq!(got.len(), 3, "step {step}");
            assert_eq!(got[1].0, b",\r\n {\"b\":[1,{}]}".to_vec());
            assert!(!got[2].1);
        }
    }

    #[test]
    fn a_burst_of_events_holds_the_burst_once_not_once_per_event() {
        // 5,000 events in one chunk, as Envoy hands over a provider's burst: the events hold
        // the burst's bytes once, and the framer keeps no burst-sized buffer afterwards
        let event = b"data: {\"choices\":[{\"delta\":{\"content\":\"token \"}}]}\n\n";
        for format in [StreamFormat::Sse, StreamFormat::Ndjson] {
            let burst: Vec<u8> = event.iter().copied().cycle().take(event.len() * 5000).collect();
            let mut f = RawFramer::new(format, 1 << 16);
            let mut out = Vec::new();
            f.push(&burst, &mut out).unwrap();
            f.push(b"data: par", &mut out).unwrap();
            let held: usize = out.iter().map(|r| r.bytes.capacity()).sum();
            assert!(held <= burst.len(), "{format:?}: events hold {held} bytes for a burst of {}", burst.len());
            assert!(f.state_bytes() <= SHRINK_ABOVE, "{format:?}: the framer kept {} bytes", f.state_bytes());
            assert_eq!(f.take_rest(), b"data: par".to_vec());
        }
        let elem = b"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"t\"}]}}]}";
        let mut array = b"[".to_vec();
        for i in 0..3000 {
            if i > 0 {
                array.extend_from_slice(b",\r\n");
            }
            array.extend_from_slice(elem);
        }
        let mut f = RawFramer::new(StreamFormat::JsonArray, 1 << 16);
        let mut out = Vec::new();
        f.push(&array, &mut out).unwrap();
        assert_eq!(out.len(), 3000);
        assert_eq!((out[0].prefix, out[1].prefix), (1, 3), "separators counted from each element's own start");
        assert!(out.iter().map(|r| r.bytes.capacity()).sum::<usize>() <= array.len());
    }

    #[test]
    fn oversized_partial_event_is_an_error_and_keeps_its_bytes() {
        let mut f = RawFramer::new(StreamFormat::Ndjson, 8);
        let mut out = Vec::new();
        assert!(f.push(b"0123456789", &mut out).is_err());
        assert_eq!(f.take_rest(), b"0123456789".to_vec());
    }
}
