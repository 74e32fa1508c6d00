//! One HTTP stream: feeds Envoy's callbacks into an [`Exchange`] and applies what it answers.
//!
//! Every decision (what to read, what to hold, what to replace) is the exchange's; this only
//! moves bytes and headers between the host and the exchange, in one `drive` step per
//! callback that applies the verdict and drains every pending output.

use super::vm::Vm;
use super::{Action, BodyOf, Headers, Host, Level, SharedStore};
use crate::plugin::Config;
use crate::exchange::{BodyVerdict, EndInfo, Exchange, HeaderEdit, HeadersVerdict, RequestBodyPlan, RequestHead, ResponseVerdict, TrailersVerdict};
use crate::stats::{self, StatUpdate};
use crate::trace::FreshIds;
use std::cell::RefCell;
use std::rc::Rc;

/// What one callback's verdict asks of the host.
enum Verdict {
    Headers(HeadersVerdict),
    RequestBody { size: usize, verdict: BodyVerdict },
    ResponseBody { size: usize, verdict: ResponseVerdict },
    Trailers(TrailersVerdict),
    Nothing,
}

pub(crate) struct Stream {
    vm: Rc<RefCell<Vm>>,
    exchange: Exchange,
    counted_in_flight: bool,
    finished: bool,
}

impl Stream {
    pub(crate) fn new(cfg: Rc<Config>, vm: Rc<RefCell<Vm>>, host: &mut impl Host) -> Stream {
        let random = vm.borrow_mut().random_ids(host);
        let exchange = Exchange::new(cfg, FreshIds::from_random(random));
        Stream { vm, exchange, counted_in_flight: false, finished: false }
    }

    /// Applies a verdict and every output the exchange has pending.
    fn drive(&mut self, host: &mut impl Host, verdict: Verdict) -> Action {
        apply_edits(host, Headers::Request, self.exchange.poll_request_header_edits());
        apply_edits(host, Headers::Response, self.exchange.poll_response_header_edits());
        if self.exchange.is_observed() && !self.counted_in_flight {
            self.counted_in_flight = true;
            self.in_flight(host, 1);
        }
        match verdict {
            // never Pause on headers: without `allow_on_headers_stop_iteration` (which Istio and
            // Envoy Gateway cannot set) a paused request hangs
            Verdict::Headers(HeadersVerdict::Continue) | Verdict::Nothing => Action::Continue,
            Verdict::RequestBody { size, verdict } => match verdict {
                BodyVerdict::Continue => Action::Continue,
                BodyVerdict::Replace(bytes) => {
                    // drains this chunk and puts the released bytes in its place; the held tail
                    // waits in the exchange and is prepended to the next chunk
                    host.replace_body(BodyOf::Request, size, &bytes);
                    Action::Continue
                }
                BodyVerdict::LocalReply(reply) => {
                    // the chunk holding the secret never leaves; Envoy resets the upstream
                    host.replace_body(BodyOf::Request, size, &[]);
                    host.send_reply(reply.status, reply.content_type, &reply.body);
                    Action::Pause
                }
            },
            // never a body write here: Envoy answers `BadArgument` to a body write from a
            // trailers callback (the buffer is gone), and the SDK's `set_buffer` panics on it
            Verdict::Trailers(TrailersVerdict::Continue) => Action::Continue,
            Verdict::Trailers(TrailersVerdict::LocalReply(reply)) => {
                host.send_reply(reply.status, reply.content_type, &reply.body);
                Action::Pause
            }
            Verdict::ResponseBody { size, verdict } => {
                if let ResponseVerdict::Replace(bytes) = verdict {
                    host.replace_body(BodyOf::Response, size, &bytes);
                }
                Action::Continue
            }
        }
    }

    fn in_flight(&mut self, host: &mut impl Host, delta: i64) {
        self.vm.borrow_mut().record(host, &[StatUpdate::new(stats::CALLS_IN_FLIGHT, &[], delta)]);
    }

