//! What a call costs in host calls, pinned: a proxy-wasm call is a round trip out of V8
//! (often with a second one back in to allocate the answer), so each one is CPU on every call.
//! These tests fail if a change adds a host call to an observed 2 KB chat call, a streamed
//! call or a call genai-tap does not observe. If a change removes one, lower the number.
//! (The unobserved call's test found one: `upgrade` was read for every path, not only for
//! paths ending in `/realtime`.)
//!
//! Not all host calls cost the same. Under callgrind in Envoy 1.40 (`bench/count.py`, 2 KB
//! chat, instructions per call): a clock read about 1,100; a header read by name about 10,500,
//! because Envoy re-enters the module to allocate every answer; the whole request header map
//! of an SDK (17 headers) about 13,800 for the host call, read in place (`header_block`; the
//! SDK's `get_map`, which copies each name and value, cost 29,700). So the request's map is
//! read once and serves both the "not mine" decision and the exchange.

use super::fake::{headers, FakeHost};
use super::root::Root;
use super::Action;
use std::collections::BTreeMap;

const MS: u64 = 1_000_000;

/// The bench's observe configuration (`bench/run.py`): the guard off on the wire.
const OBSERVE: &str = r#"{"collector":{"cluster":"otel","authority":"c","flush_interval_ms":1000},"pii":{"mode":"off"},"secrets":{"mode":"off"}}"#;

fn configured() -> (Root, FakeHost) {
    let mut host = FakeHost { plugin_configuration: OBSERVE.as_bytes().to_vec(), now: 1_000 * MS, memory: 1 << 20, ..FakeHost::default() };
    let mut root = Root::default();
    assert!(root.configure(&mut host), "{:?}", host.logs);
    // a first call defines the VM's metrics (once per VM, not per call): pay for it here
    one_chat_call(&root, &mut host);
    host.take_calls();
    host.request_map_reads.set(0);
    (root, host)
}

/// The headers an SDK sends, more than classification needs.
fn chat_headers() -> Vec<(String, String)> {
    headers(&[
        (":method", "POST"),
        (":authority", "api.openai.com"),
        (":path", "/v1/chat/completions"),
        (":scheme", "http"),
        ("content-type", "application/json"),
        ("user-agent", "OpenAI/Python 1.55.0"),
        ("accept", "application/json"),
        ("accept-encoding", "gzip, deflate"),
        ("x-request-id", "5f1e0c1a-1111-2222-3333-444455556666"),
        ("authorization", "Bearer sk-not-a-real-key"),
    ])
}

fn prompt(size: usize) -> Vec<u8> {
    let words = "Summarise the incident report and list follow-up actions for the platform team. ";
    let content: String = words.repeat(size / words.len() + 1).chars().take(size).collect();
    format!(r#"{{"model":"gpt-4o","messages":[{{"role":"user","content":"{content}"}}]}}"#).into_bytes()
}

const ANSWER: &[u8] = br#"{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-2024-08-06","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"Here is the summary."}}],"usage":{"prompt_tokens":420,"completion_tokens":5,"total_tokens":425}}"#;

/// One 2 KB chat call through every callback; returns the host calls of each callback.
fn one_chat_call(root: &Root, host: &mut FakeHost) -> Vec<(&'static str, BTreeMap<&'static str, usize>)> {
    let mut out = Vec::new();
    let mut stream = root.stream(host).expect("configured");
    out.push(("create", host.take_calls()));
    host.request_headers = chat_headers();
    assert_eq!(stream.on_request_headers(host, false), Action::Continue);
    out.push(("request_headers", host.take_calls()));
    let body = prompt(2048);
    host.request_chunk = body.clone();
    assert_eq!(stream.on_request_body(host, body.len(), true), Action::Continue);
    out.push(("request_body", host.take_calls()));
    host.now += 40 * MS;
    host.response_headers = headers(&[(":status", "200"), ("content-type", "application/json"), ("content-length", "300"), ("server", "nginx")]);
    assert_eq!(stream.on_response_headers(host, false), Action::Continue);
    out.push(("response_headers", host.take_calls()));
    host.response_chunk = ANSWER.to_vec();
    assert_eq!(stream.on_response_body(host, ANSWER.len(), true), Action::Continue);
    out.push(("response_body", host.take_calls()));
    stream.on_log(host);
    out.push(("log", host.take_calls()));
    out
}

fn total(per_callback: &[(&'static str, BTreeMap<&'static str, usize>)]) -> BTreeMap<&'static str, usize> {
    let mut sum = BTreeMap::new();
    for (_, calls) in per_callback {
        for (k, n) in calls {
            *sum.entry(*k).or_default() += n;
        }
    }
    sum
}

