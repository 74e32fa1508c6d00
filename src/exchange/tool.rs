//! A tool call's own part of the exchange: an MCP server (JSON-RPC over streamable HTTP) or a
//! plain HTTP tool route. It reads the JSON-RPC requests and responses (or the result's shape)
//! and builds one span per tool request; `tools` owns the parsing.

use super::common::Common;
use super::guard::GuardState;
use super::logs::{self, Gap};
use super::sanitize::sanitize_span;
use super::tool_links;
use super::verdict::{Finished, RequestHead};
use crate::plugin::Config;
use crate::framing::{Body, BodyEnd, Frame, StreamFormat};
use crate::session::SharedData;
use crate::span::{attr, AttrValue, Span, StatusCode};
use crate::stats::{self, StatUpdate};
use crate::tools::{http, mcp};

/// A tool call in flight.
#[derive(Debug)]
pub(super) struct Tool {
    mcp: bool,
    /// The route's tool name, or the host (plain tools).
    name: String,
    path: String,
    requests: Vec<mcp::McpRequest>,
    session: Option<String>,
    header_protocol: Option<String>,
    response: Body,
    responses: Vec<mcp::McpResponse>,
    result_shape: Option<(&'static str, Vec<String>)>,
}

impl Tool {
    pub fn new(head: RequestHead<'_>, host: &str, path: &str, mcp: bool, tool: Option<String>) -> Tool {
        Tool {
            mcp,
            name: tool.unwrap_or_else(|| host.to_owned()),
            path: path.split('?').next().unwrap_or("/").to_owned(),
            requests: Vec::new(),
            session: head.get("mcp-session-id").map(str::to_owned),
            header_protocol: head.get("mcp-protocol-version").map(str::to_owned),
            response: Body::Pending,
            responses: Vec::new(),
            result_shape: None,
        }
    }

    pub fn wants_response_body(&self) -> bool {
        self.response.is_reading()
    }

    /// Reads the whole request body: an MCP call's JSON-RPC requests.
    pub fn handle_request(&mut self, body: &[u8]) {
        if self.mcp {
            self.requests = mcp::parse_requests(body).unwrap_or_default();
        }
    }

    /// Chooses how the response is read: an MCP stream as SSE events, anything else whole.
    pub fn handle_response_headers(&mut self, get: &dyn Fn(&str) -> Option<String>, encoded: bool, cfg: &Config) {
        if self.session.is_none() {
            self.session = get("mcp-session-id");
        }
        let sse = get("content-type").is_some_and(|c| c.trim().to_ascii_lowercase().starts_with("text/event-stream"));
        self.response = if encoded {
            Body::Skip
        } else {
            Body::new((sse && self.mcp).then_some(StreamFormat::Sse), cfg.max_body_bytes, cfg.max_frame_bytes)
        };
    }

    pub fn handle_response_chunk(&mut self, chunk: &[u8]) {
        let Tool { response, responses, .. } = self;
        // a framing error is sticky: the body is skipped from then on
        let _ = response.push(chunk, &mut |f| read_event(f, responses));
    }

