//! The operator's view in the real Envoy: cost per span and as a counter that agree, identity
//! headers (the user id only ever as a salted hash), and session roll-ups across calls.
// Test code: a failed unwrap or panic is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use genai_tap_testkit::envoy::{Envoy, EnvoyConfig};
use genai_tap_testkit::sink::OtlpSink;
use genai_tap_testkit::upstream::{Fixture, Upstream};
use sha2::{Digest, Sha256};
use std::time::Duration;

#[test]
fn e2e_cost_identity_and_sessions_and_the_stats_agree_with_the_spans() {
    let upstream = Upstream::start(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let cfg = format!(
        r#"{{"collector":{{"cluster":"otel_collector","authority":"127.0.0.1:{}","flush_interval_ms":50}},
            "identity":{{"hash_user_id":true,"user_id_salt":"salt-for-users"}}}}"#,
        sink.port
    );
    let envoy = Envoy::start(&EnvoyConfig::new(upstream.port(), sink.port, &cfg)).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));
    let calls = ["openai/chat_basic", "anthropic/messages_cache_read", "openai/chat_prompt_caching_hit"];
    for name in calls {
        let fx = Fixture::load(name).unwrap();
        let r = envoy.send(
            "POST",
            &fx.request_path(),
            &[
                ("host", &fx.upstream_host()),
                ("content-type", "application/json"),
                ("x-fixture", name),
                ("x-agent-user-id", "alice@example.com"),
                ("x-agent-session-id", "sess-42"),
                ("x-agent-task-id", "task-7"),
                ("x-agent-spec-version", "spec-3.1"),
                ("x-agent-version", "agent-0.9"),
            ],
            &fx.request_body(),
        );
        assert_eq!(r.status, 200);
    }
    let spans = sink.wait_for_spans(calls.len(), Duration::from_secs(10));
    assert_eq!(spans.len(), calls.len());
    let want_hash: String = Sha256::new().chain_update(b"salt-for-users").chain_update([0u8]).chain_update(b"alice@example.com").finalize().iter().map(|b| format!("{b:02x}")).collect();
    let mut cost_sum = 0.0;
    for (i, s) in spans.iter().enumerate() {
        assert_eq!(s.str("genai_tap.user.id_hash"), Some(want_hash.as_str()), "only the salted hash");
        assert_eq!(s.str("session.id"), Some("sess-42"));
        assert_eq!(s.str("gen_ai.conversation.id"), Some("sess-42"));
        assert_eq!(s.str("genai_tap.task.id"), Some("task-7"));
        assert_eq!(s.str("genai_tap.spec.version"), Some("spec-3.1"));
        assert_eq!(s.str("genai_tap.agent.version"), Some("agent-0.9"));
        assert_eq!(s.attr("genai_tap.cost.priced"), Some(&serde_json::json!(true)), "{}", s.name);
        let usd = s.attr("genai_tap.cost.usd").and_then(|v| v.as_f64()).unwrap();
        assert!(usd > 0.0 && usd < 1.0, "{usd}");
        cost_sum += usd;
        assert_eq!(s.int("genai_tap.session.calls"), Some(i as i64 + 1), "a running total");
        assert_eq!(s.int("genai_tap.session.tasks"), Some(1));
    }
    // the last span's running totals are the sums over the three calls
    let last = spans.last().unwrap();
    let inputs: i64 = spans.iter().map(|s| s.int("gen_ai.usage.input_tokens").unwrap()).sum();
    assert_eq!(last.int("genai_tap.session.input_tokens"), Some(inputs));
    let session_cost = last.attr("genai_tap.session.cost_usd").and_then(|v| v.as_f64()).unwrap();
    assert!((session_cost - cost_sum).abs() < 1e-5, "{session_cost} vs {cost_sum}");
    // anthropic: 4 uncached input tokens next to 1163 cache reads
    assert_eq!(spans[1].int("genai_tap.usage.uncached_input_tokens"), Some(4));
    // the counters say the same as the spans
    let micro = (cost_sum * 1e6).round();
    assert!(
        envoy.wait_until(Duration::from_secs(3), |e| (e.prom("genai_tap_llm_cost_micro_usd", &[]) - micro).abs() <= 3.0),
        "{} vs {micro}",
        envoy.prom("genai_tap_llm_cost_micro_usd", &[])
    );
    assert_eq!(envoy.prom("genai_tap_llm_tokens", &[("type", "input")]), inputs as f64);
    assert_eq!(envoy.prom("genai_tap_llm_tokens", &[("type", "cached_input")]), (1163 + 1024) as f64);
    for raw in sink.received() {
        assert!(!raw.raw.windows(17).any(|w| w == b"alice@example.com"), "the raw user id never leaves");
    }
}

#[test]
fn e2e_an_unpriced_model_is_counted_never_guessed() {
    let upstream = Upstream::start(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let cfg = format!(r#"{{"collector":{{"cluster":"otel_collector","authority":"127.0.0.1:{}","flush_interval_ms":50}}}}"#, sink.port);
    let envoy = Envoy::start(&EnvoyConfig::new(upstream.port(), sink.port, &cfg)).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));
    let fx = Fixture::load("ollama/chat").unwrap();
    envoy.send("POST", "/api/chat", &[("host", "localhost"), ("x-fixture", "ollama/chat")], &fx.request_body());
    let s = &sink.wait_for_spans(1, Duration::from_secs(10))[0];
    assert_eq!(s.attr("genai_tap.cost.priced"), Some(&serde_json::json!(false)));
    assert_eq!(s.attr("genai_tap.cost.usd"), None);
    assert!(envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_llm_unpriced_calls", &[("provider", "ollama")]) == 1.0));
}
