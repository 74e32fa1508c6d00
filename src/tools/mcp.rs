//! MCP over streamable HTTP: JSON-RPC 2.0 requests and their responses, read for tool spans.
//!
//! Covers both protocol generations a current client may speak: 2025-11-25 (the `initialize`
//! handshake, `mcp-session-id`, responses as JSON or as SSE `event: message`) and 2026-07-28
//! (stateless `server/discover`, the version in `params._meta` and `mcp-protocol-version`). A
//! request body may be one message or a batch. Only shapes are kept from results: content types,
//! the top-level keys of `structuredContent`, and sizes; never values.

use serde::Deserialize;
use serde_json::value::RawValue;

/// Whether the request headers say MCP, before any body is read.
pub fn looks_like_mcp(headers: &[(&str, &str)]) -> bool {
    headers.iter().any(|(k, _)| HEADERS.contains(k))
}

/// The request headers that mark a call as MCP's streamable HTTP transport.
pub const HEADERS: [&str; 2] = ["mcp-protocol-version", "mcp-session-id"];

/// One JSON-RPC request or notification.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct McpRequest {
    /// The id as JSON text (`1`, `"abc"`); `None` for a notification.
    pub id: Option<String>,
    pub method: String,
    /// The tool of a `tools/call`.
    pub tool: Option<String>,
    /// The span name's target: the tool, the prompt's name, or the resource's URI.
    pub target: Option<String>,
    pub resource_uri: Option<String>,
    /// From `params._meta` (2026-07-28) or `initialize`'s `params.protocolVersion`.
    pub protocol_version: Option<String>,
    /// A `tools/call`'s arguments as JSON text (exported only sanitised, and only on request).
    pub arguments: Option<String>,
}

#[derive(Deserialize)]
struct RawMessage<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    method: Option<String>,
    #[serde(borrow)]
    params: Option<&'a RawValue>,
    #[serde(borrow)]
    result: Option<&'a RawValue>,
    error: Option<RpcError>,
}

#[derive(Deserialize)]
struct RpcError {
    code: Option<i64>,
}

#[derive(Deserialize)]
struct Params<'a> {
    name: Option<String>,
    uri: Option<String>,
    #[serde(rename = "protocolVersion")]
    protocol_version: Option<String>,
    #[serde(borrow)]
    arguments: Option<&'a RawValue>,
    #[serde(rename = "_meta")]
    meta: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The body is not JSON-RPC: not JSON, or not a message or a batch of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotJsonRpc;

impl core::fmt::Display for NotJsonRpc {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the body is not a JSON-RPC message or batch")
    }
}

impl std::error::Error for NotJsonRpc {}

fn messages(body: &[u8]) -> Result<Vec<RawMessage<'_>>, NotJsonRpc> {
    let trimmed = body.trim_ascii();
    if trimmed.first() == Some(&b'[') {
        serde_json::from_slice(trimmed).map_err(|_| NotJsonRpc)
    } else {
        serde_json::from_slice(trimmed).map(|m| vec![m]).map_err(|_| NotJsonRpc)
    }
}

/// Reads a POSTed body: one message or a batch. Responses the client sends (to server
/// requests) are skipped. `Err` when the body is not JSON-RPC.
pub fn parse_requests(body: &[u8]) -> Result<Vec<McpRequest>, NotJsonRpc> {
    let mut out = Vec::new();
    for m in messages(body)? {
        let Some(method) = m.method else { continue };
        let mut r = McpRequest { id: m.id.map(|i| i.get().to_owned()), method, ..McpRequest::default() };
        if let Some(p) = m.params.and_then(|p| serde_json::from_str::<Params<'_>>(p.get()).ok()) {
            r.protocol_version = p
                .meta
                .as_ref()
                .and_then(|m| m.get("io.modelcontextprotocol/protocolVersion"))
                .and_then(|v| v.as_str().map(str::to_owned))
                .or(p.protocol_version);
            match r.method.as_str() {
                "tools/call" => {
                    r.tool = p.name.clone();
                    r.target = p.name;
                    r.arguments = p.arguments.map(|a| a.get().to_owned());
                }
                "prompts/get" => r.target = p.name,
                "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
                    let uri = p.uri.map(|u| without_secrets(&u));
                    r.target = uri.clone();
                    r.resource_uri = uri;
                }
                _ => {}
            }
        }
        out.push(r);
    }
    Ok(out)
}

