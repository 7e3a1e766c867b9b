//! Check flags (`--check-contains`, `--check-regex`, `--check-json`,
//! `--check-schema`, `--check-command`, `--check-judge`): what each run
//! of a group is scored by.

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
    /// Check: the answer is JSON valid against this JSON Schema (a file,
    /// or the schema itself when it starts with `{`; repeatable).
    #[arg(long, value_name = "FILE", value_parser = schema_text)]
    pub(crate) check_schema: Vec<String>,
    /// Check: this command exits 0, run in the run's workspace in the
    /// agent's sandbox after its turn (`cargo test`; repeatable).
    #[arg(long, value_name = "COMMAND")]
    pub(crate) check_command: Vec<String>,
    /// Check: this agent scores the answer from 0 to 10 and it passes at
    /// MIN [default: 7] (repeatable).
    #[arg(long, value_name = "AGENT[:MIN]", value_parser = Check::judge_from)]
    pub(crate) check_judge: Vec<Check>,
}

/// A schema's text: the argument itself when it is JSON text, else the
/// file it names.
fn schema_text(arg: &str) -> Result<String, String> {
    if arg.trim_start().starts_with('{') {
        return Ok(arg.to_owned());
    }
    std::fs::read_to_string(arg).map_err(|err| format!("cannot read the schema {arg}: {err}"))
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
        checks.extend(self.check_schema.iter().cloned().map(Check::Schema));
        checks.extend(self.check_command.iter().cloned().map(Check::Command));
        checks.extend(self.check_judge.iter().cloned());
        checks
    }
}
