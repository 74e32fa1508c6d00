//! Test support: replay a recorded fixture through detection, request reading, framing and
//! response reading, the way the exchange does, with the response split wherever a test says.

use super::*;
use serde_json::Value;

pub(crate) struct Fixture {
    pub name: String,
    pub json: Value,
}

impl Fixture {
    /// Loads `tests/data/providers/{name}.json` (the recordings built here) or else the shared
    /// fixture of that name.
    pub fn load(name: &str) -> Fixture {
        let own = format!("{}/tests/data/providers/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let path = if std::path::Path::new(&own).exists() {
            own
        } else {
            format!("{}/../shared/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"))
        };
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        Fixture { name: name.to_owned(), json: serde_json::from_str(&text).unwrap() }
    }

    pub fn host(&self) -> &str {
        self.json["upstream_host"].as_str().unwrap_or("")
    }
    pub fn path(&self) -> &str {
        self.json["request"]["path"].as_str().unwrap()
    }
    pub fn request_body(&self) -> Vec<u8> {
        self.json["request"]["body"].as_str().unwrap_or("").as_bytes().to_vec()
    }
    pub fn response_headers(&self) -> Vec<(String, String)> {
        self.json["response"]["headers"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or("").to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }
    pub fn response_body(&self) -> Vec<u8> {
        let r = &self.json["response"];
        if r["body_encoding"].as_str() == Some("base64") {
            super::base64_decode(r["body_base64"].as_str().unwrap()).expect("body_base64 is standard base64")
        } else {
            r["body"].as_str().unwrap_or("").as_bytes().to_vec()
        }
    }
    pub fn expected(&self) -> &Value {
        &self.json["expected"]
    }
    pub fn content_type(&self) -> String {
        self.response_headers()
            .into_iter()
            .find(|(k, _)| k == "content-type")
            .map(|(_, v)| v)
            .unwrap_or_default()
    }

    /// Runs the whole fixture through [`Extraction`], the exchange's own path, with the
    /// response body cut at `splits` (sorted offsets).
    pub fn run(&self, splits: &[usize]) -> (Detected, LlmCall) {
        let detected = detect(self.host(), self.path())
            .unwrap_or_else(|| panic!("{}: not detected", self.name));
        let mut x = Extraction::new(detected.clone(), Limits { max_body_bytes: 64 << 20, max_frame_bytes: 1 << 20 });
        x.handle_request(&self.request_body());
        assert_eq!(x.not_parsed(), None, "{}: request", self.name);
        let headers = self.response_headers();
        let hdrs: Vec<(&str, &str)> =
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        x.handle_response_headers(&hdrs, &self.content_type(), false);
        let body = self.response_body();
        let mut last = 0;
        let mut cuts: Vec<usize> = splits.to_vec();
        cuts.push(body.len());
        for cut in cuts {
            x.handle_response_chunk(&body[last..cut], 0);
            assert_eq!(x.not_parsed(), None, "{}: chunk ending at {cut}", self.name);
            last = cut;
        }
        x.end_response(0);
        assert_eq!(x.not_parsed(), None, "{}: at the end", self.name);
        (detected, x.call)
    }

    /// Runs the fixture whole, at every single split point, and one byte at a time, and
    /// checks that every run gives the same result. Returns that result.
    pub fn run_all_splits(&self) -> (Detected, LlmCall) {
        let whole = self.run(&[]);
        let len = self.response_body().len();
        for i in 1..len {
            assert_eq!(self.run(&[i]).1, whole.1, "{}: split at {i}", self.name);
        }
        let every: Vec<usize> = (1..len).collect();
        assert_eq!(self.run(&every).1, whole.1, "{}: one byte at a time", self.name);
        whole
    }

    /// Checks `call` against the fixture's `expected` block. `input_adds_cache`: the provider
    /// reports input without cache tokens, and the conventions want them included.
    pub fn assert_expected(&self, call: &LlmCall, input_adds_cache: bool) {
        let e = self.expected();
        let n = &self.name;
        let opt_u64 = |k: &str| e[k].as_u64();
        if let Some(m) = e["request_model"].as_str() {
            assert_eq!(call.request_model.as_deref(), Some(m), "{n}: request model");
        }
        match e["response_model"].as_str() {
            Some(m) => assert_eq!(call.response_model.as_deref(), Some(m), "{n}: response model"),
            None => assert_eq!(call.response_model, None, "{n}: response model"),
        }
        let cache_r = opt_u64("cache_read_tokens");
        let cache_w = opt_u64("cache_write_tokens");
        let input = opt_u64("input_tokens").map(|i| {
            if input_adds_cache {
                i + cache_r.unwrap_or(0) + cache_w.unwrap_or(0)
            } else {
                i
            }
        });
        assert_eq!(call.usage.input, input, "{n}: input tokens");
        assert_eq!(call.usage.output, opt_u64("output_tokens"), "{n}: output tokens");
        if e["cache_read_tokens"].is_u64() {
            assert_eq!(call.usage.cache_read, cache_r, "{n}: cache read");
        }
        if e["cache_write_tokens"].is_u64() {
            assert_eq!(call.usage.cache_write, cache_w, "{n}: cache write");
        }
        if let Some(r) = opt_u64("reasoning_tokens") {
            assert_eq!(call.usage.reasoning, Some(r), "{n}: reasoning");
        }
        let tools: Vec<&str> = e["tool_calls"]
            .as_array()
            .map(|a| a.iter().filter_map(|t| t.as_str().or(t["name"].as_str())).collect())
            .unwrap_or_default();
        let got: Vec<&str> = call.tool_calls.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(got, tools, "{n}: tool calls");
        if let Some(f) = e["finish_reason"].as_str() {
            assert!(call.finish_reasons.iter().any(|r| r == f), "{n}: finish {:?}", call.finish_reasons);
        }
    }
}

