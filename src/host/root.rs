//! The root context: configuration, export and metrics for one VM.
//!
//! Export runs here because a call dispatched from an HTTP context loses its callback when the
//! stream ends. HTTP streams hand finished, already-encoded spans to the shared [`Vm`] state;
//! `on_tick` forwards time to the exporter and dispatches whatever it says is ready.

use super::metrics::Metrics;
use super::stream::Stream;
use super::{log, now_ns};
use crate::plugin::Config;
use crate::exchange::{LogOut, LogSink};
use crate::export::{ExportEvent, Exporter};
use crate::otlp::Signal;
use crate::span::{AttrValue, Resource};
use crate::stats::{self, StatUpdate};
use crate::trace::RandomPool;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType, LogLevel, MapType};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

/// What an exporter carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channel {
    Traces,
    SpecGap,
    Capture,
}

/// What the root context shares with its HTTP streams.
pub(crate) struct Vm {
    pub(crate) metrics: Metrics,
    /// (what, the exporter, its cluster): traces first, then the log destinations configured.
    exporters: Vec<(Channel, Exporter, String)>,
    /// Host call token -> (exporter index, exporter token).
    in_flight: HashMap<u32, (usize, u64)>,
    /// Random bytes for new ids, fetched 64 calls' worth at a time: one host call, not one per call.
    random: RandomPool,
}

thread_local! {
    /// This VM's share of the `vm_memory_bytes` gauge, as last reported. Per VM, not per root
    /// context: a configuration update can put a second root context in the same VM.
    static REPORTED_MEMORY: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
}

/// The size of this VM's linear memory (it only ever grows): what the VM costs Envoy.
fn linear_memory_bytes() -> i64 {
    i64::try_from(core::arch::wasm32::memory_size(0).saturating_mul(65_536)).unwrap_or(i64::MAX)
}

impl Vm {
    /// 24 random bytes for a new call's ids.
    pub(crate) fn random_ids(&mut self) -> [u8; 24] {
        // A failure leaves zeros, which FreshIds turns into valid (if not random) ids.
        self.random.take(|bytes| {
            let _ = getrandom::fill(bytes);
        })
    }

    pub(crate) fn record(&mut self, updates: &[StatUpdate]) {
        for u in updates {
            self.metrics.apply(u);
        }
    }

    fn build(cfg: &Config, resource: Resource) -> Vec<(Channel, Exporter, String)> {
        let mut out = vec![(Channel::Traces, Exporter::new(&cfg.collector, resource.clone()), cfg.collector.cluster.clone())];
        if cfg.spec_gap {
            let c = cfg.collector.for_logs();
            out.push((Channel::SpecGap, Exporter::for_signal(&c, resource.clone(), Signal::Logs), c.cluster.clone()));
        }
        if let Some(cap) = &cfg.content.capture {
            out.push((Channel::Capture, Exporter::for_signal(&cap.collector, resource, Signal::Logs), cap.collector.cluster.clone()));
        }
        out
    }

    pub(crate) fn enqueue_span(&mut self, span: &crate::span::Span, now: u64) {
        if let Some((_, e, _)) = self.exporters.first_mut() {
            e.enqueue_span(span, now);
        }
    }

    pub(crate) fn enqueue_log(&mut self, log: &LogOut, now: u64) {
        let want = match log.sink {
            LogSink::SpecGap => Channel::SpecGap,
            LogSink::Capture => Channel::Capture,
        };
        if let Some((_, e, _)) = self.exporters.iter_mut().find(|(c, _, _)| *c == want) {
            let fragment = crate::otlp::encode_log(&log.record, e.encoding());
            e.enqueue(fragment, now);
        }
    }

    /// Applies the exporters' events (exported, dropped, retried...) as stats.
    fn drain_export_events(&mut self) {
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
                self.metrics.apply(&update);
            }
        }
    }

    /// Moves the `vm_memory_bytes` gauge by this VM's change since the last report. The gauge
    /// is one Envoy stat shared by every VM of the plugin, so each adds only its own delta and
    /// the gauge reads the sum over them.
    fn report_memory(&mut self, bytes: i64) {
        let delta = bytes - REPORTED_MEMORY.with(|r| r.replace(bytes));
        if delta != 0 {
            self.metrics.apply(&StatUpdate::new(stats::VM_MEMORY_BYTES, &[], delta));
        }
    }

    /// Dispatches every export request the exporters have ready.
    fn pump(&mut self, now: u64) {
        for (idx, (_, exporter, cluster)) in self.exporters.iter_mut().enumerate() {
            while let Some(t) = exporter.poll_transmit(now) {
                let headers: Vec<(&str, &str)> = t.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                match hostcalls::dispatch_http_call(cluster, headers, Some(&t.body), vec![], Duration::from_millis(t.timeout_ms)) {
                    Ok(host_token) => {
                        self.in_flight.insert(host_token, (idx, t.token));
                    }
                    Err(status) => {
                        log(LogLevel::Warn, &format!("genai-tap: export dispatch to cluster {cluster:?} failed: {status:?}"));
                        exporter.handle_dispatch_failed(t.token, now);
                    }
                }
            }
        }
        self.drain_export_events();
        self.metrics.flush();
    }
}

