//! The real Envoy, started with the built module on free loopback ports.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository root (the testkit lives in `<root>/testkit`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The pinned Envoy that `make envoy` installs (override with `GENAI_TAP_ENVOY`).
pub fn envoy_binary() -> PathBuf {
    std::env::var("GENAI_TAP_ENVOY")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join(".tools/envoy-1.40.0/envoy"))
}

/// The module that `make build` produces (override with `GENAI_TAP_WASM`).
pub fn wasm_module() -> PathBuf {
    std::env::var("GENAI_TAP_WASM").map(PathBuf::from).unwrap_or_else(|_| repo_root().join("dist/genai_tap.wasm"))
}

/// A free loopback port for a server that a test starts later (Envoy, Prometheus, a Python
/// server): bound, released, and handed over.
///
/// It is taken below the kernel's ephemeral range on purpose. A port that `bind(0)` gives out is
/// an ephemeral one, and between its release and the server's own bind the kernel may hand it to
/// any outgoing connection on the machine (the suite opens thousands). That race made Envoy exit
/// at start with "Address already in use" in CI. Below the range only another test's pick can
/// collide, and the start is random per process, so two picks rarely meet.
pub fn free_port() -> u16 {
    const LOW: u32 = 10_000;
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    let span = ephemeral_low.saturating_sub(LOW).max(1);
    static PICKS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let seed = (std::process::id().wrapping_mul(2_654_435_761) ^ nanos).wrapping_add(PICKS.fetch_add(7919, std::sync::atomic::Ordering::Relaxed));
    // a prime step visits every port of the span before it repeats (unless the span is a multiple)
    for i in 0..span {
        let Ok(port) = u16::try_from(LOW + seed.wrapping_add(i.wrapping_mul(7_919)) % span) else { continue };
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

/// One more static cluster of one loopback endpoint, as an item of
/// [`EnvoyConfig::extra_clusters`]: a capture bucket, an echo server.
pub fn loopback_cluster(name: &str, port: u16) -> String {
    format!(
        "  - name: {name}\n    type: STATIC\n    connect_timeout: 1s\n    load_assignment:\n      cluster_name: {name}\n      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}}}}}]}}]\n"
    )
}

/// What to put in the generated Envoy configuration.
#[derive(Debug, Clone)]
pub struct EnvoyConfig {
    pub listener_port: u16,
    pub admin_port: u16,
    pub upstream_port: u16,
    pub collector_port: u16,
    /// `None`: no wasm filter at all (the bare Envoy).
    pub wasm: Option<PathBuf>,
    /// The plugin configuration (JSON text).
    pub plugin_config: String,
    pub route_timeout_ms: u64,
    /// Extra clusters (YAML list items, indented by 2).
    pub extra_clusters: String,
    /// Sets `allow_on_headers_stop_iteration: true` on the filter. Off by default: Istio's
    /// WasmPlugin and Envoy Gateway cannot set it, so the suite runs as users can.
    pub allow_on_headers_stop_iteration: bool,
    /// `failure_policy: FAIL_OPEN`, as the shipped configurations and Istio's
    /// `failStrategy: FAIL_OPEN` render it.
    pub fail_open: bool,
    /// Extra HTTP filters after genai-tap and before the router (YAML list items, indented
    /// by 10, as in `envoy/demo.yaml`).
    pub extra_http_filters: String,
    /// Speak HTTP/2 (h2c, prior knowledge) to the upstream cluster instead of HTTP/1.1.
    pub upstream_http2: bool,
    /// Extra keys of the HTTP connection manager (YAML lines indented by 10), e.g.
    /// `http_protocol_options: {enable_trailers: true}` or `upgrade_configs: [...]`.
    pub hcm_options: String,
    /// Extra keys of the catch-all route's `route:` (a YAML flow mapping's entries, after
    /// `cluster` and `timeout`), e.g. `upgrade_configs: [{upgrade_type: websocket}]`.
    pub route_options: String,
    /// Extra routes before the catch-all (YAML list items, indented by 14).
    pub extra_routes: String,
    /// Load genai-tap as this Envoy dynamic module (`lib<name>.so` on
    /// `ENVOY_DYNAMIC_MODULES_SEARCH_PATH`) instead of the wasm filter: the native spike.
    pub dynamic_module: Option<String>,
}

impl EnvoyConfig {
    /// Free ports, the built module, and `plugin_config`.
    pub fn new(upstream_port: u16, collector_port: u16, plugin_config: &str) -> EnvoyConfig {
        EnvoyConfig {
            listener_port: free_port(),
            admin_port: free_port(),
            upstream_port,
            collector_port,
            wasm: Some(wasm_module()),
            plugin_config: plugin_config.to_owned(),
            route_timeout_ms: 15_000,
            extra_clusters: String::new(),
            allow_on_headers_stop_iteration: false,
            fail_open: false,
            extra_http_filters: String::new(),
            upstream_http2: false,
            hcm_options: String::new(),
            route_options: String::new(),
            extra_routes: String::new(),
            dynamic_module: None,
        }
    }

    /// The plugin configuration that points at this config's collector.
    pub fn default_plugin_config(collector_port: u16) -> String {
        format!(r#"{{"collector":{{"cluster":"otel_collector","authority":"127.0.0.1:{collector_port}","flush_interval_ms":100,"timeout_ms":2000}}}}"#)
    }

    pub fn render(&self) -> String {
        let stats = std::fs::read_to_string(repo_root().join("envoy/stats_config.yaml")).unwrap_or_default();
        let filter = match (&self.dynamic_module, &self.wasm) {
            (Some(module), _) => format!(
                r#"          - name: genai_tap
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter
              dynamic_module_config: {{name: {module}}}
              filter_name: genai_tap
              filter_config:
                "@type": type.googleapis.com/google.protobuf.StringValue
                value: '{}'
"#,
                self.plugin_config
            ),
            (None, Some(path)) => {
                let cfg: String = self.plugin_config.lines().map(|l| format!("                    {l}\n")).collect();
                let mut flags = String::new();
                if self.allow_on_headers_stop_iteration {
                    flags.push_str("                allow_on_headers_stop_iteration: true\n");
                }
                if self.fail_open {
                    flags.push_str("                failure_policy: FAIL_OPEN\n");
                }
                format!(
                    r#"          - name: genai_tap
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: genai_tap
                root_id: genai_tap
{flags}                vm_config:
                  vm_id: genai_tap
                  runtime: envoy.wasm.runtime.v8
                  code: {{local: {{filename: "{}"}}}}
                configuration:
                  "@type": type.googleapis.com/google.protobuf.StringValue
                  value: |
{cfg}"#,
                    path.display()
                )
            }
            (None, None) => String::new(),
        };
        format!(
            r#"{stats}
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: {admin}}}}}
static_resources:
  listeners:
  - name: egress
    address: {{socket_address: {{address: 127.0.0.1, port_value: {listener}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: egress
{hcm_options}          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
{extra_routes}              - match: {{prefix: "/"}}
                route: {{cluster: upstream, timeout: {timeout}s{route_options}}}
          http_filters:
{filter}{extra_filters}          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: upstream
    type: STATIC
    connect_timeout: 1s
{upstream_protocol}    load_assignment:
      cluster_name: upstream
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {upstream}}}}}}}}}]}}]
  - name: otel_collector
    type: STATIC
    connect_timeout: 0.5s
    load_assignment:
      cluster_name: otel_collector
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {collector}}}}}}}}}]}}]
{extra}"#,
            admin = self.admin_port,
            listener = self.listener_port,
            timeout = self.route_timeout_ms as f64 / 1000.0,
            upstream = self.upstream_port,
            collector = self.collector_port,
            extra = self.extra_clusters,
            extra_filters = self.extra_http_filters,
            hcm_options = self.hcm_options,
            extra_routes = self.extra_routes,
            route_options = if self.route_options.is_empty() { String::new() } else { format!(", {}", self.route_options) },
            upstream_protocol = if self.upstream_http2 {
                "    typed_extension_protocol_options:\n      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:\n        \"@type\": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions\n        explicit_http_config: {http2_protocol_options: {}}\n"
            } else {
                ""
            },
        )
    }
}

