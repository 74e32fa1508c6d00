//! The conventions test: every `gen_ai.*` and `mcp.*` attribute the filter emits must be defined
//! in the semantic-convention registry (`../shared/semconv/model`, v1.41.0) with the same type.
//!
//! Spans come from the real exchange, fed every recorded fixture the way the host feeds it.
// Test code: a failed unwrap or panic is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use genai_tap::Config;
use genai_tap::{EndInfo, Exchange, RequestHead};
use genai_tap::{AttrValue, Span};
use genai_tap::FreshIds;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

/// Attribute id -> its type as the registry writes it (`string`, `int`, `double`, `boolean`,
/// `string[]`, or `enum` for member lists).
fn registry() -> HashMap<String, String> {
    let mut out = HashMap::new();
    for file in ["model/gen-ai/registry.yaml", "model/mcp/registry.yaml"] {
        let text = std::fs::read_to_string(shared().join("semconv").join(file)).unwrap();
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        for group in doc["groups"].as_sequence().unwrap() {
            for a in group["attributes"].as_sequence().into_iter().flatten() {
                let id = a["id"].as_str().unwrap().to_owned();
                let ty = match &a["type"] {
                    serde_yaml_ng::Value::String(s) => s.clone(),
                    serde_yaml_ng::Value::Mapping(_) => "enum".to_owned(),
                    other => panic!("{id}: unexpected type {other:?}"),
                };
                out.insert(id, ty);
            }
        }
    }
    assert!(out.len() > 40, "the registry looks empty: {}", out.len());
    out
}

fn type_of(v: &AttrValue) -> &'static str {
    match v {
        AttrValue::Str(_) => "string",
        AttrValue::Int(_) => "int",
        AttrValue::F64(_) => "double",
        AttrValue::Bool(_) => "boolean",
        AttrValue::StrList(_) => "string[]",
    }
}

