//! The root context: configuration, export and metrics for one VM.
//!
//! Export runs here because a call dispatched from an HTTP context loses its callback when the
//! stream ends. HTTP streams hand finished spans to the shared [`Vm`]; `on_tick` forwards time
//! to the exporters and dispatches whatever they say is ready.

use super::stream::Stream;
use super::vm::{Channel, Vm};
use super::{BodyOf, Headers, Host, Level, SharedStore};
use crate::exchange::{emit_session, emit_task, Finished};
use crate::session::UpdateError;
use crate::stats::{self, StatUpdate};
use crate::plugin::Config;
use crate::span::{AttrValue, Resource};
use std::cell::RefCell;
use std::rc::Rc;

/// How often a worker looks at the task slots it watches: often enough for the budget alert
/// to be on time, rarely enough that thousands of live tasks cost little.
const TASK_CHECK_NS: u64 = 1_000_000_000;

/// Checks every task slot this worker watches: an idle task ends (the worker whose CAS ends it
/// emits its record), a task past twice its budget is flagged while it still runs.
fn check_tasks(cfg: &Config, vm: &mut Vm, host: &mut impl Host, now: u64) {
    use crate::task::Check;
    let mut out = Finished::default();
    let slots: Vec<u32> = vm.watched_tasks.iter().copied().collect();
    for slot in slots {
        let check = crate::task::check_slot(&mut SharedStore(host), &cfg.sessions, cfg.sessions.task_idle_timeout_ms, slot, now / 1_000_000);
        match check {
            Ok(Check::Live) | Err(UpdateError::Contended) => {}
            Ok(Check::Forget) | Err(UpdateError::Host) => {
                vm.watched_tasks.remove(&slot);
            }
            Ok(Check::Changed { record, ended, newly_over_budget }) => {
                if newly_over_budget {
                    out.stats.push(StatUpdate::new(stats::TASKS_OVER_BUDGET, &[], 1));
                }
                if ended {
                    vm.watched_tasks.remove(&slot);
                    if cfg.sessions.task_records {
                        let ids = vm.random_ids(host);
                        let mut span_id = [0u8; 8];
                        let mut trace = [0u8; 16];
                        span_id.copy_from_slice(&ids[16..24]);
                        trace.copy_from_slice(&ids[..16]);
                        span_id[7] |= 1;
                        trace[15] |= 1;
                        emit_task(&record, span_id, trace, &mut out);
                    }
                }
            }
        }
    }
    check_sessions(cfg, vm, host, now, &mut out);
    vm.record(host, &out.stats);
    for span in &out.spans {
        vm.enqueue_span(span, now);
    }
    for log in &out.logs {
        vm.enqueue_log(log, now);
    }
}

/// Checks every session slot this worker watches: a session idle for `sessions.idle_ttl_ms`
/// ends, and the worker whose CAS ends it emits its record.
fn check_sessions(cfg: &Config, vm: &mut Vm, host: &mut impl Host, now: u64, out: &mut Finished) {
    use crate::session::Check;
    let slots: Vec<u32> = vm.watched_sessions.iter().copied().collect();
    for slot in slots {
        match crate::session::check_slot(&mut SharedStore(host), &cfg.sessions, slot, now / 1_000_000) {
            Ok(Check::Live) | Err(UpdateError::Contended) => {}
            Ok(Check::Forget) | Err(UpdateError::Host) => {
                vm.watched_sessions.remove(&slot);
            }
            Ok(Check::Ended(record)) => {
                vm.watched_sessions.remove(&slot);
                if cfg.sessions.session_records {
                    let ids = vm.random_ids(host);
                    let (mut trace, mut span_id) = ([0u8; 16], [0u8; 8]);
                    trace.copy_from_slice(&ids[..16]);
                    span_id.copy_from_slice(&ids[16..24]);
                    trace[15] |= 1;
                    span_id[7] |= 1;
                    emit_session(&record, span_id, trace, out);
                }
            }
        }
    }
}

