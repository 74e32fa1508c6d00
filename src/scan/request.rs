//! The request guard that never holds headers: a request body scanned as it streams.
//!
//! This module owns deciding, chunk by chunk, which bytes of a request body may leave: the
//! bytes that no match can still reach leave at once (redacted when the policy says so), and
//! only a bounded tail waits in wasm memory for the next chunk. It also owns decoding `gzip` and
//! `deflate` request bodies for scanning. It does not talk to the host, apply verdicts, or keep
//! stats (that is `exchange` and `host`), and it reuses the detectors and placeholders of the
//! parent module unchanged.
//!
//! # What is held, and why it is enough
//!
//! A chunk is appended to the held tail and the whole of it (plus [`CONTEXT`] bytes already
//! released, for look-behind) is scanned. The cut, before which bytes leave, is the lowest of:
//! - [`PII_HOLD`] bytes before the end, when PII is scanned (a PII value is shorter than that);
//! - for every secret keyword whose rule window still reaches past the end, the first byte that
//!   rule could match from (`before` the keyword); most rules look 128 to 512 bytes after their
//!   keyword, `jwt` 8 KiB, so the hold is a few hundred bytes unless a keyword sits near the end;
//! - the start of any finding the cut would split, and of an escape sequence it would split.
//!
//! Every finding that starts before the cut therefore ends well before the end of what has been
//! seen, and is the same finding the whole body would give: it is final. Scanning costs the chunk
//! plus the small tail, not a window per chunk. The hold never exceeds the configured window:
//! a match longer than it (a custom rule without keywords, a giant e-mail address) may leave in
//! part, which the window's minimum (16 KiB, past every built-in rule's reach) makes moot for
//! built-in rules.
//!
//! # Redacting in place
//!
//! With `content-length` declared, a replaced value keeps its exact byte length: the placeholder
//! is fitted (see [`fitted`]). Without it (chunked), placeholders are the same as the whole-body
//! path's. JSON stays valid either way: whether the cut is inside a string literal is carried
//! across chunks as lexer state, so a card written as a bare JSON number still becomes a quoted
//! placeholder. Values hidden behind `\u` escapes are found in the decoded text and replaced in
//! the original bytes, escapes and all.

use super::detect::{Hint, CUSTOM_PII_REACH};
use super::json::{decode_with_map, is_json, number_around, string_ranges_from, Lex};
use super::redact::{placeholder_len, write_placeholder};
use super::{align_to_escapes, Finding, Kind, Tally};
use super::{Guard, PiiMode, Placeholder, Policy, SecretMode};

mod inflate;

use inflate::Inflater;
use miniz_oxide::inflate::stream::InflateState;

/// Bytes held back for PII: longer than any built-in PII value (an e-mail address is at most
/// 254 bytes, an IBAN with spaces 42).
pub const PII_HOLD: usize = 512;
/// Bytes already released kept for look-behind (a rule's `before`, `\b`, a preceding word).
pub const CONTEXT: usize = 256;
/// Hold for detectors without keywords (custom rules and kinds that run over the whole text).
const UNKEYED_HOLD: usize = 1024;
/// The smallest allowed window: past every built-in rule's reach (a `jwt` looks 8 KiB after its
/// keyword), so only custom patterns can outgrow it.
pub const MIN_WINDOW: usize = 16 * 1024;
/// The default window.
pub const DEFAULT_WINDOW: usize = 64 * 1024;
/// An inflated request body larger than this is not scanned further (a zip bomb).
pub const MAX_INFLATED: u64 = 64 * 1024 * 1024;
/// Why a body could not be inspected or redacted in place (the stat's `reason` label).
pub mod reason {
    pub const BROTLI: &str = "br";
    pub const ZSTD: &str = "zstd";
    pub const UNKNOWN_ENCODING: &str = "unknown_encoding";
    pub const DECODE_ERROR: &str = "decode_error";
    pub const INFLATE_LIMIT: &str = "inflate_limit";
    pub const COMPRESSED_REDACTION: &str = "compressed_redaction";
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A secret under `block`: the rule id.
    Secret(String),
    /// The body cannot be inspected or redacted in place, and the setting says block.
    Uninspectable(&'static str),
}

/// What to do with one chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Forward these bytes in place of the chunk (possibly none: they are all held).
    Forward(Vec<u8>),
    /// Never release what is held; refuse the request. Sticky.
    Block(Refusal),
}

