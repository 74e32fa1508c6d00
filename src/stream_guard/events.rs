//! One event of a stream: its JSON, the text deltas it carries (by channel), the channels it
//! closes, and how to write it again around a changed JSON document. What a field means is
//! recognised by the document's shape, so one reader serves every provider: the providers'
//! readers stay about usage.

use crate::framing::{Frame, StreamDecoder, StreamFormat};
use serde_json::Value;

/// A piece of one channel's text carried by an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Delta {
    /// The channel: which choice, content block, candidate part, tool call.
    pub channel: String,
    /// A JSON pointer to the string in the event's document.
    pub pointer: String,
    pub text: String,
    /// The text is JSON source (tool-call arguments), not prose.
    pub json_source: bool,
}

/// How an event is written again.
#[derive(Debug)]
pub(crate) enum Wrap {
    /// SSE: the lines other than `data:` are kept, in order.
    Sse,
    /// An NDJSON line.
    Line,
    /// A JSON-array element after `prefix` separator bytes.
    Element { prefix: usize },
    /// An AWS event-stream message: headers kept; the payload is the document itself, or a
    /// `{"bytes": base64(document)}` wrapper (InvokeModelWithResponseStream).
    EventStream { wrapped: bool },
}

/// An event as read.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// The document (for a wrapped Bedrock chunk: the model's event inside it).
    pub doc: Option<Value>,
    /// The document's bytes as they came (a Bedrock chunk: decoded from base64).
    pub source: Vec<u8>,
    pub wrap: Wrap,
    /// Channels an event-stream message ends by its `:event-type` (ConverseStream).
    pub ends: Vec<String>,
}

/// Reads one raw event. `None`: not a JSON document (`[DONE]`, a comment, a bad frame); the
/// event then leaves as it came, scanned as text.
pub(crate) fn decode(format: StreamFormat, raw: &[u8], prefix: usize) -> Option<Decoded> {
    match format {
        StreamFormat::Sse => {
            let mut data = None;
            let mut d = StreamDecoder::new(StreamFormat::Sse, raw.len() + 1);
            let mut take = |f: Frame<'_>| {
                if let Frame::Sse { data: bytes, .. } = f {
                    data = Some(bytes.to_vec());
                }
            };
            d.push(raw, &mut take).ok()?;
            d.finish(&mut take).ok()?;
            let source = data?;
            let doc = serde_json::from_slice(&source).ok()?;
            Some(Decoded { doc: Some(doc), source, wrap: Wrap::Sse, ends: Vec::new() })
        }
        StreamFormat::Ndjson => {
            let source = trim_eol(raw).to_vec();
            let doc = serde_json::from_slice(&source).ok()?;
            Some(Decoded { doc: Some(doc), source, wrap: Wrap::Line, ends: Vec::new() })
        }
        StreamFormat::JsonArray => {
            let source = raw.get(prefix..)?.to_vec();
            let doc = serde_json::from_slice(&source).ok()?;
            Some(Decoded { doc: Some(doc), source, wrap: Wrap::Element { prefix }, ends: Vec::new() })
        }
        StreamFormat::EventStream => {
            let mut payload = None;
            let mut ends = Vec::new();
            let mut d = StreamDecoder::new(StreamFormat::EventStream, raw.len() + 1);
            d.push(raw, &mut |f| {
                if let Frame::EventStream { payload: p, message_type: "event", event_type } = f {
                    payload = Some(p.to_vec());
                    match event_type {
                        "contentBlockStop" => {
                            let i = serde_json::from_slice::<Value>(p).ok().map_or(0, |v| idx(&v, "contentBlockIndex", 0));
                            ends.push(format!("bc:{i}:"));
                        }
                        "messageStop" => ends.push("bc:".to_owned()),
                        _ => {}
                    }
                }
            })
            .ok()?;
            let payload = payload?;
            let outer: Value = serde_json::from_slice(&payload).ok()?;
            if let Some(b64) = outer.get("bytes").and_then(Value::as_str) {
                let source = crate::providers::base64_decode(b64)?;
                let doc = serde_json::from_slice(&source).ok()?;
                return Some(Decoded { doc: Some(doc), source, wrap: Wrap::EventStream { wrapped: true }, ends });
            }
            Some(Decoded { doc: Some(outer), source: payload, wrap: Wrap::EventStream { wrapped: false }, ends })
        }
    }
}

