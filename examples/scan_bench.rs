//! The guard's scanning speed and accuracy, natively: `cargo run --release --example scan_bench`.
//! Prints one JSON line: MB/s on clean prose and on text dense with candidates (every detector
//! on), precision and recall by tier over the labelled set that the unit tests and the fuzz
//! smoke read (`tests/data/detectors.jsonl`), and how many redactions produced invalid JSON.

use genai_tap::{PiiMode, Policy, SecretMode};
use genai_tap::Config;
use std::time::Instant;

include!("../tests/data/detector_cases.rs");

fn mbps(guard: &genai_tap::Guard, text: &[u8]) -> f64 {
    let policy = Policy { pii: PiiMode::Redact, secrets: SecretMode::Observe };
    let start = Instant::now();
    let mut rounds = 0;
    while start.elapsed().as_secs_f64() < 1.0 || rounds < 3 {
        std::hint::black_box(genai_tap::guard_body(guard, policy, text));
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
        host 10.1.2.3; token 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 and password = \"S3cr3t!Passw0rd#2024\". ";
    let dense: String = dense_unit.repeat(2 * 1024 * 1024 / dense_unit.len());
    // a fixed amount of work, for an instruction count that does not depend on the load:
    // `SCAN_ONLY=clean|dense|pii ROUNDS=3 valgrind --tool=callgrind target/release/examples/scan_bench`,
    // minus the same with ROUNDS=1, is two guard scans of 256 KiB
    if let Ok(which) = std::env::var("SCAN_ONLY") {
        let rounds: usize = std::env::var("ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
        // `pii`: the prompt `make bench` sends Envoy as dense text (PII, no secret)
        let pii_unit = "contact jane.doe@example.com or 415-555-2671, card 4111 1111 1111 1111, host 10.1.2.3, \
            ssn 123-45-6789, iban GB82 WEST 1234 5698 7654 32; the token word and the key word stay. ";
        let pii_dense = pii_unit.repeat(512 * 1024 / pii_unit.len());
        // `prompt`: the clean prompt `make bench` sends Envoy, as the JSON body it is
        let words = "Summarise the incident report and list follow-up actions for the platform team. ";
        let prompt = format!("{{\"model\": \"gpt-4o\", \"messages\": [{{\"role\": \"user\", \"content\": \"{}\"}}]}}",
            &words.repeat(300 * 1024 / words.len())[..260 * 1024]);
        let text = match which.as_str() {
            "dense" => &dense,
            "pii" => &pii_dense,
            "prompt" => &prompt,
            _ => &clean,
        };
        let text = &text.as_bytes()[..256 * 1024];
        let policy = Policy { pii: PiiMode::Redact, secrets: SecretMode::Observe };
        let mut n = 0;
        let started = Instant::now();
        // `SCAN_PATH=stream`: the request guard as Envoy drives it, 16 KiB chunks of a body
        // with `content-length` (placeholders fitted to each value's length)
        let stream = std::env::var("SCAN_PATH").is_ok_and(|p| p == "stream");
        for _ in 0..rounds {
            if stream {
                let setup = genai_tap::RequestGuardSetup {
                    policy,
                    content_length: true,
                    content_encoding: None,
                    window: 64 * 1024,
                    block_uninspectable: true,
                };
                let mut g = genai_tap::RequestGuard::new(setup);
                let chunks: Vec<&[u8]> = text.chunks(16 * 1024).collect();
                for (i, c) in chunks.iter().enumerate() {
                    std::hint::black_box(g.push(&guard, c, i + 1 == chunks.len()));
                }
                n += g.pii.total();
            } else {
                n += std::hint::black_box(genai_tap::guard_body(&guard, policy, text)).pii.total();
            }
        }
        let mbps = (text.len() * rounds) as f64 / started.elapsed().as_secs_f64() / 1e6;
        println!("{{\"rounds\":{rounds},\"bytes\":{},\"pii\":{n},\"mbps\":{mbps:.1}}}", text.len());
        return;
    }
    let clean_mbps = mbps(&guard, clean.as_bytes());
    let dense_mbps = mbps(&guard, dense.as_bytes());
    let hundred_k = &clean.as_bytes()[..100 * 1024];
    let t = Instant::now();
    for _ in 0..100 {
        std::hint::black_box(genai_tap::guard_body(&guard, Policy { pii: PiiMode::Redact, secrets: SecretMode::Block }, hundred_k));
    }
    let per_100k_us = t.elapsed().as_secs_f64() * 1e6 / 100.0;

    // precision and recall over the labelled set (tests/data/detectors.jsonl), by tier and
    // class: a positive counts when every kind it names is found, a negative when nothing is;
    // and every case, as a JSON body, must stay valid JSON whatever is redacted
    let everything = Policy { pii: PiiMode::Redact, secrets: SecretMode::Observe };
    let mut tiers: std::collections::BTreeMap<String, [usize; 4]> = Default::default();
    let mut invalid_json = 0usize;
    let cases = detector_cases();
    for c in &cases {
        let found: Vec<String> = if c.tier == "telemetry" {
            let out = genai_tap::redact_all(&guard, c.text.as_bytes());
            let gone = !String::from_utf8_lossy(&out).contains(&c.value);
            if out != c.text.as_bytes() { vec![if gone { "high-entropy-string".into() } else { "other".into() }] } else { vec![] }
        } else {
            let g = genai_tap::guard_body(&guard, everything, c.text.as_bytes());
            g.pii.names(&guard).into_iter().chain(g.secrets.names(&guard)).collect()
        };
        let e = tiers.entry(format!("{}_{}", c.tier, c.class)).or_default();
        match (c.kinds.is_empty(), found.is_empty()) {
            (true, true) => e[3] += 1,
            (true, false) => e[2] += 1,
            (false, _) if c.kinds.iter().all(|k| found.contains(k)) => e[0] += 1,
            (false, _) => e[1] += 1,
        }
        let body = serde_json::json!({"messages": [{"role": "user", "content": c.text}]}).to_string();
        let mut bodies = vec![body];
        if c.context.starts_with("json") {
            bodies.push(c.text.clone());
        }
        for b in &bodies {
            let full = Policy { pii: PiiMode::Redact, secrets: SecretMode::Block };
            for p in [everything, full] {
                if let genai_tap::GuardOutcome::Rewritten(out) = genai_tap::guard_body(&guard, p, b.as_bytes()).outcome {
                    invalid_json += usize::from(serde_json::from_slice::<serde_json::Value>(&out).is_err());
                }
            }
            invalid_json += usize::from(serde_json::from_slice::<serde_json::Value>(&genai_tap::redact_all(&guard, b.as_bytes())).is_err());
        }
    }
    let mut per_tier = String::new();
    let (mut core_tp, mut core_fp, mut core_fn) = (0, 0, 0);
    for (name, [tp, fnn, fp, tn]) in &tiers {
        let precision = *tp as f64 / (*tp + *fp).max(1) as f64;
        let recall = *tp as f64 / (*tp + *fnn).max(1) as f64;
        eprintln!("{name:>18}: precision {precision:.4} recall {recall:.4} (tp {tp} fn {fnn} fp {fp} tn {tn})");
        per_tier.push_str(&format!(",\"{name}\":{{\"precision\":{precision:.4},\"recall\":{recall:.4},\"cases\":{}}}", tp + fnn + fp + tn));
        if name.starts_with("core_") {
            core_tp += tp;
            core_fp += fp;
            core_fn += fnn;
        }
    }
    let precision = core_tp as f64 / (core_tp + core_fp).max(1) as f64;
    let recall = core_tp as f64 / (core_tp + core_fn).max(1) as f64;
    eprintln!("{:>18}: {invalid_json}", "invalid JSON");
    println!(
        "{{\"clean_mbps\":{clean_mbps:.1},\"dense_mbps\":{dense_mbps:.1},\"guard_100k_prompt_us\":{per_100k_us:.1},\"precision\":{precision:.4},\"recall\":{recall:.4},\"cases\":{},\"invalid_json\":{invalid_json}{per_tier}}}",
        cases.len()
    );
}
