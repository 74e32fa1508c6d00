//! The exchange: one call through the filter, as a state machine driven by its caller.
//!
//! This module owns what happens to one HTTP exchange: deciding what it is (an LLM call, a
//! tool call, or nothing to observe), which bodies to read, what to change on the wire, and
//! the finished spans, stats and log records. It is fed the request headers, body chunks, the
//! response headers, body chunks and the end of the exchange, each with `now` (unix
//! nanoseconds), and answers with verdicts (continue, wait, replace the body, reply locally).
//! It never calls the host and never reads a clock, so it is tested natively on a virtual
//! clock.
//!
//! # Order of calls
//!
//! Inputs (`handle_*`), each followed by draining the outputs it may have produced:
//!
//! 1. [`Exchange::handle_request_headers`], then [`Exchange::poll_request_header_edits`];
//! 2. for each request body chunk, [`Exchange::request_body_plan`] says whether to read it
//!    ([`Exchange::handle_request_body`]), only count it
//!    ([`Exchange::handle_request_bytes_unread`]) or let Envoy buffer it;
//! 3. [`Exchange::handle_response_headers`], then [`Exchange::poll_response_header_edits`];
//! 4. for each response body chunk, [`Exchange::handle_response_body`] if
//!    [`Exchange::wants_response_body`], else [`Exchange::handle_response_bytes_unread`];
//! 5. [`Exchange::finish_with_store`] exactly once, which returns every span, stat update and
//!    log record.
//!
//! A call that skips a step (a local reply, a client that went away) still ends with `finish`,
//! and the span says what happened.
//!
//! When the guard does not rewrite the response, reading it need not delay it: the exchange
//! keeps response chunks (at most [`DEFER_BYTES`]) and reads them later, before more would
//! wait, at the end of the body, or at `finish`. The first chunk of a stream and the end of a
//! JSON body then reach the client without waiting for the parser, and the reading sees the
//! same chunks with the same arrival times. The bytes kept count in the stream's state.
//!
//! # Errors
//!
//! Nothing here fails traffic. A body that cannot be read stops extraction for that exchange
//! (sticky, like rustls), is recorded on the span as `genai_tap.parsed=false` with a reason, and
//! counted in `bodies_not_parsed`; bytes keep flowing untouched.

mod common;
mod guard;
mod llm;
mod llm_span;
mod logs;
mod outcome;
mod sanitize;
mod session_link;
mod task_link;
mod tool;
mod tool_links;
mod verdict;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod trailers_tests;

pub(crate) use session_link::emit_session;
pub use task_link::emit_task;
pub use verdict::{BodyVerdict, EndInfo, Finished, HeaderEdit, HeadersVerdict, LocalReply, LogOut, LogSink, RequestBodyPlan, RequestHead, ResponseVerdict, TrailersVerdict};

use crate::routes::RouteKind;
use std::borrow::Cow;
use crate::plugin::Config;
use crate::framing::BoundedBody;
use crate::providers::{self, Api, Detected, NotParsed, Operation, Provider};
use crate::session::SharedData;
use crate::stats::{self, StatUpdate};
use crate::stream_guard::ResponseGuard;
use crate::trace::FreshIds;
use common::Common;
use guard::GuardState;
use llm::Llm;
use std::rc::Rc;
use tool::Tool;

/// At most this many response bytes wait per stream before they are read.
pub const DEFER_BYTES: usize = 32 * 1024;

/// One exchange. See the module documentation for the order of calls.
#[derive(Debug)]
pub struct Exchange {
    cfg: Rc<Config>,
    ids: FreshIds,
    state: State,
    request_edits: Vec<HeaderEdit>,
    response_edits: Vec<HeaderEdit>,
}

