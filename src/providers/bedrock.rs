//! AWS Bedrock: Converse and ConverseStream, InvokeModel and InvokeModelWithResponseStream.
//!
//! The model id is URL-encoded in the path (`/model/{id}/{action}`), and may be the ARN of an
//! inference profile. Converse bodies have one shape for every model. InvokeModel bodies are the
//! model family's own: Anthropic Messages, Amazon Nova (Converse-like), Titan and Llama; the
//! reader tells them apart by their keys, not by the model id, so a new model id of a known
//! family needs nothing. Streams are AWS event streams whose `chunk` events carry the family's
//! own stream events, base64-encoded. Token counts also arrive in the
//! `x-amzn-bedrock-*-token-count` headers; the body wins where it has them.
//!
//! As for Anthropic, input tokens include cache reads and writes, which Bedrock reports apart.

use super::anthropic;
use super::{Api, Detected, ExtractError, FrameFacts, LlmCall, Operation, Provider, ToolCall};
use crate::framing::Frame;
use serde::Deserialize;

const MAX_ARGUMENT_BYTES: usize = 64 * 1024;

pub(crate) fn detect(host: &str, path: &str) -> Option<Detected> {
    let p = path.split('?').next().unwrap_or(path);
    let rest = p.strip_prefix("/model/")?;
    let (encoded, action) = rest.rsplit_once('/')?;
    let (api, stream) = match action {
        "converse" => (Api::BedrockConverse, false),
        "converse-stream" => (Api::BedrockConverse, true),
        "invoke" => (Api::BedrockInvoke, false),
        "invoke-with-response-stream" => (Api::BedrockInvoke, true),
        _ => return None,
    };
    // any host may front Bedrock (a VPC endpoint, a gateway): the path shape is specific enough
    let _ = host;
    let model = percent_decode(encoded);
    let operation = match (api, family_of_model(&model)) {
        (Api::BedrockInvoke, Family::Titan | Family::Llama | Family::PromptOnly) => Operation::TextCompletion,
        _ => Operation::Chat,
    };
    Some(Detected { provider: Provider::Bedrock, api, operation, path_model: Some(model), path_stream: stream })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (b.get(i + 1).and_then(|c| hex(*c)), b.get(i + 2).and_then(|c| hex(*c))) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Anthropic,
    Titan,
    Llama,
    /// InvokeModel bodies that take a bare `prompt` (Mistral 7B, Mixtral and Large 24.02,
    /// DeepSeek-R1, Cohere Command Text, AI21 Jurassic-2): text completions.
    PromptOnly,
    Other,
}

