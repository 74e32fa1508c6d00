//! Plain HTTP tool calls: the side-effect summary and the result's shape.
//!
//! The summary is the action, not the content: the method, the host and the path with its ids
//! templated (`POST api.github.com /repos/{id}/{id}/issues`). Query strings are dropped whole.

/// Segments kept as they are besides plural nouns: words that name an action or a root.
const KEEP: &[&str] = &[
    "api", "search", "graphql", "me", "auth", "oauth", "token", "login", "logout", "health", "status", "query",
    "batch", "upload", "download", "content", "info", "config", "latest", "current", "self", "v1beta", "rest",
];

/// Whether a path segment names a kind of thing rather than one thing.
fn is_literal(seg: &str) -> bool {
    let b = seg.as_bytes();
    if b.len() >= 2 && b[0] == b'v' && b[1..].iter().all(u8::is_ascii_digit) {
        return true; // v1, v2
    }
    let word = !b.is_empty() && b.len() <= 24 && b.iter().all(|c| c.is_ascii_lowercase() || *c == b'-' || *c == b'_');
    word && (seg.ends_with('s') || KEEP.contains(&seg))
}

/// `METHOD host /templated/path`: segments that are not a plural noun or a known word (ids,
/// names, UUIDs, numbers, hashes, emails) become `{id}`.
pub fn side_effect(method: &str, host: &str, path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let mut out = String::with_capacity(path.len() + host.len() + 8);
    out.push_str(method);
    out.push(' ');
    out.push_str(host);
    out.push(' ');
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segs.is_empty() {
        out.push('/');
    }
    for seg in segs {
        out.push('/');
        out.push_str(if is_literal(seg) { seg } else { "{id}" });
    }
    out
}

/// The shape of a JSON result: its top-level type and, for an object, its keys (never values).
pub fn result_shape(body: &[u8]) -> Option<(&'static str, Vec<String>)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some(match v {
        serde_json::Value::Object(m) => ("object", m.keys().take(64).cloned().collect()),
        serde_json::Value::Array(_) => ("array", Vec::new()),
        serde_json::Value::String(_) => ("string", Vec::new()),
        serde_json::Value::Number(_) => ("number", Vec::new()),
        serde_json::Value::Bool(_) => ("boolean", Vec::new()),
        serde_json::Value::Null => ("null", Vec::new()),
    })
}

/// The authorization outcome of a tool call from its HTTP status.
pub fn authorization(status: Option<u16>) -> &'static str {
    match status {
        Some(401 | 403) => "refused",
        Some(s) if (200..400).contains(&s) => "allowed",
        _ => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_templated_and_queries_dropped() {
        let cases: &[(&str, &str, &str, &str)] = &[
            ("POST", "api.github.com", "/repos/octo/hello/issues", "POST api.github.com /repos/{id}/{id}/issues"),
            ("GET", "api.example.com", "/v1/users/42/orders/123e4567-e89b-12d3-a456-426614174000", "GET api.example.com /v1/users/{id}/orders/{id}"),
            ("DELETE", "inv.internal", "/items/9fceb02d?force=true&token=secret", "DELETE inv.internal /items/{id}"),
            ("GET", "api.example.com", "/search?q=jane@example.com", "GET api.example.com /search"),
            ("PUT", "crm", "/customers/jane.doe@example.com/notes", "PUT crm /customers/{id}/notes"),
            ("GET", "h", "/", "GET h /"),
            ("GET", "h", "/api/v2/status", "GET h /api/v2/status"),
        ];
        for (m, h, p, want) in cases {
            assert_eq!(side_effect(m, h, p), *want, "{p}");
        }
    }

    #[test]
    fn shapes_and_authorization() {
        assert_eq!(result_shape(br#"{"id":1,"name":"x"}"#), Some(("object", vec!["id".to_owned(), "name".to_owned()])));
        assert_eq!(result_shape(b"[1,2]"), Some(("array", vec![])));
        assert_eq!(result_shape(b"<html>"), None);
        assert_eq!(authorization(Some(403)), "refused");
        assert_eq!(authorization(Some(401)), "refused");
        assert_eq!(authorization(Some(201)), "allowed");
        assert_eq!(authorization(Some(500)), "none");
    }
}
