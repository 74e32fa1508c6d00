//! Server-sent events, decoded on bytes.
//!
//! Follows the WHATWG event-stream rules: lines end in `\n`, `\r\n` or `\r`; `data:` lines of
//! one event are joined with `\n`; `event:` names the event; comments (`:`), `id:` and `retry:`
//! are ignored; one space after the colon is dropped; a blank line dispatches an event, and an
//! event without data is not dispatched. Line ends are found on bytes, so a multi-byte
//! character split across chunks is never decoded in halves.
//!
//! Lines that sit whole in one chunk are read in place; only a line that straddles chunks, and
//! the current event's data, are copied, into buffers bounded by `max_frame_bytes` that are
//! reused from event to event.
//!
//! At the end of the stream the spec discards an event that had no closing blank line. Some
//! providers omit the last blank line, and dropping their final event (often the one with the
//! usage) would lose data, so `finish` dispatches a pending event that has data.

use super::{Frame, FramingError};

#[derive(Debug)]
pub(crate) struct SseDecoder {
    max_frame_bytes: usize,
    /// The current line when it straddles chunks.
    line: Vec<u8>,
    /// The current event's joined data.
    data: Vec<u8>,
    has_data: bool,
    event: Vec<u8>,
    /// The last chunk ended in `\r`: a `\n` at the start of the next one belongs to it.
    after_cr: bool,
}

impl SseDecoder {
    pub(crate) fn new(max_frame_bytes: usize) -> Self {
        SseDecoder {
            max_frame_bytes,
            line: Vec::new(),
            data: Vec::new(),
            has_data: false,
            event: Vec::new(),
            after_cr: false,
        }
    }

    pub(crate) fn push(&mut self, chunk: &[u8], on_frame: &mut dyn FnMut(Frame<'_>)) -> Result<(), FramingError> {
        let mut rest = chunk;
        if self.after_cr {
            self.after_cr = false;
            if let Some(tail) = rest.strip_prefix(b"\n") {
                rest = tail;
            }
        }
        while !rest.is_empty() {
            let Some(end) = memchr::memchr2(b'\n', b'\r', rest) else {
                if self.line.len() + rest.len() > self.max_frame_bytes {
                    return Err(FramingError::too_large(self.max_frame_bytes));
                }
                self.line.extend_from_slice(rest);
                return Ok(());
            };
            let terminator_len = match (rest[end], rest.get(end + 1)) {
                (b'\r', Some(b'\n')) => 2,
                (b'\r', None) => {
                    self.after_cr = true;
                    1
                }
                _ => 1,
            };
            if self.line.is_empty() {
                // the whole line is in this chunk
                let line = &rest[..end];
                self.take_line(line, on_frame)?;
            } else {
                if self.line.len() + end > self.max_frame_bytes {
                    return Err(FramingError::too_large(self.max_frame_bytes));
                }
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&rest[..end]);
                self.take_line(&line, on_frame)?;
                line.clear();
                self.line = line;
            }
            rest = &rest[end + terminator_len..];
        }
        Ok(())
    }

