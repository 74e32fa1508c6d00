//! Prices and the cost of one LLM call.
//!
//! This module owns the price table (built from `envoy/pricing.json`, compiled into the module,
//! plus the operator's `pricing.models`), model matching, the token decomposition (cached /
//! uncached input, cache writes, output), the arithmetic, and compiling the `pricing` block
//! ([`PriceTable::compile`]). The raw keys are `config::pricing`'s; this module does not emit
//! stats.
//!
//! # Matching
//!
//! An entry's `match` is a model id (exact) or a prefix ending in `*`. For a call, an exact
//! match beats any prefix, and a longer prefix beats a shorter one; at equal specificity an
//! entry scoped to the call's provider beats an unscoped one. Comparison ignores ASCII case.
//! The model is tried as given first, then normalised: an AWS ARN is cut to what follows
//! its last `/`, and a Bedrock cross-region prefix (`us.`, `eu.`, `apac.`, `global.` ...) is
//! dropped, so `arn:aws:bedrock:us-east-1:1:inference-profile/us.anthropic.claude-3-7-sonnet-
//! 20250219-v1:0` is priced as `anthropic.claude-3-7-sonnet*`. An application inference
//! profile ARN names no model, so it is unpriced unless the operator lists the ARN itself.
//!
//! # Never guessed
//!
//! A model that matches no entry is unpriced: [`cost`] returns `None`, and the host counts
//! `llm_unpriced_calls`. A call that reports no usage at all is unpriced too.
//!
//! # Arithmetic
//!
//! Prices are kept as integer pico-USD per token (USD per million tokens × 10⁶), so a price
//! may have at most six decimals and sums are exact. A call's cost is rounded to the nearest
//! micro-USD once, at the end (`llm_cost_micro_usd` counts those).

use crate::config::pricing::{RawModelPrice, RawPriceFile, RawPricing};
use crate::providers::{Provider, Usage};
use core::fmt;

/// The default price table, as shipped in `envoy/pricing.json`.
pub const DEFAULT_TABLE_JSON: &str = include_str!("../envoy/pricing.json");

/// The most a price may be, in USD per million tokens; more is a typo.
const MAX_USD_PER_MILLION: f64 = 10_000.0;

/// The prices of one model, in pico-USD per token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelPrice {
    pub input: u64,
    pub cached_input: u64,
    pub cache_write: u64,
    pub output: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Exact(String),
    Prefix(String),
}

#[derive(Debug, Clone)]
struct Entry {
    pattern: Pattern,
    /// The pattern's first byte, lowercased: most entries are ruled out by it alone, which
    /// keeps a lookup in the default table of ~80 entries to a few hundred instructions.
    first: u8,
    provider: Option<Provider>,
    price: ModelPrice,
}

impl Entry {
    /// How well this entry matches: `None` if not at all; larger is more specific.
    fn specificity(&self, model: &str, provider: Provider) -> Option<(bool, usize, bool)> {
        if model.as_bytes().first().map(u8::to_ascii_lowercase) != Some(self.first)
            || self.provider.is_some_and(|p| p != provider)
        {
            return None;
        }
        let scoped = self.provider.is_some();
        match &self.pattern {
            Pattern::Exact(m) => m
                .eq_ignore_ascii_case(model)
                .then_some((true, m.len(), scoped)),
            Pattern::Prefix(p) => {
                let head = model.as_bytes().get(..p.len())?;
                head.eq_ignore_ascii_case(p.as_bytes())
                    .then_some((false, p.len(), scoped))
            }
        }
    }
}

/// The compiled price table.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    entries: Vec<Entry>,
    /// The last lookup and its answer: an agent's calls name the same model again and again,
    /// and a scan of the table is a few thousand instructions on every call.
    last: LastLookup,
}

/// A mutex (uncontended: one VM is one thread) keeps `Config` `Sync`; a clone starts empty.
#[derive(Debug, Default)]
struct LastLookup(std::sync::Mutex<Option<(String, Provider, Option<ModelPrice>)>>);

impl Clone for LastLookup {
    fn clone(&self) -> Self {
        LastLookup::default()
    }
}