#[derive(Debug)]
enum State {
    /// Not classified yet (before the request headers).
    New,
    /// The header probe classified the call as ours; the request headers build on its answer
    /// instead of classifying again. Boxed: most exchanges never hold one.
    Probed(Box<Target>),
    /// Nothing to observe: every later call is a no-op. Provider traffic that passes unread
    /// (batches, files, realtime) names its API, to be counted at the end.
    Passthrough { unobserved: Option<&'static str> },
    Observed(Box<Observed>),
}

/// An observed call: what every kind shares, and its own part.
#[derive(Debug)]
struct Observed {
    common: Common,
    guard: GuardState,
    request_body: BoundedBody,
    /// The request body is over (`end_of_stream`, its declared length, or its trailers).
    request_done: bool,
    deferred: Deferred,
    call: Call,
}

#[derive(Debug)]
enum Call {
    Llm(Llm),
    Tool(Tool),
}

/// Response chunks kept to be read later, with their end-of-stream flag and arrival time.
#[derive(Debug, Default)]
struct Deferred {
    chunks: Vec<(Vec<u8>, bool, u64)>,
    bytes: usize,
}

/// What the request headers say the call is.
#[derive(Debug)]
enum Target {
    Llm(Detected, RouteKind),
    Tool { mcp: bool, name: Option<String> },
    None,
}

impl Exchange {
    /// `ids`: fresh random ids; the trace id is used only when the agent sent no trace context.
    pub fn new(cfg: Rc<Config>, ids: FreshIds) -> Exchange {
        Exchange { cfg, ids, state: State::New, request_edits: Vec::new(), response_edits: Vec::new() }
    }

    fn observed(&mut self) -> Option<&mut Observed> {
        match &mut self.state {
            State::Observed(o) => Some(o),
            _ => None,
        }
    }

    fn observed_ref(&self) -> Option<&Observed> {
        match &self.state {
            State::Observed(o) => Some(o),
            _ => None,
        }
    }

    /// True when this exchange is observed (it will produce a span).
    pub fn is_observed(&self) -> bool {
        matches!(self.state, State::Observed(_))
    }

    /// Passed through unread, but provider traffic worth counting (`unobserved_calls`): the
    /// host must still call [`Exchange::finish_with_store`] for it.
    pub fn is_unobserved_api(&self) -> bool {
        matches!(self.state, State::Passthrough { unobserved: Some(_) })
    }

    /// Whether [`EndInfo::code_details`] can change how this exchange is classified: only an
    /// LLM call that did not end with a complete success response. The host skips reading the
    /// property otherwise, a host call saved on nearly every call.
    pub fn needs_end_details(&self) -> bool {
        self.observed_ref().is_some_and(|o| matches!(o.call, Call::Llm(_)) && !o.common.done_ok())
    }

    /// Whether [`Exchange::handle_response_body`] may answer anything but `Continue`: the guard
    /// rewrites this response.
    pub fn may_rewrite_response(&self) -> bool {
        self.observed_ref().is_some_and(|o| o.guard.rewrite_response)
    }

    /// The host should copy request body chunks in.
    pub fn wants_request_body(&self) -> bool {
        self.observed_ref().is_some_and(|o| !o.request_body.overflowed())
    }

    /// What the host does with a request body chunk: read it (for the guard, or for the
    /// copy that extraction reads at the end), or only count it.
    pub fn request_body_plan(&self) -> RequestBodyPlan {
        match self.observed_ref() {
            Some(o) if o.guard.reads_request() || !o.request_body.overflowed() => RequestBodyPlan::Read,
            _ => RequestBodyPlan::Count,
        }
    }

    /// The host should copy response body chunks in.
    pub fn wants_response_body(&self) -> bool {
        self.observed_ref().is_some_and(|o| {
            o.guard.scans_response()
                || match &o.call {
                    Call::Llm(l) => l.wants_response_body(),
                    Call::Tool(t) => t.wants_response_body(),
                }
        })
    }

