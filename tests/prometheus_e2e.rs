//! A real Prometheus (Debian's package, on loopback) scrapes the real Envoy, and PromQL returns
//! the token totals that were sent, with labels from `envoy/stats_config.yaml`. Also the label
//! cap: past `stats.max_label_values`, new models become `other`; and model labels keep their
//! dots (`gpt-3.5-turbo-0125`).
// Test code: a failed unwrap or panic is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use genai_tap_testkit::envoy::{Envoy, EnvoyConfig};
use genai_tap_testkit::prometheus::Prometheus;
use genai_tap_testkit::sink::OtlpSink;
use genai_tap_testkit::upstream::{Fixture, Upstream};
use std::time::Duration;

#[test]
fn e2e_prometheus_scrapes_envoy_and_promql_returns_the_tokens_sent() {
    let upstream = Upstream::start(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let cfg = format!(r#"{{"collector":{{"cluster":"otel_collector","authority":"127.0.0.1:{}"}},"stats":{{"max_label_values":3}}}}"#, sink.port);
    let envoy = Envoy::start(&EnvoyConfig::new(upstream.port(), sink.port, &cfg)).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));
    // three recordings with three response models, then more models than the cap allows
    let mut input = 0;
    for name in ["openai/chat_basic", "openai/chat_prompt_caching_hit", "anthropic/messages_basic", "openai/chat_web_search", "openai/chat_structured_output_parse"] {
        let fx = Fixture::load(name).unwrap();
        let r = envoy.send("POST", &fx.request_path(), &[("host", &fx.upstream_host()), ("content-type", "application/json"), ("x-fixture", name)], &fx.request_body());
        assert_eq!(r.status, 200);
        input += fx.expected()["input_tokens"].as_i64().unwrap();
    }
    let prom = Prometheus::scrape(envoy.admin_port);
    let got = prom.wait_for(r#"sum(genai_tap_llm_tokens{type="input"})"#, input as f64, Duration::from_secs(30));
    assert_eq!(got, Some(input as f64), "PromQL sum of input tokens");
    // real labels, not names stuffed with values
    assert_eq!(prom.query(r#"sum(genai_tap_llm_tokens{provider="anthropic",type="output"})"#), Some(220.0));
    assert_eq!(prom.query(r#"sum(genai_tap_llm_calls{outcome="completed",operation="chat"})"#), Some(5.0));
    // the real model name, dots and all: an operator's query for it finds the call
    assert_eq!(prom.query(r#"sum(genai_tap_llm_calls{model="gpt-3.5-turbo-0125"})"#), Some(1.0));
    assert_eq!(prom.query(r#"sum(genai_tap_llm_tokens{model="gpt-3.5-turbo-0125",type="input"})"#), Some(15.0));
    assert_eq!(prom.query(r#"count(genai_tap_llm_calls{model=~".*_.*"})"#), None, "no value has a dot turned into _");
    // the cap: three model values, then "other" for the rest
    let models = prom.query(r#"count(count by (model) (genai_tap_llm_calls))"#);
    assert_eq!(models, Some(4.0), "three models and other");
    assert_eq!(prom.query(r#"sum(genai_tap_llm_calls{model="other"})"#), Some(2.0));
}