/// A URI without its user info, query and fragment, which can carry credentials and content.
fn without_secrets(uri: &str) -> String {
    let cut = uri.find(['?', '#']).unwrap_or(uri.len());
    let uri = &uri[..cut];
    match (uri.find("://"), uri.find('@')) {
        (Some(scheme), Some(at)) if at > scheme && !uri[scheme + 3..at].contains('/') => format!("{}{}", &uri[..scheme + 3], &uri[at + 1..]),
        _ => uri.to_owned(),
    }
}

/// What one JSON-RPC response said, by shape.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct McpResponse {
    pub id: Option<String>,
    /// A JSON-RPC error's code.
    pub error_code: Option<i64>,
    /// A tool result with `isError: true`.
    pub is_error: bool,
    /// The result's content block types, in order, without repeats.
    pub content_types: Vec<String>,
    /// The top-level keys of `structuredContent`.
    pub structured_keys: Vec<String>,
    /// `initialize`'s negotiated version.
    pub protocol_version: Option<String>,
    /// Bytes of the message.
    pub bytes: usize,
}

#[derive(Deserialize)]
struct ToolResult {
    #[serde(default)]
    content: Vec<ContentBlock>,
    #[serde(rename = "isError")]
    is_error: Option<bool>,
    #[serde(rename = "structuredContent")]
    structured: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(rename = "protocolVersion")]
    protocol_version: Option<String>,
}

