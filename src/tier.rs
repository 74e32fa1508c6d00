//! Model tiers: which class of model (`frontier`, `mid`, `small`) answered a call, for the
//! per-step "model tier used" and the per-tier cost contribution.
//!
//! This module owns the `model_tiers` map (a model name, or a prefix ending in `*`, to a
//! tier; exact beats prefix and the longest prefix wins) and the default for models it does
//! not name: the tier follows the model's list input price in the price table, so every
//! model in `envoy/pricing.json` has one. It does not price anything (`cost` does).

use crate::config::ConfigError;
use crate::cost::PriceTable;
use crate::providers::Provider;
use std::collections::BTreeMap;

/// Input price at or above which a model is `frontier`, in pico-USD per token ($2.50 / M).
const FRONTIER_PICO: u64 = 2_500_000;
/// Input price at or above which a model is `mid` ($0.50 / M); priced below is `small`.
const MID_PICO: u64 = 500_000;
/// The tier of a model neither named nor priced.
pub const UNKNOWN: &str = "unknown";

/// The compiled `model_tiers` map.
#[derive(Debug, Clone, Default)]
pub struct Tiers {
    exact: Vec<(String, String)>,
    /// Longest prefix first.
    prefixes: Vec<(String, String)>,
}

impl Tiers {
    /// Checks the map: a tier is a label value (lowercase letters, digits, `_`, `-`, at most
    /// 32 bytes), a pattern is not empty. Errors name the key, never the value.
    pub fn compile(raw: BTreeMap<String, String>) -> Result<Tiers, ConfigError> {
        let mut t = Tiers::default();
        for (pattern, tier) in raw {
            let ok = !tier.is_empty() && tier.len() <= 32 && tier.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
            if !ok {
                return Err(ConfigError::new("model_tiers", "a tier must be 1 to 32 of a-z, 0-9, '_' and '-'"));
            }
            let pattern = pattern.to_ascii_lowercase();
            match pattern.strip_suffix('*') {
                Some(p) => t.prefixes.push((p.to_owned(), tier)),
                None if pattern.is_empty() => return Err(ConfigError::new("model_tiers", "a model name must not be empty")),
                None => t.exact.push((pattern, tier)),
            }
        }
        t.prefixes.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        Ok(t)
    }

    /// The tier of `model`: the map's, else by its list input price, else `unknown`.
    pub fn tier<'a>(&'a self, pricing: &PriceTable, model: &str, provider: Provider) -> &'a str {
        let m = model.to_ascii_lowercase();
        if let Some((_, t)) = self.exact.iter().find(|(p, _)| *p == m) {
            return t;
        }
        if let Some((_, t)) = self.prefixes.iter().find(|(p, _)| m.starts_with(p.as_str())) {
            return t;
        }
        match pricing.lookup(model, provider) {
            Some(p) if p.input >= FRONTIER_PICO => "frontier",
            Some(p) if p.input >= MID_PICO => "mid",
            Some(_) => "small",
            None => UNKNOWN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_prices_give_every_listed_model_a_tier_and_the_map_wins() {
        let table = PriceTable::builtin().unwrap();
        let t = Tiers::compile(BTreeMap::new()).unwrap();
        // (model, provider, tier) from envoy/pricing.json's list prices
        let cases = [
            ("gpt-4o-2024-08-06", Provider::OpenAi, "frontier"), // $2.50
            ("gpt-4o-mini", Provider::OpenAi, "small"),          // $0.15
            ("claude-opus-4-1", Provider::Anthropic, "frontier"), // $15
            ("no-such-model", Provider::OpenAi, UNKNOWN),
        ];
        for (m, p, want) in cases {
            assert_eq!(t.tier(&table, m, p), want, "{m}");
        }
        let mut raw = BTreeMap::new();
        raw.insert("gpt-4o*".to_owned(), "mid".to_owned());
        raw.insert("gpt-4o-mini*".to_owned(), "tiny".to_owned());
        raw.insert("no-such-model".to_owned(), "local".to_owned());
        let t = Tiers::compile(raw).unwrap();
        assert_eq!(t.tier(&table, "gpt-4o-2024-08-06", Provider::OpenAi), "mid");
        assert_eq!(t.tier(&table, "GPT-4o-mini-2024", Provider::OpenAi), "tiny", "the longest prefix wins");
        assert_eq!(t.tier(&table, "no-such-model", Provider::OpenAi), "local");
        for bad in ["", "Frontier", "a.b", &"x".repeat(33)] {
            let mut raw = BTreeMap::new();
            raw.insert("m".to_owned(), bad.to_owned());
            let e = Tiers::compile(raw).unwrap_err().to_string();
            assert!(e.contains("model_tiers") && (bad.is_empty() || !e.contains(bad)), "{e}");
        }
    }
}
