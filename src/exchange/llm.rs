//! An LLM call's own part of the exchange: reading its bodies through the provider's
//! extraction, and keeping its content by reference (salted digests) or, when capture is on,
//! a bounded copy.

use crate::routes::RouteKind;
use crate::plugin::Config;
use crate::providers::{Detected, Extraction, Limits};
use sha2::Digest;

/// An LLM call in flight.
#[derive(Debug)]
pub(super) struct Llm {
    pub extraction: Extraction,
    pub route_kind: RouteKind,
    /// Salted digests of the prompt and the completion (content by reference).
    pub prompt_sha256: Option<String>,
    pub completion_hasher: Option<sha2::Sha256>,
    /// Bounded copies of the content, kept only when content capture is on.
    pub captured: Option<Captured>,
}

/// The prompt and completion as captured, each cut at the capture limit.
#[derive(Debug, Default)]
pub(super) struct Captured {
    pub prompt: Vec<u8>,
    pub prompt_truncated: bool,
    pub completion: Vec<u8>,
    pub completion_truncated: bool,
    limit: usize,
}

impl Llm {
    pub fn new(cfg: &Config, detected: Detected, route_kind: RouteKind) -> Llm {
        let limits = Limits { max_body_bytes: cfg.max_body_bytes, max_frame_bytes: cfg.max_frame_bytes };
        Llm {
            extraction: Extraction::new(detected, limits),
            route_kind,
            prompt_sha256: None,
            completion_hasher: cfg.content.hasher(),
            captured: cfg.content.capture.as_ref().map(|c| Captured { limit: c.max_content_bytes, ..Captured::default() }),
        }
    }

    /// Response chunks are wanted for the digest, the capture or the extraction.
    pub fn wants_response_body(&self) -> bool {
        self.completion_hasher.is_some() || self.captured.is_some() || self.extraction.wants_response_body()
    }

    /// Reads the whole request body.
    pub fn handle_request(&mut self, cfg: &Config, body: &[u8]) {
        if let Some(mut h) = cfg.content.hasher() {
            h.update(body);
            self.prompt_sha256 = Some(crate::trace::to_hex(&h.finalize()));
        }
        if let Some(c) = self.captured.as_mut() {
            let n = body.len().min(c.limit);
            c.prompt = body[..n].to_vec();
            c.prompt_truncated = n < body.len();
        }
        self.extraction.handle_request(body);
    }

    /// Reads one response chunk that arrived at `now`.
    pub fn handle_response_chunk(&mut self, chunk: &[u8], now: u64) {
        if let Some(h) = self.completion_hasher.as_mut() {
            h.update(chunk);
        }
        if let Some(c) = self.captured.as_mut() {
            let room = c.limit.saturating_sub(c.completion.len());
            c.completion.extend_from_slice(&chunk[..chunk.len().min(room)]);
            c.completion_truncated |= chunk.len() > room;
        }
        self.extraction.handle_response_chunk(chunk, now);
    }
}
