//! HTTP/2 on both sides of the real Envoy with the built module: an h2c client (the testkit's
//! `h2` client, which sends RST_STREAM on demand) and a native h2c upstream (the recording
//! upstream served by the `h2` crate, no relay). What differs from HTTP/1.1 is tested here:
//! flow control on bodies of several MiB with the guard on, streams reset by the client
//! mid-request and mid-response, and response trailers.
// Test code: a failed unwrap or panic is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use genai_tap_testkit::envoy::{Envoy, EnvoyConfig};
use genai_tap_testkit::h2::{call, H2Call, H2Response};
use genai_tap_testkit::sink::{OtlpSink, SpanRecord};
use genai_tap_testkit::upstream::{synth_chat_stream, Fixture, Upstream, SYNTH_EMAIL};
use std::time::Duration;

const HOST: (&str, &str) = ("host", "api.openai.com");
const JSON: (&str, &str) = ("content-type", "application/json");
const CHAT: &str = "/v1/chat/completions";

struct Rig {
    upstream: Upstream,
    sink: OtlpSink,
    envoy: Envoy,
}

/// Envoy speaking h2c to a native h2c upstream, with PII redacted both ways and secrets
/// blocked, loaded as Istio renders it (no header hold, FAIL_OPEN).
fn rig() -> Rig {
    rig_with(r#","pii":{"mode":"redact"},"secrets":{"mode":"block"}"#)
}

fn rig_with(guard: &str) -> Rig {
    let upstream = Upstream::start_h2(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let plugin = format!(r#"{{"collector":{{"cluster":"otel_collector","authority":"127.0.0.1:{}","flush_interval_ms":50}}{guard}}}"#, sink.port);
    let mut cfg = EnvoyConfig::new(upstream.port(), sink.port, &plugin);
    cfg.upstream_http2 = true;
    cfg.fail_open = true;
    let envoy = Envoy::start(&cfg).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));
    Rig { upstream, sink, envoy }
}

/// A chat request whose one message is about `n` bytes of numbered words, with `tail` at the end.
fn big_chat(n: usize, tail: &str) -> Vec<u8> {
    let mut s = String::with_capacity(n + tail.len());
    let mut i = 0u64;
    while s.len() < n {
        s.push_str(&format!("w{i} "));
        i += 1;
    }
    s.push_str(tail);
    serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": s}]}).to_string().into_bytes()
}

fn replace(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = hay.windows(from.len()).position(|w| w == from).expect("the needle is there");
    [&hay[..at], to, &hay[at + from.len()..]].concat()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// SSE events, each with its blank line.
fn events(body: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.windows(2).position(|w| w == b"\n\n") {
        out.push(&rest[..at + 2]);
        rest = &rest[at + 2..];
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

fn post(envoy: &Envoy, headers: &[(&str, &str)], body: &[u8]) -> H2Response {
    call(envoy.listener_port, &H2Call { method: "POST", path: CHAT, headers, body, ..Default::default() })
}

fn span_n(sink: &OtlpSink, n: usize) -> SpanRecord {
    let spans = sink.wait_for_spans(n, Duration::from_secs(15));
    assert!(spans.len() >= n, "{} spans, wanted {n}", spans.len());
    spans[n - 1].clone()
}

/// A 3.5 MiB request and a 4 MiB streamed response, each through 64 KiB windows with the
/// guard on: the upstream gets every request byte in order, with the one address redacted in
/// place (same length); the client gets every event in order, byte-identical except the one
/// that held the address, and the span reads the stream's usage at its end.
#[test]
fn e2e_h2_bodies_of_several_mib_arrive_whole_and_in_order_with_the_guard_on() {
    let rig = rig();
    let body = big_chat(3_500_000, &format!(" reach me at {SYNTH_EMAIL} thanks"));
    let len = body.len().to_string();
    let r = post(&rig.envoy, &[HOST, JSON, ("content-length", &len), ("x-fixture", "openai/chat_basic")], &body);
    assert_eq!(r.status, 200, "{:?}", r.error);
    assert!(r.complete);
    assert_eq!(r.body, Fixture::load("openai/chat_basic").unwrap().response_body());
    let got = rig.upstream.requests().pop().unwrap();
    assert_eq!(got.header("x-fixture"), Some("openai/chat_basic"));
    // a 20-byte address in a body of declared length: the placeholder padded to fit
    let expected = replace(&body, SYNTH_EMAIL.as_bytes(), b"[REDACTED:EMAIL****]");
    assert_eq!(got.body.len(), expected.len());
    assert!(got.body == expected, "the upstream got the body whole, in order, redacted in place");
    let s = span_n(&rig.sink, 1);
    assert_eq!(s.str("genai_tap.outcome"), Some("completed"));
    assert_eq!(s.str("gen_ai.request.model"), Some("gpt-4o-mini"));
    assert_eq!(s.int("http.response.status_code"), Some(200));

    // the stream: read only after a pause, so the windows on the way fill and Envoy has to wait
    let sent = synth_chat_stream(4 << 20);
    let want = events(&sent);
    let r = call(
        rig.envoy.listener_port,
        &H2Call {
            method: "POST",
            path: CHAT,
            headers: &[HOST, JSON, ("x-fixture", "openai/chat_stream_include_usage"), ("x-synth-chat-stream", &(4 << 20).to_string()), ("x-chunk-bytes", "65536")],
            body: br#"{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"go"}]}"#,
            read_delay: Duration::from_millis(500),
            ..Default::default()
        },
    );
    assert_eq!(r.status, 200, "{:?}", r.error);
    assert!(r.complete, "{:?}", r.error);
    assert!(r.data_frames > 64, "the body came in many frames: {}", r.data_frames);
    let got = events(&r.body);
    assert_eq!(got.len(), want.len(), "every event, none merged or lost");
    let mut changed = 0;
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        if g != w {
            changed += 1;
            assert!(contains(w, SYNTH_EMAIL.as_bytes()), "event {i} changed but held no address");
            assert!(!contains(g, SYNTH_EMAIL.as_bytes()) && contains(g, b"[REDACTED:EMAIL]"), "event {i}");
        }
    }
    assert_eq!(changed, 1, "only the event with the address changed");
    let s = span_n(&rig.sink, 2);
    assert_eq!(s.str("genai_tap.outcome"), Some("completed"));
    assert_eq!(s.attr("genai_tap.parsed"), Some(&serde_json::json!(true)), "{:?}", s.str("genai_tap.not_parsed.reason"));
    assert_eq!(s.int("gen_ai.usage.input_tokens"), Some(11));
    assert_eq!(s.int("gen_ai.usage.output_tokens"), Some(want.len() as i64 - 4), "one token per content event");
    let state = s.int("genai_tap.stream.state_bytes").unwrap();
    assert!(state < 256 * 1024, "a 4 MiB stream held {state} bytes");
}

/// Clients that reset their stream (RST_STREAM CANCEL) mid-response and mid-request, on a
/// connection that stays up: no panic (later calls are answered), the span says `cancelled`,
/// `llm_calls{outcome="cancelled"}` counts each, nothing stays in flight, and the VM's memory
/// does not grow from one round of resets to the next.
#[test]
fn e2e_h2_streams_reset_by_the_client_are_cancelled_calls_and_leak_nothing() {
    let rig = rig();
    let vm_memory = |e: &Envoy| e.stat("wasmcustom.genai_tap.vm_memory_bytes");
    let stream_req = br#"{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"go"}]}"#;
    let big = big_chat(2_000_000, " end");
    let mut spans = 0;
    let mut memory = Vec::new();
    const ROUND: usize = 4;
    for _round in 0..2 {
        for _ in 0..ROUND {
            // mid-response: 2 MiB coming in 64 KiB pieces, 20 ms apart; the client leaves after 200 KB
            let r = call(
                rig.envoy.listener_port,
                &H2Call {
                    method: "POST",
                    path: CHAT,
                    headers: &[HOST, JSON, ("x-synth-chat-stream", "2097152"), ("x-chunk-bytes", "65536"), ("x-chunk-delay-ms", "20")],
                    body: stream_req,
                    reset_response_after: Some(200_000),
                    ..Default::default()
                },
            );
            assert_eq!(r.status, 200, "{:?}", r.error);
            assert!(!r.complete && r.body.len() >= 200_000 && r.body.len() < 2_000_000, "{} bytes", r.body.len());
            spans += 1;
            let s = span_n(&rig.sink, spans);
            assert_eq!(s.str("genai_tap.outcome"), Some("cancelled"), "mid-response");
            assert_eq!(s.str("error.type"), Some("cancelled"));
            assert_eq!(s.int("http.response.status_code"), Some(200));
            let state = s.int("genai_tap.stream.state_bytes").unwrap_or(0);
            assert!(state < 256 * 1024, "a reset stream held {state} bytes");

            // mid-request: 400 KB of a 2 MB body, then the reset
            let r = call(
                rig.envoy.listener_port,
                &H2Call { method: "POST", path: CHAT, headers: &[HOST, JSON], body: &big, reset_request_after: Some(400_000), ..Default::default() },
            );
            assert!(!r.complete, "a reset request gets no whole answer");
            spans += 1;
            let s = span_n(&rig.sink, spans);
            assert_eq!(s.str("genai_tap.outcome"), Some("cancelled"), "mid-request");
            assert!(s.int("http.response.status_code").is_none());
            let state = s.int("genai_tap.stream.state_bytes").unwrap_or(0);
            assert!(state < 256 * 1024, "a reset request held {state} bytes");
        }
        assert!(rig.envoy.wait_until(Duration::from_secs(5), |e| e.stat("wasmcustom.genai_tap.calls_in_flight") == 0), "calls left in flight");
        memory.push(vm_memory(&rig.envoy));
    }
    assert!(rig.envoy.wait_until(Duration::from_secs(5), |e| e.prom("genai_tap_llm_calls", &[("outcome", "cancelled")]) == (4 * ROUND) as f64));
    assert!(memory[0] > 0, "vm_memory_bytes is reported");
    assert!(memory[1] <= memory[0] + 1024 * 1024, "vm_memory_bytes grew from {} to {} over the second round", memory[0], memory[1]);
    // the upstream saw the cut request's clean prefix, never more than was sent
    let cut = rig.upstream.requests().into_iter().filter(|r| r.body.len() > 100_000).count();
    assert_eq!(cut, 0, "a request reset mid-body is never completed to the upstream");
    // nothing panicked: the VM still answers and observes
    let r = post(&rig.envoy, &[HOST, JSON, ("x-fixture", "openai/chat_basic")], &Fixture::load("openai/chat_basic").unwrap().request_body());
    assert_eq!(r.status, 200);
    assert_eq!(span_n(&rig.sink, spans + 1).str("genai_tap.outcome"), Some("completed"));
    assert!(!rig.envoy.log().contains("panicked"), "{}", rig.envoy.log());
}

/// gRPC-style trailers from an HTTP/2 upstream reach the client intact, after a plain and a
/// streamed body, and the calls are read as whole (the trailers end them, not END_STREAM on data).
/// The guard redacts requests only here: a response the guard rewrites loses the bytes it
/// still holds when trailers, not END_STREAM, end the body (proxy-wasm cannot add body bytes in
/// the trailers callback); see docs/guard.md.
#[test]
fn e2e_h2_upstream_trailers_pass_through_intact() {
    let rig = rig_with(r#","pii":{"request":"redact"},"secrets":{"request":"block"}"#);
    for (i, name) in ["openai/chat_basic", "openai/chat_stream_include_usage"].iter().enumerate() {
        let fx = Fixture::load(name).unwrap();
        let r = post(
            &rig.envoy,
            &[HOST, JSON, ("x-fixture", name), ("x-chunk-bytes", "97"), ("x-trailers", "grpc-status=0,grpc-message=all%20good,x-usage-check=7f3a")],
            &fx.request_body(),
        );
        assert_eq!(r.status, 200, "{name}: {:?}", r.error);
        assert!(r.complete, "{name}: {:?}", r.error);
        assert_eq!(r.body, fx.response_body(), "{name}");
        assert_eq!(r.trailer("grpc-status"), Some("0"), "{name}: {:?}", r.trailers);
        assert_eq!(r.trailer("grpc-message"), Some("all%20good"), "{name}");
        assert_eq!(r.trailer("x-usage-check"), Some("7f3a"), "{name}");
        let s = span_n(&rig.sink, i + 1);
        let e = fx.expected();
        assert_eq!(s.str("genai_tap.outcome"), Some("completed"), "{name}");
        assert_eq!(s.int("gen_ai.usage.output_tokens"), e["output_tokens"].as_i64(), "{name}");
        assert_eq!(s.str("gen_ai.response.model"), e["response_model"].as_str(), "{name}");
    }
}
