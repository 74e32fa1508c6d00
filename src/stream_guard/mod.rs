//! The response guard for streamed answers: follows each text channel of a stream as the
//! model writes it, and rewrites events so that a value split across events never reaches the
//! client whole.
//!
//! This module owns following each channel's logical text (an OpenAI choice's content or one
//! tool call's arguments, an Anthropic content block, a Gemini candidate's part, ...; JSON
//! strings decoded, `\u` escapes included), deciding which events must wait, and writing
//! events again (valid JSON, SSE framing kept, AWS event-stream messages re-encoded with both
//! CRCs). It does not detect anything (that is `scan::Detectors::find`), does not decode the
//! stream formats' bytes itself where `framing` can (`frames` only keeps the raw bytes of each
//! event), and does not read usage (that is `providers`).
//!
//! # The hold rule
//!
//! After each event, every channel it touched is scanned: its pending text plus up to
//! [`CONTEXT_BYTES`] of text already sent before it. The channel is then final up to where its
//! end could still be the start of a match:
//! - the trailing token (the text after the last whitespace) is held when it has a digit, one
//!   of `@ . - _ + : / = %`, or begins like a known secret prefix (`AKIA`, `AIza`, `xox`,
//!   `eyJ`, `ghp_`, ...; three characters at least); digit groups before it, separated by one
//!   or two spaces, are held with it (`4111 1111`, `+1 555 0100`);
//! - a finding that reaches into the held part is held whole;
//! - a purely alphabetic trailing token is prose and is final at once, so a model's first
//!   word never waits.
//!
//! An event leaves when every piece of text it carries is final, and events leave in order.
//! A value whose first fragment is purely alphabetic and arrives in events of its own (`jane`
//! before `.doe@example.com`) may have left before the rest is seen: the rest is then
//! replaced. That leading run of letters is all of a value that can reach the client.
//!
//! Bounds: a channel holds at most [`MAX_HOLD_BYTES`] of text, the stream at most
//! [`MAX_HOLD_EVENTS`] events, and no event waits more than [`MAX_HOLD_NS`]. proxy-wasm
//! cannot release held bytes without a callback, so the time bound is checked when the next
//! chunk (or the end of the stream) arrives; a model that goes quiet mid-value delays that
//! value until it writes again or ends. Past a bound the held text leaves (scanned as far as
//! it goes) and the part of a value seen later is still replaced.
//!
//! # The rewrite
//!
//! The placeholder goes in the event where the value begins (or, when its start already left,
//! in the first event still held), and the value's remaining characters are removed from the
//! events after it. An event whose text did not change leaves byte-identical. Events that
//! carry no delta (a message's start, a tool result block) are scanned whole, as requests are
//! (`scan::redact`). Events that repeat a channel's whole text (the Responses API's `*.done`,
//! `output_item.done`, `response.completed`) first get the very text the client reassembled
//! from the redacted deltas, when the text ties to its channel (`summary`), and are then
//! scanned whole like the others.

mod events;
mod frames;
mod response;
mod summary;
mod text;
mod whole;
#[cfg(test)]
mod tests;

use crate::scan::{Guard, PiiMode, Policy, SecretMode, Tally};
use crate::framing::StreamFormat;
use crate::scan::{self, Finding, StreamRedactor};
use events::Wrap;
use frames::{RawFrame, RawFramer};
use std::collections::VecDeque;
use summary::{Ledger, Log};
pub use response::ResponseGuard;
use text::*;
pub use whole::WholeGuard;

/// Text of a channel already sent that is scanned again with its pending text, so a value
/// whose start has left is still found.
pub const CONTEXT_BYTES: usize = 256;
/// The most text one channel may hold.
pub const MAX_HOLD_BYTES: usize = 1024;
/// The most events the stream may hold.
pub const MAX_HOLD_EVENTS: usize = 64;
/// The longest an event may wait, checked when the next chunk arrives.
pub const MAX_HOLD_NS: u64 = 500_000_000;
/// The most channels followed at once; a stream with more is scanned per event for the rest.
const MAX_CHANNELS: usize = 64;

