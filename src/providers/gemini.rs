//! Google Gemini (the Gemini API) and Vertex AI: `generateContent`, `streamGenerateContent`
//! (SSE with `alt=sse`, else a streamed JSON array) and the embedding methods.
//!
//! The model is in the path (`/v1beta/models/{model}:{method}`, or Vertex's
//! `.../publishers/google/models/{model}:{method}`). `usageMetadata` is cumulative in streams,
//! so the last one wins. `promptTokenCount` already includes `cachedContentTokenCount`.

use super::{Api, Detected, ExtractError, FrameFacts, LlmCall, Operation, Provider, ToolCall};
use crate::framing::{Frame, StreamFormat};
use serde::Deserialize;

pub(crate) fn detect(host: &str, path: &str) -> Option<Detected> {
    let p = path.split('?').next().unwrap_or(path);
    let (before, method) = p.rsplit_once(':')?;
    let model_start = before.rfind("/models/")? + "/models/".len();
    let model = before.get(model_start..)?;
    if model.is_empty() || model.contains('/') {
        return None;
    }
    let vertex = before.contains("/publishers/") || host.ends_with("aiplatform.googleapis.com");
    if !(vertex || before.starts_with("/v1beta/models/") || before.starts_with("/v1/models/") || before.starts_with("/v1alpha/models/")) {
        return None;
    }
    let (api, operation, stream) = match method {
        "generateContent" => (Api::GeminiGenerate, Operation::GenerateContent, false),
        "streamGenerateContent" => (Api::GeminiGenerate, Operation::GenerateContent, true),
        "embedContent" | "batchEmbedContents" | "predict" => (Api::GeminiEmbed, Operation::Embeddings, false),
        _ => return None,
    };
    let provider = if vertex { Provider::VertexAi } else { Provider::Gemini };
    Some(Detected { provider, api, operation, path_model: Some(model.to_owned()), path_stream: stream })
}