    /// Reads the request headers and classifies the exchange.
    pub fn handle_request_headers(&mut self, head: RequestHead<'_>, end_of_stream: bool, now: u64) -> HeadersVerdict {
        if !matches!(self.state, State::New | State::Probed(_)) {
            return HeadersVerdict::Continue;
        }
        let authority = head.get(":authority").or_else(|| head.get("host")).unwrap_or("");
        let host = common::host_of(authority);
        let path = head.get(":path").unwrap_or("/");
        let unobserved = || providers::unobserved_api(&host, path, &|n| head.get(n).map(str::to_owned));
        let target = match std::mem::replace(&mut self.state, State::New) {
            State::Probed(target) => *target,
            _ => self.classify(&host, path, || crate::tools::mcp::looks_like_mcp(head.headers)),
        };
        // an upgrade or a tunnel on a route genai-tap reads (a host-wide `kind: llm` route):
        // what follows the headers is frames or raw TCP, never a call's body. It passes
        // untouched, is never scanned or held, makes no span, and is counted as unobserved.
        if let (false, Some(tunnel)) = (matches!(target, Target::None), providers::tunnel(head.get(":method"), head.get("upgrade"))) {
            self.state = State::Passthrough { unobserved: Some(unobserved().unwrap_or(tunnel)) };
            return HeadersVerdict::Continue;
        }
        let (route_kind, call) = match target {
            Target::None => {
                self.state = State::Passthrough { unobserved: unobserved() };
                return HeadersVerdict::Continue;
            }
            Target::Llm(detected, route_kind) => (route_kind, Call::Llm(Llm::new(&self.cfg, detected, route_kind))),
            Target::Tool { mcp, name } => {
                let kind = if mcp { RouteKind::Mcp } else { RouteKind::Tool };
                (kind, Call::Tool(Tool::new(head, &host, path, mcp, name)))
            }
        };
        let common = Common::new(&self.cfg, &self.ids, head, end_of_stream, now, &host);
        if self.cfg.inject_traceparent {
            self.request_edits.push(common.traceparent_edit());
        }
        // LLM upstreams only, as documented: a tool server's encoding is its own business. A
        // value that already says identity is left alone: in Envoy every request-header write
        // makes it find the route again
        let narrow = |v: &str| !v.trim().eq_ignore_ascii_case("identity");
        if self.cfg.narrow_accept_encoding && matches!(call, Call::Llm(_)) && head.get("accept-encoding").is_some_and(narrow) {
            self.request_edits.push(HeaderEdit { name: "accept-encoding", value: Some("identity".into()) });
        }
        let guard = GuardState::new(&self.cfg, route_kind, head, end_of_stream);
        self.state = State::Observed(Box::new(Observed {
            common,
            guard,
            request_body: BoundedBody::new(self.cfg.max_body_bytes),
            request_done: end_of_stream,
            deferred: Deferred::default(),
            call,
        }));
        // never a hold: without `allow_on_headers_stop_iteration` (which Istio and Envoy
        // Gateway cannot set) a paused request hangs; the guard holds back a tail of the body
        HeadersVerdict::Continue
    }

    /// Decides "not mine" from the few request headers classification reads, each asked of
    /// `get` by name and only when needed: `:authority` (or `host`) and `:path`, then the MCP
    /// headers. The wasm host answers from the header map it read once (in Envoy a read by
    /// name costs nearly what the map does); the native host reads each in place.
    /// `true`: the exchange is now passthrough (as [`Exchange::handle_request_headers`]
    /// would have made it) and the host can stop there. `false`: the call
    /// is ours, and the exchange keeps the probe's classification for
    /// [`Exchange::handle_request_headers`] (call it with every header), which does not
    /// classify again.
    pub fn handle_request_probe(&mut self, get: impl Fn(&str) -> Option<String>) -> bool {
        if !matches!(self.state, State::New) {
            return false;
        }
        let authority = get(":authority").or_else(|| get("host")).unwrap_or_default();
        let host = common::host_of(&authority);
        let path = get(":path").unwrap_or_else(|| "/".to_owned());
        let mcp = || crate::tools::mcp::HEADERS.iter().any(|h| get(h).is_some());
        match self.classify(&host, &path, mcp) {
            Target::None => {
                self.state = State::Passthrough { unobserved: providers::unobserved_api(&host, &path, &get) };
                true
            }
            target => {
                self.state = State::Probed(Box::new(target));
                false
            }
        }
    }

