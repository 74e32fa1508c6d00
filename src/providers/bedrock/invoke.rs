//! Bedrock's InvokeModel bodies of the model families with their own shapes: Titan, Llama,
//! Mistral, DeepSeek, Cohere and AI21, whole or as one stream chunk, and the stream's `chunk`
//! event that carries any family's event base64-encoded.
//!
//! This module owns telling those bodies apart by their keys and reading them into an
//! [`LlmCall`]. Claude's bodies are Anthropic's (read by `providers::anthropic`), Nova's are
//! Converse's (read by `converse`); detection and request bodies stay in the parent module.

use super::{base64_decode, StreamState};
use crate::providers::{cohere, ExtractError, FrameFacts, LlmCall};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TitanResult {
    token_count: Option<u64>,
    completion_reason: Option<String>,
}

/// Titan and Llama InvokeModel responses, and their stream chunks.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TextResponse {
    // Titan
    input_text_token_count: Option<u64>,
    #[serde(default)]
    results: Vec<TitanResult>,
    total_output_text_token_count: Option<u64>,
    completion_reason: Option<String>,
    #[serde(rename = "outputText")]
    output_text: Option<String>,
    // Llama
    #[serde(rename = "prompt_token_count")]
    prompt_token_count: Option<u64>,
    #[serde(rename = "generation_token_count")]
    generation_token_count: Option<u64>,
    #[serde(rename = "stop_reason")]
    stop_reason: Option<String>,
    generation: Option<String>,
    #[serde(rename = "amazon-bedrock-invocationMetrics")]
    metrics: Option<InvocationMetrics>,
}

#[derive(Deserialize)]
struct InvocationMetrics {
    #[serde(rename = "inputTokenCount")]
    input: Option<u64>,
    #[serde(rename = "outputTokenCount")]
    output: Option<u64>,
}

/// InvokeModel bodies of Mistral, DeepSeek, Cohere and AI21 (whole, or one stream chunk).
/// Only some of them count tokens in the body; the others rely on the token-count headers
/// (whole bodies) or the last chunk's invocation metrics (streams).
#[derive(Deserialize, Default)]
pub(super) struct FamilyBody {
    /// Mistral 7B, Mixtral, Large 24.02: `{"outputs": [{"text", "stop_reason"}]}`.
    #[serde(default)]
    outputs: Vec<FamilyChoice>,
    /// DeepSeek-R1 (`text`), Mistral Large 24.07 and Jamba (`message`, `delta`).
    #[serde(default)]
    choices: Vec<FamilyChoice>,
    /// Jamba and Mistral Large 24.07 (OpenAI-shaped).
    usage: Option<OpenAiUsage>,
    model: Option<String>,
    id: Option<serde_json::Value>,
    // Cohere Command R: the whole body, and the stream's `stream-end` event
    response_id: Option<String>,
    text: Option<String>,
    finish_reason: Option<String>,
    #[serde(default)]
    tool_calls: Vec<cohere::ToolCallV1>,
    event_type: Option<String>,
    // Cohere Command (legacy): `{"generations": [{"text", "finish_reason"}]}`
    #[serde(default)]
    generations: Vec<FamilyChoice>,
    // AI21 Jurassic-2: the tokens are lists, one entry a token. (Cohere Command echoes its
    // prompt here as a string.)
    prompt: Option<serde_json::Value>,
    #[serde(default)]
    completions: Vec<J2Completion>,
    #[serde(rename = "amazon-bedrock-invocationMetrics")]
    metrics: Option<InvocationMetrics>,
}

