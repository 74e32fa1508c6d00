//! The native host's logic, free of `unsafe`: per-stream [`Filter`]s feed an [`Exchange`]
//! from the hooks, and one [`Native`] per filter configuration exports what they finish.
//!
//! Threads: a configuration is created on Envoy's main thread and shared by every worker, so
//! what workers share is `Sync` (the exporter behind a mutex). `Exchange` holds an `Rc<Config>`,
//! so each worker compiles its own copy of the configuration once, in a thread-local, and
//! streams on that worker share it. Export runs on the main thread, where Envoy allows
//! configuration-level callouts: a ticker thread posts an event there every flush interval.

use crate::abi::{self, ConfigHandle, Scheduler, Side, Stream};
use genai_tap::{EndInfo, Exchange, HeadersVerdict, RequestBodyPlan, RequestHead};
use genai_tap::Exporter;
use genai_tap::Config;
use genai_tap::{AttrValue, Resource};
use genai_tap::{FreshIds, RandomPool};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// Unix time in nanoseconds.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // a poisoned lock still holds consistent data here: every critical section is a few calls
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Gives every configuration its own id, so that a worker notices a new one.
static GENERATION: AtomicU64 = AtomicU64::new(1);
/// A verdict the spike cannot apply (the guard holding or rewriting) was seen: warned once.
static UNAPPLIED_WARNED: AtomicBool = AtomicBool::new(false);

/// What every worker shares for one configuration.
struct Shared {
    raw: Vec<u8>,
    generation: u64,
    cluster: String,
    exporter: Mutex<Exporter>,
    /// Callout id -> exporter token (touched on the main thread only).
    in_flight: Mutex<HashMap<u64, u64>>,
}

/// Posts an export event to the main thread every flush interval until stopped.
struct Ticker {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: JoinHandle<()>,
    scheduler: Arc<Scheduler>,
}

/// One filter configuration, as the module keeps it.
pub struct Native {
    shared: Arc<Shared>,
    ticker: Option<Ticker>,
}

impl Native {
    /// Checks the configuration and starts the ticker. On error, the scheduler comes back so
    /// that the caller can delete it.
    pub fn new(raw: Vec<u8>, scheduler: Scheduler) -> Result<Native, (String, Option<Scheduler>)> {
        let cfg = match Config::from_json(&raw) {
            Ok(cfg) => cfg,
            Err(e) => return Err((format!("genai-tap (native): {e}"), Some(scheduler))),
        };
        let resource = Resource {
            attributes: vec![
                ("service.name", AttrValue::from(cfg.service_name.as_str())),
                ("service.version", cfg.service_version.as_str().into()),
                ("telemetry.sdk.name", "genai-tap".into()),
                ("telemetry.sdk.language", "rust".into()),
                ("genai_tap.host", "envoy-dynamic-module".into()),
            ],
        };
        let mut exporter = Exporter::new(&cfg.collector, resource);
        let mut seed = [0u8; 8];
        let _ = getrandom::fill(&mut seed);
        exporter.seed(u64::from_le_bytes(seed));
        let shared = Arc::new(Shared {
            raw,
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
            cluster: cfg.collector.cluster.clone(),
            exporter: Mutex::new(exporter),
            in_flight: Mutex::new(HashMap::new()),
        });
        let period = Duration::from_millis(cfg.collector.flush_interval_ms.clamp(10, 250));
        let scheduler = Arc::new(scheduler);
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let (s, st) = (scheduler.clone(), stop.clone());
        let spawned = std::thread::Builder::new().name("genai-tap-tick".into()).spawn(move || loop {
            let (flag, cv) = &*st;
            let guard = lock(flag);
            let (guard, _) = cv.wait_timeout(guard, period).unwrap_or_else(|e| e.into_inner());
            if *guard {
                return;
            }
            drop(guard);
            s.commit();
        });
        let thread = match spawned {
            Ok(t) => t,
            Err(e) => {
                let message = format!("genai-tap (native): cannot start the export ticker: {e}");
                // the closure that held the other reference is gone, so this is the last one
                return Err((message, Arc::try_unwrap(scheduler).ok()));
            }
        };
        Ok(Native { shared, ticker: Some(Ticker { stop, thread, scheduler }) })
    }

    /// Stops the ticker; returns the scheduler once nothing else can use it.
    pub fn stop(mut self) -> Option<Scheduler> {
        let t = self.ticker.take()?;
        *lock(&t.stop.0) = true;
        t.stop.1.notify_all();
        let _ = t.thread.join();
        Arc::try_unwrap(t.scheduler).ok()
    }

    /// Main thread: dispatch every export request that is ready.
    pub fn pump(&self, envoy: &ConfigHandle, now: u64) {
        let ready = {
            let mut ex = lock(&self.shared.exporter);
            let mut ready = Vec::new();
            while let Some(t) = ex.poll_transmit(now) {
                ready.push(t);
            }
            // stats are not wired in the spike: events are dropped so that they do not pile up
            while ex.poll_event().is_some() {}
            ready
        };
        // the lock is not held across a callout, which may call back into this module
        for t in ready {
            match envoy.callout(&self.shared.cluster, &t.headers, &t.body, t.timeout_ms) {
                Ok(id) => {
                    lock(&self.shared.in_flight).insert(id, t.token);
                }
                Err(code) => {
                    abi::warn(&format!("genai-tap (native): export callout to {:?} refused ({code})", self.shared.cluster));
                    lock(&self.shared.exporter).handle_dispatch_failed(t.token, now);
                }
            }
        }
    }

