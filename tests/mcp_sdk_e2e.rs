//! The official `mcp` Python SDK (PyPI, installed by `make mcp-sdk`) as a real client and a real
//! server, talking through the real Envoy with genai-tap, in both protocol generations.
// Test code: a failed unwrap or panic is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use genai_tap_testkit::envoy::{free_port, repo_root, Envoy, EnvoyConfig};
use genai_tap_testkit::sink::OtlpSink;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn python() -> std::path::PathBuf {
    let p = repo_root().join(".tools/mcp-venv/bin/python");
    assert!(p.exists(), "the mcp SDK is not installed: run `make mcp-sdk` (make test does)");
    p
}

fn run_client(listen: u16, mode: &str) -> serde_json::Value {
    let out = Command::new(python())
        .arg(repo_root().join("tests/python/mcp_client.py"))
        .arg(format!("http://127.0.0.1:{listen}/mcp"))
        .arg(mode)
        .output()
        .unwrap();
    assert!(out.status.success(), "client ({mode}) failed:\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(out.stdout.trim_ascii()).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn e2e_the_official_mcp_sdk_through_envoy_in_both_protocol_generations() {
    let server_port = free_port();
    let _server = Proc(
        Command::new(python())
            .arg(repo_root().join("tests/python/mcp_server.py"))
            .arg(server_port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", server_port)).is_err() {
        assert!(Instant::now() < deadline, "the MCP server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let sink = OtlpSink::start(0).unwrap();
    let cfg = EnvoyConfig::new(server_port, sink.port, &EnvoyConfig::default_plugin_config(sink.port));
    let envoy = Envoy::start(&cfg).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));

    for (mode, version, first) in [("legacy", "2025-11-25", "initialize"), ("auto", "2026-07-28", "server/discover")] {
        let before = sink.spans().len();
        let got = run_client(envoy.listener_port, mode);
        assert_eq!(got["tools"], serde_json::json!(["add", "get_weather"]), "{mode}");
        assert_eq!(got["add"], serde_json::json!(["42"]), "{mode}");
        // spans of this session: the handshake, tools/list and two tools/call
        let deadline = Instant::now() + Duration::from_secs(10);
        let spans = loop {
            let all = sink.spans();
            let mine: Vec<_> = all[before..].to_vec();
            if mine.iter().filter(|s| s.name.starts_with("tools/call")).count() >= 2 || Instant::now() > deadline {
                break mine;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
        assert!(names.contains(&first), "{mode}: {names:?}");
        assert!(names.contains(&"tools/list"), "{mode}: {names:?}");
        let call = spans.iter().find(|s| s.name == "tools/call get_weather").unwrap_or_else(|| panic!("{mode}: {names:?}"));
        assert_eq!(call.str("gen_ai.tool.name"), Some("get_weather"));
        assert_eq!(call.str("gen_ai.operation.name"), Some("execute_tool"));
        assert_eq!(call.str("mcp.protocol.version"), Some(version), "{mode}: {:?}", call.attributes);
        assert_eq!(call.str("genai_tap.tool.authorization"), Some("allowed"));
        if mode == "legacy" {
            assert!(call.str("mcp.session.id").is_some(), "legacy sessions have an id: {:?}", call.attributes);
        }
        let add = spans.iter().find(|s| s.name == "tools/call add").unwrap();
        assert_eq!(add.attr("genai_tap.tool.result.content_types"), Some(&serde_json::json!(["text"])));
    }
    assert!(envoy.prom("genai_tap_tool_calls", &[("tool", "get_weather"), ("kind", "mcp")]) >= 2.0);
}
