//! The OpenAI API family: OpenAI itself, Azure OpenAI, and the servers that speak its API
//! (Groq, Mistral, DeepSeek, vLLM and other gateways).
//!
//! Covers Chat Completions (with legacy `functions`, parallel tool calls and `n > 1`), the
//! Responses API, legacy Completions and Embeddings, plain and streamed. Bodies are read into
//! small serde structs that name only the fields we use, so serde skips the rest (message
//! content included) without allocating for it.

mod chat;
mod responses;

use super::{Api, Detected, ExtractError, FrameFacts, LlmCall, Operation, Provider, ToolCall};
use crate::framing::Frame;
use serde::Deserialize;

/// Most bytes of streamed tool-call arguments kept per call; the rest is dropped.
const MAX_ARGUMENT_BYTES: usize = 64 * 1024;

pub(crate) fn detect(host: &str, path: &str) -> Option<Detected> {
    let (path_only, query) = path.split_once('?').unwrap_or((path, ""));
    // Azure OpenAI: /openai/deployments/{deployment}/{operation}
    if let Some(rest) = path_only.strip_prefix("/openai/deployments/") {
        let (deployment, op) = rest.split_once('/')?;
        let api = api_from_suffix(op)?;
        return Some(detected(Provider::AzureOpenAi, api, Some(deployment.to_owned())));
    }
    // Azure AI Foundry's model inference API: /models/{operation}?api-version=...; the path
    // alone is too common a word to claim without the query or an Azure host.
    if let Some(op) = path_only.strip_prefix("/models/") {
        if has_param(query, "api-version") || is_azure_inference_host(host) || host.ends_with(".services.ai.azure.com") {
            let api = api_from_suffix(op)?;
            return Some(detected(Provider::AzureAiInference, api, None));
        }
    }
    // Vertex AI's OpenAI-compatible endpoint:
    // /v1/projects/{p}/locations/{l}/endpoints/openapi/chat/completions
    if path_only.contains("/projects/") {
        if let Some((_, op)) = path_only.split_once("/endpoints/openapi/") {
            return Some(detected(Provider::VertexAi, api_from_suffix(op)?, None));
        }
    }
    // Mistral on Vertex AI: .../publishers/mistralai/models/{model}:rawPredict, chat bodies
    if let Some((before, method)) = path_only.rsplit_once(':') {
        if let Some((_, model)) = before.split_once("/publishers/mistralai/models/") {
            // Codestral's FIM bodies answer in the same chat shape, so one reader serves both
            if !matches!(method, "rawPredict" | "streamRawPredict") || model.is_empty() || model.contains('/') {
                return None;
            }
            let mut d = detected(Provider::VertexAi, Api::OpenAiChat, Some(model.to_owned()));
            d.path_stream = method == "streamRawPredict";
            return Some(d);
        }
    }
    let p = path_only.trim_end_matches('/');
    if p.ends_with("/v1/fim/completions") || p == "/fim/completions" {
        return Some(detected(provider_by_host(host), Api::MistralFim, None));
    }
    let api = api_from_path(path_only)?;
    Some(detected(provider_by_host(host), api, None))
}

/// Providers that speak the OpenAI protocol on their own hosts, named as the conventions'
/// registry names them; any other host is `openai_compatible`.
fn provider_by_host(host: &str) -> Provider {
    match host {
        "api.openai.com" => Provider::OpenAi,
        "api.groq.com" => Provider::Groq,
        "api.mistral.ai" | "codestral.mistral.ai" => Provider::MistralAi,
        "api.deepseek.com" => Provider::DeepSeek,
        "api.x.ai" => Provider::XAi,
        "api.perplexity.ai" => Provider::Perplexity,
        "api.cohere.ai" | "api.cohere.com" => Provider::Cohere,
        "generativelanguage.googleapis.com" => Provider::Gemini,
        h if h.ends_with(".openai.azure.com") || h.ends_with(".services.ai.azure.com") => Provider::AzureOpenAi,
        h if is_azure_inference_host(h) => Provider::AzureAiInference,
        h if h == "aiplatform.googleapis.com" || h.ends_with("-aiplatform.googleapis.com") => Provider::VertexAi,
        _ => Provider::OpenAiCompatible,
    }
}