impl PriceTable {
    /// Compiles the `pricing` block. An error names the field inside the block.
    pub fn compile(raw: RawPricing) -> Result<PriceTable, Error> {
        let mut table = PriceTable::default();
        if raw.use_default_table {
            table = PriceTable::builtin().map_err(|e| Error {
                field: "use_default_table".to_owned(),
                kind: ErrorKind::BuiltIn(Box::new(e)),
            })?;
        }
        for (i, entry) in raw.models.into_iter().enumerate() {
            table.insert(entry).map_err(|e| e.under(&format!("models[{i}]")))?;
        }
        Ok(table)
    }

    /// The table compiled into the module.
    pub fn builtin() -> Result<PriceTable, Error> {
        PriceTable::from_table_json(DEFAULT_TABLE_JSON)
    }

    /// Parses a table in the `envoy/pricing.json` format.
    pub fn from_table_json(text: &str) -> Result<PriceTable, Error> {
        let raw: RawPriceFile = crate::config::parse_json(text.as_bytes()).map_err(|e| Error {
            field: e.field().to_owned(),
            kind: ErrorKind::Parse(e.message().to_owned()),
        })?;
        if raw.currency != "USD" || raw.unit != "per million tokens" {
            return Err(Error::at("unit", ErrorKind::Unit));
        }
        let mut table = PriceTable::default();
        for (i, entry) in raw.models.into_iter().enumerate() {
            table.insert(entry).map_err(|e| e.under(&format!("models[{i}]")))?;
        }
        Ok(table)
    }

    /// Adds an entry, replacing one with the same pattern and provider. An error names the
    /// entry's field (`input`); the caller says which entry.
    pub fn insert(&mut self, raw: RawModelPrice) -> Result<(), Error> {
        let pattern = match raw.pattern.strip_suffix('*') {
            Some(p) => Pattern::Prefix(p.to_owned()),
            None => Pattern::Exact(raw.pattern.clone()),
        };
        let text = match &pattern {
            Pattern::Exact(s) | Pattern::Prefix(s) => s,
        };
        if text.is_empty() || text.contains('*') || text.trim() != text {
            return Err(Error::at("match", ErrorKind::Match));
        }
        let Some(&first) = text.as_bytes().first() else {
            return Err(Error::at("match", ErrorKind::Match));
        };
        let provider = match raw.provider.as_deref() {
            None => None,
            Some(name) => Some(
                Provider::from_config_name(name).ok_or(Error::at("provider", ErrorKind::Provider))?,
            ),
        };
        let rate = |k: &'static str, usd: f64| -> Result<u64, Error> {
            pico_per_token(usd).ok_or(Error::at(k, ErrorKind::Price))
        };
        let input = rate("input", raw.input)?;
        let price = ModelPrice {
            input,
            cached_input: raw
                .cached_input
                .map(|p| rate("cached_input", p))
                .transpose()?
                .unwrap_or(input),
            cache_write: raw
                .cache_write
                .map(|p| rate("cache_write", p))
                .transpose()?
                .unwrap_or(input),
            output: rate("output", raw.output)?,
        };
        let entry = Entry {
            first: first.to_ascii_lowercase(),
            pattern,
            provider,
            price,
        };
        match self
            .entries
            .iter_mut()
            .find(|e| e.pattern == entry.pattern && e.provider == entry.provider)
        {
            Some(slot) => *slot = entry,
            None => self.entries.push(entry),
        }
        if let Ok(last) = self.last.0.get_mut() {
            *last = None;
        }
        Ok(())
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The price of `model` for a call to `provider`, if the table has one.
    pub fn lookup(&self, model: &str, provider: Provider) -> Option<ModelPrice> {
        if let Ok(last) = self.last.0.try_lock() {
            if let Some((m, p, price)) = last.as_ref() {
                if m == model && *p == provider {
                    return *price;
                }
            }
        }
        let price = self
            .best(model, provider)
            .or_else(|| {
                let normalised = normalise_model(model);
                (normalised != model)
                    .then(|| self.best(normalised, provider))
                    .flatten()
            })
            .copied();
        if let Ok(mut last) = self.last.0.try_lock() {
            *last = Some((model.to_owned(), provider, price));
        }
        price
    }

    fn best(&self, model: &str, provider: Provider) -> Option<&ModelPrice> {
        if model.is_empty() {
            return None;
        }
        self.entries
            .iter()
            .filter_map(|e| e.specificity(model, provider).map(|s| (s, &e.price)))
            .max_by_key(|(s, _)| *s)
            .map(|(_, p)| p)
    }
}

