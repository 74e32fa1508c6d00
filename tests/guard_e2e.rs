//! The guard in the real Envoy: secrets blocked before the upstream sees them, PII redacted in
//! requests and in streamed responses, and no secret or raw PII in any exported payload or log.
// Test code: a failed unwrap or panic is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use genai_tap_testkit::base64;
use genai_tap_testkit::envoy::{loopback_cluster, Envoy, EnvoyConfig};
use genai_tap_testkit::sink::OtlpSink;
use genai_tap_testkit::upstream::Upstream;
use std::time::Duration;

include!("data/guard_cases.rs");

fn start(extra: &str) -> (Upstream, OtlpSink, Envoy) {
    let upstream = Upstream::start(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let cfg = format!(
        r#"{{"collector":{{"cluster":"otel_collector","authority":"127.0.0.1:{}","flush_interval_ms":50}}{extra}}}"#,
        sink.port
    );
    let envoy = Envoy::start(&EnvoyConfig::new(upstream.port(), sink.port, &cfg)).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));
    (upstream, sink, envoy)
}

fn chat(content: &str) -> Vec<u8> {
    serde_json::json!({"model": "gpt-4o", "messages": [{"role": "user", "content": content}]}).to_string().into_bytes()
}

/// A chat stream whose one content event says `content`, then usage (5 in, 9 out) and `[DONE]`.
fn sse_saying(content: &str) -> String {
    let delta = serde_json::json!({"id": "c1", "model": "gpt-4o", "choices": [{"index": 0, "delta": {"content": content}}]});
    format!(
        "data: {delta}\n\n\
         data: {{\"id\":\"c1\",\"model\":\"gpt-4o\",\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}],\"usage\":{{\"prompt_tokens\":5,\"completion_tokens\":9}}}}\n\n\
         data: [DONE]\n\n"
    )
}

/// Asks for a chat through Envoy, and has the upstream answer with `stream` in `chunk_bytes` pieces.
fn send_answered_by(envoy: &Envoy, stream: &str, chunk_bytes: usize) -> genai_tap_testkit::http::Response {
    envoy.send(
        "POST",
        "/v1/chat/completions",
        &[
            ("host", "api.openai.com"),
            ("content-type", "application/json"),
            ("x-fixture", "openai/chat_stream_include_usage"),
            ("x-raw-body-b64", &base64::encode(stream.as_bytes())),
            ("x-chunk-bytes", &chunk_bytes.to_string()),
        ],
        &chat("hi"),
    )
}

