//! The OpenAI API family: OpenAI itself, Azure OpenAI, and the servers that speak its API
//! (Groq, Mistral, DeepSeek, vLLM and other gateways).
//!
//! Covers Chat Completions (with legacy `functions`, parallel tool calls and `n > 1`), the
//! Responses API, legacy Completions and Embeddings, plain and streamed. Bodies are read into
//! small serde structs that name only the fields we use, so serde skips the rest (message
//! content included) without allocating for it.

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
    let r: Request = serde_json::from_slice(body).map_err(|_| ExtractError::Malformed("request is not JSON"))?;
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

#[derive(Deserialize)]
struct Function {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct FullToolCall {
    id: Option<String>,
    function: Option<Function>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    tool_calls: Option<Vec<FullToolCall>>,
    function_call: Option<Function>,
}

#[derive(Deserialize)]
struct DeltaToolCall {
    index: Option<usize>,
    id: Option<String>,
    function: Option<Function>,
}

/// Any JSON value, reduced to whether it carries generated content: a non-empty string, a
/// non-empty list (of content parts, thinking blocks...), or an object. Content fields take
/// this instead of a string because providers send lists of parts there (reasoning models'
/// thinking blocks), and a shape we do not expect must not cost the call its usage.
#[derive(Debug, Default, Clone, Copy)]
struct Carries(bool);

impl<'de> Deserialize<'de> for Carries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Carries, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Carries;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Carries, E> {
                Ok(Carries(!v.is_empty()))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Carries, E> {
                Ok(Carries(false))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Carries, E> {
                Ok(Carries(false))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Carries, E> {
                Ok(Carries(false))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Carries, E> {
                Ok(Carries(false))
            }
            fn visit_unit<E>(self) -> Result<Carries, E> {
                Ok(Carries(false))
            }
            fn visit_none<E>(self) -> Result<Carries, E> {
                Ok(Carries(false))
            }
            fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Carries, D2::Error> {
                Carries::deserialize(d)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Carries, A::Error> {
                let mut any = false;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    any = true;
                }
                Ok(Carries(any))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Carries, A::Error> {
                while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
                Ok(Carries(true))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Carries,
    #[serde(default)]
    refusal: Carries,
    /// DeepSeek's and xAI's reasoning text.
    #[serde(default)]
    reasoning_content: Carries,
    /// OpenRouter's, Groq's and vLLM's name for it.
    #[serde(default)]
    reasoning: Carries,
    #[serde(default)]
    tool_calls: Option<Vec<DeltaToolCall>>,
    function_call: Option<Function>,
}

#[derive(Deserialize)]
struct Choice {
    index: Option<usize>,
    finish_reason: Option<String>,
    message: Option<Message>,
    delta: Option<Delta>,
    /// Legacy completions.
    #[serde(default)]
    text: Carries,
}

#[derive(Deserialize)]
struct XGroq {
    usage: Option<Usage>,
}

/// A chat completion, a chunk of one, a legacy completion or an embeddings response.
#[derive(Deserialize)]
struct Completion {
    id: Option<String>,
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<Usage>,
    x_groq: Option<XGroq>,
    error: Option<ErrorBody>,
}

/// What every completion and chunk says the same way, whatever its choices hold.
#[derive(Deserialize)]
struct Skeleton {
    id: Option<String>,
    model: Option<String>,
    #[serde(default)]
    choices: Vec<SkeletonChoice>,
    usage: Option<Usage>,
    x_groq: Option<XGroq>,
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
struct SkeletonChoice {
    index: Option<usize>,
    finish_reason: Option<String>,
}

impl Skeleton {
    fn apply(&self, call: &mut LlmCall) {
        if let Some(e) = &self.error {
            call.error_type = e.name();
        }
        if call.response_id.is_none() {
            call.response_id = self.id.clone().filter(|s| !s.is_empty());
        }
        if call.response_model.is_none() {
            call.response_model = self.model.clone().filter(|s| !s.is_empty());
        }
        if let Some(u) = &self.usage {
            u.apply(call);
        }
        if let Some(u) = self.x_groq.as_ref().and_then(|x| x.usage.as_ref()) {
            u.apply(call);
        }
    }
}

#[derive(Deserialize)]
struct OutputItem {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<String>,
    call_id: Option<String>,
    name: Option<String>,
    arguments: Option<String>,
    /// `custom_tool_call`'s free-form input.
    input: Option<String>,
    /// `web_search_call` and `computer_call`: what the tool was asked to do.
    action: Option<serde_json::Value>,
    /// `file_search_call`.
    queries: Option<serde_json::Value>,
    /// `code_interpreter_call`.
    code: Option<String>,
}

impl OutputItem {
    /// The item as a tool call, if it is one: `function_call` and `custom_tool_call` as the
    /// client's functions, and the built-in tools under their own names and types.
    fn into_tool_call(self) -> Option<ToolCall> {
        use super::ToolType::{Datastore, Extension, Function};
        let json = |v: Option<serde_json::Value>| v.map(|v| v.to_string()).unwrap_or_default();
        let (name, tool_type, arguments) = match self.kind.as_deref()? {
            "function_call" => (self.name.unwrap_or_default(), Function, self.arguments.unwrap_or_default()),
            "custom_tool_call" => (self.name.unwrap_or_default(), Function, self.input.unwrap_or_default()),
            "computer_call" => ("computer".to_owned(), Function, json(self.action)),
            "local_shell_call" => ("local_shell".to_owned(), Function, json(self.action)),
            "mcp_call" => (self.name.unwrap_or_default(), Extension, self.arguments.unwrap_or_default()),
            "web_search_call" => ("web_search".to_owned(), Extension, json(self.action)),
            "code_interpreter_call" => ("code_interpreter".to_owned(), Extension, self.code.unwrap_or_default()),
            "image_generation_call" => ("image_generation".to_owned(), Extension, String::new()),
            "file_search_call" => ("file_search".to_owned(), Datastore, json(self.queries)),
            _ => return None,
        };
        // the client answers a call by its call_id; built-in calls have only an item id
        let id = self.call_id.or(self.id).unwrap_or_default();
        Some(ToolCall { id, name, arguments, tool_type })
    }
}

/// A Responses API response object.
#[derive(Deserialize)]
struct Response {
    id: Option<String>,
    model: Option<String>,
    status: Option<String>,
    usage: Option<Usage>,
    #[serde(default)]
    output: Vec<OutputItem>,
    error: Option<ErrorBody>,
}

/// A Responses API stream event.
#[derive(Deserialize)]
struct ResponseEvent<'a> {
    #[serde(rename = "type")]
    kind: Option<String>,
    response: Option<Response>,
    #[serde(borrow)]
    delta: Option<std::borrow::Cow<'a, str>>,
    code: Option<String>,
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
        let c: Completion = match serde_json::from_slice(trimmed) {
            Ok(c) => c,
            Err(_) => return self.skeleton_chunk(trimmed, call),
        };
        apply_common(&c, call);
        let mut content = false;
        for (pos, choice) in c.choices.iter().enumerate() {
            let idx = choice.index.unwrap_or(pos);
            if let Some(r) = &choice.finish_reason {
                match self.finish.iter_mut().find(|(i, _)| *i == idx) {
                    Some(slot) => slot.1 = r.clone(),
                    None => self.finish.push((idx, r.clone())),
                }
            }
            if choice.text.0 {
                content = true;
            }
            let Some(delta) = &choice.delta else { continue };
            if delta.content.0 || delta.refusal.0 || delta.reasoning_content.0 || delta.reasoning.0 {
                content = true;
            }
            for (tpos, t) in delta.tool_calls.iter().flatten().enumerate() {
                content = true;
                let tidx = t.index.unwrap_or(tpos);
                let f = t.function.as_ref();
                self.tool_delta(idx, tidx, t.id.as_deref(), f.and_then(|f| f.name.as_deref()), f.and_then(|f| f.arguments.as_deref()));
            }
            if let Some(f) = &delta.function_call {
                content = true;
                self.tool_delta(idx, usize::MAX, None, f.name.as_deref(), f.arguments.as_deref());
            }
        }
        Ok(FrameFacts { content })
    }

    /// A chunk whose choices hold a shape we do not know (a tool call or message of a new
    /// form): keep what every chunk says the same way (ids, usage, error, finish reasons) and
    /// count the chunk as content, rather than lose the call's usage over one field.
    fn skeleton_chunk(&mut self, data: &[u8], call: &mut LlmCall) -> Result<FrameFacts, ExtractError> {
        let c: Skeleton = serde_json::from_slice(data).map_err(|_| ExtractError::Malformed("stream chunk is not JSON"))?;
        c.apply(call);
        for (pos, choice) in c.choices.iter().enumerate() {
            if let Some(r) = &choice.finish_reason {
                let idx = choice.index.unwrap_or(pos);
                match self.finish.iter_mut().find(|(i, _)| *i == idx) {
                    Some(slot) => slot.1 = r.clone(),
                    None => self.finish.push((idx, r.clone())),
                }
            }
        }
        Ok(FrameFacts { content: !c.choices.is_empty() })
    }

    fn tool_delta(&mut self, choice: usize, index: usize, id: Option<&str>, name: Option<&str>, arguments: Option<&str>) {
        let slot = match self.tools.iter().position(|t| t.choice == choice && t.index == index) {
            Some(i) => &mut self.tools[i],
            None => {
                self.tools.push(PartialTool { choice, index, ..Default::default() });
                let last = self.tools.len() - 1;
                &mut self.tools[last]
            }
        };
        if let Some(id) = id.filter(|s| !s.is_empty()) {
            slot.id = id.to_owned();
        }
        if let Some(name) = name.filter(|s| !s.is_empty()) {
            slot.name.push_str(name);
        }
        if let Some(a) = arguments {
            if slot.arguments.len() + a.len() <= MAX_ARGUMENT_BYTES {
                slot.arguments.push_str(a);
            }
        }
    }

    fn response_event(&mut self, data: &[u8], call: &mut LlmCall) -> Result<FrameFacts, ExtractError> {
        let e: ResponseEvent<'_> = serde_json::from_slice(data).map_err(|_| ExtractError::Malformed("stream event is not JSON"))?;
        let kind = e.kind.as_deref().unwrap_or("");
        let mut content = false;
        match kind {
            "response.output_text.delta" | "response.refusal.delta" | "response.reasoning_summary_text.delta"
            | "response.function_call_arguments.delta" => {
                content = e.delta.as_deref().is_some_and(|d| !d.is_empty());
            }
            "error" => call.error_type = e.code.clone().or_else(|| Some("error".to_owned())),
            _ => {}
        }
        if let Some(r) = e.response {
            let terminal = matches!(kind, "response.completed" | "response.failed" | "response.incomplete");
            if terminal {
                call.stream_complete = true;
                call.tool_calls.clear();
            }
            apply_response(r, call);
        }
        Ok(FrameFacts { content })
    }

    pub(crate) fn handle_json(&mut self, api: Api, body: &[u8], call: &mut LlmCall) -> Result<(), ExtractError> {
        if api == Api::OpenAiResponses {
            let r: Response = serde_json::from_slice(body).map_err(|_| ExtractError::Malformed("response is not JSON"))?;
            apply_response(r, call);
            return Ok(());
        }
        let c: Completion = match serde_json::from_slice(body) {
            Ok(c) => c,
            Err(_) => {
                let c: Skeleton = serde_json::from_slice(body).map_err(|_| ExtractError::Malformed("response is not JSON"))?;
                c.apply(call);
                call.finish_reasons.extend(c.choices.into_iter().filter_map(|ch| ch.finish_reason));
                return Ok(());
            }
        };
        apply_common(&c, call);
        for choice in &c.choices {
            if let Some(r) = &choice.finish_reason {
                call.finish_reasons.push(r.clone());
            }
            let Some(m) = &choice.message else { continue };
            for t in m.tool_calls.iter().flatten() {
                let f = t.function.as_ref();
                call.tool_calls.push(ToolCall {
                    id: t.id.clone().unwrap_or_default(),
                    name: f.and_then(|f| f.name.clone()).unwrap_or_default(),
                    arguments: f.and_then(|f| f.arguments.clone()).unwrap_or_default(),
                    ..Default::default()
                });
            }
            if let Some(f) = &m.function_call {
                call.tool_calls.push(ToolCall {
                    id: String::new(),
                    name: f.name.clone().unwrap_or_default(),
                    arguments: f.arguments.clone().unwrap_or_default(),
                    ..Default::default()
                });
            }
        }
        Ok(())
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

/// What a completion, a chunk of one, or an error body say the same way: the error, the ids,
/// and usage (Groq puts it under `x_groq`).
fn apply_common(c: &Completion, call: &mut LlmCall) {
    if let Some(e) = &c.error {
        call.error_type = e.name();
    }
    take_ids(c, call);
    if let Some(u) = &c.usage {
        u.apply(call);
    }
    if let Some(u) = c.x_groq.as_ref().and_then(|x| x.usage.as_ref()) {
        u.apply(call);
    }
}

fn take_ids(c: &Completion, call: &mut LlmCall) {
    if call.response_id.is_none() {
        call.response_id = c.id.clone().filter(|s| !s.is_empty());
    }
    if call.response_model.is_none() {
        call.response_model = c.model.clone().filter(|s| !s.is_empty());
    }
}

fn apply_response(r: Response, call: &mut LlmCall) {
    if let Some(id) = r.id.filter(|s| !s.is_empty()) {
        call.response_id = Some(id);
    }
    if let Some(m) = r.model.filter(|s| !s.is_empty()) {
        call.response_model = Some(m);
    }
    if let Some(u) = &r.usage {
        u.apply(call);
    }
    if let Some(e) = &r.error {
        call.error_type = e.name().or(call.error_type.take());
    }
    if let Some(status) = r.status {
        if status != "in_progress" && status != "queued" {
            call.finish_reasons = vec![status];
        }
    }
    call.tool_calls.extend(r.output.into_iter().filter_map(OutputItem::into_tool_call));
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
