//! Test and demo helpers for genai-tap.
//!
//! - [`upstream::Upstream`]: answers like a real provider by replaying the recordings in
//!   `../shared/fixtures`, with knobs for chunking, delays, resets and gzip.
//! - [`sink::OtlpSink`]: an OTLP/HTTP receiver that decodes with the real OTLP types
//!   (`opentelemetry-proto`), protobuf and JSON, and can be made slow, failing or down.
//! - [`recorder::Recorder`]: an upstream that keeps every byte it received, complete
//!   requests or not, and a client that writes a body in spaced pieces.
//! - [`h2`]: an h2c server for the same handlers and a client that resets streams on demand.
//! - [`envoy::Envoy`]: the pinned Envoy with the built module, on free loopback ports.
//! - [`prometheus::Prometheus`]: a real Prometheus scraping that Envoy, and PromQL queries.
//! - [`base64`]: the encoding of raw bodies in upstream headers and recordings.
//!
//! Everything binds 127.0.0.1 and every wait is bounded.

pub mod base64;
pub mod envoy;
pub mod h2;
pub mod http;
pub mod prometheus;
pub mod recorder;
pub mod sink;
pub mod upstream;
