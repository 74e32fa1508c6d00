//! The streaming request guard against the whole-body guard: every labelled case, split at
//! every byte and fed one byte at a time, gives the same verdict and the same bytes.

use super::*;
use crate::scan::{PiiMode, Policy, SecretMode};
use crate::plugin::Config;
use crate::scan::{guard_body, Outcome};

include!("../../../tests/data/guard_cases.rs");

fn guard() -> Guard {
    Config::from_json(b"{}").unwrap().guard
}

const EVERYTHING: Policy = Policy { pii: PiiMode::Redact, secrets: SecretMode::Block };

fn setup(policy: Policy, content_length: bool) -> Setup<'static> {
    Setup { policy, content_length, content_encoding: None, window: DEFAULT_WINDOW, block_uninspectable: true }
}

/// What the upstream gets for `chunks`, and the refusal if any.
fn run(g: &Guard, s: Setup<'_>, chunks: &[&[u8]]) -> (Vec<u8>, Option<Refusal>) {
    let mut r = RequestGuard::new(s);
    let mut out = Vec::new();
    let n = chunks.len();
    for (i, c) in chunks.iter().enumerate() {
        match r.push(g, c, i + 1 == n) {
            Verdict::Forward(b) => out.extend(b),
            Verdict::Block(why) => return (out, Some(why)),
        }
    }
    (out, None)
}

fn split_everywhere(g: &Guard, s: Setup<'_>, body: &[u8], want: &(Vec<u8>, Option<Refusal>), what: &str) {
    for i in 0..=body.len() {
        let got = run(g, s, &[&body[..i], &body[i..]]);
        if want.1.is_some() {
            assert_eq!(got.1, want.1, "{what}: split at {i}");
            assert!(body.starts_with(&got.0), "{what}: split at {i}: only an untouched prefix leaves before a block");
        } else {
            assert_eq!(got, *want, "{what}: split at {i}");
        }
    }
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    let got = run(g, s, &bytes);
    assert_eq!(got.1, want.1, "{what}: one byte at a time");
    if want.1.is_none() {
        assert_eq!(got.0, want.0, "{what}: one byte at a time");
    }
}

#[test]
fn every_secret_is_blocked_at_every_split_and_its_bytes_never_leave() {
    let g = guard();
    for (rule, value) in secret_cases() {
        let text = format!("here it is: {value} -- thanks");
        let plain = serde_json::json!({"messages": [{"role": "user", "content": text}]}).to_string();
        let nested_args = serde_json::json!({"note": text}).to_string();
        let nested = serde_json::json!({"tool_calls": [{"function": {"name": "save", "arguments": nested_args}}]}).to_string();
        for body in [plain, nested] {
            let whole = guard_body(&g, EVERYTHING, body.as_bytes());
            assert_eq!(whole.outcome, Outcome::Blocked(rule.to_owned()), "{rule}");
            let want = run(&g, setup(EVERYTHING, true), &[body.as_bytes()]);
            assert_eq!(want.1, Some(Refusal::Secret(rule.to_owned())), "{rule}: {body}");
            split_everywhere(&g, setup(EVERYTHING, true), body.as_bytes(), &want, rule);
            // whatever left before the block stops before the secret starts
            let at = body.find(&secret_part(rule, &value)[..4]).unwrap();
            for i in (0..body.len()).step_by(7) {
                let (sent, _) = run(&g, setup(EVERYTHING, true), &[&body.as_bytes()[..i], &body.as_bytes()[i..]]);
                assert!(sent.len() <= at, "{rule}: split at {i}: {} bytes left, the secret starts at {at}", sent.len());
            }
        }
    }
}

