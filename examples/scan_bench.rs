//! The guard's scanning speed and accuracy, natively: `cargo run --release --example scan_bench`.
//! Prints one JSON line: MB/s on clean prose and on text dense with candidates (every detector
//! on), and precision and recall over the labelled cases that the unit tests use.

use genai_tap::scan::{PiiMode, Policy, SecretMode};
use genai_tap::plugin::Config;
use genai_tap::scan;
use std::time::Instant;

include!("../tests/data/guard_cases.rs");

fn mbps(guard: &genai_tap::scan::Guard, text: &[u8]) -> f64 {
    let policy = Policy { pii: PiiMode::Redact, secrets: SecretMode::Observe };
    let start = Instant::now();
    let mut rounds = 0;
    while start.elapsed().as_secs_f64() < 1.0 || rounds < 3 {
        std::hint::black_box(scan::guard_body(guard, policy, text));
        rounds += 1;
    }
    (text.len() * rounds) as f64 / start.elapsed().as_secs_f64() / 1e6
}

fn main() {
    let guard = Config::from_json(b"{}").map(|c| c.guard).unwrap_or_default();
    let prose = "The agent reviewed the quarterly report, summarised the findings for the team, and \
        proposed three follow-up tasks: update the roadmap (version 2.3), schedule a review on 2026-12-01 \
        at 14:00, and ask finance about order 2024-000123. ";
    let clean: String = prose.repeat(8 * 1024 * 1024 / prose.len());
    let dense_unit = "contact jane.doe@example.com or 415-555-2671; key AKIAIOSFODNN7EXAMPLE; card 4111 1111 1111 1111; \
        host 10.1.2.3; token ghp_aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5 and password = \"S3cr3t!Passw0rd#2024\". ";
    let dense: String = dense_unit.repeat(2 * 1024 * 1024 / dense_unit.len());
    let clean_mbps = mbps(&guard, clean.as_bytes());
    let dense_mbps = mbps(&guard, dense.as_bytes());
    let hundred_k = &clean.as_bytes()[..100 * 1024];
    let t = Instant::now();
    for _ in 0..100 {
        std::hint::black_box(scan::guard_body(&guard, Policy { pii: PiiMode::Redact, secrets: SecretMode::Block }, hundred_k));
    }
    let per_100k_us = t.elapsed().as_secs_f64() * 1e6 / 100.0;

    // precision and recall over labelled cases: every secret case and PII case is a positive,
    // every hard negative a negative
    let positives: Vec<String> = secret_cases()
        .into_iter()
        .map(|(_, v)| v)
        .chain(["jane.doe@example.com", "(415) 555-2671", "+44 20 7946 0958", "123-45-6789", "4111 1111 1111 1111", "378282246310005", "GB82 WEST 1234 5698 7654 32", "192.168.10.254", "2001:db8:85a3::8a2e:370:7334"].map(String::from))
        .collect();
    let negatives = [
        "123e4567-e89b-12d3-a456-426614174000", "9fceb02d0ae598e95dc970b74767f19372d61af8", "aGVsbG8gd29ybGQgdGhpcyBpcyBiYXNlNjQ=",
        "4111 1111 1111 1112", "000-12-3456", "666-12-3456", "123-00-4567", "v10.0.0.1", "2026-11-24T21:45:56Z", "order 2024-000123",
        "sk- is a prefix", "12:30:45.123", "4155552671",
    ];
    let everything = Policy { pii: PiiMode::Redact, secrets: SecretMode::Observe };
    let hit = |s: &str| {
        let g = scan::guard_body(&guard, everything, format!("{{\"t\":\"x {s} y\"}}").as_bytes());
        !(g.pii.is_empty() && g.secrets.is_empty())
    };
    let tp = positives.iter().filter(|p| hit(p)).count();
    let fp = negatives.iter().filter(|n| hit(n)).count();
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / positives.len() as f64;
    println!(
        "{{\"clean_mbps\":{clean_mbps:.1},\"dense_mbps\":{dense_mbps:.1},\"guard_100k_prompt_us\":{per_100k_us:.1},\"precision\":{precision:.3},\"recall\":{recall:.3},\"positives\":{},\"negatives\":{}}}",
        positives.len(),
        negatives.len()
    );
}
