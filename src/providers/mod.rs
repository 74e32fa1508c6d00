//! Providers: what an LLM call means, read from its path and bodies.
//!
//! This module owns the knowledge of each provider's API: which host and path is which
//! provider and operation (`detect`), and how to read the request and response bodies into an
//! [`LlmCall`]: models, usage, finish reasons, tool calls and errors. Each provider family has
//! one submodule with the same small set of functions, and dispatch is a `match` on the closed
//! [`Api`] enum. It does not frame streams (see `framing`), time anything, or build spans.

use crate::framing::Frame;

/// Who serves the call. `semconv_name` gives the `gen_ai.provider.name` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    OpenAi,
    AzureOpenAi,
    Anthropic,
    Gemini,
    VertexAi,
    Bedrock,
    Ollama,
    Groq,
    MistralAi,
    DeepSeek,
    XAi,
    Perplexity,
    Cohere,
    /// Azure AI Foundry's model inference API (`/models/chat/completions?api-version=...`) and
    /// its serverless endpoints: not Azure OpenAI, whose paths name a deployment.
    AzureAiInference,
    /// Another server that speaks the OpenAI API (vLLM, LiteLLM, LM Studio, a gateway...).
    OpenAiCompatible,
    Unknown,
}

impl Provider {
    /// The `gen_ai.provider.name` value from the conventions, or ours where they have none.
    pub fn semconv_name(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::AzureOpenAi => "azure.ai.openai",
            Provider::Anthropic => "anthropic",
            Provider::Gemini => "gcp.gemini",
            Provider::VertexAi => "gcp.vertex_ai",
            Provider::Bedrock => "aws.bedrock",
            Provider::Ollama => "ollama",
            Provider::Groq => "groq",
            Provider::MistralAi => "mistral_ai",
            Provider::DeepSeek => "deepseek",
            Provider::XAi => "x_ai",
            Provider::Perplexity => "perplexity",
            Provider::Cohere => "cohere",
            Provider::AzureAiInference => "azure.ai.inference",
            Provider::OpenAiCompatible => "openai_compatible",
            Provider::Unknown => "unknown",
        }
    }

    /// Parses a configured provider name (the semconv values above, plus short aliases).
    pub fn from_config_name(name: &str) -> Option<Provider> {
        Some(match name {
            "openai" => Provider::OpenAi,
            "azure.ai.openai" | "azure" => Provider::AzureOpenAi,
            "anthropic" => Provider::Anthropic,
            "gcp.gemini" | "gemini" => Provider::Gemini,
            "gcp.vertex_ai" | "vertex_ai" => Provider::VertexAi,
            "aws.bedrock" | "bedrock" => Provider::Bedrock,
            "ollama" => Provider::Ollama,
            "groq" => Provider::Groq,
            "mistral_ai" | "mistral" => Provider::MistralAi,
            "deepseek" => Provider::DeepSeek,
            "x_ai" | "xai" => Provider::XAi,
            "perplexity" => Provider::Perplexity,
            "cohere" => Provider::Cohere,
            "azure.ai.inference" | "azure_ai_inference" => Provider::AzureAiInference,
            "openai_compatible" | "vllm" => Provider::OpenAiCompatible,
            _ => return None,
        })
    }
}

/// The `gen_ai.operation.name` values we emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Chat,
    TextCompletion,
    Embeddings,
    GenerateContent,
    /// The route is an LLM but the API is not one we know.
    Unknown,
}

impl Operation {
    pub fn semconv_name(self) -> &'static str {
        match self {
            Operation::Chat => "chat",
            Operation::TextCompletion => "text_completion",
            Operation::Embeddings => "embeddings",
            Operation::GenerateContent => "generate_content",
            Operation::Unknown => "unknown",
        }
    }
}

