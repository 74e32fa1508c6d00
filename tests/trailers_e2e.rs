//! Bodies that end with trailers, in the real Envoy 1.40: no `end_of_stream` on a body chunk,
//! and (measured, see docs/operations.md) no way for a proxy-wasm filter to add body bytes
//! from the trailers callback. What the guard holds must leave with a body chunk; where it
//! cannot, the call ends with a clear, counted reply, never cut short in silence.
//!
//! Request trailers come from a raw HTTP/1.1 client (chunked, trailers enabled on the
//! listener) and, through a relay Envoy, over HTTP/2. Response trailers come from Envoy's
//! decompressor listed after genai-tap, as `envoy/demo.yaml` ships it.
// Test code: a failed unwrap or panic is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use genai_tap_testkit::base64;
use genai_tap_testkit::envoy::{Envoy, EnvoyConfig};
use genai_tap_testkit::recorder::Recorder;
use genai_tap_testkit::sink::OtlpSink;
use genai_tap_testkit::upstream::Upstream;
use std::io::{Read, Write};
use std::time::Duration;

const TRAILERS_ON: &str = "          http_protocol_options: {enable_trailers: true}\n";

fn plugin(sink: &OtlpSink, guard: &str) -> String {
    format!(r#"{{"collector":{{"cluster":"otel_collector","authority":"127.0.0.1:{}","flush_interval_ms":50}}{guard}}}"#, sink.port)
}

fn chat(content: &str) -> Vec<u8> {
    serde_json::json!({"model": "gpt-4o", "messages": [{"role": "user", "content": content}]}).to_string().into_bytes()
}

/// What a raw exchange gave back: the status, and the body as the wire carried it.
struct Raw {
    status: u16,
    body: Vec<u8>,
    /// The chunked body ended with its last chunk (not a reset or a close mid-body).
    complete: bool,
}

/// One HTTP/1.1 request on a new connection, its body chunked in `pieces` written apart,
/// ended by `trailers` (none: a plain last chunk); reads until the server closes.
fn chunked(port: u16, headers: &[(&str, &str)], pieces: &[&[u8]], trailers: &[(&str, &str)]) -> Raw {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = String::from("POST /v1/chat/completions HTTP/1.1\r\ntransfer-encoding: chunked\r\nconnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = s.write_all(head.as_bytes());
    for p in pieces {
        let _ = s.write_all(&[format!("{:x}\r\n", p.len()).as_bytes(), p, b"\r\n"].concat());
        std::thread::sleep(Duration::from_millis(30));
    }
    let mut end = String::from("0\r\n");
    for (k, v) in trailers {
        end.push_str(&format!("{k}: {v}\r\n"));
    }
    end.push_str("\r\n");
    let _ = s.write_all(end.as_bytes());
    let mut wire = Vec::new();
    let _ = s.read_to_end(&mut wire);
    parse(&wire)
}

fn parse(wire: &[u8]) -> Raw {
    let text_end = wire.windows(4).position(|w| w == b"\r\n\r\n").map_or(wire.len(), |i| i + 4);
    let head = String::from_utf8_lossy(&wire[..text_end]).to_ascii_lowercase();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut rest = &wire[text_end.min(wire.len())..];
    if !head.contains("transfer-encoding: chunked") {
        let n = head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok()).unwrap_or(rest.len());
        return Raw { status, body: rest[..n.min(rest.len())].to_vec(), complete: rest.len() >= n };
    }
    let mut body = Vec::new();
    loop {
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else { return Raw { status, body, complete: false } };
        let n = usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16).unwrap_or(usize::MAX);
        if n == 0 {
            return Raw { status, body, complete: true };
        }
        let start = eol + 2;
        if n == usize::MAX || rest.len() < start + n {
            body.extend_from_slice(&rest[start.min(rest.len())..]);
            return Raw { status, body, complete: false };
        }
        body.extend_from_slice(&rest[start..start + n]);
        rest = &rest[(start + n + 2).min(rest.len())..];
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The guarded listener (trailers enabled) in front of a recording upstream.
fn guarded(guard: &str) -> (Recorder, OtlpSink, Envoy) {
    let upstream = Recorder::start().unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let mut ec = EnvoyConfig::new(upstream.port, sink.port, &plugin(&sink, guard));
    ec.fail_open = true;
    ec.hcm_options = TRAILERS_ON.to_owned();
    let envoy = Envoy::start(&ec).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));
    (upstream, sink, envoy)
}

const HEADERS: &[(&str, &str)] = &[("host", "api.openai.com"), ("content-type", "application/json")];

