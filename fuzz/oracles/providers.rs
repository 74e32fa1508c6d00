//! Every provider's reader, fed any frames and bodies: no panic, whatever the bytes.
//!
//! Shared by the `cargo fuzz` target of the same name and by `tests/fuzz_smoke.rs`.

use genai_tap::Frame;
use genai_tap::{read_llm_request, Api, LlmCall, ResponseReader};

const APIS: &[Api] = &[
    Api::OpenAiChat, Api::OpenAiResponses, Api::OpenAiCompletions, Api::OpenAiEmbeddings, Api::AnthropicMessages,
    Api::AnthropicComplete, Api::GeminiGenerate, Api::GeminiEmbed, Api::BedrockConverse, Api::BedrockInvoke,
    Api::OllamaChat, Api::OllamaGenerate, Api::OllamaEmbed, Api::CohereChat, Api::MistralFim,
];

/// The property this target checks, for one input: panics when it does not hold.
pub fn check(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else { return };
    let api = APIS[pick as usize % APIS.len()];
    let mut call = LlmCall::default();
    let _ = read_llm_request(api, rest, &mut call);
    let mut r = ResponseReader::new(api);
    for part in rest.split(|b| *b == b'\n') {
        let _ = r.handle_frame(Frame::Sse { event: None, data: part }, &mut call);
        let _ = r.handle_frame(Frame::Json(part), &mut call);
        let _ = r.handle_frame(Frame::EventStream { event_type: "chunk", message_type: "event", payload: part }, &mut call);
    }
    let _ = r.handle_json(rest, &mut call);
    r.finish(&mut call);
    assert!(r.state_bytes() < 1 << 24);
}
