//! Bodies that end with trailers: no `end_of_stream` on a body chunk, and no way to write body
//! bytes from the trailers callback. What the guard holds must leave with a body chunk, or the
//! call ends with a clear, counted reply: never an answer or a request cut short in silence.

use super::*;
use crate::stats;

fn cfg(json: &str) -> Rc<Config> {
    Rc::new(Config::from_json(json.as_bytes()).unwrap())
}

fn head<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    pairs.to_vec()
}

fn ids() -> FreshIds {
    FreshIds::from_random([7; 24])
}

const CHAT: &[(&str, &str)] = &[(":method", "POST"), (":authority", "api.openai.com"), (":path", "/v1/chat/completions")];

/// A request body fed in `pieces`, none of them with `end_of_stream`; what left, in order.
fn request(x: &mut Exchange, content_length: Option<usize>, pieces: &[&[u8]]) -> Vec<u8> {
    let len = content_length.map(|n| n.to_string());
    let mut h = CHAT.to_vec();
    if let Some(len) = &len {
        h.push(("content-length", len.as_str()));
    }
    assert_eq!(x.handle_request_headers(RequestHead { headers: &head(&h) }, false, 0), HeadersVerdict::Continue);
    let mut out = Vec::new();
    for p in pieces {
        match x.handle_request_body(p, false, 1) {
            BodyVerdict::Continue => out.extend_from_slice(p),
            BodyVerdict::Replace(b) => out.extend(b),
            BodyVerdict::LocalReply(r) => panic!("unexpected reply {}", r.status),
        }
    }
    out
}

fn stat(done: &Finished, metric: stats::Metric, labels: &[(&str, &str)]) -> i64 {
    done.stats.iter().filter(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.iter().any(|(a, b)| a == k && b == v))).map(|s| s.value).sum()
}

#[test]
fn a_declared_length_releases_the_whole_body_before_the_trailers() {
    let c = cfg(r#"{"pii":{"mode":"redact"}}"#);
    let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"mail jane@example.org please"}]}"#;
    for split in [1, 30, 60, body.len() - 1] {
        let mut x = Exchange::new(c.clone(), ids());
        let sent = request(&mut x, Some(body.len()), &[&body[..split], &body[split..]]);
        // everything left with the last chunk, redacted and of the declared length
        assert_eq!(sent.len(), body.len(), "split at {split}");
        let v: serde_json::Value = serde_json::from_slice(&sent).unwrap();
        assert_eq!(v["messages"][0]["content"], "mail [REDACTED:EMAIL] please", "split at {split}");
        assert_eq!(x.handle_request_trailers(2), TrailersVerdict::Continue);
        let done = x.finish(&EndInfo::default(), 3);
        assert_eq!(stat(&done, stats::GUARD_REQUEST_TRAILERS, &[("result", "released")]), 1);
        assert_eq!(done.spans[0].attr(crate::span::attr::GEN_AI_REQUEST_MODEL), Some(&crate::span::AttrValue::from("gpt-4o")), "the request was read");
    }
}

#[test]
fn a_chunked_body_that_ends_with_trailers_while_held_is_refused_not_sent_cut() {
    let c = cfg(r#"{"pii":{"mode":"redact"}}"#);
    let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hello there"}]}"#;
    let mut x = Exchange::new(c.clone(), ids());
    let sent = request(&mut x, None, &[&body[..20], &body[20..]]);
    assert!(sent.len() < body.len() && body.starts_with(&sent), "only a prefix left: the guard holds the tail");
    let TrailersVerdict::LocalReply(reply) = x.handle_request_trailers(2) else { panic!("the tail cannot leave: a reply") };
    assert_eq!(reply.status, guard::TRAILERS_STATUS);
    let v: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(v["error"]["type"], "guard_incomplete_body");
    let done = x.finish(&EndInfo::default(), 3);
    assert_eq!(stat(&done, stats::GUARD_REQUEST_TRAILERS, &[("result", "refused")]), 1);
    assert_eq!(stat(&done, stats::GUARD_BLOCKS, &[("rule", guard::TRAILERS_RULE)]), 1);
    assert_eq!(done.spans[0].attr(crate::span::attr::TAP_OUTCOME), Some(&crate::span::AttrValue::from("blocked")));
    assert!(done.warnings.iter().any(|w| w.contains("ended with trailers")), "{:?}", done.warnings);
}

#[test]
fn a_secret_in_the_held_tail_is_still_blocked_at_the_trailers() {
    let c = cfg("{}");
    let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"key AKIAZ7QW4XJ2LBNM5K3P"}]}"#;
    let mut x = Exchange::new(c.clone(), ids());
    let sent = request(&mut x, None, &[body]);
    assert!(!sent.windows(4).any(|w| w == b"AKIA"), "the secret was held");
    let TrailersVerdict::LocalReply(reply) = x.handle_request_trailers(2) else { panic!("blocked") };
    assert_eq!(reply.status, 403);
    let done = x.finish(&EndInfo::default(), 3);
    assert_eq!(stat(&done, stats::GUARD_BLOCKS, &[("rule", "aws-access-key-id")]), 1);
    assert_eq!(stat(&done, stats::GUARD_REQUEST_TRAILERS, &[("result", "refused")]), 1);
}

