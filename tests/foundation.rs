//! The foundation, end to end: the real Envoy 1.40 with the built module, the fixture upstream
//! and the OTLP sink on free loopback ports. Spans are checked after decoding the real OTLP
//! encoding. Needs `make build envoy` (the Makefile's `test` target does both).
// Test code: a failed unwrap or panic is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use genai_tap_testkit::envoy::{Envoy, EnvoyConfig};
use genai_tap_testkit::sink::{OtlpSink, SpanRecord};
use genai_tap_testkit::upstream::{Fixture, Upstream};
use std::time::Duration;

struct Rig {
    upstream: Upstream,
    sink: OtlpSink,
    envoy: Envoy,
}

fn rig_with(plugin_config: impl FnOnce(u16) -> String) -> Rig {
    let upstream = Upstream::start(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let cfg = EnvoyConfig::new(upstream.port(), sink.port, &plugin_config(sink.port));
    let envoy = Envoy::start(&cfg).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));
    Rig { upstream, sink, envoy }
}

fn rig() -> Rig {
    rig_with(EnvoyConfig::default_plugin_config)
}

fn one_span(rig: &Rig) -> SpanRecord {
    let spans = rig.sink.wait_for_spans(1, Duration::from_secs(10));
    assert_eq!(spans.len(), 1, "spans: {spans:#?}\nenvoy log:\n{}", rig.envoy.log());
    assert!(rig.sink.decode_errors().is_empty(), "{:?}", rig.sink.decode_errors());
    spans.into_iter().next().unwrap()
}

