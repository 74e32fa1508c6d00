//! The exchange driven natively on a virtual clock: classification, trace joining, limits,
//! outcomes and step types.

use super::*;
use crate::span::{attr, AttrValue, Span};
use crate::stats;
use crate::trace;

fn cfg(json: &str) -> Rc<Config> {
    Rc::new(Config::from_json(json.as_bytes()).unwrap())
}

fn headers<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    pairs.to_vec()
}

fn ids() -> FreshIds {
    FreshIds::from_random([7; 24])
}

const MS: u64 = 1_000_000;

#[test]
fn log_lines_and_spec_gap_records_pass_the_detectors_too() {
    // an authority with userinfo: the host ends up in the warning and the record's body
    let c = cfg(r#"{"routes":[{"host":"*","kind":"llm"}]}"#);
    let mut x = Exchange::new(c, ids());
    let h = headers(&[(":method", "POST"), (":authority", "jane.doe@example.com"), (":path", "/v1/chat/completions")]);
    x.handle_request_headers(RequestHead { headers: &h }, false, 0);
    let verdict = x.handle_request_body(br#"{"model":"gpt-4o","messages":[{"role":"user","content":"AKIAZ7QW4XJ2LBNM5K3P"}]}"#, true, 1);
    assert!(matches!(verdict, BodyVerdict::LocalReply(_)), "{verdict:?}");
    let done = x.finish(&EndInfo::default(), 2);
    assert_eq!(done.warnings.len(), 1);
    assert!(done.warnings[0].contains("blocked a request to [REDACTED:EMAIL]"), "{}", done.warnings[0]);
    let gap = done.logs.iter().find(|l| l.sink == LogSink::SpecGap).expect("a spec-gap record");
    assert!(gap.record.body.contains("blocked call to [REDACTED:EMAIL]"), "{}", gap.record.body);
    let all = format!("{:?} {:?} {:?}", done.warnings, gap.record, done.spans);
    assert!(!all.contains("jane.doe") && !all.contains("AKIAZ7QW4XJ2LBNM5K3P"), "{all}");
}

#[test]
fn unrelated_traffic_is_not_observed() {
    let mut x = Exchange::new(cfg("{}"), ids());
    let h = headers(&[(":method", "GET"), (":authority", "example.com"), (":path", "/index.html")]);
    assert_eq!(x.handle_request_headers(RequestHead { headers: &h }, true, 0), HeadersVerdict::Continue);
    assert!(!x.is_observed());
    assert!(x.poll_request_header_edits().is_empty());
    let done = x.finish(&EndInfo::default(), 5);
    assert!(done.spans.is_empty() && done.stats.is_empty());
}

#[test]
fn batch_and_realtime_traffic_passes_unread_and_is_counted_by_api() {
    for (host, path, api) in [("api.openai.com", "/v1/batches", "openai_batches"), ("api.anthropic.com", "/v1/messages/batches", "anthropic_message_batches")] {
        let mut x = Exchange::new(cfg("{}"), ids());
        let h = headers(&[(":method", "POST"), (":authority", host), (":path", path)]);
        assert_eq!(x.handle_request_headers(RequestHead { headers: &h }, false, 0), HeadersVerdict::Continue);
        assert!(!x.is_observed() && x.is_unobserved_api(), "{path}");
        let done = x.finish(&EndInfo::default(), 5);
        assert!(done.spans.is_empty(), "{path}");
        assert_eq!(done.stats, vec![crate::stats::StatUpdate::new(stats::UNOBSERVED_CALLS, &[("api", api)], 1)], "{path}");
    }
}

#[test]
fn an_llm_route_with_an_unknown_shape_still_gets_a_span() {
    let c = cfg(r#"{"routes":[{"host":"llm.internal","kind":"llm","provider":"openai"}]}"#);
    let mut x = Exchange::new(c, ids());
    let h = headers(&[(":method", "POST"), (":authority", "llm.internal:8443"), (":path", "/custom/generate"), ("x-request-id", "req-1")]);
    x.handle_request_headers(RequestHead { headers: &h }, false, 1_000 * MS);
    assert!(x.is_observed());
    x.handle_request_body(b"{\"prompt\":\"hi\"}", true, 1_001 * MS);
    x.handle_response_headers(200, &headers(&[(":status", "200"), ("content-type", "application/json")]), false, 1_050 * MS);
    x.handle_response_bytes_unread(10, true, 1_060 * MS);
    let done = x.finish(&EndInfo { code_details: Some("via_upstream".into()) }, 1_061 * MS);
    let span = &done.spans[0];
    assert_eq!(span.attr(attr::GEN_AI_PROVIDER_NAME), Some(&AttrValue::from("openai")));
    assert_eq!(span.attr(attr::TAP_PARSED), Some(&AttrValue::Bool(false)));
    assert_eq!(span.attr(attr::TAP_NOT_PARSED_REASON), Some(&AttrValue::from("unknown_shape")));
    assert_eq!(span.attr(attr::SERVER_PORT), Some(&AttrValue::Int(8443)));
    assert_eq!(span.attr(attr::TAP_CORRELATION_ID), Some(&AttrValue::from("req-1")));
    assert_eq!(span.end_time_unix_nano - span.start_time_unix_nano, 60 * MS);
    assert!(done.stats.iter().any(|s| s.metric == stats::BODIES_NOT_PARSED && s.labels[0].1 == "unknown_shape"));
}

#[test]
fn joins_the_agents_trace_and_injects_our_span_as_parent() {
    let c = cfg(r#"{"routes":[{"host":"*","kind":"llm"}]}"#);
    let mut x = Exchange::new(c, ids());
    let h = headers(&[
        (":method", "POST"), (":authority", "a"), (":path", "/x"),
        ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("tracestate", "vendor=1"), ("accept-encoding", "gzip, br"),
    ]);
    x.handle_request_headers(RequestHead { headers: &h }, true, 0);
    let edits = x.poll_request_header_edits();
    let tp = edits.iter().find(|e| e.name == "traceparent").unwrap().value.clone().unwrap();
    assert!(tp.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-0707070707070707-"), "{tp}");
    assert_eq!(edits.iter().find(|e| e.name == "accept-encoding").unwrap().value.as_deref(), Some("identity"));
    let done = x.finish(&EndInfo::default(), 1);
    let span = &done.spans[0];
    assert_eq!(trace::to_hex(&span.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(span.parent_span_id, Some([0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]));
    assert_eq!(span.trace_state, "vendor=1");
    // never answered: the client went away before any response
    assert_eq!(span.attr(attr::TAP_OUTCOME), Some(&AttrValue::from("cancelled")));
}

#[test]
fn accept_encoding_that_already_says_identity_is_not_written_again() {
    let c = cfg(r#"{"routes":[{"host":"*","kind":"llm"}]}"#);
    let edit = |value: &str| {
        let mut x = Exchange::new(c.clone(), ids());
        let h = headers(&[(":method", "POST"), (":authority", "a"), (":path", "/x"), ("accept-encoding", value)]);
        x.handle_request_headers(RequestHead { headers: &h }, true, 0);
        x.poll_request_header_edits().into_iter().find(|e| e.name == "accept-encoding").map(|e| e.value)
    };
    assert_eq!(edit("identity"), None);
    assert_eq!(edit(" Identity "), None);
    assert_eq!(edit("gzip"), Some(Some("identity".to_owned())));
    assert_eq!(edit("identity, gzip"), Some(Some("identity".to_owned())), "a list that allows gzip is narrowed");
}

#[test]
fn a_body_over_the_limit_is_not_inspected_and_counted() {
    let c = cfg(r#"{"max_body_bytes":1024,"secrets":{"mode":"observe"},"routes":[{"host":"*","kind":"llm"}]}"#);
    let mut x = Exchange::new(c, ids());
    let h = headers(&[(":method", "POST"), (":authority", "api.openai.com"), (":path", "/v1/chat/completions")]);
    x.handle_request_headers(RequestHead { headers: &h }, false, 0);
    assert!(x.wants_request_body());
    assert_eq!(x.handle_request_body(&[b' '; 700], false, 1), BodyVerdict::Continue);
    assert_eq!(x.handle_request_body(&[b' '; 700], false, 2), BodyVerdict::Continue);
    assert!(!x.wants_request_body(), "stops copying past the limit");
    x.handle_request_bytes_unread(10, true, 3);
    let done = x.finish(&EndInfo::default(), 4);
    assert_eq!(done.spans[0].attr(attr::TAP_NOT_PARSED_REASON), Some(&AttrValue::from("too_large")));
    assert_eq!(done.spans[0].attr(attr::TAP_REQUEST_BYTES), Some(&AttrValue::Int(1410)));
}

#[test]
fn outcomes_follow_envoys_details() {
    let c = cfg(r#"{"routes":[{"host":"*","kind":"llm"}]}"#);
    let run = |status: Option<u16>, ended: bool, details: &str| {
        let mut x = Exchange::new(c.clone(), ids());
        let h = headers(&[(":method", "POST"), (":authority", "a"), (":path", "/x")]);
        x.handle_request_headers(RequestHead { headers: &h }, true, 0);
        if let Some(s) = status {
            x.handle_response_headers(s, &[], ended, 1);
        }
        // as the host does: the details are read only when they can matter
        let needed = x.needs_end_details();
        assert_eq!(needed, !(ended && status == Some(200)), "{status:?} {ended} {details}");
        let done = x.finish(&EndInfo { code_details: needed.then(|| details.into()) }, 2);
        let span = &done.spans[0];
        (span.attr(attr::TAP_OUTCOME).cloned(), span.attr(attr::ERROR_TYPE).cloned())
    };
    assert_eq!(run(Some(200), true, "via_upstream"), (Some("completed".into()), None));
    assert_eq!(run(Some(429), true, "via_upstream"), (Some("errored".into()), Some("429".into())));
    assert_eq!(run(Some(504), true, "upstream_response_timeout"), (Some("timed_out".into()), Some("timeout".into())));
    assert_eq!(run(Some(200), false, "upstream_reset_after_response_started{remote_reset}"), (Some("truncated".into()), Some("truncated".into())));
    assert_eq!(run(Some(200), false, "downstream_remote_disconnect"), (Some("cancelled".into()), Some("cancelled".into())));
    assert_eq!(run(None, false, "downstream_remote_disconnect"), (Some("cancelled".into()), Some("cancelled".into())));
    // an HTTP/2 client's RST_STREAM mid-response and mid-request (the connection stays up)
    assert_eq!(run(Some(200), false, "http2.remote_reset"), (Some("cancelled".into()), Some("cancelled".into())));
    assert_eq!(run(None, false, "http2.remote_reset"), (Some("cancelled".into()), Some("cancelled".into())));
    assert_eq!(run(Some(503), true, "upstream_reset_before_response_started{connection_failure}"), (Some("errored".into()), Some("503".into())));
}

/// The request guard through the exchange: the streaming verdicts, chunk by chunk.
mod request_guard {
    use super::*;

    include!("../../tests/data/guard_cases.rs");

    /// Feeds `body` in `chunks` through a fresh exchange the way the host does; what the
    /// upstream would get, and the status of a local reply.
    fn through(c: &Rc<Config>, body: &[u8], cuts: &[usize], content_length: bool) -> (Vec<u8>, Option<u32>) {
        let mut x = Exchange::new(c.clone(), ids());
        let len = body.len().to_string();
        let mut h = vec![(":method", "POST"), (":authority", "api.openai.com"), (":path", "/v1/chat/completions")];
        if content_length {
            h.push(("content-length", len.as_str()));
        }
        let h = headers(&h);
        assert_eq!(x.handle_request_headers(RequestHead { headers: &h }, false, 0), HeadersVerdict::Continue);
        let mut out = Vec::new();
        let mut at = 0;
        let ends: Vec<usize> = cuts.iter().copied().chain([body.len()]).collect();
        for (i, end) in ends.iter().enumerate() {
            let chunk = &body[at..*end];
            at = *end;
            assert!(x.wants_request_body());
            match x.handle_request_body(chunk, i + 1 == ends.len(), 1) {
                BodyVerdict::Continue => out.extend_from_slice(chunk),
                BodyVerdict::Replace(b) => out.extend(b),
                BodyVerdict::LocalReply(r) => return (out, Some(r.status)),
            }
        }
        (out, None)
    }

    #[test]
    fn every_labelled_case_split_at_every_byte_through_the_exchange_matches_unsplit() {
        let c = cfg(r#"{"pii":{"mode":"redact"}}"#);
        let mut bodies: Vec<Vec<u8>> = secret_cases()
            .iter()
            .map(|(_, v)| serde_json::json!({"model": "gpt-4o", "messages": [{"role": "user", "content": format!("use {v} now")}]}).to_string().into_bytes())
            .collect();
        for pii in ["mail jane@example.org", "ssn 536-22-8741", "card 4111-1111-1111-1111", "hello, nothing here"] {
            bodies.push(serde_json::json!({"messages": [{"role": "user", "content": pii}]}).to_string().into_bytes());
        }
        for body in &bodies {
            for content_length in [true, false] {
                let want = through(&c, body, &[], content_length);
                for i in 0..=body.len() {
                    let got = through(&c, body, &[i], content_length);
                    assert_eq!(got.1, want.1, "{}: split at {i}", String::from_utf8_lossy(body));
                    if want.1.is_none() {
                        assert_eq!(got.0, want.0, "{}: split at {i}", String::from_utf8_lossy(body));
                    } else {
                        assert!(body.starts_with(&got.0), "only a clean prefix leaves before a block");
                    }
                }
            }
        }
    }

    #[test]
    fn mcp_and_tool_routes_get_the_same_streaming_guard() {
        let c = cfg(r#"{"routes":[{"host":"tools.internal","path_prefix":"/mcp","kind":"mcp"},{"host":"tools.internal","kind":"tool","tool":"crm"}],"pii":{"mode":"redact"}}"#);
        let secret = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"save","arguments":{"note":"key AKIAZ7QW4XJ2LBNM5K3P"}}}"#;
        let pii = br#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"save","arguments":{"note":"mail jane@example.org"}}}"#;
        for path in ["/mcp", "/v1/contacts"] {
            for split in [10, 60, 90] {
                let run = |body: &[u8]| {
                    let mut x = Exchange::new(c.clone(), ids());
                    let len = body.len().to_string();
                    let h = headers(&[(":method", "POST"), (":authority", "tools.internal"), (":path", path), ("content-length", &len)]);
                    assert_eq!(x.handle_request_headers(RequestHead { headers: &h }, false, 0), HeadersVerdict::Continue);
                    let mut out = Vec::new();
                    for (chunk, end) in [(&body[..split], false), (&body[split..], true)] {
                        match x.handle_request_body(chunk, end, 1) {
                            BodyVerdict::Continue => out.extend_from_slice(chunk),
                            BodyVerdict::Replace(b) => out.extend(b),
                            BodyVerdict::LocalReply(r) => return (out, Some(r.status), x.finish(&EndInfo::default(), 2)),
                        }
                    }
                    (out, None, x.finish(&EndInfo::default(), 2))
                };
                let (sent, status, done) = run(secret);
                assert_eq!(status, Some(403), "{path} split at {split}");
                assert!(sent.len() < 80 && secret.starts_with(&sent), "{path}: only a clean prefix left");
                assert!(done.stats.iter().any(|s| s.metric == stats::GUARD_BLOCKS), "{path}");
                let (sent, status, _) = run(pii);
                assert_eq!(status, None);
                assert_eq!(sent.len(), pii.len(), "{path}: content-length kept");
                let v: serde_json::Value = serde_json::from_slice(&sent).unwrap();
                assert_eq!(v["params"]["arguments"]["note"], "mail [REDACTED:EMAIL]", "{path} split at {split}");
            }
        }
    }

    #[test]
    fn upgrades_tunnels_and_bodiless_requests_never_wait_on_the_guard() {
        let c = cfg(r#"{"routes":[{"host":"api.openai.com","kind":"llm"}],"pii":{"mode":"redact"}}"#);
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[(":method", "GET"), (":path", "/v1/realtime?model=gpt-4o-realtime"), ("upgrade", "websocket"), ("connection", "upgrade")], false),
            (&[(":method", "CONNECT")], false),
            (&[(":method", "GET"), (":path", "/v1/models")], true),
        ];
        for (extra, end_of_stream) in cases {
            let mut h = vec![(":authority", "api.openai.com")];
            h.extend_from_slice(extra);
            let h = headers(&h);
            let mut x = Exchange::new(c.clone(), ids());
            assert_eq!(x.handle_request_headers(RequestHead { headers: &h }, *end_of_stream, 0), HeadersVerdict::Continue);
            // a WebSocket frame with what looks like a secret is not the guard's to judge
            let frame = b"\x81\x20AKIAZ7QW4XJ2LBNM5K3P and jane@example.org";
            if x.wants_request_body() {
                assert_eq!(x.handle_request_body(frame, false, 1), BodyVerdict::Continue, "{extra:?}");
            }
        }
    }

    #[test]
    fn upgrades_and_tunnels_on_an_llm_route_are_counted_unobserved_with_no_span() {
        let c = cfg(r#"{"routes":[{"host":"api.openai.com","kind":"llm"},{"host":"gw.internal","kind":"llm"}],"pii":{"mode":"redact"}}"#);
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[(":authority", "api.openai.com"), (":method", "GET"), (":path", "/v1/realtime?model=gpt-4o-realtime"), ("upgrade", "websocket")], "openai_realtime"),
            (&[(":authority", "gw.internal"), (":method", "GET"), (":path", "/ws"), ("upgrade", "WebSocket")], "websocket"),
            (&[(":authority", "gw.internal"), (":method", "GET"), (":path", "/x"), ("upgrade", "foo/1")], "upgrade"),
            (&[(":authority", "api.openai.com:443"), (":method", "CONNECT")], "connect"),
        ];
        for (pairs, api) in cases {
            let h = headers(pairs);
            let mut x = Exchange::new(c.clone(), ids());
            assert_eq!(x.handle_request_headers(RequestHead { headers: &h }, false, 0), HeadersVerdict::Continue);
            assert!(!x.is_observed() && x.is_unobserved_api(), "{pairs:?}");
            assert!(!x.wants_request_body() && !x.wants_response_body(), "nothing is read: {pairs:?}");
            assert_eq!(x.handle_request_body(b"AKIAZ7QW4XJ2LBNM5K3P", false, 1), BodyVerdict::Continue);
            let done = x.finish(&EndInfo::default(), 2);
            assert!(done.spans.is_empty(), "{pairs:?}");
            assert_eq!(done.stats, vec![crate::stats::StatUpdate::new(stats::UNOBSERVED_CALLS, &[("api", api)], 1)], "{pairs:?}");
        }
        // an upgrade to a host genai-tap does not read stays not mine, uncounted
        let mut x = Exchange::new(c, ids());
        x.handle_request_headers(RequestHead { headers: &headers(&[(":authority", "example.com"), (":method", "GET"), (":path", "/ws"), ("upgrade", "websocket")]) }, false, 0);
        assert!(!x.is_observed() && !x.is_unobserved_api());
    }

}

mod steps {
    use super::*;

    fn run(cfg_json: &str, request: &str, response: &str) -> Span {
        let cfg = Rc::new(Config::from_json(cfg_json.as_bytes()).unwrap());
        let mut x = Exchange::new(cfg, FreshIds::from_random([9; 24]));
        let h = [(":method", "POST"), (":authority", "api.openai.com"), (":path", "/v1/chat/completions")];
        x.handle_request_headers(RequestHead { headers: &h }, false, 0);
        x.handle_request_body(request.as_bytes(), true, 1);
        x.handle_response_headers(200, &[("content-type", "application/json")], false, 2);
        x.handle_response_body(response.as_bytes(), true, 3);
        x.finish(&EndInfo { code_details: Some("via_upstream".into()) }, 4).spans.remove(0)
    }

    fn tool_response(name: &str, args: &str) -> String {
        serde_json::json!({"id": "c", "model": "gpt-4o", "choices": [{"index": 0, "finish_reason": "tool_calls",
            "message": {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": name, "arguments": args}}]}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5}}).to_string()
    }

    const REQ: &str = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#;
    const REQ_TOOL_RESULT: &str = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"},{"role":"tool","tool_call_id":"x","content":"22C"}]}"#;
    const FINAL: &str = r#"{"id":"c","model":"gpt-4o","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"done"}}]}"#;

    #[test]
    fn a_surface_tool_call_is_a_surfaced_step_with_a_sanitised_bounded_reason() {
        let reason = format!("customer jane@example.com is angry {}", "x".repeat(400));
        let args = serde_json::json!({"reason": reason}).to_string();
        let s = run("{}", REQ, &tool_response("escalate_to_human", &args));
        assert_eq!(s.attr(attr::TAP_OUTCOME), Some(&AttrValue::from("surfaced")));
        assert_eq!(s.attr(attr::TAP_STEP_TYPE), Some(&AttrValue::from("surface")));
        let Some(AttrValue::Str(r)) = s.attr(attr::TAP_SURFACE_REASON) else { panic!("no reason") };
        assert!(r.starts_with("customer [REDACTED:EMAIL] is angry"), "{r}");
        assert_eq!(r.len(), 256);
        // a configured surface tool
        let s = run(r#"{"tools":{"surface_tools":["ask_manager"]}}"#, REQ, &tool_response("ask_manager", "{}"));
        assert_eq!(s.attr(attr::TAP_STEP_TYPE), Some(&AttrValue::from("surface")));
    }

    #[test]
    fn steps_are_classified_from_the_bodies() {
        let step = |req: &str, resp: &str| run("{}", req, resp).attr(attr::TAP_STEP_TYPE).cloned();
        assert_eq!(step(REQ, &tool_response("get_weather", "{}")), Some("tool_call".into()));
        assert_eq!(step(REQ_TOOL_RESULT, FINAL), Some("tool_result".into()));
        assert_eq!(step(REQ, FINAL), Some("final".into()));
    }
}

mod tools {
    use super::*;

    fn tool_call(cfg_json: &str, status: u16, request: &str, response: &str) -> (Finished, Vec<BodyVerdict>, Vec<ResponseVerdict>) {
        let mut x = Exchange::new(cfg(cfg_json), ids());
        let h = headers(&[(":method", "POST"), (":authority", "crm.internal"), (":path", "/v1/contacts"), ("content-type", "application/json")]);
        x.handle_request_headers(RequestHead { headers: &h }, false, 0);
        let req = vec![x.handle_request_body(request.as_bytes(), true, MS)];
        x.handle_response_headers(status, &headers(&[(":status", &status.to_string()), ("content-type", "application/json")]), false, 2 * MS);
        let resp = vec![x.handle_response_body(response.as_bytes(), true, 3 * MS)];
        (x.finish(&EndInfo::default(), 4 * MS), req, resp)
    }

    const ROUTE: &str = r#""routes":[{"host":"crm.internal","kind":"tool","tool":"crm"}]"#;

    #[test]
    fn redactions_and_secret_hits_on_a_tool_call_are_counted_in_both_directions() {
        let c = format!(r#"{{{ROUTE},"pii":{{"mode":"redact"}},"secrets":{{"request":"observe","response":"observe"}}}}"#);
        let token = format!("ghp_{}", "aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW00snvpY");
        let (done, req, resp) = tool_call(
            &c,
            200,
            r#"{"name":"Jane","email":"jane.doe@example.com"}"#,
            &format!(r#"{{"owner":"john.roe@example.org","note":"{token}"}}"#),
        );
        assert!(matches!(&req[0], BodyVerdict::Replace(b) if !String::from_utf8_lossy(b).contains("jane.doe")), "{req:?}");
        assert!(matches!(&resp[0], ResponseVerdict::Replace(b) if !String::from_utf8_lossy(b).contains("john.roe")), "{resp:?}");
        let redactions: i64 = done.stats.iter().filter(|s| s.metric == stats::GUARD_REDACTIONS).map(|s| s.value).sum();
        assert_eq!(redactions, 2, "one email each way: {:?}", done.stats);
        let hits: Vec<_> = done.stats.iter().filter(|s| s.metric == stats::GUARD_SECRET_HITS).map(|s| s.labels[0].1.clone()).collect();
        assert_eq!(hits, vec!["github-pat".to_owned()]);
        let span = &done.spans[0];
        assert_eq!(span.attr(attr::TAP_GUARD_REDACTIONS), Some(&AttrValue::Int(2)));
        assert_eq!(span.attr(attr::TAP_GUARD_SECRET_RULES), Some(&AttrValue::StrList(vec!["github-pat".into()])));
        assert_eq!(span.attr(attr::TAP_TOOL_AUTHZ), Some(&AttrValue::from("allowed")));
    }

    #[test]
    fn a_refused_tool_call_is_a_spec_gap_candidate() {
        let (done, _, _) = tool_call(&format!("{{{ROUTE}}}"), 403, r#"{"q":1}"#, r#"{"error":"forbidden"}"#);
        let span = &done.spans[0];
        assert_eq!(span.attr(attr::TAP_TOOL_AUTHZ), Some(&AttrValue::from("refused")));
        assert_eq!(span.attr(attr::ERROR_TYPE), Some(&AttrValue::from("403")));
        let gap = done.logs.iter().find(|l| l.sink == LogSink::SpecGap).expect("a spec-gap record");
        assert_eq!(gap.record.attributes.iter().find(|(k, _)| *k == attr::TAP_SPEC_GAP_KIND).map(|(_, v)| v.clone()), Some(AttrValue::from("refused")));
        assert_eq!(gap.record.attributes.iter().find(|(k, _)| *k == attr::TAP_SPEC_GAP_REASON).map(|(_, v)| v.clone()), Some(AttrValue::from("403")));
        assert_eq!(gap.record.span_id, span.span_id);
        // an allowed call is not one
        let (done, _, _) = tool_call(&format!("{{{ROUTE}}}"), 200, r#"{"q":1}"#, r#"{"ok":true}"#);
        assert!(done.logs.is_empty());
    }

    #[test]
    fn tool_upstreams_keep_their_accept_encoding() {
        let mut x = Exchange::new(cfg(&format!("{{{ROUTE}}}")), ids());
        let h = headers(&[(":method", "GET"), (":authority", "crm.internal"), (":path", "/v1/contacts"), ("accept-encoding", "gzip")]);
        x.handle_request_headers(RequestHead { headers: &h }, true, 0);
        let edits = x.poll_request_header_edits();
        assert!(edits.iter().any(|e| e.name == "traceparent"));
        assert!(!edits.iter().any(|e| e.name == "accept-encoding"), "{edits:?}");
    }
}

#[test]
fn the_header_probe_decides_exactly_what_the_full_classification_decides() {
    let routes = r#"{"routes":[{"host":"llm.internal","kind":"llm"},{"host":"tools.internal","path_prefix":"/api","kind":"tool","tool":"search"}]}"#;
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("{}", &[(":authority", "api.openai.com"), (":path", "/v1/chat/completions")]),
        ("{}", &[(":authority", "api.openai.com"), (":path", "/v1/files")]),
        ("{}", &[(":authority", "example.com"), (":path", "/index.html")]),
        ("{}", &[("host", "api.anthropic.com"), (":path", "/v1/messages")]),
        ("{}", &[(":authority", "tools.internal"), (":path", "/rpc"), ("mcp-session-id", "s")]),
        ("{}", &[(":authority", "tools.internal"), (":path", "/rpc"), ("mcp-protocol-version", "2025-06-18")]),
        ("{}", &[(":authority", "tools.internal"), (":path", "/svc/mcp?x=1")]),
        ("{}", &[(":authority", "tools.internal"), (":path", "/rpc")]),
        (routes, &[(":authority", "llm.internal:8443"), (":path", "/generate")]),
        (routes, &[(":authority", "tools.internal"), (":path", "/api/q")]),
        (routes, &[(":authority", "tools.internal"), (":path", "/other")]),
        ("{}", &[]),
    ];
    for (config, pairs) in cases {
        let c = cfg(config);
        let mut h = headers(pairs);
        h.push((":method", "POST"));
        h.push(("x-unrelated", "1"));
        let mut full = Exchange::new(c.clone(), ids());
        full.handle_request_headers(RequestHead { headers: &h }, false, 0);
        let mut probed = Exchange::new(c, ids());
        let asked = std::cell::RefCell::new(Vec::new());
        let passthrough = probed.handle_request_probe(|name| {
            asked.borrow_mut().push(name.to_owned());
            h.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        });
        assert_eq!(passthrough, !full.is_observed(), "{config} {pairs:?}");
        // the probe never changes an exchange it does not pass through
        assert_eq!(probed.is_observed(), false, "{pairs:?}");
        assert!(asked.borrow().iter().all(|n| [":authority", "host", ":path", "mcp-protocol-version", "mcp-session-id", "upgrade", "anthropic-version"].contains(&n.as_str())), "{:?}", asked.borrow());
        // and counts unobserved provider traffic as the full path does
        assert_eq!(probed.is_unobserved_api(), full.is_unobserved_api(), "{pairs:?}");
        if !passthrough {
            probed.handle_request_headers(RequestHead { headers: &h }, false, 0);
            assert!(probed.is_observed(), "{pairs:?}");
        }
        // the classification the probe handed on is the one the full path makes
        let span_of = |x: &mut Exchange| x.finish(&EndInfo::default(), 1).spans.into_iter().map(|s| (s.attr(attr::GEN_AI_PROVIDER_NAME).cloned(), s.name, s.kind)).collect::<Vec<_>>();
        assert_eq!(span_of(&mut probed), span_of(&mut full), "{config} {pairs:?}");
    }
}

#[test]
fn the_request_headers_build_on_the_probe_instead_of_classifying_again() {
    let mut x = Exchange::new(cfg("{}"), ids());
    let probe = [(":authority", "api.openai.com"), (":path", "/v1/chat/completions")];
    assert!(!x.handle_request_probe(|n| probe.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string())));
    // headers that would classify as embeddings: the probe's answer (chat) stands
    let h = headers(&[(":method", "POST"), (":authority", "api.openai.com"), (":path", "/v1/embeddings")]);
    x.handle_request_headers(RequestHead { headers: &h }, false, 0);
    let span = x.finish(&EndInfo::default(), 1).spans.remove(0);
    assert_eq!(span.attr(attr::GEN_AI_OPERATION_NAME), Some(&AttrValue::Str("chat".into())));
}

#[test]
fn a_deferred_response_chunk_is_kept_without_a_copy() {
    let c = cfg(r#"{"routes":[{"host":"*","kind":"llm"}]}"#);
    let mut x = Exchange::new(c, ids());
    let h = headers(&[(":method", "POST"), (":authority", "api.openai.com"), (":path", "/v1/chat/completions")]);
    x.handle_request_headers(RequestHead { headers: &h }, false, 0);
    x.handle_request_body(br#"{"model":"gpt-4o","messages":[]}"#, true, 1);
    x.handle_response_headers(200, &[("content-type", "application/json")], false, 2);
    let chunk = br#"{"id":"c","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#.to_vec();
    let at = chunk.as_ptr();
    assert_eq!(x.handle_response_body(chunk, true, 3), ResponseVerdict::Continue);
    let o = x.observed().expect("an observed call");
    assert_eq!(o.deferred.chunks.len(), 1, "a small chunk of a call whose response is not rewritten waits");
    assert_eq!(o.deferred.chunks[0].0.as_ptr(), at, "the host's Vec is kept, not copied");
    let span = x.finish(&EndInfo::default(), 4).spans.remove(0);
    assert_eq!(span.attr(attr::GEN_AI_USAGE_INPUT_TOKENS), Some(&AttrValue::Int(3)), "and is read at the end");
}