fn pii_cases() -> Vec<(&'static str, &'static str)> {
    vec![
        (r#"{"content":"mail john\u0040example.com now"}"#, r#"{"content":"mail [REDACTED:EMAIL] now"}"#),
        (r#"{"arguments":"{\"email\":\"a.b@corp.io\",\"n\":2}"}"#, r#"{"arguments":"{\"email\":\"[REDACTED:EMAIL]\",\"n\":2}"}"#),
        (r#"{"card":4111111111111111,"ok":true}"#, r#"{"card":"[REDACTED:CREDIT_CARD]","ok":true}"#),
        (r#"{"t":"line one\nSSN 536-22-8741"}"#, r#"{"t":"line one\nSSN [REDACTED:SSN]"}"#),
        (r#"{"t":"x\njane@example.org"}"#, r#"{"t":"x\n[REDACTED:EMAIL]"}"#),
        (r#"{"ip":"10.1.2.3","v6":"2a03:2880:f12f::1:2"}"#, r#"{"ip":"[REDACTED:IPV4]","v6":"[REDACTED:IPV6]"}"#),
        (r#"{"iban":"GB82 WEST 1234 5698 7654 32"}"#, r#"{"iban":"[REDACTED:IBAN]"}"#),
        (r#"{"p":"+1 (415) 555-2671"}"#, r#"{"p":"[REDACTED:PHONE]"}"#),
        ("4111111111111111", "\"[REDACTED:CREDIT_CARD]\""),
        ("call 415-555-2671 now", "call [REDACTED:PHONE] now"),
    ]
}

#[test]
fn chunked_pii_is_redacted_as_the_whole_body_path_does_at_every_split() {
    let g = guard();
    for (input, want_text) in pii_cases() {
        let whole = guard_body(&g, EVERYTHING, input.as_bytes());
        assert_eq!(whole.outcome, Outcome::Rewritten(want_text.as_bytes().to_vec()), "{input}");
        let want = run(&g, setup(EVERYTHING, false), &[input.as_bytes()]);
        assert_eq!(String::from_utf8_lossy(&want.0), want_text, "{input}");
        split_everywhere(&g, setup(EVERYTHING, false), input.as_bytes(), &want, input);
    }
}

#[test]
fn with_content_length_pii_keeps_the_exact_length_and_the_json_stays_valid() {
    let g = guard();
    for (input, _) in pii_cases() {
        let want = run(&g, setup(EVERYTHING, true), &[input.as_bytes()]);
        let out = String::from_utf8(want.0.clone()).unwrap();
        assert_eq!(out.len(), input.len(), "{input} -> {out}");
        assert_ne!(out, input, "{input}: something was replaced");
        if input.starts_with('{') || input.starts_with('4') {
            serde_json::from_str::<serde_json::Value>(&out).unwrap_or_else(|e| panic!("{input} -> {out}: {e}"));
        }
        for value in ["john", "a.b@corp.io", "4111111111111111", "536-22-8741", "jane@example.org", "10.1.2.3", "GB82", "555-2671"] {
            assert!(!out.contains(value), "{input} -> {out}");
        }
        split_everywhere(&g, setup(EVERYTHING, true), input.as_bytes(), &want, input);
    }
}

#[test]
fn fitted_placeholders_per_kind() {
    let g = guard();
    let cases: &[(Kind, usize, &str)] = &[
        (Kind::Email, 16, "[REDACTED:EMAIL]"),
        (Kind::Email, 20, "[REDACTED:EMAIL****]"),
        (Kind::Email, 9, "[EMAIL**]"),
        (Kind::Email, 6, "******"),
        (Kind::CreditCard, 16, "[CARD**********]"),
        (Kind::CreditCard, 22, "[REDACTED:CREDIT_CARD]"),
        (Kind::Ipv4, 7, "[IP***]"),
        (Kind::Ssn, 11, "[SSN******]"),
        (Kind::Phone, 12, "[PHONE*****]"),
        (Kind::Iban, 27, "[REDACTED:IBAN************]"),
    ];
    for (kind, n, want) in cases {
        let mut out = b"before".to_vec();
        write_fitted(&mut out, &g, *kind, b"x", *n);
        assert_eq!(String::from_utf8_lossy(&out), format!("before{want}"), "{kind:?} in {n}");
        assert_eq!(want.len(), *n);
    }
}

#[test]
fn clean_bodies_and_hard_negatives_pass_byte_identical_at_every_split() {
    let g = guard();
    let mut bodies: Vec<String> = [
        "id 123e4567-e89b-12d3-a456-426614174000",
        "card 4111 1111 1111 1112 is Luhn-invalid",
        "Some keys start with sk- and are secret; never paste sk-them.",
        "the password field must be at least 8 characters",
        "ASK the SKY; key-value stores; en-us locale",
        "eyJ alone is not a token",
        "unicode: h\u{e9}llo w\u{f6}rld \u{1f600} and \\u00e9 escapes",
    ]
    .iter()
    .map(|t| serde_json::json!({"content": t}).to_string())
    .collect();
    bodies.push("not json at all, \"quoted\" and \\ backslashes\\".into());
    for body in bodies {
        for s in [setup(EVERYTHING, true), setup(EVERYTHING, false)] {
            let want = (body.as_bytes().to_vec(), None);
            assert_eq!(run(&g, s, &[body.as_bytes()]), want, "{body}");
            split_everywhere(&g, s, body.as_bytes(), &want, &body);
        }
    }
}

/// A deterministic clean prose body of about `n` bytes, as a chat request.
fn big_chat(n: usize, tail: &str) -> Vec<u8> {
    let words = ["the", "agent", "reads", "a", "long", "document", "about", "invoices,", "ships", "and", "weather;", "then", "it", "answers.", "Numbers", "like", "42", "and", "3.14", "appear\\n"];
    let mut s = String::with_capacity(n + 200);
    let mut i = 0usize;
    while s.len() < n {
        s.push_str(words[i % words.len()]);
        s.push(' ');
        i = i.wrapping_mul(31).wrapping_add(7) % 1009;
    }
    format!(r#"{{"model":"gpt-4o","messages":[{{"role":"user","content":"{s}{tail}"}}]}}"#).into_bytes()
}

#[test]
fn a_big_body_holds_a_bounded_tail_and_blocks_a_secret_near_its_end() {
    let g = guard();
    let clean = big_chat(3 << 20, " end");
    let secret = big_chat(3 << 20, " AKIAZ7QW4XJ2LBNM5K3P end");
    let mut r = RequestGuard::new(setup(EVERYTHING, true));
    let mut out = Vec::new();
    let chunks: Vec<&[u8]> = clean.chunks(16 * 1024 + 3).collect();
    for (i, c) in chunks.iter().enumerate() {
        let Verdict::Forward(b) = r.push(&g, c, i + 1 == chunks.len()) else { panic!("clean body blocked") };
        out.extend(b);
        assert!(r.held_bytes() <= PII_HOLD + CONTEXT + 16, "holds {} bytes", r.held_bytes());
    }
    assert!(out == clean, "the clean body leaves byte-identical");
    assert!(r.peak_state_bytes() <= PII_HOLD + CONTEXT + 16 * 1024 + 3 + 16, "{}", r.peak_state_bytes());
    let (sent, refused) = run(&g, setup(EVERYTHING, true), &secret.chunks(64 * 1024).collect::<Vec<_>>());
    assert_eq!(refused, Some(Refusal::Secret("aws-access-key-id".into())));
    let at = memchr::memmem::find(&secret, b"AKIAZ7").unwrap();
    assert!(sent.len() <= at && secret.starts_with(&sent), "{} bytes sent, the key at {at}", sent.len());
    assert!(sent.len() + 64 * 1024 + PII_HOLD >= at, "the clean prefix left as it came");
}

#[test]
fn pii_across_a_chunk_boundary_is_redacted_in_place() {
    let g = guard();
    let body = big_chat(200_000, " mail jane.doe@example.com today");
    let at = memchr::memmem::find(&body, b"jane.doe").unwrap();
    for split in [at - 1, at + 3, at + 9, at + 19] {
        let (out, refused) = run(&g, setup(EVERYTHING, true), &[&body[..split], &body[split..]]);
        assert!(refused.is_none());
        assert_eq!(out.len(), body.len());
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let content = v["messages"][0]["content"].as_str().unwrap();
        assert!(content.ends_with("mail [REDACTED:EMAIL****] today"), "{}", &content[content.len() - 40..]);
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 3];
    out.extend_from_slice(b"body.json\0");
    out.extend(miniz_oxide::deflate::compress_to_vec(data, 6));
    out.extend_from_slice(&[0; 8]);
    out
}

#[test]
fn gzip_and_deflate_bodies_are_scanned_and_pass_untouched_or_blocked() {
    let g = guard();
    let gz = |p: Policy| Setup { content_encoding: Some("gzip"), ..setup(p, true) };
    let clean = gzip(&big_chat(300_000, " end"));
    let (out, refused) = run(&g, gz(EVERYTHING), &clean.chunks(1000).collect::<Vec<_>>());
    assert_eq!(refused, None);
    assert!(out == clean, "a clean gzip body leaves as it came");
    let secret = gzip(&big_chat(300_000, " 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 end"));
    for size in [1, 7, 1000, 100_000] {
        // the body's end comes as an empty chunk after the deflate stream's end, as Envoy often
        // delivers it: the compressed tail must still wait for the scan of its text
        let mut chunks: Vec<&[u8]> = secret.chunks(size).collect();
        chunks.push(&[]);
        let (sent, refused) = run(&g, gz(EVERYTHING), &chunks);
        assert_eq!(refused, Some(Refusal::Secret("github-pat".into())), "pieces of {size}");
        assert!(sent.len() < secret.len() && secret.starts_with(&sent));
    }
    let z = miniz_oxide::deflate::compress_to_vec_zlib(&big_chat(1000, " AKIAZ7QW4XJ2LBNM5K3P"), 6);
    let deflate = Setup { content_encoding: Some("deflate"), ..setup(EVERYTHING, true) };
    assert_eq!(run(&g, deflate, &[&z]).1, Some(Refusal::Secret("aws-access-key-id".into())));
    // PII to redact inside a compressed body cannot be redacted in place
    let pii = gzip(&big_chat(1000, " jane.doe@example.com"));
    assert_eq!(run(&g, gz(EVERYTHING), &[&pii]).1, Some(Refusal::Uninspectable(reason::COMPRESSED_REDACTION)));
    let pass = Setup { block_uninspectable: false, ..gz(EVERYTHING) };
    let mut r = RequestGuard::new(pass);
    let Verdict::Forward(out) = r.push(&g, &pii, true) else { panic!("passes") };
    assert_eq!(out, pii);
    assert_eq!(r.uninspectable, Some(reason::COMPRESSED_REDACTION));
    // observed only: found, counted, untouched
    let observe = Policy { pii: PiiMode::Observe, secrets: SecretMode::Block };
    let mut r = RequestGuard::new(gz(observe));
    assert_eq!(r.push(&g, &pii, true), Verdict::Forward(pii.clone()));
    assert_eq!(r.pii.names(&g), vec!["email".to_owned()]);
}

#[test]
fn bodies_that_cannot_be_decoded_follow_the_setting() {
    let g = guard();
    for (enc, body, why) in [
        ("br", b"\x1b\x03\x00".to_vec(), reason::BROTLI),
        ("zstd", b"\x28\xb5\x2f\xfd".to_vec(), reason::ZSTD),
        ("gzip", b"this is not gzip at all".to_vec(), reason::DECODE_ERROR),
        ("compress", b"xx".to_vec(), reason::UNKNOWN_ENCODING),
    ] {
        let s = Setup { content_encoding: Some(enc), ..setup(EVERYTHING, true) };
        assert_eq!(run(&g, s, &[&body]).1, Some(Refusal::Uninspectable(why)), "{enc}");
        let mut r = RequestGuard::new(Setup { block_uninspectable: false, ..s });
        assert_eq!(r.push(&g, &body, false), Verdict::Forward(body.clone()), "{enc}");
        assert_eq!(r.push(&g, b"more", true), Verdict::Forward(b"more".to_vec()), "{enc}: then everything passes");
        assert_eq!(r.uninspectable, Some(why));
    }
}

#[test]
fn a_zip_bomb_stops_at_the_inflate_limit() {
    let g = guard();
    let bomb = gzip(&vec![b' '; (MAX_INFLATED + 1024 * 1024) as usize]);
    assert!(bomb.len() < 200 * 1024, "{}", bomb.len());
    let s = Setup { content_encoding: Some("gzip"), ..setup(EVERYTHING, true) };
    assert_eq!(run(&g, s, &bomb.chunks(64 * 1024).collect::<Vec<_>>()).1, Some(Refusal::Uninspectable(reason::INFLATE_LIMIT)));
}

#[test]
fn the_lexer_state_is_the_same_however_the_text_is_cut() {
    let t = br#"{"a":"x\"y\\","b":["q\\\"","z"],"c":"open \" still"#;
    let whole = Lex::default().run(t);
    assert!(whole.in_string && !whole.escape);
    for i in 0..=t.len() {
        let split = Lex::default().run(&t[..i]).run(&t[i..]);
        assert_eq!((split.in_string, split.escape), (whole.in_string, whole.escape), "cut at {i}");
    }
}

/// Issue #16's corrupted request, on the streaming path: an email written as `\u` escapes of
/// non-ASCII letters (as Python's `json.dumps` writes it) is redacted whole, at every split,
/// and the upstream gets valid JSON of the declared length.
#[test]
fn escaped_non_ascii_values_are_redacted_whole_and_the_json_stays_valid_at_every_split() {
    let guard = crate::plugin::Config::from_json(br#"{"pii":{"mode":"redact"}}"#).unwrap().guard;
    let body = br#"{"messages":[{"role":"user","content":"write to jos\u00e9.m\u00fcller@exampl\u00e9.com or \ud83d\ude00 jane\u0040example.com"}]}"#;
    serde_json::from_slice::<serde_json::Value>(body).unwrap();
    for content_length in [false, true] {
        for cut in 0..=body.len() {
            let setup = Setup { policy: Policy { pii: PiiMode::Redact, secrets: SecretMode::Observe }, content_length, content_encoding: None, window: 65_536, block_uninspectable: false };
            let mut g = RequestGuard::new(setup);
            let mut out = Vec::new();
            for (chunk, end) in [(&body[..cut], cut == body.len()), (&body[cut..], true)] {
                if chunk.is_empty() && !end {
                    continue;
                }
                match g.push(&guard, chunk, end) {
                    Verdict::Forward(b) => out.extend(b),
                    v => panic!("split at {cut}: {v:?}"),
                }
                if end {
                    break;
                }
            }
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap_or_else(|e| panic!("split at {cut}: {e}: {}", String::from_utf8_lossy(&out)));
            let text = v["messages"][0]["content"].as_str().unwrap().to_owned();
            assert!(!text.contains("example.com") && !text.contains("exampl\u{e9}.com") && !text.contains("jane"), "split at {cut}: {text}");
            assert!(text.contains('\u{1F600}'), "split at {cut}: the emoji is not PII: {text}");
            if content_length {
                assert_eq!(out.len(), body.len(), "split at {cut}");
            }
        }
    }
}