#[test]
fn an_observing_guard_holds_nothing_so_trailers_change_nothing() {
    let c = cfg(r#"{"secrets":{"mode":"observe"}}"#);
    let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"key AKIAZ7QW4XJ2LBNM5K3P"}]}"#;
    let mut x = Exchange::new(c.clone(), ids());
    let sent = request(&mut x, None, &[&body[..40], &body[40..]]);
    assert_eq!(sent, body);
    assert_eq!(x.handle_request_trailers(2), TrailersVerdict::Continue);
    let done = x.finish(&EndInfo::default(), 3);
    assert_eq!(stat(&done, stats::GUARD_SECRET_HITS, &[("rule", "aws-access-key-id")]), 1, "the scan finished at the trailers");
    assert_eq!(stat(&done, stats::GUARD_REQUEST_TRAILERS, &[]), 0, "nothing was held");
    assert_eq!(done.spans[0].attr(crate::span::attr::GEN_AI_REQUEST_MODEL), Some(&crate::span::AttrValue::from("gpt-4o")));
}

/// An exchange whose request is done and whose response has started, with response redaction.
fn answering(content_type: &str) -> Exchange {
    let c = cfg(r#"{"pii":{"mode":"redact"}}"#);
    let mut x = Exchange::new(c, ids());
    let _ = request(&mut x, None, &[]);
    let _ = x.handle_request_body(br#"{"model":"gpt-4o","messages":[]}"#, true, 1);
    x.handle_response_headers(200, &head(&[(":status", "200"), ("content-type", content_type)]), false, 2);
    assert!(x.may_rewrite_response());
    x
}

fn respond(x: &mut Exchange, chunk: &[u8]) -> Vec<u8> {
    match x.handle_response_body(chunk, false, 3) {
        ResponseVerdict::Continue => chunk.to_vec(),
        ResponseVerdict::Replace(b) => b,
    }
}

#[test]
fn a_json_answer_leaves_with_the_chunk_that_closes_it() {
    let answer = br#"{"id":"c1","model":"gpt-4o","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"write to jane@example.org, {not} \"the\" end]"}}]}"#;
    for split in [1, 50, answer.len() - 1] {
        let mut x = answering("application/json");
        assert!(respond(&mut x, &answer[..split]).is_empty(), "held until whole");
        // no end_of_stream: a decompressor after genai-tap will add trailers
        let got = respond(&mut x, &answer[split..]);
        let v: serde_json::Value = serde_json::from_slice(&got).unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "write to [REDACTED:EMAIL], {not} \"the\" end]", "split at {split}");
        assert!(respond(&mut x, b"").is_empty(), "nothing left for the empty chunk");
        assert_eq!(x.handle_response_trailers(4), TrailersVerdict::Continue);
        let done = x.finish(&EndInfo::default(), 5);
        assert_eq!(stat(&done, stats::GUARD_RESPONSE_TRAILERS, &[("result", "released")]), 1);
        assert_eq!(stat(&done, stats::GUARD_REDACTIONS, &[("kind", "email")]), 1, "counted once");
    }
}

#[test]
fn the_empty_chunk_before_a_decompressors_trailers_releases_a_held_body() {
    // not JSON (an upstream's plain error page): held whole until the body's end
    let body = b"upstream says: contact jane@example.org";
    let mut x = answering("application/json");
    assert!(respond(&mut x, body).is_empty());
    // Envoy's decompressor: the body ends with an empty chunk without end_of_stream, then trailers
    assert_eq!(respond(&mut x, b""), b"upstream says: contact [REDACTED:EMAIL]".to_vec());
    assert_eq!(x.handle_response_trailers(4), TrailersVerdict::Continue);
    let done = x.finish(&EndInfo::default(), 5);
    assert_eq!(stat(&done, stats::GUARD_RESPONSE_TRAILERS, &[("result", "released")]), 1);
    assert_eq!(stat(&done, stats::GUARD_RESPONSE_TRAILERS, &[("result", "reset")]), 0);
}

#[test]
fn a_held_body_with_neither_end_nor_empty_chunk_is_reset_at_the_trailers() {
    let mut x = answering("application/json");
    assert!(respond(&mut x, br#"{"id":"c1","choices":[{"message":{"content":"cut"#).is_empty());
    let TrailersVerdict::LocalReply(reply) = x.handle_response_trailers(4) else { panic!("a reset") };
    assert_eq!(reply.status, 502);
    let done = x.finish(&EndInfo::default(), 5);
    assert_eq!(stat(&done, stats::GUARD_RESPONSE_TRAILERS, &[("result", "reset")]), 1);
}

#[test]
fn a_stream_held_at_its_trailers_is_reset_and_counted_not_cut_in_silence() {
    let mut x = answering("text/event-stream");
    let prose = b"data: {\"id\":\"c\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}]}\n\n";
    assert_eq!(respond(&mut x, prose), prose.to_vec(), "prose leaves at once");
    // a value still being written is held: its event cannot leave from the trailers callback
    let held = b"data: {\"id\":\"c\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" call 555-01\"}}]}\n\n";
    assert!(respond(&mut x, held).is_empty());
    let TrailersVerdict::LocalReply(reply) = x.handle_response_trailers(4) else { panic!("a reset") };
    assert_eq!(reply.status, 502);
    let done = x.finish(&EndInfo::default(), 5);
    assert_eq!(stat(&done, stats::GUARD_RESPONSE_TRAILERS, &[("result", "reset")]), 1);
    assert!(done.warnings.iter().any(|w| w.contains("reset")), "{:?}", done.warnings);
}

#[test]
fn a_stream_with_nothing_held_at_its_trailers_just_ends() {
    let mut x = answering("text/event-stream");
    let events = b"data: {\"id\":\"c\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    assert_eq!(respond(&mut x, events), events.to_vec());
    assert_eq!(x.handle_response_trailers(4), TrailersVerdict::Continue);
    let done = x.finish(&EndInfo::default(), 5);
    assert_eq!(stat(&done, stats::GUARD_RESPONSE_TRAILERS, &[("result", "released")]), 1);
}

/// The bytes a guarded request body held are what operators size memory by: they reach
/// `stream_state_bytes` and the span's `genai_tap.stream.state_bytes` even for a call that
/// does not stream, and they stay bounded by the window however large the body is.
#[test]
fn a_guarded_request_reports_the_tail_it_held_in_stream_state_bytes() {
    let c = cfg(r#"{"pii":{"mode":"redact"},"secrets":{"mode":"block"}}"#);
    let words = "Summarise the incident report and list follow-up actions for the platform team. ".repeat(40_000);
    let body = serde_json::json!({"model": "gpt-4o", "messages": [{"role": "user", "content": words}]}).to_string().into_bytes();
    let mut x = Exchange::new(c.clone(), ids());
    let pieces: Vec<&[u8]> = body.chunks(64 * 1024).collect();
    let sent = request(&mut x, Some(body.len()), &pieces);
    assert_eq!(sent, body, "a clean body passes byte-identical");
    x.handle_response_headers(200, &head(&[(":status", "200"), ("content-type", "application/json")]), false, 2);
    let _ = x.handle_response_body(br#"{"id":"c","object":"chat.completion","model":"gpt-4o","choices":[]}"#, true, 3);
    let done = x.finish(&EndInfo::default(), 4);
    let held = stat(&done, stats::STREAM_STATE_BYTES, &[]);
    assert!(held > 0, "the held tail is reported for a call that does not stream");
    assert!(held < 256 * 1024, "{held} bytes held for a {} byte body", body.len());
    assert_eq!(done.spans[0].attr(crate::span::attr::TAP_STATE_BYTES), Some(&crate::span::AttrValue::from(held)));

    // observe mode holds nothing and reports nothing for a call that does not stream
    let mut x = Exchange::new(cfg(r#"{"pii":{"mode":"off"},"secrets":{"mode":"off"}}"#), ids());
    let _ = request(&mut x, Some(body.len()), &pieces);
    let done = x.finish(&EndInfo::default(), 4);
    assert_eq!(done.stats.iter().filter(|s| s.metric == stats::STREAM_STATE_BYTES).count(), 0);
}
