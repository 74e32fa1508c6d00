//! Envoy metrics for [`crate::stats::StatUpdate`]s: each name defined once per VM, its id cached.
//!
//! The cache is keyed by a hash of the metric and its raw label values, so a stat seen before
//! costs one hash and one map lookup, with no name built and nothing allocated; the name (with
//! sanitised, capped labels) is built only the first time a label set appears.

use crate::stats::{MetricKind, Namer, StatUpdate};
use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

pub(crate) struct Metrics {
    namer: Namer,
    /// Envoy metric id by full name (several raw label sets can share one capped name).
    by_name: HashMap<String, u32>,
    /// Envoy metric id by the hash of (metric, raw labels).
    by_key: HashMap<u64, u32>,
}

fn key(update: &StatUpdate) -> u64 {
    let mut h = DefaultHasher::new();
    update.metric.name.hash(&mut h);
    for (k, v) in &update.labels {
        k.hash(&mut h);
        v.hash(&mut h);
    }
    h.finish()
}

impl Metrics {
    pub(crate) fn new(max_label_values: usize) -> Metrics {
        Metrics { namer: Namer::new(max_label_values), by_name: HashMap::new(), by_key: HashMap::new() }
    }

    fn id(&mut self, update: &StatUpdate) -> Option<u32> {
        let k = key(update);
        if let Some(id) = self.by_key.get(&k) {
            return Some(*id);
        }
        let name = self.namer.name(update);
        let id = match self.by_name.get(&name) {
            Some(id) => *id,
            None => {
                let kind = match update.metric.kind {
                    MetricKind::Counter => MetricType::Counter,
                    MetricKind::Gauge => MetricType::Gauge,
                    MetricKind::Histogram => MetricType::Histogram,
                };
                let id = hostcalls::define_metric(kind, &name).ok()?;
                self.by_name.insert(name, id);
                id
            }
        };
        // bounded by the label cap: past it, new raw values share the `other` name, but each raw
        // set still gets a key; stop remembering keys when there are too many
        if self.by_key.len() < 100_000 {
            self.by_key.insert(k, id);
        }
        Some(id)
    }

    pub(crate) fn apply(&mut self, update: &StatUpdate) {
        let Some(id) = self.id(update) else { return };
        let _ = match update.metric.kind {
            MetricKind::Counter | MetricKind::Gauge => hostcalls::increment_metric(id, update.value),
            MetricKind::Histogram => hostcalls::record_metric(id, update.value.max(0) as u64),
        };
    }
}