#[derive(Deserialize)]
struct ContentBlock {
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// Reads a response body (JSON, a batch, or one SSE event's data).
pub fn parse_responses(body: &[u8]) -> Vec<McpResponse> {
    let Ok(msgs) = messages(body) else { return Vec::new() };
    let n = msgs.len().max(1);
    msgs.into_iter()
        .filter(|m| m.method.is_none())
        .map(|m| {
            let mut r = McpResponse { id: m.id.map(|i| i.get().to_owned()), error_code: m.error.and_then(|e| e.code), bytes: body.len() / n, ..McpResponse::default() };
            if let Some(res) = m.result.and_then(|x| serde_json::from_str::<ToolResult>(x.get()).ok()) {
                r.is_error = res.is_error.unwrap_or(false);
                for c in res.content {
                    if let Some(k) = c.kind {
                        if !r.content_types.contains(&k) {
                            r.content_types.push(k);
                        }
                    }
                }
                r.structured_keys = res.structured.map(|m| m.keys().cloned().collect()).unwrap_or_default();
                r.protocol_version = res.protocol_version;
            }
            r
        })
        .collect()
}

/// The conventions' `error.type` of a JSON-RPC error code (the code itself, as text), and
/// whether it means the caller was refused.
pub fn error_type(code: i64) -> String {
    code.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::{Frame, StreamDecoder, StreamFormat};

    fn exchanges(file: &str) -> Vec<serde_json::Value> {
        let path = format!("{}/../shared/fixtures/mcp/{file}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    fn responses_of(ex: &serde_json::Value) -> Vec<McpResponse> {
        let body = ex["response_body"].as_str().unwrap_or("").as_bytes();
        let ct = ex["response_headers"]["content-type"].as_str().unwrap_or("");
        if ct.starts_with("text/event-stream") {
            let mut out = Vec::new();
            // split at every byte: the SSE framing must not matter
            let mut whole = None;
            for cut in 0..=body.len() {
                let mut got = Vec::new();
                let mut dec = StreamDecoder::new(StreamFormat::Sse, 1 << 20);
                let mut sink = |f: Frame<'_>| {
                    if let Frame::Sse { data, .. } = f {
                        got.extend(parse_responses(data));
                    }
                };
                dec.push(&body[..cut], &mut sink).unwrap();
                dec.push(&body[cut..], &mut sink).unwrap();
                dec.finish(&mut sink).unwrap();
                match &whole {
                    None => whole = Some(got),
                    Some(w) => assert_eq!(&got, w, "split at {cut}"),
                }
            }
            out.extend(whole.unwrap_or_default());
            out
        } else {
            parse_responses(body)
        }
    }

    #[test]
    fn the_legacy_recording() {
        let ex = exchanges("wire_streamable_http_legacy_2025-11-25.jsonl");
        let reqs: Vec<Vec<McpRequest>> = ex.iter().map(|e| parse_requests(e["request_body"].as_str().unwrap_or("").as_bytes()).unwrap_or_default()).collect();
        assert_eq!(reqs[0][0].method, "initialize");
        assert_eq!(reqs[0][0].protocol_version.as_deref(), Some("2025-11-25"));
        assert_eq!(reqs[1][0].method, "notifications/initialized");
        assert_eq!(reqs[1][0].id, None);
        assert_eq!(reqs[2][0].method, "tools/list");
        let calls: Vec<&McpRequest> = reqs.iter().flatten().filter(|r| r.method == "tools/call").collect();
        let tools: Vec<&str> = calls.iter().filter_map(|r| r.tool.as_deref()).collect();
        assert_eq!(tools, ["get_weather", "add", "lookup_customer", "read_config"]);
        assert_eq!(calls[0].id.as_deref(), Some("3"));
        assert!(serde_json::from_str::<serde_json::Value>(calls[0].arguments.as_deref().unwrap()).unwrap().is_object());
        let init = responses_of(&ex[0]);
        assert_eq!(init[0].protocol_version.as_deref(), Some("2025-11-25"));
        let add = responses_of(&ex[4]);
        assert_eq!(add[0].id.as_deref(), Some("4"));
        assert_eq!(add[0].content_types, ["text"]);
        assert!(!add[0].is_error);
        assert!(add[0].structured_keys.contains(&"result".to_owned()), "{:?}", add[0].structured_keys);
    }

    #[test]
    fn the_modern_recording() {
        let ex = exchanges("wire_streamable_http_modern_2026-07-28.jsonl");
        let first = parse_requests(ex[0]["request_body"].as_str().unwrap().as_bytes()).unwrap();
        assert_eq!(first[0].method, "server/discover");
        assert_eq!(first[0].protocol_version.as_deref(), Some("2026-07-28"));
        let calls: Vec<McpRequest> = ex
            .iter()
            .flat_map(|e| parse_requests(e["request_body"].as_str().unwrap_or("").as_bytes()).unwrap_or_default())
            .filter(|r| r.method == "tools/call")
            .collect();
        assert_eq!(calls.len(), 4);
        assert!(calls.iter().all(|c| c.protocol_version.as_deref() == Some("2026-07-28")));
        for e in &ex {
            if e["response_headers"]["content-type"].as_str() == Some("application/json") && !e["response_body"].as_str().unwrap_or("").is_empty() {
                assert!(!responses_of(e).is_empty(), "{}", e["response_body"]);
            }
        }
    }

    #[test]
    fn batches_errors_and_resources() {
        let r = parse_requests(br#"{"jsonrpc":"2.0","id":9,"method":"resources/read","params":{"uri":"https://user:pw@docs.example/a?token=x#f"}}"#).unwrap();
        assert_eq!(r[0].resource_uri.as_deref(), Some("https://docs.example/a"), "no user info, query or fragment");
        let reqs = parse_requests(br#"[{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///a.txt"}},{"jsonrpc":"2.0","id":"b","method":"prompts/get","params":{"name":"summary"}},{"jsonrpc":"2.0","method":"notifications/progress"}]"#).unwrap();
        assert_eq!(reqs.len(), 3);
        assert_eq!((reqs[0].target.as_deref(), reqs[0].resource_uri.as_deref()), (Some("file:///a.txt"), Some("file:///a.txt")));
        assert_eq!((reqs[1].id.as_deref(), reqs[1].target.as_deref()), (Some("\"b\""), Some("summary")));
        assert_eq!(reqs[2].id, None);
        let resp = parse_responses(br#"[{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"bad"}},{"jsonrpc":"2.0","id":"b","result":{"content":[{"type":"text"},{"type":"image"},{"type":"text"}],"isError":true}}]"#);
        assert_eq!(resp[0].error_code, Some(-32602));
        assert_eq!((resp[1].is_error, resp[1].content_types.clone()), (true, vec!["text".to_owned(), "image".to_owned()]));
        assert_eq!(parse_requests(b"not json").unwrap_err(), NotJsonRpc);
        assert!(parse_requests(br#"{"hello":"world"}"#).unwrap().is_empty());
    }
}
