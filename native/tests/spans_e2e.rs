//! The dynamic module in the real Envoy 1.40: it loads, observes LLM calls without changing
//! them, and its spans reach an OTLP sink (real protobuf decoding) through the configuration's
//! HTTP callout. Needs `make native` (dist/libgenai_tap.so) and `make envoy`.

use genai_tap_testkit::envoy::{repo_root, Envoy, EnvoyConfig};
use genai_tap_testkit::sink::OtlpSink;
use genai_tap_testkit::upstream::{Fixture, Upstream};
use std::time::Duration;

fn start(plugin: &str) -> (Upstream, OtlpSink, Envoy) {
    let lib = repo_root().join("dist/libgenai_tap.so");
    assert!(lib.exists(), "{} is missing: run `make native`", lib.display());
    // Envoy looks up lib<name>.so here; the child inherits it
    std::env::set_var("ENVOY_DYNAMIC_MODULES_SEARCH_PATH", repo_root().join("dist"));
    let upstream = Upstream::start(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let mut cfg = EnvoyConfig::new(upstream.port(), sink.port, &plugin.replace("{collector}", &sink.port.to_string()));
    cfg.dynamic_module = Some("genai_tap".into());
    let envoy = Envoy::start(&cfg).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));
    (upstream, sink, envoy)
}

const OBSERVE: &str = r#"{"collector":{"cluster":"otel_collector","authority":"127.0.0.1:{collector}","flush_interval_ms":50},"pii":{"mode":"off"},"secrets":{"mode":"off"}}"#;

fn send(envoy: &Envoy, name: &str) -> (Fixture, genai_tap_testkit::http::Response) {
    let fx = Fixture::load(name).unwrap();
    let r = envoy.send("POST", &fx.request_path(), &[("host", &fx.upstream_host()), ("content-type", "application/json"), ("x-fixture", name)], &fx.request_body());
    (fx, r)
}

#[test]
fn native_module_loads_and_exports_observed_llm_calls_as_otlp_protobuf() {
    let (_u, sink, envoy) = start(OBSERVE);
    let (fx, r) = send(&envoy, "openai/chat_basic");
    // the client gets the upstream's answer, byte for byte
    assert_eq!(r.status, 200);
    assert_eq!(r.body, fx.response_body());
    let spans = sink.wait_for_spans(1, Duration::from_secs(10));
    assert!(sink.decode_errors().is_empty(), "{:?}", sink.decode_errors());
    assert_eq!(spans.len(), 1, "one call, one span: {spans:?}");
    let s = &spans[0];
    let resp: serde_json::Value = serde_json::from_slice(&fx.response_body()).unwrap();
    let req: serde_json::Value = serde_json::from_slice(&fx.request_body()).unwrap();
    // the span is named after the model asked for; the answer's model is an attribute
    assert_eq!(s.name, format!("chat {}", req["model"].as_str().unwrap()));
    assert_eq!(s.str("gen_ai.response.model"), resp["model"].as_str());
    assert_eq!(s.str("gen_ai.provider.name"), Some("openai"));
    assert_eq!(s.int("gen_ai.usage.input_tokens"), resp["usage"]["prompt_tokens"].as_i64());
    assert_eq!(s.int("gen_ai.usage.output_tokens"), resp["usage"]["completion_tokens"].as_i64());
    assert_eq!(s.trace_id.len(), 32);
    assert_ne!(s.trace_id, "0".repeat(32));
    // the resource says which host produced it
    assert_eq!(sink.received()[0].content_type, "application/x-protobuf");
}

#[test]
fn native_module_reads_a_stream_and_ignores_traffic_that_is_not_an_llm_call() {
    let (_u, sink, envoy) = start(OBSERVE);
    // a path no provider serves: passes through, no span
    let r = envoy.send("GET", "/healthz", &[("host", "api.openai.com")], b"");
    assert!(r.status < 500, "passthrough answered {}", r.status);
    let (fx, r) = send(&envoy, "openai/chat_stream_include_usage");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, fx.response_body());
    let spans = sink.wait_for_spans(1, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    let spans = if sink.spans().len() > spans.len() { sink.spans() } else { spans };
    assert_eq!(spans.len(), 1, "only the LLM call is observed: {spans:?}");
    let s = &spans[0];
    assert!(s.name.starts_with("chat "), "{}", s.name);
    assert!(s.int("gen_ai.usage.output_tokens").unwrap_or(0) > 0, "usage read from the SSE stream: {s:?}");
}