/// Azure AI serverless and managed model endpoints (`{name}.{region}.models.ai.azure.com`,
/// `{name}.inference.ai.azure.com`).
fn is_azure_inference_host(host: &str) -> bool {
    host.ends_with(".models.ai.azure.com") || host.ends_with(".inference.ai.azure.com")
}

fn has_param(query: &str, name: &str) -> bool {
    query.split('&').any(|kv| kv.split('=').next() == Some(name))
}

fn detected(provider: Provider, api: Api, path_model: Option<String>) -> Detected {
    let operation = match api {
        Api::OpenAiCompletions | Api::MistralFim => Operation::TextCompletion,
        Api::OpenAiEmbeddings => Operation::Embeddings,
        _ => Operation::Chat,
    };
    Detected { provider, api, operation, path_model, path_stream: false }
}

fn api_from_suffix(op: &str) -> Option<Api> {
    Some(match op.trim_end_matches('/') {
        "chat/completions" => Api::OpenAiChat,
        "completions" => Api::OpenAiCompletions,
        "embeddings" => Api::OpenAiEmbeddings,
        "responses" => Api::OpenAiResponses,
        _ => return None,
    })
}

/// `/v1/chat/completions`, `/openai/v1/chat/completions` (Groq), `/beta/chat/completions`
/// (DeepSeek), `/v1beta/openai/chat/completions`, `/compatibility/v1/...` (Cohere)...: the
/// operation is the path's tail. `/v1/responses/{id}` reads a (background) response back.
fn api_from_path(path: &str) -> Option<Api> {
    let p = path.trim_end_matches('/');
    let tails: [(&str, Api); 5] = [
        ("/chat/completions", Api::OpenAiChat),
        ("/agents/completions", Api::OpenAiChat),
        ("/completions", Api::OpenAiCompletions),
        ("/embeddings", Api::OpenAiEmbeddings),
        ("/responses", Api::OpenAiResponses),
    ];
    for (tail, api) in tails {
        if let Some(prefix) = p.strip_suffix(tail) {
            if api_root(prefix) {
                return Some(api);
            }
        }
    }
    // GET /v1/responses/{id}: one id segment, not `/input_items` or `/cancel` under it
    if let Some((prefix, id)) = p.rsplit_once('/') {
        if let Some(root) = prefix.strip_suffix("/responses") {
            if api_root(root) && id.starts_with("resp_") {
                return Some(Api::OpenAiResponses);
            }
        }
    }
    None
}

/// The prefix must look like an API root, not an arbitrary resource path.
fn api_root(prefix: &str) -> bool {
    prefix.is_empty()
        || prefix.ends_with("/v1")
        || prefix.ends_with("/beta")
        || prefix.ends_with("/openai")
        || prefix.ends_with("/v1beta/openai")
}

