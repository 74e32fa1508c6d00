//! Cohere's v2 Chat API (`POST /v2/chat`), plain and streamed.
//!
//! Owns Cohere's own wire shapes: a request with `p`/`k` for top-p/top-k, a response whose
//! `finish_reason` sits at the top level, and a stream of typed SSE events (`message-start`,
//! `content-delta`, `tool-call-start`/`-delta`, `message-end`). It does not read Cohere's
//! OpenAI-compatible endpoint (`/compatibility/v1/chat/completions`), which `openai` reads.
//!
//! Usage comes twice: `usage.billed_units` (what Cohere bills) and `usage.tokens` (what the
//! model read and wrote, including the preamble Cohere adds). We report the billed units, so
//! that tokens times the list price is the bill, and fall back to `tokens` when a body has no
//! billed units. Responses do not name the model.

use super::{Api, Detected, ExtractError, FrameFacts, LlmCall, Operation, Provider, ToolCall};
use crate::framing::Frame;
use serde::Deserialize;

const MAX_ARGUMENT_BYTES: usize = 64 * 1024;

pub(crate) fn detect(host: &str, path: &str) -> Option<Detected> {
    let p = path.split('?').next().unwrap_or(path).trim_end_matches('/');
    let cohere_host = host == "api.cohere.com" || host == "api.cohere.ai";
    if p != "/v2/chat" && !(cohere_host && p.ends_with("/v2/chat")) {
        return None;
    }
    Some(Detected {
        provider: Provider::Cohere,
        api: Api::CohereChat,
        operation: Operation::Chat,
        path_model: None,
        path_stream: false,
    })
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
}

#[derive(Deserialize)]
struct Message {
    role: Option<String>,
}

pub(crate) fn handle_request(_api: Api, body: &[u8], call: &mut LlmCall) -> Result<(), ExtractError> {
    let r: Request = serde_json::from_slice(body).map_err(|_| ExtractError::Malformed("request is not JSON"))?;
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
    call.last_message_is_tool_result = r.messages.last().and_then(|m| m.role.as_deref()) == Some("tool");
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
struct OpenTool {
    index: u64,
    id: String,
    name: String,
    arguments: String,
}

#[derive(Debug, Default)]
pub(crate) struct StreamState {
    tools: Vec<OpenTool>,
}

impl StreamState {
    pub(crate) fn handle_frame(&mut self, _api: Api, frame: Frame<'_>, call: &mut LlmCall) -> Result<FrameFacts, ExtractError> {
        let data = match frame {
            Frame::Sse { data, .. } | Frame::Json(data) => data,
            Frame::EventStream { .. } => return Ok(FrameFacts::default()),
        };
        let data = data.trim_ascii();
        if data.is_empty() || data == b"[DONE]" {
            return Ok(FrameFacts::default());
        }
        let e: Event = serde_json::from_slice(data).map_err(|_| ExtractError::Malformed("stream event is not JSON"))?;
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
                let index = e.index.unwrap_or(self.tools.len() as u64);
                let t = &message["tool_calls"];
                self.tool_delta(index, t["id"].as_str(), t["function"]["name"].as_str(), t["function"]["arguments"].as_str());
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

    fn tool_delta(&mut self, index: u64, id: Option<&str>, name: Option<&str>, arguments: Option<&str>) {
        let slot = match self.tools.iter().position(|o| o.index == index) {
            Some(i) => &mut self.tools[i],
            None => {
                self.tools.push(OpenTool { index, ..Default::default() });
                let last = self.tools.len() - 1;
                &mut self.tools[last]
            }
        };
        if let Some(id) = id.filter(|s| !s.is_empty()) {
            slot.id = id.to_owned();
        }
        if let Some(name) = name.filter(|s| !s.is_empty()) {
            slot.name = name.to_owned();
        }
        if let Some(a) = arguments {
            if slot.arguments.len() + a.len() <= MAX_ARGUMENT_BYTES {
                slot.arguments.push_str(a);
            }
        }
    }

    pub(crate) fn handle_json(&mut self, _api: Api, body: &[u8], call: &mut LlmCall) -> Result<(), ExtractError> {
        let r: Response = serde_json::from_slice(body).map_err(|_| ExtractError::Malformed("response is not JSON"))?;
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
        self.tools.sort_by_key(|t| t.index);
        for t in self.tools.drain(..) {
            call.tool_calls.push(ToolCall { id: t.id, name: t.name, arguments: t.arguments, ..Default::default() });
        }
    }

    pub(crate) fn state_bytes(&self) -> usize {
        self.tools.iter().map(|t| t.id.capacity() + t.name.capacity() + t.arguments.capacity()).sum::<usize>()
            + self.tools.capacity() * std::mem::size_of::<OpenTool>()
    }
}