/// How a request body is guarded, fixed at its headers.
#[derive(Debug, Clone, Copy)]
pub struct Setup<'a> {
    /// The request direction's modes for this route kind.
    pub policy: Policy,
    /// The request declared `content-length`: a redacted body keeps exactly that length.
    pub content_length: bool,
    /// The `content-encoding` header, if any.
    pub content_encoding: Option<&'a str>,
    /// The most bytes held back.
    pub window: usize,
    /// Whether a body that cannot be inspected or redacted in place is refused.
    pub block_uninspectable: bool,
}

/// Guards one request body as it streams. Feed every chunk to [`RequestGuard::push`], in order,
/// with `end_of_stream` on the last; apply each verdict before the next chunk.
#[derive(Debug)]
pub struct RequestGuard {
    policy: Policy,
    fit: bool,
    window: usize,
    block_uninspectable: bool,
    codec: Codec,
    scanner: Scanner,
    refused: Option<Refusal>,
    /// The body could not be inspected and the setting said pass: bytes go through.
    passing: bool,
    /// Why the body could not be inspected, once (counted by the exchange).
    pub uninspectable: Option<&'static str>,
    /// PII findings by kind (drained by the exchange).
    pub pii: Tally,
    /// Secret findings by rule.
    pub secrets: Tally,
    /// The PII values replaced, by kind.
    pub redacted: Tally,
    peak_held: usize,
}

#[derive(Debug)]
enum Codec {
    Identity,
    Inflate(Box<Inflater>),
    Refused(&'static str),
}

impl RequestGuard {
    /// A guard for one request body, as `setup` says.
    pub fn new(setup: Setup<'_>) -> RequestGuard {
        let codec = match setup.content_encoding.map(|e| e.trim().to_ascii_lowercase()) {
            None => Codec::Identity,
            Some(e) if e.is_empty() || e == "identity" => Codec::Identity,
            Some(e) if e == "gzip" || e == "x-gzip" => Codec::Inflate(Box::new(Inflater::new(true))),
            Some(e) if e == "deflate" => Codec::Inflate(Box::new(Inflater::new(false))),
            Some(e) if e == "br" => Codec::Refused(reason::BROTLI),
            Some(e) if e == "zstd" => Codec::Refused(reason::ZSTD),
            Some(_) => Codec::Refused(reason::UNKNOWN_ENCODING),
        };
        RequestGuard {
            policy: setup.policy,
            fit: setup.content_length,
            window: setup.window.max(MIN_WINDOW),
            block_uninspectable: setup.block_uninspectable,
            codec,
            scanner: Scanner::default(),
            refused: None,
            passing: false,
            uninspectable: None,
            pii: Tally::default(),
            secrets: Tally::default(),
            redacted: Tally::default(),
            peak_held: 0,
        }
    }

    /// Only observes (counts findings): it never holds or changes a byte.
    pub fn observes_only(&self) -> bool {
        !self.policy.may_rewrite()
    }

    /// Bytes of body held back right now (the tail, the look-behind, compressed bytes).
    pub fn held_bytes(&self) -> usize {
        self.scanner.buf.len()
            + match &self.codec {
                Codec::Inflate(i) => i.held.len() + i.inner.buf.len(),
                _ => 0,
            }
    }

    /// The most bytes held back at once, and the decoder's state when there was one.
    pub fn peak_state_bytes(&self) -> usize {
        self.peak_held
            + match &self.codec {
                Codec::Inflate(_) => std::mem::size_of::<InflateState>(),
                _ => 0,
            }
    }