/// A running Envoy; killed when dropped.
pub struct Envoy {
    child: Child,
    pub listener_port: u16,
    pub admin_port: u16,
    log_path: PathBuf,
    _dir: TempDir,
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let p = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        let _ = std::fs::create_dir_all(&p);
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Why Envoy did not come up.
#[derive(Debug)]
pub struct StartError {
    pub message: String,
    /// Envoy's log, for assertions on configuration errors.
    pub log: String,
}

impl Envoy {
    /// Starts Envoy with `cfg` and waits (at most 60 s: compiling the module takes long on a
    /// loaded 2-core machine) until the admin says LIVE.
    pub fn start(cfg: &EnvoyConfig) -> Result<Envoy, StartError> {
        Self::start_edited(cfg, &["--concurrency", "1"], |yaml| yaml)
    }

    /// Starts Envoy with `cfg` rendered and then passed through `edit` (a node id, a listener
    /// option). When a port turns out to be taken after all, it starts again on fresh ports
    /// (twice at most), so the returned Envoy's ports may differ from `cfg`'s.
    pub fn start_edited(cfg: &EnvoyConfig, extra_args: &[&str], edit: impl Fn(String) -> String) -> Result<Envoy, StartError> {
        let mut cfg = cfg.clone();
        let mut retries = 2;
        loop {
            match Self::start_yaml(&edit(cfg.render()), cfg.listener_port, cfg.admin_port, extra_args) {
                Err(e) if retries > 0 && e.log.contains("Address already in use") => {
                    retries -= 1;
                    cfg.listener_port = free_port();
                    cfg.admin_port = free_port();
                }
                started => return started,
            }
        }
    }

