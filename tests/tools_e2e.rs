//! Tool egress in the real Envoy: MCP in both protocol generations (the recordings of the
//! official SDK, replayed), a plain HTTP tool with a refused call, and the link from a tool span
//! to the LLM span that asked for it.
// Test code: a failed unwrap or panic is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use genai_tap_testkit::base64;
use genai_tap_testkit::envoy::{Envoy, EnvoyConfig};
use genai_tap_testkit::sink::{OtlpSink, SpanRecord};
use genai_tap_testkit::upstream::{Fixture, Upstream};
use std::time::Duration;

fn start(extra: &str) -> (Upstream, OtlpSink, Envoy) {
    let upstream = Upstream::start(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let cfg = format!(
        r#"{{"collector":{{"cluster":"otel_collector","authority":"127.0.0.1:{}","flush_interval_ms":50}},"secrets":{{"request":"observe"}}{extra}}}"#,
        sink.port
    );
    let envoy = Envoy::start(&EnvoyConfig::new(upstream.port(), sink.port, &cfg)).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));
    (upstream, sink, envoy)
}

/// Replays a recording: each request through Envoy, the upstream answering the recorded body.
fn replay(envoy: &Envoy, file: &str) -> usize {
    let path = format!("{}/../shared/fixtures/mcp/{file}", env!("CARGO_MANIFEST_DIR"));
    let mut posts = 0;
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let ex: serde_json::Value = serde_json::from_str(line).unwrap();
        let method = ex["method"].as_str().unwrap();
        if method != "POST" {
            continue;
        }
        posts += 1;
        let resp_body = ex["response_body"].as_str().unwrap_or("");
        let ct = ex["response_headers"]["content-type"].as_str().unwrap_or("application/json");
        let status = ex["status"].to_string();
        let encoded = base64::encode(resp_body.as_bytes());
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), "tools.internal.example".into()),
            ("x-fixture".into(), "openai/chat_basic".into()),
            ("x-raw-body-b64".into(), encoded),
            ("x-content-type".into(), ct.into()),
            ("x-status".into(), status),
            ("x-agent-session-id".into(), "agent-session-1".into()),
        ];
        for (k, v) in ex["request_headers"].as_object().unwrap() {
            if matches!(k.as_str(), "mcp-session-id" | "mcp-protocol-version" | "content-type" | "accept") {
                headers.push((k.clone(), v.as_str().unwrap().into()));
            }
        }
        if let Some(sid) = ex["response_headers"]["mcp-session-id"].as_str() {
            headers.push(("x-mcp-session-id".into(), sid.into()));
        }
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = envoy.send("POST", "/mcp", &h, ex["request_body"].as_str().unwrap_or("").as_bytes());
        assert_eq!(r.status, ex["status"].as_u64().unwrap() as u16, "{}", r.text());
        assert_eq!(r.text(), resp_body, "bytes untouched");
    }
    posts
}

fn by_name<'a>(spans: &'a [SpanRecord], name: &str) -> &'a SpanRecord {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no span {name}: {:?}", spans.iter().map(|s| &s.name).collect::<Vec<_>>()))
}