    /// Takes the next chunk of the body.
    pub fn push(&mut self, guard: &Guard, chunk: &[u8], end_of_stream: bool) -> Verdict {
        if let Some(r) = &self.refused {
            return Verdict::Block(r.clone());
        }
        if self.passing {
            return Verdict::Forward(chunk.to_vec());
        }
        let mut labels = Labels { pii: &mut self.pii, secrets: &mut self.secrets, redacted: &mut self.redacted };
        let step = match &mut self.codec {
            Codec::Identity => {
                let mode = if self.policy.may_rewrite() { Mode::Write { fit: self.fit } } else { Mode::Detect };
                match self.scanner.push(guard, self.policy, chunk, end_of_stream, mode, self.window, &mut labels) {
                    // observing only: nothing waits, the scan sees the same bytes
                    Step::Out(_) if mode == Mode::Detect => Step::Out(chunk.to_vec()),
                    other => other,
                }
            }
            Codec::Inflate(inf) => inf.push(guard, self.policy, chunk, end_of_stream, self.window, &mut labels),
            Codec::Refused(why) => {
                if chunk.is_empty() {
                    Step::Out(Vec::new())
                } else {
                    Step::Uninspectable(why, chunk.to_vec())
                }
            }
        };
        self.peak_held = self.peak_held.max(self.held_bytes());
        match step {
            Step::Out(bytes) => Verdict::Forward(bytes),
            Step::Secret(kind) => self.refuse(Refusal::Secret(guard.detectors.kind_name(kind).into_owned())),
            Step::Uninspectable(why, pending) => {
                self.uninspectable = Some(why);
                if self.block_uninspectable {
                    self.refuse(Refusal::Uninspectable(why))
                } else {
                    self.passing = true;
                    self.scanner.buf = Vec::new();
                    self.codec = Codec::Identity;
                    Verdict::Forward(pending)
                }
            }
        }
    }

    fn refuse(&mut self, r: Refusal) -> Verdict {
        self.refused = Some(r.clone());
        self.scanner.buf = Vec::new();
        self.codec = Codec::Identity;
        Verdict::Block(r)
    }
}

struct Labels<'a> {
    pii: &'a mut Tally,
    secrets: &'a mut Tally,
    redacted: &'a mut Tally,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Release bytes, redacted as the policy says.
    Write { fit: bool },
    /// Only find (and block); a value that should be redacted cannot be.
    Detect,
}