    /// `mcp`: whether the request carries MCP's headers, asked only when the route and the path
    /// leave it open.
    fn classify(&self, host: &str, path: &str, mcp: impl FnOnce() -> bool) -> Target {
        match self.cfg.routes.find(host, path) {
            Some(r) if r.kind == RouteKind::Llm => {
                let mut d = providers::detect(host, path).unwrap_or(Detected {
                    provider: Provider::Unknown,
                    api: Api::Unknown,
                    operation: Operation::Unknown,
                    path_model: None,
                    path_stream: false,
                });
                if let Some(p) = r.provider {
                    d.provider = p;
                }
                Target::Llm(d, RouteKind::Llm)
            }
            Some(r) => Target::Tool { mcp: r.kind == RouteKind::Mcp, name: r.tool.clone() },
            None => match providers::detect(host, path) {
                Some(d) => Target::Llm(d, RouteKind::Llm),
                None if path.split('?').next().is_some_and(|p| p.ends_with("/mcp")) || mcp() => {
                    Target::Tool { mcp: true, name: None }
                }
                None => Target::None,
            },
        }
    }

    /// Header changes to apply before the request headers leave. Drained.
    #[must_use]
    pub fn poll_request_header_edits(&mut self) -> Vec<HeaderEdit> {
        std::mem::take(&mut self.request_edits)
    }

    /// Reads one request body chunk. The guard scans it as it streams and answers what leaves
    /// in its place; the copy that extraction reads is of the bytes the client sent. The body
    /// is over at `end_of_stream`, or once its declared `content-length` has come: a body
    /// followed by trailers never gets `end_of_stream`, and what the guard holds must leave
    /// with the last chunk, since nothing can be released from the trailers callback.
    pub fn handle_request_body(&mut self, chunk: &[u8], end_of_stream: bool, now: u64) -> BodyVerdict {
        let cfg = self.cfg.clone();
        let Some(o) = self.observed() else { return BodyVerdict::Continue };
        if o.request_done {
            // past the end already (the empty end_of_stream after a declared length)
            o.common.request_bytes += chunk.len() as u64;
            return BodyVerdict::Continue;
        }
        o.common.request_bytes += chunk.len() as u64;
        let end = end_of_stream || o.guard.request_complete(o.common.request_bytes);
        o.request_body.push(chunk);
        let verdict = o.guard.guard_request_chunk(&cfg, chunk, end, o.request_body.overflowed());
        if end {
            o.end_request_body(&cfg, now);
        }
        verdict
    }

    /// The request ended with trailers, without `end_of_stream` on a body chunk. The guard
    /// finishes its scan here; a tail it still holds cannot leave (see
    /// [`TrailersVerdict`]), so such a request is refused rather than sent cut short.
    pub fn handle_request_trailers(&mut self, now: u64) -> TrailersVerdict {
        let cfg = self.cfg.clone();
        let Some(o) = self.observed() else { return TrailersVerdict::Continue };
        if o.request_done {
            o.guard.request_trailers_after_end();
            return TrailersVerdict::Continue;
        }
        let reply = o.guard.end_request_at_trailers(&cfg);
        o.end_request_body(&cfg, now);
        match reply {
            Some(r) => TrailersVerdict::LocalReply(r),
            None => TrailersVerdict::Continue,
        }
    }

    /// Counts request bytes the exchange did not ask to read, and notes the end.
    pub fn handle_request_bytes_unread(&mut self, len: usize, end_of_stream: bool, now: u64) {
        let Some(o) = self.observed() else { return };
        o.common.request_bytes += len as u64;
        if end_of_stream {
            o.common.request_end_ns.get_or_insert(now);
            if let (true, Call::Llm(l)) = (o.request_body.overflowed(), &mut o.call) {
                l.extraction.stop(NotParsed::TooLarge);
            }
        }
    }

