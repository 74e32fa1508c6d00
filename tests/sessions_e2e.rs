//! Session records through the real Envoy (two workers): a scripted agent session of several
//! tasks that ends by its header, another that ends by idling, each leaving one record whose
//! totals are its calls' sums; and the proxy's identity on every span.
// Test code: a failed unwrap or panic is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use genai_tap_testkit::envoy::{Envoy, EnvoyConfig};
use genai_tap_testkit::sink::{OtlpSink, SpanRecord};
use genai_tap_testkit::upstream::{Fixture, Upstream};
use std::time::{Duration, Instant};

/// Sends the fixture's request and checks that the recorded status came back.
fn send(envoy: &Envoy, name: &str, headers: &[(&str, &str)]) {
    let r = envoy.send_fixture(name, headers);
    assert_eq!(r.status, Fixture::load(name).unwrap().status(), "{name}");
}

fn sessions(sink: &OtlpSink) -> Vec<SpanRecord> {
    sink.spans().into_iter().filter(|s| s.name == "genai_tap.session").collect()
}

fn f64_attr(s: &SpanRecord, key: &str) -> f64 {
    s.attr(key).and_then(|v| v.as_f64()).unwrap_or_else(|| panic!("{key}: {:?}", s.attr(key)))
}

/// Two workers, so that a session's calls land on both and the one record must come from
/// the shared slot, not from one worker's memory.
fn start(upstream: &Upstream, sink: &OtlpSink, plugin: &str, node: Option<&str>) -> Envoy {
    let c = EnvoyConfig::new(upstream.port(), sink.port, plugin);
    let node = |yaml: String| match node {
        Some(id) => format!("node: {{id: {id}, cluster: egress}}\n{yaml}"),
        None => yaml,
    };
    Envoy::start_edited(&c, &["--concurrency", "2"], node).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log))
}

