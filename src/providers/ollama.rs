//! Ollama's native API: `/api/chat`, `/api/generate` and the embeddings endpoints.
//!
//! Streams are NDJSON, one JSON object per line, the last with `done: true` and the counts:
//! `prompt_eval_count` (input) and `eval_count` (output). Ollama streams by default, so a
//! request without `"stream": false` is a stream.

use super::{Api, Detected, ExtractError, FrameFacts, LlmCall, Operation, Provider, ToolCall};
use crate::framing::{Frame, StreamFormat};
use serde::Deserialize;

pub(crate) fn detect(_host: &str, path: &str) -> Option<Detected> {
    let p = path.split('?').next().unwrap_or(path).trim_end_matches('/');
    let (api, operation) = match p {
        "/api/chat" => (Api::OllamaChat, Operation::Chat),
        "/api/generate" => (Api::OllamaGenerate, Operation::TextCompletion),
        "/api/embeddings" | "/api/embed" => (Api::OllamaEmbed, Operation::Embeddings),
        _ => return None,
    };
    Some(Detected { provider: Provider::Ollama, api, operation, path_model: None, path_stream: false })
}

pub(crate) fn stream_format(api: Api, content_type: &str) -> Option<StreamFormat> {
    // Ollama has answered streams as application/json in some versions; the body decides.
    (api != Api::OllamaEmbed && content_type.contains("ndjson")).then_some(StreamFormat::Ndjson)
}

#[derive(Deserialize, Default)]
struct Options {
    num_predict: Option<i64>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    top_k: Option<f64>,
    seed: Option<i64>,
    #[serde(default)]
    stop: Vec<String>,
}

#[derive(Deserialize)]
struct Request {
    model: Option<String>,
    stream: Option<bool>,
    options: Option<Options>,
    #[serde(default)]
    messages: Vec<RoleOnly>,
}

#[derive(Deserialize)]
struct RoleOnly {
    role: Option<String>,
}

pub(crate) fn handle_request(api: Api, body: &[u8], call: &mut LlmCall) -> Result<(), ExtractError> {
    let r: Request = serde_json::from_slice(body).map_err(|_| ExtractError::malformed("request is not JSON"))?;
    call.request_model = r.model.or(call.request_model.take());
    let o = r.options.unwrap_or_default();
    let p = &mut call.params;
    p.max_tokens = o.num_predict;
    p.temperature = o.temperature;
    p.top_p = o.top_p;
    p.top_k = o.top_k;
    p.seed = o.seed;
    p.stop_sequences = o.stop;
    p.stream = Some(api != Api::OllamaEmbed && r.stream.unwrap_or(true));
    call.last_message_is_tool_result = r.messages.last().and_then(|m| m.role.as_deref()) == Some("tool");
    Ok(())
}

#[derive(Deserialize)]
struct Function {
    name: Option<String>,
    arguments: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct OllamaToolCall {
    function: Option<Function>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    content: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    thinking: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    tool_calls: Option<Vec<OllamaToolCall>>,
}

/// One chat or generate object: a whole response, or one line of a stream.
#[derive(Deserialize)]
struct Chunk<'a> {
    model: Option<String>,
    #[serde(borrow)]
    message: Option<Message<'a>>,
    #[serde(borrow)]
    response: Option<std::borrow::Cow<'a, str>>,
    done: Option<bool>,
    done_reason: Option<String>,
    prompt_eval_count: Option<u64>,
    eval_count: Option<u64>,
    /// `/api/embed` reports its input count.
    error: Option<String>,
}

