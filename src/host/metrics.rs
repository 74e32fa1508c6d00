//! Envoy metrics for [`crate::stats::StatUpdate`]s: each name defined once per VM, its id cached.

use crate::stats::{MetricKind, Namer, StatUpdate};
use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;
use std::collections::HashMap;

pub(crate) struct Metrics {
    namer: Namer,
    ids: HashMap<String, u32>,
}

impl Metrics {
    pub(crate) fn new(max_label_values: usize) -> Metrics {
        Metrics { namer: Namer::new(max_label_values), ids: HashMap::new() }
    }

    pub(crate) fn apply(&mut self, update: &StatUpdate) {
        let name = self.namer.name(update);
        let id = match self.ids.get(&name) {
            Some(id) => *id,
            None => {
                let kind = match update.metric.kind {
                    MetricKind::Counter => MetricType::Counter,
                    MetricKind::Gauge => MetricType::Gauge,
                    MetricKind::Histogram => MetricType::Histogram,
                };
                let Ok(id) = hostcalls::define_metric(kind, &name) else { return };
                self.ids.insert(name, id);
                id
            }
        };
        let _ = match update.metric.kind {
            MetricKind::Counter | MetricKind::Gauge => hostcalls::increment_metric(id, update.value),
            MetricKind::Histogram => hostcalls::record_metric(id, update.value.max(0) as u64),
        };
    }
}
