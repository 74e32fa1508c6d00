//! Case tables for the APIs of issue #19: Claude and the OpenAI-compatible endpoint on Vertex
//! AI, Azure AI Foundry's model inference API, Cohere v2, Mistral FIM and content parts,
//! DeepSeek's and xAI's reasoning, Bedrock InvokeModel bodies of every family, OpenAI
//! Responses built-in tools and background reads, and naming providers by host. Recordings
//! are in `tests/data/providers/` (see `build.py` there for their sources).

use super::testutil::Fixture;
use super::*;

/// (recording, provider, api, operation, input includes cache tokens)
const PLAIN: &[(&str, Provider, Api, Operation, bool)] = &[
    ("vertexai/anthropic_raw_predict", Provider::VertexAi, Api::AnthropicMessages, Operation::Chat, true),
    ("vertexai/openai_chat_completions", Provider::VertexAi, Api::OpenAiChat, Operation::Chat, false),
    ("azure_ai_inference/chat", Provider::AzureAiInference, Api::OpenAiChat, Operation::Chat, false),
    ("cohere/chat", Provider::Cohere, Api::CohereChat, Operation::Chat, false),
    ("cohere/chat_tool_call", Provider::Cohere, Api::CohereChat, Operation::Chat, false),
    ("cohere/chat_v1", Provider::Cohere, Api::CohereChatV1, Operation::Chat, false),
    ("cohere/chat_v1_tool_call", Provider::Cohere, Api::CohereChatV1, Operation::Chat, false),
    ("cohere/embed_v1", Provider::Cohere, Api::CohereEmbed, Operation::Embeddings, false),
    ("cohere/embed_v2", Provider::Cohere, Api::CohereEmbed, Operation::Embeddings, false),
    ("mistral/fim_completions", Provider::MistralAi, Api::MistralFim, Operation::TextCompletion, false),
    ("deepseek/reasoner", Provider::DeepSeek, Api::OpenAiChat, Operation::Chat, false),
    ("xai/chat_reasoning", Provider::XAi, Api::OpenAiChat, Operation::Chat, false),
    ("bedrock/invoke_mistral_text", Provider::Bedrock, Api::BedrockInvoke, Operation::TextCompletion, false),
    ("bedrock/invoke_mistral_large_chat", Provider::Bedrock, Api::BedrockInvoke, Operation::Chat, false),
    ("bedrock/invoke_cohere_command_r", Provider::Bedrock, Api::BedrockInvoke, Operation::Chat, false),
    ("bedrock/invoke_cohere_command_text", Provider::Bedrock, Api::BedrockInvoke, Operation::TextCompletion, false),
    ("bedrock/invoke_deepseek_r1", Provider::Bedrock, Api::BedrockInvoke, Operation::TextCompletion, false),
    ("bedrock/invoke_llama4", Provider::Bedrock, Api::BedrockInvoke, Operation::TextCompletion, false),
    ("bedrock/invoke_jamba", Provider::Bedrock, Api::BedrockInvoke, Operation::Chat, false),
    ("bedrock/invoke_jurassic2", Provider::Bedrock, Api::BedrockInvoke, Operation::TextCompletion, false),
    ("openai/responses_builtin_tools", Provider::OpenAi, Api::OpenAiResponses, Operation::Chat, false),
    ("openai/responses_background_get", Provider::OpenAi, Api::OpenAiResponses, Operation::Chat, false),
];

