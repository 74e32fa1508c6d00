//! The shell's own logic, natively, on a fake host: what it reads, what it writes back, and
//! what reaches the collector cluster.

use super::fake::{headers, FakeHost};
use super::root::Root;
use super::{Action, Level};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use std::collections::BTreeMap;

const MS: u64 = 1_000_000;

fn configured(config: &str) -> (Root, FakeHost) {
    let mut host = FakeHost { plugin_configuration: config.as_bytes().to_vec(), now: 1_000 * MS, memory: 1 << 20, ..FakeHost::default() };
    let mut root = Root::default();
    assert!(root.configure(&mut host), "{:?}", host.logs);
    (root, host)
}

const COLLECTOR: &str = r#"{"collector":{"cluster":"otel","authority":"collector:4318","flush_interval_ms":100}}"#;

fn chat_headers() -> Vec<(String, String)> {
    headers(&[(":method", "POST"), (":authority", "api.openai.com"), (":path", "/v1/chat/completions"), ("content-type", "application/json")])
}

/// The spans in every export the root dispatched.
fn exported_spans(host: &FakeHost) -> Vec<opentelemetry_proto::tonic::trace::v1::Span> {
    host.dispatched
        .iter()
        .filter(|(c, h, _)| c == "otel" && !h.iter().any(|(k, v)| k == ":path" && v == "/v1/logs"))
        .flat_map(|(_, _, body)| ExportTraceServiceRequest::decode(body.as_slice()).expect("OTLP protobuf").resource_spans)
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .collect()
}

fn attr<'a>(span: &'a opentelemetry_proto::tonic::trace::v1::Span, key: &str) -> Option<&'a opentelemetry_proto::tonic::common::v1::any_value::Value> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| a.value.as_ref()).and_then(|v| v.value.as_ref())
}

#[test]
fn a_clean_call_is_read_without_delay_exported_on_the_tick_and_counted() {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    let (mut root, mut host) = configured(r#"{"collector":{"cluster":"otel","authority":"c","flush_interval_ms":100},"secrets":{"mode":"observe"}}"#);
    let mut stream = root.stream(&mut host).expect("a stream once configured");
    host.request_headers = chat_headers();
    host.request_headers.push(("accept-encoding".into(), "gzip".into()));
    assert_eq!(stream.on_request_headers(&mut host, false), Action::Continue);
    // the trace context and the narrowed encoding went on the request
    assert!(host.request_headers.iter().any(|(k, v)| k == "traceparent" && v.starts_with("00-")));
    assert!(host.request_headers.iter().any(|(k, v)| k == "accept-encoding" && v == "identity"));
    let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#;
    host.request_chunk = body.to_vec();
    assert_eq!(stream.on_request_body(&mut host, body.len(), true), Action::Continue);
    assert_eq!(host.request_chunk, body, "a clean body leaves untouched");
    host.now += 40 * MS;
    host.response_headers = headers(&[(":status", "200"), ("content-type", "application/json")]);
    assert_eq!(stream.on_response_headers(&mut host, false), Action::Continue);
    let answer = br#"{"id":"c1","model":"gpt-4o-2024-08-06","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"hello"}}],"usage":{"prompt_tokens":7,"completion_tokens":2}}"#;
    host.response_chunk = answer.to_vec();
    assert_eq!(stream.on_response_body(&mut host, answer.len(), true), Action::Continue);
    assert_eq!(host.response_chunk, answer);
    host.now += MS;
    let reads = host.property_reads.get();
    stream.on_log(&mut host);
    assert_eq!(host.property_reads.get(), reads, "a complete 200 needs no code_details");
    assert!(host.dispatched.is_empty(), "nothing leaves before the tick");
    root.tick(&mut host);
    assert!(host.dispatched.is_empty(), "nor before the flush interval");
    host.now += 100 * MS;
    root.tick(&mut host);
    let spans = exported_spans(&host);
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].name, "chat gpt-4o");
    assert_eq!(attr(&spans[0], "gen_ai.response.model"), Some(&Value::StringValue("gpt-4o-2024-08-06".into())));
    assert_eq!(attr(&spans[0], "gen_ai.usage.output_tokens"), Some(&Value::IntValue(2)));
    assert_eq!(attr(&spans[0], "genai_tap.model.tier"), Some(&Value::StringValue("frontier".into())));
    assert_eq!(attr(&spans[0], "gen_ai.system"), None, "the compatibility name is off by default");
    assert_eq!(host.metric("genai_tap.provider.openai.model.gpt-4o-2024-08-06.operation.chat.route.llm.outcome.completed.llm_calls"), Some(1));
    assert_eq!(host.metric("genai_tap.calls_in_flight"), Some(0), "up then down");
    assert_eq!(host.metric("genai_tap.vm_memory_bytes"), Some(1 << 20));
    root.done(&mut host);
    assert_eq!(host.metric("genai_tap.vm_memory_bytes"), Some(0), "a VM that goes takes its share");
}