#[derive(Debug)]
enum Step {
    Out(Vec<u8>),
    Secret(Kind),
    /// With the bytes that were waiting, to release if the setting says pass.
    Uninspectable(&'static str, Vec<u8>),
}

/// The plain-text scanner: the held tail and what it needs to know about what has left.
#[derive(Debug, Default)]
struct Scanner {
    /// Released bytes kept for look-behind (`buf[..ctx]`), then the held ones.
    buf: Vec<u8>,
    ctx: usize,
    lex: Lex,
    seen_string: bool,
    /// Bytes released so far: everything before this offset of the body is final.
    released: u64,
}

impl Scanner {
    #[allow(clippy::too_many_arguments)]
    fn push(&mut self, g: &Guard, policy: Policy, chunk: &[u8], eos: bool, mode: Mode, window: usize, labels: &mut Labels<'_>) -> Step {
        self.buf.extend_from_slice(chunk);
        let want_pii = policy.pii != PiiMode::Off;
        let want_secrets = policy.secrets != SecretMode::Off;
        let len = self.buf.len();
        if !want_pii && !want_secrets {
            return self.release(len, &[], mode, g);
        }
        // values hidden behind \u escapes are found in the decoded text, replaced in the original
        let decoded = decode_with_map(&self.buf);
        let (text, map) = match &decoded {
            Some((t, m)) => (t.as_slice(), Some(m.as_slice())),
            None => (self.buf.as_slice(), None),
        };
        let orig = |i: usize| map.map_or(i, |m| m.get(i).copied().unwrap_or(len));
        // keyword hits whose rule window may reach past the end; the rest cannot hold anything
        let reach = g.detectors.keyword_reach();
        let mut open = Vec::new();
        let findings: Vec<Finding> = g
            .detectors
            .find_noting_keywords(text, want_pii, want_secrets, |hint, start, end| {
                if start + reach > text.len() {
                    open.push((hint, start, end));
                }
            })
            .into_iter()
            .map(|f| Finding { start: orig(f.start), end: orig(f.end), kind: f.kind })
            .collect();
        let mut cut = len;
        if !eos {
            if want_pii {
                cut = cut.min(len.saturating_sub(PII_HOLD));
            }
            if let Some(h) = open_windows(g, text.len(), &open, want_pii, want_secrets) {
                cut = cut.min(orig(h));
            }
            let forced = len - cut > window;
            if forced {
                cut = len - window;
            }
            if let Some(f) = findings.iter().find(|f| f.start < cut && cut < f.end) {
                // a complete finding is never split: wait for all of it, unless the window is full
                cut = if forced { f.end } else { f.start };
            }
            // never split an escape sequence (`\u0040` is 6 bytes, a surrogate pair 12)
            let lo = cut.saturating_sub(12).max(self.ctx);
            if let Some(b) = self.buf.get(lo..cut).and_then(|s| memchr::memchr(b'\\', s)) {
                cut = lo + b;
                while cut > self.ctx && self.buf.get(cut - 1) == Some(&b'\\') {
                    cut -= 1;
                }
            }
        }
        let cut = cut.max(self.ctx);
        let mut replace = Vec::new();
        let mut first_secret = None;
        for f in findings.iter().filter(|f| f.end > self.ctx && f.start < cut) {
            // a finding reaching back into released bytes (a match longer than the window):
            // what is still here is covered
            let f = Finding { start: f.start.max(self.ctx), ..*f };
            if f.kind.is_secret() {
                labels.secrets.add(f.kind);
                if policy.secrets == SecretMode::Block && first_secret.is_none() {
                    first_secret = Some(f.kind);
                }
            } else {
                labels.pii.add(f.kind);
                if policy.pii == PiiMode::Redact {
                    labels.redacted.add(f.kind);
                    replace.push(f);
                }
            }
        }
        if let Some(rule) = first_secret {
            return Step::Secret(rule);
        }
        if mode == Mode::Detect && !replace.is_empty() && policy.may_rewrite() {
            let pending = self.buf.get(self.ctx..).unwrap_or_default().to_vec();
            return Step::Uninspectable(reason::COMPRESSED_REDACTION, pending);
        }
        self.release(cut, &replace, mode, g)
    }

    /// Releases `buf[ctx..cut]` with `replace` redacted, and keeps the look-behind.
    fn release(&mut self, cut: usize, replace: &[Finding], mode: Mode, g: &Guard) -> Step {
        let part = self.buf.get(self.ctx..cut).unwrap_or_default();
        let out = match mode {
            Mode::Detect => Vec::new(),
            Mode::Write { .. } if replace.is_empty() => part.to_vec(),
            Mode::Write { fit } => self.redacted(g, cut, replace, fit),
        };
        self.seen_string |= memchr::memchr(b'"', part).is_some();
        self.lex = self.lex.run(part);
        self.released += part.len() as u64;
        // keep the look-behind, from a character boundary (the detectors read UTF-8)
        let mut keep_from = cut.saturating_sub(CONTEXT);
        while keep_from < cut && self.buf.get(keep_from).is_some_and(|b| (0x80..0xc0).contains(b)) {
            keep_from += 1;
        }
        self.buf.drain(..keep_from);
        self.ctx = cut - keep_from;
        Step::Out(out)
    }

