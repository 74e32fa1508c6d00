//! Cohorts through the real Envoy and the real Prometheus: tasks of two spec versions, compared
//! by PromQL over the labels `envoy/stats_config.yaml` extracts; and per-tier cost.
// Test code: a failed unwrap or panic is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use genai_tap_testkit::envoy::{Envoy, EnvoyConfig};
use genai_tap_testkit::prometheus::Prometheus;
use genai_tap_testkit::sink::OtlpSink;
use genai_tap_testkit::upstream::Upstream;
use std::time::{Duration, Instant};

fn send(envoy: &Envoy, name: &str, headers: &[(&str, &str)]) {
    assert_eq!(envoy.send_fixture(name, headers).status, 200, "{name}");
}

#[test]
fn e2e_two_spec_versions_compared_by_promql() {
    let upstream = Upstream::start(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let cfg = format!(r#"{{"collector":{{"cluster":"otel_collector","authority":"127.0.0.1:{}"}}}}"#, sink.port);
    let envoy = Envoy::start(&EnvoyConfig::new(upstream.port(), sink.port, &cfg)).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));
    // spec-1: one task accepted first time, one the agent surfaced; spec-2: three accepted
    let script: [(&str, &str, &str); 5] = [("spec-1", "t1", "completed"), ("spec-1", "t2", "surfaced"), ("spec-2", "t3", "completed"), ("spec-2", "t4", "completed"), ("spec-2", "t5", "completed")];
    for (spec, task, end) in script {
        let base = [("x-agent-spec-version", spec), ("x-agent-version", "a-9"), ("x-agent-task-id", task)];
        send(&envoy, "openai/chat_basic", &base);
        let mut last = base.to_vec();
        last.push(("x-agent-task-end", end));
        send(&envoy, "openai/chat_prompt_caching_hit", &last);
    }
    let prom = Prometheus::scrape(envoy.admin_port);
    assert_eq!(prom.wait_for("sum(genai_tap_tasks)", 5.0, Duration::from_secs(30)), Some(5.0));
    // the comparison an operator runs after a spec change: first-pass acceptance per version
    let rate = |spec: &str| {
        prom.query(&format!(r#"sum(genai_tap_tasks_first_pass{{spec_version="{spec}"}}) / sum(genai_tap_tasks{{spec_version="{spec}"}})"#))
    };
    assert_eq!(rate("spec-1"), Some(0.5));
    assert_eq!(rate("spec-2"), Some(1.0));
    assert_eq!(prom.query(r#"sum(genai_tap_tasks{spec_version="spec-1",outcome="surfaced"})"#), Some(1.0));
    assert_eq!(prom.query(r#"sum(genai_tap_cohort_calls{spec_version="spec-2",agent_version="a-9"})"#), Some(6.0));
    assert_eq!(prom.query("count(count by (spec_version) (genai_tap_cohort_calls))"), Some(2.0));
    // per-tier cost adds up to the cost by model: gpt-3.5-turbo ($0.50/M input) is mid,
    // gpt-4o-mini ($0.15/M) small
    let cost = |m: &str| prom.query(&format!(r#"sum(genai_tap_llm_cost_micro_usd{{model=~"{m}.*"}})"#)).expect("cost");
    let (mid, small) = (cost("gpt-3.5"), cost("gpt-4o-mini"));
    assert!(mid > 0.0 && small > 0.0);
    assert_eq!(prom.query(r#"sum(genai_tap_tier_cost_micro_usd{tier="mid"})"#), Some(mid));
    assert_eq!(prom.query(r#"sum(genai_tap_tier_cost_micro_usd{tier="small"})"#), Some(small));
}

/// The active spec and model versions: a gauge series per version, 1 while calls carried it
/// within `stats.active_version_window_ms`, then 0; read through the real Prometheus.
#[test]
fn e2e_active_versions_are_gauges_that_leave_the_window() {
    let upstream = Upstream::start(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let cfg = format!(r#"{{"collector":{{"cluster":"otel_collector","authority":"127.0.0.1:{}"}},"stats":{{"active_version_window_ms":3000}}}}"#, sink.port);
    let c = EnvoyConfig::new(upstream.port(), sink.port, &cfg);
    // two workers: each sets the gauges from the proxy-wide record, so they agree
    let envoy = Envoy::start_edited(&c, &["--concurrency", "2"], |yaml| yaml).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));
    let prom = Prometheus::scrape(envoy.admin_port);
    let active = |q: &str| prom.query(q);
    // both versions in use until Prometheus (slow to start on a busy machine) has seen them
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        send(&envoy, "openai/chat_basic", &[("x-agent-spec-version", "spec-2026.10")]);
        send(&envoy, "openai/chat_prompt_caching_hit", &[("x-agent-spec-version", "spec-2026.11")]);
        if Instant::now() > deadline || active("count(genai_tap_active_spec_version == 1)") == Some(2.0) && active("count(genai_tap_active_model_version == 1)") == Some(2.0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(active(r#"genai_tap_active_spec_version{spec_version="spec-2026.10"}"#), Some(1.0));
    assert_eq!(active(r#"genai_tap_active_spec_version{spec_version="spec-2026.11"}"#), Some(1.0));
    // the model version: the model that answered, dots kept
    assert_eq!(active(r#"genai_tap_active_model_version{model="gpt-3.5-turbo-0125"}"#), Some(1.0));
    assert_eq!(active(r#"genai_tap_active_model_version{model="gpt-4o-mini-2024-07-18"}"#), Some(1.0));
    // only spec-2026.11 keeps being used; spec-2026.10 and gpt-3.5 leave the window
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        send(&envoy, "openai/chat_prompt_caching_hit", &[("x-agent-spec-version", "spec-2026.11")]);
        if active("count(genai_tap_active_spec_version == 1)") == Some(1.0) && active("count(genai_tap_active_model_version == 1)") == Some(1.0) || Instant::now() > until {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(active(r#"genai_tap_active_spec_version{spec_version="spec-2026.10"}"#), Some(0.0), "the series stays, at 0");
    assert_eq!(active(r#"genai_tap_active_spec_version{spec_version="spec-2026.11"}"#), Some(1.0));
    assert_eq!(active(r#"genai_tap_active_model_version{model="gpt-3.5-turbo-0125"}"#), Some(0.0));
    // the documented query: the versions active now
    let now = genai_tap_testkit::http::request(prom.port, "GET", "/api/v1/query?query=genai_tap_active_spec_version%20%3D%3D%201", &[], b"", None).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&now.body).unwrap();
    let names: Vec<&str> = v["data"]["result"].as_array().unwrap().iter().filter_map(|r| r["metric"]["spec_version"].as_str()).collect();
    assert_eq!(names, vec!["spec-2026.11"]);
}
