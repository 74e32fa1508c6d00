//! Export: the bounded queue between finished calls and the collector, with batching and retries.
//!
//! This module owns what happens to an encoded span after its call ends: it waits in a bounded
//! queue, leaves in a batch when the batch is full or the flush interval has passed, and is
//! retried on 429, 502, 503 and 504 (and when the host cannot reach the collector at all), with
//! exponential backoff, full jitter and `Retry-After`. It does not encode spans (`otlp`) or send
//! anything (`host`): like `quinn-proto`, it is driven by its caller, which feeds it time and
//! responses and drains [`Exporter::poll_transmit`] and [`Exporter::poll_event`].
//!
//! Every span that enters leaves exactly once, as `Exported` or `Dropped { reason }`:
//!
//! | reason | when |
//! |---|---|
//! | `queue_full` | the queue held `max_queued_spans`; the **oldest** span is dropped, because the newest evidence is worth more during an incident |
//! | `rejected` | the collector answered a status that must not be retried (400, 401, 413, 500...) |
//! | `retries_exhausted` | `max_retries` retries failed |
//! | `partial_success` | the collector accepted the batch but rejected some spans |
//! | `shutdown` | the configuration was replaced while spans were still queued for the old collector |

use crate::plugin::export::Collector;
use crate::otlp::{self, Encoding, Signal};
use crate::span::{Resource, Span};
use std::collections::VecDeque;

/// An export request, ready for the host to dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Give it back to `handle_response` or `handle_dispatch_failed`.
    pub token: u64,
    /// Includes `:method`, `:path` and `:authority`, which `dispatch_http_call` needs.
    pub headers: Vec<(String, String)>,
    /// The encoded (and maybe gzipped) OTLP request body.
    pub body: Vec<u8>,
    /// How long the host waits for the collector before giving up.
    pub timeout_ms: u64,
}

/// Something the host should count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportEvent {
    /// The collector accepted this many spans (or log records).
    Exported {
        /// How many.
        spans: u64,
    },
    /// This many spans (or log records) were given up.
    Dropped {
        /// How many.
        spans: u64,
        /// Why: the `reason` label of the dropped stat.
        reason: &'static str,
    },
    /// One export request ended: `ok`, `retry` or `failed`.
    Request {
        /// `ok`, `retry` or `failed`.
        result: &'static str,
    },
    /// How long one export request took.
    Latency {
        /// Milliseconds from dispatch to answer.
        ms: u64,
    },
    /// The queue depth changed by `delta`.
    QueueDepth {
        /// The change, in entries.
        delta: i64,
    },
}

#[derive(Debug)]
struct Batch {
    token: u64,
    fragments: Vec<Vec<u8>>,
    attempts: u32,
    sent_at: u64,
    ready_at: u64,
}

/// The exporter of one VM. See the module documentation.
#[derive(Debug)]
pub struct Exporter {
    collector: Collector,
    signal: Signal,
    encoding: Encoding,
    resource: Resource,
    queue: VecDeque<Vec<u8>>,
    waiting_retry: Vec<Batch>,
    in_flight: Vec<Batch>,
    next_token: u64,
    last_flush: Option<u64>,
    events: VecDeque<ExportEvent>,
    reported_depth: i64,
    rng: u64,
}

const MS: u64 = 1_000_000;

impl Exporter {
    /// An exporter of spans to `collector`, with `resource` on every request.
    pub fn new(collector: &Collector, resource: Resource) -> Exporter {
        Exporter::for_signal(collector, resource, Signal::Traces)
    }

    /// An exporter of `signal` (spans or log records) to `collector`.
    pub fn for_signal(collector: &Collector, resource: Resource, signal: Signal) -> Exporter {
        Exporter {
            encoding: encoding_of(collector),
            collector: collector.clone(),
            signal,
            resource,
            queue: VecDeque::new(),
            waiting_retry: Vec::new(),
            in_flight: Vec::new(),
            next_token: 1,
            last_flush: None,
            events: VecDeque::new(),
            reported_depth: 0,
            rng: 0x9e37_79b9_7f4a_7c15,
        }
    }

