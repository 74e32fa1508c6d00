//! genai-tap as an Envoy dynamic module: a spike of a second host over the same sans-I/O core.
//!
//! The wasm module stays the product (it is what Istio loads). This crate answers one question
//! with a measurement: how close to bare Envoy does observe mode get when the host calls are
//! plain function calls, headers and bodies are read in place, and there is no VM?
//!
//! ```text
//!  Envoy worker ──hook──▶ abi (the only unsafe) ──▶ filter::Filter ──handle_*──▶ exchange::Exchange
//!                                                        │ stream_complete: finished spans
//!                                                        ▼
//!                                    Mutex<export::Exporter>, one per filter configuration
//!  ticker thread ──scheduler commit──▶ main thread: filter::Native::pump ──▶ config HTTP callout
//!                                                        ▲                    to the collector cluster
//!                                       callout_done ────┘ handle_response
//! ```
//!
//! What the spike does not do (see `docs/native.md`): stats, shared-data sessions, header edits
//! (traceparent injection), the guard's holds and rewrites, and `response.code_details`.

#![deny(unsafe_code)]

mod abi;
mod filter;
