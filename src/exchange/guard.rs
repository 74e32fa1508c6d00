//! The guard's state in one call, the same for every kind of call: what the policies say,
//! what was found, redacted or blocked, and how that is recorded.
//!
//! Scanning itself is `scan`'s; this decides what a finding does to the bytes of this call and
//! writes the one record of it (stats, span attributes, a warning line) that LLM and tool
//! spans share.

use super::verdict::{BodyVerdict, LocalReply, RequestHead, ResponseVerdict};
use crate::scan::{Direction, PiiMode, Policy};
use crate::routes::RouteKind;
use crate::plugin::Config;
use crate::scan::request::{self, RequestGuard};
use crate::scan::{self, Tally};
use crate::stream_guard::ResponseGuard;
use crate::span::{attr, AttrValue, Span};
use crate::stats::{self, StatUpdate};

/// What the guard did and is doing in one call.
#[derive(Debug)]
pub(super) struct GuardState {
    response: Policy,
    /// Guards the request body as it streams, until its end or a refusal. Headers never wait
    /// for it: it holds back a bounded tail of the body instead.
    request_guard: Option<RequestGuard>,
    /// A body the guard could not inspect: the reason, and whether it was refused.
    uninspectable: Option<(&'static str, bool)>,
    /// The most bytes the request guard held at once.
    pub request_state_bytes: usize,
    /// The response guard: by channel for LLM streams, whole for JSON answers, by line for
    /// tool responses.
    redactor: Option<ResponseGuard>,
    /// The response's bytes are replaced by the redactor's output.
    pub rewrite_response: bool,
    /// The rule of the secret that blocked the request.
    pub blocked: Option<String>,
    /// The request guard may hold or change bytes of this request (not observe only).
    request_held: bool,
    /// The request's declared `content-length`: the body is whole once this many bytes came,
    /// whether or not `end_of_stream` comes with them (a body followed by trailers).
    request_length: Option<u64>,
    /// What request trailers did to a body the guard held (`released`, `refused`), and
    /// response trailers (`released`, `reset`): each counted once.
    request_trailers: Option<&'static str>,
    response_trailers: Option<&'static str>,
    /// Request findings (PII by kind, secrets by rule), and the PII redacted.
    pii_found: Tally,
    secrets_found: Tally,
    redacted: Tally,
}

/// The `rule` a request refused because its body could not be inspected is counted under.
pub const UNINSPECTABLE_RULE: &str = "uninspectable-body";

/// The `rule` a request refused at its trailers is counted under: the guard held the end of
/// its body and proxy-wasm cannot release body bytes from the trailers callback.
pub const TRAILERS_RULE: &str = "held-body-before-trailers";

/// The status of the local reply to such a request: the filter, not the client, could not
/// finish it.
pub const TRAILERS_STATUS: u32 = 500;

/// The JSON body of the reply for a body the guard could not release before its trailers.
fn trailers_body(direction: &str) -> Vec<u8> {
    serde_json::json!({
        "error": {
            "type": "guard_incomplete_body",
            "reason": "trailers",
            "message": format!("genai-tap could not finish this {direction}: its body ended with trailers while the guard held its last bytes, and Envoy's proxy-wasm cannot add body bytes after the last body callback. Send the request with content-length, or without trailers."),
        }
    })
    .to_string()
    .into_bytes()
}

/// The JSON body of the local reply that refuses a body the guard cannot inspect.
fn uninspectable_body(reason: &str) -> Vec<u8> {
    serde_json::json!({
        "error": {
            "type": "uninspectable_body",
            "reason": reason,
            "message": format!("genai-tap refused this request: its body ({reason}) cannot be inspected for credentials. Send it uncompressed (or gzip without values to redact)."),
        }
    })
    .to_string()
    .into_bytes()
}

impl GuardState {
    /// The guard for a call on a `route_kind` route. A request that ends with its headers, an
    /// upgrade (a WebSocket, OpenAI Realtime) or a tunnel has no body to guard, and never
    /// waits on one.
    pub fn new(cfg: &Config, route_kind: RouteKind, head: RequestHead<'_>, end_of_stream: bool) -> GuardState {
        let request = cfg.guard.policy(Direction::Request, route_kind);
        let tunnel = head.get(":method").is_some_and(|m| m.eq_ignore_ascii_case("CONNECT")) || head.get("upgrade").is_some();
        let request_guard = (!request.is_off() && !end_of_stream && !tunnel).then(|| {
            RequestGuard::new(request::Setup {
                policy: request,
                content_length: head.get("content-length").is_some(),
                content_encoding: head.get("content-encoding"),
                window: cfg.guard.request_hold_bytes,
                block_uninspectable: cfg.guard.blocks_uninspectable(request),
            })
        });
        let request_held = request_guard.as_ref().is_some_and(|g| !g.observes_only());
        GuardState {
            request_held,
            response: cfg.guard.policy(Direction::Response, route_kind),
            request_guard,
            uninspectable: None,
            request_state_bytes: 0,
            redactor: None,
            rewrite_response: false,
            blocked: None,
            request_length: head.get("content-length").and_then(|v| v.trim().parse().ok()),
            request_trailers: None,
            response_trailers: None,
            pii_found: Tally::default(),
            secrets_found: Tally::default(),
            redacted: Tally::default(),
        }
    }

