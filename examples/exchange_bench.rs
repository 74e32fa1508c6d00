//! Native cost of one exchange (a chat call, the way the host feeds it), without Envoy:
//! `cargo run --release --example exchange_bench`. Prints microseconds per call. The per-call
//! work is `bench/core_v8/src/calls.rs`, the same that `make bench-core` runs in V8.

#[path = "../bench/core_v8/src/calls.rs"]
mod calls;

use genai_tap::Config;
use std::rc::Rc;

fn main() {
    let cfg_json = std::env::args().nth(1).unwrap_or_else(|| r#"{"pii":{"mode":"off"},"secrets":{"mode":"off"}}"#.to_owned());
    let cfg = Rc::new(Config::from_json(cfg_json.as_bytes()).unwrap_or_else(|e| {
        eprintln!("exchange_bench: {e}");
        std::process::exit(2)
    }));
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/openai/chat_basic.json");
    let fx: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_default()).unwrap_or_default();
    let req = fx["request"]["body"].as_str().unwrap_or("{}").as_bytes().to_vec();
    let resp = fx["response"]["body"].as_str().unwrap_or("{}").as_bytes().to_vec();
    let n: u64 = std::env::var("N").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let (us, bytes) = calls::run(&cfg, &req, &resp, n);
    println!("{{\"us_per_call\":{us:.2},\"bytes\":{bytes}}}");
}
