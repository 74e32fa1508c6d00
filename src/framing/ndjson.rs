//! Newline-delimited JSON: one frame per line (Ollama's streams).
//!
//! Lines end in `\n` (a `\r` before it is dropped); blank lines are skipped. A line that sits
//! whole in a chunk is handed out in place; only a line straddling chunks is copied, into a
//! buffer bounded by `max_frame_bytes`. `finish` emits a last line that had no newline.

use super::{Frame, FramingError};

#[derive(Debug)]
pub(crate) struct NdjsonDecoder {
    max_frame_bytes: usize,
    partial: Vec<u8>,
}

fn emit(line: &[u8], on_frame: &mut dyn FnMut(Frame<'_>)) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if !line.trim_ascii().is_empty() {
        on_frame(Frame::Json(line));
    }
}

impl NdjsonDecoder {
    pub(crate) fn new(max_frame_bytes: usize) -> Self {
        NdjsonDecoder { max_frame_bytes, partial: Vec::new() }
    }

    pub(crate) fn push(&mut self, chunk: &[u8], on_frame: &mut dyn FnMut(Frame<'_>)) -> Result<(), FramingError> {
        let mut rest = chunk;
        while let Some(end) = memchr::memchr(b'\n', rest) {
            if self.partial.is_empty() {
                emit(&rest[..end], on_frame);
            } else {
                if self.partial.len() + end > self.max_frame_bytes {
                    return Err(FramingError::too_large(self.max_frame_bytes));
                }
                self.partial.extend_from_slice(&rest[..end]);
                let line = std::mem::take(&mut self.partial);
                emit(&line, on_frame);
                self.partial = line;
                self.partial.clear();
            }
            rest = &rest[end + 1..];
        }
        if self.partial.len() + rest.len() > self.max_frame_bytes {
            return Err(FramingError::too_large(self.max_frame_bytes));
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    pub(crate) fn finish(&mut self, on_frame: &mut dyn FnMut(Frame<'_>)) -> Result<(), FramingError> {
        let line = std::mem::take(&mut self.partial);
        emit(&line, on_frame);
        Ok(())
    }

    pub(crate) fn state_bytes(&self) -> usize {
        self.partial.capacity()
    }
}

#[cfg(test)]
mod tests {
    use crate::framing::{json_frames, FramingError, StreamFormat};

    fn decode(chunks: &[&[u8]], limit: usize) -> Result<Vec<String>, FramingError> {
        json_frames(StreamFormat::Ndjson, chunks, limit)
    }

    #[test]
    fn lines_at_every_split() {
        let cases: &[(&str, &[&str])] = &[
            ("{\"a\":1}\n{\"b\":2}\n", &["{\"a\":1}", "{\"b\":2}"]),
            ("{\"a\":1}\r\n\r\n{\"b\":2}", &["{\"a\":1}", "{\"b\":2}"]),
            ("\n\n{\"é\":\"✓\"}\n", &["{\"é\":\"✓\"}"]),
            ("", &[]),
        ];
        for (input, want) in cases {
            let b = input.as_bytes();
            for i in 0..=b.len() {
                let (x, y) = b.split_at(i);
                assert_eq!(decode(&[x, y], 64).unwrap(), *want, "{input:?} at {i}");
            }
            let singles: Vec<&[u8]> = b.chunks(1).collect();
            assert_eq!(decode(&singles, 64).unwrap(), *want, "{input:?} byte by byte");
        }
    }

    #[test]
    fn a_line_over_the_limit_is_an_error() {
        assert_eq!(decode(&[b"0123456789", b"0123456789\n"], 16), Err(FramingError::too_large(16)));
        assert_eq!(decode(&[b"01234567890123456789"], 16), Err(FramingError::too_large(16)));
    }
}