    /// Whether request chunks must still be read for the guard.
    pub fn reads_request(&self) -> bool {
        self.request_guard.is_some()
    }

    /// Whether `seen` request body bytes are the whole body its `content-length` declared.
    pub fn request_complete(&self, seen: u64) -> bool {
        self.request_length.is_some_and(|n| seen >= n)
    }

    /// The request body ended with trailers, without `end_of_stream` on a body chunk (and
    /// before its declared length, if any). Envoy's proxy-wasm cannot add body bytes from the
    /// trailers callback (measured: `proxy_set_buffer_bytes` answers `BadArgument` there, and
    /// the SDK panics on it), so a tail the guard still holds cannot leave. The tail is scanned
    /// as the end of the body: a secret in it blocks as usual; otherwise, if any byte was held,
    /// the request is refused with a clear reply instead of reaching the upstream cut short.
    /// `None`: nothing was held, the request goes on whole.
    pub fn end_request_at_trailers(&mut self, cfg: &Config) -> Option<LocalReply> {
        match self.guard_request_chunk(cfg, &[], true, false) {
            BodyVerdict::LocalReply(reply) => {
                self.request_trailers = Some("refused");
                Some(reply)
            }
            BodyVerdict::Replace(bytes) if !bytes.is_empty() => {
                self.blocked = Some(TRAILERS_RULE.to_owned());
                self.request_trailers = Some("refused");
                Some(LocalReply { status: TRAILERS_STATUS, body: trailers_body("request"), content_type: "application/json" })
            }
            _ => {
                self.request_trailers_after_end();
                None
            }
        }
    }

    /// Trailers came after the whole body had left (its declared length reached): counted,
    /// nothing else to do.
    pub fn request_trailers_after_end(&mut self) {
        if self.request_held && self.blocked.is_none() {
            self.request_trailers = Some("released");
        }
    }

    /// The response ended with trailers (a filter listed after genai-tap added them, as
    /// Envoy's decompressor does), so `end_of_stream` never came on a body chunk. What the
    /// response guard still holds cannot leave from the trailers callback (see
    /// [`GuardState::end_request_at_trailers`]); rather than let the client take a cut answer
    /// for a whole one, the stream is reset (a local reply after the headers went resets it).
    /// `None`: nothing was held.
    pub fn end_response_at_trailers(&mut self, cfg: &Config, now: u64) -> Option<LocalReply> {
        if !self.rewrite_response {
            return None;
        }
        let r = self.redactor.as_mut()?;
        let lost = r.push(&cfg.guard, self.response, &[], true, now);
        if lost.is_empty() {
            self.response_trailers = Some("released");
            return None;
        }
        self.response_trailers = Some("reset");
        Some(LocalReply { status: 502, body: trailers_body("response"), content_type: "application/json" })
    }

