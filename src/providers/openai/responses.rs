//! The OpenAI Responses API: the response object and its stream events, and its output items
//! read as tool calls (the client's functions and the built-in tools).
//!
//! This module owns reading those shapes into an [`LlmCall`]. It does not detect the API or
//! read request bodies (the parent module), nor Chat Completions (`chat`).

use super::{ErrorBody, StreamState, Usage};
use crate::providers::{ExtractError, FrameFacts, LlmCall, ToolCall};
use serde::Deserialize;

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
        use crate::providers::ToolType::{Datastore, Extension, Function};
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

/// A whole Responses API response object.
pub(super) fn read_json(body: &[u8], call: &mut LlmCall) -> Result<(), ExtractError> {
    let r: Response = serde_json::from_slice(body).map_err(|_| ExtractError::malformed("response is not JSON"))?;
    apply_response(r, call);
    Ok(())
}

impl StreamState {
    pub(super) fn response_event(&mut self, data: &[u8], call: &mut LlmCall) -> Result<FrameFacts, ExtractError> {
        let e: ResponseEvent<'_> = serde_json::from_slice(data).map_err(|_| ExtractError::malformed("stream event is not JSON"))?;
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
}
