//! A streamed JSON array, `[{...},\r\n{...}]`: one frame per top-level element (Gemini's
//! `streamGenerateContent` without `alt=sse`).
//!
//! The decoder tracks strings, escapes and nesting byte by byte, so commas and brackets inside
//! strings never split an element. Only the current element is kept, bounded by
//! `max_frame_bytes`.

use super::{Frame, FramingError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Where {
    /// Before the opening `[`.
    Start,
    /// Between elements.
    Between,
    InElement,
    /// After the closing `]`.
    Done,
}

#[derive(Debug)]
pub(crate) struct JsonArrayDecoder {
    max_frame_bytes: usize,
    at: Where,
    element: Vec<u8>,
    depth: u32,
    in_string: bool,
    escaped: bool,
}

impl JsonArrayDecoder {
    pub(crate) fn new(max_frame_bytes: usize) -> Self {
        JsonArrayDecoder { max_frame_bytes, at: Where::Start, element: Vec::new(), depth: 0, in_string: false, escaped: false }
    }

    pub(crate) fn push(&mut self, chunk: &[u8], on_frame: &mut dyn FnMut(Frame<'_>)) -> Result<(), FramingError> {
        for &b in chunk {
            match self.at {
                Where::Start => match b {
                    b'[' => self.at = Where::Between,
                    b if b.is_ascii_whitespace() => {}
                    _ => return Err(FramingError::malformed("a JSON-array stream must start with '['")),
                },
                Where::Between => match b {
                    b',' => {}
                    b']' => self.at = Where::Done,
                    b if b.is_ascii_whitespace() => {}
                    b'{' | b'[' => {
                        self.at = Where::InElement;
                        self.depth = 1;
                        self.element.clear();
                        self.element.push(b);
                    }
                    _ => return Err(FramingError::malformed("array elements must be objects or arrays")),
                },
                Where::InElement => {
                    if self.element.len() >= self.max_frame_bytes {
                        return Err(FramingError::too_large(self.max_frame_bytes));
                    }
                    self.element.push(b);
                    if self.in_string {
                        if self.escaped {
                            self.escaped = false;
                        } else if b == b'\\' {
                            self.escaped = true;
                        } else if b == b'"' {
                            self.in_string = false;
                        }
                        continue;
                    }
                    match b {
                        b'"' => self.in_string = true,
                        b'{' | b'[' => self.depth += 1,
                        b'}' | b']' => {
                            self.depth -= 1;
                            if self.depth == 0 {
                                on_frame(Frame::Json(&self.element));
                                self.element.clear();
                                self.at = Where::Between;
                            }
                        }
                        _ => {}
                    }
                }
                Where::Done => {
                    if !b.is_ascii_whitespace() {
                        return Err(FramingError::malformed("bytes after the closing ']'"));
                    }
                }
            }
        }
        Ok(())
    }

    pub(crate) fn finish(&mut self, _on_frame: &mut dyn FnMut(Frame<'_>)) -> Result<(), FramingError> {
        match self.at {
            Where::Done | Where::Start => Ok(()),
            Where::Between | Where::InElement => Err(FramingError::truncated()),
        }
    }

    pub(crate) fn state_bytes(&self) -> usize {
        self.element.capacity()
    }
}

#[cfg(test)]
mod tests {
    use crate::framing::{json_frames, FramingError, StreamFormat};

    fn decode(chunks: &[&[u8]]) -> Result<Vec<String>, FramingError> {
        json_frames(StreamFormat::JsonArray, chunks, 1024)
    }

    #[test]
    fn elements_at_every_split() {
        let input = "[{\"a\":\"x,]}\\\"\"},\r\n{\"b\":[1,{\"c\":2}]}\n]";
        let want = vec!["{\"a\":\"x,]}\\\"\"}".to_owned(), "{\"b\":[1,{\"c\":2}]}".to_owned()];
        let b = input.as_bytes();
        for i in 0..=b.len() {
            let (x, y) = b.split_at(i);
            assert_eq!(decode(&[x, y]).unwrap(), want, "split at {i}");
        }
        assert_eq!(decode(&b.chunks(1).collect::<Vec<_>>()).unwrap(), want);
    }

    #[test]
    fn bad_and_truncated_arrays() {
        assert_eq!(decode(&[b"[{\"a\":1}"]), Err(FramingError::truncated()));
        assert_eq!(decode(&[b"[{\"a\":1},{\"b\""]), Err(FramingError::truncated()));
        let not_an_array = decode(&[b"{\"a\":1}"]).unwrap_err();
        assert_eq!(not_an_array.to_string(), "malformed stream: a JSON-array stream must start with '['");
        assert_eq!(decode(&[b"[1]"]), Err(FramingError::malformed("array elements must be objects or arrays")));
        assert_eq!(decode(&[b"[] x"]), Err(FramingError::malformed("bytes after the closing ']'")));
        assert_eq!(decode(&[b" [ ] "]).unwrap(), Vec::<String>::new());
    }
}
