//! Cohere's own APIs: Chat v2 (`POST /v2/chat`), Chat v1 (`POST /v1/chat`) and Embed
//! (`POST /v1/embed`, `/v2/embed`), plain and streamed.
//!
//! Owns Cohere's wire shapes. v2: a request with `p`/`k` for top-p/top-k and `messages`, a
//! response whose `finish_reason` sits at the top level, and a stream of typed SSE events
//! (`message-start`, `content-delta`, `tool-call-start`/`-delta`, `message-end`). v1: a request
//! with `message`, `chat_history` and `tool_results`, a response with `text`, `generation_id`,
//! `tool_calls` (`{name, parameters}`) and `meta`, and a stream of JSON lines
//! (`application/stream+json`) whose `event_type` is `stream-start`, `text-generation`,
//! `tool-calls-generation` (the whole calls) or `stream-end` (the whole `response`). Embed:
//! `texts` in, `meta.billed_units.input_tokens` out. It does not read Cohere's
//! OpenAI-compatible endpoint (`/compatibility/v1/chat/completions`), which `openai` reads,
//! nor Cohere's bodies inside Bedrock's InvokeModel, which `bedrock` reads.
//!
//! Usage comes twice: `billed_units` (what Cohere bills) and `tokens` (what the model read and
//! wrote, including the preamble Cohere adds), under `usage` in v2 and `meta` in v1 and Embed.
//! We report the billed units, so that tokens times the list price is the bill, and fall back
//! to `tokens` when a body has no billed units. Responses do not name the model.

use super::open_tools::OpenTools;
use super::{Api, Detected, ExtractError, FrameFacts, LlmCall, Operation, Provider, ToolCall};
use crate::framing::{Frame, StreamFormat};
use serde::Deserialize;

pub(crate) fn detect(host: &str, path: &str) -> Option<Detected> {
    let p = path.split('?').next().unwrap_or(path).trim_end_matches('/');
    let cohere_host = host == "api.cohere.com" || host == "api.cohere.ai";
    // the exact path anywhere (a gateway that keeps Cohere's paths), any prefix on Cohere's hosts
    let is = |want: &str| p == want || (cohere_host && p.ends_with(want));
    let (api, operation) = if is("/v2/chat") {
        (Api::CohereChat, Operation::Chat)
    } else if is("/v1/chat") {
        (Api::CohereChatV1, Operation::Chat)
    } else if is("/v1/embed") || is("/v2/embed") {
        (Api::CohereEmbed, Operation::Embeddings)
    } else {
        return None;
    };
    Some(Detected { provider: Provider::Cohere, api, operation, path_model: None, path_stream: false })
}

/// v1 streams are JSON lines sent as `application/stream+json`.
pub(crate) fn stream_format(api: Api, content_type: &str) -> Option<StreamFormat> {
    (api == Api::CohereChatV1 && content_type.starts_with("application/stream+json")).then_some(StreamFormat::Ndjson)
}

