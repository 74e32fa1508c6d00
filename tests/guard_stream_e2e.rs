//! The streaming request guard in the real Envoy, loaded as Istio's WasmPlugin renders it:
//! no `allow_on_headers_stop_iteration`, `failure_policy: FAIL_OPEN`, Envoy's default buffer
//! limits. The upstream keeps every byte it received, cut requests included, so "never reached
//! the upstream" is checked on the bytes themselves.
// Test code: a failed unwrap or panic is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use genai_tap_testkit::envoy::{Envoy, EnvoyConfig};
use genai_tap_testkit::recorder::{send_spaced, Framing, Recorder};
use genai_tap_testkit::sink::OtlpSink;
use std::time::Duration;

include!("data/guard_cases.rs");

const HOST: (&str, &str) = ("host", "api.openai.com");
const JSON: (&str, &str) = ("content-type", "application/json");

fn start(guard: &str) -> (Recorder, OtlpSink, Envoy) {
    let upstream = Recorder::start().unwrap();
    let sink = OtlpSink::start(0).unwrap();
    let cfg = format!(
        r#"{{"collector":{{"cluster":"otel_collector","authority":"127.0.0.1:{}","flush_interval_ms":50}}{guard}}}"#,
        sink.port
    );
    let mut ec = EnvoyConfig::new(upstream.port, sink.port, &cfg);
    ec.fail_open = true;
    assert!(!ec.allow_on_headers_stop_iteration && !ec.render().contains("allow_on_headers_stop_iteration"));
    let envoy = Envoy::start(&ec).unwrap_or_else(|e| panic!("{}\n{}", e.message, e.log));
    (upstream, sink, envoy)
}

fn redact_and_block() -> (Recorder, OtlpSink, Envoy) {
    start(r#","pii":{"mode":"redact"},"secrets":{"mode":"block"}"#)
}

fn chat(content: &str) -> Vec<u8> {
    serde_json::json!({"model": "gpt-4o", "messages": [{"role": "user", "content": content}]}).to_string().into_bytes()
}

/// A chat whose content is about `n` bytes of plain prose, then `tail`.
fn big_chat(n: usize, tail: &str) -> Vec<u8> {
    let words = ["the", "agent", "reads", "a", "long", "report", "on", "shipping", "routes,", "weather", "and", "tides;", "then", "it", "writes", "a", "summary."];
    let mut s = String::with_capacity(n + tail.len());
    let mut i = 0usize;
    while s.len() < n {
        s.push_str(words[i % words.len()]);
        s.push(' ');
        i = i.wrapping_mul(13).wrapping_add(5) % 1021;
    }
    s.push_str(tail);
    chat(&s)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn post(envoy: &Envoy, body: &[u8]) -> genai_tap_testkit::http::Response {
    envoy.send("POST", "/v1/chat/completions", &[HOST, JSON], body)
}

#[test]
fn e2e_without_the_flag_clean_passes_secrets_block_and_pii_keeps_its_length() {
    let (upstream, sink, envoy) = redact_and_block();
    // clean: byte-identical, and as fast as any call (nothing waits for the body)
    let clean = chat("summarise the attached design notes, please");
    let r = post(&envoy, &clean);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.total < Duration::from_secs(2), "{:?}", r.total);
    let got = upstream.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, clean);
    // every labelled secret: 403, and its bytes never reach the upstream
    upstream.clear();
    let cases = secret_cases();
    for (rule, value) in &cases {
        let r = post(&envoy, &chat(&format!("deploy with {value} now")));
        assert_eq!(r.status, 403, "{rule}: {}", r.text());
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["error"]["rule"], *rule);
    }
    let seen = upstream.bytes();
    for (rule, value) in &cases {
        assert!(!contains(&seen, secret_part(rule, value).as_bytes()), "{rule} reached the upstream");
    }
    assert!(upstream.requests().is_empty(), "no blocked request completed upstream");
    // PII: redacted in place, valid JSON, exactly the declared length
    let body = chat("mail jane.doe@example.com or call +1 (415) 555-2671, card 4111 1111 1111 1111");
    let r = post(&envoy, &body);
    assert_eq!(r.status, 200, "{}", r.text());
    let req = upstream.requests().pop().unwrap();
    assert_eq!(req.header("content-length"), Some(body.len().to_string().as_str()));
    assert_eq!(req.body.len(), body.len());
    let v: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    let content = v["messages"][0]["content"].as_str().unwrap();
    assert_eq!(content, "mail [REDACTED:EMAIL****] or call [REDACTED:PHONE*], card [CARD*************]");
    // the spans say what happened
    let spans = sink.wait_for_spans(cases.len() + 2, Duration::from_secs(15));
    let blocked = spans.iter().filter(|s| s.str("genai_tap.outcome") == Some("blocked")).count();
    assert_eq!(blocked, cases.len());
    // pii.mode redact covers responses too, so every span carries the attribute; only the PII
    // call redacted anything
    let redactions: Vec<i64> = spans.iter().filter_map(|s| s.int("genai_tap.guard.redactions")).filter(|n| *n > 0).collect();
    assert_eq!(redactions, vec![3]);
}

