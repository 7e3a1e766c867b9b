//! Check flags (`--check-contains`, `--check-regex`, `--check-json`): what
//! each run's answer of a group is scored by.

use clap::Args;
use protocol::checks::Check;

/// What each run's answer is checked for (any of them makes a group).
#[derive(Args, Debug, Default, Clone)]
pub(crate) struct CheckArgs {
    /// Check: the answer holds this text (repeatable).
    #[arg(long, value_name = "TEXT")]
    pub(crate) check_contains: Vec<String>,
    /// Check: the answer matches this regular expression (repeatable).
    #[arg(long, value_name = "REGEX")]
    pub(crate) check_regex: Vec<String>,
    /// Check: the answer is one JSON value (a Markdown code fence around
    /// it is allowed).
    #[arg(long)]
    pub(crate) check_json: bool,
}

impl CheckArgs {
    /// The checks given, in the order: texts, patterns, JSON.
    pub(crate) fn checks(&self) -> Vec<Check> {
        let mut checks: Vec<Check> = self
            .check_contains
            .iter()
            .cloned()
            .map(Check::Contains)
            .collect();
        checks.extend(self.check_regex.iter().cloned().map(Check::Regex));
        if self.check_json {
            checks.push(Check::Json);
        }
        checks
    }
}