    pub(crate) fn on_request_headers(&mut self, host: &mut impl Host, end_of_stream: bool) -> Action {
        // One read of the whole map serves both the "not mine" decision and the exchange. In
        // Envoy 1.40 a host call that returns data re-enters the module to allocate it, and
        // that round trip is most of its cost: under callgrind (bench/count.py) a read by name
        // that finds a value costs about 10,500 instructions and the whole map of an SDK's 17
        // headers about 13,800, read in place (`header_block`). An observed call used to read
        // `:authority` and `:path` by name and then the map as well.
        let block = host.headers(Headers::Request);
        let headers = block.pairs();
        let first = |name: &str| headers.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned());
        if self.exchange.handle_request_probe(first) {
            return Action::Continue;
        }
        {
            // once per VM, and only while the proxy's identity is a generated one
            let mut vm = self.vm.borrow_mut();
            if std::mem::take(&mut vm.node_id_wanted) {
                vm.node_id_found = super::root::node_prop(&*host, &["id"]).filter(|s| !s.trim().is_empty());
            }
        }
        let now = host.now_ns();
        let verdict = self.exchange.handle_request_headers(RequestHead { headers: &headers }, end_of_stream, now);
        self.drive(host, Verdict::Headers(verdict))
    }

    pub(crate) fn on_request_body(&mut self, host: &mut impl Host, size: usize, end_of_stream: bool) -> Action {
        if !self.exchange.is_observed() {
            return Action::Continue;
        }
        let now = host.now_ns();
        let verdict = match self.exchange.request_body_plan() {
            RequestBodyPlan::Count => {
                self.exchange.handle_request_bytes_unread(size, end_of_stream, now);
                return Action::Continue;
            }
            RequestBodyPlan::Read => {
                let chunk = read(host, BodyOf::Request, size);
                self.exchange.handle_request_body(&chunk, end_of_stream, now)
            }
        };
        self.drive(host, Verdict::RequestBody { size, verdict })
    }

    pub(crate) fn on_response_headers(&mut self, host: &mut impl Host, end_of_stream: bool) -> Action {
        if !self.exchange.is_observed() {
            return Action::Continue;
        }
        let block = host.headers(Headers::Response);
        let headers = block.pairs();
        let status = headers.iter().find(|(k, _)| *k == ":status").and_then(|(_, v)| v.parse::<u16>().ok()).unwrap_or(0);
        let now = host.now_ns();
        self.exchange.handle_response_headers(status, &headers, end_of_stream, now);
        self.drive(host, Verdict::Nothing)
    }

    pub(crate) fn on_response_body(&mut self, host: &mut impl Host, size: usize, end_of_stream: bool) -> Action {
        if !self.exchange.is_observed() {
            return Action::Continue;
        }
        let now = host.now_ns();
        if !self.exchange.wants_response_body() {
            self.exchange.handle_response_bytes_unread(size, end_of_stream, now);
            return Action::Continue;
        }
        let chunk = read(host, BodyOf::Response, size);
        let verdict = self.exchange.handle_response_body(chunk, end_of_stream, now);
        self.drive(host, Verdict::ResponseBody { size, verdict })
    }

    /// A request body that ends with trailers (HTTP/2, or HTTP/1.1 with trailers enabled)
    /// never had `end_of_stream` on a body chunk.
    pub(crate) fn on_request_trailers(&mut self, host: &mut impl Host) -> Action {
        if !self.exchange.is_observed() {
            return Action::Continue;
        }
        let now = host.now_ns();
        let verdict = self.exchange.handle_request_trailers(now);
        self.drive(host, Verdict::Trailers(verdict))
    }

    /// A later filter that adds trailers means `end_of_stream` never came with the body.
    pub(crate) fn on_response_trailers(&mut self, host: &mut impl Host) -> Action {
        if !self.exchange.is_observed() {
            return Action::Continue;
        }
        let now = host.now_ns();
        let verdict = self.exchange.handle_response_trailers(now);
        self.drive(host, Verdict::Trailers(verdict))
    }

    /// The exchange is over (Envoy's access-log hook, the one that always comes).
    pub(crate) fn on_log(&mut self, host: &mut impl Host) {
        if !(self.exchange.is_observed() || self.exchange.is_unobserved_api()) || self.finished {
            return;
        }
        self.finished = true;
        let code_details = if self.exchange.needs_end_details() {
            host.property(&["response", "code_details"]).and_then(|b| String::from_utf8(b).ok())
        } else {
            None
        };
        let now = host.now_ns();
        let done = self.exchange.finish_with_store(&EndInfo { code_details }, now, &mut SharedStore(host));
        for w in &done.warnings {
            host.log(Level::Warn, w);
        }
        let mut vm = self.vm.borrow_mut();
        vm.record(host, &done.stats);
        for span in &done.spans {
            vm.enqueue_span(span, now);
        }
        for log in &done.logs {
            vm.enqueue_log(log, now);
        }
        if let Some(slot) = done.task_slot {
            vm.watched_tasks.insert(slot);
        }
        if let Some(slot) = done.session_slot {
            vm.watched_sessions.insert(slot);
        }
        for (kind, version) in &done.versions {
            vm.active.note(*kind, version, now / 1_000_000);
        }
        drop(vm);
        if self.counted_in_flight {
            self.counted_in_flight = false;
            self.in_flight(host, -1);
        }
    }
}

/// A body chunk's bytes; the last callback of a body is often empty, and needs no host call.
fn read(host: &impl Host, which: BodyOf, size: usize) -> Vec<u8> {
    if size == 0 {
        return Vec::new();
    }
    host.body(which, size)
}

fn apply_edits(host: &mut impl Host, map: Headers, edits: Vec<HeaderEdit>) {
    for edit in edits {
        host.set_header(map, edit.name, edit.value.as_deref());
    }
}
