//! An upstream that answers like a real provider by replaying recorded fixtures.
//!
//! The fixture is chosen by the `x-fixture` request header (`openai/chat_basic`), or, without
//! it, from the path and the body's `stream` flag. Knobs, as request headers:
//! `x-raw-body` / `x-raw-body-b64` (answer these bytes instead of the recording's),
//! `x-content-type` and `x-mcp-session-id` (answer with these headers),
//! `x-chunk-bytes` (split the body into chunks of that size; streams default to one chunk per
//! event, AWS event-stream message or JSON-array element), `x-chunk-delay-ms`, `x-delay-ms` (wait before the response headers),
//! `x-reset-after-bytes` (cut the connection mid-body), `x-gzip: 1` (compress the body and say
//! so), `x-encoding: gzip|br|zstd` (compress the body with that coding and say so),
//! `x-trailers: name=value,...` (end the body with trailers), `x-synth-chat-stream: N` (answer
//! [`synth_chat_stream`] of about N bytes instead of a recording; `x-synth-event-text: T` makes
//! each event's text about T bytes instead of 900), `x-status` (override the
//! status). `/echo` answers with the request body it received. Every request served is
//! recorded. [`Upstream::start_h2`] serves the same over h2c.

use crate::http::{Handler, Reply, Request, Server};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The running upstream.
pub struct Upstream {
    pub server: Server,
    log: Arc<Mutex<Vec<Request>>>,
    recording: Arc<AtomicBool>,
}

/// Fixtures as served: read and parsed once per process, since a soak serves each thousands of times.
fn cached_fixture(name: &str) -> std::io::Result<Arc<Fixture>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Fixture>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(f) = cache.lock().ok().and_then(|c| c.get(name).cloned()) {
        return Ok(f);
    }
    let f = Arc::new(Fixture::load(name)?);
    if let Ok(mut c) = cache.lock() {
        c.insert(name.to_owned(), f.clone());
    }
    Ok(f)
}

/// Where the shared fixtures live (`../shared/fixtures` beside the repository).
pub fn fixtures_dir() -> PathBuf {
    if let Ok(d) = std::env::var("GENAI_TAP_FIXTURES") {
        return PathBuf::from(d);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures")
}

/// A recorded fixture, loaded.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub json: serde_json::Value,
}

/// The recordings built in this repository (`tests/data/providers`), tried before the shared
/// fixtures of the same name.
pub fn recordings_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/providers")
}

impl Fixture {
    pub fn load(name: &str) -> std::io::Result<Fixture> {
        let own = recordings_dir().join(format!("{name}.json"));
        let path = if own.exists() { own } else { fixtures_dir().join(format!("{name}.json")) };
        let text = std::fs::read_to_string(&path)?;
        let json = serde_json::from_str(&text).map_err(std::io::Error::other)?;
        Ok(Fixture { json })
    }
    pub fn request_body(&self) -> Vec<u8> {
        self.json["request"]["body"].as_str().unwrap_or("").as_bytes().to_vec()
    }
    pub fn request_path(&self) -> String {
        self.json["request"]["path"].as_str().unwrap_or("/").to_owned()
    }
    pub fn upstream_host(&self) -> String {
        self.json["upstream_host"].as_str().unwrap_or("localhost").to_owned()
    }
    pub fn status(&self) -> u16 {
        self.json["response"]["status"].as_u64().unwrap_or(200) as u16
    }
    pub fn content_type(&self) -> String {
        self.json["response"]["headers"]
            .as_object()
            .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type")))
            .and_then(|(_, v)| v.as_str())
            .unwrap_or("application/json")
            .to_owned()
    }
    pub fn response_body(&self) -> Vec<u8> {
        let r = &self.json["response"];
        if r["body_encoding"].as_str() == Some("base64") {
            crate::base64::decode(r["body_base64"].as_str().unwrap_or(""))
        } else {
            r["body"].as_str().unwrap_or("").as_bytes().to_vec()
        }
    }
    pub fn expected(&self) -> &serde_json::Value {
        &self.json["expected"]
    }
    /// Response headers worth replaying (content type and provider-specific ones).
    pub fn replay_headers(&self) -> Vec<(String, String)> {
        let mut out = vec![("content-type".to_owned(), self.content_type())];
        if let Some(h) = self.json["response"]["headers"].as_object() {
            for (k, v) in h {
                let k = k.to_ascii_lowercase();
                if k.starts_with("x-amzn-bedrock-") || k == "x-request-id" || k == "x-amzn-errortype" {
                    out.push((k, v.as_str().unwrap_or("").to_owned()));
                }
            }
        }
        out
    }
}