#[derive(Deserialize, Default)]
struct FamilyChoice {
    index: Option<u64>,
    text: Option<String>,
    message: Option<serde_json::Value>,
    delta: Option<serde_json::Value>,
    finish_reason: Option<String>,
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
struct OpenAiUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct J2Completion {
    data: Option<J2Data>,
    #[serde(rename = "finishReason")]
    finish_reason: Option<J2Reason>,
}

#[derive(Deserialize)]
struct J2Data {
    text: Option<String>,
    #[serde(default)]
    tokens: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct J2Reason {
    reason: Option<String>,
}

/// The keys that tell a [`FamilyBody`] from Titan's, Llama's, Nova's and Claude's.
pub(super) fn is_family_body(v: &serde_json::Value) -> bool {
    ["outputs", "choices", "generations", "completions", "response_id", "event_type", "is_finished"]
        .iter()
        .any(|k| v.get(k).is_some())
}

/// Reads a [`FamilyBody`]. Returns whether it carried generated text.
pub(super) fn apply_family(r: FamilyBody, call: &mut LlmCall, stream: bool) -> bool {
    if let Some(m) = r.model.filter(|m| !m.is_empty()) {
        call.response_model.get_or_insert(m);
    }
    let id = r.response_id.or(r.id.and_then(|v| v.as_str().map(str::to_owned)));
    if let Some(id) = id.filter(|s| !s.is_empty()) {
        call.response_id.get_or_insert(id);
    }
    if let Some(u) = &r.usage {
        call.usage.input = u.prompt_tokens.or(call.usage.input);
        call.usage.output = u.completion_tokens.or(call.usage.output);
    }
    if let Some(tokens) = r.prompt.as_ref().and_then(|p| p["tokens"].as_array()) {
        call.usage.input = Some(tokens.len() as u64);
    }
    if !r.completions.is_empty() {
        let out: usize = r.completions.iter().filter_map(|c| c.data.as_ref()).map(|d| d.tokens.len()).sum();
        call.usage.output = Some(out as u64);
    }
    if let Some(m) = r.metrics {
        call.usage.input = m.input.or(call.usage.input);
        call.usage.output = m.output.or(call.usage.output);
        call.stream_complete = true;
    }
    let non_empty = |t: &Option<String>| t.as_deref().is_some_and(|t| !t.is_empty());
    let mut content = non_empty(&r.text) && r.event_type.as_deref() != Some("stream-end");
    // finish reasons, by choice index; a stream's chunks say them once, at the end
    let mut reasons: Vec<(u64, String)> = Vec::new();
    let lists = [r.outputs, r.choices, r.generations];
    for list in lists {
        for (pos, c) in list.into_iter().enumerate() {
            content |= non_empty(&c.text)
                || c.delta.as_ref().is_some_and(|d| d["content"].as_str().is_some_and(|t| !t.is_empty()))
                || (stream && c.message.as_ref().is_some_and(|m| m["content"].as_str().is_some_and(|t| !t.is_empty())));
            if let Some(reason) = c.finish_reason.or(c.stop_reason) {
                reasons.push((c.index.unwrap_or(pos as u64), reason));
            }
        }
    }
    for c in &r.completions {
        content |= c.data.as_ref().is_some_and(|d| non_empty(&d.text));
        if let Some(reason) = c.finish_reason.as_ref().and_then(|f| f.reason.clone()) {
            reasons.push((reasons.len() as u64, reason));
        }
    }
    if let Some(reason) = r.finish_reason {
        reasons.push((0, reason));
    }
    if !reasons.is_empty() {
        reasons.sort_by_key(|(i, _)| *i);
        call.finish_reasons = reasons.into_iter().map(|(_, r)| r).collect();
    }
    // Bedrock serves Cohere's own v1 chat body: its tool calls read as Cohere's
    cohere::push_v1_tool_calls(r.tool_calls, call);
    content
}

/// Reads a Titan or Llama body (whole, or one stream chunk). Returns whether it had text.
pub(super) fn apply_text(r: TextResponse, call: &mut LlmCall) -> bool {
    let u = &mut call.usage;
    u.input = r.input_text_token_count.or(r.prompt_token_count).or(u.input);
    let titan_out = if r.results.is_empty() { None } else { Some(r.results.iter().filter_map(|x| x.token_count).sum()) };
    u.output = titan_out.or(r.total_output_text_token_count).or(r.generation_token_count).or(u.output);
    if let Some(m) = r.metrics {
        u.input = m.input.or(u.input);
        u.output = m.output.or(u.output);
        call.stream_complete = true;
    }
    let reasons: Vec<String> = r.results.into_iter().filter_map(|x| x.completion_reason).collect();
    if !reasons.is_empty() {
        call.finish_reasons = reasons;
    } else if let Some(reason) = r.completion_reason.or(r.stop_reason) {
        call.finish_reasons = vec![reason];
    }
    r.output_text.is_some_and(|t| !t.is_empty()) || r.generation.is_some_and(|t| !t.is_empty())
}

impl StreamState {
    /// One `chunk` of InvokeModelWithResponseStream: `{"bytes": base64(model event)}`.
    pub(super) fn invoke_chunk(&mut self, payload: &[u8], call: &mut LlmCall) -> Result<FrameFacts, ExtractError> {
        #[derive(Deserialize)]
        struct Chunk {
            bytes: Option<String>,
        }
        let c: Chunk = serde_json::from_slice(payload).map_err(|_| ExtractError::malformed("chunk is not JSON"))?;
        let Some(b64) = c.bytes else { return Ok(FrameFacts::default()) };
        let inner = base64_decode(&b64).ok_or(ExtractError::malformed("chunk bytes are not base64"))?;
        let v: serde_json::Value = serde_json::from_slice(&inner).map_err(|_| ExtractError::malformed("chunk is not JSON"))?;
        if v.get("type").is_some() {
            // Anthropic Messages events
            return self.anthropic.get_or_insert_with(Default::default).handle_event_json(&inner, call);
        }
        if let Some((name, body)) = v.as_object().and_then(|o| {
            o.iter().find(|(k, _)| matches!(k.as_str(), "messageStart" | "contentBlockStart" | "contentBlockDelta" | "contentBlockStop" | "messageStop" | "metadata"))
        }) {
            // Nova: the Converse events, keyed by name
            let name = name.clone();
            let body = serde_json::to_vec(body).map_err(|_| ExtractError::malformed("chunk is not JSON"))?;
            let facts = self.converse_event(&name, &body, call)?;
            if let Some(m) = v.get("amazon-bedrock-invocationMetrics") {
                call.usage.input = m["inputTokenCount"].as_u64().or(call.usage.input);
                call.usage.output = m["outputTokenCount"].as_u64().or(call.usage.output);
                call.stream_complete = true;
            }
            return Ok(facts);
        }
        if is_family_body(&v) {
            let r: FamilyBody = serde_json::from_value(v).map_err(|_| ExtractError::malformed("chunk is not a known model event"))?;
            return Ok(FrameFacts { content: apply_family(r, call, true) });
        }
        let t: TextResponse = serde_json::from_value(v).map_err(|_| ExtractError::malformed("chunk is not a known model event"))?;
        Ok(FrameFacts { content: apply_text(t, call) })
    }
}