fn family_of_model(model: &str) -> Family {
    if model.contains("anthropic.") {
        Family::Anthropic
    } else if model.contains("amazon.titan") {
        Family::Titan
    } else if model.contains("meta.llama") {
        Family::Llama
    } else if ["mistral.mistral-7b", "mistral.mixtral", "mistral.mistral-large-2402", "mistral.mistral-small-2402", "deepseek.", "cohere.command-text", "cohere.command-light-text", "ai21.j2"]
        .iter()
        .any(|m| model.contains(m))
    {
        Family::PromptOnly
    } else {
        Family::Other
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct InferenceConfig {
    max_tokens: Option<i64>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    #[serde(default)]
    stop_sequences: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConverseRequest {
    inference_config: Option<InferenceConfig>,
    #[serde(default)]
    messages: Vec<ConverseMessage>,
}

#[derive(Deserialize)]
struct ConverseMessage {
    #[serde(default)]
    content: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TitanConfig {
    max_token_count: Option<i64>,
    temperature: Option<f64>,
    top_p: Option<f64>,
}

/// The keys of every InvokeModel request family we read. Most families write snake_case;
/// Titan, Nova and Jurassic-2 write camelCase, named one by one.
#[derive(Deserialize)]
struct InvokeRequest {
    // Anthropic
    max_tokens: Option<i64>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    top_k: Option<f64>,
    // Llama
    max_gen_len: Option<i64>,
    // Cohere
    p: Option<f64>,
    k: Option<f64>,
    seed: Option<i64>,
    #[serde(default)]
    stop_sequences: Vec<String>,
    // Mistral, DeepSeek and Jamba
    stop: Option<serde_json::Value>,
    n: Option<i64>,
    // AI21 Jurassic-2
    #[serde(rename = "maxTokens")]
    j2_max_tokens: Option<i64>,
    // Titan
    #[serde(rename = "textGenerationConfig")]
    text_generation_config: Option<TitanConfig>,
    // Nova
    #[serde(rename = "inferenceConfig")]
    inference_config: Option<InferenceConfig>,
}

pub(crate) fn handle_request(api: Api, body: &[u8], call: &mut LlmCall) -> Result<(), ExtractError> {
    let bad = || ExtractError::Malformed("request is not JSON");
    let p = &mut call.params;
    match api {
        Api::BedrockConverse => {
            let r: ConverseRequest = serde_json::from_slice(body).map_err(|_| bad())?;
            let c = r.inference_config.unwrap_or_default();
            p.max_tokens = c.max_tokens;
            p.temperature = c.temperature;
            p.top_p = c.top_p;
            p.stop_sequences = c.stop_sequences;
            call.last_message_is_tool_result = r
                .messages
                .last()
                .is_some_and(|m| m.content.iter().any(|b| b.get("toolResult").is_some()));
        }
        _ => {
            let r: InvokeRequest = serde_json::from_slice(body).map_err(|_| bad())?;
            let nova = r.inference_config.unwrap_or_default();
            let titan = r.text_generation_config;
            p.max_tokens = r
                .max_tokens
                .or(r.max_gen_len)
                .or(r.j2_max_tokens)
                .or(titan.as_ref().and_then(|t| t.max_token_count))
                .or(nova.max_tokens);
            p.temperature = r.temperature.or(titan.as_ref().and_then(|t| t.temperature)).or(nova.temperature);
            p.top_p = r.top_p.or(r.p).or(titan.as_ref().and_then(|t| t.top_p)).or(nova.top_p);
            p.top_k = r.top_k.or(r.k);
            p.seed = r.seed;
            p.choice_count = r.n.filter(|n| *n != 1);
            p.stop_sequences = match r.stop {
                Some(serde_json::Value::String(s)) => vec![s],
                Some(serde_json::Value::Array(a)) => a.into_iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
                _ => r.stop_sequences,
            };
            // Anthropic's body also says whether its last message is a tool result
            let mut probe = LlmCall::default();
            if anthropic::handle_request(Api::AnthropicMessages, body, &mut probe).is_ok() {
                call.last_message_is_tool_result = probe.last_message_is_tool_result;
            }
        }
    }
    Ok(())
}

pub(crate) fn handle_response_headers(_api: Api, headers: &[(&str, &str)], call: &mut LlmCall) {
    let get = |name: &str| headers.iter().find(|(k, _)| *k == name).and_then(|(_, v)| v.trim().parse::<u64>().ok());
    let input = get("x-amzn-bedrock-input-token-count");
    let cache_read = get("x-amzn-bedrock-cache-read-input-token-count");
    let cache_write = get("x-amzn-bedrock-cache-write-input-token-count");
    if let Some(i) = input {
        call.usage.input = Some(i + cache_read.unwrap_or(0) + cache_write.unwrap_or(0));
    }
    call.usage.output = get("x-amzn-bedrock-output-token-count").or(call.usage.output);
    call.usage.cache_read = cache_read.or(call.usage.cache_read);
    call.usage.cache_write = cache_write.or(call.usage.cache_write);
    if let Some((_, v)) = headers.iter().find(|(k, _)| *k == "x-amzn-errortype") {
        let kind = v.split(':').next().unwrap_or(v).trim();
        if !kind.is_empty() {
            call.error_type = Some(kind.to_owned());
        }
    }
}

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
struct ConverseResponse {
    output: Option<Output>,
    stop_reason: Option<String>,
    usage: Option<ConverseUsage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TitanResult {
    token_count: Option<u64>,
    completion_reason: Option<String>,
}

/// Titan and Llama InvokeModel responses, and their stream chunks.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TextResponse {
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
struct FamilyBody {
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
    tool_calls: Vec<CohereToolCall>,
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
struct CohereToolCall {
    name: Option<String>,
    parameters: Option<serde_json::Value>,
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
fn is_family_body(v: &serde_json::Value) -> bool {
    ["outputs", "choices", "generations", "completions", "response_id", "event_type", "is_finished"]
        .iter()
        .any(|k| v.get(k).is_some())
}

/// Reads a [`FamilyBody`]. Returns whether it carried generated text.
fn apply_family(r: FamilyBody, call: &mut LlmCall, stream: bool) -> bool {
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
    for t in r.tool_calls {
        call.tool_calls.push(ToolCall {
            id: String::new(),
            name: t.name.unwrap_or_default(),
            arguments: t.parameters.map(|v| v.to_string()).unwrap_or_else(|| "{}".to_owned()),
            ..Default::default()
        });
    }
    content
}

fn apply_converse(r: ConverseResponse, call: &mut LlmCall) {
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

/// Reads a Titan or Llama body (whole, or one stream chunk). Returns whether it had text.
fn apply_text(r: TextResponse, call: &mut LlmCall) -> bool {
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

#[derive(Debug, Default)]
struct OpenTool {
    index: u64,
    id: String,
    name: String,
    arguments: String,
}

#[derive(Debug, Default)]
pub(crate) struct StreamState {
    /// Claude inside InvokeModelWithResponseStream speaks Anthropic's own events.
    anthropic: Option<anthropic::StreamState>,
    tools: Vec<OpenTool>,
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
    pub(crate) fn handle_frame(&mut self, api: Api, frame: Frame<'_>, call: &mut LlmCall) -> Result<FrameFacts, ExtractError> {
        let Frame::EventStream { event_type, message_type, payload } = frame else {
            return Ok(FrameFacts::default());
        };
        if message_type == "exception" || message_type == "error" {
            call.error_type = Some(event_type.to_owned());
            return Ok(FrameFacts::default());
        }
        match api {
            Api::BedrockConverse => self.converse_event(event_type, payload, call),
            _ => self.invoke_chunk(payload, call),
        }
    }

    /// A ConverseStream event (also Nova's invoke stream, whose chunks are keyed by event name).
    fn converse_event(&mut self, event_type: &str, payload: &[u8], call: &mut LlmCall) -> Result<FrameFacts, ExtractError> {
        let e: ConverseEvent = serde_json::from_slice(payload).map_err(|_| ExtractError::Malformed("stream event is not JSON"))?;
        let mut content = false;
        match event_type {
            "contentBlockStart" => {
                if let Some(t) = e.start.and_then(|s| s.tool_use) {
                    content = true;
                    self.tools.push(OpenTool {
                        index: e.content_block_index.unwrap_or(self.tools.len() as u64),
                        id: t.tool_use_id.unwrap_or_default(),
                        name: t.name.unwrap_or_default(),
                        arguments: String::new(),
                    });
                }
            }
            "contentBlockDelta" => {
                if let Some(d) = e.delta {
                    content = d.text.as_deref().is_some_and(|t| !t.is_empty()) || d.reasoning_content.is_some();
                    if let Some(part) = d.tool_use.and_then(|t| t.input) {
                        content = true;
                        let idx = e.content_block_index;
                        if let Some(t) = self.tools.iter_mut().rev().find(|t| idx.is_none_or(|i| i == t.index)) {
                            if t.arguments.len() + part.len() <= MAX_ARGUMENT_BYTES {
                                t.arguments.push_str(&part);
                            }
                        }
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

    /// One `chunk` of InvokeModelWithResponseStream: `{"bytes": base64(model event)}`.
    fn invoke_chunk(&mut self, payload: &[u8], call: &mut LlmCall) -> Result<FrameFacts, ExtractError> {
        #[derive(Deserialize)]
        struct Chunk {
            bytes: Option<String>,
        }
        let c: Chunk = serde_json::from_slice(payload).map_err(|_| ExtractError::Malformed("chunk is not JSON"))?;
        let Some(b64) = c.bytes else { return Ok(FrameFacts::default()) };
        let inner = base64_decode(&b64).ok_or(ExtractError::Malformed("chunk bytes are not base64"))?;
        let v: serde_json::Value = serde_json::from_slice(&inner).map_err(|_| ExtractError::Malformed("chunk is not JSON"))?;
        if v.get("type").is_some() {
            // Anthropic Messages events
            return self.anthropic.get_or_insert_with(Default::default).handle_event_json(&inner, call);
        }
        if let Some((name, body)) = v.as_object().and_then(|o| {
            o.iter().find(|(k, _)| matches!(k.as_str(), "messageStart" | "contentBlockStart" | "contentBlockDelta" | "contentBlockStop" | "messageStop" | "metadata"))
        }) {
            // Nova: the Converse events, keyed by name
            let name = name.clone();
            let body = serde_json::to_vec(body).map_err(|_| ExtractError::Malformed("chunk is not JSON"))?;
            let facts = self.converse_event(&name, &body, call)?;
            if let Some(m) = v.get("amazon-bedrock-invocationMetrics") {
                call.usage.input = m["inputTokenCount"].as_u64().or(call.usage.input);
                call.usage.output = m["outputTokenCount"].as_u64().or(call.usage.output);
                call.stream_complete = true;
            }
            return Ok(facts);
        }
        if is_family_body(&v) {
            let r: FamilyBody = serde_json::from_value(v).map_err(|_| ExtractError::Malformed("chunk is not a known model event"))?;
            return Ok(FrameFacts { content: apply_family(r, call, true) });
        }
        let t: TextResponse = serde_json::from_value(v).map_err(|_| ExtractError::Malformed("chunk is not a known model event"))?;
        Ok(FrameFacts { content: apply_text(t, call) })
    }

    pub(crate) fn handle_json(&mut self, api: Api, body: &[u8], call: &mut LlmCall) -> Result<(), ExtractError> {
        let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| ExtractError::Malformed("response is not JSON"))?;
        if api == Api::BedrockInvoke && v.get("type").is_some() {
            return anthropic::read_response_json(body, call);
        }
        if is_family_body(&v) {
            let r: FamilyBody = serde_json::from_value(v).map_err(|_| ExtractError::Malformed("response is not a known model body"))?;
            apply_family(r, call, false);
            return Ok(());
        }
        if v.get("output").is_some() || v.get("stopReason").is_some() || v.get("usage").is_some() {
            let r: ConverseResponse = serde_json::from_value(v).map_err(|_| ExtractError::Malformed("response is not a Converse body"))?;
            apply_converse(r, call);
            return Ok(());
        }
        if v.get("message").is_some() && v.as_object().is_some_and(|o| o.len() <= 2) {
            // an error body: {"message": "..."}; the type is in x-amzn-errortype
            call.error_type.get_or_insert_with(|| "error".to_owned());
            return Ok(());
        }
        let t: TextResponse = serde_json::from_value(v).map_err(|_| ExtractError::Malformed("response is not a known model body"))?;
        apply_text(t, call);
        Ok(())
    }

    pub(crate) fn finish(&mut self, call: &mut LlmCall) {
        if let Some(a) = &mut self.anthropic {
            a.finish(call);
        }
        self.tools.sort_by_key(|t| t.index);
        for t in self.tools.drain(..) {
            let arguments = if t.arguments.is_empty() { "{}".to_owned() } else { t.arguments };
            call.tool_calls.push(ToolCall { id: t.id, name: t.name, arguments, ..Default::default() });
        }
    }

    pub(crate) fn state_bytes(&self) -> usize {
        self.anthropic.as_ref().map_or(0, |a| a.state_bytes())
            + self.tools.iter().map(|t| t.id.capacity() + t.name.capacity() + t.arguments.capacity()).sum::<usize>()
    }
}

/// Standard base64 (with or without padding). `None` on any other byte.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    };
    let bytes = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for group in bytes.chunks(4) {
        if group.len() == 1 {
            return None;
        }
        let mut acc = 0u32;
        for (i, c) in group.iter().enumerate() {
            acc |= val(*c)? << (18 - 6 * i);
        }
        out.extend_from_slice(&acc.to_be_bytes()[1..group.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;
    use super::super::*;
    use super::base64_decode;

    #[test]
    fn every_fixture_matches() {
        for name in [
            "bedrock/converse_guardrail", "bedrock/converse_inference_profile_arn", "bedrock/converse_nova",
            "bedrock/converse_titan", "bedrock/converse_tool_use", "bedrock/invoke_claude3",
            "bedrock/invoke_claude_prompt_cache", "bedrock/invoke_llama3", "bedrock/invoke_titan",
        ] {
            let fx = Fixture::load(name);
            let (d, call) = fx.run(&[]);
            assert_eq!(d.provider, Provider::Bedrock, "{name}");
            fx.assert_expected(&call, true);
        }
        for name in [
            "bedrock/converse_stream_meta", "bedrock/converse_stream_nova", "bedrock/converse_stream_tool_use_claude",
            "bedrock/invoke_stream_claude3", "bedrock/invoke_stream_nova",
        ] {
            let fx = Fixture::load(name);
            let (d, call) = fx.run_all_splits();
            assert!(d.path_stream, "{name}");
            fx.assert_expected(&call, true);
            assert!(call.stream_complete, "{name}");
        }
    }

    #[test]
    fn model_ids_and_arns_are_url_decoded() {
        let d = detect("bedrock-runtime.us-east-1.amazonaws.com", "/model/amazon.nova-lite-v1%3A0/converse-stream").unwrap();
        assert_eq!((d.path_model.as_deref(), d.api, d.path_stream), (Some("amazon.nova-lite-v1:0"), Api::BedrockConverse, true));
        let fx = Fixture::load("bedrock/converse_inference_profile_arn");
        let (d, call) = fx.run(&[]);
        assert!(d.path_model.as_deref().unwrap().starts_with("arn:aws:bedrock:us-east-1:012345678901:inference-profile/"));
        assert_eq!(call.request_model, d.path_model);
        let d = detect("x", "/model/meta.llama3-70b-instruct-v1%3A0/invoke").unwrap();
        assert_eq!(d.operation, Operation::TextCompletion);
        let (_, call) = Fixture::load("bedrock/converse_stream_tool_use_claude").run(&[]);
        assert_eq!(call.tool_calls[0].name, "get_weather");
        assert!(serde_json::from_str::<serde_json::Value>(&call.tool_calls[0].arguments).unwrap().is_object());
        assert!(call.tool_calls[0].id.starts_with("tooluse_"));
    }

    #[test]
    fn a_corrupted_frame_stops_extraction_with_a_checksum_error() {
        let fx = Fixture::load("bedrock/converse_stream_meta");
        let mut body = fx.response_body();
        let mid = body.len() / 2;
        body[mid] ^= 0x20;
        let mut dec = crate::framing::StreamDecoder::new(StreamFormat::EventStream, 1 << 20);
        let r = dec.push(&body, &mut |_| {});
        assert!(matches!(r, Err(crate::framing::FramingError::BadChecksum) | Err(crate::framing::FramingError::Malformed(_))), "{r:?}");
    }

    #[test]
    fn base64_and_headers() {
        assert_eq!(base64_decode("eyJ9").unwrap(), b"{\"}");
        assert_eq!(base64_decode("aGk=").unwrap(), b"hi");
        assert_eq!(base64_decode("a$=="), None);
        let mut call = LlmCall::default();
        handle_response_headers(
            Api::BedrockInvoke,
            &[("x-amzn-bedrock-input-token-count", "4"), ("x-amzn-bedrock-cache-read-input-token-count", "10"), ("x-amzn-bedrock-output-token-count", "7"), ("x-amzn-errortype", "ThrottlingException:http://internal.amazon.com/coral/")],
            &mut call,
        );
        assert_eq!((call.usage.input, call.usage.output, call.usage.cache_read), (Some(14), Some(7), Some(10)));
        assert_eq!(call.error_type.as_deref(), Some("ThrottlingException"));
    }
}