const STREAMED: &[(&str, Provider, Api, Operation, bool)] = &[
    ("vertexai/anthropic_stream_raw_predict", Provider::VertexAi, Api::AnthropicMessages, Operation::Chat, true),
    ("azure_ai_inference/chat_stream", Provider::AzureAiInference, Api::OpenAiChat, Operation::Chat, false),
    ("cohere/chat_stream", Provider::Cohere, Api::CohereChat, Operation::Chat, false),
    ("cohere/chat_stream_tool_call", Provider::Cohere, Api::CohereChat, Operation::Chat, false),
    ("cohere/chat_v1_stream", Provider::Cohere, Api::CohereChatV1, Operation::Chat, false),
    ("cohere/chat_v1_stream_tool_call", Provider::Cohere, Api::CohereChatV1, Operation::Chat, false),
    ("mistral/fim_stream", Provider::MistralAi, Api::MistralFim, Operation::TextCompletion, false),
    ("mistral/magistral_stream_content_parts", Provider::MistralAi, Api::OpenAiChat, Operation::Chat, false),
    ("deepseek/reasoner_stream", Provider::DeepSeek, Api::OpenAiChat, Operation::Chat, false),
    ("xai/chat_stream_reasoning", Provider::XAi, Api::OpenAiChat, Operation::Chat, false),
    ("bedrock/invoke_stream_mistral_text", Provider::Bedrock, Api::BedrockInvoke, Operation::TextCompletion, false),
    ("bedrock/invoke_stream_cohere_command_r", Provider::Bedrock, Api::BedrockInvoke, Operation::Chat, false),
    ("bedrock/invoke_stream_deepseek_r1", Provider::Bedrock, Api::BedrockInvoke, Operation::TextCompletion, false),
    ("bedrock/invoke_stream_llama4", Provider::Bedrock, Api::BedrockInvoke, Operation::TextCompletion, false),
    ("bedrock/invoke_stream_jamba", Provider::Bedrock, Api::BedrockInvoke, Operation::Chat, false),
    ("openai/responses_stream_builtin_tools", Provider::OpenAi, Api::OpenAiResponses, Operation::Chat, false),
];

/// The streamed recordings above, for the random-split property test.
pub(crate) const STREAMED_RECORDINGS: &[&str] = &[
    "vertexai/anthropic_stream_raw_predict", "azure_ai_inference/chat_stream", "cohere/chat_stream",
    "cohere/chat_stream_tool_call", "cohere/chat_v1_stream", "cohere/chat_v1_stream_tool_call", "mistral/fim_stream", "mistral/magistral_stream_content_parts",
    "deepseek/reasoner_stream", "xai/chat_stream_reasoning", "bedrock/invoke_stream_mistral_text",
    "bedrock/invoke_stream_cohere_command_r", "bedrock/invoke_stream_deepseek_r1", "bedrock/invoke_stream_llama4",
    "bedrock/invoke_stream_jamba", "openai/responses_stream_builtin_tools",
];

fn check_detection(fx: &Fixture, d: &Detected, provider: Provider, api: Api, op: Operation) {
    assert_eq!((d.provider, d.api, d.operation), (provider, api, op), "{}", fx.name);
}

/// The recording's `tool_types`, when it names them, against the call's tool calls.
fn check_tool_types(fx: &Fixture, call: &LlmCall) {
    if let Some(types) = fx.expected()["tool_types"].as_array() {
        let want: Vec<&str> = types.iter().filter_map(|t| t.as_str()).collect();
        let got: Vec<&str> = call.tool_calls.iter().map(|t| t.tool_type.semconv_name()).collect();
        assert_eq!(got, want, "{}: tool types", fx.name);
    }
}

#[test]
fn every_plain_recording_matches_its_expected_values() {
    for (name, provider, api, op, adds_cache) in PLAIN {
        let fx = Fixture::load(name);
        let (d, call) = fx.run(&[]);
        check_detection(&fx, &d, *provider, *api, *op);
        fx.assert_expected(&call, *adds_cache);
        check_tool_types(&fx, &call);
    }
}

#[test]
fn every_streamed_recording_matches_at_every_split() {
    for (name, provider, api, op, adds_cache) in STREAMED {
        let fx = Fixture::load(name);
        let (d, call) = fx.run_all_splits();
        check_detection(&fx, &d, *provider, *api, *op);
        fx.assert_expected(&call, *adds_cache);
        check_tool_types(&fx, &call);
        assert!(call.stream_complete, "{name}: terminal event seen");
    }
    assert_eq!(STREAMED.len(), STREAMED_RECORDINGS.len());
}

