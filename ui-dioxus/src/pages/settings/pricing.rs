//! Prices on the Settings page: the table in force, a form that sets a
//! model's price (as `studio pricing set` does) and Reset on custom rows
//! (as `studio pricing rm`).

use dioxus::prelude::*;
use protocol::control::{ModelPrice, PriceEntry};

use crate::commands::Commands;
use crate::connection::Command;
use crate::fields::TextInput;
use crate::problems::{FieldProblem, FormProblems, Problems};
use crate::state::AppState;

/// Longest model name or prefix the daemon accepts.
const MAX_MODEL_LEN: usize = 128;

/// What the price form holds, USD per million tokens as typed;
/// [`PriceDraft::price`] builds the price from it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PriceDraft {
    /// Model name or prefix (`gpt-4o` also prices `gpt-4o-2024-08-06`).
    pub model: String,
    /// Input tokens (required).
    pub input: String,
    /// Output tokens (required).
    pub output: String,
    /// Cached input read; empty: the input price.
    pub cache_read: String,
    /// Cache writes; empty: the input price.
    pub cache_write: String,
    /// Reasoning tokens; empty: the output price.
    pub reasoning: String,
}

impl PriceDraft {
    /// A draft holding `entry`'s price, to change it.
    pub fn of(entry: &PriceEntry) -> Self {
        Self {
            model: entry.model.clone(),
            input: entry.price.input.to_string(),
            output: entry.price.output.to_string(),
            cache_read: entry.price.cache_read.to_string(),
            cache_write: entry.price.cache_write.to_string(),
            reasoning: entry.price.reasoning.to_string(),
        }
    }

    /// The model and its price, with the defaults of `studio pricing set`
    /// (cache read and write: the input price; reasoning: the output
    /// price), or what is wrong.
    pub fn price(&self) -> Result<(String, ModelPrice), String> {
        self.check().map_err(|problems| {
            let all: Vec<String> = problems.all().map(|(_, why)| why.clone()).collect();
            all.join("; ")
        })
    }

    /// The model and its price, or everything wrong with the fields, each
    /// under its field's name.
    pub fn check(&self) -> Result<(String, ModelPrice), Problems> {
        let mut problems = Problems::default();
        let model = self.model.trim();
        if model.is_empty() {
            problems.add("price_model", "give a model name or prefix");
        } else if model.len() > MAX_MODEL_LEN {
            problems.add(
                "price_model",
                format!("a model name has at most {MAX_MODEL_LEN} characters"),
            );
        }
        let required = |problems: &mut Problems, field, what: &str, text: &str| {
            let found = problems.check(field, amount(what, text)).flatten();
            if found.is_none() && text.trim().is_empty() {
                problems.add(field, format!("{what}: give a price"));
            }
            found
        };
        let input = required(&mut problems, "price_input", "input", &self.input);
        let output = required(&mut problems, "price_output", "output", &self.output);
        let cache_read = problems.check("price_cache_read", amount("cache read", &self.cache_read));
        let cache_write = problems.check(
            "price_cache_write",
            amount("cache write", &self.cache_write),
        );
        let reasoning = problems.check("price_reasoning", amount("reasoning", &self.reasoning));
        match (input, output, cache_read, cache_write, reasoning) {
            (Some(input), Some(output), Some(cache_read), Some(cache_write), Some(reasoning))
                if problems.is_empty() =>
            {
                let price = ModelPrice {
                    input,
                    output,
                    cache_read: cache_read.unwrap_or(input),
                    cache_write: cache_write.unwrap_or(input),
                    reasoning: reasoning.unwrap_or(output),
                };
                Ok((model.to_owned(), price))
            }
            _ => Err(problems),
        }
    }
}

/// USD per million tokens, zero or more; `None` when empty.
fn amount(what: &str, text: &str) -> Result<Option<f64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<f64>()
        .ok()
        .filter(|usd| usd.is_finite() && *usd >= 0.0)
        .map(Some)
        .ok_or_else(|| format!("{what}: {text:?} is not zero or more dollars"))
}

/// The price form's fields: input name, label, placeholder, where it goes.
type PriceField = (
    &'static str,
    &'static str,
    &'static str,
    fn(&mut PriceDraft) -> &mut String,
);

/// Every field of the price form, in order.
const PRICE_FIELDS: [PriceField; 6] = [
    ("price_model", "Model or prefix", "gpt-4o", |d| &mut d.model),
    ("price_input", "Input", "required", |d| &mut d.input),
    ("price_output", "Output", "required", |d| &mut d.output),
    ("price_cache_read", "Cache read", "= input", |d| {
        &mut d.cache_read
    }),
    ("price_cache_write", "Cache write", "= input", |d| {
        &mut d.cache_write
    }),
    ("price_reasoning", "Reasoning", "= output", |d| {
        &mut d.reasoning
    }),
];