#[test]
fn an_observed_2k_chat_call_makes_twelve_host_calls() {
    let (mut root, mut host) = configured();
    let calls = one_chat_call(&root, &mut host);
    let by_callback: Vec<(&str, usize)> = calls.iter().map(|(cb, c)| (*cb, c.values().sum())).collect();
    assert_eq!(
        total(&calls),
        BTreeMap::from([("get_buffer", 2), ("get_current_time", 5), ("get_map", 2), ("record_metric", 1), ("set_map_value", 2)]),
        "{calls:?}"
    );
    assert_eq!(
        by_callback,
        vec![("create", 0), ("request_headers", 4), ("request_body", 2), ("response_headers", 2), ("response_body", 2), ("log", 2)],
        "{calls:?}"
    );
    // the one histogram sample (llm_duration_ms) is recorded at once; the span and the
    // counters reach Envoy on the tick (one dispatch, the counters summed)
    host.now += 2_000 * MS;
    root.tick(&mut host);
    let tick = host.take_calls();
    assert_eq!(tick.get("dispatch_http_call"), Some(&1), "{tick:?}");
}

#[test]
fn a_streamed_call_makes_two_host_calls_per_chunk() {
    let (root, mut host) = configured();
    let mut stream = root.stream(&mut host).expect("configured");
    host.request_headers = chat_headers();
    stream.on_request_headers(&mut host, false);
    let body = br#"{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#;
    host.request_chunk = body.to_vec();
    stream.on_request_body(&mut host, body.len(), true);
    host.response_headers = headers(&[(":status", "200"), ("content-type", "text/event-stream")]);
    stream.on_response_headers(&mut host, false);
    host.take_calls();
    let event = r#"data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"token "}}]}"#;
    let end = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":40}}\n\ndata: [DONE]\n\n";
    let chunks = 20;
    for i in 0..chunks {
        host.now += MS;
        host.response_chunk = format!("{event}\n\n{event}\n\n").into_bytes();
        if i == chunks - 1 {
            host.response_chunk.extend_from_slice(end.as_bytes());
        }
        let n = host.response_chunk.len();
        assert_eq!(stream.on_response_body(&mut host, n, false), Action::Continue);
    }
    // the usual end: an empty last callback
    stream.on_response_body(&mut host, 0, true);
    let body_calls = host.take_calls();
    // a clock read and one read of each chunk; the empty last one only reads the clock
    assert_eq!(body_calls, BTreeMap::from([("get_buffer", chunks), ("get_current_time", chunks + 1)]));
    stream.on_log(&mut host);
    let mut log = host.take_calls();
    // metrics are defined once per VM and label set (this model's first stream), not per call
    log.remove("define_metric");
    // the clock, and three histogram samples: duration, time to first chunk, stream state
    assert_eq!(log, BTreeMap::from([("get_current_time", 1), ("record_metric", 3)]));
}

#[test]
fn an_unobserved_call_makes_one_header_map_read_and_nothing_else() {
    let (root, mut host) = configured();
    let mut stream = root.stream(&mut host).expect("configured");
    host.request_headers = headers(&[(":method", "POST"), (":authority", "api.openai.com"), (":path", "/unobserved/v1/files"),
        ("content-type", "application/json"), ("user-agent", "curl/8"), ("accept", "*/*")]);
    assert_eq!(stream.on_request_headers(&mut host, false), Action::Continue);
    host.request_chunk = prompt(2048);
    assert_eq!(stream.on_request_body(&mut host, 2048, true), Action::Continue);
    host.response_headers = headers(&[(":status", "200"), ("content-type", "application/json")]);
    assert_eq!(stream.on_response_headers(&mut host, false), Action::Continue);
    host.response_chunk = ANSWER.to_vec();
    assert_eq!(stream.on_response_body(&mut host, ANSWER.len(), false), Action::Continue);
    assert_eq!(stream.on_response_body(&mut host, 0, true), Action::Continue);
    assert_eq!(stream.on_response_trailers(&mut host), Action::Continue);
    stream.on_log(&mut host);
    // the map, read once; the body, trailer and log callbacks return at once
    assert_eq!(host.take_calls(), BTreeMap::from([("get_map", 1)]));
    assert_eq!(host.request_map_reads.get(), 1);
}