#[test]
fn e2e_a_scripted_session_leaves_one_record_with_its_tasks_and_cost() {
    let upstream = Upstream::start(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let cfg = format!(
        r#"{{"collector":{{"cluster":"otel_collector","authority":"127.0.0.1:{}","flush_interval_ms":50}},"sessions":{{"idle_ttl_ms":3000,"task_idle_timeout_ms":2000}}}}"#,
        sink.port
    );
    // the testkit's Envoy sets no node id: the proxy generates its own identity
    let envoy = start(&upstream, &sink, &cfg, None);
    let s1 = |task: &'static str, more: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        let mut h = vec![("x-agent-session-id", "sess-1"), ("x-agent-name", "billing-bot"), ("x-agent-task-id", task)];
        h.extend_from_slice(more);
        h
    };
    // sess-2 starts first and then goes quiet: it must end by idling
    let s2 = [("x-agent-session-id", "sess-2"), ("x-agent-name", "triage-bot"), ("x-agent-task-id", "t-9")];
    send(&envoy, "openai/chat_basic", &s2);
    send(&envoy, "openai/chat_prompt_caching_hit", &s2);
    let s2_last = Instant::now();
    // sess-1: three tasks, the last call says the session is over
    send(&envoy, "openai/chat_basic", &s1("t-1", &[]));
    send(&envoy, "openai/chat_prompt_caching_hit", &s1("t-1", &[("x-agent-task-end", "completed")]));
    send(&envoy, "openai/chat_reasoning_detailed_usage", &s1("t-2", &[("x-agent-task-end", "completed")]));
    send(&envoy, "openai/chat_basic", &s1("t-3", &[("x-agent-task-end", "completed"), ("x-agent-session-end", "1")]));

    // sess-1 ended with its last call: its record does not wait for any timeout
    let deadline = Instant::now() + Duration::from_secs(3);
    while !sessions(&sink).iter().any(|s| s.str("session.id") == Some("sess-1")) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(sessions(&sink).iter().any(|s| s.str("session.id") == Some("sess-1")), "sess-1 ended by its header");
    if s2_last.elapsed() < Duration::from_millis(2500) {
        assert!(!sessions(&sink).iter().any(|s| s.str("session.id") == Some("sess-2")), "sess-2 is still live");
    }
    // sess-2 ends by idling (3 s after its last call, checked once a second)
    let deadline = Instant::now() + Duration::from_secs(10);
    while sessions(&sink).len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500)); // and no other worker emits it again
    assert!(sink.decode_errors().is_empty(), "{:?}", sink.decode_errors());
    let records = sessions(&sink);
    assert_eq!(records.len(), 2, "one record per session: {:?}", records.iter().map(|s| s.str("session.id")).collect::<Vec<_>>());
    let calls: Vec<SpanRecord> = sink.spans().into_iter().filter(|s| s.kind == 3).collect();
    assert_eq!(calls.len(), 6);
    let of = |sid: &str| calls.iter().filter(|c| c.str("session.id") == Some(sid)).collect::<Vec<_>>();
    let record = |sid: &str| records.iter().find(|s| s.str("session.id") == Some(sid)).unwrap();

    let (r1, c1) = (record("sess-1"), of("sess-1"));
    assert_eq!(c1.len(), 4);
    let sum = |calls: &[&SpanRecord], key: &str| calls.iter().map(|c| c.int(key).unwrap_or(0)).sum::<i64>();
    assert_eq!(r1.str("genai_tap.session.end_reason"), Some("header"));
    assert_eq!(r1.int("genai_tap.session.tasks"), Some(3));
    assert_eq!(r1.int("genai_tap.session.calls"), Some(4));
    assert_eq!(r1.int("genai_tap.session.input_tokens"), Some(15 + 1149 + 12 + 15));
    assert_eq!(r1.int("genai_tap.session.input_tokens"), Some(sum(&c1, "gen_ai.usage.input_tokens")));
    assert_eq!(r1.int("genai_tap.session.output_tokens"), Some(sum(&c1, "gen_ai.usage.output_tokens")));
    let cost: f64 = c1.iter().map(|c| f64_attr(c, "genai_tap.cost.usd")).sum();
    assert!(cost > 0.0 && (f64_attr(r1, "genai_tap.session.cost_usd") - cost).abs() < 1e-6, "{} vs {cost}", f64_attr(r1, "genai_tap.session.cost_usd"));
    assert_eq!(r1.str("gen_ai.agent.name"), Some("billing-bot"));
    assert_eq!(r1.attr("genai_tap.session.partial"), Some(&serde_json::json!(true)));
    assert_eq!(r1.kind, 1, "INTERNAL");
    let first = c1.iter().min_by_key(|c| c.start_time_unix_nano).unwrap();
    let last = c1.iter().max_by_key(|c| c.end_time_unix_nano).unwrap();
    assert_eq!(r1.int("genai_tap.session.start_ms"), Some((first.start_time_unix_nano / 1_000_000) as i64));
    assert_eq!(r1.int("genai_tap.session.end_ms"), Some((last.end_time_unix_nano / 1_000_000) as i64));
    assert_eq!(r1.links.iter().map(|l| (l.0.as_str(), l.1.as_str())).collect::<Vec<_>>(), vec![(first.trace_id.as_str(), first.span_id.as_str())], "links to its first call");
    // the last call's span already carried the final totals
    assert_eq!(last.int("genai_tap.session.tasks"), Some(3));

    let (r2, c2) = (record("sess-2"), of("sess-2"));
    assert_eq!(r2.str("genai_tap.session.end_reason"), Some("idle"));
    assert_eq!((r2.int("genai_tap.session.tasks"), r2.int("genai_tap.session.calls")), (Some(1), Some(2)));
    assert_eq!(r2.int("genai_tap.session.input_tokens"), Some(sum(&c2, "gen_ai.usage.input_tokens")));
    assert_eq!(r2.str("gen_ai.agent.name"), Some("triage-bot"));
    let last2 = c2.iter().map(|c| c.end_time_unix_nano / 1_000_000).max().unwrap() as i64;
    assert_eq!(r2.int("genai_tap.session.end_ms"), Some(last2), "an idle session ends at its last call");

    // the matching log records, one per session, on the session span
    let logs = sink.wait_for_logs(2, Duration::from_secs(5));
    let session_logs: Vec<_> = logs.iter().filter(|l| l.event_name == "genai_tap.session.record").collect();
    assert_eq!(session_logs.len(), 2);
    let l1 = session_logs.iter().find(|l| l.span_id == r1.span_id).expect("sess-1's log record");
    assert_eq!(l1.attributes.get("genai_tap.session.tasks"), Some(&serde_json::json!(3)));

    // which proxy: one non-empty id, the same on every span from every worker
    let ids: std::collections::BTreeSet<String> = sink.spans().iter().map(|s| s.resource.get("service.instance.id").and_then(|v| v.as_str()).unwrap_or("").to_owned()).collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(ids.iter().all(|id| id.len() == 32), "{ids:?}");

    // the counters, by end reason and by agent
    assert!(envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_sessions", &[]) == 2.0), "{}", envoy.admin("/stats/prometheus"));
    assert_eq!(envoy.prom("genai_tap_sessions", &[("reason", "header"), ("agent", "billing-bot")]), 1.0);
    assert_eq!(envoy.prom("genai_tap_sessions", &[("reason", "idle"), ("agent", "triage-bot")]), 1.0);
    assert_eq!(envoy.prom("genai_tap_llm_calls", &[("agent", "billing-bot")]), 4.0);
    assert_eq!(envoy.prom("genai_tap_llm_calls", &[("agent", "triage-bot")]), 2.0);
    assert_eq!(envoy.prom("genai_tap_tasks", &[("agent", "billing-bot"), ("outcome", "completed")]), 3.0);
    assert_eq!(envoy.prom("genai_tap_tasks_first_pass", &[("agent", "billing-bot")]), 3.0);
}

