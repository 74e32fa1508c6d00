//! What we ship loads: every Envoy configuration in `envoy/` validates and starts, the module
//! loads from a remote HTTP source checked by sha256, a changed plugin configuration takes
//! effect in a running Envoy without dropping traffic, and `make run`'s demo shows spans and
//! stats.
// Test code: a failed unwrap or panic is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use genai_tap_testkit::envoy::{free_port, repo_root, wasm_module, Envoy, EnvoyConfig, TempDir};
use genai_tap_testkit::http::{Handler, Reply, Request, Server};
use genai_tap_testkit::sink::OtlpSink;
use genai_tap_testkit::upstream::{Fixture, Upstream};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Every Envoy bootstrap in `envoy/`, by name, with its text.
fn bootstraps() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(repo_root().join("envoy")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|x| x.to_str()) == Some("yaml") {
            let text = std::fs::read_to_string(&p).unwrap();
            if text.contains("static_resources:") {
                out.push((p.file_name().unwrap().to_string_lossy().into_owned(), text));
            }
        }
    }
    out.sort();
    out
}

/// Makes a shipped configuration safe to start here: free loopback ports, the built module by
/// absolute path, and provider clusters pointed at a loopback port (no DNS, no internet).
fn localise(text: &str) -> (String, u16, u16) {
    let (listen, admin) = (free_port(), free_port());
    let mut t = text
        .replace("port_value: 10000", &format!("port_value: {listen}"))
        .replace("port_value: 9901", &format!("port_value: {admin}"))
        .replace("address: 0.0.0.0", "address: 127.0.0.1")
        .replace("filename: dist/genai_tap.wasm", &format!("filename: \"{}\"", wasm_module().display()));
    let closed = free_port();
    for host in ["api.openai.com, port_value: 443", "api.anthropic.com, port_value: 443", "otel-collector, port_value: 4318"] {
        t = t.replace(&format!("address: {host}"), &format!("address: 127.0.0.1, port_value: {closed}"));
    }
    let t = t.replace("type: LOGICAL_DNS", "type: STATIC").replace("type: STRICT_DNS", "type: STATIC");
    (t, listen, admin)
}

#[test]
fn every_envoy_configuration_in_the_repository_validates_and_starts() {
    let configs = bootstraps();
    assert!(configs.iter().any(|(n, _)| n == "demo.yaml") && configs.iter().any(|(n, _)| n == "egress.yaml"), "{:?}", configs.iter().map(|c| &c.0).collect::<Vec<_>>());
    for (name, text) in &configs {
        let (local, listen, admin) = localise(text);
        Envoy::validate(&local).unwrap_or_else(|e| panic!("{name} does not validate:\n{e}"));
        let envoy = Envoy::start_yaml(&local, listen, admin, &["--concurrency", "1"]).unwrap_or_else(|e| panic!("{name}: {}\n{}", e.message, e.log));
        assert!(envoy.log().contains("genai-tap") && envoy.log().contains("configured"), "{name}: the module loaded:\n{}", envoy.log());
        // what we ship should not teach a field Envoy is about to remove (fail_open did)
        assert!(!envoy.log().contains("Deprecated field"), "{name} uses a deprecated field:\n{}", envoy.log());
    }
}

fn serve_file(bytes: Vec<u8>) -> Server {
    let handler: Handler = Arc::new(move |_req: &Request| Reply::Full {
        status: 200,
        headers: vec![("content-type".into(), "application/wasm".into())],
        body: bytes.clone(),
    });
    Server::start(0, handler).unwrap()
}

fn remote_config(upstream: u16, sink: u16, wasm_server: u16, sha256: &str) -> String {
    let base = EnvoyConfig::new(upstream, sink, &EnvoyConfig::default_plugin_config(sink));
    base.render()
        .replace(
            &format!("code: {{local: {{filename: \"{}\"}}}}", wasm_module().display()),
            &format!("code: {{remote: {{http_uri: {{uri: \"http://127.0.0.1:{wasm_server}/genai_tap.wasm\", cluster: wasm_server, timeout: 10s}}, sha256: \"{sha256}\"}}}}"),
        )
        .replace("  clusters:\n", &format!("  clusters:\n  - name: wasm_server\n    type: STATIC\n    connect_timeout: 1s\n    load_assignment:\n      cluster_name: wasm_server\n      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {wasm_server}}}}}}}}}]}}]\n"))
}

