//! OTLP encoding: spans and log records as OTLP/HTTP protobuf and OTLP/JSON bodies.
//!
//! This module owns the wire formats of the OpenTelemetry protocol (`opentelemetry-proto`
//! `trace/v1`, `logs/v1`, `common/v1`, `resource/v1`, and the JSON mapping of the OTLP
//! specification: hex ids, integer enums, 64-bit integers as strings). It does not queue, batch
//! or send anything; that is `export`.
//!
//! Each span is encoded once, when its call ends, into a self-contained fragment (the bytes of
//! one `Span` message, or one JSON object). A batch is then the fragments wrapped in the
//! request envelope, without re-encoding them: the envelope costs a few dozen bytes.
//!
//! Protobuf is written by hand (a varint and length-delimited writer of ~100 lines) instead of
//! `prost`, which would add generated code and a runtime to the module for four messages. The
//! tests decode every byte with the real `opentelemetry-proto` types.

use crate::span::{Attr, AttrValue, Event, Link, LogRecord, Resource, Severity, Span};
use crate::trace::to_hex;

/// The body encoding of an export request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// OTLP/HTTP protobuf (`application/x-protobuf`).
    Protobuf,
    /// OTLP/HTTP JSON (`application/json`).
    Json,
}

impl Encoding {
    /// The `content-type` of a request in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            // Phoenix (and others) refuse any parameter after the media type.
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// The instrumentation scope every batch names.
pub const SCOPE_NAME: &str = "genai-tap";
pub const SCOPE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// OTLP's `SeverityNumber` (INFO is 9, WARN is 13).
fn severity_number(s: Severity) -> i32 {
    match s {
        Severity::Info => 9,
        Severity::Warn => 13,
    }
}

fn severity_text(s: Severity) -> &'static str {
    match s {
        Severity::Info => "INFO",
        Severity::Warn => "WARN",
    }
}

/// Encodes one span as a fragment in `encoding`.
pub fn encode_span(span: &Span, encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Protobuf => proto::span(span),
        Encoding::Json => json::span(span).into_bytes(),
    }
}

/// Encodes one log record as a fragment in `encoding`.
pub fn encode_log(log: &LogRecord, encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Protobuf => proto::log(log),
        Encoding::Json => json::log(log).into_bytes(),
    }
}

/// What a batch carries: spans or log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Spans (`/v1/traces`).
    Traces,
    /// Log records (`/v1/logs`).
    Logs,
}

/// Wraps already-encoded fragments into an `Export{Trace,Logs}ServiceRequest` body.
pub fn encode_request<'a>(
    signal: Signal,
    encoding: Encoding,
    resource: &Resource,
    fragments: impl Iterator<Item = &'a [u8]> + Clone,
) -> Vec<u8> {
    match encoding {
        Encoding::Protobuf => proto::request(signal, resource, fragments),
        Encoding::Json => json::request(signal, resource, fragments),
    }
}

/// Reads `partial_success.rejected_{spans,log_records}` from an export response body
/// (protobuf or JSON, by `content_type`). `0` when absent or unreadable.
pub fn rejected_count(body: &[u8], content_type: &str) -> u64 {
    if content_type.starts_with("application/json") {
        let v: serde_json::Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(_) => return 0,
        };
        let p = &v["partialSuccess"];
        for key in ["rejectedSpans", "rejectedLogRecords"] {
            match &p[key] {
                serde_json::Value::String(s) => return s.parse().unwrap_or(0),
                serde_json::Value::Number(n) => return n.as_u64().unwrap_or(0),
                _ => {}
            }
        }
        0
    } else {
        proto::rejected(body).unwrap_or(0)
    }
}

mod proto {
    use super::*;

    const LEN: u8 = 2;
    const VARINT: u8 = 0;
    const I64: u8 = 1;
    const I32: u8 = 5;

    fn tag(out: &mut Vec<u8>, field: u32, wire: u8) {
        varint(out, u64::from(field << 3 | u32::from(wire)));
    }

    fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
        tag(out, field, LEN);
        varint(out, b.len() as u64);
        out.extend_from_slice(b);
    }

    fn string(out: &mut Vec<u8>, field: u32, s: &str) {
        if !s.is_empty() {
            bytes(out, field, s.as_bytes());
        }
    }

    fn fixed64(out: &mut Vec<u8>, field: u32, v: u64) {
        tag(out, field, I64);
        out.extend_from_slice(&v.to_le_bytes());
    }

    fn uint(out: &mut Vec<u8>, field: u32, v: u64) {
        if v != 0 {
            tag(out, field, VARINT);
            varint(out, v);
        }
    }

    /// Writes a nested message built by `f` (length-prefixed), in place: one byte is set
    /// aside for the length, which fits most attributes; a longer message moves its bytes up
    /// once to make room. A `Vec` per nested message was a fifth of a call's cost.
    fn message(out: &mut Vec<u8>, field: u32, f: impl FnOnce(&mut Vec<u8>)) {
        tag(out, field, LEN);
        let at = out.len();
        out.push(0);
        f(out);
        let len = out.len() - at - 1;
        if len < 0x80 {
            out[at] = len as u8;
        } else {
            let mut prefix = Vec::with_capacity(10);
            varint(&mut prefix, len as u64);
            out.splice(at..=at, prefix);
        }
    }

    fn any_value(out: &mut Vec<u8>, v: &AttrValue) {
        match v {
            AttrValue::Str(s) => bytes(out, 1, s.as_bytes()),
            AttrValue::Bool(b) => {
                tag(out, 2, VARINT);
                varint(out, u64::from(*b));
            }
            AttrValue::Int(i) => {
                tag(out, 3, VARINT);
                varint(out, *i as u64);
            }
            AttrValue::F64(f) => {
                tag(out, 4, I64);
                out.extend_from_slice(&f.to_le_bytes());
            }
            AttrValue::StrList(list) => message(out, 5, |arr| {
                for s in list {
                    message(arr, 1, |val| bytes(val, 1, s.as_bytes()));
                }
            }),
        }
    }

    fn attributes(out: &mut Vec<u8>, field: u32, attrs: &[Attr]) {
        for (k, v) in attrs {
            message(out, field, |kv| {
                string(kv, 1, k);
                message(kv, 2, |val| any_value(val, v));
            });
        }
    }

    fn event(out: &mut Vec<u8>, e: &Event) {
        fixed64(out, 1, e.time_unix_nano);
        string(out, 2, e.name);
        attributes(out, 3, &e.attributes);
    }

    fn link(out: &mut Vec<u8>, l: &Link) {
        bytes(out, 1, &l.trace_id);
        bytes(out, 2, &l.span_id);
        attributes(out, 4, &l.attributes);
    }

    pub(super) fn span(s: &Span) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + s.attributes.len() * 48);
        bytes(&mut out, 1, &s.trace_id);
        bytes(&mut out, 2, &s.span_id);
        string(&mut out, 3, &s.trace_state);
        if let Some(p) = &s.parent_span_id {
            bytes(&mut out, 4, p);
        }
        string(&mut out, 5, &s.name);
        uint(&mut out, 6, s.kind as u64);
        fixed64(&mut out, 7, s.start_time_unix_nano);
        fixed64(&mut out, 8, s.end_time_unix_nano);
        attributes(&mut out, 9, &s.attributes);
        for e in &s.events {
            message(&mut out, 11, |m| event(m, e));
        }
        for l in &s.links {
            message(&mut out, 13, |m| link(m, l));
        }
        if s.status as u64 != 0 || !s.status_message.is_empty() {
            message(&mut out, 15, |st| {
                string(st, 2, &s.status_message);
                uint(st, 3, s.status as u64);
            });
        }
        out
    }

    pub(super) fn log(l: &LogRecord) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + l.body.len());
        fixed64(&mut out, 1, l.time_unix_nano);
        uint(&mut out, 2, severity_number(l.severity) as u64);
        string(&mut out, 3, severity_text(l.severity));
        message(&mut out, 5, |v| bytes(v, 1, l.body.as_bytes()));
        attributes(&mut out, 6, &l.attributes);
        if l.trace_id != [0; 16] {
            bytes(&mut out, 9, &l.trace_id);
            bytes(&mut out, 10, &l.span_id);
        }
        fixed64(&mut out, 11, l.time_unix_nano);
        string(&mut out, 12, l.event_name);
        out
    }

    fn varint_len(mut v: u64) -> usize {
        let mut n = 1;
        while v >= 0x80 {
            v >>= 7;
            n += 1;
        }
        n
    }

    /// The bytes of a length-delimited field of `len` bytes (fields 1 and 2: a one-byte tag).
    fn field_len(len: usize) -> usize {
        1 + varint_len(len as u64) + len
    }

    /// The request envelope around the fragments, written straight into one buffer of its
    /// final size: a batch can be hundreds of kilobytes, and nesting each level in its own
    /// growing buffer cost three copies and a fragmented heap (the soak saw the VM grow).
    pub(super) fn request<'a>(
        signal: Signal,
        resource: &Resource,
        fragments: impl Iterator<Item = &'a [u8]> + Clone,
    ) -> Vec<u8> {
        // spans are field 2 of ScopeSpans; log records field 2 of ScopeLogs
        let _ = signal;
        let mut res = Vec::new();
        attributes(&mut res, 1, &resource.attributes);
        let mut scope = Vec::new();
        string(&mut scope, 1, SCOPE_NAME);
        string(&mut scope, 2, SCOPE_VERSION);
        let items: usize = fragments.clone().map(|f| field_len(f.len())).sum();
        let scope_items = field_len(scope.len()) + items;
        let resource_items = field_len(res.len()) + field_len(scope_items);
        let mut out = Vec::with_capacity(field_len(resource_items));
        tag(&mut out, 1, LEN);
        varint(&mut out, resource_items as u64);
        bytes(&mut out, 1, &res);
        tag(&mut out, 2, LEN);
        varint(&mut out, scope_items as u64);
        bytes(&mut out, 1, &scope);
        for f in fragments {
            bytes(&mut out, 2, f);
        }
        out
    }

    /// `Export*ServiceResponse.partial_success (1) . rejected_* (1)`.
    pub(super) fn rejected(body: &[u8]) -> Option<u64> {
        let mut r = Reader { b: body };
        while let Some((field, wire)) = r.tag()? {
            if field == 1 && wire == LEN {
                let mut inner = Reader { b: r.len_delimited()? };
                while let Some((f, w)) = inner.tag()? {
                    if f == 1 && w == VARINT {
                        return inner.varint();
                    }
                    inner.skip(w)?;
                }
                return Some(0);
            }
            r.skip(wire)?;
        }
        Some(0)
    }

    struct Reader<'a> {
        b: &'a [u8],
    }

    impl<'a> Reader<'a> {
        fn varint(&mut self) -> Option<u64> {
            let mut v = 0u64;
            for i in 0..10 {
                let (&byte, rest) = self.b.split_first()?;
                self.b = rest;
                v |= u64::from(byte & 0x7f) << (7 * i);
                if byte < 0x80 {
                    return Some(v);
                }
            }
            None
        }

        fn tag(&mut self) -> Option<Option<(u32, u8)>> {
            if self.b.is_empty() {
                return Some(None);
            }
            let t = self.varint()?;
            Some(Some(((t >> 3) as u32, (t & 7) as u8)))
        }

        fn len_delimited(&mut self) -> Option<&'a [u8]> {
            let n = usize::try_from(self.varint()?).ok()?;
            let (head, rest) = (self.b.get(..n)?, self.b.get(n..)?);
            self.b = rest;
            Some(head)
        }

        fn skip(&mut self, wire: u8) -> Option<()> {
            match wire {
                VARINT => self.varint().map(|_| ()),
                I64 => {
                    self.b = self.b.get(8..)?;
                    Some(())
                }
                LEN => self.len_delimited().map(|_| ()),
                I32 => {
                    self.b = self.b.get(4..)?;
                    Some(())
                }
                _ => None,
            }
        }
    }
}