#[test]
fn e2e_every_secret_is_blocked_and_never_reaches_the_upstream_telemetry_or_logs() {
    let (upstream, sink, envoy) = start("");
    let cases = secret_cases();
    for (rule, value) in &cases {
        let r = envoy.send(
            "POST",
            "/v1/chat/completions",
            &[("host", "api.openai.com"), ("content-type", "application/json")],
            &chat(&format!("deploy with {value} now")),
        );
        assert_eq!(r.status, 403, "{rule}: {}", r.text());
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{rule}: {e}: {}", r.text()));
        assert_eq!(v["error"]["type"], "secret_detected", "{rule}");
        assert_eq!(v["error"]["rule"], *rule);
        assert!(!r.text().contains(value.as_str()), "{rule}: the reply never echoes the secret");
    }
    assert!(upstream.requests().is_empty(), "nothing reached the upstream");
    let spans = sink.wait_for_spans(cases.len(), Duration::from_secs(15));
    assert_eq!(spans.len(), cases.len());
    for (s, (rule, _)) in spans.iter().zip(&cases) {
        assert_eq!(s.str("genai_tap.outcome"), Some("blocked"));
        assert_eq!(s.str("genai_tap.guard.blocked_rule"), Some(*rule));
        assert_eq!(s.str("error.type"), Some("secret_detected"));
    }
    let blocked_total = envoy.prom("genai_tap_guard_blocks", &[]);
    assert!(envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_guard_blocks", &[]) == cases.len() as f64), "{blocked_total}");
    assert_eq!(envoy.prom("genai_tap_guard_blocks", &[("rule", "aws-access-key-id")]), 1.0);
    // the evidence: every exported payload, raw, and every log line
    let log = envoy.log();
    assert!(log.contains("genai-tap: blocked a request"), "a warning line per block");
    for (rule, value) in &cases {
        // the whole case and, for assignments, the credential alone
        for needle in [value.clone(), secret_part(rule, value)] {
            for req in sink.received() {
                assert!(!req.raw.windows(needle.len()).any(|w| w == needle.as_bytes()), "{rule} leaked into an OTLP payload");
            }
            assert!(!log.contains(needle.as_str()), "{rule} leaked into Envoy's log");
        }
    }
}

/// A body that is not UTF-8 throughout: the scan used to stop at the first invalid byte, so a
/// secret after one reached the upstream.
#[test]
fn e2e_a_secret_after_bytes_that_are_not_utf8_is_still_blocked() {
    let (upstream, _sink, envoy) = start("");
    let key = "AKIAZ7QW4XJ2LBNM5K3P";
    for body in [format!("note \u{e9}: use {key}").into_bytes(), [&b"note \xe9: use "[..], key.as_bytes()].concat()] {
        let r = envoy.send("POST", "/v1/chat/completions", &[("host", "api.openai.com"), ("content-type", "text/plain")], &body);
        assert_eq!(r.status, 403, "{}", r.text());
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["error"]["rule"], "aws-access-key-id");
    }
    assert!(upstream.requests().is_empty(), "neither body reached the upstream");
    assert!(envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_guard_blocks", &[("rule", "aws-access-key-id")]) == 2.0));
}

#[test]
fn e2e_the_block_status_is_configurable_and_a_secret_in_a_response_is_redacted() {
    let (upstream, sink, envoy) = start(r#","secrets":{"block_status":451,"response":"block"}"#);
    let key = "AKIAZ7QW4XJ2LBNM5K3P";
    let r = envoy.send("POST", "/v1/chat/completions", &[("host", "api.openai.com"), ("content-type", "application/json")], &chat(&format!("use {key}")));
    assert_eq!(r.status, 451, "{}", r.text());
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["error"]["rule"], "aws-access-key-id");
    assert!(upstream.requests().is_empty());

    // a response's headers are gone by the time its body shows a secret: block redacts it
    // a GitHub token whose CRC32 checksum holds (a wrong one is refused as a look-alike)
    let token = gh_token("ghp", 80);
    let stream = sse_saying(&format!("your token is {token} ok"));
    let r = send_answered_by(&envoy, &stream, 11);
    assert_eq!(r.status, 200);
    assert!(r.complete);
    assert_eq!(r.text(), stream.replace(&token, "[REDACTED:SECRET]"), "the secret redacted, every other byte as sent");
    let spans = sink.wait_for_spans(2, Duration::from_secs(10));
    assert_eq!(spans[0].str("genai_tap.outcome"), Some("blocked"));
    assert_eq!(spans[0].int("http.response.status_code"), Some(451));
    assert_eq!(spans[1].str("genai_tap.outcome"), Some("completed"));
    assert_eq!(spans[1].int("gen_ai.usage.output_tokens"), Some(9));
    assert!(envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_guard_secret_hits", &[("rule", "github-pat")]) == 1.0));
    for req in sink.received() {
        assert!(!req.raw.windows(token.len()).any(|w| w == token.as_bytes()), "the token leaked into an OTLP payload");
    }
}

/// The wasm build finds digits sixteen bytes a step (SIMD) and only natively eight (the tests'
/// build): numbers behind every prefix length from 0 to 32 put a first digit at every place in
/// the module's 16-byte blocks, and each must still be found and replaced whole.
#[test]
fn e2e_numbers_at_every_place_in_a_simd_block_are_redacted_whole() {
    let (upstream, sink, envoy) = start(r#","pii":{"request":"redact"}"#);
    let values = ["415-555-2671", "4111 1111 1111 1111", "GB82 WEST 1234 5698 7654 32"];
    let content: String = (0..=32).map(|k| format!("{} {}, {}; {}.\n", "w".repeat(k), values[0], values[1], values[2])).collect();
    let body = chat(&content);
    let r = envoy.send("POST", "/echo/v1/chat/completions", &[("host", "api.openai.com"), ("content-type", "application/json")], &body);
    assert_eq!(r.status, 200, "{}", r.text());
    let got = &upstream.requests()[0];
    let v: serde_json::Value = serde_json::from_slice(&got.body).expect("the upstream got valid JSON");
    let text = v["messages"][0]["content"].as_str().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 33);
    for (k, line) in lines.iter().enumerate() {
        // the fitted placeholders keep each value's length, so every line's shape is known
        let want = format!("{} [PHONE*****], [CARD*************]; [REDACTED:IBAN************].", "w".repeat(k));
        assert_eq!(*line, want, "prefix of {k}");
    }
    assert!(!text.bytes().any(|b| b.is_ascii_digit()), "no digit left: {text}");
    let s = &sink.wait_for_spans(1, Duration::from_secs(10))[0];
    assert_eq!(s.int("genai_tap.guard.redactions"), Some(99));
}

#[test]
fn e2e_pii_is_redacted_in_requests_and_the_json_stays_valid() {
    let (upstream, sink, envoy) = start(r#","pii":{"request":"redact"}"#);
    let args = serde_json::json!({"to": "jane.doe@example.com", "card": "4111 1111 1111 1111"}).to_string();
    let body = serde_json::json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "user", "content": "Email jane.doe@example.com, SSN 536-22-4187, from 10.20.30.40"},
            {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "send", "arguments": args}}]}
        ]
    })
    .to_string();
    let r = envoy.send("POST", "/echo/v1/chat/completions", &[("host", "api.openai.com"), ("content-type", "application/json")], body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let got = &upstream.requests()[0];
    let v: serde_json::Value = serde_json::from_slice(&got.body).expect("the upstream got valid JSON");
    assert_eq!(got.header("content-length").map(|l| l.parse::<usize>().unwrap()), Some(got.body.len()), "length fixed");
    // the request declared content-length: each placeholder is fitted to the value it replaces
    assert_eq!(got.body.len(), body.len(), "the declared length is kept");
    assert_eq!(v["messages"][0]["content"], "Email [REDACTED:EMAIL****], SSN [SSN******], from [IP*******]");
    let inner: serde_json::Value = serde_json::from_str(v["messages"][1]["tool_calls"][0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(inner, serde_json::json!({"to": "[REDACTED:EMAIL****]", "card": "[CARD*************]"}));
    let s = &sink.wait_for_spans(1, Duration::from_secs(10))[0];
    assert_eq!(s.int("genai_tap.guard.redactions"), Some(5));
    assert!(envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_guard_redactions", &[("kind", "email")]) == 2.0));
    for raw in sink.received() {
        assert!(!raw.raw.windows(8).any(|w| w == b"jane.doe"), "no raw PII in telemetry");
    }
}

#[test]
fn e2e_a_streamed_response_is_redacted_across_chunk_boundaries() {
    let (_upstream, sink, envoy) = start(r#","pii":{"response":"redact"}"#);
    let stream = sse_saying("Reach me at jane.doe@example.com or 415-555-2671");
    let r = send_answered_by(&envoy, &stream, 7);
    assert_eq!(r.status, 200);
    assert!(r.complete);
    let text = r.text();
    assert_eq!(text, stream.replace("jane.doe@example.com", "[REDACTED:EMAIL]").replace("415-555-2671", "[REDACTED:PHONE]"), "split into 7-byte chunks, redacted whole");
    for event in text.split("\n\n").filter(|e| e.starts_with("data: {")) {
        serde_json::from_str::<serde_json::Value>(&event["data: ".len()..]).expect("every event is still JSON");
    }
    let s = &sink.wait_for_spans(1, Duration::from_secs(10))[0];
    assert_eq!(s.int("gen_ai.usage.output_tokens"), Some(9), "extraction still reads the original stream");
    assert!(envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_guard_redactions", &[("kind", "phone")]) == 1.0));
}

/// Issue #16's held-out leak: a Vault token, a GitLab runner token, an AWS secret key and
/// connection-string passwords. Blocked in requests by default; and with secrets only observed
/// and `content.capture` on, the captured prompt reaches the bucket without any of them (an AWS
/// secret key with no keyword near it is caught by the high-entropy last line).
#[test]
fn e2e_new_secret_families_are_blocked_and_never_reach_the_capture_bucket() {
    let aws_secret = fill(40, B64, 71);
    let families: Vec<(&str, String, String)> = vec![
        ("vault-service-token", format!("hvs.{}", fill(91, AN, 72)), String::new()),
        ("vault-batch-token", format!("hvb.{}", fill(140, AN, 73)), String::new()),
        ("gitlab-runner-authentication-token", format!("glrt-{}", fill(20, AN, 74)), String::new()),
        ("aws-secret-access-key", format!("AWS_SECRET_ACCESS_KEY={aws_secret}"), aws_secret.clone()),
        ("connection-string-password", format!("postgres://app:{}@db.internal.example:5432/orders", fill(18, AN, 75)), String::new()),
        ("connection-string-password", format!("redis://default:{}@cache.example.com:6379", fill(22, AN, 76)), String::new()),
        ("connection-string-password", format!("mongodb+srv://svc:{}@cluster0.ab1cd.mongodb.net/app", fill(16, AN, 77)), String::new()),
        ("heroku-api-key-v2", format!("HRKU-AA{}", fill(58, AN, 78)), String::new()),
    ];
    // the credential itself: what must never be seen, whatever else is
    let secret_of = |rule: &str, value: &str, explicit: &str| if explicit.is_empty() { secret_part(rule, value) } else { explicit.to_owned() };

    // default modes: blocked, and nothing reaches the upstream
    let (upstream, _sink, envoy) = start("");
    for (rule, value, _) in &families {
        let r = envoy.send("POST", "/v1/chat/completions", &[("host", "api.openai.com"), ("content-type", "application/json")], &chat(&format!("connect with {value} please")));
        assert_eq!(r.status, 403, "{rule}: {}", r.text());
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["error"]["rule"], *rule, "{rule}");
    }
    assert!(upstream.requests().is_empty());
    drop(envoy);

    // observed on the wire, captured for the bucket: redacted there, by rule or by entropy
    let upstream = Upstream::start(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let bucket = OtlpSink::start(0).unwrap();
    let cfg = format!(
        r#"{{"collector":{{"cluster":"otel_collector","authority":"127.0.0.1:{sink}","flush_interval_ms":50}},
            "secrets":{{"request":"observe"}},
            "content":{{"capture":{{"enabled":true,"cluster":"capture","authority":"127.0.0.1:{cap}","bucket":"content-30d","sample_rate":1.0}}}}}}"#,
        sink = sink.port,
        cap = bucket.port
    );
    let mut ec = EnvoyConfig::new(upstream.port(), sink.port, &cfg);
    ec.extra_clusters = loopback_cluster("capture", bucket.port);
    let envoy = Envoy::start(&ec).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));
    // the AWS key a second time, bare: no rule knows it, the last line does
    let bare = fill(40, B64, 79);
    let mut prompts: Vec<String> = families.iter().map(|(_, v, _)| format!("connect with {v} please")).collect();
    prompts.push(format!("the key is {bare} ok"));
    for p in &prompts {
        let r = envoy.send(
            "POST",
            "/v1/chat/completions",
            &[("host", "api.openai.com"), ("content-type", "application/json"), ("x-fixture", "openai/chat_basic")],
            &chat(p),
        );
        assert_eq!(r.status, 200, "{p}: {}", r.text());
    }
    assert_eq!(upstream.requests().len(), prompts.len(), "observe lets them through");
    let logs = bucket.wait_for_logs(2 * prompts.len(), Duration::from_secs(15));
    let captured: Vec<&str> = logs.iter().filter(|l| l.event_name == "genai_tap.content.prompt").map(|l| l.body.as_str()).collect();
    assert_eq!(captured.len(), prompts.len(), "{logs:#?}");
    let mut needles: Vec<(String, String)> = families.iter().map(|(r, v, e)| (r.to_string(), secret_of(r, v, e))).collect();
    needles.push(("high-entropy-string".into(), bare.clone()));
    for (rule, needle) in &needles {
        assert!(needle.len() >= 12, "{rule}: {needle}");
        assert!(captured.iter().any(|b| b.contains("[REDACTED:SECRET]")), "{captured:?}");
        for body in &captured {
            assert!(!body.contains(needle.as_str()), "{rule} reached the capture bucket: {body}");
        }
        for raw in bucket.received().iter().chain(sink.received().iter()) {
            assert!(!raw.raw.windows(needle.len()).any(|w| w == needle.as_bytes()), "{rule} leaked into an OTLP payload");
        }
        assert!(!envoy.log().contains(needle.as_str()), "{rule} leaked into Envoy's log");
    }
    // every prompt kept its readable words: the capture is redacted, not emptied
    assert!(captured.iter().all(|b| b.contains("connect with") || b.contains("the key is")), "{captured:?}");
}

/// The JSON-RPC messages of a tool response: one JSON body, or each SSE event's data.
fn jsonrpc_messages(ct: &str, body: &str) -> Vec<serde_json::Value> {
    if !ct.starts_with("text/event-stream") {
        return vec![serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))];
    }
    // SSE framing: events end with a blank line (CRLF or LF); each `data:` line is one
    // JSON-RPC message
    assert!(body.ends_with("\r\n\r\n") || body.ends_with("\n\n"), "{body:?}");
    body.replace("\r\n", "\n")
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let data = e.lines().find_map(|l| l.strip_prefix("data: ")).unwrap_or_else(|| panic!("{e:?}"));
            serde_json::from_str(data.trim_end_matches('\r')).unwrap_or_else(|err| panic!("{err}: {data}"))
        })
        .collect()
}

