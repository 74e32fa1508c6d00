//! Envoy metrics for [`crate::stats::StatUpdate`]s: each name defined once per VM, its id cached.
//!
//! The cache is keyed by a hash of the metric and its raw label values, so a stat seen before
//! costs one hash and one map lookup, with no name built and nothing allocated; the name (with
//! sanitised, capped labels) is built only the first time a label set appears.
//!
//! Counters and gauges are summed here and handed to Envoy by [`Metrics::flush`] on the VM's
//! tick (at most 250 ms apart), not on every call: a host call costs microseconds, and a call
//! updates about eight of them. Histograms need every sample and are recorded at once.

use super::Host;
use crate::stats::{MetricKind, Namer, StatUpdate};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

pub(crate) struct Metrics {
    namer: Namer,
    /// Slot by full name (several raw label sets can share one capped name).
    by_name: HashMap<String, usize>,
    /// Slot by the hash of (metric, raw labels).
    by_key: HashMap<u64, usize>,
    slots: Vec<Slot>,
}

struct Slot {
    id: u32,
    kind: MetricKind,
    /// Counter or gauge change not yet handed to Envoy.
    pending: i64,
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
        Metrics { namer: Namer::new(max_label_values), by_name: HashMap::new(), by_key: HashMap::new(), slots: Vec::new() }
    }

    fn slot(&mut self, host: &mut impl Host, update: &StatUpdate) -> Option<usize> {
        let k = key(update);
        if let Some(slot) = self.by_key.get(&k) {
            return Some(*slot);
        }
        let name = self.namer.name(update);
        let slot = match self.by_name.get(&name) {
            Some(slot) => *slot,
            None => {
                let id = host.define_metric(update.metric.kind, &name)?;
                self.slots.push(Slot { id, kind: update.metric.kind, pending: 0 });
                self.by_name.insert(name, self.slots.len() - 1);
                self.slots.len() - 1
            }
        };
        // bounded by the label cap: past it, new raw values share the `other` name, but each raw
        // set still gets a key; stop remembering keys when there are too many
        if self.by_key.len() < 100_000 {
            self.by_key.insert(k, slot);
        }
        Some(slot)
    }

    pub(crate) fn apply(&mut self, host: &mut impl Host, update: &StatUpdate) {
        let Some(slot) = self.slot(host, update) else { return };
        let Some(slot) = self.slots.get_mut(slot) else { return };
        match slot.kind {
            MetricKind::Counter | MetricKind::Gauge => slot.pending = slot.pending.saturating_add(update.value),
            MetricKind::Histogram => host.record_metric(slot.id, update.value.max(0) as u64),
        }
    }

    /// Sets a gauge to `update.value` at once (Envoy's `record_metric` on a gauge sets it):
    /// for gauges every VM sets to the same value, where adding deltas would count each VM.
    pub(crate) fn set(&mut self, host: &mut impl Host, update: &StatUpdate) {
        let Some(slot) = self.slot(host, update) else { return };
        if let Some(slot) = self.slots.get(slot) {
            host.record_metric(slot.id, update.value.max(0) as u64);
        }
    }

    /// Hands the summed counter and gauge changes to Envoy.
    pub(crate) fn flush(&mut self, host: &mut impl Host) {
        for slot in self.slots.iter_mut().filter(|s| s.pending != 0) {
            host.increment_metric(slot.id, std::mem::take(&mut slot.pending));
        }
    }
}