fn ports_of(yaml: &str) -> (u16, u16) {
    let port = |marker: &str| -> u16 {
        let i = yaml.find(marker).unwrap();
        let rest = &yaml[i..];
        let j = rest.find("port_value: ").unwrap() + "port_value: ".len();
        rest[j..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
    };
    (port("name: egress"), port("admin:"))
}

#[test]
fn the_module_loads_from_a_remote_http_source_checked_by_sha256() {
    let wasm = std::fs::read(wasm_module()).expect("make build first");
    let digest: String = Sha256::digest(&wasm).iter().map(|b| format!("{b:02x}")).collect();
    let server = serve_file(wasm);
    let upstream = Upstream::start(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let yaml = remote_config(upstream.port(), sink.port, server.port, &digest);
    assert!(yaml.contains("remote:"), "{yaml}");
    let (listen, admin) = ports_of(&yaml);
    let envoy = Envoy::start_yaml(&yaml, listen, admin, &["--concurrency", "1"]).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));
    // the remote fetch is asynchronous: wait until the filter answers for a call
    let fx = Fixture::load("openai/chat_basic").unwrap();
    let ok = envoy.wait_until(Duration::from_secs(15), |e| {
        e.send("POST", "/v1/chat/completions", &[("host", "api.openai.com"), ("x-fixture", "openai/chat_basic")], &fx.request_body());
        !sink.spans().is_empty()
    });
    assert!(ok, "a span from the remotely loaded module:\n{}", envoy.log());
    assert_eq!(sink.spans()[0].int("gen_ai.usage.input_tokens"), Some(15));

    // a wrong checksum: the module is refused
    let bad = remote_config(upstream.port(), sink.port, server.port, &"0".repeat(64));
    let (listen, admin) = ports_of(&bad);
    match Envoy::start_yaml(&bad, listen, admin, &["--concurrency", "1"]) {
        Err(e) => assert!(e.log.to_lowercase().contains("sha256") || e.log.contains("hash"), "{}", e.log),
        Ok(envoy) => {
            std::thread::sleep(Duration::from_secs(2));
            let log = envoy.log();
            assert!(log.to_lowercase().contains("sha256") || log.contains("hash mismatch") || log.contains("failed"), "a checksum mismatch is reported:\n{log}");
            assert!(!log.contains("genai-tap 0.1.0 configured"), "the module must not load:\n{log}");
        }
    }
}

/// The listener in its own LDS file, so a test can change the plugin configuration live.
fn lds_listener(listen: u16, service: &str, sink: u16) -> String {
    format!(
        r#"resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: egress
  address: {{socket_address: {{address: 127.0.0.1, port_value: {listen}}}}}
  filter_chains:
  - filters:
    - name: envoy.filters.network.http_connection_manager
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
        stat_prefix: egress
        route_config:
          virtual_hosts: [{{name: all, domains: ["*"], routes: [{{match: {{prefix: "/"}}, route: {{cluster: upstream}}}}]}}]
        http_filters:
        - name: genai_tap
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
            config:
              name: genai_tap
              root_id: genai_tap
              vm_config:
                vm_id: genai_tap
                runtime: envoy.wasm.runtime.v8
                code: {{local: {{filename: "{wasm}"}}}}
              configuration:
                "@type": type.googleapis.com/google.protobuf.StringValue
                value: '{{"service_name":"{service}","collector":{{"cluster":"otel_collector","authority":"127.0.0.1:{sink}","flush_interval_ms":50}}}}'
        - name: envoy.filters.http.router
          typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
"#,
        wasm = wasm_module().display()
    )
}

