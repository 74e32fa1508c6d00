//! The span model: plain data that the exchange builds and the OTLP encoders read.
//!
//! This module owns what a finished call looks like as telemetry (ids, name, kind, times,
//! attributes, events, links, status) and the names of every attribute genai-tap emits, in
//! [`attr`]. It does not encode anything (see `otlp`) and does not decide what goes in a span
//! (see `exchange`). Attribute names are a public contract: add, never rename.

use std::borrow::Cow;

/// A W3C trace id: 16 bytes, never all zero when valid.
pub type TraceId = [u8; 16];
/// A W3C span id: 8 bytes, never all zero when valid.
pub type SpanId = [u8; 8];

/// OTLP `Span.SpanKind`, with the protobuf enum numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanKind {
    /// An operation inside the proxy (the task span).
    Internal = 1,
    /// Serving a request.
    Server = 2,
    /// A call to an upstream (every LLM and tool call).
    Client = 3,
    /// Sending a message.
    Producer = 4,
    /// Receiving a message.
    Consumer = 5,
}

/// OTLP `Status.StatusCode`, with the protobuf enum numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StatusCode {
    #[default]
    /// No status set.
    Unset = 0,
    /// The call succeeded.
    Ok = 1,
    /// The call failed.
    Error = 2,
}

/// An attribute value. Only the OTLP `AnyValue` shapes that genai-tap emits.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    /// A string: the crate's own constants (`chat`, `openai`, `completed`) borrowed, anything
    /// else owned.
    Str(Cow<'static, str>),
    /// An integer.
    Int(i64),
    /// A float.
    F64(f64),
    /// A boolean.
    Bool(bool),
    /// A list of strings.
    StrList(Vec<String>),
}

impl From<&str> for AttrValue {
    fn from(s: &str) -> Self {
        AttrValue::Str(Cow::Owned(s.to_owned()))
    }
}
impl From<String> for AttrValue {
    fn from(s: String) -> Self {
        AttrValue::Str(Cow::Owned(s))
    }
}
impl From<i64> for AttrValue {
    fn from(v: i64) -> Self {
        AttrValue::Int(v)
    }
}
impl From<u64> for AttrValue {
    fn from(v: u64) -> Self {
        AttrValue::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<f64> for AttrValue {
    fn from(v: f64) -> Self {
        AttrValue::F64(v)
    }
}
impl From<bool> for AttrValue {
    fn from(v: bool) -> Self {
        AttrValue::Bool(v)
    }
}
impl From<Vec<String>> for AttrValue {
    fn from(v: Vec<String>) -> Self {
        AttrValue::StrList(v)
    }
}

/// A key and its value. Keys are `&'static str` because every name genai-tap emits is a
/// constant in [`attr`]; nothing from the wire ever becomes a key.
pub type Attr = (&'static str, AttrValue);

/// How serious a log record is; OTLP's severity numbers are the encoder's business.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// `INFO` (9).
    Info,
    /// `WARN` (13).
    Warn,
}

/// A log record (content capture and spec-gap candidates), on the trace of the call it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// When the event happened (Unix ns).
    pub time_unix_nano: u64,
    /// How severe it is.
    pub severity: Severity,
    /// The event name (`gen_ai.client.inference.operation.details`, ...).
    pub event_name: &'static str,
    /// The record body (a JSON string).
    pub body: String,
    /// Attributes beside the body.
    pub attributes: Vec<Attr>,
    /// The trace it belongs to.
    pub trace_id: TraceId,
    /// The span it belongs to.
    pub span_id: SpanId,
}

/// A timed event inside a span.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// When it happened (Unix ns).
    pub time_unix_nano: u64,
    /// The event name.
    pub name: &'static str,
    /// Its attributes.
    pub attributes: Vec<Attr>,
}

/// A link to another span, such as the LLM span that asked for a tool call.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// The linked span's trace.
    pub trace_id: TraceId,
    /// The linked span.
    pub span_id: SpanId,
    /// Attributes of the link.
    pub attributes: Vec<Attr>,
}