/// Every streamed recording, for the property tests.
pub(crate) const STREAMED_FIXTURES: &[&str] = &[
    "openai/chat_stream", "openai/chat_stream_b", "openai/chat_stream_include_usage",
    "openai/chat_stream_include_usage_text", "openai/chat_stream_multiple_tools_with_content",
    "openai/chat_stream_n2_choices", "openai/chat_stream_parallel_tool_calls", "openai/chat_stream_tool_call",
    "openai/completions_stream_usage", "openai/responses_stream", "openai/responses_stream_short",
    "azure/chat_stream", "openai_compatible/deepseek_chat_stream_usage", "openai_compatible/groq_chat_stream",
    "openai_compatible/mistral_chat_stream", "anthropic/messages_multiple_tool_use_stream", "anthropic/messages_stream",
    "anthropic/messages_stream_cache_read", "anthropic/messages_stream_cache_write", "anthropic/messages_thinking_stream",
    "anthropic/messages_tool_use_stream", "gemini/stream_generate_content", "gemini/stream_generate_content_thinking",
    "gemini/stream_generate_content_tool", "gemini/stream_generate_content_usage", "vertexai/stream_generate_content",
    "bedrock/converse_stream_meta", "bedrock/converse_stream_nova", "bedrock/converse_stream_tool_use_claude",
    "bedrock/invoke_stream_claude3", "bedrock/invoke_stream_nova", "ollama/chat_stream_ndjson",
    "ollama/generate_stream_ndjson",
];

#[cfg(test)]
mod property {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    fn loaded() -> &'static Vec<(Fixture, LlmCall, usize)> {
        static CACHE: OnceLock<Vec<(Fixture, LlmCall, usize)>> = OnceLock::new();
        CACHE.get_or_init(|| {
            STREAMED_FIXTURES
                .iter()
                .chain(super::super::recent_apis_tests::STREAMED_RECORDINGS)
                .map(|n| {
                    let fx = Fixture::load(n);
                    let whole = fx.run(&[]).1;
                    let len = fx.response_body().len();
                    (fx, whole, len)
                })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
        /// Any set of cut points gives the same call as the whole body, for every stream.
        #[test]
        fn random_multi_splits_give_identical_results(which in 0usize..64, cuts in proptest::collection::vec(0.0f64..1.0, 0..24)) {
            let (fx, whole, len) = &loaded()[which % loaded().len()];
            let mut points: Vec<usize> = cuts.iter().map(|c| ((*c * *len as f64) as usize).min(*len)).collect();
            points.sort_unstable();
            points.dedup();
            let (_, got) = fx.run(&points);
            prop_assert_eq!(&got, whole, "{} cut at {:?}", fx.name, points);
        }
    }
}
