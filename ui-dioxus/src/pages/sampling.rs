//! The agent form's sampling fields: temperature, top-p and the most
//! tokens an answer may hold, each empty for the provider's default and
//! each checked where it is typed.

use dioxus::prelude::*;
use protocol::agent::Sampling;

use super::budgets::number;
use crate::fields::TextInput;
use crate::problems::{FieldProblem, Problems};

/// The sampling fields as typed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SamplingDraft {
    /// From 0 to 2 (empty: the provider's).
    pub temperature: String,
    /// Above 0, at most 1 (empty: the provider's).
    pub top_p: String,
    /// At least 1 (empty: the provider's).
    pub max_output_tokens: String,
}

/// Each field: its `name`, its label, and where the draft keeps it.
type Field = (
    &'static str,
    &'static str,
    fn(&mut SamplingDraft) -> &mut String,
);

const FIELDS: [Field; 3] = [
    ("temperature", "Temperature (0 to 2)", |d| {
        &mut d.temperature
    }),
    ("top_p", "Top-p (above 0, at most 1)", |d| &mut d.top_p),
    ("max_output_tokens", "Most output tokens", |d| {
        &mut d.max_output_tokens
    }),
];

impl SamplingDraft {
    /// A draft of `sampling` as it is.
    pub fn of(sampling: &Sampling) -> Self {
        fn text<T: ToString>(n: Option<T>) -> String {
            n.map(|n| n.to_string()).unwrap_or_default()
        }
        Self {
            temperature: text(sampling.temperature),
            top_p: text(sampling.top_p),
            max_output_tokens: text(sampling.max_output_tokens),
        }
    }

    /// The sampling typed, or `None` with each field's problem noted.
    pub fn check(&self, problems: &mut Problems) -> Option<Sampling> {
        let before = problems.all().count();
        // Each value is checked alone, so its problem lands on its field.
        let alone = |problems: &mut Problems, name: &'static str, sampling: Sampling| {
            problems.check(name, sampling.validate());
        };
        let temperature = problems
            .check(
                "temperature",
                number::<f64>(&self.temperature, "temperature"),
            )
            .flatten();
        alone(
            problems,
            "temperature",
            Sampling {
                temperature,
                ..Sampling::default()
            },
        );
        let top_p = problems
            .check("top_p", number::<f64>(&self.top_p, "top-p"))
            .flatten();
        alone(
            problems,
            "top_p",
            Sampling {
                top_p,
                ..Sampling::default()
            },
        );
        let max_output_tokens = problems
            .check(
                "max_output_tokens",
                number::<u32>(&self.max_output_tokens, "most output tokens"),
            )
            .flatten();
        alone(
            problems,
            "max_output_tokens",
            Sampling {
                max_output_tokens,
                ..Sampling::default()
            },
        );
        (problems.all().count() == before).then_some(Sampling {
            temperature,
            top_p,
            max_output_tokens,
        })
    }

    /// The sampling typed, or everything wrong with it in one line.
    pub fn sampling(&self) -> Result<Sampling, String> {
        let mut problems = Problems::default();
        self.check(&mut problems).ok_or_else(|| {
            let all: Vec<&str> = problems.all().map(|(_, why)| why.as_str()).collect();
            all.join("; ")
        })
    }
}

/// The three sampling inputs, each with its problem under it.
#[component]
pub fn SamplingInputs(
    draft: SamplingDraft,
    on_change: EventHandler<SamplingDraft>,
    /// What is wrong with each.
    #[props(default)]
    problems: Problems,
) -> Element {
    rsx! {
        fieldset { class: "sampling",
            legend { "Sampling (empty: the provider's default)" }
            for (name, label, field) in FIELDS {
                label { "{label}"
                    TextInput { key: "{name}", name, placeholder: "default", value: field(&mut draft.clone()).clone(),
                        oninput: {
                            let draft = draft.clone();
                            move |text| {
                                let mut next = draft.clone();
                                *field(&mut next) = text;
                                on_change.call(next);
                            }
                        }
                    }
                    FieldProblem { problems: problems.clone(), field: name }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_round_trips_and_each_bad_field_says_why_under_its_name() {
        let sampling = Sampling {
            temperature: Some(0.7),
            top_p: Some(0.95),
            max_output_tokens: Some(512),
        };
        assert_eq!(SamplingDraft::of(&sampling).sampling(), Ok(sampling));
        assert_eq!(SamplingDraft::default().sampling(), Ok(Sampling::default()));
        let bad = SamplingDraft {
            temperature: "hot".into(),
            top_p: "1.5".into(),
            max_output_tokens: "0".into(),
        };
        let mut problems = Problems::default();
        assert_eq!(bad.check(&mut problems), None);
        assert_eq!(
            problems.of("temperature").as_deref(),
            Some("temperature: \"hot\" is not a number")
        );
        assert_eq!(
            problems.of("top_p").as_deref(),
            Some("top_p 1.5 is out of range: above 0, at most 1")
        );
        assert_eq!(
            problems.of("max_output_tokens").as_deref(),
            Some("max_output_tokens must be at least 1")
        );
    }
}