/// A finished span, ready to encode.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    /// The trace id.
    pub trace_id: TraceId,
    /// The span id.
    pub span_id: SpanId,
    /// The parent span, if any.
    pub parent_span_id: Option<SpanId>,
    /// The W3C `tracestate` to propagate, empty when none.
    pub trace_state: String,
    /// The span name (`chat gpt-4o`, `tools/call search`).
    pub name: String,
    /// The span kind.
    pub kind: SpanKind,
    /// When the call started (Unix ns).
    pub start_time_unix_nano: u64,
    /// When the call ended (Unix ns).
    pub end_time_unix_nano: u64,
    /// Attributes, names from [`attr`](crate::span::attr) constants.
    pub attributes: Vec<Attr>,
    /// Span events.
    pub events: Vec<Event>,
    /// Links to other spans.
    pub links: Vec<Link>,
    /// The status.
    pub status: StatusCode,
    /// The status message (set only on errors).
    pub status_message: String,
}

impl Span {
    /// The value of the first attribute named `key`, if any.
    pub fn attr(&self, key: &str) -> Option<&AttrValue> {
        self.attributes.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Sets `key` to `value`, replacing an earlier value of the same key.
    pub fn set(&mut self, key: &'static str, value: impl Into<AttrValue>) {
        let value = value.into();
        match self.attributes.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.attributes.push((key, value)),
        }
    }

    /// Sets `key` to one of the crate's own constants, borrowed rather than copied: a call's
    /// span carries half a dozen (operation, provider, route kind, outcome...).
    pub fn set_const(&mut self, key: &'static str, value: &'static str) {
        self.set(key, AttrValue::Str(Cow::Borrowed(value)));
    }

    /// Sets `key` when there is a value: most request parameters are optional.
    pub fn set_some<V: Into<AttrValue>>(&mut self, key: &'static str, value: Option<V>) {
        if let Some(v) = value {
            self.set(key, v);
        }
    }
}

/// The resource that every exported batch carries: who emitted these spans.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Resource {
    /// The resource attributes (`service.name`, ...).
    pub attributes: Vec<Attr>,
}

/// Span and log attribute names, every one of them emitted (docs/telemetry.md is the contract).
/// The `gen_ai.*`, `mcp.*` and general ones follow the OpenTelemetry semantic conventions
/// v1.41.0 in `../shared/semconv/`; `tests/conventions.rs` checks the emitted ones against the
/// YAML registry. Our own go under `genai_tap.*`. Resource attributes (`service.name`,
/// `telemetry.sdk.*`) are each host's to write, so they are not here.
pub mod attr {
    // GenAI (registry: gen-ai.md)
    pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
    pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
    pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
    pub const GEN_AI_RESPONSE_MODEL: &str = "gen_ai.response.model";
    pub const GEN_AI_RESPONSE_ID: &str = "gen_ai.response.id";
    pub const GEN_AI_RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
    pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
    pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
    pub const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: &str = "gen_ai.usage.cache_read.input_tokens";
    pub const GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: &str =
        "gen_ai.usage.cache_creation.input_tokens";
    pub const GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: &str = "gen_ai.usage.reasoning.output_tokens";
    pub const GEN_AI_REQUEST_MAX_TOKENS: &str = "gen_ai.request.max_tokens";
    pub const GEN_AI_REQUEST_TEMPERATURE: &str = "gen_ai.request.temperature";
    pub const GEN_AI_REQUEST_TOP_P: &str = "gen_ai.request.top_p";
    pub const GEN_AI_REQUEST_TOP_K: &str = "gen_ai.request.top_k";
    pub const GEN_AI_REQUEST_STREAM: &str = "gen_ai.request.stream";
    pub const GEN_AI_REQUEST_SEED: &str = "gen_ai.request.seed";
    pub const GEN_AI_REQUEST_CHOICE_COUNT: &str = "gen_ai.request.choice.count";
    pub const GEN_AI_REQUEST_FREQUENCY_PENALTY: &str = "gen_ai.request.frequency_penalty";
    pub const GEN_AI_REQUEST_PRESENCE_PENALTY: &str = "gen_ai.request.presence_penalty";
    pub const GEN_AI_REQUEST_STOP_SEQUENCES: &str = "gen_ai.request.stop_sequences";
    pub const GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: &str = "gen_ai.response.time_to_first_chunk";
    pub const GEN_AI_CONVERSATION_ID: &str = "gen_ai.conversation.id";
    pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";
    pub const GEN_AI_TOOL_CALL_ID: &str = "gen_ai.tool.call.id";
    pub const GEN_AI_TOOL_CALL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";
    pub const GEN_AI_AGENT_VERSION: &str = "gen_ai.agent.version";
    pub const GEN_AI_AGENT_NAME: &str = "gen_ai.agent.name";
    /// Deprecated by semconv v1.37 for `gen_ai.provider.name`; emitted only with
    /// `compat.gen_ai_system`, for backends that still read it.
    pub const GEN_AI_SYSTEM: &str = "gen_ai.system";