    /// Guards one request body chunk as it streams: what the host should do with it.
    /// `overflowed`: the body outgrew `max_body_bytes`; a guard that only observes stops there,
    /// while one that may block or redact scans on, whatever the size.
    pub fn guard_request_chunk(&mut self, cfg: &Config, chunk: &[u8], end_of_stream: bool, overflowed: bool) -> BodyVerdict {
        if overflowed && self.request_guard.as_ref().is_some_and(RequestGuard::observes_only) {
            self.request_guard = None;
        }
        let Some(g) = self.request_guard.as_mut() else { return BodyVerdict::Continue };
        let verdict = g.push(&cfg.guard, chunk, end_of_stream);
        self.pii_found.absorb(&mut g.pii);
        self.secrets_found.absorb(&mut g.secrets);
        self.redacted.absorb(&mut g.redacted);
        self.request_state_bytes = g.peak_state_bytes();
        if self.uninspectable.is_none() {
            self.uninspectable = g.uninspectable.map(|r| (r, !matches!(verdict, request::Verdict::Forward(_))));
        }
        let out = match verdict {
            request::Verdict::Forward(bytes) if bytes == chunk => BodyVerdict::Continue,
            request::Verdict::Forward(bytes) => BodyVerdict::Replace(bytes),
            request::Verdict::Block(request::Refusal::Secret(rule)) => {
                let reply = LocalReply { status: cfg.guard.block_status, body: scan::block_body(&rule), content_type: "application/json" };
                self.blocked = Some(rule);
                BodyVerdict::LocalReply(reply)
            }
            request::Verdict::Block(request::Refusal::Uninspectable(reason)) => {
                self.blocked = Some(UNINSPECTABLE_RULE.to_owned());
                BodyVerdict::LocalReply(LocalReply { status: 415, body: uninspectable_body(reason), content_type: "application/json" })
            }
        };
        if end_of_stream || matches!(out, BodyVerdict::LocalReply(_)) {
            self.request_guard = None;
        }
        out
    }

    /// The response starts: scan it with the guard `make` builds, unless the policy is off or
    /// the request was refused.
    pub fn start_response(&mut self, make: impl FnOnce() -> ResponseGuard) {
        if !self.response.is_off() && self.blocked.is_none() {
            self.redactor = Some(make());
            self.rewrite_response = self.response.may_rewrite();
        }
    }

    /// Bytes the response guard holds now.
    pub fn response_state_bytes(&self) -> usize {
        self.redactor.as_ref().map_or(0, ResponseGuard::state_bytes)
    }

    /// Whether response chunks must be scanned.
    pub fn scans_response(&self) -> bool {
        self.redactor.is_some()
    }

    /// Scans a response chunk; replaces it when the response is rewritten.
    pub fn filter_response(&mut self, cfg: &Config, chunk: &[u8], end_of_stream: bool, now: u64) -> ResponseVerdict {
        let Some(r) = self.redactor.as_mut() else { return ResponseVerdict::Continue };
        let out = if chunk.is_empty() && !end_of_stream && self.rewrite_response {
            // an empty chunk that does not end the body: Envoy's decompressor, listed after
            // genai-tap, sends one when the upstream's body ends and then adds trailers (so
            // `end_of_stream` never comes). Held bytes cannot leave from the trailers
            // callback, so they leave now, scanned as far as they go.
            r.release_held(&cfg.guard, self.response, now)
        } else {
            r.push(&cfg.guard, self.response, chunk, end_of_stream, now)
        };
        if self.rewrite_response {
            ResponseVerdict::Replace(out)
        } else {
            ResponseVerdict::Continue
        }
    }