#[test]
fn e2e_big_bodies_stream_with_default_buffer_limits_and_memory_stays_flat() {
    let (upstream, _sink, envoy) = redact_and_block();
    let key = "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";
    let vm_memory = |e: &Envoy| e.stat("wasmcustom.genai_tap.vm_memory_bytes");
    // memory at the end of each cycle of the three sizes
    let mut at_cycle_end = Vec::new();
    for (round, mib) in [3usize, 16, 64, 3, 16, 64, 3, 16, 64].iter().enumerate() {
        let n = mib * 512 * 1024; // 1.5, 8 and 32 MiB
        let clean = big_chat(n, " end");
        let r = send_spaced(envoy.listener_port, "/v1/chat/completions", &[HOST, JSON], &clean, Framing::ContentLength, &[], Duration::ZERO).unwrap();
        assert_eq!(r.status, 200, "{n}: {}", r.text());
        let got = upstream.requests().pop().unwrap();
        assert!(got.body == clean, "{n}: the clean body arrives byte-identical ({} of {} bytes)", got.body.len(), clean.len());
        upstream.clear();
        // a secret near the end
        let dirty = big_chat(n, &format!(" and {key} end"));
        let r = send_spaced(envoy.listener_port, "/v1/chat/completions", &[HOST, JSON], &dirty, Framing::ContentLength, &[], Duration::ZERO).unwrap();
        assert_eq!(r.status, 403, "{n}: {}", r.text());
        assert!(!contains(&upstream.bytes(), key.as_bytes()), "{n}: the key reached the upstream");
        assert!(upstream.requests().is_empty());
        upstream.clear();
        // PII across the 64 KiB boundaries Envoy and the client write in
        let mut pii = big_chat(n, " end");
        let at = 3 * 65536 - 7;
        pii.splice(at..at + 22, b" jane.doe@example.com ".iter().copied());
        let r = send_spaced(envoy.listener_port, "/v1/chat/completions", &[HOST, JSON], &pii, Framing::ContentLength, &[at + 3], Duration::from_millis(30)).unwrap();
        assert_eq!(r.status, 200, "{n}");
        let got = upstream.requests().pop().unwrap();
        assert_eq!(got.body.len(), pii.len());
        assert!(!contains(&got.body, b"jane.doe@example.com") && contains(&got.body, b"[REDACTED:EMAIL****]"), "{n}");
        serde_json::from_slice::<serde_json::Value>(&got.body).unwrap();
        upstream.clear();
        if round % 3 == 2 {
            at_cycle_end.push(vm_memory(&envoy));
        }
    }
    // The first cycle warms up. After it, wasm memory may still rise once to a new high-water
    // mark (how big a chunk Envoy hands over depends on the machine's load, and the largest
    // chunk sets the peak), but a leak rises with every cycle: each cycle sends 125 MiB of
    // bodies, so 58 KiB kept per call would add over 1 MiB across the last two cycles (the
    // old single-cycle bound caught 116 KiB per call), and 8 MiB bounds the high-water rise.
    let [first, second, third] = at_cycle_end[..] else { panic!("{at_cycle_end:?}") };
    assert!(first > 0);
    let rose_every_cycle = second > first && third > second;
    assert!(!(rose_every_cycle && third > first + 1024 * 1024), "vm_memory_bytes rose in every cycle, by more than 1 MiB: {at_cycle_end:?}");
    assert!(third <= first + 8 * 1024 * 1024, "vm_memory_bytes grew from {first} to {third}: {at_cycle_end:?}");
}