    /// `buf[ctx..cut]` with `replace` (sorted, disjoint, inside it) replaced, JSON kept valid.
    fn redacted(&self, g: &Guard, cut: usize, replace: &[Finding], fit: bool) -> Vec<u8> {
        let t = self.buf.as_slice();
        let strings = string_ranges_from(t, self.ctx, cut, self.lex);
        let looks_json = self.seen_string || !strings.is_empty() || (self.released == 0 && cut == t.len() && is_json(t));
        let mut out = Vec::with_capacity(cut - self.ctx);
        let mut at = self.ctx;
        for f in replace {
            // never start or end inside an escape (`\n`, `\u00e9`): cutting one is not JSON
            let (start, end) = align_to_escapes(t, f.start.max(at), f.end.min(cut));
            let end = end.min(cut);
            if start >= end {
                continue;
            }
            let idx = strings.partition_point(|(s, _)| *s <= start);
            let inside = idx > 0 && strings.get(idx - 1).is_some_and(|(_, e)| end <= *e);
            let value = t.get(start..end).unwrap_or_default();
            if inside || !looks_json {
                out.extend_from_slice(t.get(at..start).unwrap_or_default());
                if fit {
                    write_fitted(&mut out, g, f.kind, value, end - start);
                } else {
                    write_placeholder(&mut out, g, t, &Finding { start, end, kind: f.kind });
                }
                at = end;
            } else {
                // a number outside any string becomes a quoted placeholder, whole
                let (s, e) = number_around(t, at, start, end);
                let e = e.min(cut);
                out.extend_from_slice(t.get(at..s).unwrap_or_default());
                out.push(b'"');
                if fit {
                    write_fitted(&mut out, g, f.kind, value, (e - s).saturating_sub(2));
                } else {
                    write_placeholder(&mut out, g, t, &Finding { start, end, kind: f.kind });
                }
                out.push(b'"');
                at = e;
            }
        }
        out.extend_from_slice(t.get(at..cut).unwrap_or_default());
        out
    }
}

/// The earliest byte a match may still start from, for keyword hits (in a text of `len` bytes)
/// whose rule window reaches past its end; `None` when nothing is open.
///
/// The hits are the ones the scan itself reported. Before, this walked the automaton again
/// over the last few hundred bytes and searched the last 8 KiB for `jwt`'s keyword with memmem,
/// on every chunk: about a tenth of the guard's time on clean text in V8.
fn open_windows(g: &Guard, len: usize, hits: &[(Hint, usize, usize)], want_pii: bool, want_secrets: bool) -> Option<usize> {
    let d = &g.detectors;
    let mut hold: Option<usize> = None;
    let mut keep = |at: usize| hold = Some(hold.map_or(at, |h| h.min(at)));
    if (want_secrets && d.secrets.iter().any(|r| r.everywhere)) || (want_pii && d.custom_pii.iter().any(|c| c.keyword.is_none())) {
        keep(len.saturating_sub(UNKEYED_HOLD));
    }
    for &(hint, start, end) in hits {
        match hint {
            Hint::Secret(r) if want_secrets => {
                if let Some(rule) = d.secrets.get(r as usize) {
                    if end + rule.after > len {
                        keep(start.saturating_sub(rule.before + 1));
                    }
                }
            }
            Hint::Pii(_) if want_pii && start + CUSTOM_PII_REACH > len => keep(start),
            _ => {}
        }
    }
    hold
}

/// The short mark of a kind, for values shorter than their full placeholder.
pub fn short_mark(k: Kind) -> &'static str {
    match k {
        Kind::Email => "[EMAIL]",
        Kind::Phone => "[PHONE]",
        Kind::Ssn => "[SSN]",
        Kind::CreditCard => "[CARD]",
        Kind::Iban => "[IBAN]",
        Kind::Ipv4 | Kind::Ipv6 => "[IP]",
        Kind::CustomPii(_) => "[PII]",
        Kind::Secret(_) => "[SECRET]",
    }
}

/// Writes a placeholder of exactly `n` bytes onto `out`, for a body whose `content-length`
/// must not change: the configured placeholder when it fits, else the kind's [`short_mark`],
/// padded with `*` before its closing bracket; `*` alone when even the mark does not fit.
pub fn write_fitted(out: &mut Vec<u8>, g: &Guard, k: Kind, value: &[u8], n: usize) {
    let short = match g.placeholder {
        Placeholder::Label | Placeholder::Pseudonym => short_mark(k),
    };
    let pad = |out: &mut Vec<u8>, len: usize| {
        // the padding goes before the closing bracket: `[EMAIL****]`
        let close = out.pop();
        out.resize(out.len() + (n - len), b'*');
        out.extend(close);
    };
    let full = placeholder_len(g, k);
    if full <= n {
        write_placeholder(out, g, value, &Finding { start: 0, end: value.len(), kind: k });
        pad(out, full);
    } else if short.len() <= n {
        out.extend_from_slice(short.as_bytes());
        pad(out, short.len());
    } else {
        out.resize(out.len() + n, b'*');
    }
}

#[cfg(test)]
mod tests;