    /// The record of what the guard did: stat updates, a warning line when it blocked (`what`
    /// names the call, `a request to api.openai.com (openai)`; formatted only for a warning),
    /// and the attributes every span of the call carries.
    pub fn record(&self, cfg: &Config, what: &dyn Fn() -> String, stats_out: &mut Vec<StatUpdate>, warnings: &mut Vec<String>) -> GuardAttrs {
        let mut attrs = GuardAttrs::default();
        if let Some((reason, refused)) = self.uninspectable {
            stats_out.push(StatUpdate::new(stats::GUARD_UNINSPECTABLE, &[("reason", reason), ("result", if refused { "blocked" } else { "passed" })], 1));
        }
        if let Some(result) = self.request_trailers {
            stats_out.push(StatUpdate::new(stats::GUARD_REQUEST_TRAILERS, &[("result", result)], 1));
        }
        if let Some(result) = self.response_trailers {
            stats_out.push(StatUpdate::new(stats::GUARD_RESPONSE_TRAILERS, &[("result", result)], 1));
        }
        if let Some(rule) = &self.blocked {
            attrs.blocked_rule = Some(rule.clone());
            stats_out.push(StatUpdate::new(stats::GUARD_BLOCKS, &[("rule", rule)], 1));
            let what = what();
            warnings.push(match rule.as_str() {
                UNINSPECTABLE_RULE => format!("genai-tap: refused {what}: its body cannot be inspected"),
                TRAILERS_RULE => format!("genai-tap: refused {what}: its body ended with trailers while the guard held its last bytes"),
                _ => format!("genai-tap: blocked {what}: it carries a credential matching rule {rule}"),
            });
        }
        if self.response_trailers == Some("reset") {
            let what = what();
            warnings.push(format!("genai-tap: reset {what}: the response ended with trailers while the guard held its last bytes"));
        }
        // request side: PII redacted in place, secrets seen (a blocking one included)
        // one update per kind, with its count: a dense prompt has thousands of findings
        let detectors = &cfg.guard.detectors;
        let count = |stats_out: &mut Vec<StatUpdate>, metric, label, tally: &Tally| {
            for (kind, n) in tally.iter() {
                stats_out.push(StatUpdate::new(metric, &[(label, &detectors.kind_name(kind))], i64::from(n)));
            }
        };
        count(stats_out, stats::GUARD_REDACTIONS, "kind", &self.redacted);
        attrs.redactions += self.redacted.total();
        count(stats_out, stats::GUARD_SECRET_HITS, "rule", &self.secrets_found);
        let mut rules: Vec<String> = self.secrets_found.iter().map(|(k, _)| detectors.kind_name(k).into_owned()).collect();
        // response side: what the redactor saw; PII counts as redacted when it was replaced
        if let Some(r) = &self.redactor {
            if self.rewrite_response && self.response.pii == PiiMode::Redact {
                count(stats_out, stats::GUARD_REDACTIONS, "kind", r.pii());
                attrs.redactions += r.pii().total();
            }
            count(stats_out, stats::GUARD_SECRET_HITS, "rule", r.secrets());
            rules.extend(r.secrets().iter().map(|(k, _)| detectors.kind_name(k).into_owned()));
        }
        rules.sort();
        rules.dedup();
        attrs.secret_rules = rules;
        attrs
    }
}

/// The guard's attributes on a call's spans.
#[derive(Debug, Default)]
pub(super) struct GuardAttrs {
    blocked_rule: Option<String>,
    redactions: usize,
    secret_rules: Vec<String>,
}

impl GuardAttrs {
    pub fn apply(&self, span: &mut Span) {
        if let Some(rule) = &self.blocked_rule {
            span.set(attr::TAP_GUARD_BLOCKED_RULE, rule.as_str());
        }
        if self.redactions > 0 {
            span.set(attr::TAP_GUARD_REDACTIONS, AttrValue::from(self.redactions as u64));
        }
        if !self.secret_rules.is_empty() {
            span.set(attr::TAP_GUARD_SECRET_RULES, self.secret_rules.clone());
        }
    }
}
