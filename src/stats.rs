//! Stats: the names and labels of every metric genai-tap emits, and the bound on labels.
//!
//! This module owns the stats contract (documented in the README; never renamed) and the
//! cardinality cap: each label key keeps at most `stats.max_label_values` distinct values per
//! VM, and later values become `other`, so a flood of model names cannot grow Envoy's memory.
//! It does not talk to the host: `host` defines and updates the metrics that [`StatUpdate`]s
//! describe.
//!
//! Labels travel inside the Envoy stat name as `key.value` pairs between the prefix and the
//! metric (`genai_tap.provider.openai.model.gpt-4o.llm_calls`); the tag extractors in
//! `envoy/stats_config.yaml` turn them into Prometheus labels
//! (`genai_tap_llm_calls{provider="openai",model="gpt-4o"}`).

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
    BODIES_NOT_PARSED = "bodies_not_parsed", Counter;
    TASKS_OVER_BUDGET = "tasks_over_budget", Counter;
    TASKS = "tasks", Counter;
    TASKS_FIRST_PASS = "tasks_first_pass", Counter;
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
    "rule", "reason", "result", "spec_version", "agent_version", "tier",
];

/// The value a label takes once its key has `max_label_values` distinct values.
pub const OVERFLOW_VALUE: &str = "other";

/// A change to one metric: add to a counter, set or add to a gauge, or record a sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatUpdate {
    pub metric: Metric,
    pub labels: Vec<(&'static str, String)>,
    pub value: i64,
}

impl StatUpdate {
    pub fn new(metric: Metric, labels: &[(&'static str, &str)], value: i64) -> StatUpdate {
        StatUpdate {
            metric,
            labels: labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
            value,
        }
    }
}

/// Builds stat names, bounding the distinct values of each label key.
#[derive(Debug)]
pub struct Namer {
    max_values: usize,
    seen: HashMap<&'static str, HashSet<String>>,
}

impl Namer {
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

/// Makes a label value safe inside a dot-delimited stat name: every byte outside
/// `[A-Za-z0-9_-]` becomes `_` (`gpt-4.1` gives `gpt-4_1`), empty becomes `none`, and values
/// are cut at 64 bytes.
pub fn sanitize_label(raw: &str) -> String {
    if raw.is_empty() {
        return "none".to_owned();
    }
    raw.bytes()
        .take(64)
        .map(|b| if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' { b as char } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_put_labels_in_order() {
        let mut n = Namer::new(10);
        let u = StatUpdate::new(LLM_TOKENS, &[("type", "input"), ("model", "gpt-4.1"), ("provider", "openai")], 5);
        assert_eq!(n.name(&u), "genai_tap.provider.openai.model.gpt-4_1.type.input.llm_tokens");
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
        assert_eq!(sanitize_label("arn:aws:bedrock/x.y"), "arn_aws_bedrock_x_y");
        assert_eq!(sanitize_label(""), "none");
        assert_eq!(sanitize_label(&"x".repeat(100)).len(), 64);
        assert_eq!(sanitize_label("é"), "__");
    }
}