#[test]
fn a_changed_plugin_configuration_takes_effect_without_dropping_traffic() {
    let upstream = Upstream::start(0).unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let dir = TempDir::new("genai-tap-lds");
    let (listen, admin) = (free_port(), free_port());
    let lds = dir.0.join("lds.yaml");
    std::fs::write(&lds, lds_listener(listen, "before", sink.port)).unwrap();
    let bootstrap = format!(
        r#"node: {{id: genai-tap-test, cluster: tests}}
admin: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {admin}}}}}}}
dynamic_resources:
  lds_config:
    resource_api_version: V3
    path_config_source: {{path: "{lds}", watched_directory: {{path: "{dir}"}}}}
static_resources:
  clusters:
  - name: upstream
    type: STATIC
    load_assignment: {{cluster_name: upstream, endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {up}}}}}}}}}]}}]}}
  - name: otel_collector
    type: STATIC
    load_assignment: {{cluster_name: otel_collector, endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {sink}}}}}}}}}]}}]}}
"#,
        lds = lds.display(),
        dir = dir.0.display(),
        up = upstream.port(),
        sink = sink.port
    );
    let envoy = Arc::new(Envoy::start_yaml(&bootstrap, listen, admin, &["--concurrency", "2"]).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log)));
    let fx = Fixture::load("openai/chat_basic").unwrap();
    assert!(envoy.wait_until(Duration::from_secs(10), |e| e.send("POST", "/v1/chat/completions", &[("host", "api.openai.com"), ("x-fixture", "openai/chat_basic")], &fx.request_body()).status == 200));

    // traffic runs the whole time; every call must succeed
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let worker = {
        let (stop, sent, failed, body) = (stop.clone(), sent.clone(), failed.clone(), fx.request_body());
        let port = listen;
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let r = genai_tap_testkit::http::request(port, "POST", "/v1/chat/completions", &[("host", "api.openai.com"), ("x-fixture", "openai/chat_basic")], &body, None);
                sent.fetch_add(1, Ordering::Relaxed);
                if !matches!(r, Ok(ref r) if r.status == 200 && r.complete) {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(400));
    // replace the file atomically, as a config management tool would
    let tmp = dir.0.join("lds.yaml.new");
    std::fs::write(&tmp, lds_listener(listen, "after", sink.port)).unwrap();
    std::fs::rename(&tmp, &lds).unwrap();
    let updated = envoy.wait_until(Duration::from_secs(15), |_| sink.spans().iter().any(|s| s.resource.get("service.name").and_then(|v| v.as_str()) == Some("after")));
    std::thread::sleep(Duration::from_millis(400));
    stop.store(true, Ordering::Relaxed);
    worker.join().unwrap();
    assert!(updated, "the new configuration took effect:\n{}", envoy.log());
    let (sent, failed) = (sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert!(sent > 20, "{sent}");
    assert_eq!(failed, 0, "{failed} of {sent} calls failed during the update");
    assert!(envoy.stat("listener_manager.listener_modified") >= 1);
}

/// `make run`'s demo, as a newcomer meets it: the tour's four calls answer as they should, their
/// spans print decoded, the stats show them, and the secret in the tour appears nowhere.
#[test]
fn the_demo_shows_spans_and_stats_within_a_minute() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    for bin in ["genai-tap-upstream", "genai-tap-sink"] {
        assert!(repo_root().join("target/release").join(bin).exists(), "target/release/{bin}: run `make tools`");
    }
    let mut child = Command::new("bash")
        .arg("envoy/run-demo.sh")
        .arg(genai_tap_testkit::envoy::envoy_binary())
        .current_dir(repo_root())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .env("DEMO_EXIT_AFTER", "3")
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut out: Vec<String> = Vec::new();
    let spans = |out: &[String]| out.iter().filter(|l| l.starts_with("── span")).count();
    // the script stops itself (and the demo's processes) a few seconds after the tour
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(l) => out.push(l),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(_) if std::time::Instant::now() > deadline => {
                let _ = child.kill();
                break;
            }
            Err(_) => {}
        }
    }
    let _ = child.wait();
    assert!(spans(&out) >= 4, "four spans printed");
    let text = out.join("\n");
    assert!(out.iter().any(|l| l.contains("demo is up")), "the demo did not come up:\n{text}");
    let status = |label: &str| -> String {
        let line = out.iter().find(|l| l.starts_with(label)).unwrap_or_else(|| panic!("no tour line {label}:\n{text}"));
        line.trim_start_matches(|c: char| c != '.').trim_start_matches(['.', ' ']).to_owned()
    };
    assert_eq!(status("chat completion"), "200");
    assert_eq!(status("streamed chat completion"), "200");
    assert_eq!(status("anthropic message"), "200");
    let blocked = status("a prompt with a secret");
    let (code, reply) = blocked.split_once(' ').unwrap();
    assert_eq!(code, "403");
    let reply: serde_json::Value = serde_json::from_str(reply).unwrap();
    assert_eq!(reply["error"]["type"], "secret_detected");
    assert_eq!(reply["error"]["rule"], "aws-access-key-id");
    // the spans, decoded by the sink
    let names: Vec<&str> = out.iter().filter(|l| l.starts_with("── span")).map(|l| l.as_str()).collect();
    for name in ["chat gpt-3.5-turbo", "chat gpt-5-nano", "chat claude-sonnet-4-5", "chat gpt-4o"] {
        assert!(names.iter().any(|l| l.starts_with(&format!("── span {name} "))), "no span {name}: {names:?}");
    }
    assert!(text.contains("genai_tap.outcome = \"blocked\""), "{text}");
    // the stats, as Prometheus reads them
    assert!(out.iter().any(|l| l.starts_with("genai_tap_llm_calls{") && l.contains("outcome=\"blocked\"} 1")), "{text}");
    assert!(out.iter().any(|l| l.starts_with("genai_tap_guard_blocks{rule=\"aws-access-key-id\"} 1")), "{text}");
    assert!(!text.contains("AKIAZ7QW4XJ2LBNM5K3P"), "the tour's secret leaked into the demo's output");
}