    /// Reads the response status and headers.
    pub fn handle_response_headers(&mut self, status: u16, headers: &[(&str, &str)], end_of_stream: bool, now: u64) {
        let cfg = self.cfg.clone();
        let Some(o) = self.observed() else { return };
        o.common.status = Some(status);
        o.common.request_end_ns.get_or_insert(now);
        if end_of_stream {
            o.common.response_end_ns = Some(now);
        }
        let get = |name: &str| headers.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        let encoded = get("content-encoding").is_some_and(|e| !e.trim().is_empty() && !e.trim().eq_ignore_ascii_case("identity"));
        // a compressed body cannot be scanned or rewritten in place
        match &mut o.call {
            Call::Llm(l) => {
                if !encoded {
                    let d = &l.extraction.detected;
                    let format = providers::stream_format(d.api, d.path_stream, get("content-type").unwrap_or(""));
                    o.guard.start_response(|| ResponseGuard::for_llm(format, cfg.max_frame_bytes, cfg.max_body_bytes));
                }
                l.extraction.handle_response_headers(headers, get("content-type").unwrap_or(""), encoded);
            }
            Call::Tool(t) => {
                if !encoded {
                    let ct = get("content-type").unwrap_or("");
                    o.guard.start_response(|| ResponseGuard::for_tool(ct, cfg.max_frame_bytes, cfg.max_body_bytes));
                }
                t.handle_response_headers(&|n| get(n).map(str::to_owned), encoded, &cfg);
            }
        }
        if end_of_stream {
            o.end_response_body(now);
        }
        if o.guard.rewrite_response {
            // redaction changes lengths: the response goes out chunked
            self.response_edits.push(HeaderEdit { name: "content-length", value: None });
        }
    }

    /// Header changes to apply before the response headers leave. Drained.
    #[must_use]
    pub fn poll_response_header_edits(&mut self) -> Vec<HeaderEdit> {
        std::mem::take(&mut self.response_edits)
    }

    /// Reads one response body chunk. Bytes pass unchanged unless the guard rewrites them.
    ///
    /// A host that already owns the chunk (wasm's `get_buffer` returns a `Vec`) hands it over,
    /// and a deferred chunk is kept without a copy; a host that lends a slice (the native
    /// module) pays a copy only when the chunk is deferred.
    pub fn handle_response_body<'c>(&mut self, chunk: impl Into<Cow<'c, [u8]>>, end_of_stream: bool, now: u64) -> ResponseVerdict {
        let chunk = chunk.into();
        let cfg = self.cfg.clone();
        let Some(o) = self.observed() else { return ResponseVerdict::Continue };
        if !o.guard.rewrite_response {
            if o.deferred.bytes + chunk.len() > DEFER_BYTES {
                o.run_deferred(&cfg);
            }
            if chunk.len() <= DEFER_BYTES {
                o.deferred.bytes += chunk.len();
                o.deferred.chunks.push((chunk.into_owned(), end_of_stream, now));
                if end_of_stream {
                    // known now, read later: how the call ended must not wait for the reading
                    o.common.response_end_ns.get_or_insert(now);
                }
                return ResponseVerdict::Continue;
            }
        }
        o.run_deferred(&cfg);
        o.read_response_chunk(&cfg, &chunk, end_of_stream, now)
    }

    /// Counts response bytes the exchange did not ask to read, and notes the end.
    pub fn handle_response_bytes_unread(&mut self, len: usize, end_of_stream: bool, now: u64) {
        let cfg = self.cfg.clone();
        let Some(o) = self.observed() else { return };
        o.run_deferred(&cfg);
        o.common.response_bytes += len as u64;
        if end_of_stream {
            o.end_response_body(now);
        }
    }

    /// The response ended with trailers (a later filter added them), so `end_of_stream` never
    /// came with a body chunk. What the response guard still holds cannot leave from here: the
    /// answer is a reply that resets the stream, so the client sees an error, not an answer
    /// cut short (counted in `guard_response_trailers`).
    pub fn handle_response_trailers(&mut self, now: u64) -> TrailersVerdict {
        let cfg = self.cfg.clone();
        let reply = self.observed().and_then(|o| o.guard.end_response_at_trailers(&cfg, now));
        self.handle_response_bytes_unread(0, true, now);
        match reply {
            Some(r) => TrailersVerdict::LocalReply(r),
            None => TrailersVerdict::Continue,
        }
    }

    /// Ends the exchange: returns its spans and stat updates, with no shared data (session
    /// roll-ups are skipped). Call exactly once; the host calls [`Exchange::finish_with_store`].
    pub fn finish(&mut self, end: &EndInfo, now: u64) -> Finished {
        self.finish_with_store(end, now, &mut NoStore)
    }