#[test]
fn a_secret_gets_the_local_reply_and_a_warning_without_the_secret() {
    let (mut root, mut host) = configured(COLLECTOR);
    let mut stream = root.stream(&mut host).expect("stream");
    host.request_headers = chat_headers();
    assert_eq!(stream.on_request_headers(&mut host, false), Action::Continue, "headers never wait for the guard");
    let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"key AKIAZ7QW4XJ2LBNM5K3P"}]}"#;
    host.request_chunk = body.to_vec();
    assert_eq!(stream.on_request_body(&mut host, body.len(), true), Action::Pause);
    assert!(host.request_chunk.is_empty(), "the chunk holding the secret never leaves");
    assert_eq!(host.replies.len(), 1);
    assert_eq!(host.replies[0].0, 403);
    let reply = String::from_utf8_lossy(&host.replies[0].1).into_owned();
    assert!(reply.contains("aws-access-key-id") && !reply.contains("AKIAZ7QW4XJ2LBNM5K3P"), "{reply}");
    stream.on_log(&mut host);
    let warning = host.logs.iter().find(|(l, _)| *l == Level::Warn).map(|(_, m)| m.clone()).expect("a warning");
    assert!(warning.contains("aws-access-key-id") && !warning.contains("AKIA"), "{warning}");
    root.tick(&mut host);
    assert_eq!(host.metric("genai_tap.rule.aws-access-key-id.guard_blocks"), Some(1));
}