/// A price entry or table that does not compile. The message never holds the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    field: String,
    kind: ErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ErrorKind {
    /// The table file does not parse; the message is already free of values.
    Parse(String),
    Unit,
    Match,
    Provider,
    Price,
    /// The shipped table is broken: a bug of the build, not the operator's.
    BuiltIn(Box<Error>),
}

impl Error {
    fn at(field: &str, kind: ErrorKind) -> Error {
        Error { field: field.to_owned(), kind }
    }

    /// The same error, one level down: `input` under `models[3]` is `models[3].input`.
    fn under(mut self, prefix: &str) -> Error {
        self.field = if self.field.is_empty() { prefix.to_owned() } else { format!("{prefix}.{}", self.field) };
        self
    }

    /// The field inside the block compiled (`models[3].input`, `use_default_table`).
    pub fn field(&self) -> &str {
        &self.field
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Parse(message) => f.write_str(message),
            ErrorKind::Unit => f.write_str("must be USD per million tokens"),
            ErrorKind::Match => {
                f.write_str("must be a model id, or a non-empty prefix followed by a single trailing '*'")
            }
            ErrorKind::Provider => f.write_str("must be a provider name such as openai, anthropic, aws.bedrock"),
            ErrorKind::Price => write!(
                f,
                "must be a USD price per million tokens between 0 and {MAX_USD_PER_MILLION} with at most 6 decimals"
            ),
            ErrorKind::BuiltIn(inner) => write!(f, "built-in table: {}: {inner}", inner.field),
        }
    }
}

impl std::error::Error for Error {}

/// USD per million tokens to pico-USD per token, if it is a sane price with ≤ 6 decimals.
fn pico_per_token(usd_per_million: f64) -> Option<u64> {
    if !usd_per_million.is_finite() || !(0.0..=MAX_USD_PER_MILLION).contains(&usd_per_million) {
        return None;
    }
    let scaled = usd_per_million * 1e6;
    let rounded = scaled.round();
    // The price as written must be representable; 1e-3 pico absorbs binary float noise.
    if (scaled - rounded).abs() > 1e-3 {
        return None;
    }
    Some(rounded as u64)
}

/// Cuts an AWS ARN to its resource id and drops a Bedrock cross-region prefix. Returns the
/// input unchanged when neither applies.
pub fn normalise_model(model: &str) -> &str {
    let id = if model.starts_with("arn:") {
        model.rsplit('/').next().unwrap_or(model)
    } else {
        model
    };
    const REGION_PREFIXES: [&str; 8] = [
        "us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca.",
    ];
    for p in REGION_PREFIXES {
        if let Some(rest) = id.strip_prefix(p) {
            // Only when what follows looks like `vendor.model`, so a model called `us.x` stays.
            if rest.contains('.') {
                return rest;
            }
        }
    }
    id
}

/// Input and output tokens split the way they are billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenSplit {
    /// Input tokens read from the provider's cache.
    pub cached_input: u64,
    /// Input tokens neither read from nor written to the cache.
    pub uncached_input: u64,
    /// Input tokens written to the cache.
    pub cache_write: u64,
    /// Output tokens, reasoning included.
    pub output: u64,
}

/// Splits usage into billed parts. `input` counts all input (cached and cache-written
/// included, as the conventions say), so uncached = input − cache_read − cache_write,
/// saturating at zero should a provider report inconsistent numbers. Missing counts are zero.
pub fn split_tokens(usage: &Usage) -> TokenSplit {
    let input = usage.input.unwrap_or(0);
    let cached_input = usage.cache_read.unwrap_or(0);
    let cache_write = usage.cache_write.unwrap_or(0);
    TokenSplit {
        cached_input,
        uncached_input: input
            .saturating_sub(cached_input)
            .saturating_sub(cache_write),
        cache_write,
        output: usage.output.unwrap_or(0),
    }
}

/// What a priced call cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostBreakdown {
    /// Exact to the pico-USD, as a float for the `genai_tap.cost.usd` attribute.
    pub usd: f64,
    /// Rounded to the nearest micro-USD, for the `llm_cost_micro_usd` counter and sessions.
    pub micro_usd: u64,
    /// Token counts by billed part (cached_input, uncached_input, cache_write, output).
    pub tokens: TokenSplit,
}

