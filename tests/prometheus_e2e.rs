//! A real Prometheus (Debian's package, on loopback) scrapes the real Envoy, and PromQL returns
//! the token totals that were sent, with labels from `envoy/stats_config.yaml`. Also the label
//! cap: past `stats.max_label_values`, new models become `other`; and model labels keep their
//! dots (`gpt-3.5-turbo-0125`).

use genai_tap_testkit::envoy::{free_port, Envoy, EnvoyConfig, TempDir};
use genai_tap_testkit::sink::OtlpSink;
use genai_tap_testkit::upstream::{Fixture, Upstream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn query(port: u16, promql: &str) -> Option<f64> {
    let q: String = promql.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect();
    let r = genai_tap_testkit::http::request(port, "GET", &format!("/api/v1/query?query={q}"), &[], b"", None).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

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
    let dir = TempDir::new("genai-tap-prom");
    let prom_port = free_port();
    let config = dir.0.join("prometheus.yml");
    std::fs::write(
        &config,
        format!("global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nscrape_configs:\n- job_name: envoy\n  metrics_path: /stats/prometheus\n  static_configs: [{{targets: ['127.0.0.1:{}']}}]\n", envoy.admin_port),
    )
    .unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.0.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus is installed by `make deps`");
    let _prom = Prometheus(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut got = None;
    while Instant::now() < deadline {
        got = query(prom_port, r#"sum(genai_tap_llm_tokens{type="input"})"#);
        if got == Some(input as f64) {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(got, Some(input as f64), "PromQL sum of input tokens");
    // real labels, not names stuffed with values
    assert_eq!(query(prom_port, r#"sum(genai_tap_llm_tokens{provider="anthropic",type="output"})"#), Some(220.0));
    assert_eq!(query(prom_port, r#"sum(genai_tap_llm_calls{outcome="completed",operation="chat"})"#), Some(5.0));
    // the real model name, dots and all: an operator's query for it finds the call
    assert_eq!(query(prom_port, r#"sum(genai_tap_llm_calls{model="gpt-3.5-turbo-0125"})"#), Some(1.0));
    assert_eq!(query(prom_port, r#"sum(genai_tap_llm_tokens{model="gpt-3.5-turbo-0125",type="input"})"#), Some(15.0));
    assert_eq!(query(prom_port, r#"count(genai_tap_llm_calls{model=~".*_.*"})"#), None, "no value has a dot turned into _");
    // the cap: three model values, then "other" for the rest
    let models = query(prom_port, r#"count(count by (model) (genai_tap_llm_calls))"#);
    assert_eq!(models, Some(4.0), "three models and other");
    assert_eq!(query(prom_port, r#"sum(genai_tap_llm_calls{model="other"})"#), Some(2.0));
}
