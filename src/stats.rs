//! Stats: the names and labels of every metric genai-tap emits, and the bound on labels.
//!
//! This module owns the stats contract (documented in docs/telemetry.md; never renamed) and the
//! cardinality cap: each label key keeps at most `stats.max_label_values` distinct values per
//! VM, and later values become `other`, so a flood of model names cannot grow Envoy's memory.
//! It does not talk to the host: `host` defines and updates the metrics that [`StatUpdate`]s
//! describe.
//!
//! Labels travel inside the Envoy stat name as `key.value` pairs between the prefix and the
//! metric (`genai_tap.provider.openai.model.gpt-4o.llm_calls`); the tag extractors in
//! `envoy/stats_config.yaml` turn them into Prometheus labels
//! (`genai_tap_llm_calls{provider="openai",model="gpt-4o"}`).
//!
//! Values keep their dots (`model.gpt-3.5-turbo-0125.`), so a Prometheus label reads the real
//! model name. The extractors can still tell where a value ends because label keys always come
//! in [`LABEL_ORDER`]: the regex of a key consumes the keys before it in that order, and a
//! value ends where a later key or the metric name (which has no dot) begins. That holds as
//! long as no dotted value has a segment that is itself a key or a metric name, so such a value
//! (and any value with an empty segment) has its dots replaced, as before. `tag_regex` builds
//! each extractor; `envoy/stats_config.yaml` and the other example configs carry its output.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// How a metric accumulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

/// One metric of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    pub name: &'static str,
    pub kind: MetricKind,
}

macro_rules! metrics {
    ($($id:ident = $name:literal, $kind:ident;)*) => {
        $(pub const $id: Metric = Metric { name: $name, kind: MetricKind::$kind };)*
        /// Every metric, for documentation and tests.
        pub const ALL: &[Metric] = &[$($id),*];
    };
}

metrics! {
    LLM_CALLS = "llm_calls", Counter;
    LLM_TOKENS = "llm_tokens", Counter;
    LLM_COST_MICRO_USD = "llm_cost_micro_usd", Counter;
    LLM_UNPRICED_CALLS = "llm_unpriced_calls", Counter;
    LLM_TTFC_MS = "llm_ttfc_ms", Histogram;
    LLM_DURATION_MS = "llm_duration_ms", Histogram;
    STREAM_STATE_BYTES = "stream_state_bytes", Histogram;
    LLM_STEPS = "llm_steps", Counter;
    TOOL_CALLS = "tool_calls", Counter;
    TOOL_DURATION_MS = "tool_duration_ms", Histogram;
    GUARD_REDACTIONS = "guard_redactions", Counter;
    GUARD_SECRET_HITS = "guard_secret_hits", Counter;
    GUARD_BLOCKS = "guard_blocks", Counter;
    GUARD_UNINSPECTABLE = "guard_uninspectable", Counter;
    GUARD_REQUEST_TRAILERS = "guard_request_trailers", Counter;
    GUARD_RESPONSE_TRAILERS = "guard_response_trailers", Counter;
    BODIES_NOT_PARSED = "bodies_not_parsed", Counter;
    UNOBSERVED_CALLS = "unobserved_calls", Counter;
    TASKS_OVER_BUDGET = "tasks_over_budget", Counter;
    TASKS = "tasks", Counter;
    TASKS_FIRST_PASS = "tasks_first_pass", Counter;
    SESSIONS = "sessions", Counter;
    SESSION_TASKS = "session_tasks", Histogram;
    ACTIVE_SPEC_VERSION = "active_spec_version", Gauge;
    ACTIVE_MODEL_VERSION = "active_model_version", Gauge;
    COHORT_CALLS = "cohort_calls", Counter;
    TIER_COST_MICRO_USD = "tier_cost_micro_usd", Counter;
    EXPORT_SPANS_EXPORTED = "export_spans_exported", Counter;
    EXPORT_SPANS_DROPPED = "export_spans_dropped", Counter;
    EXPORT_REQUESTS = "export_requests", Counter;
    EXPORT_LATENCY_MS = "export_latency_ms", Histogram;
    EXPORT_QUEUE_DEPTH = "export_queue_depth", Gauge;
    EXPORT_LOGS_EXPORTED = "export_logs_exported", Counter;
    EXPORT_LOGS_DROPPED = "export_logs_dropped", Counter;
    CALLS_IN_FLIGHT = "calls_in_flight", Gauge;
    VM_MEMORY_BYTES = "vm_memory_bytes", Gauge;
}

/// Label keys, in the order they appear in a stat name.
pub const LABEL_ORDER: &[&str] = &[
    "provider", "model", "operation", "route", "outcome", "type", "step", "tool", "kind", "authz",
    "rule", "reason", "result", "api", "spec_version", "agent_version", "tier",
    "agent",
];

/// The value a label takes once its key has `max_label_values` distinct values.
pub const OVERFLOW_VALUE: &str = "other";

