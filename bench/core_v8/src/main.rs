//! One observed call at a time, the way the host feeds the exchange: request headers and
//! body, response headers and body, finish, then what the host does with the result (a
//! stat's metric found by the hash of its labels, the span encoded). `make bench-core`
//! builds this for wasm32-wasip1 and runs it in V8 (node), the engine Envoy runs the module
//! in, so a change to the core can be measured and profiled without Envoy and its noise.
//!
//! Arguments: the plugin configuration (JSON). Environment: `N` calls (default 50,000),
//! `DATA` the folder with `request.json` and `response.json` (default `/data`, the folder
//! `run.mjs` maps). Prints `{"us_per_call":..}` on stdout.

use genai_tap::{Config, EndInfo, Exchange, FreshIds, Namer, RequestHead};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::rc::Rc;
use std::time::Instant;

fn main() {
    let fail = |what: String| -> ! {
        eprintln!("core_v8: {what}");
        std::process::exit(2)
    };
    let cfg_json = std::env::args().nth(1).unwrap_or_else(|| r#"{"pii":{"mode":"off"},"secrets":{"mode":"off"}}"#.to_owned());
    let cfg = Rc::new(Config::from_json(cfg_json.as_bytes()).unwrap_or_else(|e| fail(e.to_string())));
    let data = std::env::var("DATA").unwrap_or_else(|_| "/data".to_owned());
    let read = |name: &str| std::fs::read(format!("{data}/{name}")).unwrap_or_else(|e| fail(format!("{data}/{name}: {e}")));
    let (req, resp) = (read("request.json"), read("response.json"));
    let headers: Vec<(String, String)> = [
        (":method", "POST"), (":authority", "api.openai.com"), (":path", "/v1/chat/completions"), (":scheme", "http"),
        ("content-type", "application/json"), ("x-request-id", "5f1e0c1a-1111-2222-3333-444455556666"), ("accept-encoding", "gzip"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let resp_headers = vec![(":status".to_owned(), "200".to_owned()), ("content-type".to_owned(), "application/json".to_owned())];
    let n: u64 = std::env::var("N").ok().and_then(|v| v.parse().ok()).unwrap_or(50_000);
    // the host's metric cache: a stat seen before costs a hash and a lookup, no name
    let mut namer = Namer::new(50);
    let mut metric_of: HashMap<u64, usize> = HashMap::new();
    let mut bytes = 0;
    let start = Instant::now();
    for i in 0..n {
        let mut x = Exchange::new(cfg.clone(), FreshIds::from_random([(i % 251) as u8; 24]));
        x.handle_request_headers(RequestHead { headers: &headers }, false, i);
        let _ = x.poll_request_header_edits();
        x.handle_request_body(&req, true, i + 1);
        x.handle_response_headers(200, &resp_headers, false, i + 2);
        x.handle_response_body(&resp, true, i + 3);
        let done = x.finish(&EndInfo { code_details: Some("via_upstream".into()) }, i + 4);
        for u in &done.stats {
            let mut h = DefaultHasher::new();
            u.metric.name.hash(&mut h);
            for (k, v) in &u.labels {
                k.hash(&mut h);
                v.hash(&mut h);
            }
            bytes += *metric_of.entry(h.finish()).or_insert_with(|| namer.name(u).len());
        }
        for s in &done.spans {
            bytes += genai_tap::encode_span(s, genai_tap::Encoding::Protobuf).len();
        }
    }
    let us = start.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!("{{\"us_per_call\":{us:.2},\"bytes_out\":{bytes}}}");
}
