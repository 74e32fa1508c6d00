//! Anthropic: the Messages API (plain and streamed) and the legacy Text Completions API.
//!
//! Also read by Bedrock's InvokeModel for Claude models, whose bodies are Messages bodies
//! (see `bedrock`). Per the conventions, `gen_ai.usage.input_tokens` includes cache reads and
//! cache writes, which Anthropic reports apart from `input_tokens`.

use super::open_tools::OpenTools;
use super::{Api, Detected, ExtractError, FrameFacts, LlmCall, Operation, Provider, ToolCall};
use crate::framing::Frame;
use serde::Deserialize;


pub(crate) fn detect(host: &str, path: &str) -> Option<Detected> {
    let p = path.split('?').next().unwrap_or(path).trim_end_matches('/');
    if let Some(d) = detect_vertex(p) {
        return Some(d);
    }
    let anthropic_host = host == "api.anthropic.com";
    let api = if p.ends_with("/v1/messages") && (anthropic_host || p == "/v1/messages" || p.ends_with("/anthropic/v1/messages")) {
        Api::AnthropicMessages
    } else if p == "/v1/complete" && anthropic_host {
        Api::AnthropicComplete
    } else {
        return None;
    };
    let operation = if api == Api::AnthropicComplete { Operation::TextCompletion } else { Operation::Chat };
    Some(Detected { provider: Provider::Anthropic, api, operation, path_model: None, path_stream: false })
}

/// Claude on Vertex AI: `.../publishers/anthropic/models/{model}:rawPredict` (or
/// `:streamRawPredict`) with Messages bodies; the model is in the path, not the body.
fn detect_vertex(p: &str) -> Option<Detected> {
    let (before, method) = p.rsplit_once(':')?;
    let path_stream = match method {
        "rawPredict" => false,
        "streamRawPredict" => true,
        _ => return None,
    };
    let (_, model) = before.split_once("/publishers/anthropic/models/")?;
    if model.is_empty() || model.contains('/') {
        return None;
    }
    Some(Detected {
        provider: Provider::VertexAi,
        api: Api::AnthropicMessages,
        operation: Operation::Chat,
        path_model: Some(model.to_owned()),
        path_stream,
    })
}

#[derive(Deserialize)]
struct Request {
    model: Option<String>,
    max_tokens: Option<i64>,
    max_tokens_to_sample: Option<i64>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    top_k: Option<f64>,
    #[serde(default)]
    stop_sequences: Vec<String>,
    stream: Option<bool>,
    #[serde(default)]
    messages: Vec<Message>,
}

#[derive(Deserialize)]
struct Message {
    role: Option<String>,
    content: Option<serde_json::Value>,
}

pub(crate) fn handle_request(_api: Api, body: &[u8], call: &mut LlmCall) -> Result<(), ExtractError> {
    let r: Request = serde_json::from_slice(body).map_err(|_| ExtractError::malformed("request is not JSON"))?;
    read_request(r, call);
    Ok(())
}

fn read_request(r: Request, call: &mut LlmCall) {
    if r.model.is_some() {
        call.request_model = r.model;
    }
    let p = &mut call.params;
    p.max_tokens = r.max_tokens.or(r.max_tokens_to_sample);
    p.temperature = r.temperature;
    p.top_p = r.top_p;
    p.top_k = r.top_k;
    p.stop_sequences = r.stop_sequences;
    p.stream = r.stream;
    call.last_message_is_tool_result = r.messages.last().is_some_and(|m| {
        m.role.as_deref() == Some("user")
            && m.content.as_ref().and_then(|c| c.as_array()).is_some_and(|blocks| {
                blocks.iter().any(|b| b["type"].as_str() == Some("tool_result"))
            })
    });
}

#[derive(Deserialize, Default, Clone, Copy)]
pub(crate) struct Usage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
}

impl Usage {
    /// Anthropic's fields are each cumulative: a later report replaces an earlier one.
    fn merge_into(&self, acc: &mut Usage) {
        acc.input_tokens = self.input_tokens.or(acc.input_tokens);
        acc.output_tokens = self.output_tokens.or(acc.output_tokens);
        acc.cache_read_input_tokens = self.cache_read_input_tokens.or(acc.cache_read_input_tokens);
        acc.cache_creation_input_tokens = self.cache_creation_input_tokens.or(acc.cache_creation_input_tokens);
    }

