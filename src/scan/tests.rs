//! Labelled cases for every detector, in text, in JSON bodies and in streams split at every
//! byte, and hard negatives that must pass byte-identical.

use super::*;
use super::{PiiMode, Policy, SecretMode};
use std::borrow::Cow;

/// The guard of a configuration, compiled as the plugin does.
fn guard_of(json: &[u8]) -> Guard {
    let raw = crate::config::RawConfig::parse(json).unwrap();
    Guard::compile(raw.pii, raw.secrets).unwrap()
}

fn guard() -> Guard {
    guard_of(b"{}")
}

include!("../../tests/data/guard_cases.rs");

fn block() -> Policy {
    Policy { pii: PiiMode::Observe, secrets: SecretMode::Block }
}

#[test]
fn there_are_at_least_40_rule_families_and_each_has_a_case() {
    let ids: std::collections::HashSet<&str> = rules::RULES.iter().map(|r| r.id).collect();
    assert!(ids.len() >= 40, "{}", ids.len());
    let labelled = detector_cases();
    let cased: std::collections::HashSet<&str> =
        secret_cases().iter().map(|(id, _)| *id).chain(labelled.iter().flat_map(|c| c.kinds.iter().map(String::as_str))).collect();
    for id in &ids {
        assert!(cased.contains(id), "no labelled case for rule {id}");
    }
}

#[test]
fn every_secret_rule_finds_its_case_in_text_and_json_and_blocks_it() {
    let g = guard();
    for (rule, value) in secret_cases() {
        let text = format!("here it is: {value} -- thanks");
        let found: Vec<String> = g.detectors.find(text.as_bytes(), false, true).iter().map(|f| g.detectors.kind_name(f.kind).into_owned()).collect();
        assert_eq!(found, vec![rule.to_owned()], "{rule}: {text}");
        // in a JSON body, string-escaped, and nested inside a tool call's arguments
        let plain = serde_json::json!({"messages": [{"role": "user", "content": text}]}).to_string();
        let nested_args = serde_json::json!({"note": text}).to_string();
        let nested = serde_json::json!({"tool_calls": [{"function": {"name": "save", "arguments": nested_args}}]}).to_string();
        for body in [plain, nested] {
            let r = guard_body(&g, block(), body.as_bytes());
            assert_eq!(r.outcome, Outcome::Blocked(rule.to_owned()), "{rule}: {body}");
        }
    }
}

#[test]
fn redacted_secrets_leave_valid_json_and_no_trace_of_the_value() {
    let g = guard();
    for (rule, value) in secret_cases() {
        let body = serde_json::json!({"content": format!("use {value} please"), "n": 1}).to_string();
        let findings = g.detectors.find(body.as_bytes(), false, true);
        assert!(!findings.is_empty(), "{rule}");
        let out = redact(&g, body.as_bytes(), &findings);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap_or_else(|e| panic!("{rule}: {e}: {}", String::from_utf8_lossy(&out)));
        let content = v["content"].as_str().unwrap();
        assert!(content.contains("[REDACTED:SECRET]"), "{rule}: {content}");
        assert_eq!(v["n"], 1);
        let secret_part = secret_part(rule, &value);
        assert!(!content.contains(&secret_part), "{rule}: {content}");
    }
}

/// What a stream redactor releases for `chunks`, in all.
fn redact_stream(g: &Guard, policy: Policy, chunks: &[&[u8]]) -> Vec<u8> {
    let mut r = StreamRedactor::new(512);
    let mut out = Vec::new();
    for c in chunks {
        out.extend(r.push(g, policy, c));
    }
    out.extend(r.finish(g, policy));
    out
}