/// The wire API of a call: decides how bodies are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// OpenAI Chat Completions (also Azure and compatible servers).
    OpenAiChat,
    /// The OpenAI Responses API.
    OpenAiResponses,
    /// OpenAI legacy Completions.
    OpenAiCompletions,
    /// OpenAI Embeddings.
    OpenAiEmbeddings,
    /// Mistral's fill-in-the-middle completions (`/v1/fim/completions`): a prompt and a suffix
    /// in, a chat-completion-shaped body out.
    MistralFim,
    /// Anthropic Messages.
    AnthropicMessages,
    /// Anthropic legacy Text Completions.
    AnthropicComplete,
    /// Gemini `generateContent` and `streamGenerateContent`.
    GeminiGenerate,
    /// Gemini `embedContent` and `batchEmbedContents`.
    GeminiEmbed,
    /// Bedrock Converse and ConverseStream.
    BedrockConverse,
    /// Bedrock InvokeModel and InvokeModelWithResponseStream.
    BedrockInvoke,
    /// Ollama `/api/chat`.
    OllamaChat,
    /// Ollama `/api/generate`.
    OllamaGenerate,
    /// Ollama `/api/embed` and `/api/embeddings`.
    OllamaEmbed,
    /// Cohere's v2 Chat API (`/v2/chat`).
    CohereChat,
    /// Cohere's v1 Chat API (`/v1/chat`): `message` and `chat_history`, JSON-lines streams.
    CohereChatV1,
    /// Cohere's Embed API (`/v1/embed`, `/v2/embed`).
    CohereEmbed,
    /// A provider we route but whose API we do not read.
    Unknown,
}

/// What `detect` learns from the request line alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    pub provider: Provider,
    pub api: Api,
    pub operation: Operation,
    /// The model named in the path (Gemini, Vertex, Bedrock; URL-decoded), or the Azure
    /// deployment (which is not the model: `LlmCall::response_model` is).
    pub path_model: Option<String>,
    /// The path says this is a stream (`:streamGenerateContent`, `converse-stream`,
    /// `invoke-with-response-stream`) before any body is seen.
    pub path_stream: bool,
}

/// Token usage as the provider reported it. `None` means "not reported", never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// All input tokens, including cached and cache-written ones (the conventions' rule).
    pub input: Option<u64>,
    pub output: Option<u64>,
    pub cache_read: Option<u64>,
    pub cache_write: Option<u64>,
    pub reasoning: Option<u64>,
}

/// A tool call that the model asked for, or that the provider ran on its side.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as the model sent them (JSON text, reassembled from stream deltas).
    /// Never exported unless sanitised by the guard and the configuration asks.
    pub arguments: String,
    pub tool_type: ToolType,
}

/// Who runs a tool, in the conventions' `gen_ai.tool.type` terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum ToolType {
    /// The client runs it (`function_call`, `tool_use`, and OpenAI's `computer_call`, whose
    /// actions the client performs).
    #[default]
    Function,
    /// The provider runs it against something outside the model (`web_search_call`,
    /// `code_interpreter_call`, `mcp_call`).
    Extension,
    /// The provider reads a data store for it (`file_search_call`).
    Datastore,
}

impl ToolType {
    pub fn semconv_name(self) -> &'static str {
        match self {
            ToolType::Function => "function",
            ToolType::Extension => "extension",
            ToolType::Datastore => "datastore",
        }
    }
}

/// Request parameters worth recording (`gen_ai.request.*`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RequestParams {
    pub max_tokens: Option<i64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<f64>,
    pub seed: Option<i64>,
    pub choice_count: Option<i64>,
    pub frequency_penalty: Option<f64>,
    pub presence_penalty: Option<f64>,
    pub stop_sequences: Vec<String>,
    pub stream: Option<bool>,
}

/// Everything read from one LLM call's bodies. Filled in by `handle_request` and
/// `handle_response_frame` / `handle_response_json`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LlmCall {
    /// The model the request asked for.
    pub request_model: Option<String>,
    /// The model that answered.
    pub response_model: Option<String>,
    /// The provider's id for the response.
    pub response_id: Option<String>,
    /// The request's sampling parameters.
    pub params: RequestParams,
    /// Token counts.
    pub usage: Usage,
    /// Why each choice ended, in choice order.
    pub finish_reasons: Vec<String>,
    /// The tools the model asked to call.
    pub tool_calls: Vec<ToolCall>,
    /// The provider's error type from an error body (`rate_limit_exceeded`, `overloaded_error`).
    pub error_type: Option<String>,
    /// The request's last message is a tool result (an agent's "tool result" step).
    pub last_message_is_tool_result: bool,
    /// A stream's terminal event (`[DONE]`, `message_stop`, `response.completed`, `done:true`,
    /// `messageStop`...) was seen. A stream that ends without it is truncated.
    pub stream_complete: bool,
}