    fn apply(&self, call: &mut LlmCall) {
        let u = &mut call.usage;
        if let Some(input) = self.input_tokens {
            u.input = Some(input + self.cache_read_input_tokens.unwrap_or(0) + self.cache_creation_input_tokens.unwrap_or(0));
        }
        u.output = self.output_tokens.or(u.output);
        u.cache_read = self.cache_read_input_tokens.or(u.cache_read);
        u.cache_write = self.cache_creation_input_tokens.or(u.cache_write);
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct Block {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<String>,
    name: Option<String>,
    input: Option<serde_json::Value>,
}

/// A whole Messages response, a legacy completion, or an error.
#[derive(Deserialize)]
struct Response {
    id: Option<String>,
    model: Option<String>,
    stop_reason: Option<String>,
    usage: Option<Usage>,
    #[serde(default)]
    content: Option<Vec<Block>>,
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(rename = "type")]
    kind: Option<&'a str>,
    #[serde(borrow)]
    text: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    thinking: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    partial_json: Option<std::borrow::Cow<'a, str>>,
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: Option<&'a str>,
    message: Option<Response>,
    index: Option<usize>,
    content_block: Option<Block>,
    #[serde(borrow)]
    delta: Option<Delta<'a>>,
    usage: Option<Usage>,
    error: Option<ErrorBody>,
    /// Bedrock's InvokeModelWithResponseStream appends this to the last event.
    #[serde(rename = "amazon-bedrock-invocationMetrics")]
    bedrock_metrics: Option<BedrockMetrics>,
}

#[derive(Deserialize)]
struct BedrockMetrics {
    #[serde(rename = "inputTokenCount")]
    input: Option<u64>,
    #[serde(rename = "outputTokenCount")]
    output: Option<u64>,
}

#[derive(Default)]
pub(crate) struct StreamState {
    usage: Usage,
    tools: OpenTools,
}

impl std::fmt::Debug for StreamState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamState").field("tools", &self.tools).finish()
    }
}

impl StreamState {
    pub(crate) fn handle_frame(&mut self, _api: Api, frame: Frame<'_>, call: &mut LlmCall) -> Result<FrameFacts, ExtractError> {
        let data = match frame {
            Frame::Sse { data, .. } | Frame::Json(data) => data,
            Frame::EventStream { payload, .. } => payload,
        };
        self.handle_event_json(data, call)
    }

    /// One Messages stream event as JSON (also what Bedrock wraps in its event stream).
    pub(crate) fn handle_event_json(&mut self, data: &[u8], call: &mut LlmCall) -> Result<FrameFacts, ExtractError> {
        let data = data.trim_ascii();
        if data.is_empty() {
            return Ok(FrameFacts::default());
        }
        let e: Event<'_> = serde_json::from_slice(data).map_err(|_| ExtractError::malformed("stream event is not JSON"))?;
        let mut content = false;
        match e.kind.unwrap_or("") {
            "message_start" => {
                if let Some(m) = e.message {
                    call.response_id = m.id.or(call.response_id.take());
                    call.response_model = m.model.or(call.response_model.take());
                    if let Some(u) = m.usage {
                        u.merge_into(&mut self.usage);
                    }
                }
            }
            "content_block_start" => {
                if let Some(b) = e.content_block {
                    if b.kind.as_deref() == Some("tool_use") {
                        content = true;
                        self.tools.open(e.index.map(|i| i as u64), b.id, b.name);
                    }
                }
            }
            "content_block_delta" => {
                if let Some(d) = e.delta {
                    let non_empty = |s: &Option<std::borrow::Cow<'_, str>>| s.as_deref().is_some_and(|s| !s.is_empty());
                    content = non_empty(&d.text) || non_empty(&d.thinking) || non_empty(&d.partial_json);
                    if let (Some("input_json_delta"), Some(part)) = (d.kind, d.partial_json.as_deref()) {
                        self.tools.append(e.index.map(|i| i as u64), part);
                    }
                }
            }
            "message_delta" => {
                if let Some(r) = e.delta.and_then(|d| d.stop_reason) {
                    call.finish_reasons = vec![r];
                }
                if let Some(u) = e.usage {
                    u.merge_into(&mut self.usage);
                }
            }
            "message_stop" => call.stream_complete = true,
            "error" => call.error_type = e.error.and_then(|er| er.kind).or(Some("error".to_owned())),
            _ => {}
        }
        if let Some(m) = e.bedrock_metrics {
            // the invocation metrics are the final word on a Bedrock stream
            self.usage.input_tokens = m.input.or(self.usage.input_tokens);
            self.usage.output_tokens = m.output.or(self.usage.output_tokens);
        }
        self.usage.apply(call);
        Ok(FrameFacts { content })
    }

