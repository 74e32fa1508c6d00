//! What every observed call shares, whatever its kind: ids, timing, the request's facts and
//! who it belongs to, read once from the request headers.

use super::verdict::{HeaderEdit, RequestHead};
use crate::routes::strip_port;
use crate::plugin::Config;
use crate::span::{attr, AttrValue, Span, SpanId, SpanKind, StatusCode, TraceId};
use std::borrow::Cow;
use crate::trace::{self, FreshIds, TraceParent};

/// Ids, timing and request facts of one observed call.
#[derive(Debug)]
pub(super) struct Common {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// A random trace id of this call's own, for records that start a trace (a session's).
    pub fresh_trace_id: TraceId,
    pub parent: Option<SpanId>,
    pub trace_flags: u8,
    pub trace_state: String,
    pub start_ns: u64,
    pub request_end_ns: Option<u64>,
    pub response_end_ns: Option<u64>,
    /// The request's method: the common ones borrowed, so the span does not copy them.
    pub method: Cow<'static, str>,
    pub host: String,
    pub port: Option<u16>,
    pub correlation_id: Option<String>,
    pub identity: Identity,
    pub status: Option<u16>,
    pub request_bytes: u64,
    pub response_bytes: u64,
}

/// Who and what a call belongs to, from the identity headers.
#[derive(Debug, Default)]
pub(super) struct Identity {
    pub user_hash: Option<String>,
    pub session_id: Option<String>,
    pub task_id: Option<String>,
    pub spec_version: Option<String>,
    pub agent_version: Option<String>,
    pub task_budget_ms: Option<u64>,
    /// The end header's value (present, even empty: the task ends with this call).
    pub task_end: Option<String>,
    /// The session end header is present: the session ends with this call.
    pub session_end: bool,
    /// The agent's name (`identity.agent_header`).
    pub agent: Option<String>,
}

impl Common {
    /// Reads the request's facts; `host` is the authority without its port, lowercase.
    pub fn new(cfg: &Config, ids: &FreshIds, head: RequestHead<'_>, end_of_stream: bool, now: u64, host: &str) -> Common {
        let authority = head.get(":authority").or_else(|| head.get("host")).unwrap_or("");
        let parent = head.get("traceparent").and_then(trace::parse_traceparent);
        let (trace_id, parent_id, trace_flags) = match &parent {
            Some(TraceParent { trace_id, parent_id, flags }) => (*trace_id, Some(*parent_id), *flags),
            None => (ids.trace_id, None, 1),
        };
        let trace_state = match parent {
            Some(_) => head.get("tracestate").unwrap_or("").to_owned(),
            None => String::new(),
        };
        let port = authority_port(authority).or_else(|| match head.get(":scheme") {
            Some("https") => Some(443),
            Some("http") => Some(80),
            _ => None,
        });
        let id = &cfg.identity;
        let get = |h: &str| head.get(h).map(str::trim).filter(|v| !v.is_empty()).map(|v| crate::text::cut(v, 256).to_owned());
        Common {
            trace_id,
            span_id: ids.span_id,
            parent: parent_id,
            trace_flags,
            trace_state,
            start_ns: now,
            request_end_ns: end_of_stream.then_some(now),
            response_end_ns: None,
            method: method_of(head.get(":method").unwrap_or("")),
            host: host.to_owned(),
            port,
            correlation_id: head.get(&cfg.correlation_header).map(str::to_owned),
            identity: Identity {
                user_hash: head.get(&id.user_header).and_then(|u| id.user_hash(u)),
                session_id: get(&id.session_header),
                task_id: get(&id.task_header),
                spec_version: get(&id.spec_version_header),
                agent_version: get(&id.agent_version_header),
                task_budget_ms: head.get(&id.task_budget_header).and_then(crate::plugin::identity::Identity::parse_task_budget_ms),
                task_end: head.get(&id.task_end_header).map(|v| crate::text::cut(v.trim(), 64).to_owned()),
                session_end: head.get(&id.session_end_header).is_some(),
                agent: get(&id.agent_header),
            },
            fresh_trace_id: ids.trace_id,
            status: None,
            request_bytes: 0,
            response_bytes: 0,
        }
    }

    /// The trace context for the upstream: our span becomes the parent of whatever it does.
    pub fn traceparent_edit(&self) -> HeaderEdit {
        HeaderEdit { name: "traceparent", value: Some(trace::format_traceparent(&self.trace_id, &self.span_id, self.trace_flags)) }
    }

    /// When the call ended: the response's end, or `now` for a call that never finished.
    pub fn end_ns(&self, now: u64) -> u64 {
        self.response_end_ns.unwrap_or(now).max(self.start_ns)
    }

    /// Whether the response came back whole and successful: nothing Envoy could add about how
    /// the call ended would change its outcome.
    pub fn done_ok(&self) -> bool {
        self.response_end_ns.is_some() && self.status.is_some_and(|s| (200..400).contains(&s))
    }

    /// A client span on the call's trace.
    pub fn span(&self, span_id: SpanId, name: String, end_ns: u64, capacity: usize) -> Span {
        Span {
            trace_id: self.trace_id,
            span_id,
            parent_span_id: self.parent,
            trace_state: self.trace_state.clone(),
            name,
            kind: SpanKind::Client,
            start_time_unix_nano: self.start_ns,
            end_time_unix_nano: end_ns,
            attributes: Vec::with_capacity(capacity),
            events: Vec::new(),
            links: Vec::new(),
            status: StatusCode::Unset,
            status_message: String::new(),
        }
    }

    /// The HTTP facts every span of this call carries.
    pub fn set_http_attributes(&self, span: &mut Span) {
        span.set(attr::SERVER_ADDRESS, self.host.as_str());
        if let Some(port) = self.port {
            span.set(attr::SERVER_PORT, i64::from(port));
        }
        span.set(attr::HTTP_REQUEST_METHOD, AttrValue::Str(self.method.clone()));
        if let Some(s) = self.status {
            span.set(attr::HTTP_RESPONSE_STATUS_CODE, i64::from(s));
        }
        if let Some(c) = &self.correlation_id {
            span.set(attr::TAP_CORRELATION_ID, c.as_str());
        }
    }

    /// Marks `span` failed with `error_type` when the upstream answered with an error status.
    pub fn set_status_error(&self, span: &mut Span) {
        if let Some(s) = self.status.filter(|s| *s >= 400) {
            span.set(attr::ERROR_TYPE, s.to_string());
            span.status = StatusCode::Error;
        }
    }
}

fn method_of(m: &str) -> Cow<'static, str> {
    match ["POST", "GET", "PUT", "DELETE", "PATCH"].into_iter().find(|known| *known == m) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(m.to_owned()),
    }
}

/// The host of an authority, lowercase and without its port.
pub(super) fn host_of(authority: &str) -> String {
    strip_port(authority).to_ascii_lowercase()
}

fn authority_port(authority: &str) -> Option<u16> {
    let host = strip_port(authority);
    authority.get(host.len()..)?.strip_prefix(':')?.parse().ok()
}
