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

mod converse;
mod invoke;

use super::anthropic;
use super::open_tools::OpenTools;
use super::{Api, Detected, ExtractError, FrameFacts, LlmCall, Operation, Provider};
use crate::framing::Frame;
use converse::{apply_converse, ConverseResponse};
use invoke::{apply_family, apply_text, is_family_body, FamilyBody, TextResponse};
use serde::Deserialize;


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
    let bad = || ExtractError::malformed("request is not JSON");
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

#[derive(Debug, Default)]
pub(crate) struct StreamState {
    /// Claude inside InvokeModelWithResponseStream speaks Anthropic's own events.
    anthropic: Option<anthropic::StreamState>,
    tools: OpenTools,
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

    pub(crate) fn handle_json(&mut self, api: Api, body: &[u8], call: &mut LlmCall) -> Result<(), ExtractError> {
        let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| ExtractError::malformed("response is not JSON"))?;
        if api == Api::BedrockInvoke && v.get("type").is_some() {
            return anthropic::read_response_json(body, call);
        }
        if is_family_body(&v) {
            let r: FamilyBody = serde_json::from_value(v).map_err(|_| ExtractError::malformed("response is not a known model body"))?;
            apply_family(r, call, false);
            return Ok(());
        }
        if v.get("output").is_some() || v.get("stopReason").is_some() || v.get("usage").is_some() {
            let r: ConverseResponse = serde_json::from_value(v).map_err(|_| ExtractError::malformed("response is not a Converse body"))?;
            apply_converse(r, call);
            return Ok(());
        }
        if v.get("message").is_some() && v.as_object().is_some_and(|o| o.len() <= 2) {
            // an error body: {"message": "..."}; the type is in x-amzn-errortype
            call.error_type.get_or_insert_with(|| "error".to_owned());
            return Ok(());
        }
        let t: TextResponse = serde_json::from_value(v).map_err(|_| ExtractError::malformed("response is not a known model body"))?;
        apply_text(t, call);
        Ok(())
    }

    pub(crate) fn finish(&mut self, call: &mut LlmCall) {
        if let Some(a) = &mut self.anthropic {
            a.finish(call);
        }
        self.tools.finish(call);
    }

    pub(crate) fn state_bytes(&self) -> usize {
        self.anthropic.as_ref().map_or(0, |a| a.state_bytes())
            + self.tools.state_bytes()
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
        let why = r.unwrap_err().to_string();
        assert!(why == "an event-stream checksum did not match" || why.starts_with("malformed stream: "), "{why}");
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