    /// A new configuration. Spans already encoded for another encoding are dropped with reason
    /// `shutdown`; otherwise the queue carries over to the new collector settings.
    pub fn reconfigure(&mut self, collector: &Collector, resource: Resource) {
        let encoding = encoding_of(collector);
        if encoding != self.encoding {
            let n = self.queue.len() as u64
                + self.waiting_retry.iter().map(|b| b.fragments.len() as u64).sum::<u64>();
            self.queue.clear();
            self.waiting_retry.clear();
            if n > 0 {
                self.events.push_back(ExportEvent::Dropped { spans: n, reason: "shutdown" });
            }
        }
        self.encoding = encoding;
        self.collector = collector.clone();
        self.resource = resource;
        self.enforce_bound();
    }

    /// The resource of batches not yet encoded (the proxy's identity became known later).
    pub fn set_resource(&mut self, resource: Resource) {
        self.resource = resource;
    }

    /// The encoding fragments must be in.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Encodes and queues a finished span.
    pub fn enqueue_span(&mut self, span: &Span, now: u64) {
        let fragment = otlp::encode_span(span, self.encoding);
        self.enqueue(fragment, now);
    }

    /// Queues an already-encoded fragment (a span, or a log record for a logs exporter).
    pub fn enqueue(&mut self, fragment: Vec<u8>, now: u64) {
        self.last_flush.get_or_insert(now);
        self.queue.push_back(fragment);
        self.enforce_bound();
    }

    fn held(&self) -> usize {
        self.queue.len() + self.waiting_retry.iter().map(|b| b.fragments.len()).sum::<usize>()
    }

    fn enforce_bound(&mut self) {
        let mut dropped = 0;
        while self.held() > self.collector.max_queued_spans {
            if self.queue.pop_front().is_some() {
                dropped += 1;
            } else if !self.waiting_retry.is_empty() {
                // the queue is empty but retries hold too much: drop the oldest retry batch
                let b = self.waiting_retry.remove(0);
                dropped += b.fragments.len() as u64;
            } else {
                break;
            }
        }
        if dropped > 0 {
            self.events.push_back(ExportEvent::Dropped { spans: dropped, reason: "queue_full" });
        }
    }

    /// The next export request to send now, if any. Call until it returns `None`.
    pub fn poll_transmit(&mut self, now: u64) -> Option<Transmit> {
        if self.in_flight.len() >= self.collector.max_in_flight {
            return None;
        }
        if let Some(i) = self.waiting_retry.iter().position(|b| b.ready_at <= now) {
            let batch = self.waiting_retry.remove(i);
            return Some(self.send(batch, now));
        }
        let interval = self.collector.flush_interval_ms * MS;
        let due = self.last_flush.is_some_and(|t| now.saturating_sub(t) >= interval);
        if self.queue.len() >= self.collector.max_batch_spans || (due && !self.queue.is_empty()) {
            let n = self.queue.len().min(self.collector.max_batch_spans);
            let fragments: Vec<Vec<u8>> = self.queue.drain(..n).collect();
            self.last_flush = if self.queue.is_empty() { None } else { Some(now) };
            let token = self.next_token;
            self.next_token += 1;
            let batch = Batch { token, fragments, attempts: 0, sent_at: now, ready_at: now };
            return Some(self.send(batch, now));
        }
        if due {
            self.last_flush = None;
        }
        None
    }

    fn send(&mut self, mut batch: Batch, now: u64) -> Transmit {
        batch.sent_at = now;
        let body = otlp::encode_request(
            self.signal,
            self.encoding,
            &self.resource,
            batch.fragments.iter().map(Vec::as_slice),
        );
        let mut headers = vec![
            (":method".to_owned(), "POST".to_owned()),
            (":path".to_owned(), self.collector.path.clone()),
            (":authority".to_owned(), self.collector.authority.clone()),
            ("content-type".to_owned(), self.encoding.content_type().to_owned()),
        ];
        let body = match self.collector.compression {
            crate::config::export::Compression::None => body,
            crate::config::export::Compression::Gzip => {
                headers.push(("content-encoding".to_owned(), "gzip".to_owned()));
                gzip(&body)
            }
        };
        for (k, v) in &self.collector.headers {
            headers.push((k.clone(), v.clone()));
        }
        let token = batch.token;
        self.in_flight.push(batch);
        Transmit { token, headers, body, timeout_ms: self.collector.timeout_ms }
    }

