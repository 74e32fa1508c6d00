//! An OTLP/HTTP receiver that decodes what it gets with the real OTLP types.
//!
//! Accepts `POST /v1/traces` and `/v1/logs`, protobuf or JSON, gzip or not, and keeps every
//! decoded span and log record. Its behaviour can be changed while it runs: answer a status
//! (500, 429 with `Retry-After`...), answer slowly, or stop listening altogether.

use crate::http::{Handler, Reply, Request, Server};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use prost::Message;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One decoded span, flattened for assertions.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub trace_state: String,
    pub name: String,
    pub kind: i32,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
    pub attributes: BTreeMap<String, Value>,
    pub status_code: i32,
    pub events: Vec<(String, BTreeMap<String, Value>)>,
    /// (trace id, span id, attributes)
    pub links: Vec<(String, String, BTreeMap<String, Value>)>,
    pub resource: BTreeMap<String, Value>,
}

impl SpanRecord {
    pub fn attr(&self, key: &str) -> Option<&Value> {
        self.attributes.get(key)
    }
    pub fn str(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).and_then(Value::as_str)
    }
    pub fn int(&self, key: &str) -> Option<i64> {
        self.attributes.get(key).and_then(Value::as_i64)
    }
}

/// One decoded log record.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    pub event_name: String,
    pub body: String,
    pub trace_id: String,
    pub span_id: String,
    pub attributes: BTreeMap<String, Value>,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub content_type: String,
    pub content_encoding: String,
    pub headers: Vec<(String, String)>,
    pub raw: Vec<u8>,
}

#[derive(Default)]
struct State {
    spans: Vec<SpanRecord>,
    logs: Vec<LogRecord>,
    received: Vec<Received>,
    status: u16,
    retry_after: Option<u64>,
    delay: Duration,
    print: bool,
    decode_errors: Vec<String>,
}

/// The running sink.
pub struct OtlpSink {
    server: Mutex<Option<Server>>,
    pub port: u16,
    state: Arc<Mutex<State>>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn value(v: &Option<AnyValue>) -> Value {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => Value::String(s.clone()),
        Some(any_value::Value::IntValue(i)) => Value::from(*i),
        Some(any_value::Value::DoubleValue(d)) => Value::from(*d),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
        Some(any_value::Value::ArrayValue(a)) => Value::Array(a.values.iter().map(|v| value(&Some(v.clone()))).collect()),
        Some(other) => Value::String(format!("{other:?}")),
        None => Value::Null,
    }
}

fn attrs(kvs: &[KeyValue]) -> BTreeMap<String, Value> {
    kvs.iter().map(|kv| (kv.key.clone(), value(&kv.value))).collect()
}