/// The pricing table in force, the form that sets a price, Reset on
/// custom rows. `start` and `problem` are what the form opens with.
#[component]
pub fn Pricing(
    /// The draft the form opens with.
    #[props(default)]
    start: PriceDraft,
    /// Problems shown from the start.
    #[props(default)]
    problems: Problems,
) -> Element {
    let state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let mut draft = use_signal(move || start);
    let mut problems = use_signal(move || problems);
    let Some(table) = state.read().settings.pricing.clone() else {
        return rsx! {};
    };
    rsx! {
        section { id: "settings-prices",
            h3 { "Prices (USD per million tokens, version {table.version})" }
            table {
                thead { tr { th { "model" } th { "input" } th { "output" } th { "cache read" } th { "cache write" } th { "reasoning" } th {} th {} } }
                tbody {
                    for entry in table.entries {
                        tr { key: "{entry.model}",
                            td { "{entry.model}" }
                            td { class: "num", "{entry.price.input}" }
                            td { class: "num", "{entry.price.output}" }
                            td { class: "num", "{entry.price.cache_read}" }
                            td { class: "num", "{entry.price.cache_write}" }
                            td { class: "num", "{entry.price.reasoning}" }
                            td { if entry.custom { "custom" } }
                            td {
                                button { r#type: "button", onclick: { let entry = entry.clone(); move |_| { draft.set(PriceDraft::of(&entry)); problems.set(Problems::default()); } }, "Edit" }
                                if entry.custom {
                                    button { r#type: "button", title: "Back to the built-in price, if any",
                                        onclick: { let model = entry.model.clone(); move |_| commands.send(Command::ResetPrice(model.clone())) },
                                        "Reset"
                                    }
                                }
                            }
                        }
                    }
                }
            }
            div { class: "form inline price",
                h3 { "Set a price" }
                for (name, text, hint, slot) in PRICE_FIELDS {
                    label { "{text}"
                        TextInput { key: "{name}", name, placeholder: hint, value: slot(&mut draft.read().clone()).clone(),
                            oninput: move |text| *slot(&mut draft.write()) = text }
                        FieldProblem { problems: problems.read().clone(), field: name }
                    }
                }
                FormProblems { problems: problems.read().clone() }
                div { class: "buttons",
                    button {
                        r#type: "button",
                        onclick: move |_| {
                            let checked = draft.read().check();
                            match checked {
                                Ok((model, price)) => {
                                    commands.send(Command::SetPrice { model, price });
                                    draft.set(PriceDraft::default());
                                    problems.set(Problems::default());
                                }
                                Err(found) => problems.set(found),
                            }
                        },
                        "Set price"
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> PriceDraft {
        PriceDraft {
            model: " my-model ".into(),
            input: "2.5".into(),
            output: "10".into(),
            ..PriceDraft::default()
        }
    }

    #[test]
    fn empty_fields_default_as_studio_pricing_set_does() {
        let (model, price) = draft().price().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(model, "my-model");
        assert_eq!(
            price,
            ModelPrice {
                input: 2.5,
                output: 10.0,
                cache_read: 2.5,
                cache_write: 2.5,
                reasoning: 10.0,
            }
        );
        let given = PriceDraft {
            cache_read: "0.25".into(),
            cache_write: "0".into(),
            reasoning: "12".into(),
            ..draft()
        };
        let (_, price) = given.price().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (price.cache_read, price.cache_write, price.reasoning),
            (0.25, 0.0, 12.0)
        );
    }

    #[test]
    fn a_bad_price_says_why() {
        let cases = [
            (
                PriceDraft {
                    model: " ".into(),
                    ..draft()
                },
                "give a model name or prefix".to_owned(),
            ),
            (
                PriceDraft {
                    model: "m".repeat(129),
                    ..draft()
                },
                "a model name has at most 128 characters".to_owned(),
            ),
            (
                PriceDraft {
                    input: String::new(),
                    ..draft()
                },
                "input: give a price".to_owned(),
            ),
            (
                PriceDraft {
                    output: " ".into(),
                    ..draft()
                },
                "output: give a price".to_owned(),
            ),
            (
                PriceDraft {
                    input: "-1".into(),
                    ..draft()
                },
                "input: \"-1\" is not zero or more dollars".to_owned(),
            ),
            (
                PriceDraft {
                    cache_read: "cheap".into(),
                    ..draft()
                },
                "cache read: \"cheap\" is not zero or more dollars".to_owned(),
            ),
            (
                PriceDraft {
                    reasoning: "inf".into(),
                    ..draft()
                },
                "reasoning: \"inf\" is not zero or more dollars".to_owned(),
            ),
        ];
        for (bad, why) in cases {
            assert_eq!(bad.price().err(), Some(why), "{bad:?}");
        }
    }

    #[test]
    fn editing_a_row_starts_from_its_price() {
        let entry = PriceEntry {
            model: "gpt-4o-mini".into(),
            price: ModelPrice {
                input: 0.15,
                output: 0.6,
                cache_read: 0.075,
                cache_write: 0.0,
                reasoning: 0.6,
            },
            custom: false,
        };
        let draft = PriceDraft::of(&entry);
        assert_eq!(draft.cache_read, "0.075");
        assert_eq!(draft.price(), Ok((entry.model.clone(), entry.price)));
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let bad = PriceDraft {
            model: String::new(),
            input: String::new(),
            output: "-1".into(),
            reasoning: "lots".into(),
            ..PriceDraft::default()
        };
        let Err(problems) = bad.check() else {
            panic!("a bad price passed");
        };
        for field in [
            "price_model",
            "price_input",
            "price_output",
            "price_reasoning",
        ] {
            assert!(problems.of(field).is_some(), "{field}: {problems:?}");
        }
        assert_eq!(problems.of("price_cache_read"), None);
    }
}
