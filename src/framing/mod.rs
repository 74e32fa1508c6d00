//! Stream framing: turns response body chunks, split anywhere, into whole frames.
//!
//! This module owns the byte-level decoders for the stream formats that LLM providers use:
//! server-sent events (`sse`), newline-delimited JSON (`ndjson`), a streamed JSON array
//! (`json_array`, Gemini without `alt=sse`) and the AWS event stream (`eventstream`, binary,
//! CRC-checked). Each decoder finds frame boundaries on bytes before anything is decoded as
//! UTF-8, keeps at most one partial frame (bounded by `max_frame_bytes`), and never copies a
//! frame that is already whole in the caller's chunk. It does not know what a frame means;
//! that is `providers`.
//!
//! Errors are sticky: after one, `push` does no more work and returns the same error, so the
//! caller can stop extracting and keep passing bytes.

/// One decoded frame, borrowed from the decoder or the caller's chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// An SSE event: the `event:` field (if any) and the joined `data:` lines.
    Sse {
        /// The `event:` field, if any.
        event: Option<&'a str>,
        /// The `data:` lines, joined with newlines.
        data: &'a [u8],
    },
    /// One NDJSON line or one element of a streamed JSON array, without the separator.
    Json(&'a [u8]),
    /// One AWS event-stream message whose CRCs checked out.
    EventStream {
        /// `:event-type` header (`chunk`, `messageStart`, `metadata`, ...).
        event_type: &'a str,
        /// `:message-type` header (`event` or `exception`).
        message_type: &'a str,
        /// The message payload (JSON for every Bedrock event).
        payload: &'a [u8],
    },
}

/// An error that occurred while cutting a response stream into frames.
///
/// It is always the peer's bytes at fault: one frame grew past `max_frame_bytes`, an AWS
/// event-stream prelude or message checksum did not match, bytes could not start or continue
/// a frame of the stream's format, or the stream ended inside a frame. Not having enough bytes
/// yet is never an error.
///
/// The error is sticky: once a [`StreamDecoder`] returns it, every later `push` and `finish`
/// returns it again and does no work. Its kind is not exposed; callers only stop extracting
/// (`genai_tap.not_parsed.reason` is `framing`). The `Display` text names the limit, never
/// the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramingError {
    kind: FramingErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum FramingErrorKind {
    /// One frame grew past the configured bound.
    FrameTooLarge { limit: usize },
    /// An AWS event-stream prelude or message CRC did not match.
    BadChecksum,
    /// Bytes that cannot start or continue a frame of this format.
    Malformed(&'static str),
    /// The stream ended inside a frame.
    Truncated,
}

impl FramingError {
    /// One frame grew past `limit` bytes.
    pub(crate) fn too_large(limit: usize) -> FramingError {
        FramingError { kind: FramingErrorKind::FrameTooLarge { limit } }
    }

    /// An AWS event-stream prelude or message CRC did not match.
    pub(crate) fn bad_checksum() -> FramingError {
        FramingError { kind: FramingErrorKind::BadChecksum }
    }

    /// Bytes that cannot start or continue a frame; `what` says which, without quoting them.
    pub(crate) fn malformed(what: &'static str) -> FramingError {
        FramingError { kind: FramingErrorKind::Malformed(what) }
    }

    /// The stream ended inside a frame.
    pub(crate) fn truncated() -> FramingError {
        FramingError { kind: FramingErrorKind::Truncated }
    }
}

impl core::fmt::Display for FramingError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.kind {
            FramingErrorKind::FrameTooLarge { limit } => {
                write!(f, "a stream frame grew past the limit of {limit} bytes")
            }
            FramingErrorKind::BadChecksum => write!(f, "an event-stream checksum did not match"),
            FramingErrorKind::Malformed(what) => write!(f, "malformed stream: {what}"),
            FramingErrorKind::Truncated => write!(f, "the stream ended inside a frame"),
        }
    }
}

impl std::error::Error for FramingError {}

/// The stream formats, chosen from the response's content type and the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFormat {
    /// Server-sent events (`text/event-stream`).
    Sse,
    /// Newline-delimited JSON.
    Ndjson,
    /// One JSON array whose elements arrive over time (Gemini's stream without `alt=sse`).
    JsonArray,
    /// The AWS event stream (`application/vnd.amazon.eventstream`).
    EventStream,
}