fn trim_eol(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// Writes an event again around `doc` (compact JSON, which holds no newline).
pub(crate) fn encode(wrap: &Wrap, raw: &[u8], doc: &[u8]) -> Vec<u8> {
    match wrap {
        Wrap::Sse => {
            let eol: &[u8] = if memchr::memmem::find(raw, b"\r\n").is_some() { b"\r\n" } else { b"\n" };
            let mut out = Vec::with_capacity(doc.len() + 32);
            let mut wrote_data = false;
            for line in raw.split(|c| *c == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if line.is_empty() {
                    continue;
                }
                if line == b"data" || line.starts_with(b"data:") {
                    if !wrote_data {
                        out.extend_from_slice(b"data: ");
                        out.extend_from_slice(doc);
                        out.extend_from_slice(eol);
                        wrote_data = true;
                    }
                    continue;
                }
                out.extend_from_slice(line);
                out.extend_from_slice(eol);
            }
            // an event that came with its blank line keeps it (the last one of a stream may not)
            if raw.ends_with(b"\n\n") || raw.ends_with(b"\r\n\r\n") {
                out.extend_from_slice(eol);
            }
            out
        }
        Wrap::Line => {
            let mut out = doc.to_vec();
            out.extend_from_slice(raw.get(trim_eol(raw).len()..).unwrap_or_default());
            out
        }
        Wrap::Element { prefix } => {
            let mut out = raw.get(..*prefix).unwrap_or_default().to_vec();
            out.extend_from_slice(doc);
            out
        }
        Wrap::EventStream { wrapped } => {
            let headers = crate::framing::message_headers(raw).unwrap_or_default();
            if *wrapped {
                let mut outer: Value = crate::framing::message_headers(raw)
                    .and_then(|h| raw.get(12 + h.len()..raw.len().saturating_sub(4)))
                    .and_then(|p| serde_json::from_slice(p).ok())
                    .unwrap_or_else(|| Value::Object(Default::default()));
                if let Some(o) = outer.as_object_mut() {
                    o.insert("bytes".to_owned(), Value::String(crate::framing::base64_encode(doc)));
                }
                crate::framing::encode_message(headers, outer.to_string().as_bytes())
            } else {
                crate::framing::encode_message(headers, doc)
            }
        }
    }
}

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn idx(v: &Value, key: &str, default: usize) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(default as u64)
}