/// Splits a stream body after each event (SSE blank line, NDJSON newline); other bodies stay whole.
fn split_events(body: &[u8], content_type: &str) -> Vec<Vec<u8>> {
    let ct = content_type.to_ascii_lowercase();
    let sep: &[u8] = if ct.contains("event-stream") {
        if body.windows(4).any(|w| w == b"\r\n\r\n") {
            b"\r\n\r\n"
        } else {
            b"\n\n"
        }
    } else if ct.contains("ndjson") || ct.contains("stream+json") {
        b"\n"
    } else if ct.contains("amazon.eventstream") {
        return split_eventstream(body);
    } else if ct.contains("json") && body.first() == Some(&b'[') {
        return split_json_array(body);
    } else {
        return vec![body.to_vec()];
    };
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + sep.len() <= body.len() {
        if &body[i..i + sep.len()] == sep {
            out.push(body[start..i + sep.len()].to_vec());
            start = i + sep.len();
            i = start;
        } else {
            i += 1;
        }
    }
    if start < body.len() {
        out.push(body[start..].to_vec());
    }
    out
}

/// One chunk per AWS event-stream message (by the total length in each prelude).
fn split_eventstream(body: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = body;
    while rest.len() >= 4 {
        let n = (u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize).clamp(1, rest.len());
        out.push(rest[..n].to_vec());
        rest = &rest[n..];
    }
    if !rest.is_empty() {
        out.push(rest.to_vec());
    }
    out
}

/// One chunk per element of a streamed JSON array (Gemini without `alt=sse`), each with the
/// separator before it; the closing bracket goes with the last.
fn split_json_array(body: &[u8]) -> Vec<Vec<u8>> {
    let (mut out, mut start, mut depth, mut in_str, mut esc) = (Vec::new(), 0, 0usize, false, false);
    for (i, &c) in body.iter().enumerate() {
        if in_str {
            match c {
                _ if esc => esc = false,
                b'\\' => esc = true,
                b'"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'{' => depth += 1,
            b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    out.push(body[start..=i].to_vec());
                    start = i + 1;
                }
            }
            _ => {}
        }
    }
    match out.last_mut() {
        Some(last) => last.extend_from_slice(&body[start..]),
        None => out.push(body.to_vec()),
    }
    out
}

/// The demo's choice when no `x-fixture` is given.
fn default_fixture(req: &Request) -> &'static str {
    let streaming = serde_json::from_slice::<serde_json::Value>(&req.body)
        .ok()
        .and_then(|v| v["stream"].as_bool())
        .unwrap_or(false);
    let p = req.path.as_str();
    match (p, streaming) {
        (p, true) if p.ends_with("/chat/completions") => "openai/chat_stream_include_usage",
        (p, false) if p.ends_with("/chat/completions") => "openai/chat_basic",
        (p, true) if p.ends_with("/responses") => "openai/responses_stream",
        (p, false) if p.ends_with("/responses") => "openai/responses_basic",
        (p, _) if p.ends_with("/embeddings") => "openai/embeddings",
        (p, true) if p.ends_with("/messages") => "anthropic/messages_stream",
        (p, false) if p.ends_with("/messages") => "anthropic/messages_basic",
        _ => "openai/chat_basic",
    }
}

fn handle(req: &Request) -> Reply {
    if req.path.starts_with("/echo") {
        let ct = req.header("content-type").unwrap_or("application/json").to_owned();
        return Reply::Full { status: 200, headers: vec![("content-type".into(), ct)], body: req.body.clone() };
    }
    let name = req.header("x-fixture").map(str::to_owned).unwrap_or_else(|| default_fixture(req).to_owned());
    let fx = match cached_fixture(&name) {
        Ok(f) => f,
        Err(e) => {
            return Reply::Full {
                status: 599,
                headers: vec![("content-type".into(), "text/plain".into())],
                body: format!("testkit: no fixture {name}: {e}").into_bytes(),
            }
        }
    };
    if let Some(ms) = req.header("x-delay-ms").and_then(|s| s.parse().ok()) {
        std::thread::sleep(Duration::from_millis(ms));
    }
    let status = req.header("x-status").and_then(|s| s.parse().ok()).unwrap_or(fx.status());
    let mut headers = fx.replay_headers();
    let mut body = fx.response_body();
    if let Some(raw) = req.header("x-raw-body") {
        body = raw.as_bytes().to_vec();
    }
    if let Some(b64) = req.header("x-raw-body-b64") {
        body = crate::base64::decode(b64);
    }
    if let Some(ct) = req.header("x-content-type") {
        headers.retain(|(k, _)| k != "content-type");
        headers.push(("content-type".into(), ct.to_owned()));
    }
    if let Some(sid) = req.header("x-mcp-session-id") {
        headers.push(("mcp-session-id".into(), sid.to_owned()));
    }
    if let Some(n) = req.header("x-synth-chat-stream").and_then(|s| s.parse().ok()) {
        let text = req.header("x-synth-event-text").and_then(|s| s.parse().ok()).unwrap_or(900);
        body = synth_chat_stream_sized(n, text);
        headers.retain(|(k, _)| k != "content-type");
        headers.push(("content-type".into(), "text/event-stream".into()));
    }
    let coding = req.header("x-encoding").or(req.header("x-gzip").map(|_| "gzip"));
    if let Some(coding) = coding {
        body = encode(coding, &body);
        headers.push(("content-encoding".into(), coding.to_owned()));
    }
    let content_type = headers.iter().find(|(k, _)| k == "content-type").map(|(_, v)| v.clone()).unwrap_or_default();
    let chunks = match req.header("x-chunk-bytes").and_then(|s| s.parse::<usize>().ok()).filter(|n| *n > 0) {
        Some(n) => body.chunks(n).map(<[u8]>::to_vec).collect(),
        None if coding.is_none() => split_events(&body, &content_type),
        None => vec![body],
    };
    let delay = Duration::from_millis(req.header("x-chunk-delay-ms").and_then(|s| s.parse().ok()).unwrap_or(0));
    let reset_after = req.header("x-reset-after-bytes").and_then(|s| s.parse().ok());
    let reply = Reply::Chunked { status, headers, chunks, delay, reset_after };
    match req.header("x-trailers") {
        Some(t) => Reply::Trailed {
            reply: Box::new(reply),
            trailers: t.split(',').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect(),
        },
        None => reply,
    }
}