/// What one response frame contained, for timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameFacts {
    /// The frame carries generated content (text, a tool-call delta, thinking): the first such
    /// frame sets the time to first chunk.
    pub content: bool,
}

/// An error that occurred while reading an LLM request, response or stream frame.
///
/// The body was not valid JSON, or was JSON of a shape its API never sends. The error is
/// sticky: once one is returned, the exchange reads nothing more of the call
/// (`genai_tap.not_parsed.reason` is `malformed`) and the bytes keep flowing. Its kind is not
/// exposed. The `Display` text says which part did not read (`response is not JSON`), never
/// what the body held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractError {
    what: &'static str,
}

impl ExtractError {
    /// A body or frame that did not read; `what` names the part, without quoting it.
    pub(crate) fn malformed(what: &'static str) -> ExtractError {
        ExtractError { what }
    }
}

impl core::fmt::Display for ExtractError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.what)
    }
}

impl std::error::Error for ExtractError {}

mod anthropic;
mod bedrock;
mod extraction;
pub(crate) use bedrock::base64_decode;
mod cohere;
mod gemini;
mod ollama;
mod open_tools;
mod openai;
mod unobserved;

pub use unobserved::{tunnel, unobserved_api};

pub use crate::framing::StreamFormat;
pub use extraction::{Extraction, Limits, NotParsed};

/// Finds the provider, API and operation from the host (without port) and the path (with
/// query). `None` means the path is no LLM API we know.
pub fn detect(host: &str, path: &str) -> Option<Detected> {
    bedrock::detect(host, path)
        .or_else(|| gemini::detect(host, path))
        .or_else(|| anthropic::detect(host, path))
        .or_else(|| cohere::detect(host, path))
        .or_else(|| ollama::detect(host, path))
        .or_else(|| openai::detect(host, path))
}

/// Reads a request body (whole, JSON) into `call`: request model, parameters, stream flag,
/// whether the last message is a tool result.
pub fn handle_request(api: Api, body: &[u8], call: &mut LlmCall) -> Result<(), ExtractError> {
    match family(api) {
        Family::OpenAi => openai::handle_request(api, body, call),
        Family::Anthropic => anthropic::handle_request(api, body, call),
        Family::Gemini => gemini::handle_request(api, body, call),
        Family::Bedrock => bedrock::handle_request(api, body, call),
        Family::Ollama => ollama::handle_request(api, body, call),
        Family::Cohere => cohere::handle_request(api, body, call),
        Family::None => Ok(()),
    }
}

/// Reads facts from response headers (Bedrock's `x-amzn-bedrock-*-token-count`).
pub fn handle_response_headers(api: Api, headers: &[(&str, &str)], call: &mut LlmCall) {
    if family(api) == Family::Bedrock {
        bedrock::handle_response_headers(api, headers, call)
    }
}

