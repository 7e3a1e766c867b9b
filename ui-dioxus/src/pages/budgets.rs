//! The budget fields the agent form and the run form share: every limit
//! the daemon enforces, typed as text, empty meaning "none" (for an agent)
//! or "the agent's" (for a run).

use dioxus::prelude::*;
use protocol::agent::Budgets;

use crate::fields::TextInput;
use crate::problems::{FieldProblem, Problems};

/// The budget fields as typed; `budgets` reads them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BudgetDraft {
    /// Wall-clock seconds per session.
    pub max_wall_secs: String,
    /// Seconds without an event.
    pub max_idle_secs: String,
    /// Worker memory, MiB.
    pub max_memory_mib: String,
    /// Model requests per session.
    pub max_turns: String,
    /// Input plus output tokens per session.
    pub max_tokens: String,
    /// US dollars per session.
    pub max_cost_usd: String,
}

/// Picks one field of a draft.
type Field = fn(&mut BudgetDraft) -> &mut String;

/// The fields in form order: input name, label, and the field.
const FIELDS: [(&str, &str, Field); 6] = [
    ("max_wall_secs", "Max wall time (s)", |d| {
        &mut d.max_wall_secs
    }),
    ("max_idle_secs", "Max idle time (s)", |d| {
        &mut d.max_idle_secs
    }),
    ("max_memory_mib", "Max memory (MiB)", |d| {
        &mut d.max_memory_mib
    }),
    ("max_turns", "Max model turns", |d| &mut d.max_turns),
    ("max_tokens", "Max tokens", |d| &mut d.max_tokens),
    ("max_cost_usd", "Max cost (USD)", |d| &mut d.max_cost_usd),
];

impl BudgetDraft {
    /// The fields of `budgets`, as the form shows them.
    pub fn of(budgets: &Budgets) -> Self {
        fn text<T: ToString>(n: Option<T>) -> String {
            n.map(|n| n.to_string()).unwrap_or_default()
        }
        Self {
            max_wall_secs: text(budgets.max_wall_secs),
            max_idle_secs: text(budgets.max_idle_secs),
            max_memory_mib: text(budgets.max_memory_mib),
            max_turns: text(budgets.max_turns),
            max_tokens: text(budgets.max_tokens),
            max_cost_usd: text(budgets.max_cost_usd),
        }
    }

    /// The limits typed; what is wrong with each is noted under its field.
    pub fn check(&self, problems: &mut Problems) -> Option<Budgets> {
        let before = problems.all().count();
        let whole = |problems: &mut Problems, name: &'static str, text: &str| -> Option<u64> {
            let value = problems.check(name, parsed::<u64>(text, "a whole number"))?;
            if value == Some(0) {
                problems.add(name, "at least 1 (leave it empty for no limit)");
            }
            value
        };
        let max_wall_secs = whole(problems, "max_wall_secs", &self.max_wall_secs);
        let max_idle_secs = whole(problems, "max_idle_secs", &self.max_idle_secs);
        let max_memory_mib = whole(problems, "max_memory_mib", &self.max_memory_mib);
        let max_turns = whole(problems, "max_turns", &self.max_turns);
        if max_turns.is_some_and(|turns| turns > u64::from(u32::MAX)) {
            problems.add("max_turns", "too many turns");
        }
        let max_tokens = whole(problems, "max_tokens", &self.max_tokens);
        let max_cost_usd = problems
            .check(
                "max_cost_usd",
                number::<f64>(&self.max_cost_usd, "a number"),
            )
            .flatten();
        if max_cost_usd.is_some_and(|usd| !usd.is_finite() || usd <= 0.0) {
            problems.add("max_cost_usd", "a number of dollars above 0");
        }
        if problems.all().count() > before {
            return None;
        }
        Some(Budgets {
            max_wall_secs,
            max_idle_secs,
            max_memory_mib,
            max_turns: max_turns.and_then(|t| u32::try_from(t).ok()),
            max_tokens,
            max_cost_usd,
        })
    }

    /// The limits typed, or what is wrong with one.
    pub fn budgets(&self) -> Result<Budgets, String> {
        let max_cost_usd = number::<f64>(&self.max_cost_usd, "max cost")?;
        if max_cost_usd.is_some_and(|usd| !usd.is_finite() || usd <= 0.0) {
            return Err("max cost: a number of dollars above 0".into());
        }
        let budgets = Budgets {
            max_wall_secs: number(&self.max_wall_secs, "max wall seconds")?,
            max_idle_secs: number(&self.max_idle_secs, "max idle seconds")?,
            max_memory_mib: number(&self.max_memory_mib, "max memory")?,
            max_turns: number(&self.max_turns, "max turns")?,
            max_tokens: number(&self.max_tokens, "max tokens")?,
            max_cost_usd,
        };
        budgets.validate()?;
        Ok(budgets)
    }
}

/// An optional number typed into a field: empty is `None`; anything else
/// must parse, or the field says it is not `kind`.
fn parsed<T: std::str::FromStr>(text: &str, kind: &str) -> Result<Option<T>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| format!("{text:?} is not {kind}"))
}

/// An optional number typed into a form: empty is `None`, anything else must parse.
pub(super) fn number<T: std::str::FromStr>(text: &str, what: &str) -> Result<Option<T>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| format!("{what}: {text:?} is not a number"))
}

/// The six budget inputs; `empty` is the placeholder of an empty one
/// ("none", or "the agent's").
#[component]
pub fn BudgetInputs(
    draft: BudgetDraft,
    empty: &'static str,
    on_change: EventHandler<BudgetDraft>,
    /// What is wrong with each, shown under it.
    #[props(default)]
    problems: Problems,
) -> Element {
    rsx! {
        for (name, label, field) in FIELDS {
            label { "{label}"
                TextInput { key: "{name}", name, placeholder: empty, value: field(&mut draft.clone()).clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_round_trip_through_the_form_and_bad_ones_say_why() {
        let budgets = Budgets {
            max_wall_secs: Some(60),
            max_idle_secs: Some(10),
            max_memory_mib: Some(256),
            max_turns: Some(20),
            max_tokens: Some(200_000),
            max_cost_usd: Some(2.5),
        };
        let draft = BudgetDraft::of(&budgets);
        assert_eq!(draft.max_cost_usd, "2.5");
        assert_eq!(draft.budgets(), Ok(budgets));
        assert_eq!(BudgetDraft::default().budgets(), Ok(Budgets::default()));
        for (draft, why) in [
            (
                BudgetDraft {
                    max_turns: "-2".into(),
                    ..BudgetDraft::default()
                },
                "max turns: \"-2\" is not a number",
            ),
            (
                BudgetDraft {
                    max_cost_usd: "-1".into(),
                    ..BudgetDraft::default()
                },
                "max cost: a number of dollars above 0",
            ),
            (
                BudgetDraft {
                    max_cost_usd: "NaN".into(),
                    ..BudgetDraft::default()
                },
                "max cost: a number of dollars above 0",
            ),
            (
                BudgetDraft {
                    max_turns: "0".into(),
                    ..BudgetDraft::default()
                },
                "budget max_turns must be at least 1 (leave it out for no limit)",
            ),
            (
                BudgetDraft {
                    max_memory_mib: "lots".into(),
                    ..BudgetDraft::default()
                },
                "max memory: \"lots\" is not a number",
            ),
        ] {
            assert_eq!(draft.budgets().err().as_deref(), Some(why));
        }
    }
}
