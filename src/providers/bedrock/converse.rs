//! Bedrock's Converse API: the ConverseResponse body (also Nova's InvokeModel body, which has
//! the same shape) and the ConverseStream events (also Nova's invoke stream, keyed by name).
//!
//! This module owns reading those shapes into an [`LlmCall`]. It does not detect the API or
//! unwrap the AWS event stream (the parent module and `framing` do), and it does not read the
//! other model families' InvokeModel bodies (`invoke`).

use super::StreamState;
use crate::providers::{ExtractError, FrameFacts, LlmCall, ToolCall};
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ConverseUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_write_input_tokens: Option<u64>,
    cache_read_input_token_count: Option<u64>,
    cache_write_input_token_count: Option<u64>,
}

impl ConverseUsage {
    fn apply(&self, call: &mut LlmCall) {
        let cr = self.cache_read_input_tokens.or(self.cache_read_input_token_count);
        let cw = self.cache_write_input_tokens.or(self.cache_write_input_token_count);
        if let Some(i) = self.input_tokens {
            call.usage.input = Some(i + cr.unwrap_or(0) + cw.unwrap_or(0));
        }
        call.usage.output = self.output_tokens.or(call.usage.output);
        call.usage.cache_read = cr.or(call.usage.cache_read);
        call.usage.cache_write = cw.or(call.usage.cache_write);
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolUse {
    tool_use_id: Option<String>,
    name: Option<String>,
    input: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContentBlock {
    tool_use: Option<ToolUse>,
}

#[derive(Deserialize)]
struct OutputMessage {
    #[serde(default)]
    content: Vec<ContentBlock>,
}

#[derive(Deserialize)]
struct Output {
    message: Option<OutputMessage>,
}

/// A Converse response, or a Nova InvokeModel response (same shape).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ConverseResponse {
    output: Option<Output>,
    stop_reason: Option<String>,
    usage: Option<ConverseUsage>,
}

pub(super) fn apply_converse(r: ConverseResponse, call: &mut LlmCall) {
    if let Some(reason) = r.stop_reason {
        call.finish_reasons = vec![reason];
    }
    if let Some(u) = r.usage {
        u.apply(call);
    }
    for b in r.output.and_then(|o| o.message).map(|m| m.content).unwrap_or_default() {
        if let Some(t) = b.tool_use {
            call.tool_calls.push(ToolCall {
                id: t.tool_use_id.unwrap_or_default(),
                name: t.name.unwrap_or_default(),
                arguments: t.input.map(|v| v.to_string()).unwrap_or_else(|| "{}".to_owned()),
                ..Default::default()
            });
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConverseEvent {
    content_block_index: Option<u64>,
    start: Option<BlockStart>,
    delta: Option<BlockDelta>,
    stop_reason: Option<String>,
    usage: Option<ConverseUsage>,
    message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockStart {
    tool_use: Option<ToolUse>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockDelta {
    text: Option<String>,
    tool_use: Option<ToolUseDelta>,
    reasoning_content: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct ToolUseDelta {
    input: Option<String>,
}

impl StreamState {
    /// A ConverseStream event (also Nova's invoke stream, whose chunks are keyed by event name).
    pub(super) fn converse_event(&mut self, event_type: &str, payload: &[u8], call: &mut LlmCall) -> Result<FrameFacts, ExtractError> {
        let e: ConverseEvent = serde_json::from_slice(payload).map_err(|_| ExtractError::malformed("stream event is not JSON"))?;
        let mut content = false;
        match event_type {
            "contentBlockStart" => {
                if let Some(t) = e.start.and_then(|s| s.tool_use) {
                    content = true;
                    self.tools.open(e.content_block_index, t.tool_use_id, t.name);
                }
            }
            "contentBlockDelta" => {
                if let Some(d) = e.delta {
                    content = d.text.as_deref().is_some_and(|t| !t.is_empty()) || d.reasoning_content.is_some();
                    if let Some(part) = d.tool_use.and_then(|t| t.input) {
                        content = true;
                        self.tools.append(e.content_block_index, &part);
                    }
                }
            }
            "messageStop" => {
                if let Some(r) = e.stop_reason {
                    call.finish_reasons = vec![r];
                }
            }
            "metadata" => {
                if let Some(u) = e.usage {
                    u.apply(call);
                }
                call.stream_complete = true;
            }
            _ => {
                if e.message.is_some() && event_type.ends_with("Exception") {
                    call.error_type = Some(event_type.to_owned());
                }
            }
        }
        Ok(FrameFacts { content })
    }
}