    /// Ends the exchange, rolling the call up into its session and task in `store`.
    pub fn finish_with_store<S: SharedData>(&mut self, end: &EndInfo, now: u64, store: &mut S) -> Finished {
        let cfg = self.cfg.clone();
        let mut out = Finished::default();
        let mut o = match std::mem::replace(&mut self.state, State::Passthrough { unobserved: None }) {
            State::Observed(o) => o,
            State::Passthrough { unobserved: Some(api) } => {
                out.stats.push(StatUpdate::new(stats::UNOBSERVED_CALLS, &[("api", api)], 1));
                return out;
            }
            State::New | State::Probed(_) | State::Passthrough { unobserved: None } => return out,
        };
        o.run_deferred(&cfg);
        let Observed { common, guard, call, .. } = *o;
        match call {
            Call::Llm(l) => llm_span::finish(&cfg, common, guard, l, end, now, store, &mut out),
            Call::Tool(t) => tool::finish(&cfg, common, guard, t, now, store, &mut out),
        }
        // defence in depth for what is not a span: a warning line or a spec-gap record carries
        // text from the wire too (the authority, which may hold userinfo). Captured content is
        // redacted where it is built.
        out.warnings.iter_mut().for_each(|w| sanitize::clean(&cfg, w));
        out.logs.iter_mut().filter(|l| l.sink == LogSink::SpecGap).for_each(|l| sanitize::clean(&cfg, &mut l.record.body));
        out
    }
}

impl Observed {
    /// The request body is over: extraction reads the copy, or notes it was too large.
    fn end_request_body(&mut self, cfg: &Config, now: u64) {
        self.request_done = true;
        self.common.request_end_ns = Some(now);
        if self.request_body.overflowed() {
            if let Call::Llm(l) = &mut self.call {
                l.extraction.stop(NotParsed::TooLarge);
            }
            return;
        }
        let body = self.request_body.take();
        match &mut self.call {
            Call::Llm(l) => l.handle_request(cfg, &body),
            Call::Tool(t) => t.handle_request(&body),
        }
    }

    /// Reads the kept response chunks, in order.
    fn run_deferred(&mut self, cfg: &Config) {
        if self.deferred.chunks.is_empty() {
            return;
        }
        if let Call::Llm(l) = &mut self.call {
            l.extraction.note_state(self.deferred.bytes);
        }
        self.deferred.bytes = 0;
        for (chunk, end_of_stream, at) in std::mem::take(&mut self.deferred.chunks) {
            // nothing to apply: chunks wait only when the response is never rewritten
            let _ = self.read_response_chunk(cfg, &chunk, end_of_stream, at);
        }
    }

    fn read_response_chunk(&mut self, cfg: &Config, chunk: &[u8], end_of_stream: bool, now: u64) -> ResponseVerdict {
        self.common.response_bytes += chunk.len() as u64;
        let verdict = self.guard.filter_response(cfg, chunk, end_of_stream, now);
        match &mut self.call {
            Call::Llm(l) => {
                l.handle_response_chunk(chunk, now);
                // what the guard holds counts in the stream's state
                l.extraction.note_state(self.guard.response_state_bytes());
            }
            Call::Tool(t) => t.handle_response_chunk(chunk),
        }
        if end_of_stream {
            self.end_response_body(now);
        }
        verdict
    }

    fn end_response_body(&mut self, now: u64) {
        self.common.response_end_ns.get_or_insert(now);
        match &mut self.call {
            Call::Llm(l) => l.extraction.end_response(now),
            Call::Tool(t) => t.end_response(),
        }
    }
}

/// Shared data that refuses every write: sessions are skipped (native tests of other things).
struct NoStore;

impl SharedData for NoStore {
    fn get(&self, _key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        (None, None)
    }
    fn set(&mut self, _key: &str, _value: &[u8], _cas: Option<u32>) -> Result<(), crate::session::SetError> {
        Err(crate::session::SetError::Host)
    }
}
