//! Every provider's reader, fed any frames and bodies: no panic, whatever the bytes.
#![no_main]
use genai_tap::framing::Frame;
use genai_tap::providers::{handle_request, Api, LlmCall, ResponseReader};
use libfuzzer_sys::fuzz_target;

const APIS: &[Api] = &[
    Api::OpenAiChat, Api::OpenAiResponses, Api::OpenAiCompletions, Api::OpenAiEmbeddings, Api::AnthropicMessages,
    Api::AnthropicComplete, Api::GeminiGenerate, Api::GeminiEmbed, Api::BedrockConverse, Api::BedrockInvoke,
    Api::OllamaChat, Api::OllamaGenerate, Api::OllamaEmbed,
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let api = APIS[pick as usize % APIS.len()];
    let mut call = LlmCall::default();
    let _ = handle_request(api, rest, &mut call);
    let mut r = ResponseReader::new(api);
    for part in rest.split(|b| *b == b'\n') {
        let _ = r.handle_frame(Frame::Sse { event: None, data: part }, &mut call);
        let _ = r.handle_frame(Frame::Json(part), &mut call);
        let _ = r.handle_frame(Frame::EventStream { event_type: "chunk", message_type: "event", payload: part }, &mut call);
    }
    let _ = r.handle_json(rest, &mut call);
    r.finish(&mut call);
    assert!(r.state_bytes() < 1 << 24);
});