fn fixtures() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(shared().join("fixtures")).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            if f.extension().and_then(|e| e.to_str()) == Some("json") {
                let v: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
                out.push((f.display().to_string(), v));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Feeds one fixture through an exchange the way the host does, in 97-byte chunks.
pub fn run_fixture(cfg: &Rc<Config>, fx: &Value) -> Vec<Span> {
    let req = &fx["request"];
    let mut headers: Vec<(String, String)> = vec![
        (":method".into(), req["method"].as_str().unwrap_or("POST").into()),
        (":authority".into(), fx["upstream_host"].as_str().unwrap_or("localhost").into()),
        (":path".into(), req["path"].as_str().unwrap().into()),
        (":scheme".into(), "https".into()),
    ];
    if let Some(h) = req["headers"].as_object() {
        for (k, v) in h {
            headers.push((k.to_ascii_lowercase(), v.as_str().unwrap_or("").into()));
        }
    }
    let mut x = Exchange::new(cfg.clone(), FreshIds::from_random([3; 24]));
    let body = req["body"].as_str().unwrap_or("").as_bytes().to_vec();
    let t0 = 1_700_000_000_000_000_000u64;
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    x.handle_request_headers(RequestHead { headers: &headers }, body.is_empty(), t0);
    if !body.is_empty() {
        for (i, chunk) in body.chunks(97).enumerate() {
            let last = (i + 1) * 97 >= body.len();
            x.handle_request_body(chunk, last, t0 + 1_000 + i as u64);
        }
    }
    let resp = &fx["response"];
    let mut rh: Vec<(String, String)> = vec![(":status".into(), resp["status"].to_string())];
    if let Some(h) = resp["headers"].as_object() {
        for (k, v) in h {
            rh.push((k.to_ascii_lowercase(), v.as_str().unwrap_or("").into()));
        }
    }
    let status = resp["status"].as_u64().unwrap_or(200) as u16;
    let rh: Vec<(&str, &str)> = rh.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    x.handle_response_headers(status, &rh, false, t0 + 5_000_000);
    let rbody = if resp["body_encoding"].as_str() == Some("base64") {
        genai_tap_testkit::base64::decode(resp["body_base64"].as_str().unwrap())
    } else {
        resp["body"].as_str().unwrap_or("").as_bytes().to_vec()
    };
    let chunks: Vec<&[u8]> = rbody.chunks(97).collect();
    let n = chunks.len();
    for (i, chunk) in chunks.into_iter().enumerate() {
        x.handle_response_body(chunk, i + 1 == n, t0 + 10_000_000 + i as u64 * 1_000_000);
    }
    if n == 0 {
        x.handle_response_body(&[][..], true, t0 + 10_000_000);
    }
    x.finish(&EndInfo { code_details: Some("via_upstream".into()) }, t0 + 900_000_000).spans
}

#[test]
fn every_emitted_gen_ai_and_mcp_attribute_is_in_the_registry_with_its_type() {
    let registry = registry();
    let cfg = Rc::new(Config::from_json(b"{}").unwrap());
    let mut checked = 0;
    let mut problems = Vec::new();
    for (name, fx) in fixtures() {
        if fx.get("request").is_none() {
            continue;
        }
        for span in run_fixture(&cfg, &fx) {
            for (key, value) in &span.attributes {
                if !(key.starts_with("gen_ai.") || key.starts_with("mcp.")) {
                    continue;
                }
                checked += 1;
                match registry.get(*key) {
                    None => problems.push(format!("{name}: {key} is not in the registry")),
                    Some(ty) => {
                        let got = type_of(value);
                        let ok = ty == got || ty == "any" || (ty == "enum" && got == "string");
                        if !ok {
                            problems.push(format!("{name}: {key} is {got}, the registry says {ty}"));
                        }
                    }
                }
            }
        }
    }
    // MCP: both recorded protocol generations, through the same exchange
    let mut mcp_checked = 0;
    for file in ["wire_streamable_http_legacy_2025-11-25.jsonl", "wire_streamable_http_modern_2026-07-28.jsonl"] {
        let text = std::fs::read_to_string(shared().join("fixtures/mcp").join(file)).unwrap();
        for line in text.lines() {
            let ex: Value = serde_json::from_str(line).unwrap();
            let fx = serde_json::json!({
                "upstream_host": "tools.internal",
                "request": {"method": ex["method"], "path": "/mcp", "headers": ex["request_headers"], "body": ex["request_body"]},
                "response": {"status": ex["status"], "headers": ex["response_headers"], "body": ex["response_body"]},
            });
            for span in run_fixture(&cfg, &fx) {
                for (key, value) in &span.attributes {
                    if !(key.starts_with("gen_ai.") || key.starts_with("mcp.")) {
                        continue;
                    }
                    mcp_checked += 1;
                    match registry.get(*key) {
                        None => problems.push(format!("{file}: {key} is not in the registry")),
                        Some(ty) if !(ty == type_of(value) || ty == "any" || (ty == "enum" && type_of(value) == "string")) => {
                            problems.push(format!("{file}: {key} is {}, the registry says {ty}", type_of(value)))
                        }
                        Some(_) => {}
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked > 100, "too few attributes checked: {checked}");
    assert!(mcp_checked > 20, "too few MCP attributes checked: {mcp_checked}");
}

#[test]
fn llm_spans_carry_the_required_attributes_and_the_conventional_name() {
    let cfg = Rc::new(Config::from_json(b"{}").unwrap());
    for (name, fx) in fixtures() {
        if fx.get("request").is_none() {
            continue;
        }
        let spans = run_fixture(&cfg, &fx);
        assert_eq!(spans.len(), 1, "{name}: one span per LLM call");
        let s = &spans[0];
        let op = match s.attr("gen_ai.operation.name") {
            Some(AttrValue::Str(op)) => op.clone(),
            other => panic!("{name}: gen_ai.operation.name is {other:?}"),
        };
        assert!(matches!(s.attr("gen_ai.provider.name"), Some(AttrValue::Str(p)) if p != "unknown"), "{name}");
        match s.attr("gen_ai.request.model") {
            Some(AttrValue::Str(m)) => assert_eq!(s.name, format!("{op} {m}"), "{name}"),
            _ => assert_eq!(s.name, op, "{name}"),
        }
        assert_eq!(s.kind, genai_tap::SpanKind::Client, "{name}");
    }
}
