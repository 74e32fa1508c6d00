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
//! [`exchange::Exchange`] and applies what the exchange answers in one `drive` step.
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
//! - [`config`]: the public configuration contract, parsed strictly into raw types (a leaf).
//! - [`plugin`]: the compiled configuration; each domain compiles its own block.
//! - [`routes`]: which hosts and paths are LLMs, MCP servers or plain tools.
//! - [`providers`]: provider and API detection; reading bodies into an [`providers::LlmCall`].
//! - [`framing`]: SSE, NDJSON, JSON-array and AWS event-stream decoders.
//! - [`scan`]: the guard's detectors (PII, secrets) and the JSON-aware redactor.
//! - [`tools`]: MCP (JSON-RPC over streamable HTTP) and plain HTTP tool calls.
//! - [`span`]: the span model and every attribute name.
//! - [`otlp`]: OTLP protobuf and JSON encoding.
//! - [`export`]: the bounded export queue, batching and retries.
//! - [`exchange`]: the per-call state machine that ties the above together.
//! - [`trace`]: W3C trace context.
//! - [`stats`]: stat names, labels and their bounds.
//! - [`cost`] and [`session`]: prices and per-session roll-ups.
//! - `host` (wasm and tests only): the proxy-wasm glue behind the `Host` trait.
//! - `crc`: CRC-32, shared by the AWS event stream and gzip.

#![forbid(unsafe_code)]

pub mod config;
pub mod active;
pub mod cost;
pub mod instance;
mod crc;
pub mod exchange;
pub mod export;
pub mod framing;
pub mod otlp;
pub mod plugin;
pub mod providers;
pub mod routes;
pub mod scan;
pub mod stream_guard;
pub mod session;
pub mod span;
pub mod stats;
pub mod task;
pub mod tier;
pub mod tools;
pub mod trace;

#[cfg(any(target_arch = "wasm32", test))]
mod host;