    /// The collector answered `status` (the host's `:status`; Envoy says 503 when the cluster
    /// is unreachable and 504 when the call timed out).
    pub fn handle_response(&mut self, token: u64, status: u16, headers: &[(&str, &str)], body: &[u8], now: u64) {
        let Some(i) = self.in_flight.iter().position(|b| b.token == token) else { return };
        let batch = self.in_flight.remove(i);
        self.events.push_back(ExportEvent::Latency { ms: now.saturating_sub(batch.sent_at) / MS });
        let n = batch.fragments.len() as u64;
        match status {
            200..=299 => {
                let content_type = header(headers, "content-type").unwrap_or("application/x-protobuf");
                let rejected = otlp::rejected_count(body, content_type).min(n);
                self.events.push_back(ExportEvent::Request { result: "ok" });
                if n - rejected > 0 {
                    self.events.push_back(ExportEvent::Exported { spans: n - rejected });
                }
                if rejected > 0 {
                    self.events.push_back(ExportEvent::Dropped { spans: rejected, reason: "partial_success" });
                }
            }
            429 | 502 | 503 | 504 => {
                let retry_after_ms = header(headers, "retry-after")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(|s| s.saturating_mul(1000));
                self.retry_or_drop(batch, retry_after_ms, "retries_exhausted", now);
            }
            _ => {
                self.events.push_back(ExportEvent::Request { result: "failed" });
                self.events.push_back(ExportEvent::Dropped { spans: n, reason: "rejected" });
            }
        }
    }

    /// The host could not dispatch the request at all (an unknown cluster, for example).
    pub fn handle_dispatch_failed(&mut self, token: u64, now: u64) {
        let Some(i) = self.in_flight.iter().position(|b| b.token == token) else { return };
        let batch = self.in_flight.remove(i);
        // retried like any failure (a cluster may appear with the next configuration), but a
        // batch that never left is dropped as `dispatch_failed`: a wrong cluster name, not a
        // collector that is down
        self.retry_or_drop(batch, None, "dispatch_failed", now);
    }

    /// Retries `batch` after a backoff, or drops it for `reason` once its retries are spent.
    fn retry_or_drop(&mut self, mut batch: Batch, retry_after_ms: Option<u64>, reason: &'static str, now: u64) {
        batch.attempts += 1;
        if batch.attempts > self.collector.max_retries {
            self.events.push_back(ExportEvent::Request { result: "failed" });
            self.events.push_back(ExportEvent::Dropped { spans: batch.fragments.len() as u64, reason });
            return;
        }
        self.events.push_back(ExportEvent::Request { result: "retry" });
        let cap = self
            .collector
            .initial_backoff_ms
            .saturating_mul(1 << (batch.attempts - 1).min(20))
            .min(self.collector.max_backoff_ms);
        let jittered = self.random() % (cap + 1);
        let wait_ms = retry_after_ms.map_or(jittered, |ra| ra.min(self.collector.max_backoff_ms).max(jittered));
        batch.ready_at = now + wait_ms * MS;
        self.waiting_retry.push(batch);
        self.enforce_bound();
    }

    /// The next event to count. Call until it returns `None`.
    pub fn poll_event(&mut self) -> Option<ExportEvent> {
        if let Some(e) = self.events.pop_front() {
            return Some(e);
        }
        let depth = self.held() as i64;
        if depth != self.reported_depth {
            let delta = depth - self.reported_depth;
            self.reported_depth = depth;
            return Some(ExportEvent::QueueDepth { delta });
        }
        None
    }

