//! `collector` and `content` as written: where spans go and how content is kept by reference.
//!
//! This module owns the keys and defaults. The checks and the compiled `Collector` and
//! `Content` are `plugin::export`'s.

use serde::Deserialize;
use std::collections::BTreeMap;

/// `collector`: the OTLP/HTTP endpoint, reached through an Envoy cluster.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCollector {
    #[serde(default = "default_cluster")]
    pub cluster: String,
    #[serde(default = "default_authority")]
    pub authority: String,
    #[serde(default = "default_path")]
    pub path: String,
    #[serde(default)]
    pub encoding: Encoding,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default = "default_flush_interval_ms")]
    pub flush_interval_ms: u64,
    #[serde(default = "default_max_batch_spans")]
    pub max_batch_spans: u64,
    #[serde(default = "default_max_queued_spans")]
    pub max_queued_spans: u64,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: u64,
    #[serde(default = "default_initial_backoff_ms")]
    pub initial_backoff_ms: u64,
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// Where spec-gap log records go on the same collector.
    #[serde(default = "default_logs_path")]
    pub logs_path: String,
    /// `none` or `gzip` (`content-encoding: gzip` on export requests).
    #[serde(default)]
    pub compression: Compression,
}

/// `collector.compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    None,
    Gzip,
}

impl Default for RawCollector {
    fn default() -> Self {
        RawCollector {
            cluster: default_cluster(),
            authority: default_authority(),
            path: default_path(),
            encoding: Encoding::default(),
            headers: BTreeMap::new(),
            flush_interval_ms: default_flush_interval_ms(),
            max_batch_spans: default_max_batch_spans(),
            max_queued_spans: default_max_queued_spans(),
            timeout_ms: default_timeout_ms(),
            max_retries: default_max_retries(),
            max_in_flight: default_max_in_flight(),
            initial_backoff_ms: default_initial_backoff_ms(),
            max_backoff_ms: default_max_backoff_ms(),
            logs_path: default_logs_path(),
            compression: Compression::None,
        }
    }
}

fn default_cluster() -> String {
    "otel_collector".to_owned()
}
fn default_authority() -> String {
    "otel-collector:4318".to_owned()
}
fn default_path() -> String {
    "/v1/traces".to_owned()
}
fn default_flush_interval_ms() -> u64 {
    1000
}
fn default_max_batch_spans() -> u64 {
    512
}
fn default_max_queued_spans() -> u64 {
    8192
}
fn default_timeout_ms() -> u64 {
    5000
}
fn default_max_retries() -> u32 {
    3
}
fn default_max_in_flight() -> u64 {
    2
}
fn default_initial_backoff_ms() -> u64 {
    500
}
fn default_max_backoff_ms() -> u64 {
    30_000
}
fn default_logs_path() -> String {
    "/v1/logs".to_owned()
}

/// `collector.encoding`: OTLP/HTTP body encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    Protobuf,
    Json,
}

/// `content`: content by reference. The prompt (the request body) and the completion (the
/// response body, hashed as it streams, never buffered) are recorded as salted sha256 digests
/// with the retention bucket that holds the content, never in clear.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContent {
    /// The salt of the content digests. Without one, no digest is recorded: an unsalted digest
    /// of a short prompt can be reversed by guessing.
    #[serde(default)]
    pub hash_salt: String,
    /// The retention bucket named on every span (`genai_tap.content.retention_bucket`).
    #[serde(default = "default_retention_bucket")]
    pub retention_bucket: String,
    /// Opt-in: the redacted content itself, as OTLP log records, to a separate cluster.
    #[serde(default)]
    pub capture: RawCapture,
}

impl Default for RawContent {
    fn default() -> Self {
        RawContent { hash_salt: String::new(), retention_bucket: default_retention_bucket(), capture: RawCapture::default() }
    }
}

/// `content.capture`: the controlled retention bucket of the seed chapter.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCapture {
    #[serde(default)]
    pub enabled: bool,
    /// Where the log records go: an Envoy cluster (not the traces collector's, as a rule) and
    /// its OTLP/HTTP logs endpoint.
    #[serde(default)]
    pub cluster: String,
    #[serde(default)]
    pub authority: String,
    #[serde(default = "default_logs_path")]
    pub path: String,
    #[serde(default)]
    pub encoding: Encoding,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The retention bucket named on each record.
    #[serde(default = "default_capture_bucket")]
    pub bucket: String,
    /// The share of calls captured, 0 to 1.
    #[serde(default = "default_sample_rate")]
    pub sample_rate: f64,
    /// Capture every surfaced, blocked or errored call whatever the rate.
    #[serde(default = "super::yes")]
    pub always_on_surface_or_error: bool,
    /// Each prompt and completion is cut to this many bytes.
    #[serde(default = "default_max_content_bytes")]
    pub max_content_bytes: u64,
}

impl Default for RawCapture {
    fn default() -> Self {
        RawCapture {
            enabled: false,
            cluster: String::new(),
            authority: String::new(),
            path: default_logs_path(),
            encoding: Encoding::default(),
            headers: BTreeMap::new(),
            bucket: default_capture_bucket(),
            sample_rate: default_sample_rate(),
            always_on_surface_or_error: true,
            max_content_bytes: default_max_content_bytes(),
        }
    }
}

fn default_capture_bucket() -> String {
    "content-30d".to_owned()
}
fn default_sample_rate() -> f64 {
    1.0
}
fn default_max_content_bytes() -> u64 {
    16 * 1024
}

fn default_retention_bucket() -> String {
    "traces-7d".to_owned()
}
