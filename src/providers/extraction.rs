//! One LLM call read end to end: the request body, the response headers, the response body
//! chunk by chunk (whole or framed), and when content arrived.
//!
//! This is the one path from bytes to an [`LlmCall`]: the exchange runs it for every call and
//! the provider tests run it for every recording, so what the tests prove is what runs. It
//! owns the choice of framing, the sticky "stop reading" rule and the content timing. It does
//! not decide what to observe, guard anything or build spans (that is `exchange`).

use super::{handle_request, handle_response_headers, stream_format, Api, Detected, LlmCall, ResponseReader};
use crate::framing::{Body, BodyEnd};

/// Why a call's bodies were not read. Each is a `bodies_not_parsed{reason}` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotParsed {
    Malformed,
    Compressed,
    TooLarge,
    Framing,
    UnknownShape,
}

impl NotParsed {
    /// The stat label and span attribute value (a contract).
    pub fn as_str(self) -> &'static str {
        match self {
            NotParsed::Malformed => "malformed",
            NotParsed::Compressed => "compressed",
            NotParsed::TooLarge => "too_large",
            NotParsed::Framing => "framing",
            NotParsed::UnknownShape => "unknown_shape",
        }
    }
}

/// When content arrived, in the caller's clock (unix nanoseconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timing {
    /// The first frame (or whole body) that carried generated content.
    pub first_content_ns: Option<u64>,
    /// The last one.
    pub last_content_ns: Option<u64>,
    /// Any frame at all: the time to first chunk of a reasoning model that spends its whole
    /// budget thinking, when no frame carries content.
    pub first_frame_ns: Option<u64>,
}

/// The limits a reading works within.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_frame_bytes: usize,
}

/// One call being read. Errors are sticky: after the first, nothing more is read and the
/// reason stays.
#[derive(Debug)]
pub struct Extraction {
    pub detected: Detected,
    pub call: LlmCall,
    pub timing: Timing,
    reader: ResponseReader,
    body: Body,
    not_parsed: Option<NotParsed>,
    peak_state_bytes: usize,
    limits: Limits,
}

impl Extraction {
    /// Starts reading a call that `detected` describes. The path's model (Gemini, Bedrock)
    /// stands in for the request model until a body names one.
    pub fn new(detected: Detected, limits: Limits) -> Extraction {
        let call = LlmCall { request_model: detected.path_model.clone(), ..LlmCall::default() };
        let not_parsed = (detected.api == Api::Unknown).then_some(NotParsed::UnknownShape);
        Extraction {
            reader: ResponseReader::new(detected.api),
            detected,
            call,
            timing: Timing::default(),
            body: Body::Pending,
            not_parsed,
            peak_state_bytes: 0,
            limits,
        }
    }

    /// Why reading stopped, if it did.
    pub fn not_parsed(&self) -> Option<NotParsed> {
        self.not_parsed
    }

    /// Stops reading for `reason`; a first reason stays.
    pub fn stop(&mut self, reason: NotParsed) {
        self.not_parsed.get_or_insert(reason);
        self.body = Body::Skip;
    }

    /// Reads the whole request body: the body's model wins over the path's.
    pub fn handle_request(&mut self, body: &[u8]) {
        if self.not_parsed.is_some() {
            return;
        }
        let path_model = self.call.request_model.take();
        if handle_request(self.detected.api, body, &mut self.call).is_err() {
            self.not_parsed = Some(NotParsed::Malformed);
        }
        if self.call.request_model.is_none() {
            self.call.request_model = path_model;
        }
    }

    /// Reads the response headers and chooses how the body is read. `encoded`: the body has a
    /// content encoding other than identity, and cannot be read.
    pub fn handle_response_headers(&mut self, headers: &[(&str, &str)], content_type: &str, encoded: bool) {
        handle_response_headers(self.detected.api, headers, &mut self.call);
        if self.not_parsed.is_some() {
            self.body = Body::Skip;
            return;
        }
        if encoded {
            self.stop(NotParsed::Compressed);
            return;
        }
        let format = stream_format(self.detected.api, self.detected.path_stream, content_type);
        self.body = Body::new(format, self.limits.max_body_bytes, self.limits.max_frame_bytes);
    }

    /// Whether response chunks are still wanted.
    pub fn wants_response_body(&self) -> bool {
        self.body.is_reading()
    }

    /// Reads one response chunk that arrived at `now`.
    pub fn handle_response_chunk(&mut self, chunk: &[u8], now: u64) {
        let Extraction { body, reader, call, timing, .. } = self;
        let mut malformed = false;
        let framed = body.push(chunk, &mut |frame| {
            if malformed {
                return;
            }
            timing.first_frame_ns.get_or_insert(now);
            match reader.handle_frame(frame, call) {
                Ok(facts) if facts.content => {
                    timing.first_content_ns.get_or_insert(now);
                    timing.last_content_ns = Some(now);
                }
                Ok(_) => {}
                Err(_) => malformed = true,
            }
        });
        self.note_state(0);
        if framed.is_err() {
            self.stop(NotParsed::Framing);
        } else if malformed {
            self.stop(NotParsed::Malformed);
        }
    }

    /// The response body ended at `now`: reads a whole body, or the stream's last frames.
    pub fn end_response(&mut self, now: u64) {
        let Extraction { body, reader, call, .. } = self;
        let mut malformed = false;
        let end = body.finish(&mut |frame| {
            if !malformed && reader.handle_frame(frame, call).is_err() {
                malformed = true;
            }
        });
        match end {
            BodyEnd::Whole(bytes) if !bytes.is_empty() => {
                if self.reader.handle_json(&bytes, &mut self.call).is_err() {
                    self.not_parsed.get_or_insert(NotParsed::Malformed);
                } else {
                    self.timing.first_content_ns.get_or_insert(now);
                    self.timing.last_content_ns = Some(now);
                }
            }
            BodyEnd::TooLarge => {
                self.not_parsed.get_or_insert(NotParsed::TooLarge);
            }
            BodyEnd::Stream(Err(_)) => {
                self.not_parsed.get_or_insert(NotParsed::Framing);
            }
            BodyEnd::Stream(Ok(())) if malformed => {
                self.not_parsed.get_or_insert(NotParsed::Malformed);
            }
            _ => {}
        }
        self.reader.finish(&mut self.call);
    }

    /// Counts `held` bytes that wait elsewhere for this call (chunks the exchange defers, what
    /// the guard holds) into the peak of what the call holds.
    pub fn note_state(&mut self, held: usize) {
        let now = self.body.state_bytes() + self.reader.state_bytes() + held;
        self.peak_state_bytes = self.peak_state_bytes.max(now);
    }

    /// The most bytes this call's stream state held at once.
    pub fn peak_state_bytes(&self) -> usize {
        self.peak_state_bytes
    }
}