#[derive(Deserialize)]
struct Request {
    model: Option<String>,
    max_tokens: Option<i64>,
    temperature: Option<f64>,
    p: Option<f64>,
    k: Option<f64>,
    seed: Option<i64>,
    frequency_penalty: Option<f64>,
    presence_penalty: Option<f64>,
    #[serde(default)]
    stop_sequences: Vec<String>,
    stream: Option<bool>,
    #[serde(default)]
    messages: Vec<Message>,
    /// v1: the tool results this turn sends back (a tool-result step when not empty).
    #[serde(default)]
    tool_results: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct Message {
    role: Option<String>,
}

pub(crate) fn handle_request(api: Api, body: &[u8], call: &mut LlmCall) -> Result<(), ExtractError> {
    let r: Request = serde_json::from_slice(body).map_err(|_| ExtractError::malformed("request is not JSON"))?;
    if r.model.is_some() {
        call.request_model = r.model;
    }
    let p = &mut call.params;
    p.max_tokens = r.max_tokens;
    p.temperature = r.temperature;
    p.top_p = r.p;
    p.top_k = r.k;
    p.seed = r.seed;
    p.frequency_penalty = r.frequency_penalty;
    p.presence_penalty = r.presence_penalty;
    p.stop_sequences = r.stop_sequences;
    p.stream = r.stream;
    call.last_message_is_tool_result = match api {
        Api::CohereChatV1 => !r.tool_results.is_empty(),
        _ => r.messages.last().and_then(|m| m.role.as_deref()) == Some("tool"),
    };
    Ok(())
}

#[derive(Deserialize, Default)]
struct Tokens {
    input_tokens: Option<f64>,
    output_tokens: Option<f64>,
}

#[derive(Deserialize, Default)]
struct Usage {
    billed_units: Option<Tokens>,
    tokens: Option<Tokens>,
}

impl Usage {
    fn apply(&self, call: &mut LlmCall) {
        // Cohere sends these as JSON numbers that may be written `12.0`
        let whole = |v: Option<f64>| v.filter(|x| x.is_finite() && *x >= 0.0).map(|x| x as u64);
        let billed = self.billed_units.as_ref();
        let tokens = self.tokens.as_ref();
        let input = whole(billed.and_then(|b| b.input_tokens)).or(whole(tokens.and_then(|t| t.input_tokens)));
        let output = whole(billed.and_then(|b| b.output_tokens)).or(whole(tokens.and_then(|t| t.output_tokens)));
        call.usage.input = input.or(call.usage.input);
        call.usage.output = output.or(call.usage.output);
    }
}

#[derive(Deserialize)]
struct Function {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct WireToolCall {
    id: Option<String>,
    function: Option<Function>,
}

#[derive(Deserialize)]
struct ResponseMessage {
    #[serde(default)]
    tool_calls: Vec<WireToolCall>,
}

/// A whole response, or an error (`{"id": ..., "message": "..."}`).
#[derive(Deserialize)]
struct Response {
    id: Option<String>,
    finish_reason: Option<String>,
    message: Option<serde_json::Value>,
    usage: Option<Usage>,
}

/// A v1 chat response (whole, or the `response` of a `stream-end` event), or an Embed
/// response (`id`, `meta`); an error is `{"message": "..."}`.
#[derive(Deserialize)]
struct ResponseV1 {
    response_id: Option<String>,
    generation_id: Option<String>,
    /// Embed's id.
    id: Option<String>,
    text: Option<String>,
    finish_reason: Option<String>,
    #[serde(default)]
    tool_calls: Vec<ToolCallV1>,
    meta: Option<Usage>,
    message: Option<serde_json::Value>,
}

/// A v1 tool call: the arguments are a JSON object, not a string. Also what Bedrock's
/// InvokeModel returns for Command R, which is Cohere's v1 body.
#[derive(Deserialize)]
pub(crate) struct ToolCallV1 {
    name: Option<String>,
    parameters: Option<serde_json::Value>,
}

/// One line of a v1 stream.
#[derive(Deserialize)]
struct EventV1 {
    event_type: Option<String>,
    generation_id: Option<String>,
    text: Option<String>,
    #[serde(default)]
    tool_calls: Vec<ToolCallV1>,
    response: Option<ResponseV1>,
    finish_reason: Option<String>,
}

impl ResponseV1 {
    fn apply(self, call: &mut LlmCall) {
        // v1 chat: `response_id` names the response, `generation_id` the generation; prefer the former
        if let Some(id) = [self.response_id, self.generation_id, self.id].into_iter().flatten().find(|s| !s.is_empty()) {
            call.response_id = Some(id);
        }
        if let Some(u) = &self.meta {
            u.apply(call);
        }
        if let Some(reason) = self.finish_reason {
            call.finish_reasons = vec![reason];
        }
        push_v1_tool_calls(self.tool_calls, call);
        if self.text.is_none() && self.meta.is_none() && matches!(self.message, Some(serde_json::Value::String(_))) {
            call.error_type.get_or_insert_with(|| "error".to_owned());
        }
    }
}

pub(crate) fn push_v1_tool_calls(calls: Vec<ToolCallV1>, call: &mut LlmCall) {
    for t in calls {
        call.tool_calls.push(ToolCall {
            id: String::new(),
            name: t.name.unwrap_or_default(),
            arguments: t.parameters.map(|v| v.to_string()).unwrap_or_else(|| "{}".to_owned()),
            ..Default::default()
        });
    }
}

/// One stream event. `delta` differs by `type`, so its parts are read as the type says.
#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<String>,
    index: Option<u64>,
    delta: Option<EventDelta>,
}

#[derive(Deserialize)]
struct EventDelta {
    finish_reason: Option<String>,
    usage: Option<Usage>,
    /// Its shape depends on the event: `content` and `tool_calls` are lists in
    /// `message-start` and single objects in the deltas, so it is read by the event's type.
    message: Option<serde_json::Value>,
}

#[derive(Debug, Default)]
pub(crate) struct StreamState {
    tools: OpenTools,
}

impl StreamState {
    pub(crate) fn handle_frame(&mut self, api: Api, frame: Frame<'_>, call: &mut LlmCall) -> Result<FrameFacts, ExtractError> {
        let data = match frame {
            Frame::Sse { data, .. } | Frame::Json(data) => data,
            Frame::EventStream { .. } => return Ok(FrameFacts::default()),
        };
        let data = data.trim_ascii();
        if data.is_empty() || data == b"[DONE]" {
            return Ok(FrameFacts::default());
        }
        if api == Api::CohereChatV1 {
            return handle_v1_line(data, call);
        }
        let e: Event = serde_json::from_slice(data).map_err(|_| ExtractError::malformed("stream event is not JSON"))?;
        let mut content = false;
        let null = serde_json::Value::Null;
        let message = e.delta.as_ref().and_then(|d| d.message.as_ref()).unwrap_or(&null);
        let non_empty = |v: &serde_json::Value| v.as_str().is_some_and(|s| !s.is_empty());
        match e.kind.as_deref().unwrap_or("") {
            "message-start" if call.response_id.is_none() => {
                call.response_id = e.id.filter(|s| !s.is_empty());
            }
            "content-delta" => {
                let c = &message["content"];
                content = non_empty(&c["text"]) || non_empty(&c["thinking"]);
            }
            "tool-plan-delta" => {
                content = non_empty(&message["tool_plan"]);
            }
            "tool-call-start" | "tool-call-delta" => {
                content = true;
                let t = &message["tool_calls"];
                self.tools.delta(e.index, t["id"].as_str(), t["function"]["name"].as_str(), t["function"]["arguments"].as_str());
            }
            "message-end" => {
                call.stream_complete = true;
                if let Some(d) = &e.delta {
                    if let Some(r) = &d.finish_reason {
                        call.finish_reasons = vec![r.clone()];
                    }
                    if let Some(u) = &d.usage {
                        u.apply(call);
                    }
                }
            }
            _ => {}
        }
        Ok(FrameFacts { content })
    }