/// A change to one metric: add to a counter, set or add to a gauge, or record a sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatUpdate {
    /// The metric.
    pub metric: Metric,
    /// Label names and raw values (the [`Namer`] sanitises and caps them). Most values are
    /// the crate's own constants (`openai`, `chat`, `completed`), borrowed rather than copied:
    /// a call makes about nine updates, and copying every value was a third of its
    /// allocations.
    pub labels: Vec<(&'static str, Cow<'static, str>)>,
    /// The amount to add (counters, gauges) or the value to record (histograms).
    pub value: i64,
}

impl StatUpdate {
    /// An update of `metric` with `labels`, each value copied.
    pub fn new(metric: Metric, labels: &[(&'static str, &str)], value: i64) -> StatUpdate {
        StatUpdate {
            metric,
            labels: labels.iter().map(|(k, v)| (*k, Cow::Owned((*v).to_owned()))).collect(),
            value,
        }
    }

    /// An update of `metric` with `labels` as given: constants borrowed, the rest owned.
    pub fn labelled(metric: Metric, labels: Vec<(&'static str, Cow<'static, str>)>, value: i64) -> StatUpdate {
        StatUpdate { metric, labels, value }
    }
}

/// Builds stat names, bounding the distinct values of each label key.
#[derive(Debug)]
pub struct Namer {
    max_values: usize,
    seen: HashMap<&'static str, HashSet<String>>,
}

impl Namer {
    /// A namer that keeps at most `max_values` distinct values per label.
    pub fn new(max_values: usize) -> Namer {
        Namer { max_values, seen: HashMap::new() }
    }

    /// The full Envoy stat name of `update` (without the host's `wasmcustom.` prefix).
    pub fn name(&mut self, update: &StatUpdate) -> String {
        let mut name = String::with_capacity(64);
        name.push_str("genai_tap.");
        for key in LABEL_ORDER {
            if let Some((_, raw)) = update.labels.iter().find(|(k, _)| k == key) {
                let value = sanitize_label(raw);
                let value = self.bound(key, value);
                name.push_str(key);
                name.push('.');
                name.push_str(&value);
                name.push('.');
            }
        }
        name.push_str(update.metric.name);
        name
    }

    fn bound(&mut self, key: &'static str, value: String) -> String {
        let seen = self.seen.entry(key).or_default();
        if seen.contains(&value) {
            return value;
        }
        if seen.len() >= self.max_values {
            return OVERFLOW_VALUE.to_owned();
        }
        seen.insert(value.clone());
        value
    }
}

/// Makes a label value safe inside a stat name: every byte outside `[A-Za-z0-9_.-]` becomes
/// `_` (`arn:aws` gives `arn_aws`), empty becomes `none`, and values are cut at 64 bytes. Dots
/// stay (`gpt-4.1`), unless they would make the name ambiguous to the tag extractors: a value
/// with an empty segment (`a..b`, `.x`, `x.`) or with a segment that is a label key or a
/// metric name (`x.type.y`) has every dot replaced by `_`.
pub fn sanitize_label(raw: &str) -> String {
    if raw.is_empty() {
        return "none".to_owned();
    }
    let mut out: String = raw
        .bytes()
        .take(64)
        .map(|b| if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.' { b as char } else { '_' })
        .collect();
    let ambiguous = out.contains('.')
        && out.split('.').any(|seg| seg.is_empty() || LABEL_ORDER.contains(&seg) || ALL.iter().any(|m| m.name == seg));
    if ambiguous {
        out = out.replace('.', "_");
    }
    out
}

/// The Envoy `stats_tags` regex that extracts label `key` (one of [`LABEL_ORDER`]) from a
/// stat name: the first group is removed from the name, the second is the value.
#[cfg(test)]
pub fn tag_regex(key: &str) -> Option<String> {
    let at = LABEL_ORDER.iter().position(|k| *k == key)?;
    let mut re = String::from(r"^wasmcustom\.genai_tap\.");
    for before in LABEL_ORDER.get(..at).unwrap_or_default() {
        re.push_str(&format!(r"(?:{before}\.(?:.+?)\.)?"));
    }
    re.push_str(&format!(r"({key}\.(.+?)\.)(?:"));
    let after = LABEL_ORDER.get(at + 1..).unwrap_or_default();
    if !after.is_empty() {
        re.push_str(&format!(r"(?:{})\.|", after.join("|")));
    }
    re.push_str(r"[^.]+$)");
    Some(re)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_put_labels_in_order() {
        let mut n = Namer::new(10);
        let u = StatUpdate::new(LLM_TOKENS, &[("type", "input"), ("model", "gpt-4.1"), ("provider", "openai")], 5);
        assert_eq!(n.name(&u), "genai_tap.provider.openai.model.gpt-4.1.type.input.llm_tokens");
        let u = StatUpdate::new(EXPORT_QUEUE_DEPTH, &[], 1);
        assert_eq!(n.name(&u), "genai_tap.export_queue_depth");
    }

    #[test]
    fn label_values_are_capped_per_key() {
        let mut n = Namer::new(2);
        let name = |n: &mut Namer, m: &str| {
            n.name(&StatUpdate::new(LLM_CALLS, &[("model", m), ("provider", "openai")], 1))
        };
        assert!(name(&mut n, "a").contains(".model.a."));
        assert!(name(&mut n, "b").contains(".model.b."));
        assert!(name(&mut n, "c").contains(".model.other."));
        // values already admitted stay, and the other key is unaffected
        assert!(name(&mut n, "a").contains(".model.a."));
        assert!(name(&mut n, "zzz").contains(".provider.openai."));
    }

    #[test]
    fn sanitizes_hostile_values() {
        assert_eq!(sanitize_label("arn:aws:bedrock/x.y"), "arn_aws_bedrock_x.y");
        assert_eq!(sanitize_label("gpt-3.5-turbo-0125"), "gpt-3.5-turbo-0125");
        assert_eq!(sanitize_label("azure.ai.inference"), "azure.ai.inference");
        // dots that would read as a label boundary go
        assert_eq!(sanitize_label("x.type.y"), "x_type_y");
        assert_eq!(sanitize_label("a.llm_calls"), "a_llm_calls");
        assert_eq!(sanitize_label("a..b"), "a__b");
        assert_eq!(sanitize_label("v1."), "v1_");
        assert_eq!(sanitize_label(""), "none");
        assert_eq!(sanitize_label(&"x".repeat(100)).len(), 64);
        assert_eq!(sanitize_label("é"), "__");
    }

    /// Envoy's extraction, as docs/telemetry.md states it: each extractor runs on the whole name, its
    /// first group is cut out, its second is the value.
    fn extract(name: &str) -> (String, Vec<(String, String)>) {
        let full = format!("wasmcustom.{name}");
        let mut cut = Vec::new();
        let mut tags = Vec::new();
        for key in LABEL_ORDER {
            let re = regex_lite::Regex::new(&tag_regex(key).unwrap()).unwrap();
            if let Some(c) = re.captures(&full) {
                let g = c.get(1).unwrap();
                cut.push(g.start()..g.end());
                tags.push(((*key).to_owned(), c[2].to_owned()));
            }
        }
        let kept: String = full.char_indices().filter(|(i, _)| !cut.iter().any(|r| r.contains(i))).map(|(_, ch)| ch).collect();
        (kept.trim_start_matches("wasmcustom.").replace('.', "_"), tags)
    }

    #[test]
    fn tag_extraction_keeps_dotted_values_whole() {
        let mut n = Namer::new(100);
        type Case<'a> = (Metric, &'a [(&'static str, &'a str)]);
        let cases: &[Case<'_>] = &[
            (LLM_TOKENS, &[("provider", "openai"), ("model", "gpt-3.5-turbo-0125"), ("type", "input")]),
            (LLM_CALLS, &[("provider", "azure.ai.inference"), ("model", "mistral.large.2411"), ("operation", "chat"), ("route", "llm"), ("outcome", "completed")]),
            (LLM_COST_MICRO_USD, &[("provider", "gcp.vertex_ai"), ("model", "gemini-2.5-flash")]),
            (TOOL_CALLS, &[("tool", "model"), ("kind", "mcp"), ("authz", "refused")]),
            (TOOL_CALLS, &[("tool", "search.web"), ("kind", "http"), ("authz", "allowed")]),
            (LLM_TTFC_MS, &[("provider", "x_ai"), ("model", "grok-4.1")]),
            (UNOBSERVED_CALLS, &[("api", "openai_batches")]),
            (BODIES_NOT_PARSED, &[("reason", "v1.2")]),
            (LLM_TOKENS, &[("model", "x.type.y"), ("type", "output")]),
            (EXPORT_QUEUE_DEPTH, &[]),
        ];
        for (metric, labels) in cases {
            let name = n.name(&StatUpdate::new(*metric, labels, 1));
            let (prom, tags) = extract(&name);
            assert_eq!(prom, format!("genai_tap_{}", metric.name), "{name}");
            let want: Vec<(String, String)> = LABEL_ORDER
                .iter()
                .filter_map(|k| labels.iter().find(|(l, _)| l == k).map(|(_, v)| ((*k).to_owned(), sanitize_label(v))))
                .collect();
            assert_eq!(tags, want, "{name}");
        }
    }

    /// Every example config carries the extractors [`tag_regex`] builds, for every key.
    #[test]
    fn example_configs_carry_the_generated_extractors() {
        let root = env!("CARGO_MANIFEST_DIR");
        for file in ["envoy/stats_config.yaml", "envoy/demo.yaml", "envoy/egress.yaml", "envoy/istio/stats-bootstrap.yaml"] {
            let text = std::fs::read_to_string(format!("{root}/{file}")).unwrap();
            for key in LABEL_ORDER {
                let re = tag_regex(key).unwrap();
                // YAML single-quoted in the Envoy configs, JSON-escaped in Istio's bootstrap
                let json = serde_json::to_string(&re).unwrap();
                assert!(text.contains(&format!("'{re}'")) || text.contains(&json), "{file}: tag {key} is not {re}");
            }
        }
    }
}
