//! A real backend: spans go through the real Envoy to Arize Phoenix (PyPI `arize-phoenix`, on
//! loopback, installed by `make phoenix`), and Phoenix's REST API shows an LLM span with the model
//! and the token counts.
// Test code: a failed unwrap or panic is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use genai_tap_testkit::envoy::{free_port, repo_root, Envoy, EnvoyConfig, TempDir};
use genai_tap_testkit::upstream::{Fixture, Upstream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Phoenix(Child);

impl Drop for Phoenix {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get_json(port: u16, path: &str) -> Option<serde_json::Value> {
    let r = genai_tap_testkit::http::request(port, "GET", path, &[], b"", None).ok()?;
    serde_json::from_slice(&r.body).ok()
}

#[test]
fn e2e_phoenix_shows_an_llm_span_with_the_model_and_the_tokens() {
    let bin = repo_root().join(".tools/phoenix-venv/bin/phoenix");
    assert!(bin.exists(), "Phoenix is not installed: run `make phoenix` (make test does)");
    let dir = TempDir::new("genai-tap-phoenix");
    let (port, grpc) = (free_port(), free_port());
    let child = Command::new(&bin)
        .arg("serve")
        .env("PHOENIX_HOST", "127.0.0.1")
        .env("PHOENIX_PORT", port.to_string())
        .env("PHOENIX_GRPC_PORT", grpc.to_string())
        .env("PHOENIX_WORKING_DIR", &dir.0)
        .env("PHOENIX_TELEMETRY_ENABLED", "false")
        .env("PHOENIX_ALLOW_EXTERNAL_RESOURCES", "false")
        .env("DO_NOT_TRACK", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("phoenix starts");
    let _phoenix = Phoenix(child);
    let deadline = Instant::now() + Duration::from_secs(90);
    while get_json(port, "/v1/projects").is_none() {
        assert!(Instant::now() < deadline, "Phoenix did not come up in 90 s");
        std::thread::sleep(Duration::from_millis(250));
    }

    let upstream = Upstream::start(0).unwrap();
    let cfg = format!(
        r#"{{"service_name":"agents","collector":{{"cluster":"otel_collector","authority":"127.0.0.1:{port}","path":"/v1/traces","encoding":"protobuf","headers":{{"x-project-name":"genai-tap-e2e"}},"flush_interval_ms":100}}}}"#
    );
    let envoy = Envoy::start(&EnvoyConfig::new(upstream.port(), port, &cfg)).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));
    for name in ["openai/chat_basic", "anthropic/messages_tool_use"] {
        let fx = Fixture::load(name).unwrap();
        let r = envoy.send("POST", &fx.request_path(), &[("host", &fx.upstream_host()), ("content-type", "application/json"), ("x-fixture", name)], &fx.request_body());
        assert_eq!(r.status, 200);
    }
    // Phoenix stores spans after answering: poll
    let deadline = Instant::now() + Duration::from_secs(30);
    let spans = loop {
        if let Some(v) = get_json(port, "/v1/projects/genai-tap-e2e/spans") {
            if v["data"].as_array().is_some_and(|a| a.len() >= 2) {
                break v["data"].as_array().cloned().unwrap_or_default();
            }
        }
        assert!(Instant::now() < deadline, "no spans in Phoenix: {}", envoy.admin("/stats/prometheus"));
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(envoy.prom("genai_tap_export_spans_exported", &[]) >= 2.0);
    let openai = spans.iter().find(|s| s["name"] == "chat gpt-3.5-turbo").unwrap_or_else(|| panic!("{spans:#?}"));
    let a = &openai["attributes"];
    let text = serde_json::to_string(openai).unwrap();
    // Phoenix reads the GenAI conventions itself: an LLM span, with its own model and token keys
    assert_eq!(openai["span_kind"], "LLM", "{text}");
    assert_eq!(a["llm.model_name"], "gpt-3.5-turbo", "{text}");
    assert_eq!(a["llm.provider"], "openai", "{text}");
    assert_eq!(a["llm.token_count.prompt"], 15, "{text}");
    assert_eq!(a["llm.token_count.completion"], 19, "{text}");
    assert_eq!(a["gen_ai.response.model"], "gpt-3.5-turbo-0125", "{text}");
    let anthropic = spans.iter().find(|s| s["name"] == "chat claude-3-5-sonnet-20240620").unwrap_or_else(|| panic!("{spans:#?}"));
    assert_eq!(anthropic["span_kind"], "LLM");
    assert_eq!(anthropic["attributes"]["llm.token_count.prompt"], 514);
}