    /// Main thread: an export callout answered (`ok == false`: reset or over the buffer limit).
    pub fn callout_done(&self, envoy: &ConfigHandle, id: u64, ok: bool, headers: &[(String, String)], body: &[u8], now: u64) {
        let Some(token) = lock(&self.shared.in_flight).remove(&id) else { return };
        // a reset is what a collector that is down looks like: retried like a 503
        let status = if ok { status_of(headers) } else { 503 };
        lock(&self.shared.exporter).handle_response(token, status, &views(headers), body, now);
        self.pump(envoy, now);
    }
}

fn status_of(headers: &[(String, String)]) -> u16 {
    headers.iter().find(|(k, _)| k == ":status").and_then(|(_, v)| v.parse().ok()).unwrap_or(0)
}

/// The core reads headers as borrowed pairs.
fn views(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// What a worker keeps for the configuration it last served.
struct Worker {
    generation: u64,
    cfg: Rc<Config>,
    random: RandomPool,
}

thread_local! {
    static WORKER: RefCell<Option<Worker>> = const { RefCell::new(None) };
}

/// One HTTP stream.
pub struct Filter {
    /// `None`: the configuration did not compile on this worker (it did on the main thread,
    /// so this does not happen); the stream passes untouched.
    exchange: Option<Exchange>,
    shared: Arc<Shared>,
    finished: bool,
}

impl Filter {
    pub fn new(native: &Native) -> Filter {
        let shared = native.shared.clone();
        let exchange = WORKER.with(|w| {
            let mut w = w.borrow_mut();
            if w.as_ref().is_none_or(|w| w.generation != shared.generation) {
                let cfg = Config::from_json(&shared.raw).ok()?;
                *w = Some(Worker { generation: shared.generation, cfg: Rc::new(cfg), random: RandomPool::default() });
            }
            let w = w.as_mut()?;
            let random = w.random.take(|bytes| {
                let _ = getrandom::fill(bytes);
            });
            Some(Exchange::new(w.cfg.clone(), FreshIds::from_random(random)))
        });
        Filter { exchange, shared, finished: false }
    }

    fn observed(&mut self) -> Option<&mut Exchange> {
        self.exchange.as_mut().filter(|e| e.is_observed())
    }

    pub fn request_headers(&mut self, stream: &Stream, end_of_stream: bool) {
        let Some(ex) = self.exchange.as_mut() else { return };
        // "not mine" from the few headers classification reads, as the wasm host does
        if ex.handle_request_probe(|name| stream.header(Side::Request, name)) {
            return;
        }
        let headers = stream.headers(Side::Request);
        let verdict = ex.handle_request_headers(RequestHead { headers: &views(&headers) }, end_of_stream, now_ns());
        // header edits (traceparent injection, accept-encoding) are not applied by the spike
        let _ = ex.poll_request_header_edits();
        if verdict != HeadersVerdict::Continue {
            unapplied();
        }
    }

    pub fn request_body(&mut self, stream: &Stream, end_of_stream: bool) {
        let Some(ex) = self.observed() else { return };
        let now = now_ns();
        stream.with_body(Side::Request, |slices| {
            let size: usize = slices.iter().map(|s| s.len()).sum();
            match ex.request_body_plan() {
                RequestBodyPlan::Read => {
                    if slices.is_empty() {
                        check(ex.handle_request_body(&[], end_of_stream, now) == genai_tap::BodyVerdict::Continue);
                    }
                    for (i, s) in slices.iter().enumerate() {
                        let last = end_of_stream && i + 1 == slices.len();
                        check(ex.handle_request_body(s, last, now) == genai_tap::BodyVerdict::Continue);
                    }
                }
                RequestBodyPlan::Count => ex.handle_request_bytes_unread(size, end_of_stream, now),
            }
        });
    }

    pub fn response_headers(&mut self, stream: &Stream, end_of_stream: bool) {
        let Some(ex) = self.observed() else { return };
        let headers = stream.headers(Side::Response);
        ex.handle_response_headers(status_of(&headers), &views(&headers), end_of_stream, now_ns());
        let _ = ex.poll_response_header_edits();
    }

    pub fn response_body(&mut self, stream: &Stream, end_of_stream: bool) {
        let Some(ex) = self.observed() else { return };
        let now = now_ns();
        stream.with_body(Side::Response, |slices| {
            if !ex.wants_response_body() {
                let size: usize = slices.iter().map(|s| s.len()).sum();
                ex.handle_response_bytes_unread(size, end_of_stream, now);
                return;
            }
            if slices.is_empty() {
                check(ex.handle_response_body(&[][..], end_of_stream, now) == genai_tap::ResponseVerdict::Continue);
            }
            for (i, s) in slices.iter().enumerate() {
                let last = end_of_stream && i + 1 == slices.len();
                check(ex.handle_response_body(*s, last, now) == genai_tap::ResponseVerdict::Continue);
            }
        });
    }

    pub fn response_trailers(&mut self) {
        if let Some(ex) = self.observed() {
            ex.handle_response_trailers(now_ns());
        }
    }

    /// The stream is over: its spans go to the shared exporter.
    pub fn complete(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        let shared = self.shared.clone();
        let Some(ex) = self.observed() else { return };
        let now = now_ns();
        // response.code_details is not read by the spike: a call cut short is classified from
        // what the exchange saw
        let done = ex.finish(&EndInfo { code_details: None }, now);
        if done.spans.is_empty() {
            return;
        }
        let mut exporter = lock(&shared.exporter);
        for span in &done.spans {
            exporter.enqueue_span(span, now);
        }
    }
}

fn check(applied: bool) {
    if !applied {
        unapplied();
    }
}

fn unapplied() {
    if !UNAPPLIED_WARNED.swap(true, Ordering::Relaxed) {
        abi::warn("genai-tap (native): the spike observes only; a guard verdict (hold, rewrite, block) was not applied");
    }
}
