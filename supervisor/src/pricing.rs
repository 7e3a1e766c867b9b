//! Model prices and what a response cost.
//!
//! Prices are US dollars per million tokens of each kind. The built-in
//! table covers current popular models of the four providers; the user's
//! prices (`studio pricing set`) replace them. A model is priced by its
//! exact name, else by the longest priced prefix (`gpt-4o-mini` prices
//! `gpt-4o-mini-2024-07-18`).
//!
//! Usage is normalised so `input_tokens` includes cached tokens and
//! `output_tokens` includes reasoning tokens; [`cost`] takes each token
//! once, at its own price, and never counts cached tokens twice.

use std::collections::BTreeMap;

use protocol::control::{ModelPrice, PriceEntry, PricingTable};
use protocol::event::Usage;
use serde::{Deserialize, Serialize};

/// Version of the built-in table alone.
pub const BUILTIN_VERSION: u32 = 1;

const fn price(input: f64, output: f64, cache_read: f64, cache_write: f64) -> ModelPrice {
    ModelPrice {
        input,
        output,
        cache_read,
        cache_write,
        // Reasoning tokens are billed as output by every provider here.
        reasoning: output,
    }
}

/// Shipped prices (USD per million tokens), from the providers' price pages.
pub const BUILTIN: &[(&str, ModelPrice)] = &[
    // OpenAI: cached input at the cached rate; no cache-write charge.
    ("gpt-4o", price(2.50, 10.00, 1.25, 0.0)),
    ("gpt-4o-mini", price(0.15, 0.60, 0.075, 0.0)),
    ("gpt-4.1", price(2.00, 8.00, 0.50, 0.0)),
    ("gpt-4.1-mini", price(0.40, 1.60, 0.10, 0.0)),
    ("gpt-4.1-nano", price(0.10, 0.40, 0.025, 0.0)),
    ("gpt-5", price(1.25, 10.00, 0.125, 0.0)),
    ("gpt-5-mini", price(0.25, 2.00, 0.025, 0.0)),
    ("o3", price(2.00, 8.00, 0.50, 0.0)),
    ("o4-mini", price(1.10, 4.40, 0.275, 0.0)),
    // Anthropic: cache writes (5 minutes) at 1.25× input, reads at 0.1×.
    ("claude-opus-4", price(15.00, 75.00, 1.50, 18.75)),
    ("claude-sonnet-4", price(3.00, 15.00, 0.30, 3.75)),
    ("claude-haiku-4-5", price(1.00, 5.00, 0.10, 1.25)),
    ("claude-3-5-haiku", price(0.80, 4.00, 0.08, 1.00)),
    // Google (prompts up to 200k tokens).
    ("gemini-2.5-pro", price(1.25, 10.00, 0.31, 0.0)),
    ("gemini-2.5-flash", price(0.30, 2.50, 0.075, 0.0)),
    ("gemini-2.5-flash-lite", price(0.10, 0.40, 0.025, 0.0)),
    ("gemini-2.0-flash", price(0.10, 0.40, 0.025, 0.0)),
    // The built-in scripted provider is free.
    ("scripted", price(0.0, 0.0, 0.0, 0.0)),
];

/// What `usage` cost at `price`, in US dollars.
pub fn cost(usage: &Usage, price: &ModelPrice) -> f64 {
    let cached = usage.cache_read_tokens + usage.cache_creation_tokens;
    let fresh_input = usage.input_tokens.saturating_sub(cached);
    let reasoning = usage.reasoning_tokens.min(usage.output_tokens);
    let answer = usage.output_tokens - reasoning;
    let per_token = |tokens: u64, per_million: f64| tokens as f64 * per_million / 1_000_000.0;
    per_token(fresh_input, price.input)
        + per_token(usage.cache_read_tokens, price.cache_read)
        + per_token(usage.cache_creation_tokens, price.cache_write)
        + per_token(answer, price.output)
        + per_token(reasoning, price.reasoning)
}

