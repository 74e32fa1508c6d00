//! Export through the real Envoy: OTLP/JSON decoded by the real decoder, content by reference,
//! and a collector that is slow, failing or rate-limiting while traffic stays unaffected and
//! every span is accounted for.

use genai_tap_testkit::envoy::{Envoy, EnvoyConfig};
use genai_tap_testkit::sink::OtlpSink;
use genai_tap_testkit::upstream::{Fixture, Upstream};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

fn start(collector_extra: &str, extra: &str) -> (Upstream, OtlpSink, Envoy) {
    let upstream = Upstream::start(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let cfg = format!(
        r#"{{"collector":{{"cluster":"otel_collector","authority":"127.0.0.1:{}","flush_interval_ms":50{collector_extra}}}{extra}}}"#,
        sink.port
    );
    let envoy = Envoy::start(&EnvoyConfig::new(upstream.port(), sink.port, &cfg)).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));
    (upstream, sink, envoy)
}

fn send(envoy: &Envoy, name: &str) -> genai_tap_testkit::http::Response {
    let fx = Fixture::load(name).unwrap();
    envoy.send("POST", &fx.request_path(), &[("host", &fx.upstream_host()), ("content-type", "application/json"), ("x-fixture", name)], &fx.request_body())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn e2e_otlp_json_is_valid_for_the_real_decoder_and_matches_protobuf() {
    let (_u, sink, envoy) = start(r#","encoding":"json""#, "");
    send(&envoy, "anthropic/messages_tool_use_stream");
    let spans = sink.wait_for_spans(1, Duration::from_secs(10));
    assert!(sink.decode_errors().is_empty(), "{:?}", sink.decode_errors());
    let req = &sink.received()[0];
    assert_eq!(req.content_type, "application/json");
    let raw: serde_json::Value = serde_json::from_slice(&req.raw).unwrap();
    let span = &raw["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    // the OTLP/JSON rules: hex ids, integer enums, 64-bit integers as strings
    assert_eq!(span["traceId"].as_str().unwrap().len(), 32);
    assert!(span["traceId"].as_str().unwrap().bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(span["kind"], 3);
    assert!(span["startTimeUnixNano"].is_string());
    let s = &spans[0];
    assert_eq!(s.name, "chat claude-3-5-sonnet-20240620");
    assert_eq!(s.int("gen_ai.usage.input_tokens"), Some(506));
    assert_eq!(s.attr("genai_tap.tool_calls.names"), Some(&serde_json::json!(["get_weather", "get_time"])));
    assert_eq!(s.trace_id, span["traceId"].as_str().unwrap());
}

#[test]
fn e2e_content_is_kept_by_reference_as_salted_digests() {
    let (_u, sink, envoy) = start("", r#","content":{"hash_salt":"pepper-2026","retention_bucket":"content-30d"}"#);
    let fx = Fixture::load("openai/chat_stream_include_usage").unwrap();
    send(&envoy, "openai/chat_stream_include_usage");
    let s = &sink.wait_for_spans(1, Duration::from_secs(10))[0];
    let digest = |b: &[u8]| hex(&Sha256::new().chain_update(b"pepper-2026").chain_update(b).finalize());
    assert_eq!(s.str("genai_tap.prompt.sha256"), Some(digest(&fx.request_body()).as_str()));
    assert_eq!(s.str("genai_tap.completion.sha256"), Some(digest(&fx.response_body()).as_str()));
    assert_eq!(s.str("genai_tap.content.retention_bucket"), Some("content-30d"));
    // no salt, no digests
    let (_u, sink, envoy) = start("", "");
    send(&envoy, "openai/chat_basic");
    let s = &sink.wait_for_spans(1, Duration::from_secs(10))[0];
    assert_eq!(s.attr("genai_tap.prompt.sha256"), None);
    assert_eq!(s.str("genai_tap.content.retention_bucket"), Some("traces-7d"));
}

/// Sends `n` calls, returns the slowest.
fn traffic(envoy: &Envoy, n: usize) -> Duration {
    let mut worst = Duration::ZERO;
    for _ in 0..n {
        let t = Instant::now();
        let r = send(envoy, "openai/chat_basic");
        assert_eq!(r.status, 200, "traffic is never failed by telemetry");
        worst = worst.max(t.elapsed());
    }
    worst
}

fn accounted(envoy: &Envoy) -> f64 {
    envoy.prom("genai_tap_export_spans_exported", &[]) + envoy.prom("genai_tap_export_spans_dropped", &[])
}

#[test]
fn e2e_a_collector_answering_500_is_not_retried_and_spans_are_dropped_as_rejected() {
    let (_u, sink, envoy) = start(r#","max_retries":3"#, "");
    sink.respond(500, None);
    traffic(&envoy, 4);
    assert!(envoy.wait_until(Duration::from_secs(5), |e| accounted(e) == 4.0), "{}", envoy.admin("/stats/prometheus"));
    assert_eq!(envoy.prom("genai_tap_export_spans_dropped", &[("reason", "rejected")]), 4.0);
    assert_eq!(envoy.prom("genai_tap_export_requests", &[("result", "retry")]), 0.0, "500 is never retried");
}

#[test]
fn e2e_a_rate_limiting_collector_is_retried_after_its_retry_after() {
    let (_u, sink, envoy) = start(r#","max_retries":5,"initial_backoff_ms":10,"max_backoff_ms":2000"#, "");
    sink.respond(429, Some(1));
    traffic(&envoy, 3);
    assert!(envoy.wait_until(Duration::from_secs(5), |e| e.prom("genai_tap_export_requests", &[("result", "retry")]) >= 1.0));
    let asked = sink.received().len();
    // Retry-After: 1 s holds the retry back, well past the 10 ms backoff
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sink.received().len(), asked, "no retry before Retry-After");
    sink.respond(200, None);
    assert!(envoy.wait_until(Duration::from_secs(8), |e| e.prom("genai_tap_export_spans_exported", &[]) == 3.0), "{}", envoy.admin("/stats/prometheus"));
    assert_eq!(sink.spans().len(), 3, "each span exported once");
}

#[test]
fn e2e_a_slow_collector_never_slows_traffic() {
    let (_u, sink, envoy) = start(r#","timeout_ms":300,"max_retries":1,"initial_backoff_ms":10,"max_backoff_ms":20"#, "");
    let baseline = traffic(&envoy, 5);
    sink.slow(Duration::from_millis(2000));
    let slowest = traffic(&envoy, 10);
    assert!(slowest < Duration::from_millis(250), "slowest call {slowest:?} (baseline {baseline:?}) with the collector hanging");
    assert!(envoy.wait_until(Duration::from_secs(10), |e| accounted(e) == 15.0), "{}", envoy.admin("/stats/prometheus"));
    assert!(envoy.prom("genai_tap_export_spans_dropped", &[("reason", "retries_exhausted")]) >= 1.0);
}