/// A node property as text, when the host has a non-empty one.
fn prop(host: &impl Host, path: &[&str]) -> Option<String> {
    host.property(path).and_then(|b| String::from_utf8(b).ok()).filter(|s| !s.is_empty())
}

/// A field of Envoy's node: the wasm attribute `node.<field>`, else the CEL attribute
/// `xds.node.<field>`.
pub(super) fn node_prop(host: &impl Host, field: &[&str]) -> Option<String> {
    let wasm: Vec<&str> = ["node"].iter().chain(field).copied().collect();
    let xds: Vec<&str> = ["xds", "node"].iter().chain(field).copied().collect();
    prop(host, &wasm).or_else(|| prop(host, &xds))
}

#[derive(Default)]
pub(crate) struct Root {
    config: Option<Rc<Config>>,
    vm: Option<Rc<RefCell<Vm>>>,
    /// The proxy's generated instance id, when neither configuration nor Envoy named one.
    generated_instance: Option<String>,
}

impl Root {
    /// The resource every span of this VM carries. `service.instance.id`: the configured one,
    /// else Envoy's node id, else the id generated once for this proxy (`instance`).
    fn resource(&mut self, cfg: &Config, host: &mut impl Host) -> Resource {
        let node_id = node_prop(&*host, &["id"]);
        let instance = match crate::instance::chosen(cfg.service_instance_id.as_deref(), node_id.as_deref()) {
            Some(id) => {
                self.generated_instance = None;
                id
            }
            None => {
                let mut random = [0u8; 16];
                host.random(&mut random);
                let id = crate::instance::claim(&mut SharedStore(host), &crate::trace::to_hex(&random));
                self.generated_instance = Some(id.clone());
                id
            }
        };
        self.build_resource(cfg, &*host, instance)
    }

    fn build_resource(&self, cfg: &Config, host: &impl Host, instance: String) -> Resource {
        let mut attributes: Vec<(&'static str, AttrValue)> = vec![
            ("service.name", cfg.service_name.as_str().into()),
            ("service.version", cfg.service_version.as_str().into()),
            ("service.instance.id", instance.into()),
            ("telemetry.sdk.name", "genai-tap".into()),
            ("telemetry.sdk.language", "rust".into()),
        ];
        if let Some(cluster) = node_prop(&*host, &["cluster"]) {
            attributes.push(("genai_tap.envoy.cluster", cluster.into()));
        }
        // Istio puts the workload identity in the node metadata.
        if let Some(name) = node_prop(&*host, &["metadata", "WORKLOAD_NAME"]) {
            attributes.push(("k8s.deployment.name", name.into()));
        }
        if let Some(ns) = node_prop(&*host, &["metadata", "NAMESPACE"]) {
            attributes.push(("k8s.namespace.name", ns.into()));
        }
        Resource { attributes }
    }

    /// A generated identity gives way to Envoy's node id as soon as a stream could read it;
    /// and workers that generated the proxy's id at the same instant converge on the one that
    /// shared data kept (checked once a second, a read of one key).
    fn converge_instance(&mut self, cfg: &Config, host: &mut impl Host, once_a_second: bool) {
        let Some(mine) = &self.generated_instance else { return };
        let Some(vm) = self.vm.clone() else { return };
        let found = vm.borrow_mut().node_id_found.take();
        let (id, generated) = match found {
            Some(node_id) => (node_id, None),
            None if once_a_second => match crate::instance::stored(&SharedStore(host)).filter(|k| k != mine) {
                Some(kept) => (kept.clone(), Some(kept)),
                None => return,
            },
            None => return,
        };
        self.generated_instance = generated;
        let resource = self.build_resource(cfg, &*host, id);
        if let Some(vm) = &self.vm {
            for (_, e, _) in vm.borrow_mut().exporters.iter_mut() {
                e.set_resource(resource.clone());
            }
        }
    }