    pub fn end_response(&mut self) {
        let Tool { response, responses, .. } = self;
        match response.finish(&mut |f| read_event(f, responses)) {
            BodyEnd::Whole(bytes) if self.mcp => self.responses.extend(mcp::parse_responses(&bytes)),
            BodyEnd::Whole(bytes) => self.result_shape = http::result_shape(&bytes),
            _ => {}
        }
    }
}

fn read_event(frame: Frame<'_>, responses: &mut Vec<mcp::McpResponse>) {
    if let Frame::Sse { data, .. } = frame {
        responses.extend(mcp::parse_responses(data));
    }
}

/// Ends a tool call: one span per tool request (MCP) or one for the call (plain HTTP), with
/// their stats, a warning when the guard blocked it and a spec-gap record when it was refused.
pub(super) fn finish<S: SharedData>(cfg: &Config, common: Common, guard: GuardState, t: Tool, now: u64, store: &mut S, out: &mut Finished) {
    let end_ns = common.end_ns(now);
    let authz = if guard.blocked.is_some() { "refused" } else { http::authorization(common.status) };
    let kind = if t.mcp { "mcp" } else { "http" };
    let session = common.identity.session_id.clone().or_else(|| t.session.clone());
    let duration_ms = end_ns.saturating_sub(common.start_ns) / 1_000_000;
    let guard_attrs = guard.record(cfg, &|| format!("a tool call to {}", common.host), &mut out.stats, &mut out.warnings);
    let finish_span = |span: &mut Span, tool: &str, linked: Option<&str>, store: &S, out: &mut Finished| {
        common.set_http_attributes(span);
        span.set(attr::TAP_TOOL_AUTHZ, authz);
        span.set(attr::TAP_ROUTE_KIND, if t.mcp { "mcp" } else { "tool" });
        span.set_some(attr::SESSION_ID, common.identity.session_id.as_deref());
        span.set_some(attr::GEN_AI_AGENT_NAME, common.identity.agent.as_deref());
        guard_attrs.apply(span);
        if guard.blocked.is_some() {
            span.set_const(attr::ERROR_TYPE, "secret_detected");
            span.status = StatusCode::Error;
        }
        if let Some((trace, id, call_id)) = session.as_deref().zip(linked).and_then(|(sid, tool)| tool_links::find(store, sid, tool, end_ns / 1_000_000, cfg.sessions.idle_ttl_ms)) {
            if !call_id.is_empty() {
                span.set(attr::GEN_AI_TOOL_CALL_ID, call_id.as_str());
            }
            span.links.push(crate::span::Link { trace_id: trace, span_id: id, attributes: vec![(attr::GEN_AI_TOOL_CALL_ID, AttrValue::from(call_id.as_str()))] });
        }
        let mut labels = vec![("tool", tool), ("kind", kind), ("authz", authz)];
        labels.extend(common.identity.agent.as_deref().map(|a| ("agent", a)));
        out.stats.push(StatUpdate::new(stats::TOOL_CALLS, &labels, 1));
        out.stats.push(StatUpdate::new(stats::TOOL_DURATION_MS, &[("tool", tool)], duration_ms as i64));
    };
    let mut spans = Vec::new();
    if t.mcp {
        for (i, req) in t.requests.iter().enumerate() {
            let mut span_id = common.span_id;
            span_id[7] ^= i as u8;
            span_id[6] ^= (i >> 8) as u8;
            let name = match &req.target {
                Some(target) => format!("{} {}", req.method, target),
                None => req.method.clone(),
            };
            let mut span = common.span(span_id, name, end_ns, 20);
            span.set(attr::MCP_METHOD_NAME, req.method.as_str());
            span.set_some(attr::JSONRPC_REQUEST_ID, req.id.as_deref().map(|id| id.trim_matches('"')));
            let resp = t.responses.iter().find(|r| r.id.is_some() && r.id == req.id);
            let version = req.protocol_version.clone().or_else(|| t.header_protocol.clone()).or_else(|| resp.and_then(|r| r.protocol_version.clone()));
            span.set_some(attr::MCP_PROTOCOL_VERSION, version);
            span.set_some(attr::MCP_SESSION_ID, t.session.as_deref());
            span.set_some(attr::MCP_RESOURCE_URI, req.resource_uri.as_deref());
            if let Some(tool) = &req.tool {
                span.set_const(attr::GEN_AI_OPERATION_NAME, "execute_tool");
                span.set(attr::GEN_AI_TOOL_NAME, tool.as_str());
                if let (true, Some(args)) = (cfg.tools.capture_arguments, &req.arguments) {
                    let clean = crate::scan::sanitize_for_telemetry(&cfg.guard, args);
                    span.set(attr::GEN_AI_TOOL_CALL_ARGUMENTS, crate::text::cut(&clean, cfg.tools.max_argument_bytes));
                }
            }
            let tool_label = req.tool.clone().unwrap_or_else(|| req.method.clone());
            finish_span(&mut span, &tool_label, req.tool.as_deref(), store, out);
            match resp {
                Some(r) => {
                    if !r.content_types.is_empty() {
                        span.set(attr::TAP_TOOL_RESULT_CONTENT_TYPES, r.content_types.clone());
                    }
                    if !r.structured_keys.is_empty() {
                        span.set(attr::TAP_TOOL_RESULT_KEYS, r.structured_keys.clone());
                    }
                    span.set(attr::TAP_TOOL_RESULT_BYTES, r.bytes as u64);
                    if let Some(e) = r.error_code.map(mcp::error_type).or_else(|| r.is_error.then(|| "tool_error".to_owned())) {
                        span.set(attr::ERROR_TYPE, e);
                        span.status = StatusCode::Error;
                    }
                }
                None if span.status != StatusCode::Error => common.set_status_error(&mut span),
                None => {}
            }
            spans.push(span);
        }
    } else {
        let mut span = common.span(common.span_id, format!("execute_tool {}", t.name), end_ns, 20);
        span.set_const(attr::GEN_AI_OPERATION_NAME, "execute_tool");
        span.set(attr::GEN_AI_TOOL_NAME, t.name.as_str());
        span.set(attr::TAP_TOOL_SIDE_EFFECT, http::side_effect(&common.method, &common.host, &t.path));
        if let Some((ty, keys)) = &t.result_shape {
            span.set(attr::TAP_TOOL_RESULT_TYPE, *ty);
            if !keys.is_empty() {
                span.set(attr::TAP_TOOL_RESULT_KEYS, keys.clone());
            }
        }
        span.set(attr::TAP_TOOL_RESULT_BYTES, common.response_bytes);
        finish_span(&mut span, &t.name, Some(&t.name), store, out);
        if span.status != StatusCode::Error {
            common.set_status_error(&mut span);
        }
        spans.push(span);
    }
    for span in &mut spans {
        sanitize_span(cfg, span);
    }
    // a refusal is a candidate spec gap, as the operators' guide promises: either the agent
    // asked for what its grants do not allow, or the guard stopped a credential on its way out
    if cfg.spec_gap && authz == "refused" {
        if let Some(span) = spans.first() {
            let reason = match &guard.blocked {
                Some(rule) => rule.clone(),
                None => common.status.map(|s| s.to_string()).unwrap_or_default(),
            };
            out.logs.push(logs::spec_gap(span, &common, Gap { kind: "refused", reason }));
        }
    }
    // the task counts the tool call (once per exchange, however many JSON-RPC requests)
    let outcome = if guard.blocked.is_some() { "blocked" } else if spans.iter().any(|s| s.status == StatusCode::Error) { "errored" } else { "completed" };
    let call = super::task_link::CallFacts { llm: false, end_ns, usage: None, cost_micro_usd: None, outcome, surface_reason: None, model: None };
    super::task_link::write(cfg, &common, &call, store, out);
    out.spans.extend(spans);
}
