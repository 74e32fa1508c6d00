//! One HTTP stream: feeds Envoy's callbacks into an [`Exchange`] and applies its verdicts.

use super::now_ns;
use super::root::Vm;
use crate::config::Config;
use crate::exchange::{BodyVerdict, EndInfo, Exchange, HeadersVerdict, RequestHead, ResponseVerdict};
use crate::stats::{self, StatUpdate};
use crate::trace::FreshIds;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, BufferType, LogLevel, MapType};
use std::cell::RefCell;
use std::rc::Rc;

/// proxy-wasm shared data: one store for every worker of this VM id (the session roll-ups).
struct SharedStore;

impl crate::session::SharedData for SharedStore {
    fn get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        hostcalls::get_shared_data(key).unwrap_or((None, None))
    }

    fn set(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), crate::session::SetError> {
        match hostcalls::set_shared_data(key, Some(value), cas) {
            Ok(()) => Ok(()),
            Err(proxy_wasm::types::Status::CasMismatch) => Err(crate::session::SetError::CasMismatch),
            Err(_) => Err(crate::session::SetError::Host),
        }
    }
}

/// Response bytes copied but not yet given to the exchange, with when each chunk arrived.
///
/// When the guard does not rewrite the response, parsing it need not delay it: chunks wait
/// here while Envoy forwards them, and the exchange reads them at the end of the exchange or
/// before more than [`DEFER_BYTES`] would wait (a bigger chunk is read at once). The first
/// chunk of a stream and the end of a JSON body then reach the client without waiting for the
/// parser, and the exchange sees the same chunks with the same arrival times as if it had read
/// them at once. The bytes held count in the span's `genai_tap.stream.state_bytes`.
#[derive(Default)]
struct Deferred {
    chunks: Vec<(Vec<u8>, bool, u64)>,
    bytes: usize,
}

/// At most this many response bytes wait per stream.
const DEFER_BYTES: usize = 32 * 1024;

/// A body chunk's bytes; the last callback of a body is often empty, and needs no host call.
fn read_body(which: BufferType, size: usize) -> Vec<u8> {
    if size == 0 {
        return Vec::new();
    }
    hostcalls::get_buffer(which, 0, size).ok().flatten().unwrap_or_default()
}

pub(crate) struct Stream {
    cfg: Rc<Config>,
    vm: Rc<RefCell<Vm>>,
    exchange: Exchange,
    deferred: Deferred,
    counted_in_flight: bool,
    finished: bool,
}

impl Stream {
    pub(crate) fn new(cfg: Rc<Config>, vm: Rc<RefCell<Vm>>) -> Stream {
        let random = vm.borrow_mut().random_ids();
        let exchange = Exchange::new(cfg.clone(), FreshIds::from_random(random));
        Stream { cfg, vm, exchange, deferred: Deferred::default(), counted_in_flight: false, finished: false }
    }

    /// Gives the waiting response chunks to the exchange, in order.
    fn run_deferred(&mut self) {
        if self.deferred.bytes > 0 {
            self.exchange.note_held_response_bytes(self.deferred.bytes);
        }
        self.deferred.bytes = 0;
        for (chunk, end_of_stream, at) in std::mem::take(&mut self.deferred.chunks) {
            // nothing to apply: chunks wait only when the response is never rewritten
            let _ = self.exchange.handle_response_body(&chunk, end_of_stream, at);
        }
    }

    fn in_flight(&mut self, delta: i64) {
        self.vm.borrow_mut().record(&[StatUpdate::new(stats::CALLS_IN_FLIGHT, &[], delta)]);
    }

    fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.run_deferred();
        let code_details = if self.exchange.needs_end_details() {
            hostcalls::get_property(vec!["response", "code_details"])
                .ok()
                .flatten()
                .and_then(|b| String::from_utf8(b).ok())
        } else {
            None
        };
        let now = now_ns();
        let done = self.exchange.finish_with_store(&EndInfo { code_details }, now, &mut SharedStore);
        for w in &done.warnings {
            super::log(LogLevel::Warn, w);
        }
        let mut vm = self.vm.borrow_mut();
        vm.record(&done.stats);
        for span in &done.spans {
            vm.enqueue_span(span, now);
        }
        for log in &done.logs {
            vm.enqueue_log(log, now);
        }
        drop(vm);
        if self.counted_in_flight {
            self.counted_in_flight = false;
            self.in_flight(-1);
        }
    }
}

