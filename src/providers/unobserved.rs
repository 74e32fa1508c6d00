//! Provider traffic that genai-tap sees but does not read: batch jobs, file uploads and
//! realtime (WebSocket) sessions.
//!
//! Their bodies are not one call's prompt and completion (a batch holds thousands of calls in
//! a file uploaded earlier; a realtime session is a WebSocket of audio and events), so they
//! pass untouched. This module only names them, so that operators can count what genai-tap
//! is not reading (`unobserved_calls{api=...}`). It decides nothing about the exchange.

/// The API of a request that genai-tap recognises as provider traffic it does not read, or
/// `None`. `host` is lowercase without a port; `path` has its query; `header` reads one
/// request header by its lowercase name, and is asked only when the path leaves the answer
/// open. The values are public (a stat label) and never change.
pub fn unobserved_api(host: &str, path: &str, header: &dyn Fn(&str) -> Option<String>) -> Option<&'static str> {
    let p = path.split('?').next().unwrap_or(path).trim_end_matches('/');
    let websocket = || header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let anthropic = || host == "api.anthropic.com" || header("anthropic-version").is_some();
    let gemini = host == "generativelanguage.googleapis.com";
    let azure = host.ends_with(".openai.azure.com") || host.ends_with(".services.ai.azure.com");

    // Anthropic's message batches live under /v1/messages: check them before the OpenAI tails
    if has_segment_after(p, "/v1/messages/batches") {
        return Some("anthropic_message_batches");
    }
    // Gemini: batch mode, the Files API (and its upload host path), the Live API WebSocket
    if p.contains(":batchGenerateContent") || p.contains(":asyncBatchEmbedContent") || (gemini && has_root(p, "/batches")) {
        return Some("gemini_batches");
    }
    if gemini && (p.starts_with("/upload/") || has_root(p, "/files")) {
        return Some("gemini_files");
    }
    if p.contains("BidiGenerateContent") {
        return Some("gemini_live");
    }
    // OpenAI and Azure OpenAI (`/v1/...`, `/openai/...`, `/openai/v1/...`)
    let family = if azure { Azure } else { OpenAi };
    if has_root(p, "/batches") {
        return Some(family.pick("openai_batches", "azure_openai_batches"));
    }
    if has_root(p, "/files") || has_root(p, "/uploads") {
        if anthropic() {
            return Some("anthropic_files");
        }
        return Some(family.pick("openai_files", "azure_openai_files"));
    }
    // the path first: `upgrade` is a host call, asked only of a path that ends in /realtime
    if has_root(p, "/realtime") || (p.ends_with("/realtime") && websocket()) {
        return Some(family.pick("openai_realtime", "azure_openai_realtime"));
    }
    None
}

/// A request that leaves HTTP on a route genai-tap would otherwise read: a WebSocket (or other)
/// upgrade, or a `CONNECT` tunnel. Their bytes after the headers are frames or raw TCP, not a
/// call's body, so they pass untouched and are counted by what they are, when no API name fits
/// them better (`openai_realtime`). `method` and `upgrade` are the request's `:method` and
/// `upgrade` header. Public values (a stat label), never changed.
pub fn tunnel(method: Option<&str>, upgrade: Option<&str>) -> Option<&'static str> {
    if method.is_some_and(|m| m.eq_ignore_ascii_case("CONNECT")) {
        return Some("connect");
    }
    match upgrade {
        Some(u) if u.trim().eq_ignore_ascii_case("websocket") => Some("websocket"),
        Some(_) => Some("upgrade"),
        None => None,
    }
}

#[derive(Clone, Copy)]
enum Family {
    OpenAi,
    Azure,
}
use Family::{Azure, OpenAi};

impl Family {
    fn pick(self, openai: &'static str, azure: &'static str) -> &'static str {
        match self {
            OpenAi => openai,
            Azure => azure,
        }
    }
}

