//! What one VM's root context shares with its HTTP streams: the metrics, the exporters (traces
//! first, then each log destination), the dispatched calls in flight, and random bytes.

use super::metrics::Metrics;
use super::{Host, Level};
use crate::plugin::Config;
use crate::exchange::{LogOut, LogSink};
use crate::export::{ExportEvent, Exporter};
use crate::otlp::Signal;
use crate::span::{Resource, Span};
use crate::stats::{self, StatUpdate};
use crate::trace::RandomPool;
use std::collections::HashMap;

/// What an exporter carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel {
    Traces,
    SpecGap,
    Capture,
}

pub(crate) struct Vm {
    pub(crate) metrics: Metrics,
    /// (what, the exporter, its cluster): traces first, then the log destinations configured.
    pub(crate) exporters: Vec<(Channel, Exporter, String)>,
    /// Host call token -> (exporter index, exporter token).
    pub(crate) in_flight: HashMap<u32, (usize, u64)>,
    /// Random bytes for new ids, fetched 64 calls' worth at a time: one host call, not one per call.
    random: RandomPool,
    /// Task slots this worker wrote to and that were live then: the tick checks them for an
    /// idle end and the budget. Slot indices, so at most `sessions.max_tasks` by construction.
    pub(crate) watched_tasks: std::collections::BTreeSet<u32>,
    /// Session slots this worker wrote to and that were live then: the tick ends idle ones.
    /// Slot indices, so at most `sessions.max_sessions` by construction.
    pub(crate) watched_sessions: std::collections::BTreeSet<u32>,
    /// The spec and model versions this worker saw, for the active-version gauges.
    pub(crate) active: crate::active::Tracker,
    /// Envoy 1.40 does not answer `node.id` in the root context's `on_configure`: while the
    /// proxy's identity is a generated one, the first stream reads it and leaves it here.
    pub(crate) node_id_wanted: bool,
    pub(crate) node_id_found: Option<String>,
    /// When the watched tasks and sessions were last checked (ns).
    pub(crate) tasks_checked_ns: u64,
}

thread_local! {
    /// This VM's share of the `vm_memory_bytes` gauge, as last reported. Per VM (a VM is one
    /// thread), not per root context: a configuration update can put a second root context in
    /// the same VM.
    static REPORTED_MEMORY: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
}

impl Vm {
    pub(crate) fn new(cfg: &Config, resource: Resource, host: &mut impl Host) -> Vm {
        let mut vm = Vm {
            metrics: Metrics::new(cfg.stats.max_label_values),
            exporters: Vec::new(),
            in_flight: HashMap::new(),
            random: RandomPool::default(),
            watched_tasks: Default::default(),
            watched_sessions: Default::default(),
            node_id_wanted: false,
            node_id_found: None,
            active: crate::active::Tracker::new(cfg.stats.active_version_window_ms, cfg.stats.max_label_values),
            tasks_checked_ns: 0,
        };
        vm.exporters = Vm::build(cfg, resource, host);
        vm
    }

    /// 24 random bytes for a new call's ids.
    pub(crate) fn random_ids(&mut self, host: &mut impl Host) -> [u8; 24] {
        // a failure leaves zeros, which FreshIds turns into valid (if not random) ids
        self.random.take(|bytes| host.random(bytes))
    }

    pub(crate) fn record(&mut self, host: &mut impl Host, updates: &[StatUpdate]) {
        for u in updates {
            self.metrics.apply(host, u);
        }
    }

