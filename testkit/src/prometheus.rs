//! A real Prometheus (Debian's package, installed by `make deps`) on a free loopback port,
//! scraping one Envoy's admin `/stats/prometheus` every second, and PromQL queries against it.
//!
//! This module owns starting and stopping that process and its scratch directory. It knows
//! nothing of genai-tap's metric names: the tests write their own PromQL.

use crate::envoy::{free_port, TempDir};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running Prometheus; killed when dropped.
pub struct Prometheus {
    /// The port of its HTTP API on 127.0.0.1.
    pub port: u16,
    child: Child,
    _dir: TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping the Envoy admin on `admin_port`. Panics when the binary is
    /// missing, which `make deps` installs.
    pub fn scrape(admin_port: u16) -> Prometheus {
        let dir = TempDir::new("genai-tap-prom");
        let port = free_port();
        let config = dir.0.join("prometheus.yml");
        std::fs::write(
            &config,
            format!("global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nscrape_configs:\n- job_name: envoy\n  metrics_path: /stats/prometheus\n  static_configs: [{{targets: ['127.0.0.1:{admin_port}']}}]\n"),
        )
        .expect("write prometheus.yml");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.0.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus is installed by `make deps`");
        Prometheus { port, child, _dir: dir }
    }

    /// The first sample of an instant query, `None` when it has none (or Prometheus is not up).
    pub fn query(&self, promql: &str) -> Option<f64> {
        let q: String = promql.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect();
        let r = crate::http::request(self.port, "GET", &format!("/api/v1/query?query={q}"), &[], b"", None).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }

    /// Queries until the answer is `want` or `within` has passed; returns the last answer.
    pub fn wait_for(&self, promql: &str, want: f64, within: Duration) -> Option<f64> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.query(promql);
            if got == Some(want) || Instant::now() >= deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