/// A ConfigMap holds at most 1 MiB (Kubernetes' limit on its data).
const CONFIGMAP_LIMIT: u64 = 1024 * 1024;

#[test]
fn no_shipped_configuration_needs_the_header_hold_flag_and_no_manifest_mounts_a_module_too_big() {
    let wasm = std::fs::metadata(wasm_module()).map(|m| m.len()).unwrap_or(0);
    assert!(wasm > 0, "build the module first (make build)");
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for dir in ["envoy", "envoy/istio"] {
        for e in std::fs::read_dir(repo_root().join(dir)).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "yaml") {
                files.push(e.path());
            }
        }
    }
    assert!(files.len() >= 8, "{files:?}");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        // the guard streams; a configuration that sets the flag teaches users what Istio and
        // Envoy Gateway cannot do
        let sets_flag = text.lines().any(|l| !l.trim_start().starts_with('#') && l.contains("allow_on_headers_stop_iteration"));
        assert!(!sets_flag, "{} sets allow_on_headers_stop_iteration", f.display());
        // a module mounted from a ConfigMap must fit in one
        if text.contains("configMap") && text.contains("wasm") {
            assert!(wasm <= CONFIGMAP_LIMIT, "{} mounts the module from a ConfigMap, but it is {wasm} bytes (limit {CONFIGMAP_LIMIT})", f.display());
        }
    }
    let ef = std::fs::read_to_string(repo_root().join("envoy/istio/envoyfilter.yaml")).unwrap();
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&ef).unwrap();
    let code = &doc["spec"]["configPatches"][0]["patch"]["value"]["typed_config"]["config"]["vm_config"]["code"];
    assert!(code["remote"]["http_uri"]["uri"].as_str().is_some_and(|u| u.ends_with("/genai_tap.wasm")), "{code:?}");
    assert!(code["remote"]["sha256"].as_str().is_some(), "the fetched module is pinned by sha256");
    for f in ["envoy/istio/wasmplugin-sidecar.yaml", "envoy/istio/wasmplugin-egress-gateway.yaml"] {
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&std::fs::read_to_string(repo_root().join(f)).unwrap()).unwrap();
        let cfg = &doc["spec"]["pluginConfig"];
        assert!(cfg["secrets"].is_null() && cfg["pii"].is_null(), "{f}: the guard runs at its defaults (secrets blocked in requests)");
    }
}