#[test]
fn e2e_spaced_chunk_splits_give_the_unsplit_verdict_and_bytes() {
    let (upstream, _sink, envoy) = redact_and_block();
    let gap = Duration::from_millis(25);
    let cases = secret_cases();
    for (rule, value) in cases.iter().step_by(5) {
        let body = chat(&format!("here it is: {value} -- thanks"));
        let at = body.windows(4).position(|w| w == &value.as_bytes()[..4]).unwrap();
        for split in [at - 1, at + 2, at + value.len() / 2, at + value.len() - 1] {
            for framing in [Framing::ContentLength, Framing::Chunked] {
                let r = send_spaced(envoy.listener_port, "/v1/chat/completions", &[HOST, JSON], &body, framing, &[split], gap).unwrap();
                assert_eq!(r.status, 403, "{rule} split at {split} {framing:?}");
            }
        }
        assert!(!contains(&upstream.bytes(), secret_part(rule, value).as_bytes()), "{rule}");
    }
    assert!(upstream.requests().is_empty());
    let body = chat("ssn 536-22-8741 and mail a.b@corp.io then the rest of the prompt");
    let want = {
        let r = post(&envoy, &body);
        assert_eq!(r.status, 200);
        upstream.requests().pop().unwrap().body
    };
    assert_ne!(want, body);
    for split in (20..body.len()).step_by(9) {
        let r = send_spaced(envoy.listener_port, "/v1/chat/completions", &[HOST, JSON], &body, Framing::ContentLength, &[split], gap).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(upstream.requests().pop().unwrap().body, want, "split at {split}");
    }
    // chunked: free-length placeholders, the same as the whole-body guard's
    let r = send_spaced(envoy.listener_port, "/v1/chat/completions", &[HOST, JSON], &body, Framing::Chunked, &[31], gap).unwrap();
    assert_eq!(r.status, 200);
    let got = upstream.requests().pop().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(v["messages"][0]["content"], "ssn [REDACTED:SSN] and mail [REDACTED:EMAIL] then the rest of the prompt");
}

/// A gzip member (the crc is not checked by the filter, and the recorder does not inflate).
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    out.extend(miniz_oxide::deflate::compress_to_vec(data, 1));
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

#[test]
fn e2e_gzip_request_bodies_are_scanned() {
    let (upstream, _sink, envoy) = start("");
    let enc = ("content-encoding", "gzip");
    let clean = gzip(&big_chat(400_000, " end"));
    let r = envoy.send("POST", "/v1/chat/completions", &[HOST, JSON, enc], &clean);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(upstream.requests().pop().unwrap().body == clean, "a clean gzip body arrives as sent");
    let dirty = gzip(&big_chat(400_000, " AKIAZ7QW4XJ2LBNM5K3P end"));
    let r = envoy.send("POST", "/v1/chat/completions", &[HOST, JSON, enc], &dirty);
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(!contains(&upstream.bytes(), &dirty[dirty.len() - 64..]), "the compressed tail never left");
    // a body the guard cannot read is refused by default where secrets are blocked, and counted
    let r = envoy.send("POST", "/v1/chat/completions", &[HOST, JSON, ("content-encoding", "br")], b"\x1b\x03\x00\x00");
    assert_eq!(r.status, 415, "{}", r.text());
    assert!(envoy.wait_until(Duration::from_secs(3), |e| e.prom("genai_tap_guard_uninspectable", &[("reason", "br"), ("result", "blocked")]) == 1.0));
}
