//! Export through the real Envoy: OTLP/JSON decoded by the real decoder, content by reference,
//! and a collector that is slow, failing or rate-limiting while traffic stays unaffected and
//! every span is accounted for.
// Test code: a failed unwrap or panic is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use genai_tap_testkit::envoy::{loopback_cluster, Envoy, EnvoyConfig};
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

#[test]
fn e2e_spec_gap_candidates_and_captured_content_leave_as_linked_otlp_logs() {
    let upstream = Upstream::start(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let bucket = OtlpSink::start(0).unwrap();
    let cfg = format!(
        r#"{{"collector":{{"cluster":"otel_collector","authority":"127.0.0.1:{sink}","flush_interval_ms":50}},
            "content":{{"capture":{{"enabled":true,"cluster":"capture","authority":"127.0.0.1:{cap}","bucket":"content-90d","sample_rate":0.0}}}}}}"#,
        sink = sink.port,
        cap = bucket.port
    );
    let mut ec = EnvoyConfig::new(upstream.port(), sink.port, &cfg);
    ec.extra_clusters = loopback_cluster("capture", bucket.port);
    let envoy = Envoy::start(&ec).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));
    // sampled out (rate 0) and completed: no records
    send(&envoy, "openai/chat_basic");
    // an error: a spec-gap candidate, and captured whatever the rate
    let fx = Fixture::load("openai/chat_error_404_unknown_model").unwrap();
    let body = String::from_utf8(fx.request_body()).unwrap().replace("\"messages\"", "\"user\":\"bob@example.com\",\"messages\"");
    envoy.send("POST", "/v1/chat/completions", &[("host", "api.openai.com"), ("x-fixture", "openai/chat_error_404_unknown_model"), ("x-agent-spec-version", "spec-9")], body.as_bytes());
    let spans = sink.wait_for_spans(2, Duration::from_secs(10));
    let logs = sink.wait_for_logs(1, Duration::from_secs(10));
    assert_eq!(logs.len(), 1, "{logs:#?}");
    let gap = &logs[0];
    assert_eq!(gap.event_name, "genai_tap.spec_gap.candidate");
    assert_eq!(gap.attributes.get("genai_tap.spec_gap.kind").and_then(|v| v.as_str()), Some("errored"));
    assert_eq!(gap.attributes.get("genai_tap.spec_gap.reason").and_then(|v| v.as_str()), Some("model_not_found"));
    assert_eq!(gap.attributes.get("genai_tap.spec.version").and_then(|v| v.as_str()), Some("spec-9"));
    assert_eq!((gap.trace_id.as_str(), gap.span_id.as_str()), (spans[1].trace_id.as_str(), spans[1].span_id.as_str()), "linked to its span");
    let content = bucket.wait_for_logs(2, Duration::from_secs(10));
    assert_eq!(content.len(), 2, "prompt and completion of the errored call only");
    let prompt = content.iter().find(|l| l.event_name == "genai_tap.content.prompt").unwrap();
    assert!(prompt.body.contains("[REDACTED:EMAIL]") && !prompt.body.contains("bob@example.com"), "{}", prompt.body);
    assert_eq!(prompt.attributes.get("genai_tap.content.retention_bucket").and_then(|v| v.as_str()), Some("content-90d"));
    assert_eq!(prompt.span_id, spans[1].span_id);
    let completion = content.iter().find(|l| l.event_name == "genai_tap.content.completion").unwrap();
    assert!(completion.body.contains("model_not_found"));
    assert!(envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_export_logs_exported", &[]) == 3.0));
    // the traces collector never sees content
    for raw in sink.received() {
        assert!(!raw.raw.windows(15).any(|w| w == b"bob@example.com"));
    }
}

#[test]
fn e2e_gzip_export_is_decoded_by_the_collector() {
    let (_u, sink, envoy) = start(r#","compression":"gzip""#, "");
    send(&envoy, "gemini/generate_content_tool");
    let spans = sink.wait_for_spans(1, Duration::from_secs(10));
    assert!(sink.decode_errors().is_empty(), "{:?}", sink.decode_errors());
    let req = &sink.received()[0];
    assert_eq!(req.content_encoding, "gzip");
    assert_eq!(&req.raw[..2], &[0x1f, 0x8b]);
    assert_eq!(spans[0].name, "generate_content gemini-2.0-flash");
    assert_eq!(spans[0].int("gen_ai.usage.input_tokens"), Some(63));
}
