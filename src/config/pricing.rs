//! `pricing` as written: USD list prices per million tokens.
//!
//! This module owns the keys, shared by `pricing.models` and the shipped `envoy/pricing.json`.
//! Checking a price and matching models are `cost::PriceTable`'s.

use serde::Deserialize;

/// `pricing`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPricing {
    /// Start from the table compiled into the module (`envoy/pricing.json`).
    #[serde(default = "super::yes")]
    pub use_default_table: bool,
    /// The operator's prices. An entry with the same `match` (and `provider`) as a built-in
    /// one replaces it; otherwise the most specific match wins (see `cost`).
    #[serde(default)]
    pub models: Vec<RawModelPrice>,
}

impl Default for RawPricing {
    fn default() -> Self {
        RawPricing { use_default_table: true, models: Vec::new() }
    }
}

/// One price entry, in `pricing.models` and in `envoy/pricing.json` alike.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModelPrice {
    /// A model id (`gpt-4o`, exact) or a prefix ending in `*` (`gpt-4o-2024*`).
    #[serde(rename = "match")]
    pub pattern: String,
    /// Only for calls to this provider (a `gen_ai.provider.name` or its alias); any if absent.
    #[serde(default)]
    pub provider: Option<String>,
    /// USD per million uncached input tokens.
    pub input: f64,
    /// USD per million input tokens read from the provider's cache; `input` if absent.
    #[serde(default)]
    pub cached_input: Option<f64>,
    /// USD per million input tokens written to the provider's cache; `input` if absent.
    #[serde(default)]
    pub cache_write: Option<f64>,
    /// USD per million output tokens (reasoning tokens included, as providers bill them).
    #[serde(default)]
    pub output: f64,
}

/// The file format of `envoy/pricing.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPriceFile {
    // accepted so that the price file validates strictly; they are for its readers, not us
    #[allow(dead_code)]
    pub list_date: String,
    #[allow(dead_code)]
    pub source: String,
    pub currency: String,
    pub unit: String,
    #[serde(default)]
    #[allow(dead_code)]
    pub notes: String,
    pub models: Vec<RawModelPrice>,
}