#[test]
fn detection_names_openai_protocol_providers_by_host() {
    let cases: &[(&str, &str, Provider, Api)] = &[
        ("api.x.ai", "/v1/chat/completions", Provider::XAi, Api::OpenAiChat),
        ("api.x.ai", "/v1/responses", Provider::XAi, Api::OpenAiResponses),
        ("api.perplexity.ai", "/chat/completions", Provider::Perplexity, Api::OpenAiChat),
        ("api.cohere.ai", "/compatibility/v1/chat/completions", Provider::Cohere, Api::OpenAiChat),
        ("api.deepseek.com", "/chat/completions", Provider::DeepSeek, Api::OpenAiChat),
        ("api.groq.com", "/openai/v1/chat/completions", Provider::Groq, Api::OpenAiChat),
        ("codestral.mistral.ai", "/v1/chat/completions", Provider::MistralAi, Api::OpenAiChat),
        ("api.mistral.ai", "/v1/agents/completions", Provider::MistralAi, Api::OpenAiChat),
        ("generativelanguage.googleapis.com", "/v1beta/openai/chat/completions", Provider::Gemini, Api::OpenAiChat),
        ("my-ep.eastus2.models.ai.azure.com", "/chat/completions", Provider::AzureAiInference, Api::OpenAiChat),
        ("my-ep.eastus2.inference.ai.azure.com", "/v1/chat/completions", Provider::AzureAiInference, Api::OpenAiChat),
        ("my-res.services.ai.azure.com", "/models/chat/completions?api-version=2024-05-01-preview", Provider::AzureAiInference, Api::OpenAiChat),
        ("gw.internal", "/models/embeddings?api-version=2024-05-01-preview", Provider::AzureAiInference, Api::OpenAiEmbeddings),
        ("my-res.services.ai.azure.com", "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", Provider::AzureOpenAi, Api::OpenAiChat),
        ("us-central1-aiplatform.googleapis.com", "/v1beta1/projects/p/locations/us-central1/endpoints/openapi/chat/completions", Provider::VertexAi, Api::OpenAiChat),
        ("api.openai.com", "/v1/responses/resp_abc123", Provider::OpenAi, Api::OpenAiResponses),
        ("together.internal", "/v1/chat/completions", Provider::OpenAiCompatible, Api::OpenAiChat),
    ];
    for (host, path, provider, api) in cases {
        let d = detect(host, path).unwrap_or_else(|| panic!("{host}{path}"));
        assert_eq!((d.provider, d.api), (*provider, *api), "{host}{path}");
    }
    // every provider detected by host has a registry name, not `openai_compatible`
    for p in [Provider::XAi, Provider::Perplexity, Provider::Cohere, Provider::AzureAiInference] {
        assert_eq!(Provider::from_config_name(p.semconv_name()), Some(p));
    }
    assert_eq!(Provider::XAi.semconv_name(), "x_ai");
    assert_eq!(Provider::AzureAiInference.semconv_name(), "azure.ai.inference");
    for (host, path) in [
        ("api.openai.com", "/v1/responses/resp_abc/input_items"),
        ("example.com", "/models/chat/completions"),
        ("example.com", "/v2/chatter"),
        ("x-aiplatform.googleapis.com", "/v1/projects/p/locations/l/publishers/anthropic/models/claude:countTokens"),
    ] {
        assert_eq!(detect(host, path), None, "{host}{path}");
    }
}

#[test]
fn vertex_partner_models_take_the_model_from_the_path() {
    let d = detect(
        "europe-west1-aiplatform.googleapis.com",
        "/v1/projects/p/locations/europe-west1/publishers/anthropic/models/claude-3-5-haiku@20241022:streamRawPredict",
    )
    .unwrap();
    assert_eq!((d.provider, d.api, d.path_model.as_deref(), d.path_stream), (Provider::VertexAi, Api::AnthropicMessages, Some("claude-3-5-haiku@20241022"), true));
    let d = detect("aiplatform.googleapis.com", "/v1/projects/p/locations/global/publishers/mistralai/models/mistral-medium-3:rawPredict").unwrap();
    assert_eq!((d.provider, d.api, d.path_model.as_deref(), d.path_stream), (Provider::VertexAi, Api::OpenAiChat, Some("mistral-medium-3"), false));
    // the Vertex request carries no model: the path's fills it in
    let (_, call) = Fixture::load("vertexai/anthropic_raw_predict").run(&[]);
    assert_eq!(call.request_model.as_deref(), Some("claude-sonnet-4-5@20250929"));
    assert_eq!(call.params.max_tokens, Some(256));
}

