//! Native cost of one exchange (a 2 KB chat call, the way the host feeds it), without Envoy:
//! `cargo run --release --example exchange_bench`. Prints microseconds per call.

use genai_tap::Config;
use genai_tap::{EndInfo, Exchange, RequestHead};
use genai_tap::FreshIds;
use std::rc::Rc;
use std::time::Instant;

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
    let headers: Vec<(String, String)> = [
        (":method", "POST"), (":authority", "api.openai.com"), (":path", "/v1/chat/completions"), (":scheme", "http"),
        ("content-type", "application/json"), ("x-request-id", "5f1e0c1a-1111-2222-3333-444455556666"), ("accept-encoding", "gzip"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let resp_headers = vec![(":status".to_owned(), "200".to_owned()), ("content-type".to_owned(), "application/json".to_owned())];
    let n: u64 = std::env::var("N").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let mut namer = genai_tap::Namer::new(50);
    let start = Instant::now();
    let mut bytes = 0;
    for i in 0..n {
        let mut x = Exchange::new(cfg.clone(), FreshIds::from_random([(i % 251) as u8; 24]));
        x.handle_request_headers(RequestHead { headers: &headers }, false, i);
        let _ = x.poll_request_header_edits();
        x.handle_request_body(&req, true, i + 1);
        x.handle_response_headers(200, &resp_headers, false, i + 2);
        x.handle_response_body(&resp, true, i + 3);
        let done = x.finish(&EndInfo { code_details: Some("via_upstream".into()) }, i + 4);
        for u in &done.stats {
            bytes += namer.name(u).len();
        }
        for s in &done.spans {
            bytes += genai_tap::encode_span(s, genai_tap::Encoding::Protobuf).len();
        }
    }
    let us = start.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!("{{\"us_per_call\":{us:.2},\"bytes\":{bytes}}}");
}