#[derive(Default)]
pub(crate) struct Root {
    config: Option<Rc<Config>>,
    vm: Option<Rc<RefCell<Vm>>>,
}

impl Root {
    fn resource(cfg: &Config) -> Resource {
        let mut attributes: Vec<(&'static str, AttrValue)> = vec![
            ("service.name", cfg.service_name.as_str().into()),
            ("service.version", cfg.service_version.as_str().into()),
            ("telemetry.sdk.name", "genai-tap".into()),
            ("telemetry.sdk.language", "rust".into()),
        ];
        let prop = |path: Vec<&str>| -> Option<String> {
            hostcalls::get_property(path).ok().flatten().and_then(|b| String::from_utf8(b).ok()).filter(|s| !s.is_empty())
        };
        if let Some(cluster) = prop(vec!["node", "cluster"]) {
            attributes.push(("genai_tap.envoy.cluster", cluster.into()));
        }
        if let Some(id) = prop(vec!["node", "id"]) {
            attributes.push(("service.instance.id", id.into()));
        }
        // Istio puts the workload identity in the node metadata.
        if let Some(name) = prop(vec!["node", "metadata", "WORKLOAD_NAME"]) {
            attributes.push(("k8s.deployment.name", name.into()));
        }
        if let Some(ns) = prop(vec!["node", "metadata", "NAMESPACE"]) {
            attributes.push(("k8s.namespace.name", ns.into()));
        }
        Resource { attributes }
    }
}

impl Context for Root {
    fn on_http_call_response(&mut self, token_id: u32, _num_headers: usize, body_size: usize, _num_trailers: usize) {
        let Some(vm) = &self.vm else { return };
        let mut vm = vm.borrow_mut();
        let Some((idx, token)) = vm.in_flight.remove(&token_id) else { return };
        let headers = hostcalls::get_map(MapType::HttpCallResponseHeaders).unwrap_or_default();
        let status = headers
            .iter()
            .find(|(k, _)| k == ":status")
            .and_then(|(_, v)| v.parse::<u16>().ok())
            .unwrap_or(0);
        let body = if body_size > 0 {
            hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size.min(64 * 1024)).ok().flatten().unwrap_or_default()
        } else {
            Vec::new()
        };
        let now = now_ns();
        if let Some((_, exporter, _)) = vm.exporters.get_mut(idx) {
            exporter.handle_response(token, status, &headers, &body, now);
        }
        vm.pump(now);
    }

    fn on_done(&mut self) -> bool {
        // a VM that goes away takes its share of the memory gauge with it, and hands over the
        // counter changes of its last tick
        if let Some(vm) = &self.vm {
            let mut vm = vm.borrow_mut();
            vm.report_memory(0);
            vm.metrics.flush();
        }
        true
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let raw = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX).ok().flatten().unwrap_or_default();
        let cfg = match Config::from_json(&raw) {
            Ok(cfg) => Rc::new(cfg),
            Err(e) => {
                log(LogLevel::Critical, &e.to_string());
                return false;
            }
        };
        let resource = Root::resource(&cfg);
        match &self.vm {
            Some(vm) => {
                // the traces queue carries over; log destinations are rebuilt
                let mut vm = vm.borrow_mut();
                let mut fresh = Vm::build(&cfg, resource.clone());
                let old = std::mem::take(&mut vm.exporters).into_iter().next();
                if let (Some((_, mut traces, _)), Some(slot)) = (old, fresh.first_mut()) {
                    traces.reconfigure(&cfg.collector, resource);
                    *slot = (Channel::Traces, traces, cfg.collector.cluster.clone());
                }
                vm.exporters = fresh;
            }
            None => {
                self.vm = Some(Rc::new(RefCell::new(Vm {
                    metrics: Metrics::new(cfg.stats.max_label_values),
                    exporters: Vm::build(&cfg, resource),
                    in_flight: HashMap::new(),
                    random: RandomPool::default(),
                })));
            }
        }
        let tick = cfg.collector.flush_interval_ms.clamp(10, 250);
        let _ = hostcalls::set_tick_period(Duration::from_millis(tick));
        log(LogLevel::Info, &format!("genai-tap {} configured: service {:?}", env!("CARGO_PKG_VERSION"), cfg.service_name));
        self.config = Some(cfg);
        true
    }

    fn on_tick(&mut self) {
        let Some(vm) = &self.vm else { return };
        let mut vm = vm.borrow_mut();
        vm.pump(now_ns());
        vm.report_memory(linear_memory_bytes());
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        let (cfg, vm) = (self.config.clone()?, self.vm.clone()?);
        Some(Box::new(Stream::new(cfg, vm)))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
