//! The response guard of one exchange: picks, from the response's shape, the stream guard
//! (by channel), the whole-body guard (a JSON answer) or the line redactor (anything else of a
//! tool), and drives whichever it picked. It owns no scanning of its own.

use super::{StreamGuard, WholeGuard};
use crate::framing::StreamFormat;
use crate::scan::{Guard, Policy, StreamRedactor, Tally};

/// The response guard of one exchange, whatever the body: a stream followed by channel, a
/// JSON answer held whole, or (a body that is neither, of a tool) the line redactor.
#[derive(Debug)]
pub enum ResponseGuard {
    Stream(StreamGuard),
    Whole(WholeGuard),
    Lines(StreamRedactor),
}

impl ResponseGuard {
    /// The guard for an LLM response: by channel when it is a stream, else whole.
    pub fn for_llm(format: Option<StreamFormat>, max_frame_bytes: usize, max_body_bytes: usize) -> ResponseGuard {
        match format {
            Some(f) => ResponseGuard::Stream(StreamGuard::new(f, max_frame_bytes)),
            None => ResponseGuard::Whole(WholeGuard::new(max_body_bytes)),
        }
    }

    /// The guard for a tool's response, by its `content-type`: a JSON body (MCP's JSON
    /// response, a plain HTTP tool's answer) held whole and redacted like an LLM's answer; an
    /// SSE or NDJSON stream (MCP's streamable HTTP) redacted per event, each event's JSON
    /// decoded and written again; anything else through the line redactor.
    pub fn for_tool(content_type: &str, max_frame_bytes: usize, max_body_bytes: usize) -> ResponseGuard {
        let ct = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let stream = match ct.as_str() {
            "text/event-stream" => Some(StreamFormat::Sse),
            "application/x-ndjson" | "application/jsonl" | "application/json-seq" => Some(StreamFormat::Ndjson),
            _ => None,
        };
        if let Some(f) = stream {
            return ResponseGuard::Stream(StreamGuard::new(f, max_frame_bytes));
        }
        if ct == "application/json" || ct.ends_with("+json") {
            return ResponseGuard::Whole(WholeGuard::new(max_body_bytes));
        }
        ResponseGuard::Lines(StreamRedactor::new(1024))
    }

    /// Takes a chunk; returns the bytes to forward in its place (all of them at the end).
    pub fn push(&mut self, guard: &Guard, policy: Policy, chunk: &[u8], end_of_stream: bool, now: u64) -> Vec<u8> {
        let mut out = match self {
            ResponseGuard::Stream(s) => s.push(guard, policy, chunk, now),
            ResponseGuard::Whole(w) => w.push(guard, policy, chunk),
            ResponseGuard::Lines(l) => l.push(guard, policy, chunk),
        };
        if end_of_stream {
            out.extend(match self {
                ResponseGuard::Stream(s) => s.finish(guard, policy),
                ResponseGuard::Whole(w) => w.finish(guard, policy),
                ResponseGuard::Lines(l) => l.finish(guard, policy),
            });
        }
        out
    }

    /// Releases everything held now, scanned as far as it goes, as at the end of the body,
    /// but ready for more: the host cannot release held bytes after the last body callback,
    /// and a body that ends with trailers has no `end_of_stream` (see
    /// `exchange::GuardState::filter_response`). A stream releases as its bounds do.
    pub fn release_held(&mut self, guard: &Guard, policy: Policy, now: u64) -> Vec<u8> {
        match self {
            ResponseGuard::Stream(s) => {
                let mut out = s.push(guard, policy, &[], now);
                if s.state_bytes() > 0 {
                    s.forced += 1;
                }
                out.extend(s.finish(guard, policy));
                out
            }
            ResponseGuard::Whole(w) => w.release(guard, policy),
            ResponseGuard::Lines(l) => l.finish(guard, policy),
        }
    }

    /// The PII found, by kind.
    pub fn pii(&self) -> &Tally {
        match self {
            ResponseGuard::Stream(s) => &s.pii,
            ResponseGuard::Whole(w) => &w.pii,
            ResponseGuard::Lines(l) => &l.pii,
        }
    }

    /// The secrets found, by rule.
    pub fn secrets(&self) -> &Tally {
        match self {
            ResponseGuard::Stream(s) => &s.secrets,
            ResponseGuard::Whole(w) => &w.secrets,
            ResponseGuard::Lines(l) => &l.secrets,
        }
    }

    pub fn state_bytes(&self) -> usize {
        match self {
            ResponseGuard::Stream(s) => s.state_bytes(),
            ResponseGuard::Whole(w) => w.state_bytes(),
            ResponseGuard::Lines(l) => l.state_bytes(),
        }
    }
}
