//! The run form's checks: what each run of the group is scored by, as
//! typed (`ChecksDraft`), and their inputs (`ChecksInputs`).

use dioxus::prelude::*;
use protocol::checks::Check;

use crate::fields::{TextArea, TextInput};

/// The checks as the form holds them; an empty field is no check.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChecksDraft {
    /// Each answer holds this text.
    pub contains: String,
    /// Each answer matches this regular expression.
    pub regex: String,
    /// Each answer is one JSON value.
    pub json: bool,
    /// Each answer is JSON valid against this JSON Schema (its text).
    pub schema: String,
    /// This command exits 0 in each run's workspace after its turn.
    pub command: String,
    /// A judge agent scores each answer: `AGENT` or `AGENT:MIN`.
    pub judge: String,
}

impl ChecksDraft {
    /// The checks each run is scored by, or what is wrong with the judge
    /// (the daemon says what is wrong with the others, such as a schema
    /// that does not compile).
    pub fn checks(&self) -> Result<Vec<Check>, String> {
        let mut checks = Vec::new();
        if !self.contains.is_empty() {
            checks.push(Check::Contains(self.contains.clone()));
        }
        if !self.regex.is_empty() {
            checks.push(Check::Regex(self.regex.clone()));
        }
        if self.json {
            checks.push(Check::Json);
        }
        if !self.schema.trim().is_empty() {
            checks.push(Check::Schema(self.schema.clone()));
        }
        if !self.command.trim().is_empty() {
            checks.push(Check::Command(self.command.trim().to_owned()));
        }
        if !self.judge.trim().is_empty() {
            checks
                .push(Check::judge_from(self.judge.trim()).map_err(|why| format!("judge: {why}"))?);
        }
        Ok(checks)
    }
}

/// The check inputs: `check_contains`, `check_regex`, `check_json`,
/// `check_schema` and `check_command`.
#[component]
pub fn ChecksInputs(draft: ChecksDraft, on_change: EventHandler<ChecksDraft>) -> Element {
    let base = draft.clone();
    let change = move |edit: fn(&mut ChecksDraft, String)| {
        let draft = base.clone();
        move |text: String| {
            let mut next = draft.clone();
            edit(&mut next, text);
            on_change.call(next);
        }
    };
    let json = draft.json;
    let toggled = {
        let draft = draft.clone();
        move |e: Event<FormData>| {
            let mut next = draft.clone();
            next.json = e.checked();
            on_change.call(next);
        }
    };
    rsx! {
        label { "Check: answer contains"
            TextInput { name: "check_contains", value: draft.contains.clone(), placeholder: "text every answer should hold",
                oninput: change(|d, text| d.contains = text) }
        }
        label { "Check: answer matches"
            TextInput { name: "check_regex", value: draft.regex.clone(), placeholder: "a regular expression",
                oninput: change(|d, text| d.regex = text) }
        }
        label { class: "check", "Check: answer is JSON"
            input { r#type: "checkbox", name: "check_json", checked: json, onchange: toggled }
        }
        label { "Check: answer fits a JSON Schema"
            TextArea { name: "check_schema", value: draft.schema.clone(),
                oninput: change(|d, text| d.schema = text) }
        }
        label { "Check: command passes in the run's workspace"
            TextInput { name: "check_command", value: draft.command.clone(), placeholder: "cargo test, npm test, ...",
                oninput: change(|d, text| d.command = text) }
        }
        label { "Check: a judge agent scores it (0 to 10)"
            TextInput { name: "check_judge", value: draft.judge.clone(), placeholder: "AGENT, or AGENT:MIN (7 by default)",
                oninput: change(|d, text| d.judge = text) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_field_is_no_check_and_each_filled_one_is_one() {
        assert_eq!(ChecksDraft::default().checks(), Ok(Vec::new()));
        let draft = ChecksDraft {
            contains: "Paris".into(),
            json: true,
            schema: "{\"type\": \"object\"}".into(),
            command: " cargo test ".into(),
            judge: "critic:8".into(),
            ..ChecksDraft::default()
        };
        assert_eq!(
            draft.checks(),
            Ok(vec![
                Check::Contains("Paris".into()),
                Check::Json,
                Check::Schema("{\"type\": \"object\"}".into()),
                Check::Command("cargo test".into()),
                Check::Judge {
                    agent: "critic".into(),
                    pass_at: 8
                },
            ])
        );
        let bad = ChecksDraft {
            judge: "critic:eleven".into(),
            ..ChecksDraft::default()
        };
        assert!(bad.checks().unwrap_err().starts_with("judge: "));
    }
}