#[derive(Deserialize)]
struct Request {
    model: Option<String>,
    max_tokens: Option<i64>,
    max_completion_tokens: Option<i64>,
    max_output_tokens: Option<i64>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    seed: Option<i64>,
    /// Mistral's name for the seed.
    random_seed: Option<i64>,
    n: Option<i64>,
    frequency_penalty: Option<f64>,
    presence_penalty: Option<f64>,
    stop: Option<serde_json::Value>,
    stream: Option<bool>,
    #[serde(default)]
    messages: Vec<RoleOnly>,
    /// Responses API: a string or a list of items.
    input: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RoleOnly {
    role: Option<String>,
}

pub(crate) fn handle_request(api: Api, body: &[u8], call: &mut LlmCall) -> Result<(), ExtractError> {
    if body.trim_ascii().is_empty() {
        // GET /v1/responses/{id} has no body: nothing to read, and nothing wrong
        return Ok(());
    }
    let r: Request = serde_json::from_slice(body).map_err(|_| ExtractError::malformed("request is not JSON"))?;
    if r.model.is_some() {
        call.request_model = r.model;
    }
    let p = &mut call.params;
    p.max_tokens = r.max_tokens.or(r.max_completion_tokens).or(r.max_output_tokens);
    p.temperature = r.temperature;
    p.top_p = r.top_p;
    p.seed = r.seed.or(r.random_seed);
    p.choice_count = r.n.filter(|n| *n != 1);
    p.frequency_penalty = r.frequency_penalty;
    p.presence_penalty = r.presence_penalty;
    p.stream = r.stream;
    p.stop_sequences = match r.stop {
        Some(serde_json::Value::String(s)) => vec![s],
        Some(serde_json::Value::Array(a)) => a.into_iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    };
    call.last_message_is_tool_result = match api {
        Api::OpenAiResponses => match &r.input {
            Some(serde_json::Value::Array(items)) => items
                .last()
                .and_then(|i| i["type"].as_str())
                .is_some_and(|t| t == "function_call_output"),
            _ => false,
        },
        _ => r
            .messages
            .last()
            .and_then(|m| m.role.as_deref())
            .is_some_and(|role| role == "tool" || role == "function"),
    };
    Ok(())
}

#[derive(Deserialize, Default)]
struct Usage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    prompt_tokens_details: Option<InputDetails>,
    input_tokens_details: Option<InputDetails>,
    completion_tokens_details: Option<OutputDetails>,
    output_tokens_details: Option<OutputDetails>,
    /// DeepSeek reports its cache this way.
    prompt_cache_hit_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
struct InputDetails {
    cached_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
struct OutputDetails {
    reasoning_tokens: Option<u64>,
}

impl Usage {
    fn apply(&self, call: &mut LlmCall) {
        let u = &mut call.usage;
        u.input = self.prompt_tokens.or(self.input_tokens).or(u.input);
        u.output = self.completion_tokens.or(self.output_tokens).or(u.output);
        let cached = self
            .prompt_tokens_details
            .as_ref()
            .or(self.input_tokens_details.as_ref())
            .and_then(|d| d.cached_tokens)
            .or(self.prompt_cache_hit_tokens);
        u.cache_read = cached.or(u.cache_read);
        let reasoning = self
            .completion_tokens_details
            .as_ref()
            .or(self.output_tokens_details.as_ref())
            .and_then(|d| d.reasoning_tokens);
        u.reasoning = reasoning.or(u.reasoning);
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<serde_json::Value>,
}

impl ErrorBody {
    /// The most specific name: the code when it is a word, else the type.
    fn name(&self) -> Option<String> {
        match &self.code {
            Some(serde_json::Value::String(c)) if !c.is_empty() => Some(c.clone()),
            _ => self.kind.clone().filter(|k| !k.is_empty()),
        }
    }
}

#[derive(Debug, Default)]
struct PartialTool {
    choice: usize,
    index: usize,
    id: String,
    name: String,
    arguments: String,
}

#[derive(Debug, Default)]
pub(crate) struct StreamState {
    tools: Vec<PartialTool>,
    /// (choice index, finish reason)
    finish: Vec<(usize, String)>,
}

impl StreamState {
    pub(crate) fn handle_frame(&mut self, api: Api, frame: Frame<'_>, call: &mut LlmCall) -> Result<FrameFacts, ExtractError> {
        let data = match frame {
            Frame::Sse { data, .. } | Frame::Json(data) => data,
            Frame::EventStream { .. } => return Ok(FrameFacts::default()),
        };
        let trimmed = data.trim_ascii();
        if trimmed == b"[DONE]" {
            call.stream_complete = true;
            return Ok(FrameFacts::default());
        }
        if trimmed.is_empty() {
            return Ok(FrameFacts::default());
        }
        if api == Api::OpenAiResponses {
            return self.response_event(trimmed, call);
        }
        self.chat_chunk(trimmed, call)
    }

    pub(crate) fn handle_json(&mut self, api: Api, body: &[u8], call: &mut LlmCall) -> Result<(), ExtractError> {
        if api == Api::OpenAiResponses {
            return responses::read_json(body, call);
        }
        chat::read_json(body, call)
    }

    pub(crate) fn finish(&mut self, call: &mut LlmCall) {
        self.finish.sort_by_key(|(i, _)| *i);
        for (_, r) in self.finish.drain(..) {
            call.finish_reasons.push(r);
        }
        self.tools.sort_by_key(|t| (t.choice, t.index));
        for t in self.tools.drain(..) {
            call.tool_calls.push(ToolCall { id: t.id, name: t.name, arguments: t.arguments, ..Default::default() });
        }
    }