    /// Reads and compiles the plugin configuration; `false` refuses it (the error, which
    /// names the field and never the value, goes to Envoy's log).
    pub(crate) fn configure(&mut self, host: &mut impl Host) -> bool {
        let raw = host.plugin_configuration();
        let cfg = match Config::from_json(&raw) {
            Ok(cfg) => Rc::new(cfg),
            Err(e) => {
                host.log(Level::Critical, &e.to_string());
                return false;
            }
        };
        let resource = self.resource(&cfg, host);
        match &self.vm {
            Some(vm) => {
                // the traces queue carries over; log destinations are rebuilt
                let mut vm = vm.borrow_mut();
                let mut fresh = Vm::build(&cfg, resource.clone(), host);
                let old = std::mem::take(&mut vm.exporters).into_iter().next();
                if let (Some((_, mut traces, _)), Some(slot)) = (old, fresh.first_mut()) {
                    traces.reconfigure(&cfg.collector, resource);
                    *slot = (Channel::Traces, traces, cfg.collector.cluster.clone());
                }
                vm.exporters = fresh;
            }
            None => self.vm = Some(Rc::new(RefCell::new(Vm::new(&cfg, resource, host)))),
        }
        if let Some(vm) = &self.vm {
            vm.borrow_mut().node_id_wanted = self.generated_instance.is_some();
        }
        host.set_tick_period(cfg.collector.flush_interval_ms.clamp(10, 250));
        host.log(Level::Info, &format!("genai-tap {} configured: service {:?}", env!("CARGO_PKG_VERSION"), cfg.service_name));
        self.config = Some(cfg);
        true
    }

    /// Time passes: end idle tasks and flag runaway ones, export what is ready, and report
    /// this VM's memory.
    pub(crate) fn tick(&mut self, host: &mut impl Host) {
        let Some(vm) = self.vm.clone() else { return };
        let (now, memory) = (host.now_ns(), host.memory_bytes());
        let due = now.saturating_sub(vm.borrow().tasks_checked_ns) >= TASK_CHECK_NS;
        if let Some(cfg) = self.config.clone() {
            self.converge_instance(&cfg, host, due);
        }
        if let (true, Some(cfg)) = (due, self.config.clone()) {
            let mut vm = vm.borrow_mut();
            vm.tasks_checked_ns = now;
            if cfg.sessions.enabled {
                check_tasks(&cfg, &mut vm, host, now);
            }
            let gauges = vm.active.tick(&mut SharedStore(host), now / 1_000_000);
            for g in &gauges {
                vm.metrics.set(host, g);
            }
        }
        let mut vm = vm.borrow_mut();
        vm.pump(host, now);
        vm.report_memory(host, memory);
    }

    /// A dispatched export call answered.
    pub(crate) fn call_response(&mut self, host: &mut impl Host, token: u32, body_size: usize) {
        let Some(vm) = &self.vm else { return };
        let mut vm = vm.borrow_mut();
        let Some((idx, token)) = vm.in_flight.remove(&token) else { return };
        let block = host.headers(Headers::CallResponse);
        let headers = block.pairs();
        let status = headers.iter().find(|(k, _)| *k == ":status").and_then(|(_, v)| v.parse::<u16>().ok()).unwrap_or(0);
        let body = if body_size > 0 { host.body(BodyOf::CallResponse, body_size.min(64 * 1024)) } else { Vec::new() };
        let now = host.now_ns();
        if let Some((_, exporter, _)) = vm.exporters.get_mut(idx) {
            exporter.handle_response(token, status, &headers, &body, now);
        }
        vm.pump(host, now);
    }

    /// The VM goes away: it takes its share of the memory gauge with it, and hands over the
    /// counter changes of its last tick.
    pub(crate) fn done(&mut self, host: &mut impl Host) {
        if let Some(vm) = &self.vm {
            let mut vm = vm.borrow_mut();
            vm.report_memory(host, 0);
            vm.metrics.flush(host);
        }
    }

    /// A new HTTP stream, once configured.
    pub(crate) fn stream(&self, host: &mut impl Host) -> Option<Stream> {
        let (cfg, vm) = (self.config.clone()?, self.vm.clone()?);
        Some(Stream::new(cfg, vm, host))
    }
}
