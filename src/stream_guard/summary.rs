//! Whole-text events: the events of a stream that carry again, in one string, a text the
//! deltas already wrote (the Responses API's `response.output_text.done`,
//! `response.content_part.done`, `response.output_item.done`, `response.*_arguments.done`, and
//! `response.completed` with every output item). Left alone they would carry the raw value the
//! deltas had redacted, or a text that differs from what the client reassembled.
//!
//! This module owns finding those strings in an event ([`targets`]) and tying each to its
//! channel: while a channel is written it keeps a SHA-256 of its raw text and the edits the
//! guard applied ([`Log`]); when it ends the log moves to the [`Ledger`]. A whole text whose
//! length and digest match its channel's gets the same edits, so it equals what the client
//! reassembled from the redacted deltas. One that does not match (no deltas seen, a channel
//! evicted, too many edits) is left to the detectors, which the caller runs over the whole
//! event as over any event without deltas. It does not scan or decide anything itself.
//!
//! Memory: a channel's log is a hash state and at most [`MAX_EDITS`] edits; the ledger keeps
//! at most [`MAX_ENDED`] ended channels. Only the Responses API's channels keep a log: no other
//! format repeats its text (Anthropic's `content_block_stop` and `message_stop`, Gemini's last
//! chunk, Bedrock's `contentBlockStop`/`messageStop` and Ollama's `done` line carry none).

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The most edits a channel's log keeps; past it the whole text is left to the detectors.
pub(crate) const MAX_EDITS: usize = 32;
/// The most ended channels remembered.
pub(crate) const MAX_ENDED: usize = 64;

/// An applied edit: (start, end, placeholder) in the channel's offsets since it began.
pub(crate) type Edit = (u64, u64, Option<String>);

/// What a channel keeps to tie its whole text later.
#[derive(Debug, Default)]
pub(crate) struct Log {
    hasher: Sha256,
    edits: Vec<Edit>,
    overflow: bool,
}

impl Log {
    /// Whether a channel with this key is repeated whole by a later event.
    pub(crate) fn wanted(key: &str) -> bool {
        key.starts_with("rs:")
    }

    pub(crate) fn text(&mut self, t: &str) {
        self.hasher.update(t.as_bytes());
    }

    pub(crate) fn edits(&mut self, edits: &[Edit]) {
        for e in edits {
            if self.edits.len() >= MAX_EDITS {
                self.overflow = true;
                return;
            }
            self.edits.push(e.clone());
        }
    }

    pub(crate) fn state_bytes(&self) -> usize {
        std::mem::size_of::<Log>() + self.edits.iter().map(|e| 24 + e.2.as_ref().map_or(0, String::capacity)).sum::<usize>()
    }
}

#[derive(Debug)]
struct Ended {
    key: String,
    len: u64,
    digest: [u8; 32],
    edits: Vec<Edit>,
}

/// Ended channels, by key (the newest of a key wins), oldest evicted first.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    ended: Vec<Ended>,
}

impl Ledger {
    /// A channel of `len` bytes ended with `log`.
    pub(crate) fn record(&mut self, key: &str, len: u64, log: Log) {
        self.ended.retain(|e| e.key != key);
        if log.overflow {
            return;
        }
        if self.ended.len() >= MAX_ENDED {
            self.ended.remove(0);
        }
        let digest: [u8; 32] = log.hasher.finalize().into();
        self.ended.push(Ended { key: key.to_owned(), len, digest, edits: log.edits });
    }

    /// The text the client reassembled for channel `key`, when `whole` is that channel's raw
    /// text; `None` when it cannot be tied.
    pub(crate) fn tie(&self, key: &str, whole: &str) -> Option<String> {
        let e = self.ended.iter().rev().find(|e| e.key == key)?;
        if e.len != whole.len() as u64 || <[u8; 32]>::from(Sha256::digest(whole.as_bytes())) != e.digest {
            return None;
        }
        Some(super::apply(whole, 0, 0, e.len, &e.edits))
    }

