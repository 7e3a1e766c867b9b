//! The spend cap fields the agent form (its daily caps) and the run form
//! (the group's caps) share: dollars, tokens and runs over many sessions,
//! typed as text, empty meaning no cap.

use dioxus::prelude::*;
use protocol::caps::SpendCaps;

use super::budgets::number;
use crate::fields::TextInput;

/// The cap fields as typed; `caps` reads them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CapsDraft {
    /// US dollars.
    pub usd: String,
    /// Input plus output tokens.
    pub tokens: String,
    /// Sessions started.
    pub runs: String,
}

impl CapsDraft {
    /// The fields of `caps`, as the form shows them.
    pub fn of(caps: &SpendCaps) -> Self {
        fn text<T: ToString>(n: Option<T>) -> String {
            n.map(|n| n.to_string()).unwrap_or_default()
        }
        Self {
            usd: text(caps.max_cost_usd),
            tokens: text(caps.max_tokens),
            runs: text(caps.max_runs),
        }
    }

    /// The caps typed, or what is wrong with one; `whose` names them in
    /// the message ("daily cap", "group cap").
    pub fn caps(&self, whose: &str) -> Result<SpendCaps, String> {
        let caps = SpendCaps {
            max_cost_usd: number(&self.usd, &format!("{whose} (USD)"))?,
            max_tokens: number(&self.tokens, &format!("{whose} (tokens)"))?,
            max_runs: number(&self.runs, &format!("{whose} (runs)"))?,
        };
        caps.validate().map_err(|why| format!("{whose}: {why}"))?;
        Ok(caps)
    }
}

/// The three cap inputs, named `{prefix}_usd`, `{prefix}_tokens` and
/// `{prefix}_runs`, labelled `{label} (USD)` and so on.
#[component]
pub fn CapsInputs(
    draft: CapsDraft,
    prefix: &'static str,
    label: &'static str,
    on_change: EventHandler<CapsDraft>,
) -> Element {
    type Field = fn(&mut CapsDraft) -> &mut String;
    let fields: [(&str, &str, Field); 3] = [
        ("usd", "USD", |d| &mut d.usd),
        ("tokens", "tokens", |d| &mut d.tokens),
        ("runs", "runs", |d| &mut d.runs),
    ];
    rsx! {
        for (suffix, unit, field) in fields {
            label { "{label} ({unit})"
                TextInput { key: "{prefix}_{suffix}", name: "{prefix}_{suffix}", placeholder: "no cap",
                    value: field(&mut draft.clone()).clone(),
                    oninput: {
                        let draft = draft.clone();
                        move |text| {
                            let mut next = draft.clone();
                            *field(&mut next) = text;
                            on_change.call(next);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_round_trip_through_the_form_and_bad_ones_say_why() {
        let caps = SpendCaps {
            max_cost_usd: Some(5.0),
            max_tokens: None,
            max_runs: Some(40),
        };
        let draft = CapsDraft::of(&caps);
        assert_eq!(draft.runs, "40");
        assert_eq!(draft.caps("daily cap"), Ok(caps));
        assert_eq!(CapsDraft::default().caps("x"), Ok(SpendCaps::default()));
        let nan = CapsDraft {
            usd: "NaN".into(),
            ..CapsDraft::default()
        };
        assert_eq!(
            nan.caps("group cap").err().as_deref(),
            Some("group cap: a cost cap must be a number of dollars above 0, not NaN")
        );
        let zero = CapsDraft {
            runs: "0".into(),
            ..CapsDraft::default()
        };
        assert!(zero.caps("daily cap").is_err());
        let words = CapsDraft {
            tokens: "lots".into(),
            ..CapsDraft::default()
        };
        assert_eq!(
            words.caps("daily cap").err().as_deref(),
            Some("daily cap (tokens): \"lots\" is not a number")
        );
    }
}
