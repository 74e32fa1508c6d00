//! genai-tap: a proxy-wasm filter that turns every call an AI agent makes to an LLM provider or
//! a tool server into guarded OpenTelemetry evidence, with no change to the agent.
//!
//! # Design
//!
//! A sans-I/O core and a thin host shell. Everything that parses, scans, decides, builds spans
//! or encodes lives in plain modules that never call the proxy-wasm ABI and never read a clock:
//! they take `now` as an argument and are tested natively with `cargo test`. The `host` module
//! is the only code that touches proxy-wasm, and only through its `Host` trait (`host::wasm`
//! implements it; a fake does in tests). It feeds each callback into an
//! [`Exchange`] and applies what the exchange answers in one `drive` step.
//!
//! ```text
//!  Envoy ─callback─▶ host::wasm ─▶ host::stream ─handle_*─▶ exchange::Exchange
//!    ▲                                  │                     ├─ routes, providers::detect
//!    │   set_buffer, set_header,        │ drive: verdict +    ├─ scan (the guard)
//!    └── send_reply, Pause ◀────────────┘ every poll_*        ├─ providers::Extraction
//!                                                             │    (framing::Body → reader)
//!                                                             └─ tools (MCP, HTTP)
//!  on_log ─▶ finish ─▶ spans, stats, log records ─▶ host::vm ─▶ export::Exporter
//!  host::root::tick ─▶ poll_transmit ─▶ Host::dispatch ─▶ collector ─▶ handle_response
//! ```
//!
//! `DESIGN.md` at the repository root explains the invariants (bounds, sticky errors, where
//! sanitising happens, what may allocate per chunk) and the shared-data slot designs.
//!
//! # Modules
//!
//! - `config`: the public configuration contract, parsed strictly into raw types (a leaf).
//! - `plugin`: the compiled configuration; each domain compiles its own block.
//! - `routes`: which hosts and paths are LLMs, MCP servers or plain tools.
//! - `providers`: provider and API detection; reading bodies into an [`LlmCall`].
//! - `framing`: SSE, NDJSON, JSON-array and AWS event-stream decoders.
//! - `scan`: the guard's detectors (PII, secrets) and the JSON-aware redactor.
//! - `tools`: MCP (JSON-RPC over streamable HTTP) and plain HTTP tool calls.
//! - `span`: the span model and every attribute name.
//! - `otlp`: OTLP protobuf and JSON encoding.
//! - `export`: the bounded export queue, batching and retries.
//! - `exchange`: the per-call state machine that ties the above together.
//! - `trace`: W3C trace context.
//! - `stats`: stat names, labels and their bounds.
//! - `cost` and `session`: prices and per-session roll-ups.
//! - `host` (wasm and tests only): the proxy-wasm glue behind the `Host` trait.
//! - `crc`: CRC-32, shared by the AWS event stream and gzip.
//!
//! Every module is private: the public API is the `pub use` block at the end of this file
//! (for hosts, the telemetry model, and the parsers for fuzzers and benches).

// one audited block, `host::wasm::abi`, reads a header map without the SDK's copies
#![deny(unsafe_code)]
#![deny(missing_docs)]
// `host` is built only for wasm and tests: what only it uses looks unused to the native build
// (the `native/` spike, fuzz targets, examples), which is not a reason to warn.
#![cfg_attr(not(any(target_arch = "wasm32", test)), allow(dead_code, unused_imports))]

mod active;
mod config;
mod cost;
mod instance;
mod crc;
mod exchange;
mod export;
mod framing;
mod otlp;
mod plugin;
mod providers;
mod routes;
mod scan;
mod session;
mod span;
mod stats;
mod stream_guard;
mod task;
mod text;
mod tier;
mod tools;
mod trace;

#[cfg(any(target_arch = "wasm32", test))]
mod host;
#[cfg(test)]
mod layout_tests;

// The whole public surface. Everything else is `pub(crate)` at most, so a change inside a
// module cannot break a user of the crate unless it shows here.
pub use crate::{
    // For hosts (`host::wasm` here, the native dynamic module in `native/`): compile the
    // configuration once, make an exchange per call with fresh ids, feed it each callback,
    // apply its verdicts, and hand the finished spans to the exporter.
    config::ConfigError,
    exchange::{
        BodyVerdict, EndInfo, Exchange, Finished, HeaderEdit, HeadersVerdict, LocalReply, LogOut, LogSink, RequestBodyPlan,
        RequestHead, ResponseVerdict,
    },
    export::{ExportEvent, Exporter, Transmit},
    plugin::Config,
    session::{SetError, SharedData},
    trace::{FreshIds, RandomPool},
    // The telemetry model and its OTLP encoding, for hosts that export themselves and for
    // tests that decode what the filter sent.
    otlp::{encode_log, encode_request, encode_span, Encoding, Signal},
    span::{Attr, AttrValue, Event, Link, LogRecord, Resource, Severity, Span, SpanId, SpanKind, StatusCode, TraceId},
    stats::{Namer, StatUpdate},
    // The parsers and the guard on their own, for the fuzz targets (`fuzz/oracles`) and the
    // benches (`examples/`): each is one input in, a value out, and none keeps state that an
    // exchange would not.
    framing::{Frame, FramingError, StreamDecoder, StreamFormat},
    providers::{handle_request as read_llm_request, Api, ExtractError, LlmCall, ResponseReader},
    scan::request::{RequestGuard, Setup as RequestGuardSetup, Verdict as RequestGuardVerdict},
    scan::{guard_body, redact_all, sanitize_for_telemetry, Guard, Guarded, Outcome as GuardOutcome, PiiMode, Policy, SecretMode},
    tools::http::{result_shape as http_result_shape, side_effect as http_side_effect},
    tools::mcp::{parse_requests as parse_mcp_requests, parse_responses as parse_mcp_responses},
};
