//! Every provider family, plain and streamed, through the real Envoy with the built module.
//! The upstream replays the recordings in small chunks so frames straddle callbacks; the span
//! decoded at the OTLP sink must carry INDEX.md's values, and the client must get the bytes
//! unchanged.
// Test code: a failed unwrap or panic is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use genai_tap_testkit::envoy::{Envoy, EnvoyConfig};
use genai_tap_testkit::sink::OtlpSink;
use genai_tap_testkit::upstream::{Fixture, Upstream};
use std::time::Duration;

/// (fixture, gen_ai.provider.name, operation, input includes cache tokens)
const CASES: &[(&str, &str, &str, bool)] = &[
    ("openai/chat_tools_request_tool_call", "openai", "chat", false),
    ("openai/responses_stream", "openai", "chat", false),
    ("openai/embeddings", "openai", "embeddings", false),
    ("azure/chat_content_filter_results", "azure.ai.openai", "chat", false),
    ("azure/chat_stream", "azure.ai.openai", "chat", false),
    ("anthropic/messages_cache_read", "anthropic", "chat", true),
    ("anthropic/messages_tool_use_stream", "anthropic", "chat", true),
    ("gemini/generate_content_tool", "gcp.gemini", "generate_content", false),
    ("gemini/stream_generate_content_usage", "gcp.gemini", "generate_content", false),
    ("vertexai/stream_generate_content", "gcp.vertex_ai", "generate_content", false),
    ("bedrock/converse_tool_use", "aws.bedrock", "chat", true),
    ("bedrock/converse_stream_tool_use_claude", "aws.bedrock", "chat", true),
    ("bedrock/invoke_claude_prompt_cache", "aws.bedrock", "chat", true),
    ("bedrock/invoke_stream_claude3", "aws.bedrock", "chat", true),
    ("ollama/chat", "ollama", "chat", false),
    ("ollama/generate_stream_ndjson", "ollama", "text_completion", false),
    ("openai_compatible/groq_chat_stream", "groq", "chat", false),
    ("openai_compatible/deepseek_chat_stream_usage", "deepseek", "chat", false),
    ("openai_compatible/mistral_chat", "mistral_ai", "chat", false),
    // issue #19: recordings built in tests/data/providers
    ("vertexai/anthropic_stream_raw_predict", "gcp.vertex_ai", "chat", true),
    ("vertexai/openai_chat_completions", "gcp.vertex_ai", "chat", false),
    ("azure_ai_inference/chat", "azure.ai.inference", "chat", false),
    ("cohere/chat_stream_tool_call", "cohere", "chat", false),
    ("cohere/chat", "cohere", "chat", false),
    ("cohere/chat_v1", "cohere", "chat", false),
    ("cohere/chat_v1_stream_tool_call", "cohere", "chat", false),
    ("cohere/embed_v2", "cohere", "embeddings", false),
    ("mistral/fim_completions", "mistral_ai", "text_completion", false),
    ("mistral/magistral_stream_content_parts", "mistral_ai", "chat", false),
    ("xai/chat_stream_reasoning", "x_ai", "chat", false),
    ("deepseek/reasoner", "deepseek", "chat", false),
    ("bedrock/invoke_cohere_command_r", "aws.bedrock", "chat", false),
    ("bedrock/invoke_stream_jamba", "aws.bedrock", "chat", false),
    ("bedrock/invoke_stream_deepseek_r1", "aws.bedrock", "text_completion", false),
    ("bedrock/invoke_mistral_text", "aws.bedrock", "text_completion", false),
    ("openai/responses_stream_builtin_tools", "openai", "chat", false),
    ("openai/responses_background_get", "openai", "chat", false),
];

#[test]
fn e2e_every_provider_family_plain_and_streamed() {
    let upstream = Upstream::start(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let cfg = EnvoyConfig::new(upstream.port(), sink.port, &EnvoyConfig::default_plugin_config(sink.port));
    let envoy = Envoy::start(&cfg).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));
    check_table(&envoy, &sink, &|m, p, h, b| envoy.send(m, p, h, b));
}

