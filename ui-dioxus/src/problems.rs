//! What is wrong with a form, field by field, so that every error shows
//! at once next to its field rather than one at a time at the bottom.

use dioxus::prelude::*;

/// A form's problems, each under the `name` of the field it is about
/// ([`Problems::FORM`] for the form as a whole).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Problems(Vec<(&'static str, String)>);

impl Problems {
    /// The key of a problem with no one field.
    pub const FORM: &'static str = "form";

    /// Notes that `field` is wrong, and why.
    pub fn add(&mut self, field: &'static str, why: impl Into<String>) {
        self.0.push((field, why.into()));
    }

    /// The value of `result`, or `None` with its error noted under `field`.
    pub fn check<T>(&mut self, field: &'static str, result: Result<T, String>) -> Option<T> {
        result.map_err(|why| self.add(field, why)).ok()
    }

    /// Whether nothing is wrong.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// What is wrong with `field`, if anything (its problems joined).
    pub fn of(&self, field: &str) -> Option<String> {
        let found: Vec<&str> = self
            .0
            .iter()
            .filter(|(f, _)| *f == field)
            .map(|(_, why)| why.as_str())
            .collect();
        (!found.is_empty()).then(|| found.join("; "))
    }

    /// Every problem, in the order found.
    pub fn all(&self) -> impl Iterator<Item = &(&'static str, String)> {
        self.0.iter()
    }
}

/// The problem of one field, shown under it (nothing when it is fine).
#[component]
pub fn FieldProblem(problems: Problems, field: &'static str) -> Element {
    match problems.of(field) {
        Some(why) => {
            rsx! { span { class: "field-problem", role: "alert", "data-for": field, "{why}" } }
        }
        None => rsx! {},
    }
}

/// A line above the buttons when anything is wrong: how many fields to
/// fix, and the problems of the form as a whole.
#[component]
pub fn FormProblems(problems: Problems) -> Element {
    if problems.is_empty() {
        return rsx! {};
    }
    let count = problems.all().count();
    let general = problems.of(Problems::FORM);
    rsx! {
        p { class: "problem", role: "alert",
            if count == 1 { "1 problem" } else { "{count} problems" }
            if let Some(why) = general { ": {why}" } else { ": see the marked fields" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_kept_by_field_and_all_are_kept() {
        let mut problems = Problems::default();
        assert!(problems.check::<u32>("name", Ok(3)).is_some());
        assert!(problems.is_empty());
        assert_eq!(problems.check::<u32>("name", Err("bad".into())), None);
        problems.add("max_tokens", "not a number");
        problems.add("name", "too long");
        assert_eq!(problems.of("name").as_deref(), Some("bad; too long"));
        assert_eq!(problems.of("max_tokens").as_deref(), Some("not a number"));
        assert_eq!(problems.of("model"), None);
        assert_eq!(problems.all().count(), 3);
    }
}