#[test]
fn a_response_the_guard_rewrites_is_replaced_and_loses_its_length() {
    let (root, mut host) = configured(r#"{"collector":{"cluster":"otel","authority":"c"},"pii":{"response":"redact"}}"#);
    let mut stream = root.stream(&mut host).expect("stream");
    host.request_headers = chat_headers();
    stream.on_request_headers(&mut host, false);
    host.request_chunk = br#"{"model":"gpt-4o","messages":[]}"#.to_vec();
    let n = host.request_chunk.len();
    stream.on_request_body(&mut host, n, true);
    host.response_headers = headers(&[(":status", "200"), ("content-type", "application/json"), ("content-length", "80")]);
    stream.on_response_headers(&mut host, false);
    assert!(!host.response_headers.iter().any(|(k, _)| k == "content-length"), "{:?}", host.response_headers);
    let answer = br#"{"choices":[{"message":{"content":"write to jane.doe@example.com"}}]}"#;
    host.response_chunk = answer.to_vec();
    stream.on_response_body(&mut host, answer.len(), true);
    let out = String::from_utf8_lossy(&host.response_chunk).into_owned();
    assert!(out.contains("[REDACTED:EMAIL]") && !out.contains("jane.doe"), "{out}");
    serde_json::from_str::<serde_json::Value>(&out).expect("still JSON");
}

#[test]
fn an_unobserved_call_costs_no_body_reads_and_no_span() {
    let (mut root, mut host) = configured(COLLECTOR);
    let mut stream = root.stream(&mut host).expect("stream");
    host.request_headers = headers(&[(":method", "GET"), (":authority", "example.com"), (":path", "/")]);
    assert_eq!(stream.on_request_headers(&mut host, true), Action::Continue);
    assert_eq!(host.request_headers.len(), 3, "no header touched");
    host.response_headers = headers(&[(":status", "200")]);
    stream.on_response_headers(&mut host, false);
    host.response_chunk = b"<html>".to_vec();
    stream.on_response_body(&mut host, 6, true);
    stream.on_log(&mut host);
    root.tick(&mut host);
    assert!(exported_spans(&host).is_empty());
    assert_eq!(host.metric("genai_tap.calls_in_flight"), None, "never counted");
}

#[test]
fn a_bad_configuration_is_refused_with_the_field_and_without_the_value() {
    let mut host = FakeHost { plugin_configuration: br#"{"max_body_bytes": 3}"#.to_vec(), ..FakeHost::default() };
    let mut root = Root::default();
    assert!(!root.configure(&mut host));
    let (level, line) = host.logs.last().expect("a log line");
    assert_eq!(*level, Level::Critical);
    assert!(line.contains("max_body_bytes"), "{line}");
    assert!(root.stream(&mut host).is_none(), "no stream without a configuration");
}

#[test]
fn each_exporter_seeds_its_jitter_from_the_host() {
    let before = FakeHost::default().random_calls;
    let (_root, host) = configured(r#"{"collector":{"cluster":"otel","authority":"c"},"content":{"capture":{"enabled":true,"cluster":"cap","authority":"c"}}}"#);
    // traces, spec-gap records and captured content: three exporters, three seeds; and the
    // proxy's instance id, which the fake host's Envoy (no node id) does not name
    assert_eq!(host.random_calls - before, 4);
}

#[test]
fn a_refused_dispatch_is_logged_and_retried_not_lost_silently() {
    let (mut root, mut host) = configured(COLLECTOR);
    host.unknown_clusters.push("otel".into());
    let mut stream = root.stream(&mut host).expect("stream");
    host.request_headers = chat_headers();
    stream.on_request_headers(&mut host, true);
    stream.on_log(&mut host);
    host.now += 100 * MS;
    root.tick(&mut host);
    assert!(host.logs.iter().any(|(l, m)| *l == Level::Warn && m.contains("dispatch")), "{:?}", host.logs);
    host.unknown_clusters.clear();
    for _ in 0..50 {
        host.now += 200 * MS;
        root.tick(&mut host);
    }
    assert_eq!(exported_spans(&host).len(), 1, "the retry delivered it");
}

#[test]
fn sessions_off_writes_no_shared_data() {
    let (root, mut host) = configured(r#"{"collector":{"cluster":"otel","authority":"c"},"sessions":{"enabled":false}}"#);
    let mut stream = root.stream(&mut host).expect("stream");
    host.request_headers = chat_headers();
    host.request_headers.push(("x-agent-session-id".into(), "s-1".into()));
    stream.on_request_headers(&mut host, false);
    host.request_chunk = br#"{"model":"gpt-4o","messages":[]}"#.to_vec();
    let n = host.request_chunk.len();
    stream.on_request_body(&mut host, n, true);
    host.response_headers = headers(&[(":status", "200"), ("content-type", "application/json")]);
    stream.on_response_headers(&mut host, false);
    let answer = br#"{"id":"c","model":"gpt-4o","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]}}]}"#;
    host.response_chunk = answer.to_vec();
    stream.on_response_body(&mut host, answer.len(), true);
    stream.on_log(&mut host);
    // only the proxy's own identity: no session, task or tool-link slot
    assert_eq!(host.shared.keys().collect::<Vec<_>>(), ["genai_tap.instance_id"]);
}

#[test]
fn a_response_ended_by_trailers_is_still_read_and_finished() {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    let (mut root, mut host) = configured(r#"{"collector":{"cluster":"otel","authority":"c","flush_interval_ms":100},"secrets":{"mode":"observe"}}"#);
    let mut stream = root.stream(&mut host).expect("stream");
    host.request_headers = chat_headers();
    stream.on_request_headers(&mut host, false);
    host.request_chunk = br#"{"model":"gpt-4o","stream":true,"messages":[]}"#.to_vec();
    let n = host.request_chunk.len();
    stream.on_request_body(&mut host, n, true);
    host.response_headers = headers(&[(":status", "200"), ("content-type", "text/event-stream")]);
    stream.on_response_headers(&mut host, false);
    let events = "data: {\"id\":\"c\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n";
    host.response_chunk = events.as_bytes().to_vec();
    // a later filter added trailers: the body never says end_of_stream
    stream.on_response_body(&mut host, events.len(), false);
    assert_eq!(stream.on_response_trailers(&mut host), Action::Continue);
    stream.on_log(&mut host);
    host.now += 100 * MS;
    root.tick(&mut host);
    let spans = exported_spans(&host);
    assert_eq!(attr(&spans[0], "genai_tap.outcome"), Some(&Value::StringValue("completed".into())));
    assert_eq!(attr(&spans[0], "gen_ai.usage.input_tokens"), Some(&Value::IntValue(3)));
}

#[test]
fn a_collector_answer_settles_the_batch_and_is_counted() {
    let (mut root, mut host) = configured(COLLECTOR);
    let mut stream = root.stream(&mut host).expect("stream");
    host.request_headers = chat_headers();
    stream.on_request_headers(&mut host, true);
    stream.on_log(&mut host);
    host.now += 100 * MS;
    root.tick(&mut host);
    assert_eq!(host.dispatched.len(), 1);
    host.call_response_headers = headers(&[(":status", "200")]);
    root.call_response(&mut host, 1, 0);
    assert_eq!(host.metric("genai_tap.export_spans_exported"), Some(1));
    assert_eq!(host.metric("genai_tap.result.ok.export_requests"), Some(1));
    // an answer for a token the root never dispatched changes nothing
    root.call_response(&mut host, 99, 0);
    assert_eq!(host.metric("genai_tap.export_spans_exported"), Some(1));
}

#[test]
fn every_call_is_decided_from_one_read_of_the_header_map() {
    let (mut root, mut host) = configured(COLLECTOR);
    // a non-LLM path on the provider's host: one map read decides it, and nothing else is
    // asked of the host for the rest of the call
    host.request_headers = headers(&[
        (":method", "GET"),
        (":authority", "api.openai.com"),
        (":path", "/v1/files"),
        ("user-agent", "agent/1.0"),
        ("accept", "*/*"),
        ("x-request-id", "r-1"),
        ("cookie", "a=b"),
    ]);
    let mut stream = root.stream(&mut host).expect("configured");
    host.take_calls();
    assert_eq!(stream.on_request_headers(&mut host, true), Action::Continue);
    assert_eq!(host.take_calls(), BTreeMap::from([("get_map", 1)]));
    stream.on_log(&mut host);
    host.now += 200 * MS;
    root.tick(&mut host);
    assert!(exported_spans(&host).is_empty());
    // yet it is counted as the provider's traffic passed through unread
    assert_eq!(host.metric("genai_tap.api.openai_files.unobserved_calls"), Some(1), "{:?}", host.metric_ids.keys().collect::<Vec<_>>());

    // an LLM call reads the same map once, and the exchange is given that map
    host.request_map_reads.set(0);
    let mut stream = root.stream(&mut host).expect("configured");
    host.request_headers = chat_headers();
    stream.on_request_headers(&mut host, false);
    assert_eq!(host.request_map_reads.get(), 1);
    assert!(!host.take_calls().contains_key("get_map_value"));

    // MCP by its header alone is still observed: the probe finds it in the map
    host.request_map_reads.set(0);
    let mut stream = root.stream(&mut host).expect("configured");
    host.request_headers = headers(&[
        (":method", "POST"),
        (":authority", "tools.internal"),
        (":path", "/rpc"),
        ("mcp-session-id", "s-1"),
    ]);
    stream.on_request_headers(&mut host, false);
    assert_eq!(host.request_map_reads.get(), 1);
    host.request_chunk = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"lookup","arguments":{}}}"#.to_vec();
    let n = host.request_chunk.len();
    stream.on_request_body(&mut host, n, true);
    host.response_headers = headers(&[(":status", "200"), ("content-type", "application/json")]);
    stream.on_response_headers(&mut host, false);
    host.response_chunk = br#"{"jsonrpc":"2.0","id":1,"result":{"content":[]}}"#.to_vec();
    let n = host.response_chunk.len();
    stream.on_response_body(&mut host, n, true);
    stream.on_log(&mut host);
    host.now += 200 * MS;
    root.tick(&mut host);
    let names: Vec<String> = exported_spans(&host).into_iter().map(|s| s.name).collect();
    assert!(names.iter().any(|n| n.contains("lookup")), "{names:?}");
}

/// The log records in every logs export the root dispatched.
fn exported_logs(host: &FakeHost) -> Vec<opentelemetry_proto::tonic::logs::v1::LogRecord> {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    host.dispatched
        .iter()
        .filter(|(c, h, _)| c == "otel" && h.iter().any(|(k, v)| k == ":path" && v == "/v1/logs"))
        .flat_map(|(_, _, body)| ExportLogsServiceRequest::decode(body.as_slice()).expect("OTLP protobuf").resource_logs)
        .flat_map(|r| r.scope_logs)
        .flat_map(|s| s.log_records)
        .collect()
}

/// One chat call of `task` through a stream: `input`/`output` tokens, extra request headers.
fn task_call(root: &Root, host: &mut FakeHost, task: &str, extra: &[(&str, &str)], input: u64, output: u64) {
    let mut stream = root.stream(host).expect("stream");
    host.request_headers = chat_headers();
    host.request_headers.push(("x-agent-task-id".into(), task.into()));
    host.request_headers.push(("x-agent-spec-version".into(), "spec-3".into()));
    for (k, v) in extra {
        host.request_headers.push((k.to_string(), v.to_string()));
    }
    stream.on_request_headers(host, false);
    host.request_chunk = br#"{"model":"gpt-4o","messages":[]}"#.to_vec();
    let n = host.request_chunk.len();
    stream.on_request_body(host, n, true);
    host.now += 10 * MS;
    host.response_headers = headers(&[(":status", "200"), ("content-type", "application/json")]);
    stream.on_response_headers(host, false);
    let answer = format!(r#"{{"id":"c","model":"gpt-4o-2024-08-06","choices":[{{"index":0,"finish_reason":"stop","message":{{"role":"assistant","content":"ok"}}}}],"usage":{{"prompt_tokens":{input},"completion_tokens":{output}}}}}"#);
    host.response_chunk = answer.clone().into_bytes();
    stream.on_response_body(host, answer.len(), true);
    stream.on_log(host);
}

fn int_attr(span: &opentelemetry_proto::tonic::trace::v1::Span, key: &str) -> i64 {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    match attr(span, key) {
        Some(Value::IntValue(v)) => *v,
        other => panic!("{key}: {other:?}"),
    }
}

fn str_attr<'a>(span: &'a opentelemetry_proto::tonic::trace::v1::Span, key: &str) -> &'a str {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    match attr(span, key) {
        Some(Value::StringValue(v)) => v,
        other => panic!("{key}: {other:?}"),
    }
}

const TASKS: &str = r#"{"collector":{"cluster":"otel","authority":"c","flush_interval_ms":100},"sessions":{"task_idle_timeout_ms":5000},"compat":{"gen_ai_system":true},"model_tiers":{"gpt-4o*":"mid"}}"#;

#[test]
fn an_idle_task_is_ended_on_the_tick_once_whichever_worker_looks() {
    let (mut root, mut host) = configured(TASKS);
    // a second worker: its own root, the same shared data
    let (mut root2, mut host2) = configured(TASKS);
    task_call(&root, &mut host, "task-idle", &[], 100, 20);
    host2.shared = host.shared.clone();
    host2.now = host.now;
    task_call(&root2, &mut host2, "task-idle", &[], 50, 5);
    host.shared = host2.shared.clone();
    // both workers watch the slot; before the timeout neither ends it
    host.now += 4000 * MS;
    root.tick(&mut host);
    host.now += 200 * MS;
    root.tick(&mut host);
    assert!(exported_spans(&host).iter().all(|s| s.name != "invoke_agent"), "not idle yet");
    host.now += 2000 * MS;
    root.tick(&mut host);
    host.now += 200 * MS;
    root.tick(&mut host);
    let tasks: Vec<_> = exported_spans(&host).into_iter().filter(|s| s.name == "invoke_agent").collect();
    assert_eq!(tasks.len(), 1);
    let t = &tasks[0];
    assert_eq!(t.kind, 1, "INTERNAL");
    assert_eq!(str_attr(t, "gen_ai.operation.name"), "invoke_agent");
    assert_eq!(str_attr(t, "genai_tap.task.outcome"), "timed_out");
    assert_eq!(str_attr(t, "genai_tap.task.end_reason"), "idle");
    assert_eq!(str_attr(t, "genai_tap.spec.version"), "spec-3");
    assert_eq!((int_attr(t, "genai_tap.task.llm_calls"), int_attr(t, "gen_ai.usage.input_tokens"), int_attr(t, "gen_ai.usage.output_tokens")), (2, 150, 25));
    assert_eq!(t.links.len(), 2, "linked to both call spans");
    let logs = exported_logs(&host);
    let rec: Vec<_> = logs.iter().filter(|l| l.event_name == "genai_tap.task.record").collect();
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].span_id, t.span_id);
    assert_eq!(host.metric("genai_tap.outcome.timed_out.spec_version.spec-3.tasks"), Some(1));
    // the other worker, later, learns from the slot that the task was emitted
    host2.shared = host.shared.clone();
    host2.now = host.now + 1000 * MS;
    root2.tick(&mut host2);
    host2.now += 200 * MS;
    root2.tick(&mut host2);
    assert!(exported_spans(&host2).iter().all(|s| s.name != "invoke_agent"));
    assert_eq!(host2.metric("genai_tap.outcome.timed_out.spec_version.spec-3.tasks"), None);
}

