//! OTLP protobuf encoding: any span encodes, and the real decoder gives the same span back.
//!
//! Shared by the `cargo fuzz` target of the same name and by `tests/fuzz_smoke.rs`.

use genai_tap::{encode_request, encode_span, Encoding, Signal};
use genai_tap::{AttrValue, Resource, Span, SpanKind, StatusCode};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

/// The property this target checks, for one input: panics when it does not hold.
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data).into_owned();
    let mut ids = [0u8; 24];
    for (i, b) in data.iter().take(24).enumerate() {
        ids[i] = *b;
    }
    let mut span = Span {
        trace_id: ids[..16].try_into().expect("16"),
        span_id: ids[16..].try_into().expect("8"),
        parent_span_id: None,
        trace_state: String::new(),
        name: text.clone(),
        kind: SpanKind::Client,
        start_time_unix_nano: data.len() as u64,
        end_time_unix_nano: u64::MAX,
        attributes: Vec::new(),
        events: Vec::new(),
        links: Vec::new(),
        status: StatusCode::Error,
        status_message: text.clone(),
    };
    span.set("gen_ai.request.model", text.as_str());
    span.set("gen_ai.usage.input_tokens", AttrValue::Int(-(data.len() as i64)));
    span.set("genai_tap.tool_calls.names", AttrValue::StrList(text.split(' ').map(str::to_owned).collect()));
    let frag = encode_span(&span, Encoding::Protobuf);
    let body = encode_request(Signal::Traces, Encoding::Protobuf, &Resource::default(), std::iter::once(frag.as_slice()));
    let req = ExportTraceServiceRequest::decode(body.as_slice()).expect("decodes");
    let got = &req.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(got.name, span.name);
    assert_eq!(got.trace_id, span.trace_id.to_vec());
    assert_eq!(got.attributes.len(), 3);
    let json = encode_span(&span, Encoding::Json);
    serde_json::from_slice::<serde_json::Value>(&json).expect("JSON encoding is valid JSON");
}