    pub(crate) fn handle_json(&mut self, api: Api, body: &[u8], call: &mut LlmCall) -> Result<(), ExtractError> {
        if api != Api::CohereChat {
            let r: ResponseV1 = serde_json::from_slice(body).map_err(|_| ExtractError::malformed("response is not JSON"))?;
            r.apply(call);
            return Ok(());
        }
        let r: Response = serde_json::from_slice(body).map_err(|_| ExtractError::malformed("response is not JSON"))?;
        if let Some(id) = r.id.filter(|s| !s.is_empty()) {
            call.response_id = Some(id);
        }
        if let Some(u) = &r.usage {
            u.apply(call);
        }
        match (r.finish_reason, r.message) {
            (Some(reason), message) => {
                call.finish_reasons = vec![reason];
                if let Some(m) = message.and_then(|m| serde_json::from_value::<ResponseMessage>(m).ok()) {
                    for t in m.tool_calls {
                        let f = t.function;
                        call.tool_calls.push(ToolCall {
                            id: t.id.unwrap_or_default(),
                            name: f.as_ref().and_then(|f| f.name.clone()).unwrap_or_default(),
                            arguments: f.and_then(|f| f.arguments).unwrap_or_default(),
                            ..Default::default()
                        });
                    }
                }
            }
            // an error body: a message string and no finish reason
            (None, Some(serde_json::Value::String(_))) => {
                call.error_type.get_or_insert_with(|| "error".to_owned());
            }
            (None, _) => {}
        }
        Ok(())
    }

    pub(crate) fn finish(&mut self, call: &mut LlmCall) {
        self.tools.finish(call);
    }

    pub(crate) fn state_bytes(&self) -> usize {
        self.tools.state_bytes()
    }
}

/// One line of a v1 stream: text, whole tool calls, and at the end the whole response.
fn handle_v1_line(data: &[u8], call: &mut LlmCall) -> Result<FrameFacts, ExtractError> {
    let e: EventV1 = serde_json::from_slice(data).map_err(|_| ExtractError::malformed("stream event is not JSON"))?;
    let mut content = false;
    match e.event_type.as_deref().unwrap_or("") {
        "stream-start" => {
            if let Some(id) = e.generation_id.filter(|s| !s.is_empty()) {
                call.response_id.get_or_insert(id);
            }
        }
        "text-generation" => content = e.text.is_some_and(|t| !t.is_empty()),
        // the calls arrive whole here; `tool-calls-chunk` events before it are their pieces
        "tool-calls-generation" => {
            content = true;
            push_v1_tool_calls(e.tool_calls, call);
        }
        "tool-calls-chunk" => content = true,
        "stream-end" => {
            call.stream_complete = true;
            if let Some(mut r) = e.response {
                // the calls came with `tool-calls-generation`; do not count them twice
                r.tool_calls.clear();
                r.apply(call);
            }
            if let Some(reason) = e.finish_reason {
                call.finish_reasons = vec![reason];
            }
        }
        _ => {}
    }
    Ok(FrameFacts { content })
}
