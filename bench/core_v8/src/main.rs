//! The core's per-call work (`calls.rs`) as a wasm32-wasip1 command: `make bench-core` runs
//! it in V8 (node), the engine Envoy runs the module in, so a change to the core can be
//! measured and profiled without Envoy and its noise.
//!
//! Arguments: the plugin configuration (JSON). Environment: `N` calls (default 50,000),
//! `DATA` the folder with `request.json` and `response.json` (default `/data`, the folder
//! `run.mjs` maps). Prints `{"us_per_call":..}` on stdout.

mod calls;

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
    let (us, bytes) = calls::run(&cfg, &read("request.json"), &read("response.json"), n);
    println!("{{\"us_per_call\":{us:.2},\"bytes_out\":{bytes}}}");
}