impl Context for Stream {}

impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let headers = hostcalls::get_map(MapType::HttpRequestHeaders).unwrap_or_default();
        let verdict = self.exchange.handle_request_headers(RequestHead { headers: &headers }, end_of_stream, now_ns());
        for edit in self.exchange.poll_request_header_edits() {
            let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, edit.name, edit.value.as_deref());
        }
        if self.exchange.is_observed() && !self.counted_in_flight {
            self.counted_in_flight = true;
            self.in_flight(1);
        }
        match verdict {
            HeadersVerdict::Continue => Action::Continue,
            HeadersVerdict::WaitForBody => Action::Pause,
        }
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !self.exchange.is_observed() {
            return Action::Continue;
        }
        let now = now_ns();
        if !self.exchange.wants_request_body() {
            self.exchange.handle_request_bytes_unread(body_size, end_of_stream, now);
            return Action::Continue;
        }
        if self.exchange.holds_request() && !end_of_stream {
            // Envoy buffers a paused body for us; it is read once, whole, at its end
            if body_size > self.cfg.max_body_bytes {
                self.exchange.handle_request_too_large(body_size, now);
                return Action::Continue;
            }
            return Action::Pause;
        }
        let chunk = read_body(BufferType::HttpRequestBody, body_size);
        match self.exchange.handle_request_body(&chunk, end_of_stream, now) {
            BodyVerdict::Continue => Action::Continue,
            BodyVerdict::Buffer => Action::Pause,
            BodyVerdict::Replace(body) => {
                let _ = hostcalls::set_buffer(BufferType::HttpRequestBody, 0, body_size, &body);
                let len = body.len().to_string();
                let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, "content-length", Some(&len));
                Action::Continue
            }
            BodyVerdict::LocalReply(reply) => {
                let _ = hostcalls::send_http_response(
                    reply.status,
                    vec![("content-type", reply.content_type)],
                    Some(&reply.body),
                );
                Action::Pause
            }
        }
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        if !self.exchange.is_observed() {
            return Action::Continue;
        }
        let headers = hostcalls::get_map(MapType::HttpResponseHeaders).unwrap_or_default();
        let status = headers
            .iter()
            .find(|(k, _)| k == ":status")
            .and_then(|(_, v)| v.parse::<u16>().ok())
            .unwrap_or(0);
        self.exchange.handle_response_headers(status, &headers, end_of_stream, now_ns());
        for edit in self.exchange.poll_response_header_edits() {
            let _ = hostcalls::set_map_value(MapType::HttpResponseHeaders, edit.name, edit.value.as_deref());
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !self.exchange.is_observed() {
            return Action::Continue;
        }
        let now = now_ns();
        if !self.exchange.wants_response_body() {
            self.run_deferred();
            self.exchange.handle_response_bytes_unread(body_size, end_of_stream, now);
            return Action::Continue;
        }
        let chunk = read_body(BufferType::HttpResponseBody, body_size);
        let rewrites = self.exchange.may_rewrite_response();
        if self.deferred.bytes + chunk.len() > DEFER_BYTES || rewrites {
            self.run_deferred();
        }
        if !rewrites && chunk.len() <= DEFER_BYTES {
            self.deferred.bytes += chunk.len();
            self.deferred.chunks.push((chunk, end_of_stream, now));
            return Action::Continue;
        }
        if let ResponseVerdict::Replace(bytes) = self.exchange.handle_response_body(&chunk, end_of_stream, now) {
            let _ = hostcalls::set_buffer(BufferType::HttpResponseBody, 0, body_size, &bytes);
        }
        Action::Continue
    }

    fn on_http_response_trailers(&mut self, _num_trailers: usize) -> Action {
        // A later filter that adds trailers means end_of_stream never came on the body.
        if self.exchange.is_observed() {
            self.run_deferred();
            self.exchange.handle_response_bytes_unread(0, true, now_ns());
        }
        Action::Continue
    }

    fn on_log(&mut self) {
        if self.exchange.is_observed() || self.exchange.is_unobserved_api() {
            self.finish();
        }
    }
}