/// Alphabetic starts of secret formats: a trailing token that begins like one is held.
const SECRET_STARTS: &[&str] = &["AKIA", "ASIA", "AIza", "xox", "eyJ", "ghp", "gho", "ghu", "ghs", "ghr", "github", "glpat", "BEGIN"];

/// What the guard does with one response.
#[derive(Debug)]
pub struct StreamGuard {
    format: StreamFormat,
    framer: RawFramer,
    held: VecDeque<Held>,
    channels: Vec<Channel>,
    next_channel: u32,
    /// Ended channels whose whole text a later event may repeat (the Responses API).
    ledger: Ledger,
    /// After a framing error: the line redactor, for the rest of the stream.
    fallback: Option<StreamRedactor>,
    /// What was found: PII by kind, secrets by rule.
    pub pii: Tally,
    pub secrets: Tally,
    /// How many findings were replaced.
    pub replaced: usize,
    /// Events that could not be read (not JSON, bad frame): they left as text, line-scanned.
    pub unreadable: usize,
    /// Times a bound (bytes, events, time) forced held text out.
    pub forced: usize,
}

#[derive(Debug)]
struct Held {
    raw: Vec<u8>,
    wrap: Option<Wrap>,
    doc: Option<serde_json::Value>,
    pieces: Vec<Piece>,
    /// The event's new bytes when it was scanned whole and changed.
    rewritten: Option<Vec<u8>>,
    arrived: u64,
}

#[derive(Debug)]
struct Piece {
    channel: u32,
    pointer: String,
    /// Offsets in the channel's text since the stream began.
    start: u64,
    end: u64,
    done: bool,
    out: Option<String>,
}

#[derive(Debug)]
struct Channel {
    id: u32,
    key: String,
    json_source: bool,
    /// The channel's text from offset `base` on: sent context, then pending.
    text: String,
    base: u64,
    final_to: u64,
    /// A placeholder already stands for the value running up to here.
    placed_to: u64,
    /// Findings starting before this were counted.
    counted_to: u64,
    /// JSON-source channels: inside a string, and after a backslash, at `final_to`.
    in_str: bool,
    esc: bool,
    ended: bool,
    /// What ties a later whole-text event to this channel (`summary`).
    log: Option<Box<Log>>,
}

impl Channel {
    fn end(&self) -> u64 {
        self.base + self.text.len() as u64
    }
}

impl StreamGuard {
    pub fn new(format: StreamFormat, max_frame_bytes: usize) -> StreamGuard {
        StreamGuard {
            format,
            framer: RawFramer::new(format, max_frame_bytes),
            held: VecDeque::new(),
            channels: Vec::new(),
            next_channel: 0,
            ledger: Ledger::default(),
            fallback: None,
            pii: Tally::default(),
            secrets: Tally::default(),
            replaced: 0,
            unreadable: 0,
            forced: 0,
        }
    }

    /// Takes a chunk of the response; returns the bytes to forward in its place.
    pub fn push(&mut self, guard: &Guard, policy: Policy, chunk: &[u8], now: u64) -> Vec<u8> {
        if let Some(f) = self.fallback.as_mut() {
            return f.push(guard, policy, chunk);
        }
        let mut frames = Vec::new();
        let framed = self.framer.push(chunk, &mut frames);
        let mut out = Vec::new();
        for f in frames {
            self.add(guard, policy, f, now);
            // what is settled leaves at once, so a burst of thousands of events does not hold
            // each one's decoded document until the whole chunk is read
            self.release(&mut out);
        }
        if framed.is_err() {
            // sticky: what is held leaves, and the rest of the stream goes through the line redactor
            self.flush_all(guard, policy, &mut out);
            let rest = self.framer.take_rest();
            let mut f = StreamRedactor::new(1024);
            out.extend(f.push(guard, policy, &rest));
            self.fallback = Some(f);
            self.unreadable += 1;
            return out;
        }
        let too_old = self.held.front().is_some_and(|h| now.saturating_sub(h.arrived) >= MAX_HOLD_NS);
        if too_old || self.held.len() > MAX_HOLD_EVENTS {
            self.forced += 1;
            self.flush_all(guard, policy, &mut out);
        }
        self.release(&mut out);
        out
    }