/// The same table over HTTP/2 on both sides of genai-tap's Envoy: the client speaks h2c
/// (curl, prior knowledge), and the upstream cluster speaks h2c to the recording upstream
/// served natively over HTTP/2 (the testkit's `h2` server), no relay in between.
#[test]
fn e2e_every_provider_family_over_h2c_downstream_and_upstream() {
    let upstream = Upstream::start_h2(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let mut cfg = EnvoyConfig::new(upstream.port(), sink.port, &EnvoyConfig::default_plugin_config(sink.port));
    cfg.upstream_http2 = true;
    let envoy = Envoy::start(&cfg).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));
    check_table(&envoy, &sink, &|m, p, h, b| {
        let r = envoy.send_h2c(m, p, h, b);
        assert_eq!(r.header("x-testkit-http-version"), Some("2"), "{p}: the client spoke HTTP/2");
        r
    });
    // every call reached the upstream over HTTP/2 (it speaks nothing else), with its :authority
    let seen = upstream.requests();
    assert_eq!(seen.len(), CASES.len());
    assert!(seen.iter().all(|r| r.header(":authority").is_some()));
    assert!(envoy.stat("cluster.upstream.upstream_cx_http2_total") >= 1, "{}", envoy.log());
}

type Send<'a> = dyn Fn(&str, &str, &[(&str, &str)], &[u8]) -> genai_tap_testkit::http::Response + 'a;

/// Every case of [`CASES`] through `envoy`, sent by `send`: the client gets the recording's
/// bytes unchanged, and the span decoded at the sink carries the recording's values.
fn check_table(envoy: &Envoy, sink: &OtlpSink, send: &Send<'_>) {
    for (i, (name, provider, operation, adds_cache)) in CASES.iter().enumerate() {
        let fx = Fixture::load(name).unwrap();
        let host = fx.upstream_host();
        let method = fx.json["request"]["method"].as_str().unwrap_or("POST");
        let r = send(
            method,
            &fx.request_path(),
            &[("host", &host), ("content-type", "application/json"), ("x-fixture", name), ("x-chunk-bytes", "61")],
            &fx.request_body(),
        );
        assert_eq!(r.status, fx.status(), "{name}");
        assert_eq!(r.body, fx.response_body(), "{name}: bytes unchanged");
        let spans = sink.wait_for_spans(i + 1, Duration::from_secs(10));
        assert_eq!(spans.len(), i + 1, "{name}: {}", envoy.log());
        let s = &spans[i];
        let e = fx.expected();
        assert_eq!(s.str("gen_ai.provider.name"), Some(*provider), "{name}");
        assert_eq!(s.str("gen_ai.operation.name"), Some(*operation), "{name}");
        assert_eq!(s.str("gen_ai.request.model"), e["request_model"].as_str(), "{name}");
        assert_eq!(s.str("gen_ai.response.model"), e["response_model"].as_str(), "{name}");
        let cache = e["cache_read_tokens"].as_i64().unwrap_or(0) + e["cache_write_tokens"].as_i64().unwrap_or(0);
        let input = e["input_tokens"].as_i64().map(|i| if *adds_cache { i + cache } else { i });
        assert_eq!(s.int("gen_ai.usage.input_tokens"), input, "{name}");
        assert_eq!(s.int("gen_ai.usage.output_tokens"), e["output_tokens"].as_i64(), "{name}");
        if let Some(f) = e["finish_reason"].as_str() {
            let reasons = s.attr("gen_ai.response.finish_reasons").and_then(|v| v.as_array()).cloned().unwrap_or_default();
            assert!(reasons.iter().any(|r| r == f), "{name}: {reasons:?}");
        }
        let tools: Vec<&str> = e["tool_calls"].as_array().unwrap().iter().filter_map(|t| t.as_str()).collect();
        let got: Vec<String> = s
            .attr("genai_tap.tool_calls.names")
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        assert_eq!(got, tools, "{name}");
        // each tool call's type, in `gen_ai.tool.type`'s values, beside its name
        let want_types: Vec<&str> = match e["tool_types"].as_array() {
            Some(types) => types.iter().filter_map(|t| t.as_str()).collect(),
            None => tools.iter().map(|_| "function").collect(),
        };
        let got_types: Vec<&str> = s.attr("genai_tap.tool_calls.types").and_then(|v| v.as_array()).map(|a| a.iter().filter_map(|x| x.as_str()).collect()).unwrap_or_default();
        assert_eq!(got_types, want_types, "{name}");
        assert_eq!(s.attr("genai_tap.parsed"), Some(&serde_json::json!(true)), "{name}");
        assert_eq!(s.str("genai_tap.outcome"), Some("completed"), "{name}");
    }
    assert!(sink.decode_errors().is_empty());
}