/// `p` is `{root}{resource}` or below it, where the root is an API root: `/v1`, `/openai`,
/// `/openai/v1` or `/v1beta` (`/v1/batches`, `/v1/files/file-abc/content`).
fn has_root(p: &str, resource: &str) -> bool {
    ["/v1", "/openai", "/openai/v1", "/v1beta"]
        .iter()
        .any(|root| p.strip_prefix(root).is_some_and(|rest| has_segment_after(rest, resource)))
}

/// `p` is `prefix` itself or a path below it (`/v1/files` and `/v1/files/x`, not `/v1/filesx`).
fn has_segment_after(p: &str, prefix: &str) -> bool {
    p.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn batch_file_and_realtime_traffic_is_named_by_api() {
        let none = h(&[]);
        let ws = h(&[("upgrade", "websocket"), ("connection", "Upgrade")]);
        let anth = h(&[("anthropic-version", "2023-06-01")]);
        type Case<'a> = (&'a str, &'a str, &'a [(String, String)], Option<&'a str>);
        let cases: &[Case<'_>] = &[
            ("api.openai.com", "/v1/batches", &none, Some("openai_batches")),
            ("api.openai.com", "/v1/batches/batch_abc/cancel", &none, Some("openai_batches")),
            ("api.openai.com", "/v1/files", &none, Some("openai_files")),
            ("api.openai.com", "/v1/files/file-abc/content", &none, Some("openai_files")),
            ("api.openai.com", "/v1/uploads/upload_abc/parts", &none, Some("openai_files")),
            ("api.openai.com", "/v1/realtime?model=gpt-realtime", &ws, Some("openai_realtime")),
            ("api.openai.com", "/v1/realtime/client_secrets", &none, Some("openai_realtime")),
            ("gw.internal", "/v1/realtime", &ws, Some("openai_realtime")),
            ("x.openai.azure.com", "/openai/realtime?api-version=2025-04-01-preview&deployment=gpt-4o-realtime", &ws, Some("azure_openai_realtime")),
            ("x.openai.azure.com", "/openai/batches?api-version=2024-10-21", &none, Some("azure_openai_batches")),
            ("x.openai.azure.com", "/openai/files?api-version=2024-10-21", &none, Some("azure_openai_files")),
            ("api.anthropic.com", "/v1/messages/batches", &none, Some("anthropic_message_batches")),
            ("api.anthropic.com", "/v1/messages/batches/msgbatch_01/results", &none, Some("anthropic_message_batches")),
            ("gw.internal", "/v1/messages/batches", &anth, Some("anthropic_message_batches")),
            ("api.anthropic.com", "/v1/files", &none, Some("anthropic_files")),
            ("generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-flash:batchGenerateContent", &none, Some("gemini_batches")),
            ("generativelanguage.googleapis.com", "/v1beta/batches/abc", &none, Some("gemini_batches")),
            ("generativelanguage.googleapis.com", "/upload/v1beta/files", &none, Some("gemini_files")),
            ("generativelanguage.googleapis.com", "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent", &ws, Some("gemini_live")),
            // the calls genai-tap reads, and paths that only look alike
            ("api.openai.com", "/v1/chat/completions", &none, None),
            ("api.anthropic.com", "/v1/messages", &none, None),
            ("api.openai.com", "/v1/filesystem", &none, None),
            ("example.com", "/static/files/a.png", &none, None),
            ("example.com", "/realtime", &none, None),
        ];
        for (host, path, headers, want) in cases {
            let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
            assert_eq!(unobserved_api(host, path, &get), *want, "{host}{path}");
        }
    }

    #[test]
    fn nothing_the_filter_reads_is_called_unobserved() {
        for (host, path) in [
            ("api.openai.com", "/v1/responses"),
            ("api.openai.com", "/v1/responses/resp_123"),
            ("api.openai.com", "/v1/embeddings"),
            ("api.anthropic.com", "/v1/messages"),
            ("generativelanguage.googleapis.com", "/v1beta/models/gemini-2.0-flash:generateContent"),
            ("api.cohere.com", "/v2/chat"),
        ] {
            assert!(crate::providers::detect(host, path).is_some(), "{host}{path}");
            assert_eq!(unobserved_api(host, path, &|_| None), None, "{host}{path}");
        }
    }
}