    /// The stream ended: everything left, final.
    pub fn finish(&mut self, guard: &Guard, policy: Policy) -> Vec<u8> {
        if let Some(f) = self.fallback.as_mut() {
            return f.finish(guard, policy);
        }
        let mut frames = Vec::new();
        self.framer.finish(&mut frames);
        for f in frames {
            self.add(guard, policy, f, 0);
        }
        let mut out = Vec::new();
        self.flush_all(guard, policy, &mut out);
        out
    }

    /// Bytes of state held now: the partial event, held events and channel text.
    pub fn state_bytes(&self) -> usize {
        if let Some(f) = &self.fallback {
            return f.state_bytes();
        }
        self.framer.state_bytes()
            + self.held.iter().map(|h| h.raw.capacity() + h.pieces.iter().map(|p| p.pointer.capacity() + p.out.as_ref().map_or(0, String::capacity)).sum::<usize>()).sum::<usize>()
            + self.channels.iter().map(|c| c.text.capacity() + c.key.capacity() + c.log.as_ref().map_or(0, |l| l.state_bytes())).sum::<usize>()
            + self.ledger.state_bytes()
    }

    fn flush_all(&mut self, guard: &Guard, policy: Policy, out: &mut Vec<u8>) {
        let ids: Vec<u32> = self.channels.iter().map(|c| c.id).collect();
        for id in ids {
            self.settle(guard, policy, id, true);
        }
        self.release(out);
    }

    fn add(&mut self, guard: &Guard, policy: Policy, frame: RawFrame, now: u64) {
        let RawFrame { bytes, event, prefix } = frame;
        let decoded = if event { events::decode(self.format, &bytes, prefix) } else { None };
        let Some(decoded) = decoded else {
            if event && !bytes.iter().all(u8::is_ascii_whitespace) && !is_plain_sse(&bytes) {
                self.unreadable += 1;
            }
            let rewritten = self.scan_whole(guard, policy, &bytes);
            self.held.push_back(Held { raw: bytes, wrap: None, doc: None, pieces: Vec::new(), rewritten, arrived: now });
            return;
        };
        let mut deltas = Vec::new();
        let mut ends = decoded.ends;
        if let Some(doc) = &decoded.doc {
            events::deltas(doc, &mut deltas, &mut ends);
        }
        let mut held = Held { raw: bytes, wrap: Some(decoded.wrap), doc: decoded.doc, pieces: Vec::new(), rewritten: None, arrived: now };
        if deltas.is_empty() {
            // a whole text repeats its channel: the channel ends first, so its edits are known
            let targets = held.doc.as_ref().map(summary::targets).unwrap_or_default();
            ends.extend(targets.iter().map(|(_, key)| key.clone()));
            self.end_channels(guard, policy, &ends);
            let tied = match held.doc.as_mut() {
                Some(doc) => self.tie(doc, &targets),
                None => None,
            };
            let source = tied.as_deref().unwrap_or(&decoded.source);
            // the detectors still read the whole event: strings that could not be tied, and
            // everything else it carries (`instructions`, annotations, tool outputs)
            let new = self.scan_whole(guard, policy, source).or(tied);
            held.rewritten = match (new, held.wrap.as_ref()) {
                (Some(doc), Some(wrap)) => Some(events::encode(wrap, &held.raw, &doc)),
                _ => None,
            };
            held.doc = None;
            self.held.push_back(held);
            return;
        }
        let mut touched = Vec::new();
        for d in deltas {
            let Some(id) = self.channel(guard, policy, &d.channel, d.json_source) else {
                self.unreadable += 1;
                continue;
            };
            let Some(c) = self.channels.iter_mut().find(|c| c.id == id) else { continue };
            let start = c.end();
            c.text.push_str(&d.text);
            if let Some(l) = c.log.as_mut() {
                l.text(&d.text);
            }
            held.pieces.push(Piece { channel: id, pointer: d.pointer, start, end: c.end(), done: d.text.is_empty(), out: None });
            if !touched.contains(&id) {
                touched.push(id);
            }
        }
        self.held.push_back(held);
        for id in touched {
            self.settle(guard, policy, id, false);
        }
        self.end_channels(guard, policy, &ends);
    }