/// A shape the reader does not know inside a delta never costs the call its usage, model or
/// finish reason: content as a list of parts, and a tool call of an unknown form.
#[test]
fn unknown_delta_shapes_keep_usage_model_and_finish_reason() {
    let sse = |chunks: &[&str]| -> LlmCall {
        let mut call = LlmCall::default();
        let mut r = ResponseReader::new(Api::OpenAiChat);
        let mut content = 0;
        for c in chunks {
            let facts = r.handle_frame(Frame::Sse { event: None, data: c.as_bytes() }, &mut call).unwrap_or_else(|e| panic!("{c}: {e:?}"));
            content += usize::from(facts.content);
        }
        r.finish(&mut call);
        assert!(content >= 1, "{chunks:?}: content seen");
        call
    };
    let cases: &[&[&str]] = &[
        // thinking blocks as a list of parts, then a final usage chunk
        &[
            r#"{"id":"a","model":"m-1","choices":[{"index":0,"delta":{"content":[{"type":"thinking","thinking":[{"type":"text","text":"hm"}]}]},"finish_reason":null}]}"#,
            r#"{"id":"a","model":"m-1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":5}}"#,
            "[DONE]",
        ],
        // usage in the same chunk as a list-of-parts delta
        &[r#"{"id":"a","model":"m-1","choices":[{"index":0,"delta":{"content":[{"type":"text","text":"x"}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":5}}"#, "[DONE]"],
        // a tool call of a shape we do not know (not a list), and reasoning as an object
        &[
            r#"{"id":"a","model":"m-1","choices":[{"index":0,"delta":{"tool_calls":{"weird":true},"reasoning":{"text":"r"}},"finish_reason":null}]}"#,
            r#"{"id":"a","model":"m-1","choices":[{"index":0,"delta":{"content":7},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":5}}"#,
            "[DONE]",
        ],
    ];
    for chunks in cases {
        let call = sse(chunks);
        assert_eq!((call.usage.input, call.usage.output), (Some(3), Some(5)), "{chunks:?}");
        assert_eq!(call.response_model.as_deref(), Some("m-1"), "{chunks:?}");
        assert_eq!(call.finish_reasons, vec!["stop".to_owned()], "{chunks:?}");
        assert!(call.stream_complete);
    }
    // the same for a whole body whose message is of an unknown shape
    let mut call = LlmCall::default();
    let body = br#"{"id":"b","model":"m-2","choices":[{"index":0,"message":{"tool_calls":"?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2}}"#;
    ResponseReader::new(Api::OpenAiChat).handle_json(body, &mut call).unwrap();
    assert_eq!((call.usage.input, call.usage.output, call.response_model.as_deref()), (Some(1), Some(2), Some("m-2")));
    assert_eq!(call.finish_reasons, vec!["stop".to_owned()]);
    // still JSON of no completion shape at all is an error, as before
    assert!(ResponseReader::new(Api::OpenAiChat).handle_frame(Frame::Sse { event: None, data: b"{\"choices\":7}" }, &mut call).is_err());
}

#[test]
fn responses_built_in_tools_are_tool_calls_of_their_type() {
    let (_, call) = Fixture::load("openai/responses_builtin_tools").run(&[]);
    let by_name = |n: &str| call.tool_calls.iter().find(|t| t.name == n).unwrap_or_else(|| panic!("{n}"));
    assert_eq!(by_name("web_search").id, "ws_67c9fa0502748190b7dd390736892e100be649c1a5ff9609");
    assert!(by_name("web_search").arguments.contains("positive news today"));
    assert_eq!(by_name("ask_question").tool_type, ToolType::Extension);
    assert!(by_name("ask_question").arguments.contains("repoName"));
    assert_eq!(by_name("computer").id, "call_zw3KgRDkCPrxF6k8XyF3ECEa", "the id the client answers with");
    assert_eq!(by_name("code_interpreter").arguments, "print(2**10)");
    assert_eq!(by_name("file_search").arguments, r#"["What is deep research?"]"#);
    // a background read: a GET with no body reads nothing and is not malformed
    let mut call = LlmCall::default();
    assert_eq!(handle_request(Api::OpenAiResponses, b"", &mut call), Ok(()));
    assert_eq!(call.request_model, None);
}

#[test]
fn cohere_reports_billed_units_and_reads_its_parameters() {
    let (_, call) = Fixture::load("cohere/chat").run(&[]);
    // billed units (17), not the tokens the model read (85)
    assert_eq!(call.usage.input, Some(17));
    assert_eq!((call.params.top_p, call.params.top_k), (Some(0.75), Some(40.0)));
    assert_eq!(call.response_id.as_deref(), Some("c14c80c3-18eb-4519-9460-6c92edd8cfb4"));
    let (_, call) = Fixture::load("cohere/chat_stream_tool_call").run(&[]);
    let args: Vec<&str> = call.tool_calls.iter().map(|t| t.arguments.as_str()).collect();
    assert_eq!(args, [r#"{"location":"Toronto"}"#, r#"{"location":"Paris"}"#]);
    assert_eq!(call.tool_calls[0].id, "get_weather_nsz5zm3w56q3");
    // only billed units: the tokens fall back
    let mut call = LlmCall::default();
    ResponseReader::new(Api::CohereChat)
        .handle_json(br#"{"id":"x","finish_reason":"MAX_TOKENS","message":{},"usage":{"tokens":{"input_tokens":9.0,"output_tokens":4}}}"#, &mut call)
        .unwrap();
    assert_eq!((call.usage.input, call.usage.output), (Some(9), Some(4)));
    // an error body
    let mut call = LlmCall::default();
    ResponseReader::new(Api::CohereChat).handle_json(br#"{"id":"e","message":"invalid request: model not found"}"#, &mut call).unwrap();
    assert_eq!(call.error_type.as_deref(), Some("error"));
    // a user's tool result is the last message
    let mut call = LlmCall::default();
    handle_request(Api::CohereChat, br#"{"model":"command-a-03-2025","messages":[{"role":"user","content":"x"},{"role":"tool","tool_call_id":"t","content":"y"}]}"#, &mut call).unwrap();
    assert!(call.last_message_is_tool_result);
}

#[test]
fn cohere_v1_and_embed_read_their_own_shapes() {
    // v1: the response id over the generation id, billed units over tokens, parameters as p/k
    let (_, call) = Fixture::load("cohere/chat_v1").run(&[]);
    assert_eq!(call.response_id.as_deref(), Some("d21e6ea5-f4b0-4cd4-9f3d-a2b8d0c6e4f1"));
    assert_eq!((call.usage.input, call.usage.output), (Some(31), Some(111)));
    assert_eq!((call.params.top_p, call.params.top_k, call.params.temperature), (Some(0.75), Some(0.0), Some(0.3)));
    // v1 tool calls carry their arguments as an object; a stream sends them whole once
    let (_, call) = Fixture::load("cohere/chat_v1_stream_tool_call").run(&[]);
    let args: Vec<&str> = call.tool_calls.iter().map(|t| t.arguments.as_str()).collect();
    assert_eq!(args, [r#"{"day":"2023-09-29"}"#], "counted once, not again from stream-end");
    assert_eq!(call.response_id.as_deref(), Some("b6e2f0a1-3c4d-4e5f-8a9b-0c1d2e3f4a5b"));
    // a v1 stream without its stream-end is not complete, and has no usage
    let mut call = LlmCall::default();
    let mut r = ResponseReader::new(Api::CohereChatV1);
    let facts = r.handle_frame(Frame::Json(br#"{"is_finished":false,"event_type":"text-generation","text":"Hi"}"#), &mut call).unwrap();
    assert!(facts.content && !call.stream_complete && call.usage.output.is_none());
    // tool results sent back make a tool-result step
    let mut call = LlmCall::default();
    handle_request(Api::CohereChatV1, br#"{"message":"","model":"command-r","tool_results":[{"call":{"name":"q","parameters":{}},"outputs":[{"n":1}]}]}"#, &mut call).unwrap();
    assert!(call.last_message_is_tool_result);
    assert_eq!(call.request_model.as_deref(), Some("command-r"));
    // v1 and Embed errors: a message and nothing else
    for api in [Api::CohereChatV1, Api::CohereEmbed] {
        let mut call = LlmCall::default();
        ResponseReader::new(api).handle_json(br#"{"message":"invalid api token"}"#, &mut call).unwrap();
        assert_eq!(call.error_type.as_deref(), Some("error"), "{api:?}");
    }
    // Embed: input tokens only, the id as the response id
    let (d, call) = Fixture::load("cohere/embed_v1").run(&[]);
    assert_eq!((d.operation, call.usage.input, call.usage.output), (Operation::Embeddings, Some(2), None));
    assert_eq!(call.response_id.as_deref(), Some("da6e531f-54c6-4a73-bf92-f60566d8d753"));
    // paths: exact anywhere, any prefix on Cohere's hosts, nothing that merely looks alike
    assert_eq!(detect("gw.internal", "/v1/chat").map(|d| d.api), Some(Api::CohereChatV1));
    assert_eq!(detect("api.cohere.com", "/cohere/v2/embed").map(|d| d.api), Some(Api::CohereEmbed));
    assert_eq!(detect("gw.internal", "/v1/embeddings").map(|d| d.api), Some(Api::OpenAiEmbeddings));
    assert_eq!(detect("gw.internal", "/x/v1/embed"), None);
    // only v1 chat streams are JSON lines
    assert_eq!(stream_format(Api::CohereChatV1, false, "application/stream+json"), Some(StreamFormat::Ndjson));
    assert_eq!(stream_format(Api::CohereEmbed, false, "application/json"), None);
}

#[test]
fn bedrock_invoke_request_parameters_of_every_family() {
    let params = |name: &str| Fixture::load(name).run(&[]).1.params;
    let p = params("bedrock/invoke_mistral_text");
    assert_eq!((p.max_tokens, p.temperature, p.top_p, p.top_k, p.stop_sequences.clone()), (Some(200), Some(0.5), Some(0.9), Some(50.0), vec!["</s>".to_owned()]));
    let p = params("bedrock/invoke_cohere_command_r");
    assert_eq!((p.max_tokens, p.top_p, p.top_k, p.seed), (Some(300), Some(0.75), Some(0.0), Some(7)));
    let p = params("bedrock/invoke_llama4");
    assert_eq!(p.max_tokens, Some(128));
    let p = params("bedrock/invoke_jurassic2");
    assert_eq!(p.max_tokens, Some(20));
    let p = params("bedrock/invoke_cohere_command_text");
    assert_eq!(p.stop_sequences, vec!["--".to_owned()]);
    // Claude's snake_case keys (the reader once read them as camelCase and missed them)
    let (_, call) = Fixture::load("bedrock/invoke_claude3").run(&[]);
    assert!(call.params.max_tokens.is_some(), "{:?}", call.params);
}

#[test]
fn malformed_bodies_of_the_new_readers_are_errors_not_panics() {
    let mut call = LlmCall::default();
    for api in [Api::CohereChat, Api::CohereChatV1, Api::CohereEmbed, Api::MistralFim, Api::BedrockInvoke] {
        let mut r = ResponseReader::new(api);
        for bad in [&b"{"[..], b"[1,2", b"\xff\xfe", b"{\"type\":7}"] {
            let _ = r.handle_frame(Frame::Sse { event: None, data: bad }, &mut call);
            let _ = r.handle_frame(Frame::Json(bad), &mut call);
        }
        assert!(r.handle_json(b"not json", &mut call).is_err(), "{api:?}");
    }
    assert!(handle_request(Api::CohereChat, b"<xml/>", &mut call).is_err());
    let mut r = ResponseReader::new(Api::BedrockInvoke);
    assert!(r.handle_json(br#"{"outputs":"not a list"}"#, &mut call).is_err());
}

#[test]
fn every_new_recording_is_priced_by_the_default_table() {
    let pricing = crate::cost::PriceTable::compile(crate::config::pricing::RawPricing::default()).unwrap();
    for (name, ..) in PLAIN.iter().chain(STREAMED) {
        let (d, call) = Fixture::load(name).run(&[]);
        // as the exchange prices: the response's model, else the request's (Bedrock's path id)
        let model = call.response_model.as_deref().or(call.request_model.as_deref()).unwrap_or("");
        assert!(crate::cost::cost(&pricing, model, &call.usage, d.provider).is_some(), "{name}: {model} has no price");
    }
    let micro = |name: &str| {
        let (d, call) = Fixture::load(name).run(&[]);
        let model = call.response_model.clone().or(call.request_model.clone()).unwrap_or_default();
        crate::cost::cost(&pricing, &model, &call.usage, d.provider).unwrap().micro_usd
    };
    // 17 billed input tokens at $2.50/M and 386 output at $10/M: 42.5 + 3860 micro-USD
    assert_eq!(micro("cohere/chat"), 3903);
    // 18 input at $0.28/M and 512 output at $0.42/M: 5.04 + 215.04
    assert_eq!(micro("deepseek/reasoner"), 220);
    // Bedrock Jamba mini: 12 at $0.2/M and 3 at $0.4/M
    assert_eq!(micro("bedrock/invoke_jamba"), 4);
}