#[test]
fn e2e_plain_chat_gives_one_span_with_the_recorded_tokens_and_passes_bytes_untouched() {
    let rig = rig();
    let fx = Fixture::load("openai/chat_basic").unwrap();
    let r = rig.envoy.send_fixture("openai/chat_basic", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, fx.response_body(), "the client gets exactly the upstream's bytes");
    let s = one_span(&rig);
    assert_eq!(s.name, "chat gpt-3.5-turbo");
    assert_eq!(s.kind, 3, "CLIENT");
    assert_eq!(s.str("gen_ai.provider.name"), Some("openai"));
    assert_eq!(s.str("gen_ai.operation.name"), Some("chat"));
    assert_eq!(s.str("gen_ai.request.model"), Some("gpt-3.5-turbo"));
    assert_eq!(s.str("gen_ai.response.model"), Some("gpt-3.5-turbo-0125"));
    assert_eq!(s.int("gen_ai.usage.input_tokens"), Some(15));
    assert_eq!(s.int("gen_ai.usage.output_tokens"), Some(19));
    assert_eq!(s.str("gen_ai.response.id"), Some("chatcmpl-908MD9ivBBLb6EaIjlqwFokntayQK"));
    assert_eq!(s.attr("gen_ai.response.finish_reasons"), Some(&serde_json::json!(["stop"])));
    assert_eq!(s.str("genai_tap.outcome"), Some("completed"));
    assert_eq!(s.str("server.address"), Some("api.openai.com"));
    assert!(s.end_time_unix_nano > s.start_time_unix_nano);
    assert_eq!(s.resource.get("service.name").and_then(|v| v.as_str()), Some("genai-tap"));
    // the stats moved, with labels
    let ok = rig.envoy.wait_until(Duration::from_secs(3), |e| {
        e.prom("genai_tap_llm_tokens", &[("provider", "openai"), ("model", "gpt-3.5-turbo-0125"), ("type", "input")]) == 15.0
    });
    assert!(ok, "{}", rig.envoy.admin("/stats/prometheus"));
    assert_eq!(rig.envoy.prom("genai_tap_llm_tokens", &[("type", "output")]), 19.0);
    assert_eq!(rig.envoy.prom("genai_tap_llm_calls", &[("outcome", "completed"), ("operation", "chat")]), 1.0);
    assert!(rig.envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_export_spans_exported", &[]) == 1.0));
}

#[test]
fn e2e_streamed_chat_is_counted_and_never_delayed() {
    let rig = rig();
    let fx = Fixture::load("openai/chat_stream_include_usage").unwrap();
    let r = rig.envoy.send_fixture("openai/chat_stream_include_usage", &[("x-chunk-delay-ms", "20")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, fx.response_body(), "stream bytes untouched");
    // events leave the upstream 20 ms apart: the first must reach the client long before the
    // last, so the filter neither buffers nor delays the stream
    let events = fx.response_body().windows(2).filter(|w| w == b"\n\n").count() as u32;
    assert!(events >= 3, "{events}");
    let first = r.first_byte.unwrap();
    let gap = Duration::from_millis(20) * (events - 2);
    assert!(first + gap < r.total, "first byte {first:?}, total {:?}, {events} events", r.total);
    let s = one_span(&rig);
    assert_eq!(s.name, "chat gpt-5-nano");
    assert_eq!(s.int("gen_ai.usage.input_tokens"), Some(12));
    assert_eq!(s.int("gen_ai.usage.output_tokens"), Some(100));
    assert_eq!(s.int("gen_ai.usage.reasoning.output_tokens"), Some(100));
    assert_eq!(s.int("gen_ai.usage.cache_read.input_tokens"), Some(0));
    assert_eq!(s.attr("gen_ai.request.stream"), Some(&serde_json::json!(true)));
    assert_eq!(s.attr("gen_ai.response.finish_reasons"), Some(&serde_json::json!(["length"])));
    let ttfc = s.attr("gen_ai.response.time_to_first_chunk").and_then(|v| v.as_f64()).unwrap();
    let duration = (s.end_time_unix_nano - s.start_time_unix_nano) as f64 / 1e9;
    assert!(ttfc > 0.0 && ttfc < duration, "ttfc {ttfc} within the call's {duration}s");
    // the filter reads a stream's chunks after forwarding them, but times each by its arrival:
    // the first came long before the end
    assert!(ttfc + gap.as_secs_f64() / 2.0 < duration, "ttfc {ttfc}s, duration {duration}s, events {gap:?} apart in all");
    let state = s.int("genai_tap.stream.state_bytes").unwrap();
    assert!(state > 0 && state < 64 * 1024, "{state}");
    // operators see the same number as a histogram, per provider
    let metric = "genai_tap_stream_state_bytes";
    let labels = [("provider", "openai")];
    assert!(rig.envoy.wait_until(Duration::from_secs(15), |e| e.prom(&format!("{metric}_count"), &labels) >= 1.0), "no {metric} sample");
    assert_eq!(rig.envoy.prom(&format!("{metric}_count"), &labels), 1.0);
    let sum = rig.envoy.prom(&format!("{metric}_sum"), &labels);
    assert!((sum - state as f64).abs() <= state as f64 * 0.1 + 1.0, "histogram sum {sum}, span {state}");
}

#[test]
fn e2e_streamed_tool_calls_are_reassembled() {
    let rig = rig();
    rig.envoy.send_fixture("openai/chat_stream_parallel_tool_calls", &[]);
    let s = one_span(&rig);
    assert_eq!(s.attr("genai_tap.tool_calls.names"), Some(&serde_json::json!(["get_current_weather", "get_current_weather"])));
    assert_eq!(s.str("genai_tap.step.type"), Some("tool_call"));
    assert_eq!(s.attr("gen_ai.response.finish_reasons"), Some(&serde_json::json!(["tool_calls"])));
}

#[test]
fn e2e_joins_the_agents_trace_and_injects_traceparent_upstream() {
    let rig = rig();
    let parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    rig.envoy.send_fixture("openai/chat_basic", &[("traceparent", parent), ("tracestate", "rojo=00f067aa0ba902b7")]);
    let s = one_span(&rig);
    assert_eq!(s.trace_id, "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(s.parent_span_id, "b7ad6b7169203331");
    assert_eq!(s.trace_state, "rojo=00f067aa0ba902b7");
    let seen = rig.upstream.requests();
    let sent = seen.last().unwrap().header("traceparent").unwrap().to_owned();
    assert_eq!(sent, format!("00-0af7651916cd43dd8448eb211c80319c-{}-01", s.span_id), "the upstream's parent is our span");

    // without a traceparent, a new trace starts and the upstream still joins it
    rig.envoy.send_fixture("openai/chat_basic", &[]);
    let spans = rig.sink.wait_for_spans(2, Duration::from_secs(10));
    let s2 = &spans[1];
    assert_eq!(s2.parent_span_id, "");
    assert_ne!(s2.trace_id, s.trace_id);
    assert_ne!(s2.trace_id, "00000000000000000000000000000000");
    let sent = rig.upstream.requests().last().unwrap().header("traceparent").unwrap().to_owned();
    assert_eq!(sent, format!("00-{}-{}-01", s2.trace_id, s2.span_id));
}

#[test]
fn e2e_a_malformed_body_passes_unchanged_and_is_counted() {
    let rig = rig();
    let raw = "{\"id\": \"chatcmpl-x\", \"choices\": [tru";
    let r = rig.envoy.send_fixture("openai/chat_basic", &[("x-raw-body", raw)]);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), raw);
    let s = one_span(&rig);
    assert_eq!(s.attr("genai_tap.parsed"), Some(&serde_json::json!(false)));
    assert_eq!(s.str("genai_tap.not_parsed.reason"), Some("malformed"));
    assert_eq!(s.attr("gen_ai.usage.input_tokens"), None);
    assert!(rig.envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_bodies_not_parsed", &[("reason", "malformed")]) == 1.0));
}

#[test]
fn e2e_a_truncated_stream_passes_what_came_and_is_marked() {
    let rig = rig();
    let fx = Fixture::load("openai/chat_stream_include_usage").unwrap();
    let r = rig.envoy.send_fixture("openai/chat_stream_include_usage", &[("x-reset-after-bytes", "700")]);
    assert!(!r.complete, "the client sees the cut");
    assert_eq!(&r.body[..], &fx.response_body()[..r.body.len()], "what arrived is unchanged");
    let s = one_span(&rig);
    assert_eq!(s.str("genai_tap.outcome"), Some("truncated"));
    assert_eq!(s.str("error.type"), Some("truncated"));
    assert_eq!(s.status_code, 2, "ERROR");
}

#[test]
fn e2e_a_body_over_the_limit_passes_untouched_and_is_counted() {
    let rig = rig_with(|port| {
        format!(r#"{{"max_body_bytes":2048,"collector":{{"cluster":"otel_collector","authority":"127.0.0.1:{port}","flush_interval_ms":100}}}}"#)
    });
    let pad = "x".repeat(4000);
    let body = format!(r#"{{"model":"gpt-3.5-turbo","messages":[{{"role":"user","content":"{pad}"}}]}}"#);
    let r = rig.envoy.send(
        "POST",
        "/echo/v1/chat/completions",
        &[("host", "api.openai.com"), ("content-type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), body, "the upstream got, and echoed, the body untouched");
    let s = one_span(&rig);
    assert_eq!(s.str("genai_tap.not_parsed.reason"), Some("too_large"));
    assert!(rig.envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_bodies_not_parsed", &[("reason", "too_large")]) == 1.0));
}

#[test]
fn e2e_a_gzip_response_is_passed_intact_and_counted_as_compressed() {
    let rig = rig();
    let r = rig.envoy.send_fixture("openai/chat_basic", &[("x-gzip", "1"), ("accept-encoding", "gzip")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(&r.body[..2], &[0x1f, 0x8b], "still gzip, not corrupted");
    // the filter narrowed accept-encoding for the upstream
    assert_eq!(rig.upstream.requests().last().unwrap().header("accept-encoding"), Some("identity"));
    let s = one_span(&rig);
    assert_eq!(s.str("genai_tap.not_parsed.reason"), Some("compressed"));
}

#[test]
fn e2e_a_collector_that_is_down_never_fails_traffic_and_every_span_is_accounted_for() {
    let rig = rig_with(|port| {
        format!(r#"{{"collector":{{"cluster":"otel_collector","authority":"127.0.0.1:{port}","flush_interval_ms":50,"max_retries":1,"initial_backoff_ms":20,"max_backoff_ms":50,"timeout_ms":500}}}}"#)
    });
    rig.sink.stop();
    for _ in 0..5 {
        let r = rig.envoy.send_fixture("openai/chat_basic", &[]);
        assert_eq!(r.status, 200, "traffic unaffected");
    }
    let accounted = rig.envoy.wait_until(Duration::from_secs(10), |e| {
        e.prom("genai_tap_export_spans_dropped", &[("reason", "retries_exhausted")]) + e.prom("genai_tap_export_spans_exported", &[]) == 5.0
    });
    assert!(accounted, "{}", rig.envoy.admin("/stats/prometheus"));
    assert!(rig.envoy.prom("genai_tap_export_requests", &[("result", "failed")]) >= 1.0);
    assert!(rig.envoy.prom("genai_tap_export_requests", &[("result", "retry")]) >= 1.0);
    // back up: new spans arrive
    rig.sink.restart().unwrap();
    rig.envoy.send_fixture("openai/chat_basic", &[]);
    assert_eq!(rig.sink.wait_for_spans(1, Duration::from_secs(10)).len(), 1);
}

#[test]
fn e2e_a_bad_configuration_is_refused_with_the_field_named() {
    let upstream = Upstream::start(0).unwrap();
    let cfg = EnvoyConfig::new(upstream.port(), 9, r#"{"collector":{"encoding":"xml"}}"#);
    let err = match Envoy::start(&cfg) {
        Ok(e) => panic!("envoy started with a bad configuration:\n{}", e.log()),
        Err(err) => err,
    };
    assert!(
        err.log.contains("invalid genai-tap configuration: collector.encoding: unknown variant, expected `protobuf` or `json`"),
        "{}",
        err.log
    );
    // the value written is never echoed into Envoy's log
    assert!(!err.log.contains("`xml`"), "{}", err.log);
}