#[test]
fn the_end_header_emits_the_record_with_the_call_and_the_tick_flags_a_runaway_task() {
    let (mut root, mut host) = configured(TASKS);
    task_call(&root, &mut host, "task-b", &[("x-agent-task-budget-ms", "1000")], 10, 1);
    // a long call is running, no call arrives: the tick flags the task on time
    host.now += 1500 * MS;
    root.tick(&mut host);
    assert_eq!(host.metric("genai_tap.tasks_over_budget"), None, "1.5x is within 2x");
    // the tick looks at tasks once a second
    host.now += 1000 * MS;
    root.tick(&mut host);
    assert_eq!(host.metric("genai_tap.tasks_over_budget"), Some(1), "flagged while it still runs");
    host.now += 1200 * MS;
    root.tick(&mut host);
    task_call(&root, &mut host, "task-b", &[("x-agent-task-end", "surfaced")], 5, 2);
    assert_eq!(host.metric("genai_tap.tasks_over_budget"), Some(1), "counted once per task");
    host.now += 200 * MS;
    root.tick(&mut host);
    let tasks: Vec<_> = exported_spans(&host).into_iter().filter(|s| s.name == "invoke_agent").collect();
    assert_eq!(tasks.len(), 1);
    let t = &tasks[0];
    assert_eq!(str_attr(t, "genai_tap.task.outcome"), "surfaced");
    assert_eq!(str_attr(t, "genai_tap.task.end_reason"), "header");
    let calls: Vec<_> = exported_spans(&host).into_iter().filter(|s| s.name == "chat gpt-4o").collect();
    assert_eq!(calls.len(), 2);
    for c in &calls {
        assert_eq!(str_attr(c, "gen_ai.system"), "openai", "compat on");
        assert_eq!(str_attr(c, "gen_ai.provider.name"), "openai");
        assert_eq!(str_attr(c, "genai_tap.model.tier"), "mid", "the configured map wins");
    }
    assert_eq!(int_attr(t, "gen_ai.usage.input_tokens"), 15);
    assert_eq!(attr(t, "genai_tap.task.over_budget"), Some(&opentelemetry_proto::tonic::common::v1::any_value::Value::BoolValue(true)));
    assert_eq!(host.metric("genai_tap.outcome.surfaced.spec_version.spec-3.tasks"), Some(1));
    // nothing is left to watch: a later idle check emits nothing more
    host.now += 60_000 * MS;
    root.tick(&mut host);
    host.now += 200 * MS;
    root.tick(&mut host);
    assert_eq!(exported_spans(&host).into_iter().filter(|s| s.name == "invoke_agent").count(), 1);
}