/// The stream format of a `streamGenerateContent` response that is not SSE: without
/// `alt=sse`, Gemini answers `application/json` with a JSON array that arrives piece by piece.
pub(crate) fn array_stream() -> StreamFormat {
    StreamFormat::JsonArray
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig {
    max_output_tokens: Option<i64>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    top_k: Option<f64>,
    candidate_count: Option<i64>,
    seed: Option<i64>,
    #[serde(default)]
    stop_sequences: Vec<String>,
    frequency_penalty: Option<f64>,
    presence_penalty: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    generation_config: Option<GenerationConfig>,
    #[serde(default)]
    contents: Vec<ContentParts>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContentParts {
    #[serde(default)]
    parts: Vec<PartKind>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PartKind {
    function_response: Option<serde::de::IgnoredAny>,
}

pub(crate) fn handle_request(_api: Api, body: &[u8], call: &mut LlmCall) -> Result<(), ExtractError> {
    let r: Request = serde_json::from_slice(body).map_err(|_| ExtractError::malformed("request is not JSON"))?;
    let g = r.generation_config.unwrap_or_default();
    let p = &mut call.params;
    p.max_tokens = g.max_output_tokens;
    p.temperature = g.temperature;
    p.top_p = g.top_p;
    p.top_k = g.top_k;
    p.choice_count = g.candidate_count.filter(|n| *n != 1);
    p.seed = g.seed;
    p.stop_sequences = g.stop_sequences;
    p.frequency_penalty = g.frequency_penalty;
    p.presence_penalty = g.presence_penalty;
    call.last_message_is_tool_result =
        r.contents.last().is_some_and(|c| c.parts.iter().any(|p| p.function_response.is_some()));
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Usage {
    prompt_token_count: Option<u64>,
    candidates_token_count: Option<u64>,
    cached_content_token_count: Option<u64>,
    thoughts_token_count: Option<u64>,
}

#[derive(Deserialize)]
struct FunctionCall {
    id: Option<String>,
    name: Option<String>,
    args: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part<'a> {
    #[serde(borrow)]
    text: Option<std::borrow::Cow<'a, str>>,
    function_call: Option<FunctionCall>,
}

#[derive(Deserialize)]
struct Content<'a> {
    #[serde(borrow, default)]
    parts: Vec<Part<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate<'a> {
    #[serde(borrow)]
    content: Option<Content<'a>>,
    finish_reason: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ErrorBody {
    status: Option<String>,
    code: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Response<'a> {
    #[serde(borrow, default)]
    candidates: Vec<Candidate<'a>>,
    usage_metadata: Option<Usage>,
    model_version: Option<String>,
    response_id: Option<String>,
    error: Option<ErrorBody>,
}

fn apply(r: Response<'_>, call: &mut LlmCall) -> FrameFacts {
    let mut content = false;
    if let Some(m) = r.model_version.filter(|m| !m.is_empty()) {
        call.response_model = Some(m);
    }
    if let Some(id) = r.response_id.filter(|i| !i.is_empty()) {
        call.response_id = Some(id);
    }
    if let Some(e) = r.error {
        call.error_type = e.status.or_else(|| e.code.map(|c| c.to_string()));
    }
    if let Some(u) = r.usage_metadata {
        call.usage.input = u.prompt_token_count.or(call.usage.input);
        call.usage.output = u.candidates_token_count.or(call.usage.output);
        call.usage.cache_read = u.cached_content_token_count.or(call.usage.cache_read);
        call.usage.reasoning = u.thoughts_token_count.or(call.usage.reasoning);
    }
    let mut reasons = Vec::new();
    for c in r.candidates {
        if let Some(f) = c.finish_reason {
            reasons.push(match f {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            });
        }
        for part in c.content.map(|c| c.parts).unwrap_or_default() {
            content |= part.text.as_deref().is_some_and(|t| !t.is_empty());
            if let Some(fc) = part.function_call {
                content = true;
                call.tool_calls.push(ToolCall {
                    id: fc.id.unwrap_or_default(),
                    name: fc.name.unwrap_or_default(),
                    arguments: fc.args.map(|a| a.to_string()).unwrap_or_else(|| "{}".to_owned()),
                    ..Default::default()
                });
            }
        }
    }
    if !reasons.is_empty() {
        call.finish_reasons = reasons;
        // a finish reason is the last chunk's mark
        call.stream_complete = true;
    }
    FrameFacts { content }
}

#[derive(Debug, Default)]
pub(crate) struct StreamState {}

impl StreamState {
    pub(crate) fn handle_frame(&mut self, _api: Api, frame: Frame<'_>, call: &mut LlmCall) -> Result<FrameFacts, ExtractError> {
        let data = match frame {
            Frame::Sse { data, .. } | Frame::Json(data) => data,
            Frame::EventStream { .. } => return Ok(FrameFacts::default()),
        };
        if data.trim_ascii().is_empty() {
            return Ok(FrameFacts::default());
        }
        let r: Response<'_> = serde_json::from_slice(data).map_err(|_| ExtractError::malformed("stream chunk is not JSON"))?;
        Ok(apply(r, call))
    }

    pub(crate) fn handle_json(&mut self, api: Api, body: &[u8], call: &mut LlmCall) -> Result<(), ExtractError> {
        if api == Api::GeminiEmbed {
            // embeddings report no usage in the Gemini API; the error, if any, is still read
            let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| ExtractError::malformed("response is not JSON"))?;
            if let Some(s) = v["error"]["status"].as_str() {
                call.error_type = Some(s.to_owned());
            }
            return Ok(());
        }
        let trimmed = body.trim_ascii();
        if trimmed.first() == Some(&b'[') {
            // a whole streamed array, read at once
            let items: Vec<Response<'_>> = serde_json::from_slice(trimmed).map_err(|_| ExtractError::malformed("response is not JSON"))?;
            for r in items {
                apply(r, call);
            }
            return Ok(());
        }
        let r: Response<'_> = serde_json::from_slice(trimmed).map_err(|_| ExtractError::malformed("response is not JSON"))?;
        apply(r, call);
        Ok(())
    }

    pub(crate) fn finish(&mut self, _call: &mut LlmCall) {}

    pub(crate) fn state_bytes(&self) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;
    use super::super::*;

    #[test]
    fn every_fixture_matches() {
        for name in [
            "gemini/generate_content", "gemini/generate_content_b", "gemini/generate_content_multiple_tool_calls",
            "gemini/generate_content_tool", "gemini/batch_embed_contents", "vertexai/generate_content",
            "vertexai/generate_content_after_tool_result",
        ] {
            let fx = Fixture::load(name);
            let (d, call) = fx.run(&[]);
            let want = if name.starts_with("vertexai") { Provider::VertexAi } else { Provider::Gemini };
            assert_eq!(d.provider, want, "{name}");
            fx.assert_expected(&call, false);
        }
        for name in [
            "gemini/stream_generate_content", "gemini/stream_generate_content_thinking", "gemini/stream_generate_content_tool",
            "gemini/stream_generate_content_usage", "vertexai/stream_generate_content",
        ] {
            let fx = Fixture::load(name);
            let (d, call) = fx.run_all_splits();
            assert!(d.path_stream, "{name}");
            fx.assert_expected(&call, false);
            assert!(call.stream_complete, "{name}");
        }
    }

    #[test]
    fn the_model_and_operation_come_from_the_path() {
        let d = detect("generativelanguage.googleapis.com", "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse").unwrap();
        assert_eq!((d.path_model.as_deref(), d.operation, d.path_stream), (Some("gemini-2.0-flash"), Operation::GenerateContent, true));
        let d = detect("us-central1-aiplatform.googleapis.com", "/v1/projects/p/locations/l/publishers/google/models/gemini-2.5-pro:generateContent").unwrap();
        assert_eq!((d.provider, d.path_model.as_deref()), (Provider::VertexAi, Some("gemini-2.5-pro")));
        let d = detect("generativelanguage.googleapis.com", "/v1beta/models/gemini-embedding-001:batchEmbedContents").unwrap();
        assert_eq!(d.operation, Operation::Embeddings);
        assert_eq!(detect("example.com", "/v1beta/models/x:list"), None);
        assert_eq!(detect("example.com", "/files/a:b"), None);
        let (_, call) = Fixture::load("vertexai/generate_content_after_tool_result").run(&[]);
        assert!(call.last_message_is_tool_result);
        let (_, call) = Fixture::load("gemini/generate_content_multiple_tool_calls").run(&[]);
        assert_eq!(call.tool_calls.len(), 2);
        assert!(call.tool_calls.iter().all(|t| serde_json::from_str::<serde_json::Value>(&t.arguments).is_ok()));
    }

    #[test]
    fn the_json_array_stream_gives_the_same_result_as_sse() {
        // rebuild the SSE recording as the JSON-array stream Gemini sends without alt=sse
        let fx = Fixture::load("gemini/stream_generate_content_usage");
        let body = String::from_utf8(fx.response_body()).unwrap();
        let items: Vec<&str> = body.split("\r\n\r\n").filter_map(|e| e.strip_prefix("data: ")).collect();
        let array = format!("[{}]", items.join(",\r\n"));
        let (_, want) = fx.run(&[]);
        let run = |splits: &[usize]| {
            let mut call = LlmCall::default();
            handle_request(Api::GeminiGenerate, &fx.request_body(), &mut call).unwrap();
            call.request_model = Some("gemini-2.5-flash".into());
            let mut reader = ResponseReader::new(Api::GeminiGenerate);
            let mut dec = crate::framing::StreamDecoder::new(super::array_stream(), 1 << 20);
            let mut last = 0;
            for &cut in splits.iter().chain(std::iter::once(&array.len())) {
                dec.push(&array.as_bytes()[last..cut], &mut |f| {
                    reader.handle_frame(f, &mut call).unwrap();
                })
                .unwrap();
                last = cut;
            }
            dec.finish(&mut |_| {}).unwrap();
            reader.finish(&mut call);
            call
        };
        for i in (0..array.len()).step_by(7) {
            assert_eq!(run(&[i]), want, "split at {i}");
        }
    }
}