/// `body` compressed with a content coding (`gzip`, `br` or `zstd`); other names leave it as is.
pub fn encode(coding: &str, body: &[u8]) -> Vec<u8> {
    match coding {
        "gzip" => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let _ = enc.write_all(body);
            enc.finish().unwrap_or_default()
        }
        "br" => {
            let mut out = Vec::new();
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                let _ = w.write_all(body);
            }
            out
        }
        "zstd" => ruzstd::encoding::compress_to_vec(body, ruzstd::encoding::CompressionLevel::Fastest),
        _ => body.to_vec(),
    }
}

/// The address that [`synth_chat_stream`] writes once, in the middle of its text.
pub const SYNTH_EMAIL: &str = "jane.doe@example.com";

/// An OpenAI chat completion stream of about `n` bytes (`gpt-4o-mini`, at least two content
/// events): numbered content deltas of about 1 KiB, one of them, half way, carrying
/// [`SYNTH_EMAIL`]; then a `stop` chunk, a usage chunk (`prompt_tokens` 11, `completion_tokens`
/// one per content event) and `[DONE]`. Deterministic, so a test can compare every event.
pub fn synth_chat_stream(n: usize) -> Vec<u8> {
    synth_chat_stream_sized(n, 900)
}

/// As [`synth_chat_stream`], each event's text about `text` bytes (an event is ~200 more).
pub fn synth_chat_stream_sized(n: usize, text_bytes: usize) -> Vec<u8> {
    let events = (n / (text_bytes + 200)).max(2);
    let mut out = Vec::with_capacity(n + 2048);
    let chunk = |delta: serde_json::Value, finish: serde_json::Value| {
        serde_json::json!({"id": "chatcmpl-synth", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut push = |v: serde_json::Value| {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(v.to_string().as_bytes());
        out.extend_from_slice(b"\n\n");
    };
    push(chunk(serde_json::json!({"role": "assistant", "content": ""}), serde_json::Value::Null));
    for i in 0..events {
        let mut text = format!("[part {i:06}] ");
        while text.len() < text_bytes {
            text.push_str(&format!("word{} ", (i * 31 + text.len()) % 9973));
        }
        if i == events / 2 {
            text.push_str(&format!("write to {SYNTH_EMAIL} soon. "));
        }
        push(chunk(serde_json::json!({"content": text}), serde_json::Value::Null));
    }
    push(chunk(serde_json::json!({}), serde_json::json!("stop")));
    push(serde_json::json!({"id": "chatcmpl-synth", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini", "choices": [],
        "usage": {"prompt_tokens": 11, "completion_tokens": events, "total_tokens": 11 + events}}));
    out.extend_from_slice(b"data: [DONE]\n\n");
    out
}

type RequestLog = Arc<Mutex<Vec<Request>>>;

/// The replaying handler, keeping each request it serves while the switch is on.
fn recording_handler() -> (Handler, RequestLog, Arc<AtomicBool>) {
        let log: Arc<Mutex<Vec<Request>>> = Arc::default();
        let recording = Arc::new(AtomicBool::new(true));
        let (log2, recording2) = (log.clone(), recording.clone());
        let handler: Handler = Arc::new(move |req: &Request| {
            if recording2.load(Ordering::Relaxed) {
                if let Ok(mut l) = log2.lock() {
                    l.push(req.clone());
                }
            }
            handle(req)
        });
    (handler, log, recording)
}

impl Upstream {
    /// Starts on 127.0.0.1:`port` (0 for a free port).
    pub fn start(port: u16) -> std::io::Result<Upstream> {
        let (handler, log, recording) = recording_handler();
        Ok(Upstream { server: Server::start(port, handler)?, log, recording })
    }

    /// The same upstream over h2c (HTTP/2 with prior knowledge, no TLS): a native HTTP/2 peer
    /// for Envoy's upstream cluster ([`crate::envoy::EnvoyConfig::upstream_http2`]).
    pub fn start_h2(port: u16) -> std::io::Result<Upstream> {
        let (handler, log, recording) = recording_handler();
        Ok(Upstream { server: crate::h2::serve(port, handler)?, log, recording })
    }

    /// Stop (or resume) keeping every request served: a soak would keep gigabytes.
    pub fn record_requests(&self, on: bool) {
        self.recording.store(on, Ordering::Relaxed);
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// Every request served so far.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}