/// The stream format of a response, from the API, whether the path asked for a stream, and the
/// content type (parameters allowed). `None`: the body is one JSON document, read whole with
/// [`ResponseReader::handle_json`].
pub fn stream_format(api: Api, path_stream: bool, content_type: &str) -> Option<StreamFormat> {
    let ct = content_type.trim().to_ascii_lowercase();
    if ct.starts_with("text/event-stream") {
        return Some(StreamFormat::Sse);
    }
    if ct.starts_with("application/vnd.amazon.eventstream") {
        return Some(StreamFormat::EventStream);
    }
    if ct.starts_with("application/x-ndjson") || ct.starts_with("application/jsonl") {
        return Some(StreamFormat::Ndjson);
    }
    match family(api) {
        Family::Ollama => ollama::stream_format(api, &ct),
        Family::Cohere => cohere::stream_format(api, &ct),
        Family::Gemini if path_stream && ct.starts_with("application/json") => Some(gemini::array_stream()),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    OpenAi,
    Anthropic,
    Gemini,
    Bedrock,
    Ollama,
    Cohere,
    None,
}

fn family(api: Api) -> Family {
    match api {
        Api::OpenAiChat
        | Api::OpenAiResponses
        | Api::OpenAiCompletions
        | Api::OpenAiEmbeddings
        | Api::MistralFim => Family::OpenAi,
        Api::CohereChat | Api::CohereChatV1 | Api::CohereEmbed => Family::Cohere,
        Api::AnthropicMessages | Api::AnthropicComplete => Family::Anthropic,
        Api::GeminiGenerate | Api::GeminiEmbed => Family::Gemini,
        Api::BedrockConverse | Api::BedrockInvoke => Family::Bedrock,
        Api::OllamaChat | Api::OllamaGenerate | Api::OllamaEmbed => Family::Ollama,
        Api::Unknown => Family::None,
    }
}

/// Per-call response state: what a stream must remember between frames (partial tool-call
/// arguments, the current content block). Bounded: see `state_bytes`.
#[derive(Debug)]
pub struct ResponseReader {
    api: Api,
    state: ReaderState,
}

#[derive(Debug)]
enum ReaderState {
    OpenAi(openai::StreamState),
    Anthropic(anthropic::StreamState),
    Gemini(gemini::StreamState),
    Bedrock(bedrock::StreamState),
    Ollama(ollama::StreamState),
    Cohere(cohere::StreamState),
    None,
}

impl ResponseReader {
    /// A reader for responses of `api`.
    pub fn new(api: Api) -> ResponseReader {
        let state = match family(api) {
            Family::OpenAi => ReaderState::OpenAi(Default::default()),
            Family::Anthropic => ReaderState::Anthropic(Default::default()),
            Family::Gemini => ReaderState::Gemini(Default::default()),
            Family::Bedrock => ReaderState::Bedrock(Default::default()),
            Family::Ollama => ReaderState::Ollama(Default::default()),
            Family::Cohere => ReaderState::Cohere(Default::default()),
            Family::None => ReaderState::None,
        };
        ResponseReader { api, state }
    }

    /// Reads one stream frame.
    pub fn handle_frame(
        &mut self,
        frame: Frame<'_>,
        call: &mut LlmCall,
    ) -> Result<FrameFacts, ExtractError> {
        let api = self.api;
        match &mut self.state {
            ReaderState::OpenAi(s) => s.handle_frame(api, frame, call),
            ReaderState::Anthropic(s) => s.handle_frame(api, frame, call),
            ReaderState::Gemini(s) => s.handle_frame(api, frame, call),
            ReaderState::Bedrock(s) => s.handle_frame(api, frame, call),
            ReaderState::Ollama(s) => s.handle_frame(api, frame, call),
            ReaderState::Cohere(s) => s.handle_frame(api, frame, call),
            ReaderState::None => Ok(FrameFacts::default()),
        }
    }

    /// Reads a whole (non-streamed) response body, success or error.
    pub fn handle_json(&mut self, body: &[u8], call: &mut LlmCall) -> Result<(), ExtractError> {
        let api = self.api;
        match &mut self.state {
            ReaderState::OpenAi(s) => s.handle_json(api, body, call),
            ReaderState::Anthropic(s) => s.handle_json(api, body, call),
            ReaderState::Gemini(s) => s.handle_json(api, body, call),
            ReaderState::Bedrock(s) => s.handle_json(api, body, call),
            ReaderState::Ollama(s) => s.handle_json(api, body, call),
            ReaderState::Cohere(s) => s.handle_json(api, body, call),
            ReaderState::None => Ok(()),
        }
    }

    /// The stream ended: move what accumulated (tool-call arguments) into `call`.
    pub fn finish(&mut self, call: &mut LlmCall) {
        match &mut self.state {
            ReaderState::OpenAi(s) => s.finish(call),
            ReaderState::Anthropic(s) => s.finish(call),
            ReaderState::Gemini(s) => s.finish(call),
            ReaderState::Bedrock(s) => s.finish(call),
            ReaderState::Ollama(s) => s.finish(call),
            ReaderState::Cohere(s) => s.finish(call),
            ReaderState::None => {}
        }
    }

    /// Bytes of heap this reader holds now (reported per stream; must stay bounded).
    pub fn state_bytes(&self) -> usize {
        match &self.state {
            ReaderState::OpenAi(s) => s.state_bytes(),
            ReaderState::Anthropic(s) => s.state_bytes(),
            ReaderState::Gemini(s) => s.state_bytes(),
            ReaderState::Bedrock(s) => s.state_bytes(),
            ReaderState::Ollama(s) => s.state_bytes(),
            ReaderState::Cohere(s) => s.state_bytes(),
            ReaderState::None => 0,
        }
    }
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod recent_apis_tests;
