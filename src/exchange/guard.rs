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
use crate::scan;
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
    /// Labels of request findings (PII kinds, secret rule ids), and those redacted.
    pii_found: Vec<String>,
    secrets_found: Vec<String>,
    redacted: Vec<String>,
}

/// The `rule` a request refused because its body could not be inspected is counted under.
pub const UNINSPECTABLE_RULE: &str = "uninspectable-body";

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
        GuardState {
            response: cfg.guard.policy(Direction::Response, route_kind),
            request_guard,
            uninspectable: None,
            request_state_bytes: 0,
            redactor: None,
            rewrite_response: false,
            blocked: None,
            pii_found: Vec::new(),
            secrets_found: Vec::new(),
            redacted: Vec::new(),
        }
    }

    /// Whether request chunks must still be read for the guard.
    pub fn reads_request(&self) -> bool {
        self.request_guard.is_some()
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
        self.pii_found.append(&mut g.pii);
        self.secrets_found.append(&mut g.secrets);
        self.redacted.append(&mut g.redacted);
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
        let out = r.push(&cfg.guard, self.response, chunk, end_of_stream, now);
        if self.rewrite_response {
            ResponseVerdict::Replace(out)
        } else {
            ResponseVerdict::Continue
        }
    }

    /// The record of what the guard did: stat updates, a warning line when it blocked (`what`
    /// names the call, `a request to api.openai.com (openai)`), and the attributes every span
    /// of the call carries.
    pub fn record(&self, what: &str, stats_out: &mut Vec<StatUpdate>, warnings: &mut Vec<String>) -> GuardAttrs {
        let mut attrs = GuardAttrs::default();
        if let Some((reason, refused)) = self.uninspectable {
            stats_out.push(StatUpdate::new(stats::GUARD_UNINSPECTABLE, &[("reason", reason), ("result", if refused { "blocked" } else { "passed" })], 1));
        }
        if let Some(rule) = &self.blocked {
            attrs.blocked_rule = Some(rule.clone());
            stats_out.push(StatUpdate::new(stats::GUARD_BLOCKS, &[("rule", rule)], 1));
            warnings.push(format!("genai-tap: blocked {what}: it carries a credential matching rule {rule}"));
        }
        // request side: PII redacted in place, secrets seen (a blocking one included)
        for k in self.redacted.iter().filter(|k| !self.secrets_found.contains(k)) {
            stats_out.push(StatUpdate::new(stats::GUARD_REDACTIONS, &[("kind", k)], 1));
        }
        attrs.redactions += self.redacted.len();
        let mut rules: Vec<&String> = self.secrets_found.iter().collect();
        // response side: what the redactor saw; PII counts as redacted when it was replaced
        if let Some(r) = &self.redactor {
            if self.rewrite_response && self.response.pii == PiiMode::Redact {
                stats_out.extend(r.pii().iter().map(|k| StatUpdate::new(stats::GUARD_REDACTIONS, &[("kind", k)], 1)));
                attrs.redactions += r.pii().len();
            }
            rules.extend(r.secrets().iter());
        }
        stats_out.extend(rules.iter().map(|rule| StatUpdate::new(stats::GUARD_SECRET_HITS, &[("rule", rule.as_str())], 1)));
        let mut rules: Vec<String> = rules.into_iter().cloned().collect();
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