fn apply(c: Chunk<'_>, call: &mut LlmCall) -> FrameFacts {
    if call.response_model.is_none() {
        call.response_model = c.model.filter(|m| !m.is_empty());
    }
    if let Some(e) = c.error {
        call.error_type = Some(if e.contains("not found") { "model_not_found".to_owned() } else { "error".to_owned() });
    }
    let non_empty = |s: &Option<std::borrow::Cow<'_, str>>| s.as_deref().is_some_and(|s| !s.is_empty());
    let mut content = non_empty(&c.response);
    if let Some(m) = c.message {
        content |= non_empty(&m.content) || non_empty(&m.thinking);
        for t in m.tool_calls.into_iter().flatten() {
            content = true;
            let f = t.function;
            call.tool_calls.push(ToolCall {
                id: String::new(),
                name: f.as_ref().and_then(|f| f.name.clone()).unwrap_or_default(),
                arguments: f.and_then(|f| f.arguments).map(|a| a.to_string()).unwrap_or_else(|| "{}".to_owned()),
                ..Default::default()
            });
        }
    }
    if c.done == Some(true) {
        call.stream_complete = true;
        if let Some(r) = c.done_reason {
            call.finish_reasons = vec![r];
        }
        call.usage.input = c.prompt_eval_count.or(call.usage.input);
        call.usage.output = c.eval_count.or(call.usage.output);
    }
    FrameFacts { content }
}

#[derive(Debug, Default)]
pub(crate) struct StreamState {}

impl StreamState {
    pub(crate) fn handle_frame(&mut self, _api: Api, frame: Frame<'_>, call: &mut LlmCall) -> Result<FrameFacts, ExtractError> {
        let Frame::Json(line) = frame else { return Ok(FrameFacts::default()) };
        let c: Chunk<'_> = serde_json::from_slice(line).map_err(|_| ExtractError::malformed("stream line is not JSON"))?;
        Ok(apply(c, call))
    }

    pub(crate) fn handle_json(&mut self, api: Api, body: &[u8], call: &mut LlmCall) -> Result<(), ExtractError> {
        if api == Api::OllamaEmbed {
            let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| ExtractError::malformed("response is not JSON"))?;
            call.response_model = v["model"].as_str().map(str::to_owned).or(call.response_model.take());
            call.usage.input = v["prompt_eval_count"].as_u64().or(call.usage.input);
            return Ok(());
        }
        // a stream sent as application/json is several lines: read each
        let mut any = false;
        for line in body.split(|b| *b == b'\n').filter(|l| !l.trim_ascii().is_empty()) {
            let c: Chunk<'_> = serde_json::from_slice(line).map_err(|_| ExtractError::malformed("response is not JSON"))?;
            apply(c, call);
            any = true;
        }
        if !any {
            return Err(ExtractError::malformed("empty response"));
        }
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
    use super::StreamState;

    #[test]
    fn every_fixture_matches() {
        for name in ["ollama/chat", "ollama/generate", "ollama/chat_tools_defined_no_call", "ollama/embeddings"] {
            let fx = Fixture::load(name);
            let (d, call) = fx.run(&[]);
            assert_eq!(d.provider, Provider::Ollama, "{name}");
            fx.assert_expected(&call, false);
        }
        for name in ["ollama/chat_stream_ndjson", "ollama/generate_stream_ndjson"] {
            let fx = Fixture::load(name);
            let (_, call) = fx.run_all_splits();
            fx.assert_expected(&call, false);
            assert!(call.stream_complete, "{name}");
            assert_eq!(call.params.stream, Some(true));
        }
        let (d, _) = Fixture::load("ollama/generate").run(&[]);
        assert_eq!(d.operation, Operation::TextCompletion);
        let (d, call) = Fixture::load("ollama/embeddings").run(&[]);
        assert_eq!((d.operation, call.params.stream), (Operation::Embeddings, Some(false)));
    }

    #[test]
    fn tool_calls_and_tool_results() {
        let mut call = LlmCall::default();
        let mut s = StreamState::default();
        s.handle_json(
            Api::OllamaChat,
            br#"{"model":"llama3.1","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Paris"}}}]},"done":true,"done_reason":"stop","prompt_eval_count":9,"eval_count":4}"#,
            &mut call,
        )
        .unwrap();
        assert_eq!(call.tool_calls[0].name, "get_weather");
        assert_eq!(call.tool_calls[0].arguments, r#"{"city":"Paris"}"#);
        assert_eq!((call.usage.input, call.usage.output), (Some(9), Some(4)));
        let mut call = LlmCall::default();
        handle_request(Api::OllamaChat, br#"{"model":"m","messages":[{"role":"user"},{"role":"tool","content":"22C"}]}"#, &mut call).unwrap();
        assert!(call.last_message_is_tool_result);
    }
}