    /// The exporters a configuration asks for, each with its retry jitter seeded apart, so
    /// that workers do not retry in lockstep.
    pub(crate) fn build(cfg: &Config, resource: Resource, host: &mut impl Host) -> Vec<(Channel, Exporter, String)> {
        let mut out = vec![(Channel::Traces, Exporter::new(&cfg.collector, resource.clone()), cfg.collector.cluster.clone())];
        // spec-gap candidates, task and session records share the collector's logs endpoint
        if cfg.spec_gap || (cfg.sessions.enabled && (cfg.sessions.task_records || cfg.sessions.session_records)) {
            let c = cfg.collector.for_logs();
            out.push((Channel::SpecGap, Exporter::for_signal(&c, resource.clone(), Signal::Logs), c.cluster.clone()));
        }
        if let Some(cap) = &cfg.content.capture {
            out.push((Channel::Capture, Exporter::for_signal(&cap.collector, resource, Signal::Logs), cap.collector.cluster.clone()));
        }
        for (_, e, _) in out.iter_mut() {
            let mut seed = [0u8; 8];
            host.random(&mut seed);
            e.seed(u64::from_le_bytes(seed));
        }
        out
    }

    pub(crate) fn enqueue_span(&mut self, span: &Span, now: u64) {
        if let Some((_, e, _)) = self.exporters.first_mut() {
            e.enqueue_span(span, now);
        }
    }

    pub(crate) fn enqueue_log(&mut self, log: &LogOut, now: u64) {
        let want = match log.sink {
            LogSink::SpecGap | LogSink::Task => Channel::SpecGap,
            LogSink::Capture => Channel::Capture,
        };
        if let Some((_, e, _)) = self.exporters.iter_mut().find(|(c, _, _)| *c == want) {
            let fragment = crate::otlp::encode_log(&log.record, e.encoding());
            e.enqueue(fragment, now);
        }
    }

    /// Applies the exporters' events (exported, dropped, retried...) as stats.
    fn drain_export_events(&mut self, host: &mut impl Host) {
        for (channel, exporter, _) in self.exporters.iter_mut() {
            while let Some(event) = exporter.poll_event() {
                let spans = *channel == Channel::Traces;
                let update = match event {
                    ExportEvent::Exported { spans: n } => {
                        StatUpdate::new(if spans { stats::EXPORT_SPANS_EXPORTED } else { stats::EXPORT_LOGS_EXPORTED }, &[], n as i64)
                    }
                    ExportEvent::Dropped { spans: n, reason } => StatUpdate::new(
                        if spans { stats::EXPORT_SPANS_DROPPED } else { stats::EXPORT_LOGS_DROPPED },
                        &[("reason", reason)],
                        n as i64,
                    ),
                    ExportEvent::Request { result } => StatUpdate::new(stats::EXPORT_REQUESTS, &[("result", result)], 1),
                    ExportEvent::Latency { ms } => StatUpdate::new(stats::EXPORT_LATENCY_MS, &[], ms as i64),
                    ExportEvent::QueueDepth { delta } => StatUpdate::new(stats::EXPORT_QUEUE_DEPTH, &[], delta),
                };
                self.metrics.apply(host, &update);
            }
        }
    }

    /// Moves the `vm_memory_bytes` gauge by this VM's change since the last report. The gauge
    /// is one Envoy stat shared by every VM of the plugin, so each adds only its own delta and
    /// the gauge reads the sum over them.
    pub(crate) fn report_memory(&mut self, host: &mut impl Host, bytes: i64) {
        let delta = bytes - REPORTED_MEMORY.with(|r| r.replace(bytes));
        if delta != 0 {
            self.metrics.apply(host, &StatUpdate::new(stats::VM_MEMORY_BYTES, &[], delta));
        }
    }

    /// Dispatches every export request the exporters have ready, then hands over the stats.
    pub(crate) fn pump(&mut self, host: &mut impl Host, now: u64) {
        for (idx, (_, exporter, cluster)) in self.exporters.iter_mut().enumerate() {
            while let Some(t) = exporter.poll_transmit(now) {
                let headers: Vec<(&str, &str)> = t.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                match host.dispatch(cluster, &headers, &t.body, t.timeout_ms) {
                    Ok(host_token) => {
                        self.in_flight.insert(host_token, (idx, t.token));
                    }
                    Err(status) => {
                        host.log(Level::Warn, &format!("genai-tap: export dispatch to cluster {cluster:?} failed: {status}"));
                        exporter.handle_dispatch_failed(t.token, now);
                    }
                }
            }
        }
        self.drain_export_events(host);
        self.metrics.flush(host);
    }
}