    /// Ends the channels whose keys begin with one of `ends`: all their text becomes final,
    /// and what ties a later whole text to them goes to the ledger.
    fn end_channels(&mut self, guard: &Guard, policy: Policy, ends: &[String]) {
        for e in ends {
            let ids: Vec<u32> = self.channels.iter().filter(|c| !c.ended && c.key.starts_with(e.as_str())).map(|c| c.id).collect();
            for id in ids {
                self.settle(guard, policy, id, true);
                if let Some(c) = self.channels.iter_mut().find(|c| c.id == id) {
                    c.ended = true;
                    if let Some(log) = c.log.take() {
                        self.ledger.record(&c.key, c.end(), *log);
                    }
                }
            }
        }
    }

    /// Writes into `doc` the text the client reassembled for each whole text in `targets` that
    /// ties to its channel; the new document when one changed.
    fn tie(&self, doc: &mut serde_json::Value, targets: &[(String, String)]) -> Option<Vec<u8>> {
        let mut changed = false;
        for (pointer, key) in targets {
            let Some(slot) = doc.pointer_mut(pointer) else { continue };
            let Some(whole) = slot.as_str() else { continue };
            if let Some(new) = self.ledger.tie(key, whole) {
                if new != whole {
                    *slot = serde_json::Value::String(new);
                    changed = true;
                }
            }
        }
        changed.then(|| doc.to_string().into_bytes())
    }

    /// The channel for `key`, made if new. `None` when there are too many and none is free.
    fn channel(&mut self, guard: &Guard, policy: Policy, key: &str, json_source: bool) -> Option<u32> {
        if let Some(c) = self.channels.iter().find(|c| c.key == key && !c.ended) {
            return Some(c.id);
        }
        if self.channels.len() >= MAX_CHANNELS {
            // a channel with nothing pending makes room; else everything settles first
            let free = self.channels.iter().position(|c| c.final_to == c.end());
            let i = match free {
                Some(i) => i,
                None => {
                    let ids: Vec<u32> = self.channels.iter().map(|c| c.id).collect();
                    for id in ids {
                        self.settle(guard, policy, id, true);
                    }
                    self.forced += 1;
                    0
                }
            };
            if i < self.channels.len() {
                self.channels.remove(i);
            }
        }
        let id = self.next_channel;
        self.next_channel = self.next_channel.wrapping_add(1);
        self.channels.push(Channel {
            id,
            key: key.to_owned(),
            json_source,
            text: String::new(),
            base: 0,
            final_to: 0,
            placed_to: 0,
            counted_to: 0,
            in_str: false,
            esc: false,
            ended: false,
            log: Log::wanted(key).then(Box::default),
        });
        Some(id)
    }