/// Decodes an `ExportTraceServiceRequest` body (protobuf, or OTLP/JSON).
pub fn decode_traces(body: &[u8], json: bool) -> Result<Vec<SpanRecord>, String> {
    let req: ExportTraceServiceRequest = if json {
        serde_json::from_slice(body).map_err(|e| format!("otlp json: {e}"))?
    } else {
        ExportTraceServiceRequest::decode(body).map_err(|e| format!("otlp protobuf: {e}"))?
    };
    let mut out = Vec::new();
    for rs in &req.resource_spans {
        let resource = rs.resource.as_ref().map(|r| attrs(&r.attributes)).unwrap_or_default();
        for ss in &rs.scope_spans {
            for s in &ss.spans {
                out.push(SpanRecord {
                    trace_id: hex(&s.trace_id),
                    span_id: hex(&s.span_id),
                    parent_span_id: hex(&s.parent_span_id),
                    trace_state: s.trace_state.clone(),
                    name: s.name.clone(),
                    kind: s.kind,
                    start_time_unix_nano: s.start_time_unix_nano,
                    end_time_unix_nano: s.end_time_unix_nano,
                    attributes: attrs(&s.attributes),
                    status_code: s.status.as_ref().map(|st| st.code).unwrap_or(0),
                    events: s.events.iter().map(|e| (e.name.clone(), attrs(&e.attributes))).collect(),
                    links: s.links.iter().map(|l| (hex(&l.trace_id), hex(&l.span_id), attrs(&l.attributes))).collect(),
                    resource: resource.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// Decodes an `ExportLogsServiceRequest` body.
pub fn decode_logs(body: &[u8], json: bool) -> Result<Vec<LogRecord>, String> {
    let req: ExportLogsServiceRequest = if json {
        serde_json::from_slice(body).map_err(|e| format!("otlp json: {e}"))?
    } else {
        ExportLogsServiceRequest::decode(body).map_err(|e| format!("otlp protobuf: {e}"))?
    };
    let mut out = Vec::new();
    for rl in &req.resource_logs {
        for sl in &rl.scope_logs {
            for l in &sl.log_records {
                let body = match value(&l.body) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out.push(LogRecord {
                    event_name: l.event_name.clone(),
                    body,
                    trace_id: hex(&l.trace_id),
                    span_id: hex(&l.span_id),
                    attributes: attrs(&l.attributes),
                });
            }
        }
    }
    Ok(out)
}

fn print_span(s: &SpanRecord) {
    println!("── span {} ({} ms) trace={} span={} parent={}", s.name,
        s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano) / 1_000_000, s.trace_id, s.span_id,
        if s.parent_span_id.is_empty() { "-" } else { &s.parent_span_id });
    for (k, v) in &s.attributes {
        println!("   {k} = {v}");
    }
}

fn handle(state: &Arc<Mutex<State>>, req: &Request) -> Reply {
    let (status, retry_after, delay) = match state.lock() {
        Ok(s) => (s.status, s.retry_after, s.delay),
        Err(_) => (500, None, Duration::ZERO),
    };
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
    let ct = req.header("content-type").unwrap_or("").to_owned();
    let ce = req.header("content-encoding").unwrap_or("").to_owned();
    let mut body = req.body.clone();
    if ce.eq_ignore_ascii_case("gzip") {
        let mut d = flate2::read::GzDecoder::new(&req.body[..]);
        let mut out = Vec::new();
        if d.read_to_end(&mut out).is_ok() {
            body = out;
        }
    }
    let json = ct.starts_with("application/json");
    if let Ok(mut s) = state.lock() {
        s.received.push(Received { path: req.path.clone(), content_type: ct.clone(), content_encoding: ce, headers: req.headers.clone(), raw: req.body.clone() });
        if status == 200 {
            if req.path.ends_with("/v1/logs") {
                match decode_logs(&body, json) {
                    Ok(l) => s.logs.extend(l),
                    Err(e) => s.decode_errors.push(e),
                }
            } else {
                match decode_traces(&body, json) {
                    Ok(spans) => {
                        if s.print {
                            spans.iter().for_each(print_span);
                        }
                        s.spans.extend(spans);
                    }
                    Err(e) => s.decode_errors.push(e),
                }
            }
        }
    }
    let mut headers = vec![("content-type".to_owned(), if json { "application/json" } else { "application/x-protobuf" }.to_owned())];
    if let Some(ra) = retry_after {
        headers.push(("retry-after".to_owned(), ra.to_string()));
    }
    Reply::Full { status, headers, body: Vec::new() }
}

impl OtlpSink {
    /// Starts on 127.0.0.1:`port` (0 for a free port), answering 200.
    pub fn start(port: u16) -> std::io::Result<OtlpSink> {
        let state = Arc::new(Mutex::new(State { status: 200, ..Default::default() }));
        let server = Self::listen(port, &state)?;
        Ok(OtlpSink { port: server.port, server: Mutex::new(Some(server)), state })
    }

    fn listen(port: u16, state: &Arc<Mutex<State>>) -> std::io::Result<Server> {
        let st = state.clone();
        let handler: Handler = Arc::new(move |req: &Request| handle(&st, req));
        Server::start(port, handler)
    }

    /// Prints each span as it arrives (the demo).
    pub fn print(&self, on: bool) {
        if let Ok(mut s) = self.state.lock() {
            s.print = on;
        }
    }

    /// Answer every request with `status` (and `Retry-After` when given).
    pub fn respond(&self, status: u16, retry_after: Option<u64>) {
        if let Ok(mut s) = self.state.lock() {
            s.status = status;
            s.retry_after = retry_after;
        }
    }

    /// Answer every request after `delay`.
    pub fn slow(&self, delay: Duration) {
        if let Ok(mut s) = self.state.lock() {
            s.delay = delay;
        }
    }

    /// Stops listening: the collector is down.
    pub fn stop(&self) {
        if let Ok(mut s) = self.server.lock() {
            *s = None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    /// Listens again on the same port.
    pub fn restart(&self) -> std::io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match Self::listen(self.port, &self.state) {
                Ok(server) => {
                    if let Ok(mut s) = self.server.lock() {
                        *s = Some(server);
                    }
                    return Ok(());
                }
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    pub fn spans(&self) -> Vec<SpanRecord> {
        self.state.lock().map(|s| s.spans.clone()).unwrap_or_default()
    }

    pub fn logs(&self) -> Vec<LogRecord> {
        self.state.lock().map(|s| s.logs.clone()).unwrap_or_default()
    }

    /// Takes the spans received so far, leaving none: a long run reads them in batches.
    pub fn take_spans(&self) -> Vec<SpanRecord> {
        self.state.lock().map(|mut s| std::mem::take(&mut s.spans)).unwrap_or_default()
    }

    /// Takes the log records received so far, leaving none.
    pub fn take_logs(&self) -> Vec<LogRecord> {
        self.state.lock().map(|mut s| std::mem::take(&mut s.logs)).unwrap_or_default()
    }

    /// Takes the raw requests received so far, leaving none.
    pub fn take_received(&self) -> Vec<Received> {
        self.state.lock().map(|mut s| std::mem::take(&mut s.received)).unwrap_or_default()
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().map(|s| s.received.clone()).unwrap_or_default()
    }

    /// Bodies that did not decode: a test that sees any has found an encoding bug.
    pub fn decode_errors(&self) -> Vec<String> {
        self.state.lock().map(|s| s.decode_errors.clone()).unwrap_or_default()
    }

    /// Waits until at least `n` spans arrived, or `timeout` passed; returns them.
    pub fn wait_for_spans(&self, n: usize, timeout: Duration) -> Vec<SpanRecord> {
        let deadline = Instant::now() + timeout;
        loop {
            let spans = self.spans();
            if spans.len() >= n || Instant::now() > deadline {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn wait_for_logs(&self, n: usize, timeout: Duration) -> Vec<LogRecord> {
        let deadline = Instant::now() + timeout;
        loop {
            let logs = self.logs();
            if logs.len() >= n || Instant::now() > deadline {
                return logs;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