    pub(crate) fn state_bytes(&self) -> usize {
        self.ended.iter().map(|e| e.key.capacity() + 48 + e.edits.iter().map(|x| 24 + x.2.as_ref().map_or(0, String::capacity)).sum::<usize>()).sum()
    }
}

/// The strings of an event that repeat a channel's whole text: (JSON pointer, channel key).
pub(crate) fn targets(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(kind) = doc.get("type").and_then(Value::as_str).and_then(|t| t.strip_prefix("response.")) else {
        return out;
    };
    let n = |k: &str| doc.get(k).and_then(Value::as_u64).unwrap_or(0);
    let (oi, ci, si) = (n("output_index"), n("content_index"), n("summary_index"));
    match kind {
        "content_part.done" => {
            if let Some(part) = doc.get("part") {
                part_target(part, "/part", &format!("rs:{oi}:{ci}:0:"), &mut out);
            }
        }
        "reasoning_summary_part.done" => {
            if let Some(part) = doc.get("part") {
                push_str(part, "text", "/part", format!("rs:{oi}:0:{si}:reasoning_summary_text"), &mut out);
            }
        }
        "output_item.done" => {
            if let Some(item) = doc.get("item") {
                item_targets(oi, item, "/item", &mut out);
            }
        }
        "completed" | "incomplete" | "failed" => {
            let items = doc.get("response").and_then(|r| r.get("output")).and_then(Value::as_array);
            for (i, item) in items.into_iter().flatten().enumerate() {
                item_targets(i as u64, item, &format!("/response/output/{i}"), &mut out);
            }
        }
        _ => {
            // `response.<delta kind>.done` repeats the channel its deltas wrote
            if let Some(k) = kind.strip_suffix(".done") {
                for field in ["text", "arguments", "refusal", "input", "code"] {
                    push_str(doc, field, "", format!("rs:{oi}:{ci}:{si}:{k}"), &mut out);
                }
            }
        }
    }
    out
}

fn push_str(v: &Value, field: &str, base: &str, key: String, out: &mut Vec<(String, String)>) {
    if v.get(field).is_some_and(Value::is_string) {
        out.push((format!("{base}/{field}"), key));
    }
}

/// A content part (`output_text`, `refusal`, `reasoning_text`) at `base`, in channel `prefix`.
fn part_target(part: &Value, base: &str, prefix: &str, out: &mut Vec<(String, String)>) {
    match part.get("type").and_then(Value::as_str) {
        Some(t @ ("output_text" | "reasoning_text")) => push_str(part, "text", base, format!("{prefix}{t}"), out),
        Some("refusal") => push_str(part, "refusal", base, format!("{prefix}refusal"), out),
        _ => {}
    }
}

/// An output item's texts, by the delta events that wrote them.
fn item_targets(oi: u64, item: &Value, base: &str, out: &mut Vec<(String, String)>) {
    let list = |k: &str| item.get(k).and_then(Value::as_array).into_iter().flatten().enumerate();
    match item.get("type").and_then(Value::as_str) {
        Some("message") => {
            for (k, part) in list("content") {
                part_target(part, &format!("{base}/content/{k}"), &format!("rs:{oi}:{k}:0:"), out);
            }
        }
        Some("reasoning") => {
            for (s, part) in list("summary") {
                push_str(part, "text", &format!("{base}/summary/{s}"), format!("rs:{oi}:0:{s}:reasoning_summary_text"), out);
            }
            for (k, part) in list("content") {
                part_target(part, &format!("{base}/content/{k}"), &format!("rs:{oi}:{k}:0:"), out);
            }
        }
        Some("function_call") => push_str(item, "arguments", base, format!("rs:{oi}:0:0:function_call_arguments"), out),
        Some("mcp_call") => push_str(item, "arguments", base, format!("rs:{oi}:0:0:mcp_call_arguments"), out),
        Some("custom_tool_call") => push_str(item, "input", base, format!("rs:{oi}:0:0:custom_tool_call_input"), out),
        Some("code_interpreter_call") => push_str(item, "code", base, format!("rs:{oi}:0:0:code_interpreter_call_code"), out),
        _ => {}
    }
}
