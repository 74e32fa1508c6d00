//! A response that is not a stream, guarded whole: held until its JSON closes (or the body
//! ends), then scanned and redacted as requests are. It owns that holding, where a JSON body
//! ends, and the scan of one whole document under a response policy (`redact_whole`, also
//! used by the stream guard for events it reads whole); the detectors and the redaction are
//! `scan`'s, and the line redactor that takes over past the limit is `scan::StreamRedactor`.

use crate::scan::{self, Guard, PiiMode, Policy, SecretMode, StreamRedactor, Tally};

/// Guards a response that is not a stream: held whole (up to `limit` bytes), then scanned and
/// redacted as requests are (JSON-aware, `\u` escapes decoded). Past the limit it goes
/// through the line redactor.
#[derive(Debug)]
pub struct WholeGuard {
    body: Vec<u8>,
    limit: usize,
    lines: Option<StreamRedactor>,
    /// Where the body's top-level JSON object or array ends: once it closes, the answer is
    /// whole and leaves with that chunk, whether or not the chunk says `end_of_stream` (a filter
    /// after genai-tap may add trailers, and nothing can leave from their callback).
    json_end: JsonEnd,
    pub pii: Tally,
    pub secrets: Tally,
    pub replaced: usize,
}

impl WholeGuard {
    pub fn new(limit: usize) -> WholeGuard {
        WholeGuard { body: Vec::new(), limit, lines: None, json_end: JsonEnd::default(), pii: Tally::default(), secrets: Tally::default(), replaced: 0 }
    }

    pub fn push(&mut self, guard: &Guard, policy: Policy, chunk: &[u8]) -> Vec<u8> {
        if let Some(l) = self.lines.as_mut() {
            return l.push(guard, policy, chunk);
        }
        self.body.extend_from_slice(chunk);
        if self.body.len() <= self.limit {
            if self.json_end.feed(chunk) {
                return self.release(guard, policy);
            }
            return Vec::new();
        }
        let mut l = StreamRedactor::new(1024);
        let out = l.push(guard, policy, &std::mem::take(&mut self.body));
        self.lines = Some(l);
        out
    }

    pub fn finish(&mut self, guard: &Guard, policy: Policy) -> Vec<u8> {
        if let Some(l) = self.lines.as_mut() {
            let out = l.finish(guard, policy);
            // drained, not copied: findings of a body released early stay counted once
            self.pii.absorb(&mut l.pii);
            self.secrets.absorb(&mut l.secrets);
            return out;
        }
        let body = std::mem::take(&mut self.body);
        match redact_whole(guard, policy, &body, &mut self.pii, &mut self.secrets) {
            Some((out, replaced)) => {
                self.replaced = replaced;
                out
            }
            None => body,
        }
    }

    pub fn state_bytes(&self) -> usize {
        self.lines.as_ref().map_or(self.body.capacity(), StreamRedactor::state_bytes)
    }

    /// Releases the body held so far as if it were whole; bytes that come after it (none, when
    /// the body really ended) go through the line redactor.
    pub fn release(&mut self, guard: &Guard, policy: Policy) -> Vec<u8> {
        let out = self.finish(guard, policy);
        if self.lines.is_none() {
            self.lines = Some(StreamRedactor::new(1024));
        }
        out
    }
}

/// Follows a body's bytes to the end of its top-level JSON object or array: depth, and
/// whether the cut is inside a string (escapes included). A body that does not open with `{`
/// or `[` never ends early.
#[derive(Debug, Default)]
struct JsonEnd {
    depth: u32,
    opened: bool,
    in_string: bool,
    escaped: bool,
    not_json: bool,
}

impl JsonEnd {
    /// Feeds the next bytes; true when the top-level value has just closed.
    fn feed(&mut self, bytes: &[u8]) -> bool {
        if self.not_json {
            return false;
        }
        for &b in bytes {
            if !self.opened {
                match b {
                    b'{' | b'[' => {
                        self.opened = true;
                        self.depth = 1;
                    }
                    b' ' | b'\t' | b'\r' | b'\n' => {}
                    _ => {
                        self.not_json = true;
                        return false;
                    }
                }
                continue;
            }
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        // what follows (a newline) goes through the line redactor
                        self.not_json = true;
                        return true;
                    }
                }
                _ => {}
            }
        }
        false
    }
}

/// Scans a whole response body (or one whole document of a stream) under `policy`, `\u`
/// escapes decoded: pushes each finding's name onto `pii` or `secrets`, and answers the text
/// with the findings to be replaced replaced, and how many, or `None` when there are none.
/// Unlike `scan::guard_body`, a secret under `block` is replaced, not blocked: a response's
/// status has already left.
pub(super) fn redact_whole(
    guard: &Guard,
    policy: Policy,
    source: &[u8],
    pii: &mut Tally,
    secrets: &mut Tally,
) -> Option<(Vec<u8>, usize)> {
    let want_pii = policy.pii != PiiMode::Off;
    let want_secrets = policy.secrets != SecretMode::Off;
    if !want_pii && !want_secrets {
        return None;
    }
    let normalized = scan::decode_ascii_escapes(source);
    let text: &[u8] = normalized.as_deref().unwrap_or(source);
    let mut replace = Vec::new();
    for f in guard.detectors.find(text, want_pii, want_secrets) {
        let redact = if f.kind.is_secret() { policy.secrets == SecretMode::Block } else { policy.pii == PiiMode::Redact };
        if f.kind.is_secret() { secrets.add(f.kind) } else { pii.add(f.kind) }
        if redact {
            replace.push(f);
        }
    }
    if replace.is_empty() {
        return None;
    }
    Some((scan::redact(guard, text, &replace), replace.len()))
}