#[test]
fn e2e_mcp_tool_responses_are_redacted_json_aware_and_stay_json_rpc() {
    let (_upstream, sink, envoy) = start(r#","pii":{"response":"redact"},"secrets":{"request":"observe","response":"block"}"#);
    let mut calls = 0;
    let (mut redacted, mut untouched) = (0, 0);
    for file in ["wire_streamable_http_legacy_2025-11-25.jsonl", "wire_streamable_http_modern_2026-07-28.jsonl"] {
        let path = format!("{}/../shared/fixtures/mcp/{file}", env!("CARGO_MANIFEST_DIR"));
        for line in std::fs::read_to_string(path).unwrap().lines() {
            let ex: serde_json::Value = serde_json::from_str(line).unwrap();
            if ex["method"] != "POST" {
                continue;
            }
            calls += 1;
            let body = ex["response_body"].as_str().unwrap_or("");
            let ct = ex["response_headers"]["content-type"].as_str().unwrap_or("application/json");
            let (b, status) = (base64::encode(body.as_bytes()), ex["status"].to_string());
            let mut h: Vec<(&str, &str)> = vec![("host", "tools.internal.example"), ("x-fixture", "openai/chat_basic"), ("x-raw-body-b64", &b), ("x-content-type", ct), ("x-status", &status), ("x-chunk-bytes", "7")];
            for (k, v) in ex["request_headers"].as_object().unwrap() {
                if matches!(k.as_str(), "mcp-session-id" | "mcp-protocol-version" | "content-type" | "accept") {
                    h.push((k.as_str(), v.as_str().unwrap()));
                }
            }
            let r = envoy.send("POST", "/mcp", &h, ex["request_body"].as_str().unwrap_or("").as_bytes());
            assert_eq!(r.status, ex["status"].as_u64().unwrap() as u16, "{}", r.text());
            assert!(r.complete);
            let got = r.text();
            if !body.contains("jane.doe@example.com") && !body.contains("AKIAIOSFODNN7EXAMPLE") {
                assert_eq!(got, body, "a clean response passes byte-identical");
                untouched += 1;
                continue;
            }
            for v in ["jane.doe@example.com", "+1-415-555-0132", "4111 1111 1111 1111", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"] {
                assert!(!got.contains(v), "{v} reached the agent: {got}");
            }
            let (before, after) = (jsonrpc_messages(ct, body), jsonrpc_messages(ct, &got));
            assert_eq!(before.len(), after.len());
            for (b, a) in before.iter().zip(&after) {
                assert_eq!((&a["id"], &a["result"]["isError"]), (&b["id"], &b["result"]["isError"]));
                let text = a["result"]["content"][0]["text"].as_str().unwrap();
                match serde_json::from_str::<serde_json::Value>(text) {
                    // the tool's own JSON, inside a JSON string, still parses
                    Ok(inner) => assert_eq!((&inner["email"], &inner["card"], &inner["name"]), (&"[REDACTED:EMAIL]".into(), &"[REDACTED:CREDIT_CARD]".into(), &"Jane Doe".into())),
                    Err(_) => assert!(text.starts_with("aws_access_key_id=[REDACTED:SECRET]\n"), "{text}"),
                }
            }
            redacted += 1;
        }
    }
    assert_eq!((redacted, untouched), (4, 9));
    // the tool spans count what the guard replaced in each response
    let spans = sink.wait_for_spans(calls, Duration::from_secs(10));
    let lookups: Vec<_> = spans.iter().filter(|s| s.name == "tools/call lookup_customer").collect();
    assert_eq!(lookups.len(), 2);
    for s in lookups {
        assert_eq!(s.int("genai_tap.guard.redactions"), Some(3), "{:?}", s.attributes);
    }
    for req in sink.received() {
        assert!(!req.raw.windows(20).any(|w| w == b"jane.doe@example.com"), "an address reached the collector");
    }
}