#[test]
fn streams_split_at_every_byte_give_the_same_redaction() {
    let g = guard();
    let policy = Policy { pii: PiiMode::Redact, secrets: SecretMode::Block };
    let mut cases: Vec<(String, String)> = secret_cases().into_iter().filter(|(r, _)| *r != "private-key").map(|(r, v)| (r.to_owned(), v)).collect();
    cases.push(("email".into(), "jane.doe@example.com".into()));
    cases.push(("credit_card".into(), "4111-1111-1111-1111".into()));
    cases.push(("ssn".into(), "536-22-4187".into()));
    cases.push(("phone".into(), "+1 (415) 555-2671".into()));
    cases.push(("phone_intl".into(), "+44 20 7946 0958".into()));
    cases.push(("iban".into(), "GB82 WEST 1234 5698 7654 32".into()));
    cases.push(("ipv4".into(), "10.1.2.3".into()));
    cases.push(("ipv6".into(), "2a01:4f8:c17::1:2".into()));
    for (rule, value) in cases {
        let event = serde_json::json!({"choices": [{"delta": {"content": format!("x {value} y")}}]}).to_string();
        let stream = format!("data: {event}\n\ndata: [DONE]\n\n");
        let whole = redact_stream(&g, policy, &[stream.as_bytes()]);
        let text = String::from_utf8(whole.clone()).unwrap();
        assert!(!text.contains(value.as_str()), "{rule}: {text}");
        assert!(text.contains("[REDACTED:"), "{rule}: {text}");
        let data = text.lines().next().unwrap().strip_prefix("data: ").unwrap();
        assert!(serde_json::from_str::<serde_json::Value>(data).is_ok(), "{rule}: event still JSON: {data}");
        let b = stream.as_bytes();
        for i in 0..b.len() {
            assert_eq!(redact_stream(&g, policy, &[&b[..i], &b[i..]]), whole, "{rule}: split at {i}");
        }
    }
}

#[test]
fn a_stream_without_findings_is_not_delayed_past_its_lines() {
    let g = guard();
    let policy = Policy { pii: PiiMode::Redact, secrets: SecretMode::Block };
    let mut r = StreamRedactor::new(256);
    let out = r.push(&g, policy, b"data: {\"a\":1}\n\ndata: {\"b\"");
    assert_eq!(out, b"data: {\"a\":1}\n\n", "complete lines leave at once");
    assert_eq!(r.finish(&g, policy), b"data: {\"b\"");
}