    pub(crate) fn state_bytes(&self) -> usize {
        self.tools.iter().map(|t| t.id.capacity() + t.name.capacity() + t.arguments.capacity()).sum::<usize>()
            + self.tools.capacity() * std::mem::size_of::<PartialTool>()
            + self.finish.iter().map(|(_, r)| r.capacity()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;
    use super::super::*;

    const PLAIN: &[&str] = &[
        "openai/chat_basic", "openai/chat_error_400_bad_request", "openai/chat_error_404_unknown_model",
        "openai/chat_legacy_function_call", "openai/chat_parallel_tool_calls", "openai/chat_parallel_tool_calls_b",
        "openai/chat_prompt_caching_hit", "openai/chat_reasoning_detailed_usage", "openai/chat_structured_output_parse",
        "openai/chat_tool_result_followup", "openai/chat_tools_request_tool_call", "openai/chat_web_search",
        "openai/completions_legacy", "openai/embeddings", "openai/embeddings_base64", "openai/embeddings_batch",
        "openai/responses_basic", "openai/responses_input_history", "openai/responses_reasoning",
        "openai/responses_tool_call", "azure/chat", "azure/chat_b", "azure/chat_content_filter_results",
        "azure/embeddings", "openai_compatible/groq_chat", "openai_compatible/mistral_chat",
    ];
    const STREAMED: &[&str] = &[
        "openai/chat_stream", "openai/chat_stream_b", "openai/chat_stream_include_usage",
        "openai/chat_stream_include_usage_text", "openai/chat_stream_multiple_tools_with_content",
        "openai/chat_stream_n2_choices", "openai/chat_stream_parallel_tool_calls", "openai/chat_stream_tool_call",
        "openai/completions_stream_usage", "openai/responses_stream", "openai/responses_stream_short",
        "azure/chat_stream", "openai_compatible/deepseek_chat_stream_usage", "openai_compatible/groq_chat_stream",
        "openai_compatible/mistral_chat_stream",
    ];

    #[test]
    fn a_body_that_does_not_read_says_which_part_and_not_what_it_held() {
        let mut call = LlmCall::default();
        let err = handle_request(Api::OpenAiChat, b"{\"model\": \"gpt-4o\", sk-secret", &mut call).unwrap_err();
        assert_eq!(err.to_string(), "request is not JSON");
        let err = ResponseReader::new(Api::OpenAiChat).handle_json(b"<html>sk-secret</html>", &mut call).unwrap_err();
        assert_eq!(err.to_string(), "response is not JSON");
    }

    #[test]
    fn every_plain_fixture_matches_its_expected_values() {
        for name in PLAIN {
            let fx = Fixture::load(name);
            let (_, call) = fx.run(&[]);
            fx.assert_expected(&call, false);
        }
    }

    #[test]
    fn every_streamed_fixture_matches_at_every_split() {
        for name in STREAMED {
            let fx = Fixture::load(name);
            let (_, call) = fx.run_all_splits();
            fx.assert_expected(&call, false);
            assert!(call.stream_complete, "{name}: terminal event seen");
        }
    }

    #[test]
    fn detection_names_provider_api_and_operation() {
        let cases: &[(&str, &str, Provider, Api, Operation, Option<&str>)] = &[
            ("api.openai.com", "/v1/chat/completions", Provider::OpenAi, Api::OpenAiChat, Operation::Chat, None),
            ("api.openai.com", "/v1/responses", Provider::OpenAi, Api::OpenAiResponses, Operation::Chat, None),
            ("api.openai.com", "/v1/completions", Provider::OpenAi, Api::OpenAiCompletions, Operation::TextCompletion, None),
            ("api.openai.com", "/v1/embeddings", Provider::OpenAi, Api::OpenAiEmbeddings, Operation::Embeddings, None),
            ("x.openai.azure.com", "/openai/deployments/dep-1/chat/completions?api-version=2024-02-01", Provider::AzureOpenAi, Api::OpenAiChat, Operation::Chat, Some("dep-1")),
            ("api.groq.com", "/openai/v1/chat/completions", Provider::Groq, Api::OpenAiChat, Operation::Chat, None),
            ("api.deepseek.com", "/beta/chat/completions", Provider::DeepSeek, Api::OpenAiChat, Operation::Chat, None),
            ("api.mistral.ai", "/v1/chat/completions", Provider::MistralAi, Api::OpenAiChat, Operation::Chat, None),
            ("vllm.internal", "/v1/chat/completions", Provider::OpenAiCompatible, Api::OpenAiChat, Operation::Chat, None),
        ];
        for (host, path, provider, api, op, model) in cases {
            let d = detect(host, path).unwrap_or_else(|| panic!("{host}{path}"));
            assert_eq!((d.provider, d.api, d.operation, d.path_model.as_deref()), (*provider, *api, *op, *model), "{host}{path}");
        }
        for (host, path) in [("example.com", "/users/completions"), ("example.com", "/"), ("api.openai.com", "/v1/models")] {
            assert_eq!(detect(host, path), None, "{host}{path}");
        }
    }

    #[test]
    fn tool_calls_are_reassembled_with_ids_and_valid_arguments() {
        for name in ["openai/chat_stream_parallel_tool_calls", "openai/chat_stream_multiple_tools_with_content", "openai/chat_parallel_tool_calls", "openai/responses_tool_call"] {
            let (_, call) = Fixture::load(name).run(&[]);
            assert!(call.tool_calls.len() >= 2, "{name}");
            for t in &call.tool_calls {
                assert!(!t.id.is_empty(), "{name}: id");
                let v: serde_json::Value = serde_json::from_str(&t.arguments).unwrap_or_else(|e| panic!("{name}: {e}: {}", t.arguments));
                assert!(v.is_object(), "{name}");
            }
            let ids: std::collections::HashSet<_> = call.tool_calls.iter().map(|t| &t.id).collect();
            assert_eq!(ids.len(), call.tool_calls.len(), "{name}: distinct ids");
        }
    }

    #[test]
    fn requests_errors_and_steps() {
        let (_, call) = Fixture::load("openai/chat_error_404_unknown_model").run(&[]);
        assert_eq!(call.error_type.as_deref(), Some("model_not_found"));
        let (_, call) = Fixture::load("openai/chat_error_400_bad_request").run(&[]);
        assert!(call.error_type.is_some());
        let (_, call) = Fixture::load("openai/chat_tool_result_followup").run(&[]);
        assert!(call.last_message_is_tool_result);
        let (_, call) = Fixture::load("openai/chat_basic").run(&[]);
        assert!(!call.last_message_is_tool_result);
        let (_, call) = Fixture::load("openai/chat_stream_n2_choices").run(&[]);
        assert_eq!(call.finish_reasons.len(), 2);
        let (_, call) = Fixture::load("openai/chat_stream_include_usage").run(&[]);
        assert_eq!(call.params.stream, Some(true));
    }

    #[test]
    fn a_truncated_stream_keeps_what_it_saw_and_is_not_complete() {
        let fx = Fixture::load("openai/chat_stream_include_usage");
        let body = fx.response_body();
        let cut = body.windows(6).position(|w| w == b"[DONE]").unwrap();
        let mut call = LlmCall::default();
        let mut reader = ResponseReader::new(Api::OpenAiChat);
        let mut dec = crate::framing::StreamDecoder::new(StreamFormat::Sse, 1 << 20);
        dec.push(&body[..cut], &mut |f| { reader.handle_frame(f, &mut call).unwrap(); }).unwrap();
        reader.finish(&mut call);
        assert!(!call.stream_complete);
        assert_eq!(call.usage.output, Some(100));
        assert_eq!(call.response_model.as_deref(), Some("gpt-5-nano-2025-08-07"));
    }

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        let mut call = LlmCall::default();
        let mut r = ResponseReader::new(Api::OpenAiChat);
        for bad in [&b"{"[..], b"[1,2", b"\"str\"", b"\xff\xfe", b"{\"choices\":7}"] {
            assert!(r.handle_frame(Frame::Sse { event: None, data: bad }, &mut call).is_err(), "{bad:?}");
        }
        assert!(r.handle_json(b"not json", &mut call).is_err());
        assert!(handle_request(Api::OpenAiChat, b"<xml/>", &mut call).is_err());
    }
}