/// Trailers end a body without `end_of_stream`: the host never writes a body from their
/// callback (Envoy refuses, and the SDK would panic), and answers with a reply where the
/// guard could not let the body leave whole.
#[test]
fn trailers_never_write_a_body_and_a_held_tail_gets_a_reply() {
    let (mut root, mut host) = configured(r#"{"collector":{"cluster":"otel","authority":"c","flush_interval_ms":100},"pii":{"mode":"redact"}}"#);
    // chunked (no content-length): the guard holds the tail of the last chunk
    let mut stream = root.stream(&mut host).expect("stream");
    host.request_headers = chat_headers();
    stream.on_request_headers(&mut host, false);
    let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}]}"#;
    host.request_chunk = body.to_vec();
    assert_eq!(stream.on_request_body(&mut host, body.len(), false), Action::Continue);
    assert!(host.request_chunk.len() < body.len(), "the tail is held");
    host.refuse_body_writes = true;
    assert_eq!(stream.on_request_trailers(&mut host), Action::Pause);
    assert_eq!(host.replies.len(), 1);
    assert_eq!(host.replies[0].0, 500);
    stream.on_log(&mut host);
    host.now += 100 * MS;
    root.tick(&mut host);
    assert_eq!(host.metric("genai_tap.result.refused.guard_request_trailers"), Some(1));

    // with content-length the last chunk carries everything, and the trailers change nothing
    host.refuse_body_writes = false;
    host.replies.clear();
    let mut stream = root.stream(&mut host).expect("stream");
    host.request_headers = chat_headers();
    host.request_headers.push(("content-length".into(), body.len().to_string()));
    stream.on_request_headers(&mut host, false);
    host.request_chunk = body.to_vec();
    assert_eq!(stream.on_request_body(&mut host, body.len(), false), Action::Continue);
    assert_eq!(host.request_chunk, body, "released whole at its declared length");
    host.refuse_body_writes = true;
    assert_eq!(stream.on_request_trailers(&mut host), Action::Continue);
    // the response: a JSON answer held whole, released once whole, before the trailers
    host.refuse_body_writes = false;
    host.response_headers = headers(&[(":status", "200"), ("content-type", "application/json")]);
    stream.on_response_headers(&mut host, false);
    let answer = br#"{"id":"c","model":"gpt-4o","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"ok"}}]}"#;
    let (a, b) = answer.split_at(30);
    host.response_chunk = a.to_vec();
    stream.on_response_body(&mut host, a.len(), false);
    assert!(host.response_chunk.is_empty(), "held until whole");
    host.response_chunk = b.to_vec();
    stream.on_response_body(&mut host, b.len(), false);
    assert_eq!(host.response_chunk, answer, "released with the chunk that closes it, before the trailers");
    host.response_chunk = Vec::new();
    stream.on_response_body(&mut host, 0, false);
    assert!(host.response_chunk.is_empty());
    host.refuse_body_writes = true;
    assert_eq!(stream.on_response_trailers(&mut host), Action::Continue);
    assert!(host.replies.is_empty());
    stream.on_log(&mut host);
    host.now += 100 * MS;
    root.tick(&mut host);
    assert_eq!(host.metric("genai_tap.result.released.guard_request_trailers"), Some(1));
    assert_eq!(host.metric("genai_tap.result.released.guard_response_trailers"), Some(1));
}

