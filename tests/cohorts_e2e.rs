//! Cohorts through the real Envoy and the real Prometheus: tasks of two spec versions, compared
//! by PromQL over the labels `envoy/stats_config.yaml` extracts; and per-tier cost.

use genai_tap_testkit::envoy::{Envoy, EnvoyConfig};
use genai_tap_testkit::prometheus::Prometheus;
use genai_tap_testkit::sink::OtlpSink;
use genai_tap_testkit::upstream::{Fixture, Upstream};
use std::time::Duration;

fn send(envoy: &Envoy, name: &str, headers: &[(&str, &str)]) {
    let fx = Fixture::load(name).unwrap();
    let host = fx.upstream_host();
    let mut h = vec![("host", host.as_str()), ("content-type", "application/json"), ("x-fixture", name)];
    h.extend_from_slice(headers);
    assert_eq!(envoy.send("POST", &fx.request_path(), &h, &fx.request_body()).status, 200);
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