    /// When the exporter next has something to do without new input, in unix nanoseconds.
    pub fn poll_timeout(&self) -> Option<u64> {
        let flush = self.last_flush.map(|t| t + self.collector.flush_interval_ms * MS);
        let retry = self.waiting_retry.iter().map(|b| b.ready_at).min();
        match (flush, retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Spans waiting (queued or waiting to retry), and requests outstanding.
    pub fn depth(&self) -> (usize, usize) {
        (self.held(), self.in_flight.len())
    }

    /// Seeds the jitter (the host passes random bytes).
    pub fn seed(&mut self, seed: u64) {
        self.rng = seed | 1;
    }

    fn random(&mut self) -> u64 {
        // xorshift64*: jitter only needs to spread retries, not to be unpredictable
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// A gzip member (RFC 1952) around miniz_oxide's deflate, at a fast level: export bodies are
/// repetitive, and CPU in the proxy is dearer than bytes on the wire.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let deflated = miniz_oxide::deflate::compress_to_vec(data, 3);
    let mut out = Vec::with_capacity(deflated.len() + 18);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    out.extend_from_slice(&deflated);
    out.extend_from_slice(&crate::crc::crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn encoding_of(c: &Collector) -> Encoding {
    match c.encoding {
        crate::config::export::Encoding::Protobuf => Encoding::Protobuf,
        crate::config::export::Encoding::Json => Encoding::Json,
    }
}

fn header<'a>(headers: &[(&'a str, &'a str)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::Config;

    const S: u64 = 1_000_000_000;

    fn exporter(collector: &str) -> Exporter {
        let cfg = Config::from_json(format!(r#"{{"collector":{}}}"#, collector).as_bytes()).unwrap();
        let mut e = Exporter::new(&cfg.collector, Resource::default());
        e.seed(42);
        e
    }

    fn fragment(i: u8) -> Vec<u8> {
        vec![0x0a, 1, i]
    }

    /// Drains every event into (exported, dropped by reason, requests by result).
    fn drain(e: &mut Exporter, acc: &mut (u64, Vec<(&'static str, u64)>, Vec<&'static str>)) {
        while let Some(ev) = e.poll_event() {
            match ev {
                ExportEvent::Exported { spans } => acc.0 += spans,
                ExportEvent::Dropped { spans, reason } => acc.1.push((reason, spans)),
                ExportEvent::Request { result } => acc.2.push(result),
                _ => {}
            }
        }
    }

    fn dropped(acc: &(u64, Vec<(&'static str, u64)>, Vec<&'static str>), reason: &str) -> u64 {
        acc.1.iter().filter(|(r, _)| *r == reason).map(|(_, n)| n).sum()
    }

    #[test]
    fn a_batch_that_never_left_is_dropped_as_dispatch_failed() {
        let mut e = exporter(r#"{"max_batch_spans":1,"max_retries":2,"initial_backoff_ms":10,"max_backoff_ms":10}"#);
        e.enqueue(fragment(1), 0);
        let mut acc = (0, Vec::new(), Vec::new());
        let mut now = 0;
        for _ in 0..10 {
            if let Some(t) = e.poll_transmit(now) {
                e.handle_dispatch_failed(t.token, now);
            }
            now += S;
        }
        drain(&mut e, &mut acc);
        assert_eq!(dropped(&acc, "dispatch_failed"), 1, "{acc:?}");
        assert_eq!(dropped(&acc, "retries_exhausted"), 0);
        assert_eq!(acc.2.iter().filter(|r| **r == "retry").count(), 2, "retried first: {acc:?}");
    }

    #[test]
    fn batches_by_count_and_by_interval() {
        let mut e = exporter(r#"{"max_batch_spans":3,"flush_interval_ms":100}"#);
        for i in 0..3 {
            e.enqueue(fragment(i), 0);
        }
        let t = e.poll_transmit(0).expect("a full batch leaves at once");
        assert!(t.headers.contains(&(":path".to_owned(), "/v1/traces".to_owned())));
        assert!(t.headers.contains(&("content-type".to_owned(), "application/x-protobuf".to_owned())));
        e.enqueue(fragment(9), S);
        assert!(e.poll_transmit(S).is_none(), "not full, not due");
        assert!(e.poll_transmit(S + 99_000_000).is_none());
        assert!(e.poll_transmit(S + 100_000_000).is_some(), "due after the interval");
        assert_eq!(e.poll_timeout(), None);
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_counts_it() {
        let mut e = exporter(r#"{"max_batch_spans":2,"max_queued_spans":3,"max_in_flight":1}"#);
        let mut acc = Default::default();
        for i in 0..5 {
            e.enqueue(fragment(i), 0);
        }
        drain(&mut e, &mut acc);
        assert_eq!(dropped(&acc, "queue_full"), 2);
        let t = e.poll_transmit(0).unwrap();
        // the survivors are the newest three; the batch holds the first two of them
        assert!(t.body.windows(3).any(|w| w == [0x0a, 1, 2]) && !t.body.windows(3).any(|w| w == [0x0a, 1, 0]));
    }

    #[test]
    fn only_429_502_503_504_are_retried_and_retry_after_is_honoured() {
        for (status, retried) in [(429, true), (502, true), (503, true), (504, true), (500, false), (400, false), (401, false), (413, false)] {
            let mut e = exporter(r#"{"max_batch_spans":1,"initial_backoff_ms":100,"max_backoff_ms":1000}"#);
            let mut acc = Default::default();
            e.enqueue(fragment(1), 0);
            let t = e.poll_transmit(0).unwrap();
            e.handle_response(t.token, status, &[], b"", 0);
            drain(&mut e, &mut acc);
            assert_eq!(acc.2, vec![if retried { "retry" } else { "failed" }], "{status}");
            assert_eq!(dropped(&acc, "rejected"), if retried { 0 } else { 1 }, "{status}");
        }
        let mut e = exporter(r#"{"max_batch_spans":1,"initial_backoff_ms":10,"max_backoff_ms":5000}"#);
        e.enqueue(fragment(1), 0);
        let t = e.poll_transmit(0).unwrap();
        e.handle_response(t.token, 429, &[("retry-after", "3")], b"", 0);
        assert!(e.poll_transmit(2 * S).is_none(), "held back by Retry-After");
        assert!(e.poll_transmit(3 * S).is_some());
    }

    #[test]
    fn partial_success_drops_the_rejected_spans_only() {
        let mut e = exporter(r#"{"max_batch_spans":5}"#);
        let mut acc = Default::default();
        for i in 0..5 {
            e.enqueue(fragment(i), 0);
        }
        let t = e.poll_transmit(0).unwrap();
        // ExportTraceServiceResponse { partial_success (1) { rejected_spans (1): 2 } }
        e.handle_response(t.token, 200, &[("content-type", "application/x-protobuf")], &[0x0a, 0x02, 0x08, 0x02], S);
        drain(&mut e, &mut acc);
        assert_eq!((acc.0, dropped(&acc, "partial_success")), (3, 2));
        let mut e = exporter(r#"{"max_batch_spans":2,"encoding":"json"}"#);
        let mut acc = Default::default();
        e.enqueue(fragment(1), 0);
        e.enqueue(fragment(2), 0);
        let t = e.poll_transmit(0).unwrap();
        e.handle_response(t.token, 200, &[("content-type", "application/json")], br#"{"partialSuccess":{"rejectedSpans":"1"}}"#, S);
        drain(&mut e, &mut acc);
        assert_eq!((acc.0, dropped(&acc, "partial_success")), (1, 1));
    }

    /// A virtual clock, a collector that fails in every way, a bounded number of steps: every
    /// span ends up exported or dropped with a reason, exactly once.
    #[test]
    fn every_span_is_accounted_for_through_faults() {
        let mut e = exporter(r#"{"max_batch_spans":7,"max_queued_spans":50,"max_retries":2,"initial_backoff_ms":50,"max_backoff_ms":400,"flush_interval_ms":20}"#);
        let mut acc = Default::default();
        let statuses = [200u16, 503, 429, 500, 0, 504, 200, 502, 400, 200];
        let mut enqueued = 0u64;
        let mut now = 0;
        let mut step = 0usize;
        let mut outstanding: Vec<u64> = Vec::new();
        for round in 0..2000 {
            now += 10_000_000;
            if round < 1500 && round % 2 == 0 {
                e.enqueue(fragment((round % 250) as u8), now);
                enqueued += 1;
            }
            while let Some(t) = e.poll_transmit(now) {
                outstanding.push(t.token);
            }
            if let Some(token) = outstanding.first().copied() {
                outstanding.remove(0);
                match statuses[step % statuses.len()] {
                    0 => e.handle_dispatch_failed(token, now),
                    s => e.handle_response(token, s, &[], b"", now),
                }
                step += 1;
            }
            drain(&mut e, &mut acc);
        }
        // let everything left finish successfully
        for _ in 0..200 {
            now += 500_000_000;
            while let Some(t) = e.poll_transmit(now) {
                e.handle_response(t.token, 200, &[], b"", now);
            }
            for token in std::mem::take(&mut outstanding) {
                e.handle_response(token, 200, &[], b"", now);
            }
        }
        drain(&mut e, &mut acc);
        let dropped_total: u64 = acc.1.iter().map(|(_, n)| n).sum();
        assert_eq!(acc.0 + dropped_total, enqueued, "exported {} + dropped {:?} != {enqueued}", acc.0, acc.1);
        assert!(acc.0 > 0 && dropped(&acc, "rejected") > 0 && dropped(&acc, "retries_exhausted") > 0, "{acc:?}");
        assert_eq!(e.depth(), (0, 0));
    }
}