#[test]
fn e2e_mcp_legacy_2025_11_25_one_span_per_json_rpc_request() {
    let (_u, sink, envoy) = start("");
    let posts = replay(&envoy, "wire_streamable_http_legacy_2025-11-25.jsonl");
    let spans = sink.wait_for_spans(posts, Duration::from_secs(10));
    assert_eq!(spans.len(), posts, "{:?}", spans.iter().map(|s| &s.name).collect::<Vec<_>>());
    let init = by_name(&spans, "initialize");
    assert_eq!(init.str("mcp.method.name"), Some("initialize"));
    assert_eq!(init.str("mcp.protocol.version"), Some("2025-11-25"));
    assert_eq!(init.str("jsonrpc.request.id"), Some("1"));
    let call = by_name(&spans, "tools/call get_weather");
    assert_eq!(call.str("gen_ai.operation.name"), Some("execute_tool"));
    assert_eq!(call.str("gen_ai.tool.name"), Some("get_weather"));
    assert_eq!(call.str("jsonrpc.request.id"), Some("3"));
    assert!(call.str("mcp.session.id").is_some_and(|s| s.len() > 8), "{:?}", call.attributes);
    assert_eq!(call.attr("genai_tap.tool.result.content_types"), Some(&serde_json::json!(["text"])));
    assert!(call.int("genai_tap.tool.result.bytes").unwrap() > 10);
    assert_eq!(call.str("genai_tap.tool.authorization"), Some("allowed"));
    assert_eq!(call.attr("gen_ai.tool.call.arguments"), None, "arguments only on request");
    assert_eq!(by_name(&spans, "notifications/initialized").str("jsonrpc.request.id"), None);
    // the guard saw the AWS example key in read_config's result, and no telemetry carries it
    for raw in sink.received() {
        assert!(!raw.raw.windows(20).any(|w| w == b"AKIAIOSFODNN7EXAMPLE"));
    }
    assert!(envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_tool_calls", &[("tool", "get_weather"), ("kind", "mcp"), ("authz", "allowed")]) == 1.0));
}

#[test]
fn e2e_mcp_modern_2026_07_28_stateless() {
    let (_u, sink, envoy) = start(r#","tools":{"capture_arguments":true}"#);
    let posts = replay(&envoy, "wire_streamable_http_modern_2026-07-28.jsonl");
    let spans = sink.wait_for_spans(posts, Duration::from_secs(10));
    let discover = by_name(&spans, "server/discover");
    assert_eq!(discover.str("mcp.protocol.version"), Some("2026-07-28"));
    assert_eq!(discover.str("mcp.session.id"), None, "stateless");
    let lookup = by_name(&spans, "tools/call lookup_customer");
    assert_eq!(lookup.str("mcp.protocol.version"), Some("2026-07-28"));
    let args = lookup.str("gen_ai.tool.call.arguments").unwrap();
    assert!(!args.contains('@') || args.contains("[REDACTED:"), "sanitised arguments: {args}");
}

#[test]
fn e2e_plain_http_tools_side_effects_refusals_and_the_link_to_the_llm_span() {
    let (_u, sink, envoy) = start(r#","routes":[{"host":"api.github.com","kind":"tool","tool":"github"},{"host":"inventory.internal","kind":"tool"}]"#);
    // the LLM asks for a tool...
    let fx = Fixture::load("openai/chat_tools_request_tool_call").unwrap();
    envoy.send("POST", "/v1/chat/completions", &[("host", "api.openai.com"), ("x-fixture", "openai/chat_tools_request_tool_call"), ("x-agent-session-id", "s-9")], &fx.request_body());
    // ...and the agent calls it: a tool route named after the function
    let body = br#"{"title":"bug","body":"from the agent"}"#;
    let ok = envoy.send("POST", "/repos/octo/hello/issues?token=abc", &[("host", "api.github.com"), ("content-type", "application/json"), ("x-fixture", "openai/chat_basic"), ("x-agent-session-id", "s-9")], body);
    assert_eq!(ok.status, 200);
    let refused = envoy.send("DELETE", "/items/42", &[("host", "inventory.internal"), ("x-fixture", "openai/chat_basic"), ("x-status", "403")], b"");
    assert_eq!(refused.status, 403);
    let spans = sink.wait_for_spans(3, Duration::from_secs(10));
    let gh = by_name(&spans, "execute_tool github");
    assert_eq!(gh.str("genai_tap.tool.side_effect"), Some("POST api.github.com /repos/{id}/{id}/issues"));
    assert_eq!(gh.str("genai_tap.tool.result.type"), Some("object"));
    assert!(gh.attr("genai_tap.tool.result.keys").unwrap().as_array().unwrap().iter().any(|k| k == "choices"));
    assert!(!serde_json::to_string(&gh.attributes).unwrap().contains("token=abc"), "query values are never recorded");
    let inv = by_name(&spans, "execute_tool inventory.internal");
    assert_eq!(inv.str("genai_tap.tool.authorization"), Some("refused"));
    assert_eq!(inv.str("genai_tap.tool.side_effect"), Some("DELETE inventory.internal /items/{id}"));
    assert_eq!(inv.str("error.type"), Some("403"));
    assert!(envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_tool_calls", &[("tool", "inventory.internal"), ("authz", "refused")]) == 1.0), "{}", envoy.admin("/stats/prometheus"));
}

#[test]
fn e2e_a_tool_span_links_to_the_llm_span_that_asked_for_it() {
    let (_u, sink, envoy) = start(r#","routes":[{"host":"weather.internal","kind":"tool","tool":"get_current_weather"}]"#);
    let fx = Fixture::load("openai/chat_tools_request_tool_call").unwrap();
    envoy.send("POST", "/v1/chat/completions", &[("host", "api.openai.com"), ("x-fixture", "openai/chat_tools_request_tool_call"), ("x-agent-session-id", "s-1")], &fx.request_body());
    envoy.send("GET", "/v1/weather?city=Boston", &[("host", "weather.internal"), ("x-fixture", "openai/chat_basic"), ("x-agent-session-id", "s-1")], b"");
    // another session's call of the same tool is not linked
    envoy.send("GET", "/v1/weather?city=Paris", &[("host", "weather.internal"), ("x-fixture", "openai/chat_basic"), ("x-agent-session-id", "s-2")], b"");
    let spans = sink.wait_for_spans(3, Duration::from_secs(10));
    let llm = spans.iter().find(|s| s.name.starts_with("chat ")).unwrap();
    let call_id = llm.attr("genai_tap.tool_calls.ids").unwrap()[0].as_str().unwrap().to_owned();
    let tools: Vec<&SpanRecord> = spans.iter().filter(|s| s.name == "execute_tool get_current_weather").collect();
    assert_eq!(tools.len(), 2);
    let linked = tools.iter().filter(|t| !t.links.is_empty()).collect::<Vec<_>>();
    assert_eq!(linked.len(), 1, "only the same session's call is linked");
    let (trace, span, attrs) = &linked[0].links[0];
    assert_eq!((trace.as_str(), span.as_str()), (llm.trace_id.as_str(), llm.span_id.as_str()));
    assert_eq!(attrs.get("gen_ai.tool.call.id").and_then(|v| v.as_str()), Some(call_id.as_str()));
    assert_eq!(linked[0].str("gen_ai.tool.call.id"), Some(call_id.as_str()));
}