/// The user's prices, as stored (the settings table's `pricing` entry).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomPrices {
    /// Bumped on every change (the built-in table alone is version 1).
    pub version: u32,
    /// Model name or prefix → price.
    pub prices: BTreeMap<String, ModelPrice>,
}

impl CustomPrices {
    /// The table in force: built-in prices, replaced by custom ones.
    pub fn table(&self) -> PricingTable {
        let mut merged: BTreeMap<String, PriceEntry> = BUILTIN
            .iter()
            .map(|(model, price)| {
                let entry = PriceEntry {
                    model: (*model).to_owned(),
                    price: *price,
                    custom: false,
                };
                ((*model).to_owned(), entry)
            })
            .collect();
        for (model, price) in &self.prices {
            merged.insert(
                model.clone(),
                PriceEntry {
                    model: model.clone(),
                    price: *price,
                    custom: true,
                },
            );
        }
        PricingTable {
            version: self.version.max(BUILTIN_VERSION),
            entries: merged.into_values().collect(),
        }
    }
}

/// The price of `model` in `table`: exact name, else longest prefix.
pub fn lookup(table: &PricingTable, model: &str) -> Option<ModelPrice> {
    table
        .entries
        .iter()
        .filter(|e| model == e.model || model.starts_with(&e.model))
        .max_by_key(|e| e.model.len())
        .map(|e| e.price)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> PricingTable {
        CustomPrices::default().table()
    }

    #[test]
    fn models_are_priced_by_exact_name_or_longest_prefix() {
        let table = table();
        assert_eq!(lookup(&table, "gpt-4o").unwrap().input, 2.50);
        assert_eq!(
            lookup(&table, "gpt-4o-mini-2024-07-18").unwrap().input,
            0.15,
            "longest prefix wins"
        );
        assert_eq!(
            lookup(&table, "claude-sonnet-4-5-20250929").unwrap().output,
            15.00
        );
        assert_eq!(lookup(&table, "llama3.2"), None);
    }

    #[test]
    fn cached_tokens_are_never_counted_twice() {
        // Anthropic-style: 1,000 fresh + 2,000 cache reads + 100 cache writes.
        let usage = Usage {
            input_tokens: 3_100,
            output_tokens: 500,
            cache_read_tokens: 2_000,
            cache_creation_tokens: 100,
            reasoning_tokens: 0,
        };
        let sonnet = lookup(&table(), "claude-sonnet-4-5").unwrap();
        let expected = (1_000.0 * 3.00 + 2_000.0 * 0.30 + 100.0 * 3.75 + 500.0 * 15.00) / 1e6;
        assert!(
            (cost(&usage, &sonnet) - expected).abs() < 1e-12,
            "{}",
            cost(&usage, &sonnet)
        );
    }

    #[test]
    fn reasoning_is_priced_once_inside_output() {
        let usage = Usage {
            input_tokens: 1_000_000,
            output_tokens: 1_000_000,
            reasoning_tokens: 400_000,
            ..Usage::default()
        };
        let custom = ModelPrice {
            input: 1.0,
            output: 10.0,
            cache_read: 0.0,
            cache_write: 0.0,
            reasoning: 20.0,
        };
        assert!((cost(&usage, &custom) - (1.0 + 6.0 + 8.0)).abs() < 1e-9);
    }

    #[test]
    fn custom_prices_replace_built_in_ones_and_carry_the_version() {
        let mut custom = CustomPrices {
            version: 3,
            ..CustomPrices::default()
        };
        custom.prices.insert(
            "gpt-4o".into(),
            ModelPrice {
                input: 9.0,
                output: 9.0,
                cache_read: 9.0,
                cache_write: 9.0,
                reasoning: 9.0,
            },
        );
        let table = custom.table();
        assert_eq!(table.version, 3);
        assert_eq!(lookup(&table, "gpt-4o").unwrap().input, 9.0);
        assert_eq!(table.entries.iter().filter(|e| e.custom).count(), 1);
        assert_eq!(lookup(&table, "gpt-4o-mini").unwrap().input, 0.15);
    }
}