#[test]
fn e2e_provider_errors_are_errored_calls_with_the_providers_error_type() {
    let upstream = Upstream::start(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let cfg = EnvoyConfig::new(upstream.port(), sink.port, &EnvoyConfig::default_plugin_config(sink.port));
    let envoy = Envoy::start(&cfg).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));
    let fx = Fixture::load("openai/chat_error_404_unknown_model").unwrap();
    let r = envoy.send("POST", "/v1/chat/completions", &[("host", "api.openai.com"), ("x-fixture", "openai/chat_error_404_unknown_model")], &fx.request_body());
    assert_eq!(r.status, 404);
    let s = &sink.wait_for_spans(1, Duration::from_secs(10))[0];
    assert_eq!(s.str("genai_tap.outcome"), Some("errored"));
    assert_eq!(s.str("error.type"), Some("model_not_found"));
    assert_eq!(s.int("http.response.status_code"), Some(404));
    assert_eq!(s.status_code, 2);
    assert!(envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_llm_calls", &[("outcome", "errored")]) == 1.0));
}

/// The decompressor block of the example configs, after genai-tap: a gzip response reaches
/// genai-tap plain (read, priced), and the client gets the plain body.
#[test]
fn e2e_the_example_decompressor_lets_genai_tap_read_compressed_responses() {
    let demo = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/envoy/demo.yaml")).unwrap();
    let start = demo.find("          # BEGIN decompressor").expect("envoy/demo.yaml has the decompressor block");
    let end = demo.find("          # END decompressor").unwrap();
    let upstream = Upstream::start(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let mut cfg = EnvoyConfig::new(upstream.port(), sink.port, &EnvoyConfig::default_plugin_config(sink.port));
    cfg.extra_http_filters = demo[start..end].to_owned();
    let envoy = Envoy::start(&cfg).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));
    for (i, name) in ["openai/chat_basic", "anthropic/messages_stream"].iter().enumerate() {
        let fx = Fixture::load(name).unwrap();
        let r = envoy.send(
            "POST",
            &fx.request_path(),
            &[("host", &fx.upstream_host()), ("content-type", "application/json"), ("accept-encoding", "gzip"), ("x-fixture", name), ("x-gzip", "1")],
            &fx.request_body(),
        );
        assert_eq!(r.status, 200, "{name}");
        assert_eq!(r.body, fx.response_body(), "{name}: the client gets the plain body");
        assert!(r.header("content-encoding").is_none(), "{name}");
        let spans = sink.wait_for_spans(i + 1, Duration::from_secs(10));
        let s = &spans[i];
        let e = fx.expected();
        assert_eq!(s.attr("genai_tap.parsed"), Some(&serde_json::json!(true)), "{name}: {:?}", s.str("genai_tap.not_parsed.reason"));
        assert_eq!(s.str("gen_ai.response.model"), e["response_model"].as_str(), "{name}");
        assert_eq!(s.int("gen_ai.usage.output_tokens"), e["output_tokens"].as_i64(), "{name}");
    }
    // the upstream saw compressed bodies: the decompression happened in Envoy
    assert!(upstream.requests().iter().all(|r| r.header("x-gzip") == Some("1")));
}

/// Batch, file and realtime traffic passes untouched, with no span, and is counted by API.
#[test]
fn e2e_batch_and_file_traffic_is_counted_as_unobserved() {
    let upstream = Upstream::start(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let cfg = EnvoyConfig::new(upstream.port(), sink.port, &EnvoyConfig::default_plugin_config(sink.port));
    let envoy = Envoy::start(&cfg).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));
    let body = br#"{"input_file_id":"file-abc","endpoint":"/v1/chat/completions","completion_window":"24h"}"#;
    for (host, path) in [("api.openai.com", "/v1/batches"), ("api.openai.com", "/v1/files"), ("api.anthropic.com", "/v1/messages/batches")] {
        let r = envoy.send("POST", path, &[("host", host), ("content-type", "application/json")], body);
        assert!(r.status > 0, "{path}");
    }
    assert!(envoy.wait_until(Duration::from_secs(5), |e| e.prom("genai_tap_unobserved_calls", &[("api", "openai_batches")]) == 1.0));
    assert_eq!(envoy.prom("genai_tap_unobserved_calls", &[("api", "openai_files")]), 1.0);
    assert_eq!(envoy.prom("genai_tap_unobserved_calls", &[("api", "anthropic_message_batches")]), 1.0);
    // passed through untouched: the upstream got the body as sent, and no span was made
    let seen = upstream.requests();
    assert!(seen.iter().filter(|r| r.path == "/v1/batches").all(|r| r.body == body));
    std::thread::sleep(Duration::from_millis(300));
    assert!(sink.spans().is_empty());
}