    pub(crate) fn handle_json(&mut self, _api: Api, body: &[u8], call: &mut LlmCall) -> Result<(), ExtractError> {
        read_response_json(body, call)
    }

    pub(crate) fn finish(&mut self, call: &mut LlmCall) {
        self.tools.finish(call);
    }

    pub(crate) fn state_bytes(&self) -> usize {
        self.tools.state_bytes()
    }
}

/// Reads a whole Messages (or legacy completion, or error) response body.
pub(crate) fn read_response_json(body: &[u8], call: &mut LlmCall) -> Result<(), ExtractError> {
    let r: Response = serde_json::from_slice(body).map_err(|_| ExtractError::malformed("response is not JSON"))?;
    if let Some(e) = r.error {
        call.error_type = e.kind.or(Some("error".to_owned()));
    }
    call.response_id = r.id.or(call.response_id.take());
    call.response_model = r.model.or(call.response_model.take());
    if let Some(reason) = r.stop_reason {
        call.finish_reasons = vec![reason];
    }
    if let Some(u) = r.usage {
        u.apply(call);
    }
    for b in r.content.into_iter().flatten() {
        if b.kind.as_deref() == Some("tool_use") {
            call.tool_calls.push(ToolCall {
                id: b.id.unwrap_or_default(),
                name: b.name.unwrap_or_default(),
                arguments: b.input.map(|v| v.to_string()).unwrap_or_else(|| "{}".to_owned()),
                ..Default::default()
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;
    use super::super::*;
    use super::{read_response_json, StreamState};

    const PLAIN: &[&str] = &[
        "anthropic/messages_basic", "anthropic/messages_cache_read", "anthropic/messages_cache_write",
        "anthropic/messages_image_input", "anthropic/messages_thinking", "anthropic/messages_tool_result_history",
        "anthropic/messages_tool_use",
    ];
    const STREAMED: &[&str] = &[
        "anthropic/messages_multiple_tool_use_stream", "anthropic/messages_stream", "anthropic/messages_stream_cache_read",
        "anthropic/messages_stream_cache_write", "anthropic/messages_thinking_stream", "anthropic/messages_tool_use_stream",
    ];

    #[test]
    fn every_fixture_matches_with_cache_tokens_in_the_input() {
        for name in PLAIN {
            let fx = Fixture::load(name);
            let (d, call) = fx.run(&[]);
            assert_eq!((d.provider, d.operation), (Provider::Anthropic, Operation::Chat), "{name}");
            fx.assert_expected(&call, true);
        }
        for name in STREAMED {
            let fx = Fixture::load(name);
            let (_, call) = fx.run_all_splits();
            fx.assert_expected(&call, true);
            assert!(call.stream_complete, "{name}");
        }
        let (_, call) = Fixture::load("anthropic/messages_cache_read").run(&[]);
        assert_eq!((call.usage.input, call.usage.cache_read, call.usage.cache_write), (Some(1167), Some(1163), Some(0)));
    }

    #[test]
    fn the_legacy_completion_api_is_detected() {
        let fx = Fixture::load("anthropic/complete_legacy");
        let (d, call) = fx.run(&[]);
        assert_eq!((d.api, d.operation), (Api::AnthropicComplete, Operation::TextCompletion));
        assert_eq!(call.request_model.as_deref(), Some("claude-instant-1.2"));
    }

    #[test]
    fn streamed_tool_use_arguments_are_reassembled() {
        let (_, call) = Fixture::load("anthropic/messages_multiple_tool_use_stream").run(&[]);
        assert_eq!(call.tool_calls.len(), 2);
        for t in &call.tool_calls {
            assert!(t.id.starts_with("toolu_"), "{}", t.id);
            let v: serde_json::Value = serde_json::from_str(&t.arguments).unwrap();
            assert!(v.as_object().is_some_and(|o| !o.is_empty()), "{}", t.arguments);
        }
        let (_, call) = Fixture::load("anthropic/messages_tool_result_history").run(&[]);
        assert!(call.last_message_is_tool_result);
    }

    #[test]
    fn errors_name_their_type() {
        let mut call = LlmCall::default();
        read_response_json(br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#, &mut call).unwrap();
        assert_eq!(call.error_type.as_deref(), Some("overloaded_error"));
        let mut s = StreamState::default();
        let mut call = LlmCall::default();
        s.handle_event_json(br#"{"type":"error","error":{"type":"rate_limit_error"}}"#, &mut call).unwrap();
        assert_eq!(call.error_type.as_deref(), Some("rate_limit_error"));
        assert!(s.handle_event_json(b"{nope", &mut call).is_err());
    }
}