mod body;
mod eventstream;

pub use eventstream::{base64_encode, encode_message, message_headers, message_total_len};
mod json_array;
mod ndjson;
mod sse;

pub use body::{Body, BodyEnd, BoundedBody};

/// A decoder for one response stream. Feed it chunks as they arrive; it calls `on_frame` for
/// every whole frame and keeps at most one partial frame, bounded by `max_frame_bytes`.
#[derive(Debug)]
pub struct StreamDecoder {
    inner: Decoder,
    error: Option<FramingError>,
}

#[derive(Debug)]
enum Decoder {
    Sse(sse::SseDecoder),
    Ndjson(ndjson::NdjsonDecoder),
    JsonArray(json_array::JsonArrayDecoder),
    EventStream(eventstream::EventStreamDecoder),
}

impl StreamDecoder {
    /// A decoder for `format` that refuses any frame longer than `max_frame_bytes`.
    pub fn new(format: StreamFormat, max_frame_bytes: usize) -> StreamDecoder {
        let inner = match format {
            StreamFormat::Sse => Decoder::Sse(sse::SseDecoder::new(max_frame_bytes)),
            StreamFormat::Ndjson => Decoder::Ndjson(ndjson::NdjsonDecoder::new(max_frame_bytes)),
            StreamFormat::JsonArray => {
                Decoder::JsonArray(json_array::JsonArrayDecoder::new(max_frame_bytes))
            }
            StreamFormat::EventStream => {
                Decoder::EventStream(eventstream::EventStreamDecoder::new(max_frame_bytes))
            }
        };
        StreamDecoder { inner, error: None }
    }

    /// Feeds one chunk. After an error, does nothing and returns that error again.
    pub fn push(
        &mut self,
        chunk: &[u8],
        on_frame: &mut dyn FnMut(Frame<'_>),
    ) -> Result<(), FramingError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let result = match &mut self.inner {
            Decoder::Sse(d) => d.push(chunk, on_frame),
            Decoder::Ndjson(d) => d.push(chunk, on_frame),
            Decoder::JsonArray(d) => d.push(chunk, on_frame),
            Decoder::EventStream(d) => d.push(chunk, on_frame),
        };
        if let Err(e) = &result {
            self.error = Some(e.clone());
        }
        result
    }

    /// The stream ended: emits a last frame that had no terminator where the format allows it
    /// (SSE, NDJSON), or reports `Truncated`.
    pub fn finish(&mut self, on_frame: &mut dyn FnMut(Frame<'_>)) -> Result<(), FramingError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let result = match &mut self.inner {
            Decoder::Sse(d) => d.finish(on_frame),
            Decoder::Ndjson(d) => d.finish(on_frame),
            Decoder::JsonArray(d) => d.finish(on_frame),
            Decoder::EventStream(d) => d.finish(on_frame),
        };
        if let Err(e) = &result {
            self.error = Some(e.clone());
        }
        result
    }

    /// Bytes of heap the decoder holds now.
    pub fn state_bytes(&self) -> usize {
        match &self.inner {
            Decoder::Sse(d) => d.state_bytes(),
            Decoder::Ndjson(d) => d.state_bytes(),
            Decoder::JsonArray(d) => d.state_bytes(),
            Decoder::EventStream(d) => d.state_bytes(),
        }
    }
}

/// The JSON frames a decoder yields for `chunks`, as strings: the framers' tests compare them.
#[cfg(test)]
pub(crate) fn json_frames(format: StreamFormat, chunks: &[&[u8]], limit: usize) -> Result<Vec<String>, FramingError> {
    let mut d = StreamDecoder::new(format, limit);
    let mut out = Vec::new();
    let mut sink = |f: Frame<'_>| {
        if let Frame::Json(b) = f {
            out.push(String::from_utf8(b.to_vec()).unwrap());
        }
    };
    for c in chunks {
        d.push(c, &mut sink)?;
    }
    d.finish(&mut sink)?;
    Ok(out)
}
