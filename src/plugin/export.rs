//! The compiled `collector` and `content` blocks: the checked endpoint settings the exporter
//! reads, and the content digest salt.
//!
//! This module owns validating those blocks. It does not export anything (see `export`).

use crate::config::export::{Compression, Encoding, RawCollector, RawContent};
use crate::config::ConfigError;

/// The compiled collector settings.
#[derive(Debug, Clone)]
pub struct Collector {
    pub cluster: String,
    pub authority: String,
    pub path: String,
    pub encoding: Encoding,
    /// Lowercase names, validated.
    pub headers: Vec<(String, String)>,
    pub flush_interval_ms: u64,
    pub max_batch_spans: usize,
    pub max_queued_spans: usize,
    pub timeout_ms: u64,
    pub max_retries: u32,
    pub max_in_flight: usize,
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    pub logs_path: String,
    pub compression: Compression,
}

impl Collector {
    /// The same endpoint, for OTLP logs.
    pub fn for_logs(&self) -> Collector {
        let mut c = self.clone();
        c.path = self.logs_path.clone();
        c
    }

    /// `field` is where this block sits (`collector`), for error messages.
    pub fn compile(raw: RawCollector, field: &str) -> Result<Collector, ConfigError> {
        let f = |k: &str| format!("{field}.{k}");
        if raw.cluster.trim().is_empty() {
            return Err(ConfigError::new(f("cluster"), "must name an Envoy cluster"));
        }
        if raw.authority.trim().is_empty() {
            return Err(ConfigError::new(f("authority"), "must not be empty"));
        }
        if !raw.path.starts_with('/') {
            return Err(ConfigError::new(f("path"), "must start with '/'"));
        }
        if !(10..=60_000).contains(&raw.flush_interval_ms) {
            return Err(ConfigError::new(f("flush_interval_ms"), "must be between 10 and 60000"));
        }
        if !(1..=10_000).contains(&raw.max_batch_spans) {
            return Err(ConfigError::new(f("max_batch_spans"), "must be between 1 and 10000"));
        }
        if !(1..=1_000_000).contains(&raw.max_queued_spans) {
            return Err(ConfigError::new(f("max_queued_spans"), "must be between 1 and 1000000"));
        }
        if raw.max_queued_spans < raw.max_batch_spans {
            return Err(ConfigError::new(
                f("max_queued_spans"),
                format!("must be at least max_batch_spans ({})", raw.max_batch_spans),
            ));
        }
        if !(10..=300_000).contains(&raw.timeout_ms) {
            return Err(ConfigError::new(f("timeout_ms"), "must be between 10 and 300000"));
        }
        if raw.max_retries > 10 {
            return Err(ConfigError::new(f("max_retries"), "must be between 0 and 10"));
        }
        if !(1..=16).contains(&raw.max_in_flight) {
            return Err(ConfigError::new(f("max_in_flight"), "must be between 1 and 16"));
        }
        if !(1..=60_000).contains(&raw.initial_backoff_ms) {
            return Err(ConfigError::new(f("initial_backoff_ms"), "must be between 1 and 60000"));
        }
        if raw.max_backoff_ms < raw.initial_backoff_ms || raw.max_backoff_ms > 600_000 {
            return Err(ConfigError::new(
                f("max_backoff_ms"),
                format!("must be between initial_backoff_ms ({}) and 600000", raw.initial_backoff_ms),
            ));
        }
        if !raw.logs_path.starts_with('/') {
            return Err(ConfigError::new(f("logs_path"), "must start with '/'"));
        }
        let mut headers = Vec::with_capacity(raw.headers.len());
        for (name, value) in raw.headers {
            let lower = name.to_ascii_lowercase();
            let valid = !lower.is_empty()
                && lower.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !valid {
                return Err(ConfigError::new(
                    f("headers"),
                    "every header name must be letters, digits, '-', '_' or '.'",
                ));
            }
            if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(ConfigError::new(
                    format!("{field}.headers.{name}"),
                    "value must not contain CR, LF or NUL",
                ));
            }
            headers.push((lower, value));
        }
        Ok(Collector {
            cluster: raw.cluster,
            authority: raw.authority,
            path: raw.path,
            encoding: raw.encoding,
            headers,
            flush_interval_ms: raw.flush_interval_ms,
            max_batch_spans: raw.max_batch_spans as usize,
            max_queued_spans: raw.max_queued_spans as usize,
            timeout_ms: raw.timeout_ms,
            max_retries: raw.max_retries,
            max_in_flight: raw.max_in_flight as usize,
            initial_backoff_ms: raw.initial_backoff_ms,
            max_backoff_ms: raw.max_backoff_ms,
            logs_path: raw.logs_path,
            compression: raw.compression,
        })
    }
}

/// The compiled capture settings.
#[derive(Debug, Clone)]
pub struct Capture {
    pub collector: Collector,
    pub bucket: String,
    pub sample_rate: f64,
    pub always_on_surface_or_error: bool,
    pub max_content_bytes: usize,
}

/// The compiled content settings.
#[derive(Debug, Default)]
pub struct Content {
    pub hash_salt: Option<String>,
    pub retention_bucket: String,
    pub capture: Option<Capture>,
}

impl Content {
    pub fn compile(raw: RawContent) -> Result<Content, ConfigError> {
        if raw.retention_bucket.trim().is_empty() || raw.retention_bucket.len() > 128 {
            return Err(ConfigError::new("content.retention_bucket", "must be 1 to 128 characters"));
        }
        if !raw.hash_salt.is_empty() && raw.hash_salt.len() < 8 {
            return Err(ConfigError::new("content.hash_salt", "must be at least 8 characters (or empty to record no digests)"));
        }
        let c = raw.capture;
        let capture = if c.enabled {
            if c.cluster.trim().is_empty() {
                return Err(ConfigError::new("content.capture.cluster", "must name an Envoy cluster when capture is enabled"));
            }
            if c.authority.trim().is_empty() {
                return Err(ConfigError::new("content.capture.authority", "must be set when capture is enabled"));
            }
            if !(0.0..=1.0).contains(&c.sample_rate) {
                return Err(ConfigError::new("content.capture.sample_rate", "must be between 0 and 1"));
            }
            if !(256..=1_048_576).contains(&c.max_content_bytes) {
                return Err(ConfigError::new("content.capture.max_content_bytes", "must be between 256 and 1048576"));
            }
            if c.bucket.trim().is_empty() {
                return Err(ConfigError::new("content.capture.bucket", "must not be empty"));
            }
            let collector = Collector::compile(
                RawCollector { cluster: c.cluster, authority: c.authority, path: c.path, encoding: c.encoding, headers: c.headers, ..RawCollector::default() },
                "content.capture",
            )?;
            Some(Capture {
                collector,
                bucket: c.bucket,
                sample_rate: c.sample_rate,
                always_on_surface_or_error: c.always_on_surface_or_error,
                max_content_bytes: c.max_content_bytes as usize,
            })
        } else {
            None
        };
        Ok(Content {
            hash_salt: (!raw.hash_salt.is_empty()).then_some(raw.hash_salt),
            retention_bucket: raw.retention_bucket,
            capture,
        })
    }

    /// A running salted digest, or `None` when no salt is configured.
    pub fn hasher(&self) -> Option<sha2::Sha256> {
        use sha2::Digest;
        let salt = self.hash_salt.as_ref()?;
        let mut h = sha2::Sha256::new();
        h.update(salt.as_bytes());
        Some(h)
    }
}