#[test]
fn e2e_a_held_request_tail_before_trailers_gets_a_clear_reply_never_a_cut_body() {
    let (upstream, _sink, envoy) = guarded(r#","pii":{"mode":"redact"},"secrets":{"mode":"block"}"#);
    let body = chat("summarise the shipping report for the board, and mail it to jane@example.org");
    let (a, b) = body.split_at(40);
    // the same body without trailers: the last chunk says end_of_stream, all of it leaves
    let plain = chunked(envoy.listener_port, HEADERS, &[a, b], &[]);
    assert_eq!(plain.status, 200, "{}", String::from_utf8_lossy(&plain.body));
    assert!(plain.complete, "the client read the whole answer");
    let got = upstream.requests();
    assert_eq!(got.len(), 1);
    let v: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(v["messages"][0]["content"], "summarise the shipping report for the board, and mail it to [REDACTED:EMAIL]");
    // with trailers: the tail the guard held cannot leave from the trailers callback
    let with = chunked(envoy.listener_port, HEADERS, &[a, b], &[("x-checksum", "abc")]);
    assert_eq!(with.status, 500, "{}", String::from_utf8_lossy(&with.body));
    let v: serde_json::Value = serde_json::from_slice(&with.body).unwrap();
    assert_eq!(v["error"]["type"], "guard_incomplete_body");
    assert_eq!(v["error"]["reason"], "trailers");
    // the upstream never got a whole request it could take for the client's: only the first
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(upstream.requests().len(), 1, "the cut request never completed upstream");
    assert!(envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_guard_request_trailers", &[("result", "refused")]) == 1.0));
    assert_eq!(envoy.prom("genai_tap_guard_blocks", &[("rule", "held-body-before-trailers")]), 1.0);
    // a secret at the very end is blocked at the trailers, as at any end of body
    upstream.clear();
    let secret = chat("deploy with AKIAZ7QW4XJ2LBNM5K3P");
    let r = chunked(envoy.listener_port, HEADERS, &[&secret], &[("x-checksum", "abc")]);
    assert_eq!(r.status, 403);
    assert!(!contains(&upstream.bytes(), b"AKIAZ7QW4XJ2LBNM5K3P"), "the secret never reached the upstream");
    assert!(!envoy.log().contains("panic"), "{}", envoy.log());
}

#[test]
fn e2e_an_observing_guard_holds_nothing_and_trailers_pass() {
    let (upstream, _sink, envoy) = guarded(r#","pii":{"mode":"observe"},"secrets":{"mode":"observe"}"#);
    let body = chat("mail it to jane@example.org");
    let (a, b) = body.split_at(30);
    let r = chunked(envoy.listener_port, HEADERS, &[a, b], &[("x-checksum", "abc")]);
    assert_eq!(r.status, 200);
    let got = upstream.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, body, "every byte, unchanged");
    assert!(envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_llm_calls", &[("outcome", "completed")]) == 1.0));
    assert_eq!(envoy.prom("genai_tap_guard_request_trailers", &[]), 0.0);
}

/// HTTP/2 to genai-tap's Envoy with request trailers: a relay Envoy (no filter) takes the raw
/// HTTP/1.1 trailers and speaks h2c upstream, so the guarded listener sees HEADERS, DATA
/// without END_STREAM, then a trailers HEADERS frame.
#[test]
fn e2e_request_trailers_over_http2_get_the_same_reply() {
    let (upstream, sink, envoy) = guarded(r#","pii":{"mode":"redact"}"#);
    let mut relay_cfg = EnvoyConfig::new(envoy.listener_port, sink.port, "{}");
    relay_cfg.wasm = None;
    relay_cfg.upstream_http2 = true;
    relay_cfg.hcm_options = TRAILERS_ON.to_owned();
    let relay = Envoy::start(&relay_cfg).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));
    let body = chat("hello there, nothing to hide");
    let (a, b) = body.split_at(25);
    let with = chunked(relay.listener_port, HEADERS, &[a, b], &[("x-checksum", "abc")]);
    assert_eq!(with.status, 500, "{}", String::from_utf8_lossy(&with.body));
    assert!(contains(&with.body, b"guard_incomplete_body"));
    let plain = chunked(relay.listener_port, HEADERS, &[a, b], &[]);
    assert_eq!(plain.status, 200);
    assert_eq!(upstream.requests().last().map(|r| r.body.clone()), Some(body));
    assert!(envoy.stat("http.egress.downstream_cx_http2_total") >= 1, "genai-tap's Envoy was spoken to over HTTP/2");
    assert!(envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_guard_request_trailers", &[("result", "refused")]) == 1.0));
}

/// The example configuration's decompressor after genai-tap, with response redaction: the
/// decompressor adds trailers, so no body chunk says `end_of_stream`.
fn decompressing(upstream_port: u16, sink: &OtlpSink) -> Envoy {
    let demo = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/envoy/demo.yaml")).unwrap();
    let start = demo.find("          # BEGIN decompressor").expect("envoy/demo.yaml has the decompressor block");
    let end = demo.find("          # END decompressor").unwrap();
    let mut cfg = EnvoyConfig::new(upstream_port, sink.port, &plugin(sink, r#","pii":{"mode":"redact","response":"redact"}"#));
    cfg.fail_open = true;
    cfg.extra_http_filters = demo[start..end].to_owned();
    Envoy::start(&cfg).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log))
}

#[test]
fn e2e_gzip_answers_through_the_decompressor_arrive_whole_and_redacted() {
    let upstream = Upstream::start(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let envoy = decompressing(upstream.port(), &sink);
    let request = chat("who do I write to?");
    // a JSON answer, held whole by the guard
    let answer = r#"{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"Write to jane.doe@example.org about the shipping report."}}],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21}}"#;
    let r = envoy.send(
        "POST",
        "/v1/chat/completions",
        &[("host", "api.openai.com"), ("content-type", "application/json"), ("accept-encoding", "gzip"), ("x-fixture", "openai/chat_basic"), ("x-gzip", "1"), ("x-raw-body", answer)],
        &request,
    );
    assert_eq!(r.status, 200);
    assert!(r.complete, "the client read a whole response");
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.text()));
    assert_eq!(v["choices"][0]["message"]["content"], "Write to [REDACTED:EMAIL] about the shipping report.");
    assert_eq!(v["usage"]["total_tokens"], 21, "every byte after the value arrived");
    // a stream whose address is written across events, and whose last event holds nothing
    let events = [
        r#"{"id":"c2","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"Write to "}}]}"#,
        r#"{"id":"c2","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"jane.doe@exa"}}]}"#,
        r#"{"id":"c2","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"mple.org today"}}]}"#,
        r#"{"id":"c2","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
    ];
    let mut sse: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    sse.push_str("data: [DONE]\n\n");
    let r = envoy.send(
        "POST",
        "/v1/chat/completions",
        &[("host", "api.openai.com"), ("content-type", "application/json"), ("accept-encoding", "gzip"), ("x-fixture", "openai/chat_stream"), ("x-gzip", "1"), ("x-content-type", "text/event-stream"), ("x-raw-body-b64", &base64::encode(sse.as_bytes()))],
        &chat("stream it"),
    );
    assert_eq!(r.status, 200);
    assert!(r.complete);
    let text = r.text();
    assert!(text.ends_with("data: [DONE]\n\n"), "the stream arrived to its end: {text}");
    let content: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .filter_map(|v| v["choices"][0]["delta"]["content"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(content, "Write to [REDACTED:EMAIL] today");
    assert!(envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_guard_response_trailers", &[("result", "released")]) == 2.0), "{}", envoy.admin("/stats/prometheus").lines().filter(|l| l.contains("trailers")).collect::<Vec<_>>().join("\n"));
    assert_eq!(envoy.prom("genai_tap_guard_response_trailers", &[("result", "reset")]), 0.0);
    assert!(!envoy.log().contains("panic"));
}

/// HTTP/2 straight to the guarded listener, with a declared `content-length` and request
/// trailers: the guard knows the body is whole at its last byte, so what it held leaves with
/// the last DATA frame (redacted, the declared length kept) and the trailers change nothing.
/// A secret in the same shape of call is still blocked before the upstream sees it.
#[test]
fn e2e_h2_a_declared_length_with_trailers_is_released_redacted_and_a_secret_still_blocked() {
    use genai_tap_testkit::h2::{call, H2Call};
    let (upstream, _sink, envoy) = guarded(r#","pii":{"mode":"redact"},"secrets":{"mode":"block"}"#);
    let body = chat("mail it to jane@example.org before noon");
    let length = body.len().to_string();
    let headers = [("host", "api.openai.com"), ("content-type", "application/json"), ("content-length", length.as_str())];
    let r = call(envoy.listener_port, &H2Call { method: "POST", path: "/v1/chat/completions", headers: &headers, body: &body, trailers: &[("x-checksum", "abc")], ..Default::default() });
    assert_eq!(r.status, 200, "{:?} {}", r.error, String::from_utf8_lossy(&r.body));
    let got = upstream.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body.len(), body.len(), "the declared length is kept");
    let v: serde_json::Value = serde_json::from_slice(&got[0].body).expect("the upstream got valid JSON");
    let content = v["messages"][0]["content"].as_str().unwrap();
    assert!(!content.contains("jane@example.org"), "{content}");
    assert!(content.starts_with("mail it to ") && content.ends_with(" before noon"), "{content}");
    assert!(envoy.stat("http.egress.downstream_cx_http2_total") >= 1, "the call came over HTTP/2");
    assert!(envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_guard_request_trailers", &[("result", "released")]) == 1.0));

    let secret = chat("deploy with AKIAZ7QW4XJ2LBNM5K3P today");
    let length = secret.len().to_string();
    let headers = [("host", "api.openai.com"), ("content-type", "application/json"), ("content-length", length.as_str())];
    let r = call(envoy.listener_port, &H2Call { method: "POST", path: "/v1/chat/completions", headers: &headers, body: &secret, trailers: &[("x-checksum", "abc")], ..Default::default() });
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("a JSON local reply");
    assert_eq!(v["error"]["rule"], "aws-access-key-id");
    for req in upstream.requests() {
        assert!(!contains(&req.body, b"AKIAZ7QW4XJ2LBNM5K3P"), "the secret never reached the upstream");
    }
}