    /// Scans a channel and makes final what can no longer grow into a match; writes the
    /// final pieces' new text.
    fn settle(&mut self, guard: &Guard, policy: Policy, id: u32, force: bool) {
        let Some(c) = self.channels.iter_mut().find(|c| c.id == id) else { return };
        let fl = (c.final_to - c.base) as usize;
        let len = c.text.len();
        if fl >= len {
            return;
        }
        let want_pii = policy.pii != PiiMode::Off;
        let want_secrets = policy.secrets != SecretMode::Off;
        let findings = guard.detectors.find(c.text.as_bytes(), want_pii, want_secrets);
        let mut hold = if force { len } else { hold_from(&c.text).max(fl) };
        for f in &findings {
            if f.start < hold && f.end > hold && (f.end < len || !force) {
                hold = f.start.max(fl);
            }
        }
        if !force && len - hold > MAX_HOLD_BYTES {
            hold = floor_char(&c.text, len - MAX_HOLD_BYTES).max(fl);
        }
        // final only on a piece boundary: an event's piece is final whole or not at all
        let hold_g = c.base + hold as u64;
        let mut new_final = hold_g;
        for h in &self.held {
            for p in h.pieces.iter().filter(|p| p.channel == id && !p.done) {
                if p.start < new_final && new_final < p.end {
                    new_final = if force || len - hold > MAX_HOLD_BYTES { p.end } else { p.start };
                }
            }
        }
        if new_final <= c.final_to {
            return;
        }
        let nf = (new_final - c.base) as usize;
        // the edits: (start, end, placeholder) in stream offsets
        let mut edits: Vec<(u64, u64, Option<String>)> = Vec::new();
        for f in findings.iter().filter(|f| f.end > fl && f.start < nf) {
            let (gs, ge) = (c.base + f.start as u64, c.base + f.end.min(nf) as u64);
            if gs >= c.counted_to {
                if f.kind.is_secret() { self.secrets.add(f.kind) } else { self.pii.add(f.kind) }
                c.counted_to = c.base + f.end as u64;
            }
            let redact = if f.kind.is_secret() { policy.secrets == SecretMode::Block } else { policy.pii == PiiMode::Redact };
            if !redact {
                continue;
            }
            let mut s = gs.max(c.final_to);
            if c.json_source {
                // never split an escape sequence (`\n` before the value)
                let local = (s - c.base) as usize;
                if local > 0 && escape_open(&c.text, local) {
                    s += 1;
                }
            }
            if s >= ge {
                continue;
            }
            let placeholder = if gs >= c.placed_to {
                let mut p = scan::placeholder(guard, c.text.as_bytes(), &Finding { start: f.start, end: f.end, kind: f.kind });
                if c.json_source && !json_in_string(&c.text, fl, (s - c.base) as usize, c.in_str, c.esc) {
                    p = format!("\"{p}\"");
                }
                self.replaced += 1;
                Some(p)
            } else {
                None
            };
            c.placed_to = c.placed_to.max(c.base + f.end as u64);
            edits.push((s, ge, placeholder));
        }
        if let Some(l) = c.log.as_mut() {
            l.edits(&edits);
        }
        for h in self.held.iter_mut() {
            for p in h.pieces.iter_mut().filter(|p| p.channel == id && !p.done && p.end <= new_final) {
                p.done = true;
                if edits.iter().any(|(s, e, _)| *s < p.end && *e > p.start || (*s == p.start && p.start == p.end)) {
                    p.out = Some(apply(&c.text, c.base, p.start, p.end, &edits));
                }
            }
        }
        if c.json_source {
            let (i, e) = json_state(&c.text, fl, nf, c.in_str, c.esc);
            c.in_str = i;
            c.esc = e;
        }
        c.final_to = new_final;
        // keep only the context the next scan needs
        let keep_from = floor_char(&c.text, nf.saturating_sub(CONTEXT_BYTES));
        if keep_from > 0 {
            c.text.drain(..keep_from);
            c.base += keep_from as u64;
        }
    }

    /// Sends the events at the front whose pieces are all final.
    fn release(&mut self, out: &mut Vec<u8>) {
        while self.held.front().is_some_and(|h| h.pieces.iter().all(|p| p.done)) {
            let Some(mut h) = self.held.pop_front() else { break };
            if let Some(b) = h.rewritten.take() {
                out.extend_from_slice(&b);
                continue;
            }
            let changed = h.pieces.iter().any(|p| p.out.is_some());
            match (changed, h.doc.as_mut(), h.wrap.as_ref()) {
                (true, Some(doc), Some(wrap)) => {
                    for p in &mut h.pieces {
                        if let (Some(new), Some(slot)) = (p.out.take(), doc.pointer_mut(&p.pointer)) {
                            *slot = serde_json::Value::String(new);
                        }
                    }
                    out.extend(events::encode(wrap, &h.raw, doc.to_string().as_bytes()));
                }
                _ => out.extend_from_slice(&h.raw),
            }
        }
        // ended channels with nothing pending are done with
        self.channels.retain(|c| !(c.ended && c.final_to == c.end()));
    }

    /// Scans an event with no delta whole (its JSON document, or its bytes as text); the new
    /// document (or bytes) when something was replaced.
    fn scan_whole(&mut self, guard: &Guard, policy: Policy, source: &[u8]) -> Option<Vec<u8>> {
        let (out, replaced) = whole::redact_whole(guard, policy, source, &mut self.pii, &mut self.secrets)?;
        self.replaced += replaced;
        Some(out)
    }
}

