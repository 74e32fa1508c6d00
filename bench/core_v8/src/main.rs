//! The core's per-call work (`calls.rs`) as a wasm32-wasip1 command: `make bench-core` runs
//! it in V8 (node), the engine Envoy runs the module in, so a change to the core can be
//! measured and profiled without Envoy and its noise.
//!
//! Arguments: the plugin configuration (JSON). Environment: `N` calls (default 50,000),
//! `DATA` the folder with `request.json` and `response.json` (default `/data`, the folder
//! `run.mjs` maps). Prints `{"us_per_call":..}` on stdout. With `SCAN=file` (in `DATA`), runs
//! the request guard over that body instead and prints `{"scan_mbps":..}`. With `PROBE=1`, the
//! "not mine" decision for a call genai-tap does not observe, `{"us_per_probe":..}`.

mod calls;

/// The request guard over `body` as Envoy drives it (16 KiB chunks, `content-length` kept), `n`
/// times: MB/s.
fn scan(guard: &genai_tap::Guard, body: &[u8], n: u64) -> f64 {
    let policy = genai_tap::Policy { pii: genai_tap::PiiMode::Redact, secrets: genai_tap::SecretMode::Block };
    let start = std::time::Instant::now();
    for _ in 0..n {
        let setup = genai_tap::RequestGuardSetup { policy, content_length: true, content_encoding: None, window: 64 * 1024, block_uninspectable: true };
        let mut g = genai_tap::RequestGuard::new(setup);
        let chunks: Vec<&[u8]> = body.chunks(16 * 1024).collect();
        for (i, c) in chunks.iter().enumerate() {
            std::hint::black_box(g.push(guard, c, i + 1 == chunks.len()));
        }
    }
    (body.len() as u64 * n) as f64 / start.elapsed().as_secs_f64() / 1e6
}

use genai_tap::Config;
use std::rc::Rc;

fn main() {
    let fail = |what: String| -> ! {
        eprintln!("core_v8: {what}");
        std::process::exit(2)
    };
    let cfg_json = std::env::args().nth(1).unwrap_or_else(|| r#"{"pii":{"mode":"off"},"secrets":{"mode":"off"}}"#.to_owned());
    let cfg = Rc::new(Config::from_json(cfg_json.as_bytes()).unwrap_or_else(|e| fail(e.to_string())));
    let data = std::env::var("DATA").unwrap_or_else(|_| "/data".to_owned());
    let read = |name: &str| std::fs::read(format!("{data}/{name}")).unwrap_or_else(|e| fail(format!("{data}/{name}: {e}")));
    let n: u64 = std::env::var("N").ok().and_then(|v| v.parse().ok()).unwrap_or(50_000);
    if let Ok(name) = std::env::var("SCAN") {
        let mbps = scan(&cfg.guard, &read(&name), n);
        println!("{{\"scan_mbps\":{mbps:.1}}}");
        return;
    }
    if std::env::var("PROBE").is_ok() {
        let us = calls::probe(&cfg, n);
        println!("{{\"us_per_probe\":{us:.3}}}");
        return;
    }
    let (us, bytes) = calls::run(&cfg, &read("request.json"), &read("response.json"), n);
    println!("{{\"us_per_call\":{us:.2},\"bytes_out\":{bytes}}}");
}