    // MCP (registry: mcp.md)
    pub const MCP_METHOD_NAME: &str = "mcp.method.name";
    pub const MCP_PROTOCOL_VERSION: &str = "mcp.protocol.version";
    pub const MCP_SESSION_ID: &str = "mcp.session.id";
    pub const MCP_RESOURCE_URI: &str = "mcp.resource.uri";
    pub const JSONRPC_REQUEST_ID: &str = "jsonrpc.request.id";

    // General
    pub const ERROR_TYPE: &str = "error.type";
    pub const SERVER_ADDRESS: &str = "server.address";
    pub const SERVER_PORT: &str = "server.port";
    pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
    pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
    pub const USER_ID_HASH: &str = "genai_tap.user.id_hash";
    pub const SESSION_ID: &str = "session.id";

    // genai-tap's own
    pub const TAP_OUTCOME: &str = "genai_tap.outcome";
    pub const TAP_PARSED: &str = "genai_tap.parsed";
    pub const TAP_NOT_PARSED_REASON: &str = "genai_tap.not_parsed.reason";
    pub const TAP_USAGE_PARTIAL: &str = "genai_tap.usage.partial";
    pub const TAP_STEP_TYPE: &str = "genai_tap.step.type";
    pub const TAP_SURFACE_REASON: &str = "genai_tap.surface.reason";
    pub const TAP_CORRELATION_ID: &str = "genai_tap.correlation_id";
    pub const TAP_ROUTE_KIND: &str = "genai_tap.route.kind";
    pub const TAP_GENERATION_TIME_MS: &str = "genai_tap.generation_time_ms";
    pub const TAP_TIME_PER_OUTPUT_TOKEN_MS: &str = "genai_tap.time_per_output_token_ms";
    pub const TAP_TOOL_CALL_NAMES: &str = "genai_tap.tool_calls.names";
    pub const TAP_TOOL_CALL_IDS: &str = "genai_tap.tool_calls.ids";
    /// Parallel to the names and ids: each tool call's `gen_ai.tool.type` value.
    pub const TAP_TOOL_CALL_TYPES: &str = "genai_tap.tool_calls.types";
    pub const TAP_STATE_BYTES: &str = "genai_tap.stream.state_bytes";
    pub const TAP_PROMPT_SHA256: &str = "genai_tap.prompt.sha256";
    pub const TAP_COMPLETION_SHA256: &str = "genai_tap.completion.sha256";
    pub const TAP_RETENTION_BUCKET: &str = "genai_tap.content.retention_bucket";
    pub const TAP_GUARD_BLOCKED_RULE: &str = "genai_tap.guard.blocked_rule";
    pub const TAP_GUARD_REDACTIONS: &str = "genai_tap.guard.redactions";
    pub const TAP_GUARD_SECRET_RULES: &str = "genai_tap.guard.secret_rules";
    pub const TAP_COST_USD: &str = "genai_tap.cost.usd";
    pub const TAP_USAGE_UNCACHED_INPUT_TOKENS: &str = "genai_tap.usage.uncached_input_tokens";
    pub const TAP_PRICED: &str = "genai_tap.cost.priced";
    pub const TAP_SPEC_VERSION: &str = "genai_tap.spec.version";
    pub const TAP_AGENT_VERSION: &str = "genai_tap.agent.version";
    pub const TAP_TASK_ID: &str = "genai_tap.task.id";
    pub const TAP_TASK_BUDGET_MS: &str = "genai_tap.task.budget_ms";
    pub const TAP_SESSION_CALLS: &str = "genai_tap.session.calls";
    pub const TAP_SESSION_TASKS: &str = "genai_tap.session.tasks";
    pub const TAP_SESSION_INPUT_TOKENS: &str = "genai_tap.session.input_tokens";
    pub const TAP_SESSION_OUTPUT_TOKENS: &str = "genai_tap.session.output_tokens";
    pub const TAP_SESSION_COST_USD: &str = "genai_tap.session.cost_usd";
    pub const TAP_TOOL_AUTHZ: &str = "genai_tap.tool.authorization";
    pub const TAP_TOOL_SIDE_EFFECT: &str = "genai_tap.tool.side_effect";
    pub const TAP_TOOL_RESULT_TYPE: &str = "genai_tap.tool.result.type";
    pub const TAP_TOOL_RESULT_KEYS: &str = "genai_tap.tool.result.keys";
    pub const TAP_TOOL_RESULT_CONTENT_TYPES: &str = "genai_tap.tool.result.content_types";
    pub const TAP_TOOL_RESULT_BYTES: &str = "genai_tap.tool.result.bytes";
    pub const TAP_REQUEST_BYTES: &str = "genai_tap.request.bytes";
    pub const TAP_RESPONSE_BYTES: &str = "genai_tap.response.bytes";
    pub const TAP_SPEC_GAP_KIND: &str = "genai_tap.spec_gap.kind";
    pub const TAP_SPEC_GAP_REASON: &str = "genai_tap.spec_gap.reason";
    pub const TAP_CONTENT_TRUNCATED: &str = "genai_tap.content.truncated";
    pub const TAP_CONTENT_PART: &str = "genai_tap.content.part";
    pub const TAP_MODEL_TIER: &str = "genai_tap.model.tier";
    // the task record (`task`)
    pub const TAP_TASK_OUTCOME: &str = "genai_tap.task.outcome";
    pub const TAP_TASK_END_REASON: &str = "genai_tap.task.end_reason";
    pub const TAP_TASK_START_MS: &str = "genai_tap.task.start_ms";
    pub const TAP_TASK_END_MS: &str = "genai_tap.task.end_ms";
    pub const TAP_TASK_DURATION_MS: &str = "genai_tap.task.duration_ms";
    pub const TAP_TASK_LLM_CALLS: &str = "genai_tap.task.llm_calls";
    pub const TAP_TASK_TOOL_CALLS: &str = "genai_tap.task.tool_calls";
    pub const TAP_TASK_UNPRICED_CALLS: &str = "genai_tap.task.unpriced_calls";
    pub const TAP_TASK_OVER_BUDGET: &str = "genai_tap.task.over_budget";
    pub const TAP_TASK_FIRST_PASS: &str = "genai_tap.task.first_pass";
    pub const TAP_TASK_PARTIAL: &str = "genai_tap.task.partial";
    pub const TAP_TASK_MODELS: &str = "genai_tap.task.models";
    // the session record (`session::record`)
    pub const TAP_SESSION_START_MS: &str = "genai_tap.session.start_ms";
    pub const TAP_SESSION_END_MS: &str = "genai_tap.session.end_ms";
    pub const TAP_SESSION_DURATION_MS: &str = "genai_tap.session.duration_ms";
    pub const TAP_SESSION_END_REASON: &str = "genai_tap.session.end_reason";
    pub const TAP_SESSION_UNPRICED_CALLS: &str = "genai_tap.session.unpriced_calls";
    pub const TAP_SESSION_PARTIAL: &str = "genai_tap.session.partial";
}