#[test]
fn pii_in_json_escapes_nesting_and_numbers() {
    let g = guard();
    let redact_all = Policy { pii: PiiMode::Redact, secrets: SecretMode::Observe };
    let cases: &[(&str, &str)] = &[
        (r#"{"content":"mail john\u0040example.com now"}"#, r#"{"content":"mail [REDACTED:EMAIL] now"}"#),
        (r#"{"arguments":"{\"email\":\"a.b@corp.io\",\"n\":2}"}"#, r#"{"arguments":"{\"email\":\"[REDACTED:EMAIL]\",\"n\":2}"}"#),
        (r#"{"card":4111111111111111,"ok":true}"#, r#"{"card":"[REDACTED:CREDIT_CARD]","ok":true}"#),
        (r#"{"t":"line one\nSSN 536-22-4187"}"#, r#"{"t":"line one\nSSN [REDACTED:SSN]"}"#),
        (r#"{"t":"x\njane@example.org"}"#, r#"{"t":"x\n[REDACTED:EMAIL]"}"#),
        (r#"{"ip":"10.1.2.3","v6":"2a01:4f8:c17::1:2"}"#, r#"{"ip":"[REDACTED:IPV4]","v6":"[REDACTED:IPV6]"}"#),
        (r#"{"iban":"GB82 WEST 1234 5698 7654 32"}"#, r#"{"iban":"[REDACTED:IBAN]"}"#),
        (r#"{"p":"+1 (415) 555-2671"}"#, r#"{"p":"[REDACTED:PHONE]"}"#),
    ];
    for (input, want) in cases {
        let r = guard_body(&g, redact_all, input.as_bytes());
        match &r.outcome {
            Outcome::Rewritten(out) => {
                assert_eq!(String::from_utf8_lossy(out), *want, "{input}");
                serde_json::from_slice::<serde_json::Value>(out).unwrap();
            }
            other => panic!("{input}: {other:?}"),
        }
    }
}

const HARD_NEGATIVES: &[&str] = &[
    "id 123e4567-e89b-12d3-a456-426614174000",
    "sha 9fceb02d0ae598e95dc970b74767f19372d61af8 and 9fceb02",
    "blob aGVsbG8gd29ybGQgdGhpcyBpcyBiYXNlNjQgZW5jb2RlZCB0ZXh0IGZvciB0ZXN0aW5n",
    "card 4111 1111 1111 1112 is Luhn-invalid",
    "ssns 000-12-3456 666-12-3456 912-12-3456 123-00-4567 123-45-0000",
    "versions 1.2.3, v10.0.0.1, 2.14.0.3.1",
    "times 2026-11-24T21:45:56Z 12:30:45.123 1732487156",
    "order #100234567 and order 2024-000123 shipped",
    "Some keys start with sk- and are secret; never paste sk-them.",
    "the password field must be at least 8 characters",
    "set api_key to your key; see docs",
    "ASK the SKY; key-value stores; en-us locale",
    "eyJ alone is not a token",
];

#[test]
fn hard_negatives_pass_byte_identical() {
    let g = guard();
    let everything = Policy { pii: PiiMode::Redact, secrets: SecretMode::Block };
    for text in HARD_NEGATIVES {
        let body = serde_json::json!({"content": text}).to_string();
        let r = guard_body(&g, everything, body.as_bytes());
        assert_eq!(r.outcome, Outcome::Unchanged, "{text}: pii {:?} secrets {:?}", r.pii, r.secrets);
        assert!(r.pii.is_empty() && r.secrets.is_empty(), "{text}: {:?} {:?}", r.pii, r.secrets);
    }
}

#[test]
fn hard_negatives_in_a_stream_pass_byte_identical_at_every_split() {
    let g = guard();
    let everything = Policy { pii: PiiMode::Redact, secrets: SecretMode::Block };
    for text in HARD_NEGATIVES {
        let event = serde_json::json!({"choices": [{"delta": {"content": text}}]}).to_string();
        let stream = format!("data: {event}\n\ndata: [DONE]\n\n");
        let b = stream.as_bytes();
        for i in 0..b.len() {
            assert_eq!(redact_stream(&g, everything, &[&b[..i], &b[i..]]), b, "{text}: split at {i}");
        }
    }
}

#[test]
fn the_mcp_recordings_secret_is_blocked_and_their_pii_found() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/mcp/wire_streamable_http_modern_2026-07-28.jsonl");
    let text = std::fs::read_to_string(path).unwrap();
    let g = guard();
    let (mut blocked, mut pii) = (0, 0);
    for line in text.lines() {
        let ex: serde_json::Value = serde_json::from_str(line).unwrap();
        for key in ["request_body", "response_body"] {
            let body = ex[key].as_str().unwrap_or("");
            let r = guard_body(&g, block(), body.as_bytes());
            if let Outcome::Blocked(rule) = &r.outcome {
                assert_eq!(rule, "aws-access-key-id");
                blocked += 1;
            }
            pii += r.pii.total();
        }
    }
    assert!(blocked >= 1, "the AWS example key in the recording is blocked");
    assert!(pii >= 1, "the fake PII in the recording is found");
}

#[test]
fn custom_kinds_allowlists_and_pseudonyms() {
    let g = &guard_of(
        br#"{"pii":{"mode":"redact","placeholder":"pseudonym","pseudonym_salt":"s1","custom":[{"name":"EMPLOYEE_ID","pattern":"EMP-\\d{6}"}]},
            "secrets":{"allowlist":["AKIAIOSFODNN7EXAMPLE"],"custom":[{"id":"acme-token","pattern":"acme_[a-z0-9]{24}"}]}}"#,
    );
    let body = br#"{"a":"EMP-123456 and EMP-123456 and EMP-654321","b":"a@x.io","c":"a@x.io","k":"AKIAIOSFODNN7EXAMPLE"}"#;
    let policy = Policy { pii: PiiMode::Redact, secrets: SecretMode::Block };
    let r = guard_body(g, policy, body);
    let Outcome::Rewritten(out) = &r.outcome else { panic!("{:?}", r.outcome) };
    let v: serde_json::Value = serde_json::from_slice(out).unwrap();
    let a = v["a"].as_str().unwrap();
    let parts: Vec<&str> = a.split(" and ").collect();
    assert!(parts[0].starts_with("<EMPLOYEE_ID:") && parts[0].len() == "<EMPLOYEE_ID:123456>".len(), "{a}");
    assert_eq!(parts[0], parts[1], "the same value gets the same pseudonym");
    assert_ne!(parts[0], parts[2], "another value gets another one");
    assert_eq!(v["b"], v["c"]);
    assert_eq!(v["k"], "AKIAIOSFODNN7EXAMPLE", "allowlisted");
    let r = guard_body(g, policy, b"{\"t\":\"acme_0123456789abcdefghijklmn\"}");
    assert_eq!(r.outcome, Outcome::Blocked("acme-token".into()));
}

#[test]
fn telemetry_strings_are_sanitised_whatever_the_modes() {
    let g = guard_of(br#"{"pii":{"mode":"off"},"secrets":{"mode":"off"}}"#);
    assert_eq!(sanitize_for_telemetry(&g, "escalate: user jane@example.com, key AKIAIOSFODNN7EXAMPLE"), "escalate: user [REDACTED:EMAIL], key [REDACTED:SECRET]");
    assert!(matches!(sanitize_for_telemetry(&g, "gpt-4o-2024-08-06"), Cow::Borrowed(_)));
}

#[test]
fn the_block_reply_names_the_rule_and_never_the_secret() {
    let b = block_body("aws-access-key-id");
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["error"]["type"], "secret_detected");
    assert_eq!(v["error"]["rule"], "aws-access-key-id");
    assert!(!String::from_utf8_lossy(&b).contains("AKIA"));
}

#[test]
fn a_finding_in_part_of_a_json_number_replaces_the_whole_number() {
    // found by `make fuzz` (fuzz/regressions/redactor/): a match inside a bare number or part
    // of one used to leave `777."[REDACTED:...]"`, which is not JSON
    let g = guard();
    let redact_all = Policy { pii: PiiMode::Redact, secrets: SecretMode::Observe };
    for input in ["777.7877778", r#"{"a":777.7877778,"b":[1, 4111111111111111e0]}"#, "4111111111111111"] {
        let r = guard_body(&g, redact_all, input.as_bytes());
        let kinds = &r.pii;
        match &r.outcome {
            Outcome::Rewritten(out) => {
                let v: serde_json::Value = serde_json::from_slice(out).unwrap_or_else(|e| panic!("{input} -> {}: {e}", String::from_utf8_lossy(out)));
                assert!(String::from_utf8_lossy(out).contains("[REDACTED:"), "{input}: {kinds:?}");
                assert!(!v.to_string().contains("7877778"), "{input}: a part of the number is left");
            }
            Outcome::Unchanged => {}
            other => panic!("{input}: {other:?}"),
        }
    }
    // a bare card number is JSON and becomes a JSON string
    let r = guard_body(&g, redact_all, b"4111111111111111");
    assert!(matches!(&r.outcome, Outcome::Rewritten(out) if out == b"\"[REDACTED:CREDIT_CARD]\""), "{:?}", r.outcome);
    // in text that is not JSON, the placeholder goes in bare
    let r = guard_body(&g, redact_all, b"call 415-555-2671 now");
    assert!(matches!(&r.outcome, Outcome::Rewritten(out) if out == b"call [REDACTED:PHONE] now"), "{:?}", r.outcome);
}

// ------------------------------------------------------------------ the labelled set (#16)

include!("../../tests/data/detector_cases.rs");

/// What the guard finds in a case: kind names and rule ids. Telemetry cases are judged on
/// `redact_all`'s output: their value must be gone (a positive) or the text untouched.
fn judge(g: &Guard, c: &DetectorCase) -> Vec<String> {
    if c.tier == "telemetry" {
        let out = redact_all(g, c.text.as_bytes());
        let changed = out != c.text.as_bytes();
        let gone = !String::from_utf8_lossy(&out).contains(&c.value);
        return if gone && changed { vec!["high-entropy-string".into()] } else if changed { vec!["other".into()] } else { vec![] };
    }
    let everything = Policy { pii: PiiMode::Redact, secrets: SecretMode::Observe };
    let r = guard_body(g, everything, c.text.as_bytes());
    r.pii.names(g).into_iter().chain(r.secrets.names(g)).collect()
}

#[test]
fn the_labelled_set_meets_its_targets() {
    let g = guard();
    let cases = detector_cases();
    assert!(cases.len() >= 1000, "{}", cases.len());
    // (tier, class) -> (tp, fn, fp, tn), and the failures to show
    let mut m: std::collections::BTreeMap<(String, String), [usize; 4]> = Default::default();
    let mut misses = Vec::new();
    for c in &cases {
        let found = judge(&g, c);
        let e = m.entry((c.tier.clone(), c.class.clone())).or_default();
        if c.kinds.is_empty() {
            if found.is_empty() { e[3] += 1 } else { e[2] += 1; misses.push(format!("FP {} {:?}: {:?} in {:?}", c.tier, found, c.value, c.text)) }
        } else if c.kinds.iter().all(|k| found.contains(k)) {
            e[0] += 1;
        } else {
            e[1] += 1;
            misses.push(format!("FN {} want {:?} got {:?}: {:?}", c.tier, c.kinds, found, c.text));
        }
    }
    let mut report = String::new();
    let mut ok = true;
    for ((tier, class), [tp, fnn, fp, _]) in &m {
        let precision = *tp as f64 / (*tp + *fp).max(1) as f64;
        let recall = *tp as f64 / (*tp + *fnn).max(1) as f64;
        report.push_str(&format!("{tier} {class}: precision {precision:.3} recall {recall:.3}\n"));
        ok &= match tier.as_str() {
            "core" => precision >= 0.99 && recall >= 0.99,
            "extended" => recall >= 0.90,
            _ => recall >= 0.90 && precision >= 0.90,
        };
    }
    assert!(ok, "{report}{}", misses.join("\n"));
}

#[test]
fn every_labelled_secret_is_gone_from_telemetry_and_every_case_keeps_json_valid() {
    let g = guard();
    let everything = Policy { pii: PiiMode::Redact, secrets: SecretMode::Block };
    let pii_only = Policy { pii: PiiMode::Redact, secrets: SecretMode::Observe };
    for c in detector_cases() {
        // the text as a JSON string value, and the JSON bodies as they are
        let wrapped = serde_json::json!({"messages": [{"role": "user", "content": c.text}]}).to_string();
        let ascii = wrapped.chars().map(|ch| if ch.is_ascii() { ch.to_string() } else { let mut b = [0u16; 2]; ch.encode_utf16(&mut b).iter().map(|u| format!("\\u{u:04x}")).collect() }).collect::<String>();
        let mut bodies = vec![wrapped, ascii];
        if c.context.starts_with("json") {
            bodies.push(c.text.clone());
        }
        for body in &bodies {
            for policy in [everything, pii_only] {
                if let Outcome::Rewritten(out) = guard_body(&g, policy, body.as_bytes()).outcome {
                    assert!(serde_json::from_slice::<serde_json::Value>(&out).is_ok(), "invalid JSON from {body}: {}", String::from_utf8_lossy(&out));
                }
            }
            let out = redact_all(&g, body.as_bytes());
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap_or_else(|e| panic!("redact_all: {e}: {body} -> {}", String::from_utf8_lossy(&out)));
            if c.class == "secret" && !c.kinds.is_empty() {
                assert!(!v.to_string().contains(&c.value), "{:?} leaks into telemetry: {}", c.kinds, String::from_utf8_lossy(&out));
            }
        }
        if c.class == "secret" && !c.kinds.is_empty() {
            let s = sanitize_for_telemetry(&g, &c.text);
            assert!(!s.contains(&c.value), "{:?}: sanitize_for_telemetry leaks: {s}", c.kinds);
        }
    }
}

#[test]
fn placeholder_labels_are_the_stat_names_in_capitals() {
    let g = guard();
    for k in [Kind::Email, Kind::Phone, Kind::Ssn, Kind::CreditCard, Kind::Iban, Kind::Ipv4, Kind::Ipv6] {
        assert_eq!(g.detectors.label(k), g.detectors.kind_name(k).to_ascii_uppercase());
        let f = Finding { start: 0, end: 1, kind: k };
        assert_eq!(crate::scan::redact::placeholder_len(&g, k), crate::scan::placeholder(&g, b"x", &f).len());
    }
}

#[test]
fn secrets_after_bytes_that_are_not_utf8_are_still_found_at_their_offsets() {
    let g = guard();
    let key = b"AKIAX66S2O4A2QPOASTV";
    // a lone continuation byte, a truncated sequence, an overlong form, and a character cut
    // off by the end of the text (which must not hide what comes before it)
    for (before, after) in [(&b"here \xff it is: "[..], &b" -- thanks"[..]), (b"\xe2\x82 x \xc0\xaf: ", b" ok"), (b"caf\xc3\xa9 \x80\x80 ", b" \xe2\x82")] {
        let mut t = before.to_vec();
        t.extend_from_slice(key);
        t.extend_from_slice(after);
        let found = g.detectors.find(&t, true, true);
        let secrets: Vec<(usize, usize)> = found.iter().filter(|f| f.kind.is_secret()).map(|f| (f.start, f.end)).collect();
        assert_eq!(secrets, vec![(before.len(), before.len() + key.len())], "{:?}", String::from_utf8_lossy(&t));
    }
}