/// `service.instance.id` of every exported batch.
fn instance_ids(host: &FakeHost) -> Vec<String> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    host.dispatched
        .iter()
        .filter(|(c, h, _)| c == "otel" && !h.iter().any(|(k, v)| k == ":path" && v == "/v1/logs"))
        .flat_map(|(_, _, body)| ExportTraceServiceRequest::decode(body.as_slice()).expect("OTLP protobuf").resource_spans)
        .filter_map(|r| r.resource?.attributes.into_iter().find(|a| a.key == "service.instance.id")?.value?.value)
        .map(|v| match v {
            Value::StringValue(s) => s,
            other => format!("{other:?}"),
        })
        .collect()
}

fn one_call(root: &Root, host: &mut FakeHost) {
    let mut stream = root.stream(host).expect("stream");
    host.request_headers = chat_headers();
    stream.on_request_headers(host, true);
    stream.on_log(host);
}

#[test]
fn the_node_id_a_stream_reads_replaces_the_generated_instance_id_before_export() {
    // Envoy 1.40 answers no node property at configure time
    let (mut root, mut host) = configured(COLLECTOR);
    let generated = String::from_utf8(host.shared["genai_tap.instance_id"].0.clone()).unwrap();
    assert_eq!(generated.len(), 32);
    // the first stream can read it: the first batch already carries it
    host.properties.insert("node.id".into(), b"sidecar~10.0.0.7~agent-1.ns~ns.svc.cluster.local".to_vec());
    let r0 = host.property_reads.get();
    one_call(&root, &mut host);
    let r1 = host.property_reads.get();
    one_call(&root, &mut host);
    let r2 = host.property_reads.get();
    assert_eq!(r1 - r0, r2 - r1 + 1, "the node id is read once per VM, not per call");
    for _ in 0..5 {
        host.now += 200 * MS;
        root.tick(&mut host);
    }
    assert_eq!(instance_ids(&host), ["sidecar~10.0.0.7~agent-1.ns~ns.svc.cluster.local"]);
}

#[test]
fn without_a_node_id_the_proxy_keeps_one_generated_id_and_configuration_wins() {
    let (mut root, mut host) = configured(COLLECTOR);
    one_call(&root, &mut host);
    // another worker generated its own at the same instant, and shared data kept that one
    host.shared.insert("genai_tap.instance_id".into(), (b"0123456789abcdef0123456789abcdef".to_vec(), 9));
    for _ in 0..10 {
        host.now += 200 * MS;
        root.tick(&mut host);
    }
    assert_eq!(instance_ids(&host), ["0123456789abcdef0123456789abcdef"]);
    let (mut root, mut host) = configured(r#"{"collector":{"cluster":"otel","authority":"c","flush_interval_ms":100},"service_instance_id":"gw-a"}"#);
    host.properties.insert("node.id".into(), b"ignored".to_vec());
    one_call(&root, &mut host);
    host.now += 200 * MS;
    root.tick(&mut host);
    assert_eq!(instance_ids(&host), ["gw-a"]);
    assert!(!host.shared.contains_key("genai_tap.instance_id"), "a configured id generates nothing");
}
