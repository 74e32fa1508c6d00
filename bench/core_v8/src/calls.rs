//! One observed call at a time, the way the host feeds the exchange: request headers and
//! body, response headers and body, finish, then what the host does with the result (a
//! stat's metric found by the hash of its labels, named only the first time; the span
//! encoded). Shared by `bench/core_v8` (in V8) and `examples/exchange_bench.rs` (native), so
//! both measure the same work.

use genai_tap::{Config, EndInfo, Exchange, FreshIds, Namer, RequestHead};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::rc::Rc;
use std::time::Instant;

/// Runs `n` chat calls with these bodies; returns microseconds per call and the bytes the
/// host would have handed on (stat names and encoded spans), so nothing is optimised away.
pub fn run(cfg: &Rc<Config>, request: &[u8], response: &[u8], n: u64) -> (f64, usize) {
    let headers = [
        (":method", "POST"), (":authority", "api.openai.com"), (":path", "/v1/chat/completions"), (":scheme", "http"),
        ("content-type", "application/json"), ("x-request-id", "5f1e0c1a-1111-2222-3333-444455556666"), ("accept-encoding", "gzip"),
    ];
    let resp_headers = [(":status", "200"), ("content-type", "application/json")];
    // the host's metric cache (`host::metrics`): a stat seen before costs a hash and a lookup
    let mut namer = Namer::new(50);
    let mut metric_of: HashMap<u64, usize> = HashMap::new();
    let mut bytes = 0;
    let start = Instant::now();
    for i in 0..n {
        let mut x = Exchange::new(cfg.clone(), FreshIds::from_random([(i % 251) as u8; 24]));
        x.handle_request_headers(RequestHead { headers: &headers }, false, i);
        let _ = x.poll_request_header_edits();
        x.handle_request_body(request, true, i + 1);
        x.handle_response_headers(200, &resp_headers, false, i + 2);
        x.handle_response_body(response, true, i + 3);
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
    (start.elapsed().as_secs_f64() * 1e6 / n.max(1) as f64, bytes)
}

/// The "not mine" decision for a call genai-tap does not observe (an OpenAI SDK's headers, a
/// path no provider serves), as the wasm host makes it: microseconds per call.
// only `bench/core_v8` runs it; `examples/exchange_bench.rs` shares this file
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub fn probe(cfg: &Rc<Config>, n: u64) -> f64 {
    let headers = [
        (":method", "POST"), (":authority", "api.openai.com"), (":path", "/unobserved/v1/files"), (":scheme", "http"),
        ("accept-encoding", "gzip, deflate"), ("accept", "application/json"), ("content-type", "application/json"),
        ("user-agent", "OpenAI/Python 1.55.0"), ("x-stainless-lang", "python"), ("x-stainless-package-version", "1.55.0"),
        ("x-stainless-os", "Linux"), ("x-stainless-arch", "x64"), ("x-stainless-runtime", "CPython"),
        ("x-stainless-runtime-version", "3.12.7"), ("authorization", "Bearer sk-not-a-real-key"), ("x-stainless-async", "false"),
        ("x-stainless-retry-count", "0"),
    ];
    let start = Instant::now();
    let mut passed = 0u64;
    for i in 0..n {
        let mut x = Exchange::new(cfg.clone(), FreshIds::from_random([(i % 251) as u8; 24]));
        let first = |name: &str| headers.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned());
        passed += u64::from(std::hint::black_box(x.handle_request_probe(first)));
    }
    assert_eq!(passed, n, "the probe path is not observed");
    start.elapsed().as_secs_f64() * 1e6 / n.max(1) as f64
}
