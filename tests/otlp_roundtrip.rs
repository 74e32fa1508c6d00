//! OTLP encoding, natively: spans and logs of every shape and size go through the real
//! `opentelemetry-proto` decoder (in the testkit) and come back equal, in protobuf and JSON.
//! Sizes straddle every varint length boundary of a nested message (127/128, 16383/16384).
// Test code: a failed unwrap or panic is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use genai_tap::{encode_log, encode_request, encode_span, Encoding, Signal};
use genai_tap::{AttrValue, Event, Link, LogRecord, Resource, Severity, Span, SpanKind, StatusCode};
use genai_tap_testkit::sink::{decode_logs, decode_traces};
use proptest::prelude::*;
use serde_json::{json, Value};

fn span_with(text: String, list: Vec<String>, n: i64, events: usize) -> Span {
    let mut span = Span {
        trace_id: [7; 16],
        span_id: [9; 8],
        parent_span_id: Some([3; 8]),
        trace_state: "k=v".into(),
        name: format!("chat {}", text.len()),
        kind: SpanKind::Client,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_500_000_000,
        attributes: Vec::new(),
        events: (0..events)
            .map(|i| Event { time_unix_nano: i as u64, name: "gen_ai.choice", attributes: vec![("gen_ai.response.id", AttrValue::from(text.clone()))] })
            .collect(),
        links: vec![Link { trace_id: [1; 16], span_id: [2; 8], attributes: vec![("gen_ai.tool.call.id", AttrValue::from(text.clone()))] }],
        status: if n % 2 == 0 { StatusCode::Error } else { StatusCode::Unset },
        status_message: if n % 2 == 0 { text.clone() } else { String::new() },
    };
    span.set("gen_ai.request.model", text.as_str());
    span.set("gen_ai.usage.input_tokens", AttrValue::Int(n));
    span.set("gen_ai.request.temperature", AttrValue::F64(n as f64 / 7.0));
    span.set("gen_ai.response.finish_reasons", AttrValue::StrList(list));
    span.set("genai_tap.blocked", AttrValue::Bool(n > 0));
    span
}

fn check(span: &Span, encoding: Encoding) {
    let frag = encode_span(span, encoding);
    let resource = Resource { attributes: vec![("service.name", AttrValue::from("x".repeat(200)))] };
    let body = encode_request(Signal::Traces, encoding, &resource, [frag.as_slice(), frag.as_slice()].into_iter());
    let got = decode_traces(&body, encoding == Encoding::Json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got.len(), 2);
    for s in &got {
        assert_eq!(s.name, span.name);
        assert_eq!(s.trace_id, "07".repeat(16));
        assert_eq!(s.parent_span_id, "03".repeat(8));
        assert_eq!(s.end_time_unix_nano, span.end_time_unix_nano);
        assert_eq!(s.status_code, span.status as i32);
        assert_eq!(s.resource["service.name"], json!("x".repeat(200)));
        let AttrValue::Str(model) = span.attr("gen_ai.request.model").cloned().unwrap_or(AttrValue::Bool(false)) else { panic!() };
        assert_eq!(s.str("gen_ai.request.model"), Some(&*model));
        assert_eq!(s.int("gen_ai.usage.input_tokens"), span.attr("gen_ai.usage.input_tokens").and_then(|v| match v {
            AttrValue::Int(i) => Some(*i),
            _ => None,
        }));
        let AttrValue::StrList(list) = span.attr("gen_ai.response.finish_reasons").cloned().unwrap_or(AttrValue::Bool(false)) else { panic!() };
        assert_eq!(s.attr("gen_ai.response.finish_reasons"), Some(&Value::from(list)));
        assert_eq!(s.attr("genai_tap.blocked"), span.attr("genai_tap.blocked").map(|v| json!(matches!(v, AttrValue::Bool(true)))).as_ref());
        assert_eq!(s.events.len(), span.events.len());
        for (name, attrs) in &s.events {
            assert_eq!(name, "gen_ai.choice");
            assert_eq!(attrs["gen_ai.response.id"], json!(model));
        }
        assert_eq!(s.links.len(), 1);
        assert_eq!(s.links[0].2["gen_ai.tool.call.id"], json!(model));
    }
}

#[test]
fn every_length_prefix_size_round_trips() {
    for len in [0, 1, 100, 110, 127, 128, 129, 200, 16_300, 16_383, 16_384, 16_500, 70_000, 2_100_000] {
        let text: String = "aé😀b".chars().cycle().take(len).collect();
        let list = vec![text.clone(), String::new(), "stop".into()];
        for events in [0, 1, 3] {
            let span = span_with(text.clone(), list.clone(), len as i64 - 50, events);
            check(&span, Encoding::Protobuf);
            check(&span, Encoding::Json);
        }
    }
}

#[test]
fn log_records_round_trip() {
    for len in [0, 127, 128, 16_384, 100_000] {
        let body: String = "x\"y\\z".chars().cycle().take(len).collect();
        let log = LogRecord {
            time_unix_nano: 5,
            severity: Severity::Info,
            event_name: "gen_ai.client.inference.operation.details",
            body: body.clone(),
            attributes: vec![("gen_ai.response.id", AttrValue::from(body.clone()))],
            trace_id: [4; 16],
            span_id: [5; 8],
        };
        for encoding in [Encoding::Protobuf, Encoding::Json] {
            let frag = encode_log(&log, encoding);
            let req = encode_request(Signal::Logs, encoding, &Resource::default(), std::iter::once(frag.as_slice()));
            let got = decode_logs(&req, encoding == Encoding::Json).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].body, body);
            assert_eq!(got[0].event_name, log.event_name);
            assert_eq!(got[0].trace_id, "04".repeat(16));
            assert_eq!(got[0].attributes["gen_ai.response.id"], json!(body));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn any_span_round_trips(text in "\\PC{0,300}", list in proptest::collection::vec("\\PC{0,150}", 0..5), n in any::<i64>(), events in 0usize..4) {
        let span = span_with(text, list, n, events);
        check(&span, Encoding::Protobuf);
        check(&span, Encoding::Json);
    }
}