mod json {
    use super::*;
    use std::fmt::Write;

    fn string(out: &mut String, s: &str) {
        // serde_json escapes exactly as JSON requires; writing into a String cannot fail.
        let _ = serde_json::to_string(s).map(|q| out.push_str(&q));
    }

    fn string_value(out: &mut String, s: &str) {
        out.push_str("{\"stringValue\":");
        string(out, s);
        out.push('}');
    }

    fn any_value(out: &mut String, v: &AttrValue) {
        match v {
            AttrValue::Str(s) => string_value(out, s),
            AttrValue::Bool(b) => {
                let _ = write!(out, "{{\"boolValue\":{b}}}");
            }
            // proto3 JSON writes int64 as a string
            AttrValue::Int(i) => {
                let _ = write!(out, "{{\"intValue\":\"{i}\"}}");
            }
            AttrValue::F64(f) => {
                if f.is_finite() {
                    let _ = write!(out, "{{\"doubleValue\":{f}}}");
                } else if f.is_nan() {
                    out.push_str("{\"doubleValue\":\"NaN\"}");
                } else if *f > 0.0 {
                    out.push_str("{\"doubleValue\":\"Infinity\"}");
                } else {
                    out.push_str("{\"doubleValue\":\"-Infinity\"}");
                }
            }
            AttrValue::StrList(list) => {
                out.push_str("{\"arrayValue\":{\"values\":[");
                for (i, s) in list.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    string_value(out, s);
                }
                out.push_str("]}}");
            }
        }
    }

    fn attributes(out: &mut String, attrs: &[Attr]) {
        out.push('[');
        for (i, (k, v)) in attrs.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"key\":");
            string(out, k);
            out.push_str(",\"value\":");
            any_value(out, v);
            out.push('}');
        }
        out.push(']');
    }

    pub(super) fn span(s: &Span) -> String {
        let mut out = String::with_capacity(512);
        let _ = write!(out, "{{\"traceId\":\"{}\",\"spanId\":\"{}\"", to_hex(&s.trace_id), to_hex(&s.span_id));
        if !s.trace_state.is_empty() {
            out.push_str(",\"traceState\":");
            string(&mut out, &s.trace_state);
        }
        if let Some(p) = &s.parent_span_id {
            let _ = write!(out, ",\"parentSpanId\":\"{}\"", to_hex(p));
        }
        out.push_str(",\"name\":");
        string(&mut out, &s.name);
        let _ = write!(
            out,
            ",\"kind\":{},\"startTimeUnixNano\":\"{}\",\"endTimeUnixNano\":\"{}\",\"attributes\":",
            s.kind as u8, s.start_time_unix_nano, s.end_time_unix_nano
        );
        attributes(&mut out, &s.attributes);
        if !s.events.is_empty() {
            out.push_str(",\"events\":[");
            for (i, e) in s.events.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{{\"timeUnixNano\":\"{}\",\"name\":", e.time_unix_nano);
                string(&mut out, e.name);
                out.push_str(",\"attributes\":");
                attributes(&mut out, &e.attributes);
                out.push('}');
            }
            out.push(']');
        }
        if !s.links.is_empty() {
            out.push_str(",\"links\":[");
            for (i, l) in s.links.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{{\"traceId\":\"{}\",\"spanId\":\"{}\",\"attributes\":", to_hex(&l.trace_id), to_hex(&l.span_id));
                attributes(&mut out, &l.attributes);
                out.push('}');
            }
            out.push(']');
        }
        let _ = write!(out, ",\"status\":{{\"code\":{}", s.status as u8);
        if !s.status_message.is_empty() {
            out.push_str(",\"message\":");
            string(&mut out, &s.status_message);
        }
        out.push_str("}}");
        out
    }

    pub(super) fn log(l: &LogRecord) -> String {
        let mut out = String::with_capacity(256 + l.body.len());
        let _ = write!(
            out,
            "{{\"timeUnixNano\":\"{t}\",\"observedTimeUnixNano\":\"{t}\",\"severityNumber\":{},\"severityText\":",
            severity_number(l.severity),
            t = l.time_unix_nano
        );
        string(&mut out, severity_text(l.severity));
        out.push_str(",\"eventName\":");
        string(&mut out, l.event_name);
        out.push_str(",\"body\":");
        string_value(&mut out, &l.body);
        out.push_str(",\"attributes\":");
        attributes(&mut out, &l.attributes);
        if l.trace_id != [0; 16] {
            let _ = write!(out, ",\"traceId\":\"{}\",\"spanId\":\"{}\"", to_hex(&l.trace_id), to_hex(&l.span_id));
        }
        out.push('}');
        out
    }

    pub(super) fn request<'a>(
        signal: Signal,
        resource: &Resource,
        fragments: impl Iterator<Item = &'a [u8]> + Clone,
    ) -> Vec<u8> {
        let (outer, inner, items) = match signal {
            Signal::Traces => ("resourceSpans", "scopeSpans", "spans"),
            Signal::Logs => ("resourceLogs", "scopeLogs", "logRecords"),
        };
        let mut head = String::with_capacity(1024);
        let _ = write!(head, "{{\"{outer}\":[{{\"resource\":{{\"attributes\":");
        attributes(&mut head, &resource.attributes);
        let _ = write!(head, "}},\"{inner}\":[{{\"scope\":{{\"name\":\"{SCOPE_NAME}\",\"version\":\"{SCOPE_VERSION}\"}},\"{items}\":[");
        // one buffer of the final size, as for protobuf
        let (n, bytes) = fragments.clone().fold((0usize, 0usize), |(n, b), f| (n + 1, b + f.len()));
        let mut out = Vec::with_capacity(head.len() + bytes + n.saturating_sub(1) + 6);
        out.extend_from_slice(head.as_bytes());
        for (i, f) in fragments.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(f);
        }
        out.extend_from_slice(b"]}]}]}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::{SpanKind, StatusCode};

    fn span(i: usize) -> Span {
        Span {
            trace_id: [7; 16],
            span_id: [i as u8 + 1; 8],
            parent_span_id: None,
            trace_state: String::new(),
            name: format!("chat model-{i}"),
            kind: SpanKind::Client,
            start_time_unix_nano: 1,
            end_time_unix_nano: 2,
            // big enough that a batch's length prefixes take several varint bytes
            attributes: vec![("genai_tap.correlation_id", AttrValue::from("x".repeat(300 + i)))],
            events: Vec::new(),
            links: Vec::new(),
            status: StatusCode::Unset,
            status_message: String::new(),
        }
    }

    fn resource() -> Resource {
        Resource { attributes: vec![("service.name", "genai-tap".into())] }
    }

    /// Found by the soak: a batch was built through three nested, growing buffers. It is now
    /// written once into a buffer of its final size, and still decodes with the real types.
    #[test]
    fn a_batch_is_encoded_in_one_buffer_of_its_final_size() {
        for n in [0usize, 1, 2, 200] {
            let spans: Vec<Span> = (0..n).map(span).collect();
            for encoding in [Encoding::Protobuf, Encoding::Json] {
                let fragments: Vec<Vec<u8>> = spans.iter().map(|s| encode_span(s, encoding)).collect();
                let body = encode_request(Signal::Traces, encoding, &resource(), fragments.iter().map(Vec::as_slice));
                assert_eq!(body.capacity(), body.len(), "{encoding:?}, {n} spans: one allocation, no slack");
                let decoded = genai_tap_testkit::sink::decode_traces(&body, encoding == Encoding::Json)
                    .unwrap_or_else(|e| panic!("{encoding:?}, {n} spans: {e}"));
                assert_eq!(decoded.len(), n);
                for (i, d) in decoded.iter().enumerate() {
                    assert_eq!(d.name, format!("chat model-{i}"));
                    assert_eq!(d.str("genai_tap.correlation_id").map(str::len), Some(300 + i));
                    assert_eq!(d.resource.get("service.name").and_then(|v| v.as_str()), Some("genai-tap"));
                }
            }
        }
        // logs share the envelope
        let log = LogRecord {
            time_unix_nano: 5,
            severity: Severity::Info,
            event_name: "genai_tap.spec_gap.candidate",
            body: "b".repeat(200),
            attributes: Vec::new(),
            trace_id: [1; 16],
            span_id: [2; 8],
        };
        for encoding in [Encoding::Protobuf, Encoding::Json] {
            let fragments: Vec<Vec<u8>> = (0..3).map(|_| encode_log(&log, encoding)).collect();
            let body = encode_request(Signal::Logs, encoding, &resource(), fragments.iter().map(Vec::as_slice));
            assert_eq!(body.capacity(), body.len());
            let decoded = genai_tap_testkit::sink::decode_logs(&body, encoding == Encoding::Json).unwrap();
            assert_eq!(decoded.len(), 3);
            assert_eq!(decoded[0].event_name, "genai_tap.spec_gap.candidate");
        }
    }
}
