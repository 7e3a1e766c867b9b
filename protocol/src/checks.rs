//! Checks that score a run's answer: a group carries them, and the daemon
//! records each one's outcome (`check.result`) before the run's terminal
//! event, so results tables, exports and pass rates read them back.

use serde::{Deserialize, Serialize};

/// One check of a run's last answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The answer holds this text.
    Contains(String),
    /// The answer matches this regular expression (Rust `regex` syntax).
    Regex(String),
    /// The answer is one JSON value (inside a Markdown code fence or not).
    Json,
}

impl Check {
    /// How the check is named in events, tables and exports:
    /// `contains "Paris"`, `regex ^\d+$`, `json`.
    pub fn name(&self) -> String {
        match self {
            Check::Contains(text) => format!("contains {text:?}"),
            Check::Regex(pattern) => format!("regex {pattern}"),
            Check::Json => "json".to_owned(),
        }
    }
}

/// Most checks one group may carry.
pub const MAX_CHECKS: usize = 32;

/// How one check of a run came out (from its `check.result` event).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckOutcome {
    /// [`Check::name`].
    pub check: String,
    /// Whether the answer passed.
    pub passed: bool,
    /// Why it failed, or what matched.
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_are_named_as_people_read_them() {
        assert_eq!(Check::Contains("Paris".into()).name(), "contains \"Paris\"");
        assert_eq!(Check::Regex(r"^\d+$".into()).name(), r"regex ^\d+$");
        assert_eq!(Check::Json.name(), "json");
    }
}