    /// Starts Envoy with a whole YAML configuration.
    pub fn start_yaml(yaml: &str, listener_port: u16, admin_port: u16, extra_args: &[&str]) -> Result<Envoy, StartError> {
        let dir = TempDir::new("genai-tap-envoy");
        let config = dir.0.join("envoy.yaml");
        let log_path = dir.0.join("envoy.log");
        let err = |message: String, log: String| StartError { message, log };
        std::fs::write(&config, yaml).map_err(|e| err(format!("write config: {e}"), String::new()))?;
        let log_file = std::fs::File::create(&log_path).map_err(|e| err(format!("log file: {e}"), String::new()))?;
        let log_err = log_file.try_clone().map_err(|e| err(format!("log file: {e}"), String::new()))?;
        let bin = envoy_binary();
        let child = Command::new(&bin)
            .arg("-c")
            .arg(&config)
            .args(["--use-dynamic-base-id", "-l", "info", "--drain-time-s", "1"])
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .spawn()
            .map_err(|e| err(format!("cannot run {}: {e} (run `make envoy`)", bin.display()), String::new()))?;
        let mut envoy = Envoy { child, listener_port, admin_port, log_path, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = envoy.child.try_wait() {
                return Err(err(format!("envoy exited: {status}"), envoy.log()));
            }
            if let Ok(r) = crate::http::request(admin_port, "GET", "/ready", &[], b"", None) {
                if r.status == 200 && r.text().trim() == "LIVE" {
                    return Ok(envoy);
                }
            }
            if Instant::now() > deadline {
                return Err(err("envoy did not become ready in 60 s".into(), envoy.log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `envoy --mode validate` on a YAML configuration.
    pub fn validate(yaml: &str) -> Result<(), String> {
        let dir = TempDir::new("genai-tap-validate");
        let path = dir.0.join("envoy.yaml");
        std::fs::write(&path, yaml).map_err(|e| e.to_string())?;
        let out = Command::new(envoy_binary())
            .arg("--mode")
            .arg("validate")
            .arg("-c")
            .arg(&path)
            .args(["--use-dynamic-base-id", "-l", "error"])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log_path) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Sends one request over HTTP/2 without TLS (h2c, prior knowledge), with curl (Debian's
    /// `curl`, built with nghttp2; `make deps`). Status 0 and the error as the body on failure.
    pub fn send_h2c(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> crate::http::Response {
        crate::http::request_h2c(self.listener_port, method, path, headers, body)
    }

    /// Sends a request through the listener. Status 0 and the error as the body on failure.
    pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> crate::http::Response {
        crate::http::request(self.listener_port, method, path, headers, body, None).unwrap_or_else(|e| crate::http::Response {
            status: 0,
            headers: Vec::new(),
            body: e.to_string().into_bytes(),
            first_byte: None,
            total: Duration::ZERO,
            complete: false,
        })
    }

    /// Sends the recorded request of the fixture `name` through the listener, as the agent
    /// would: its path and body, the `host` its upstream expects, JSON, and `x-fixture` so that
    /// the [`Upstream`](crate::upstream::Upstream) answers with the recorded response; `extra`
    /// headers (identity headers, `x-chunk-bytes`...) go after those.
    ///
    /// Panics if the fixture does not load: a test that names a missing fixture is wrong.
    pub fn send_fixture(&self, name: &str, extra: &[(&str, &str)]) -> crate::http::Response {
        let fx = crate::upstream::Fixture::load(name).unwrap_or_else(|e| panic!("fixture {name}: {e}"));
        let host = fx.upstream_host();
        let mut headers = vec![("host", host.as_str()), ("content-type", "application/json"), ("x-fixture", name)];
        headers.extend_from_slice(extra);
        self.send("POST", &fx.request_path(), &headers, &fx.request_body())
    }

    pub fn admin(&self, path: &str) -> String {
        crate::http::request(self.admin_port, "GET", path, &[], b"", None).map(|r| r.text()).unwrap_or_default()
    }

    /// Every `name: value` of `/stats` whose value is an integer.
    pub fn stats(&self) -> Vec<(String, i64)> {
        self.admin("/stats")
            .lines()
            .filter_map(|l| {
                let (k, v) = l.rsplit_once(": ")?;
                Some((k.to_owned(), v.trim().parse().ok()?))
            })
            .collect()
    }

    /// The value of one stat, 0 when absent.
    pub fn stat(&self, name: &str) -> i64 {
        self.stats().into_iter().find(|(k, _)| k == name).map(|(_, v)| v).unwrap_or(0)
    }

    /// Sum over `/stats/prometheus` samples of `metric` whose labels include every `labels` pair.
    pub fn prom(&self, metric: &str, labels: &[(&str, &str)]) -> f64 {
        let text = self.admin("/stats/prometheus");
        prom_sum(&text, metric, labels)
    }

    /// Waits until `f` holds or `timeout` passes; returns whether it held.
    pub fn wait_until(&self, timeout: Duration, mut f: impl FnMut(&Envoy) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if f(self) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Resident memory of the Envoy process in KiB (Linux), 0 when unknown.
    pub fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .ok()
            .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
            .unwrap_or(0)
    }
}

/// Sums Prometheus text-format samples of `metric` with every `labels` pair.
pub fn prom_sum(text: &str, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let mut sum = 0.0;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let (name_labels, value) = match line.rsplit_once(' ') {
            Some(x) => x,
            None => continue,
        };
        let (name, label_text) = match name_labels.split_once('{') {
            Some((n, l)) => (n, l.trim_end_matches('}')),
            None => (name_labels, ""),
        };
        if name != metric {
            continue;
        }
        if labels.iter().all(|(k, v)| label_text.contains(&format!("{k}=\"{v}\""))) {
            sum += value.parse::<f64>().unwrap_or(0.0);
        }
    }
    sum
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::free_port;

    #[test]
    fn free_ports_are_below_the_ephemeral_range_and_bindable() {
        let low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
            .unwrap_or(32_768);
        let picks: Vec<u16> = (0..20).map(|_| free_port()).collect();
        for &p in &picks {
            assert!((10_000..low).contains(&p), "{p} not in 10000..{low}");
            assert!(std::net::TcpListener::bind(("127.0.0.1", p)).is_ok(), "{p}");
        }
        // successive picks move on: a process starting two servers gets two ports
        assert!(picks.windows(2).all(|w| w[0] != w[1]), "{picks:?}");
    }
}