#[test]
fn e2e_the_node_id_names_the_proxy_and_configuration_overrides_it() {
    let upstream = Upstream::start(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let base = format!(r#""collector":{{"cluster":"otel_collector","authority":"127.0.0.1:{}","flush_interval_ms":50}}"#, sink.port);
    let by_node = start(&upstream, &sink, &format!("{{{base}}}"), Some("egress-gw-7f9c"));
    for _ in 0..4 {
        send(&by_node, "openai/chat_basic", &[]);
    }
    let spans = sink.wait_for_spans(4, Duration::from_secs(10));
    assert_eq!(spans.len(), 4);
    for s in &spans {
        assert_eq!(s.resource.get("service.instance.id"), Some(&serde_json::json!("egress-gw-7f9c")), "{:?}", s.resource);
        assert_eq!(s.resource.get("genai_tap.envoy.cluster"), Some(&serde_json::json!("egress")));
    }
    drop(by_node);
    sink.take_spans();
    let configured = start(&upstream, &sink, &format!(r#"{{{base},"service_instance_id":"gw-a"}}"#), Some("egress-gw-7f9c"));
    send(&configured, "openai/chat_basic", &[]);
    let spans = sink.wait_for_spans(1, Duration::from_secs(10));
    assert_eq!(spans[0].resource.get("service.instance.id"), Some(&serde_json::json!("gw-a")));
}

/// Envoy hands header bytes that are not UTF-8 (HTTP's `obs-text`) to the module as they came.
/// The module reads each header map in place (`host::header_block`): such a byte reads as a
/// space, in that value only, and neither the call nor the VM fails. (The SDK's `get_map`,
/// which the module used before, unwraps `String::from_utf8` on every value.)
#[test]
fn e2e_a_header_value_that_is_not_utf8_reads_with_a_space_and_fails_nothing() {
    use std::io::{Read, Write};
    let upstream = Upstream::start(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let plugin = format!(r#"{{"collector":{{"cluster":"otel_collector","authority":"127.0.0.1:{}","flush_interval_ms":50}}}}"#, sink.port);
    let envoy = start(&upstream, &sink, &plugin, None);
    let fx = Fixture::load("openai/chat_basic").unwrap();
    let body = fx.request_body();
    // written by hand: the testkit's client takes headers as `&str`
    let mut request = format!(
        "POST {} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\nx-fixture: openai/chat_basic\r\ncontent-length: {}\r\nconnection: close\r\nx-agent-session-id: caf",
        fx.request_path(),
        fx.upstream_host(),
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(b"\xe9-1\r\n\r\n");
    request.extend_from_slice(&body);
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", envoy.listener_port)).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    socket.write_all(&request).unwrap();
    let mut response = Vec::new();
    socket.read_to_end(&mut response).unwrap();
    let head = String::from_utf8_lossy(&response).into_owned();
    assert!(head.starts_with(&format!("HTTP/1.1 {} ", fx.status())), "{head}");
    // the VM is alive: the next call is observed too
    send(&envoy, "openai/chat_basic", &[("x-agent-session-id", "plain-1")]);
    let spans = sink.wait_for_spans(2, Duration::from_secs(10));
    let mut ids: Vec<&str> = spans.iter().filter_map(|s| s.str("session.id")).collect();
    ids.sort_unstable();
    assert_eq!(ids, vec!["caf -1", "plain-1"], "the Latin-1 byte reads as one space");
    let log = envoy.log();
    assert!(!log.contains("panic") && !log.contains("Wasm VM failed"), "{log}");
}