/// The text deltas in a document, and the channels (by key prefix) it ends.
pub(crate) fn deltas(doc: &Value, out: &mut Vec<Delta>, ends: &mut Vec<String>) {
    let mut push = |channel: String, pointer: String, v: Option<&Value>, json_source: bool| {
        if let Some(t) = v.and_then(Value::as_str) {
            out.push(Delta { channel, pointer, text: t.to_owned(), json_source });
        }
    };
    // OpenAI chat and completions
    if let Some(choices) = doc.get("choices").and_then(Value::as_array) {
        for (pos, c) in choices.iter().enumerate() {
            let i = idx(c, "index", pos);
            if let Some(d) = c.get("delta") {
                push(format!("oc:{i}:"), format!("/choices/{pos}/delta/content"), d.get("content"), false);
                push(format!("oc:{i}:r"), format!("/choices/{pos}/delta/reasoning_content"), d.get("reasoning_content"), false);
                if let Some(calls) = d.get("tool_calls").and_then(Value::as_array) {
                    for (tp, t) in calls.iter().enumerate() {
                        let j = idx(t, "index", tp);
                        let args = t.get("function").and_then(|f| f.get("arguments"));
                        push(format!("oc:{i}:t{j}"), format!("/choices/{pos}/delta/tool_calls/{tp}/function/arguments"), args, true);
                    }
                }
            }
            push(format!("oc:{i}:"), format!("/choices/{pos}/text"), c.get("text"), false);
            if c.get("finish_reason").is_some_and(|f| !f.is_null()) {
                ends.push(format!("oc:{i}:"));
            }
        }
        return;
    }
    if let Some(t) = s(doc, "type") {
        // the Responses API
        if let Some(kind) = t.strip_prefix("response.") {
            let key = format!("rs:{}:{}:{}:", idx(doc, "output_index", 0), idx(doc, "content_index", 0), idx(doc, "summary_index", 0));
            if let Some(k) = kind.strip_suffix(".delta") {
                push(format!("{key}{k}"), "/delta".to_owned(), doc.get("delta"), k.contains("arguments"));
            } else if let Some(k) = kind.strip_suffix(".done") {
                ends.push(format!("{key}{k}"));
            } else if kind == "completed" || kind == "incomplete" || kind == "failed" {
                ends.push("rs:".to_owned());
            }
            return;
        }
        // Anthropic (also inside Bedrock's InvokeModelWithResponseStream)
        let i = idx(doc, "index", 0);
        match t {
            "content_block_delta" => {
                if let Some(d) = doc.get("delta") {
                    push(format!("ab:{i}:"), "/delta/text".to_owned(), d.get("text"), false);
                    push(format!("ab:{i}:"), "/delta/partial_json".to_owned(), d.get("partial_json"), true);
                    push(format!("ab:{i}:"), "/delta/thinking".to_owned(), d.get("thinking"), false);
                }
            }
            "content_block_stop" => ends.push(format!("ab:{i}:")),
            "message_stop" => ends.push("ab:".to_owned()),
            _ => {}
        }
        return;
    }
    // Gemini and Vertex
    if let Some(cands) = doc.get("candidates").and_then(Value::as_array) {
        for (ci, c) in cands.iter().enumerate() {
            let i = idx(c, "index", ci);
            if let Some(parts) = c.get("content").and_then(|c| c.get("parts")).and_then(Value::as_array) {
                for (k, p) in parts.iter().enumerate() {
                    let thought = if p.get("thought").and_then(Value::as_bool) == Some(true) { "t" } else { "" };
                    push(format!("gc:{i}:{k}{thought}"), format!("/candidates/{ci}/content/parts/{k}/text"), p.get("text"), false);
                }
            }
            if c.get("finishReason").is_some_and(|f| !f.is_null()) {
                ends.push(format!("gc:{i}:"));
            }
        }
        return;
    }
    // Ollama
    if doc.get("done").is_some() && doc.get("model").is_some() {
        if let Some(m) = doc.get("message") {
            push("ol:c".to_owned(), "/message/content".to_owned(), m.get("content"), false);
            push("ol:t".to_owned(), "/message/thinking".to_owned(), m.get("thinking"), false);
        }
        push("ol:c".to_owned(), "/response".to_owned(), doc.get("response"), false);
        if doc.get("done").and_then(Value::as_bool) == Some(true) {
            ends.push("ol:".to_owned());
        }
        return;
    }
    // Bedrock ConverseStream (`contentBlockDelta` events), and Nova inside InvokeModel streams
    let (block, base) = match doc.get("contentBlockDelta") {
        Some(inner) => (inner, "/contentBlockDelta"),
        None => (doc, ""),
    };
    if let Some(d) = block.get("delta") {
        let i = idx(block, "contentBlockIndex", 0);
        push(format!("bc:{i}:"), format!("{base}/delta/text"), d.get("text"), false);
        let input = d.get("toolUse").and_then(|t| t.get("input"));
        push(format!("bc:{i}:"), format!("{base}/delta/toolUse/input"), input, true);
        let reasoning = d.get("reasoningContent").and_then(|r| r.get("text"));
        push(format!("bc:{i}:r"), format!("{base}/delta/reasoningContent/text"), reasoning, false);
        return;
    }
    // ConverseStream names its events in the message headers (`contentBlockStop`,
    // `messageStop`): `decode` turns those into `ends`
    // Titan and Llama inside InvokeModel streams
    push("tt:0:".to_owned(), "/outputText".to_owned(), doc.get("outputText"), false);
    push("ll:0:".to_owned(), "/generation".to_owned(), doc.get("generation"), false);
}
