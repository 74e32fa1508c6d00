//! Task records through the real Envoy: a scripted agent session whose tasks end by header,
//! by idling, surfaced and over budget, checked after decoding the OTLP the sink received.
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

fn task_spans(sink: &OtlpSink) -> Vec<SpanRecord> {
    sink.spans().into_iter().filter(|s| s.name == "invoke_agent").collect()
}

fn task<'a>(spans: &'a [SpanRecord], id: &str) -> Option<&'a SpanRecord> {
    spans.iter().find(|s| s.str("genai_tap.task.id") == Some(id))
}

fn f64_attr(s: &SpanRecord, key: &str) -> f64 {
    s.attr(key).and_then(|v| v.as_f64()).unwrap_or_else(|| panic!("{key}: {:?}", s.attr(key)))
}

#[test]
fn e2e_an_agent_session_leaves_one_record_per_task_with_correct_totals() {
    let upstream = Upstream::start(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let cfg = format!(
        r#"{{"collector":{{"cluster":"otel_collector","authority":"127.0.0.1:{}","flush_interval_ms":50}},"sessions":{{"task_idle_timeout_ms":4000}},"tools":{{"surface_tools":["get_current_weather"]}}}}"#,
        sink.port
    );
    let envoy = Envoy::start(&EnvoyConfig::new(upstream.port(), sink.port, &cfg)).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));
    let v1 = [("x-agent-session-id", "sess-1"), ("x-agent-spec-version", "spec-2026.11"), ("x-agent-version", "agent-1.4.0")];
    let with = |task: &'static str, more: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        let mut h = v1.to_vec();
        h.push(("x-agent-task-id", task));
        h.extend_from_slice(more);
        h
    };
    // task D declares a 300 ms budget and then goes quiet: the tick must flag it while it runs
    send(&envoy, "openai/chat_basic", &with("task-d", &[("x-agent-task-budget-ms", "300")]));
    let started = Instant::now();
    // task A: three calls, the last one says the task is done
    send(&envoy, "openai/chat_basic", &with("task-a", &[]));
    send(&envoy, "openai/chat_prompt_caching_hit", &with("task-a", &[]));
    send(&envoy, "openai/chat_reasoning_detailed_usage", &with("task-a", &[("x-agent-task-end", "completed")]));
    // task B: one call, then idles
    send(&envoy, "openai/chat_basic", &with("task-b", &[]));
    // task C: asks for a surface tool (hands back to a person), then idles
    send(&envoy, "openai/chat_tools_request_tool_call", &with("task-c", &[]));

    // A ended with its last call: its record is there long before any idle timeout
    let deadline = Instant::now() + Duration::from_secs(3);
    while task(&task_spans(&sink), "task-a").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // D is flagged over budget by the tick, and is still running (no record yet)
    assert!(envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_tasks_over_budget", &[]) == 1.0), "{}", envoy.admin("/stats/prometheus"));
    assert!(started.elapsed() < Duration::from_millis(3500), "flagged before the idle timeout could end it: {:?}", started.elapsed());
    assert!(task(&task_spans(&sink), "task-d").is_none(), "flagged while still running");

    let spans = sink.wait_for_spans(6 + 4, Duration::from_secs(15));
    assert!(sink.decode_errors().is_empty(), "{:?}", sink.decode_errors());
    let tasks = task_spans(&sink);
    assert_eq!(tasks.len(), 4, "exactly one record per task: {:?}", tasks.iter().map(|t| t.str("genai_tap.task.id")).collect::<Vec<_>>());
    let calls: Vec<&SpanRecord> = spans.iter().filter(|s| s.name != "invoke_agent").collect();
    let calls_of = |id: &str| calls.iter().filter(|c| c.str("genai_tap.task.id") == Some(id)).copied().collect::<Vec<_>>();

    // A: the totals are the sums of its calls, and it is a first pass
    let a = task(&tasks, "task-a").expect("task-a");
    let a_calls = calls_of("task-a");
    assert_eq!(a_calls.len(), 3);
    let sum = |key: &str| a_calls.iter().map(|c| c.int(key).unwrap_or(0)).sum::<i64>();
    assert_eq!(a.int("gen_ai.usage.input_tokens"), Some(15 + 1149 + 12));
    assert_eq!(a.int("gen_ai.usage.input_tokens"), Some(sum("gen_ai.usage.input_tokens")));
    assert_eq!(a.int("gen_ai.usage.output_tokens"), Some(19 + 353 + 100));
    assert_eq!(a.int("gen_ai.usage.cache_read.input_tokens"), Some(1024));
    assert_eq!(a.int("genai_tap.usage.uncached_input_tokens"), Some(sum("genai_tap.usage.uncached_input_tokens")));
    assert_eq!(a.int("gen_ai.usage.reasoning.output_tokens"), Some(100));
    let call_cost: f64 = a_calls.iter().map(|c| f64_attr(c, "genai_tap.cost.usd")).sum();
    assert!((f64_attr(a, "genai_tap.cost.usd") - call_cost).abs() < 1e-6, "{} vs {call_cost}", f64_attr(a, "genai_tap.cost.usd"));
    assert_eq!((a.int("genai_tap.task.llm_calls"), a.int("genai_tap.task.tool_calls")), (Some(3), Some(0)));
    assert_eq!(a.str("genai_tap.task.outcome"), Some("completed"));
    assert_eq!(a.str("genai_tap.task.end_reason"), Some("header"));
    assert_eq!(a.attr("genai_tap.task.first_pass"), Some(&serde_json::json!(true)));
    assert_eq!(a.str("genai_tap.spec.version"), Some("spec-2026.11"));
    assert_eq!(a.str("gen_ai.agent.version"), Some("agent-1.4.0"));
    assert_eq!(a.attr("genai_tap.task.models"), Some(&serde_json::json!(["gpt-3.5-turbo-0125", "gpt-4o-mini-2024-07-18", "gpt-5-nano-2025-08-07"])));
    assert_eq!((a.kind, a.str("gen_ai.operation.name")), (1, Some("invoke_agent")));
    let first = a_calls.iter().min_by_key(|c| c.start_time_unix_nano).unwrap();
    let last = a_calls.iter().max_by_key(|c| c.end_time_unix_nano).unwrap();
    assert_eq!(a.trace_id, first.trace_id, "joins the first call's trace");
    assert_eq!(a.start_time_unix_nano / 1_000_000, first.start_time_unix_nano / 1_000_000);
    assert_eq!(a.end_time_unix_nano / 1_000_000, last.end_time_unix_nano / 1_000_000);
    let mut linked: Vec<&str> = a.links.iter().map(|l| l.1.as_str()).collect();
    let mut ids: Vec<&str> = a_calls.iter().map(|c| c.span_id.as_str()).collect();
    linked.sort();
    ids.sort();
    assert_eq!(linked, ids, "linked to each of its call spans");

    // B ended by idling, without a surface: timed out
    let b = task(&tasks, "task-b").expect("task-b");
    assert_eq!((b.str("genai_tap.task.outcome"), b.str("genai_tap.task.end_reason")), (Some("timed_out"), Some("idle")));
    assert_eq!((b.int("gen_ai.usage.input_tokens"), b.int("genai_tap.task.llm_calls")), (Some(15), Some(1)));
    // C surfaced, then idled: surfaced, not timed out
    let c = task(&tasks, "task-c").expect("task-c");
    assert_eq!((c.str("genai_tap.task.outcome"), c.str("genai_tap.task.end_reason")), (Some("surfaced"), Some("idle")));
    assert_eq!(c.attr("genai_tap.task.first_pass"), Some(&serde_json::json!(false)));
    // D: over budget on its record too, and counted once
    let d = task(&tasks, "task-d").expect("task-d");
    assert_eq!(d.attr("genai_tap.task.over_budget"), Some(&serde_json::json!(true)));
    assert_eq!(d.int("genai_tap.task.budget_ms"), Some(300));

    // the matching log records, one per task, on the task span
    let logs = sink.wait_for_logs(4, Duration::from_secs(5));
    let records: Vec<_> = logs.iter().filter(|l| l.event_name == "genai_tap.task.record").collect();
    assert_eq!(records.len(), 4);
    let la = records.iter().find(|l| l.span_id == a.span_id).expect("A's log record");
    assert_eq!(la.attributes.get("gen_ai.usage.input_tokens"), a.attr("gen_ai.usage.input_tokens"));

    // and the counters Prometheus scrapes
    assert!(envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_tasks", &[]) == 4.0), "{}", envoy.admin("/stats/prometheus"));
    assert_eq!(envoy.prom("genai_tap_tasks", &[("outcome", "completed")]), 1.0);
    assert_eq!(envoy.prom("genai_tap_tasks", &[("outcome", "surfaced")]), 1.0);
    assert_eq!(envoy.prom("genai_tap_tasks", &[("outcome", "timed_out")]), 2.0);
    assert_eq!(envoy.prom("genai_tap_tasks_first_pass", &[]), 1.0);
    assert_eq!(envoy.prom("genai_tap_tasks_over_budget", &[]), 1.0);
    // every span carries a model tier
    assert!(calls.iter().all(|c| c.str("genai_tap.model.tier").is_some()));
}

/// Two proxies (egress gateway replicas, two workers each) share one task: each emits its own
/// part, marked partial and with its own identity, and the parts add up to the whole.
#[test]
fn e2e_two_proxies_sharing_a_task_emit_parts_that_add_up() {
    let upstream = Upstream::start(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let cfg = format!(
        r#"{{"collector":{{"cluster":"otel_collector","authority":"127.0.0.1:{}","flush_interval_ms":50}},"sessions":{{"task_idle_timeout_ms":2000}}}}"#,
        sink.port
    );
    let start = |node: &str| {
        let c = EnvoyConfig::new(upstream.port(), sink.port, &cfg);
        Envoy::start_edited(&c, &["--concurrency", "2"], |yaml| format!("node: {{id: {node}, cluster: egress}}\n{yaml}")).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log))
    };
    let (a, b) = (start("proxy-a"), start("proxy-b"));
    let t = [("x-agent-task-id", "shared-1"), ("x-agent-spec-version", "s-1")];
    let mut end = t.to_vec();
    end.push(("x-agent-task-end", "completed"));
    send(&a, "openai/chat_basic", &t);
    send(&b, "openai/chat_prompt_caching_hit", &t);
    send(&b, "openai/chat_basic", &t);
    send(&a, "openai/chat_reasoning_detailed_usage", &end);
    // A's part ends with the header; B's part idles out
    let deadline = Instant::now() + Duration::from_secs(10);
    while task_spans(&sink).len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500)); // and no third part arrives
    let parts = task_spans(&sink);
    assert_eq!(parts.len(), 2, "one part per proxy");
    let calls: Vec<SpanRecord> = sink.spans().into_iter().filter(|s| s.name != "invoke_agent").collect();
    assert_eq!(calls.len(), 4);
    // which proxy wrote which part: A saw chat_basic and the ending call, B the other two
    let part = |r: &str| parts.iter().find(|p| p.str("genai_tap.task.end_reason") == Some(r)).unwrap_or_else(|| panic!("{r}: {parts:?}"));
    let (pa, pb) = (part("header"), part("idle"));
    assert_eq!((pa.int("genai_tap.task.llm_calls"), pa.int("gen_ai.usage.input_tokens")), (Some(2), Some(15 + 12)));
    assert_eq!((pb.int("genai_tap.task.llm_calls"), pb.int("gen_ai.usage.input_tokens")), (Some(2), Some(1149 + 15)));
    // each part names the proxy that wrote it (the node id)
    assert_eq!(pa.resource.get("service.instance.id"), Some(&serde_json::json!("proxy-a")));
    assert_eq!(pb.resource.get("service.instance.id"), Some(&serde_json::json!("proxy-b")));
    for p in &parts {
        assert_eq!(p.attr("genai_tap.task.partial"), Some(&serde_json::json!(true)));
        assert_eq!(p.str("genai_tap.task.id"), Some("shared-1"));
    }
    // the merge: sums, never averages
    let sum = |spans: &[SpanRecord], key: &str| spans.iter().map(|s| s.int(key).unwrap_or(0)).sum::<i64>();
    assert_eq!(sum(&parts, "genai_tap.task.llm_calls"), 4);
    assert_eq!(sum(&parts, "gen_ai.usage.input_tokens"), sum(&calls, "gen_ai.usage.input_tokens"));
    assert_eq!(sum(&parts, "gen_ai.usage.input_tokens"), 15 + 1149 + 15 + 12);
    assert_eq!(sum(&parts, "gen_ai.usage.output_tokens"), sum(&calls, "gen_ai.usage.output_tokens"));
    let cost = |spans: &[SpanRecord]| spans.iter().map(|s| f64_attr(s, "genai_tap.cost.usd")).sum::<f64>();
    assert!((cost(&parts) - cost(&calls)).abs() < 1e-6);
    // each proxy counts its own part
    assert!(a.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_tasks", &[]) == 1.0));
    assert!(b.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_tasks", &[]) == 1.0));
}