    fn take_line(&mut self, line: &[u8], on_frame: &mut dyn FnMut(Frame<'_>)) -> Result<(), FramingError> {
        if line.is_empty() {
            self.dispatch(on_frame);
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                if self.data.len() + value.len() > self.max_frame_bytes {
                    return Err(FramingError::too_large(self.max_frame_bytes));
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => {
                self.event.clear();
                self.event.extend_from_slice(&value[..value.len().min(256)]);
            }
            _ => {} // id, retry and unknown fields do not matter here
        }
        Ok(())
    }

    fn dispatch(&mut self, on_frame: &mut dyn FnMut(Frame<'_>)) {
        if self.has_data {
            let event = std::str::from_utf8(&self.event).ok().filter(|e| !e.is_empty());
            on_frame(Frame::Sse { event, data: &self.data });
        }
        self.data.clear();
        self.event.clear();
        self.has_data = false;
    }

    pub(crate) fn finish(&mut self, on_frame: &mut dyn FnMut(Frame<'_>)) -> Result<(), FramingError> {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.take_line(&line, on_frame)?;
        }
        self.dispatch(on_frame);
        Ok(())
    }

    pub(crate) fn state_bytes(&self) -> usize {
        self.line.capacity() + self.data.capacity() + self.event.capacity()
    }
}

#[cfg(test)]
mod tests {
    use crate::framing::{Frame, FramingError, StreamDecoder, StreamFormat};

    type Event = (Option<String>, String);

    fn decode(chunks: &[&[u8]]) -> Result<Vec<Event>, FramingError> {
        let mut d = StreamDecoder::new(StreamFormat::Sse, 1024);
        let mut out = Vec::new();
        let mut sink = |f: Frame<'_>| {
            if let Frame::Sse { event, data } = f {
                out.push((event.map(str::to_owned), String::from_utf8(data.to_vec()).unwrap()));
            }
        };
        for c in chunks {
            d.push(c, &mut sink)?;
        }
        d.finish(&mut sink)?;
        Ok(out)
    }

    fn ev(event: Option<&str>, data: &str) -> Event {
        (event.map(str::to_owned), data.to_owned())
    }

    struct Case {
        name: &'static str,
        input: &'static str,
        want: &'static [(Option<&'static str>, &'static str)],
    }

    const CASES: &[Case] = &[
        Case { name: "basic", input: "data: a\n\ndata: b\n\n", want: &[(None, "a"), (None, "b")] },
        Case { name: "crlf", input: "data: a\r\n\r\ndata: b\r\n\r\n", want: &[(None, "a"), (None, "b")] },
        Case { name: "bare cr", input: "data: a\r\rdata: b\r\r", want: &[(None, "a"), (None, "b")] },
        Case { name: "named", input: "event: message_start\ndata: {}\n\n", want: &[(Some("message_start"), "{}")] },
        Case { name: "multi-line data", input: "data: a\ndata: b\n\n", want: &[(None, "a\nb")] },
        Case { name: "no space", input: "data:x\n\n", want: &[(None, "x")] },
        Case { name: "two spaces keep one", input: "data:  x\n\n", want: &[(None, " x")] },
        Case { name: "comments and ids", input: ": ping\nid: 7\nretry: 10\ndata: x\n\n", want: &[(None, "x")] },
        Case { name: "no data no event", input: "event: ping\n\ndata: y\n\n", want: &[(None, "y")] },
        Case { name: "event name resets", input: "event: a\ndata: 1\n\ndata: 2\n\n", want: &[(Some("a"), "1"), (None, "2")] },
        Case { name: "unterminated last event", input: "data: a\n\ndata: [DONE]", want: &[(None, "a"), (None, "[DONE]")] },
        Case { name: "utf-8", input: "data: héllo ✓\n\n", want: &[(None, "héllo ✓")] },
        Case { name: "empty data line", input: "data\n\n", want: &[(None, "")] },
    ];

    #[test]
    fn cases_whole_split_everywhere_and_byte_by_byte() {
        for case in CASES {
            let want: Vec<Event> = case.want.iter().map(|(e, d)| ev(*e, d)).collect();
            let bytes = case.input.as_bytes();
            assert_eq!(decode(&[bytes]).unwrap(), want, "{} whole", case.name);
            for i in 0..=bytes.len() {
                let (a, b) = bytes.split_at(i);
                assert_eq!(decode(&[a, b]).unwrap(), want, "{} split at {i}", case.name);
            }
            let singles: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(decode(&singles).unwrap(), want, "{} byte by byte", case.name);
        }
    }

    #[test]
    fn an_oversized_event_is_an_error_and_sticky() {
        let mut d = StreamDecoder::new(StreamFormat::Sse, 16);
        let mut n = 0;
        let err = d.push(b"data: 0123456789abcdefghij\n\n", &mut |_| n += 1).unwrap_err();
        assert_eq!(err, FramingError::too_large(16));
        assert_eq!(d.push(b"data: ok\n\n", &mut |_| n += 1), Err(err));
        assert_eq!(n, 0);
        // a long line split across chunks is bounded too
        let mut d = StreamDecoder::new(StreamFormat::Sse, 16);
        assert!(d.push(b"data: 0123456789", &mut |_| {}).is_ok());
        assert!(d.push(b"abcdefghij", &mut |_| {}).is_err());
    }

    #[test]
    fn state_stays_bounded_over_a_long_stream() {
        let mut d = StreamDecoder::new(StreamFormat::Sse, 4096);
        let event = b"data: {\"choices\":[{\"delta\":{\"content\":\"hello\"}}]}\n\n";
        let mut n = 0;
        for i in 0..5000 {
            let (a, b) = event.split_at(i % event.len());
            d.push(a, &mut |_| n += 1).unwrap();
            d.push(b, &mut |_| n += 1).unwrap();
        }
        assert_eq!(n, 5000);
        assert!(d.state_bytes() < 1024, "{}", d.state_bytes());
    }
}