/// Prices one call. `model` is the response model when known, else the request model (the
/// Azure deployment name in a request is not a model). `None` means unpriced: the model has
/// no entry, or the call reported no usage at all.
pub fn cost(
    table: &PriceTable,
    model: &str,
    usage: &Usage,
    provider: Provider,
) -> Option<CostBreakdown> {
    if usage.input.is_none() && usage.output.is_none() {
        return None;
    }
    let price = table.lookup(model, provider)?;
    let tokens = split_tokens(usage);
    let pico = u128::from(tokens.cached_input) * u128::from(price.cached_input)
        + u128::from(tokens.uncached_input) * u128::from(price.input)
        + u128::from(tokens.cache_write) * u128::from(price.cache_write)
        + u128::from(tokens.output) * u128::from(price.output);
    let micro = (pico + 500_000) / 1_000_000;
    Some(CostBreakdown {
        usd: pico as f64 / 1e12,
        micro_usd: u64::try_from(micro).unwrap_or(u64::MAX),
        tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The `pricing` block of a configuration, compiled as the plugin does.
    struct Priced {
        pricing: PriceTable,
    }

    fn config(json: &[u8]) -> Result<Priced, Error> {
        let raw = crate::config::RawConfig::parse(json).unwrap();
        PriceTable::compile(raw.pricing).map(|pricing| Priced { pricing })
    }

    fn default_pricing() -> PriceTable {
        PriceTable::compile(RawPricing::default()).unwrap()
    }

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/../shared/fixtures/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    /// Usage as the conventions want it, from a fixture's `expected` block. `input_adds_cache`:
    /// the provider reports input without cache tokens (Anthropic), so they are added.
    fn usage_of(name: &str, input_adds_cache: bool) -> (String, Usage, Provider) {
        let f = fixture(name);
        let e = &f["expected"];
        let cache_read = e["cache_read_tokens"].as_u64();
        let cache_write = e["cache_write_tokens"].as_u64();
        let mut input = e["input_tokens"].as_u64();
        if input_adds_cache {
            input = input.map(|i| i + cache_read.unwrap_or(0) + cache_write.unwrap_or(0));
        }
        let model = e["response_model"]
            .as_str()
            .or(e["request_model"].as_str())
            .unwrap()
            .to_owned();
        let provider = match name.split('/').next().unwrap() {
            "openai" => Provider::OpenAi,
            "anthropic" => Provider::Anthropic,
            "bedrock" => Provider::Bedrock,
            "gemini" => Provider::Gemini,
            "azure" => Provider::AzureOpenAi,
            "vertexai" => Provider::VertexAi,
            "ollama" => Provider::Ollama,
            _ => Provider::OpenAiCompatible,
        };
        let usage = Usage {
            input,
            output: e["output_tokens"].as_u64(),
            cache_read,
            cache_write,
            reasoning: e["reasoning_tokens"].as_u64(),
        };
        (model, usage, provider)
    }

    #[test]
    fn fixture_expected_block_has_the_keys_we_read() {
        let e = &fixture("anthropic/messages_cache_read")["expected"];
        assert_eq!(e["input_tokens"].as_u64(), Some(4), "{e}");
        assert_eq!(e["cache_read_tokens"].as_u64(), Some(1163), "{e}");
        assert_eq!(e["output_tokens"].as_u64(), Some(202), "{e}");
    }

    /// Costs of real recorded calls, worked by hand from `envoy/pricing.json`.
    #[test]
    fn fixture_costs() {
        struct Case {
            fixture: &'static str,
            input_adds_cache: bool,
            split: (u64, u64, u64, u64),
            micro_usd: u64,
        }
        let cases = [
            // 4 uncached × $3 + 1163 cached × $0.30 + 202 out × $15 (per million)
            // = 12 + 348.9 + 3030 = 3390.9 µUSD
            Case {
                fixture: "anthropic/messages_cache_read",
                input_adds_cache: true,
                split: (1163, 4, 0, 202),
                micro_usd: 3391,
            },
            // 4 × $3 + 1163 written × $3.75 + 187 × $15 = 12 + 4361.25 + 2805 = 7178.25
            Case {
                fixture: "anthropic/messages_cache_write",
                input_adds_cache: true,
                split: (0, 4, 1163, 187),
                micro_usd: 7178,
            },
            // gpt-4o-mini-2024-07-18: 125 × $0.15 + 1024 × $0.075 + 353 × $0.60
            // = 18.75 + 76.8 + 211.8 = 307.35
            Case {
                fixture: "openai/chat_prompt_caching_hit",
                input_adds_cache: false,
                split: (1024, 125, 0, 353),
                micro_usd: 307,
            },
            // gpt-4o-2024-08-06: 68 × $2.50 + 41 × $10 = 170 + 410
            Case {
                fixture: "openai/chat_structured_output_parse",
                input_adds_cache: false,
                split: (0, 68, 0, 41),
                micro_usd: 580,
            },
            // gpt-5-nano-2025-08-07: 12 × $0.05 + 100 × $0.40 = 0.6 + 40 = 40.6
            Case {
                fixture: "openai/chat_reasoning_detailed_usage",
                input_adds_cache: false,
                split: (0, 12, 0, 100),
                micro_usd: 41,
            },
            // gpt-4-0613 (exact): 82 × $30 + 16 × $60 = 2460 + 960
            Case {
                fixture: "openai/chat_legacy_function_call",
                input_adds_cache: false,
                split: (0, 82, 0, 16),
                micro_usd: 3420,
            },
            // Azure's spelling gpt-35-turbo: 15 × $0.50 + 24 × $1.50 = 7.5 + 36 = 43.5
            Case {
                fixture: "azure/chat",
                input_adds_cache: false,
                split: (0, 15, 0, 24),
                micro_usd: 44,
            },
            // claude-3-5-haiku-20241022 on Bedrock (response model): 4 × $0.80 + 18131 × $0.08
            // + 50 × $4 = 3.2 + 1450.48 + 200 = 1653.68
            Case {
                fixture: "bedrock/invoke_claude_prompt_cache",
                input_adds_cache: true,
                split: (18131, 4, 0, 50),
                micro_usd: 1654,
            },
            // Bedrock cross-region ARN: 20 × $3 + 72 × $15 = 60 + 1080
            Case {
                fixture: "bedrock/converse_inference_profile_arn",
                input_adds_cache: true,
                split: (0, 20, 0, 72),
                micro_usd: 1140,
            },
            // amazon.nova-lite-v1:0: 54 × $0.06 + 18 × $0.24 = 3.24 + 4.32 = 7.56
            Case {
                fixture: "bedrock/converse_nova",
                input_adds_cache: true,
                split: (0, 54, 0, 18),
                micro_usd: 8,
            },
            // gemini-2.0-flash: 45 × $0.10 + 23 × $0.40 = 4.5 + 9.2 = 13.7
            Case {
                fixture: "gemini/generate_content_b",
                input_adds_cache: false,
                split: (0, 45, 0, 23),
                micro_usd: 14,
            },
            // text-embedding-3-small: 24 × $0.02 = 0.48
            Case {
                fixture: "openai/embeddings_batch",
                input_adds_cache: false,
                split: (0, 24, 0, 0),
                micro_usd: 0,
            },
        ];
        let pricing = default_pricing();
        for c in cases {
            let (model, usage, provider) = usage_of(c.fixture, c.input_adds_cache);
            let got = cost(&pricing, &model, &usage, provider)
                .unwrap_or_else(|| panic!("{}: {model} unpriced", c.fixture));
            let t = got.tokens;
            assert_eq!(
                (t.cached_input, t.uncached_input, t.cache_write, t.output),
                c.split,
                "{}",
                c.fixture
            );
            assert_eq!(got.micro_usd, c.micro_usd, "{}: {got:?}", c.fixture);
        }
    }

    #[test]
    fn usd_is_exact_before_rounding() {
        let (model, usage, provider) = usage_of("anthropic/messages_cache_read", true);
        let got = cost(&default_pricing(), &model, &usage, provider).unwrap();
        assert!((got.usd - 0.0033909).abs() < 1e-12, "{}", got.usd);
        let (model, usage, provider) = usage_of("openai/embeddings_batch", false);
        let got = cost(&default_pricing(), &model, &usage, provider).unwrap();
        assert!((got.usd - 0.00000048).abs() < 1e-15, "{}", got.usd);
    }

    #[test]
    fn unknown_models_are_never_guessed() {
        let pricing = default_pricing();
        for (fixture, adds) in [
            ("gemini/stream_generate_content_thinking", false), // gemini-3.5-flash
            ("bedrock/converse_tool_use", true),                // mistral.devstral-2-123b
            ("ollama/chat", false),                             // llama3, local
            ("openai_compatible/groq_chat", false),             // llama3-8b-8192 (deepseek-chat is priced since 2026-12)
        ] {
            let (model, usage, provider) = usage_of(fixture, adds);
            assert_eq!(
                cost(&pricing, &model, &usage, provider),
                None,
                "{fixture}: {model}"
            );
        }
        // A near miss of an exact entry is not that entry.
        let u = Usage {
            input: Some(10),
            output: Some(10),
            ..Usage::default()
        };
        assert_eq!(
            cost(&pricing, "gpt-4o-audio-preview", &u, Provider::OpenAi),
            None
        );
        assert_eq!(
            cost(&pricing, "gpt-4.5-preview", &u, Provider::OpenAi),
            None
        );
        assert_eq!(cost(&pricing, "", &u, Provider::OpenAi), None);
    }

    #[test]
    fn no_usage_is_unpriced() {
        let pricing = default_pricing();
        assert_eq!(
            cost(&pricing, "gpt-4o", &Usage::default(), Provider::OpenAi),
            None
        );
        // Output alone is enough (input not reported, counted as zero).
        let u = Usage {
            output: Some(100_000),
            ..Usage::default()
        };
        assert_eq!(
            cost(&pricing, "gpt-4o", &u, Provider::OpenAi)
                .unwrap()
                .micro_usd,
            1_000_000
        );
    }

    #[test]
    fn inconsistent_usage_saturates() {
        // cache_read larger than input: uncached is zero, not a wrapped huge number.
        let u = Usage {
            input: Some(10),
            output: Some(0),
            cache_read: Some(50),
            cache_write: Some(5),
            reasoning: None,
        };
        let s = split_tokens(&u);
        assert_eq!(
            s,
            TokenSplit {
                cached_input: 50,
                uncached_input: 0,
                cache_write: 5,
                output: 0
            }
        );
        let big = Usage {
            input: Some(u64::MAX),
            output: Some(u64::MAX),
            ..Usage::default()
        };
        let got = cost(&default_pricing(), "gpt-4", &big, Provider::OpenAi).unwrap();
        assert_eq!(got.micro_usd, u64::MAX);
    }

    #[test]
    fn matching_rules() {
        let t = PriceTable::builtin().unwrap();
        let input = |m: &str, p: Provider| t.lookup(m, p).map(|p| p.input);
        let cases = [
            // exact beats prefix
            ("gpt-4o-2024-05-13", Provider::OpenAi, Some(5_000_000)),
            ("gpt-4o-2024-08-06", Provider::OpenAi, Some(2_500_000)),
            ("gpt-4o", Provider::OpenAi, Some(2_500_000)),
            // longest prefix wins
            ("gpt-4o-mini-2024-07-18", Provider::OpenAi, Some(150_000)),
            ("gpt-4.1-nano-2025-04-14", Provider::OpenAi, Some(100_000)),
            ("gpt-4.1-2025-04-14", Provider::OpenAi, Some(2_000_000)),
            ("gemini-2.5-flash-lite", Provider::Gemini, Some(100_000)),
            ("gemini-2.5-flash", Provider::VertexAi, Some(300_000)),
            // case is ignored
            ("GPT-4O", Provider::OpenAi, Some(2_500_000)),
            // Bedrock normalisation
            (
                "anthropic.claude-3-5-haiku-20241022-v1:0",
                Provider::Bedrock,
                Some(800_000),
            ),
            (
                "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
                Provider::Bedrock,
                Some(3_000_000),
            ),
            (
                "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0",
                Provider::Bedrock,
                Some(800_000),
            ),
            (
                "arn:aws:bedrock:us-east-1:123:application-inference-profile/a1b2c3",
                Provider::Bedrock,
                None,
            ),
        ];
        for (model, provider, want) in cases {
            assert_eq!(input(model, provider), want, "{model}");
        }
        // the remembered last answer never stands for another model, provider or table
        for (model, provider, want) in cases.iter().chain(cases.iter().rev()) {
            assert_eq!(input(model, *provider), *want, "{model} again");
            assert_eq!(input(model, *provider), *want, "{model} twice");
        }
        assert_eq!(input("gpt-4o", Provider::OpenAi), Some(2_500_000));
        let mut t = PriceTable::builtin().unwrap();
        assert_eq!(t.lookup("gpt-4o", Provider::OpenAi).map(|p| p.input), Some(2_500_000));
        let raw: RawModelPrice =
            serde_json::from_str(r#"{"match":"gpt-4o","input":9,"output":9}"#).unwrap();
        t.insert(raw).unwrap();
        assert_eq!(t.lookup("gpt-4o", Provider::OpenAi).map(|p| p.input), Some(9_000_000));
    }

    #[test]
    fn normalise() {
        let cases = [
            ("gpt-4o", "gpt-4o"),
            (
                "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
                "anthropic.claude-3-7-sonnet-20250219-v1:0",
            ),
            ("eu.amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0"),
            (
                "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "anthropic.claude-sonnet-4-5-20250929-v1:0",
            ),
            ("us.model", "us.model"),
            (
                "arn:aws:bedrock:us-east-1:0:inference-profile/us.meta.llama3-2-1b-instruct-v1:0",
                "meta.llama3-2-1b-instruct-v1:0",
            ),
            (
                "arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-8b-instruct-v1:0",
                "meta.llama3-8b-instruct-v1:0",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(normalise_model(input), want, "{input}");
        }
    }

    #[test]
    fn operator_entries_override_and_scope() {
        let c = config(
            br#"{"pricing":{"models":[
                {"match":"gpt-4o","input":2.0,"output":8.0},
                {"match":"llama3*","provider":"ollama","input":0,"output":0},
                {"match":"llama3*","provider":"groq","input":0.05,"output":0.08},
                {"match":"my-model","input":1,"output":2}
            ]}}"#,
        )
        .unwrap();
        let u = Usage {
            input: Some(1_000_000),
            output: Some(1_000_000),
            ..Usage::default()
        };
        let micro = |m: &str, p: Provider| cost(&c.pricing, m, &u, p).map(|c| c.micro_usd);
        assert_eq!(micro("gpt-4o", Provider::OpenAi), Some(10_000_000));
        // the built-in prefix entry still prices snapshots
        assert_eq!(
            micro("gpt-4o-2024-08-06", Provider::OpenAi),
            Some(12_500_000)
        );
        assert_eq!(
            micro("llama3-8b-8192", Provider::Groq),
            Some(130_000)
        );
        assert_eq!(micro("llama3", Provider::Ollama), Some(0));
        assert_eq!(micro("llama3", Provider::Anthropic), None);
        assert_eq!(micro("my-model", Provider::Unknown), Some(3_000_000));
        // omitted cached_input / cache_write default to the input price
        let cached = Usage {
            input: Some(100),
            cache_read: Some(60),
            cache_write: Some(40),
            output: Some(0),
            reasoning: None,
        };
        assert_eq!(
            cost(&c.pricing, "my-model", &cached, Provider::Unknown)
                .unwrap()
                .usd,
            100e-6
        );
    }

    #[test]
    fn default_table_can_be_turned_off() {
        let c = config(br#"{"pricing":{"use_default_table":false}}"#).unwrap();
        assert!(c.pricing.is_empty());
        let u = Usage {
            input: Some(10),
            output: Some(10),
            ..Usage::default()
        };
        assert_eq!(cost(&c.pricing, "gpt-4o", &u, Provider::OpenAi), None);
    }

    #[test]
    fn builtin_table_is_complete_and_dated() {
        let v: Value = serde_json::from_str(DEFAULT_TABLE_JSON).unwrap();
        assert_eq!(v["list_date"], "2026-12");
        assert!(v["source"]
            .as_str()
            .unwrap()
            .contains("verify before relying on it"));
        let t = PriceTable::builtin().unwrap();
        // every entry survived (no duplicate pattern silently replaced another)
        assert_eq!(t.len(), v["models"].as_array().unwrap().len());
        // the main families are there
        for (m, p) in [
            ("gpt-4o", Provider::OpenAi),
            ("claude-sonnet-4-5-20250929", Provider::Anthropic),
            ("gemini-2.5-pro", Provider::Gemini),
            ("anthropic.claude-sonnet-4-20250514-v1:0", Provider::Bedrock),
        ] {
            assert!(t.lookup(m, p).is_some(), "{m}");
        }
    }

    #[test]
    fn price_precision() {
        assert_eq!(pico_per_token(2.5), Some(2_500_000));
        assert_eq!(pico_per_token(0.01875), Some(18_750));
        assert_eq!(pico_per_token(0.00875), Some(8_750));
        assert_eq!(pico_per_token(0.1), Some(100_000));
        assert_eq!(pico_per_token(0.0000001), None);
        assert_eq!(pico_per_token(f64::NAN), None);
        assert_eq!(pico_per_token(-0.5), None);
        assert_eq!(pico_per_token(10_000.5), None);
    }
}
