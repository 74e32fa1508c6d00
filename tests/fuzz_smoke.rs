//! A short, deterministic smoke of every fuzz target, on stable, in `make test`.
//!
//! Each `cargo fuzz` target's property lives in `fuzz/oracles/`, and this test runs the same
//! property over seeds (every real recording's request and response bodies, the regressions
//! in `fuzz/regressions/<target>/`, and a local corpus when `make fuzz` has left one) and over
//! mutations of them from a seeded generator, for a bounded time per target. It has no coverage
//! guidance: that is `make fuzz`. What it gives CI is every crash ever found, and the inputs
//! that matter most (real traffic, cut and damaged), checked on every change.
// Test code: a failed unwrap or panic is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../fuzz/oracles/config.rs"]
mod config;
#[path = "../fuzz/oracles/framing.rs"]
mod framing;
#[path = "../fuzz/oracles/mcp.rs"]
mod mcp;
#[path = "../fuzz/oracles/otlp.rs"]
mod otlp;
#[path = "../fuzz/oracles/providers.rs"]
mod providers;
#[path = "../fuzz/oracles/redactor.rs"]
mod redactor;

include!("data/detector_cases.rs");

use genai_tap_testkit::upstream::{fixtures_dir, Fixture};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Time per target; FUZZ_SMOKE_MS overrides it.
fn budget() -> Duration {
    Duration::from_millis(std::env::var("FUZZ_SMOKE_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(2_500))
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Bodies from every recording, plus the regression and corpus files of `target`.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for dir in [fixtures_dir(), genai_tap_testkit::upstream::recordings_dir()] {
        let mut fixtures = Vec::new();
        files_under(&dir, &mut fixtures);
        for path in fixtures.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
            let name = path.strip_prefix(&dir).ok().and_then(|p| p.to_str()).map(|s| s.trim_end_matches(".json").to_owned());
            if let Some(fx) = name.and_then(|n| Fixture::load(&n).ok()) {
                out.push(fx.request_body());
                out.push(fx.response_body());
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for dir in [root.join("regressions").join(target), root.join("corpus").join(target)] {
        let mut files = Vec::new();
        files_under(&dir, &mut files);
        files.sort();
        // a local corpus can be large: a bounded, evenly spread sample of it
        let step = (files.len() / 500).max(1);
        out.extend(files.iter().step_by(step).filter_map(|f| std::fs::read(f).ok()));
    }
    if target == "redactor" {
        // the guard's labelled set: every case as a chat body, and the JSON ones as they are
        for c in detector_cases() {
            out.push(serde_json::json!({"messages": [{"role": "user", "content": c.text}]}).to_string().into_bytes());
            if c.context.starts_with("json") {
                out.push(c.text.into_bytes());
            }
        }
    }
    out.retain(|s| !s.is_empty());
    assert!(out.len() > 100, "{target}: only {} seeds; are the fixtures at {:?}?", out.len(), fixtures_dir());
    out
}

/// xorshift64*: the same inputs on every run, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Tokens that mean something to one of the parsers.
const TOKENS: &[&[u8]] = &[
    b"\"", b"\\", b"\\u00", b"\\ud83d", b"{", b"}", b"[", b"]", b":", b",", b"\n", b"\r\n", b"\n\n", b"data: ",
    b"event: ", b"data: [DONE]\n\n", b"null", b"true", b"-1", b"1e999", b"18446744073709551616", b"\xff", b"\x00\x00\x00",
    b"@example.com", b"4111 1111 1111 1111", b"AKIAIOSFODNN7EXAMPLE", b"\\u00e9", b"\\u0040", b"\xc2\xa0", b"%40",
    b"postgres://u:", b"hvs.", b"-----BEGIN PRIVATE KEY-----", b"\"content\":", b"\"usage\":{", b"\"jsonrpc\":\"2.0\"",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(7) {
            0 => data.truncate(at),
            1 if at < data.len() => data[at] ^= 1 << rng.below(8),
            2 => data.insert(at, rng.next() as u8),
            3 => {
                let end = (at + rng.below(64)).min(data.len());
                data.drain(at..end);
            }
            4 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                data.splice(at..at, t.iter().copied());
            }
            5 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len());
                let end = (from + rng.below(256)).min(other.len());
                data.splice(at..at, other[from..end].iter().copied());
            }
            _ => {
                let end = (at + rng.below(32)).min(data.len());
                let copy = data[at..end].to_vec();
                data.splice(at..at, copy);
            }
        }
    }
    data
}

/// Runs `check` over the seeds, with every selector byte the target reads in front, then over
/// mutations until the budget is spent. Returns how many inputs ran.
fn smoke(target: &str, selectors: usize, check: fn(&[u8])) -> usize {
    let seeds = seeds(target);
    let run = |input: &[u8]| {
        if catch_unwind(AssertUnwindSafe(|| check(input))).is_err() {
            let path = std::env::temp_dir().join(format!("fuzz-smoke-{target}.bin"));
            let _ = std::fs::write(&path, input);
            panic!("{target}: the property failed on an input of {} bytes, saved to {} (add it to fuzz/regressions/{target}/)", input.len(), path.display());
        }
    };
    let mut ran = 0;
    let prefixed = |sel: usize, body: &[u8], rng: &mut Rng| {
        let mut input = Vec::with_capacity(body.len() + 2);
        if selectors > 0 {
            input.push(sel as u8);
            input.push(rng.next() as u8);
        }
        input.extend_from_slice(body);
        run(&input);
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ target.len() as u64);
    for s in &seeds {
        for sel in 0..selectors.max(1) {
            prefixed(sel, s, &mut rng);
            ran += 1;
        }
    }
    let start = Instant::now();
    while start.elapsed() < budget() {
        let body = mutate(&mut rng, &seeds);
        let sel = rng.below(selectors.max(1));
        prefixed(sel, &body, &mut rng);
        ran += 1;
    }
    eprintln!("{target}: {} seeds, {ran} inputs", seeds.len());
    ran
}

// The selector counts are the targets' own: framing picks one of 4 formats from byte 0 and a
// cut from byte 1; providers one of 15 APIs from byte 0.
#[test]
fn framing() {
    assert!(smoke("framing", 4, framing::check) > 1000);
}

#[test]
fn providers() {
    assert!(smoke("providers", 15, providers::check) > 1000);
}

#[test]
fn config() {
    assert!(smoke("config", 0, config::check) > 1000);
}

#[test]
fn redactor() {
    assert!(smoke("redactor", 0, redactor::check) > 100);
}

#[test]
fn otlp() {
    assert!(smoke("otlp", 0, otlp::check) > 1000);
}

#[test]
fn mcp() {
    assert!(smoke("mcp", 0, mcp::check) > 1000);
}

/// The smoke catches what it is for: a property that fails on a damaged input.
#[test]
fn a_failing_property_is_reported() {
    fn never_a_quote(data: &[u8]) {
        assert!(!data.contains(&b'"'));
    }
    let got = catch_unwind(|| smoke("framing", 0, never_a_quote));
    assert!(got.is_err());
}
