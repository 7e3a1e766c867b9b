//! Checks of a run's answer (`protocol::checks::Check`): checked when a
//! group starts, and evaluated on each run's last answer before its
//! terminal event (`SessionState::record_checks`). A JSON Schema is
//! compiled by `boon` (no `$ref` leaves the schema: nothing is loaded
//! from files or the network); a command check ran in the worker after
//! the turn (`check.command`), and its exit code decides it here.

use protocol::checks::{Check, CheckOutcome, MAX_CHECKS, MAX_SCORE};

/// Most characters of a regular expression.
const MAX_PATTERN_CHARS: usize = 1000;

/// Why `checks` cannot be used, if they cannot: too many, an empty text,
/// or a regular expression that does not compile.
pub(crate) fn validate(checks: &[Check]) -> Result<(), String> {
    if checks.len() > MAX_CHECKS {
        return Err(format!(
            "{} checks are too many (at most {MAX_CHECKS})",
            checks.len()
        ));
    }
    for check in checks {
        match check {
            Check::Contains(text) if text.is_empty() => {
                return Err("a contains check needs some text".to_owned());
            }
            Check::Regex(pattern) => {
                if pattern.chars().count() > MAX_PATTERN_CHARS {
                    return Err(format!(
                        "a regular expression is at most {MAX_PATTERN_CHARS} characters"
                    ));
                }
                regex::Regex::new(pattern)
                    .map_err(|err| format!("check regex {pattern}: {err}"))?;
            }
            Check::Schema(schema) => {
                compile(schema).map_err(|why| format!("check schema: {why}"))?;
            }
            Check::Command(command) if command.trim().is_empty() => {
                return Err("a command check needs a command".to_owned());
            }
            Check::Judge { pass_at, .. } if *pass_at > MAX_SCORE => {
                return Err(format!("a judge's passing score is at most {MAX_SCORE}"));
            }
            Check::Contains(_) | Check::Json | Check::Command(_) | Check::Judge { .. } => {}
        }
    }
    Ok(())
}

/// What the worker did for a run's checks: its command checks' commands
/// (`check.command`) and its judges (`check.judge`), in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct WorkerChecks {
    /// The commands.
    pub(crate) commands: Vec<CommandRan>,
    /// The judges.
    pub(crate) judges: Vec<Judged>,
}

/// What a judge said (its `check.judge` event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Judged {
    /// The judge agent.
    pub(crate) agent: String,
    /// Its score, when it gave one.
    pub(crate) score: Option<u8>,
    /// What it said.
    pub(crate) reason: String,
}

/// What a command check's command did (its `check.command` event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CommandRan {
    /// The command.
    pub(crate) command: String,
    /// Its exit code; `None` when killed or not started.
    pub(crate) exit_code: Option<i32>,
    /// Its output.
    pub(crate) output: String,
}

/// A compiled JSON Schema, or why `text` is not one.
fn compile(text: &str) -> Result<(boon::Schemas, boon::SchemaIndex), String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|err| format!("not JSON: {err}"))?;
    let mut compiler = boon::Compiler::new();
    compiler.use_loader(Box::new(NothingLoaded));
    compiler
        .add_resource("urn:studio:check", value)
        .map_err(|err| err.to_string())?;
    let mut schemas = boon::Schemas::new();
    let index = compiler
        .compile("urn:studio:check", &mut schemas)
        .map_err(|err| with_sources(&err))?;
    Ok((schemas, index))
}

/// `err` and what caused it, each after a colon.
fn with_sources(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Refuses every `$ref` outside the schema itself.
struct NothingLoaded;

impl boon::UrlLoader for NothingLoaded {
    fn load(&self, url: &str) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
        Err(format!("{url}: a check's schema cannot refer outside itself").into())
    }
}

/// Whether `answer` is JSON valid against `schema`, and why not.
fn against_schema(schema: &str, answer: &str) -> (bool, String) {
    let value = match serde_json::from_str::<serde_json::Value>(json_body(answer)) {
        Ok(value) => value,
        Err(err) => return (false, format!("not JSON: {err}")),
    };
    match compile(schema) {
        Ok((schemas, index)) => match schemas.validate(&value, index) {
            Ok(()) => (true, String::new()),
            Err(err) => (false, first_chars(&err.to_string().replace('\n', " "), 300)),
        },
        Err(why) => (false, why),
    }
}

/// How a judge check came out, from what the judge said.
fn judge_outcome(agent: &str, pass_at: u8, judged: &[Judged]) -> (bool, String) {
    let Some(judged) = judged.iter().find(|j| j.agent == agent) else {
        return (false, "the judge was not asked".to_owned());
    };
    let why = judged.reason.lines().skip(1).find(|l| !l.trim().is_empty());
    let why = why.map_or_else(String::new, |l| format!(": {}", first_chars(l.trim(), 200)));
    match judged.score {
        Some(score) => (score >= pass_at, format!("{score}/{MAX_SCORE}{why}")),
        None => (
            false,
            format!("no score: {}", first_chars(judged.reason.trim(), 200)),
        ),
    }
}

/// How a command check came out, from what ran.
fn command_outcome(command: &str, ran: &[CommandRan]) -> (bool, String) {
    match ran.iter().find(|r| r.command == command) {
        Some(CommandRan {
            exit_code: Some(0), ..
        }) => (true, String::new()),
        Some(ran) => {
            let how = ran
                .exit_code
                .map_or_else(|| "killed".to_owned(), |code| format!("exit code {code}"));
            let last = ran.output.lines().rev().find(|l| !l.trim().is_empty());
            match last {
                Some(line) => (false, format!("{how}: {}", first_chars(line.trim(), 200))),
                None => (false, how),
            }
        }
        None => (false, "it did not run".to_owned()),
    }
}

/// How each of `checks` comes out on `answer`, command and judge checks
/// by what the worker did (`ran`).
pub(crate) fn evaluate(checks: &[Check], answer: &str, ran: &WorkerChecks) -> Vec<CheckOutcome> {
    checks
        .iter()
        .map(|check| {
            let (passed, detail) = match check {
                Check::Contains(text) => match answer.contains(text.as_str()) {
                    true => (true, String::new()),
                    false => (false, "not in the answer".to_owned()),
                },
                Check::Regex(pattern) => match regex::Regex::new(pattern) {
                    Ok(re) => match re.find(answer) {
                        Some(found) => (
                            true,
                            format!("matched {:?}", first_chars(found.as_str(), 80)),
                        ),
                        None => (false, "no match in the answer".to_owned()),
                    },
                    Err(err) => (false, format!("does not compile: {err}")),
                },
                Check::Json => match serde_json::from_str::<serde_json::Value>(json_body(answer)) {
                    Ok(_) => (true, String::new()),
                    Err(err) => (false, format!("not JSON: {err}")),
                },
                Check::Schema(schema) => against_schema(schema, answer),
                Check::Command(command) => command_outcome(command, &ran.commands),
                Check::Judge { agent, pass_at } => judge_outcome(agent, *pass_at, &ran.judges),
            };
            CheckOutcome {
                check: check.name(),
                passed,
                detail,
            }
        })
        .collect()
}

/// The answer without spaces around it, or inside its Markdown code
/// fence (```json ... ```) if it is one.
fn json_body(answer: &str) -> &str {
    let trimmed = answer.trim();
    let Some(rest) = trimmed.strip_prefix("```") else {
        return trimmed;
    };
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_alphanumeric());
    rest.strip_suffix("```").unwrap_or(rest).trim()
}

/// At most `chars` characters of `text`, for a detail line.
fn first_chars(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_check_passes_or_says_why_not() {
        let checks = [
            Check::Contains("Paris".into()),
            Check::Regex(r"\d{4}".into()),
            Check::Json,
        ];
        let passed = |answer: &str| -> Vec<bool> {
            evaluate(&checks, answer, &WorkerChecks::default())
                .iter()
                .map(|o| o.passed)
                .collect()
        };
        assert_eq!(passed("Paris, since 1871"), [true, true, false]);
        assert_eq!(
            passed("```json\n{\"city\": \"Paris\", \"year\": 2024}\n```"),
            [true, true, true]
        );
        assert_eq!(passed("London"), [false, false, false]);
        let why = evaluate(&checks, "London", &WorkerChecks::default());
        assert_eq!(why[0].detail, "not in the answer");
        assert!(why[2].detail.starts_with("not JSON: "), "{}", why[2].detail);
        assert_eq!(
            evaluate(&checks, "year 1999", &WorkerChecks::default())[1].detail,
            "matched \"1999\""
        );
    }

    #[test]
    fn a_schema_check_validates_the_answer_and_says_where_it_fails() {
        let schema = r#"{"type": "object", "required": ["city"],
            "properties": {"city": {"type": "string"}, "year": {"type": "integer"}}}"#;
        let checks = [Check::Schema(schema.into())];
        let outcome = |answer: &str| evaluate(&checks, answer, &WorkerChecks::default()).remove(0);
        assert!(outcome("```json\n{\"city\": \"Paris\", \"year\": 1871}\n```").passed);
        let wrong = outcome("{\"city\": \"Paris\", \"year\": \"long ago\"}");
        assert!(!wrong.passed);
        assert!(wrong.detail.contains("year"), "{}", wrong.detail);
        assert!(!outcome("{\"year\": 1}").passed);
        assert!(outcome("Paris").detail.starts_with("not JSON"));
    }

    #[test]
    fn a_command_check_passes_on_exit_code_zero_only() {
        let checks = [
            Check::Command("cargo test".into()),
            Check::Command("make lint".into()),
            Check::Command("never ran".into()),
        ];
        let ran = [
            CommandRan {
                command: "cargo test".into(),
                exit_code: Some(0),
                output: "ok".into(),
            },
            CommandRan {
                command: "make lint".into(),
                exit_code: Some(2),
                output: "lint: 3 problems\n\n".into(),
            },
        ];
        let ran = WorkerChecks {
            commands: ran.to_vec(),
            judges: Vec::new(),
        };
        let outcomes = evaluate(&checks, "", &ran);
        assert!(outcomes[0].passed);
        assert!(!outcomes[1].passed);
        assert_eq!(outcomes[1].detail, "exit code 2: lint: 3 problems");
        assert_eq!(outcomes[2].detail, "it did not run");
    }

    #[test]
    fn a_judge_check_passes_at_its_score_and_says_why() {
        let judge = |agent: &str, pass_at| Check::Judge {
            agent: agent.into(),
            pass_at,
        };
        let checks = [
            judge("critic", 7),
            judge("strict", 9),
            judge("mute", 1),
            judge("gone", 1),
        ];
        let said = |agent: &str, score, reason: &str| Judged {
            agent: agent.into(),
            score,
            reason: reason.into(),
        };
        let ran = WorkerChecks {
            commands: Vec::new(),
            judges: vec![
                said("critic", Some(8), "8\nClear and correct."),
                said("strict", Some(8), "8\nFine."),
                said("mute", None, "I would rather not say."),
            ],
        };
        let outcomes = evaluate(&checks, "", &ran);
        let passed: Vec<bool> = outcomes.iter().map(|o| o.passed).collect();
        assert_eq!(passed, [true, false, false, false]);
        assert_eq!(outcomes[0].detail, "8/10: Clear and correct.");
        assert_eq!(outcomes[2].detail, "no score: I would rather not say.");
        assert_eq!(outcomes[3].detail, "the judge was not asked");
        assert!(validate(&[judge("critic", 11)]).is_err());
    }

    #[test]
    fn bad_checks_are_refused_before_anything_runs() {
        assert!(validate(&[Check::Regex("(unclosed".into())]).is_err());
        assert!(validate(&[Check::Contains(String::new())]).is_err());
        assert!(validate(&vec![Check::Json; MAX_CHECKS + 1]).is_err());
        assert!(validate(&[Check::Json, Check::Regex("^ok$".into())]).is_ok());
        assert!(validate(&[Check::Schema("{\"type\": 3}".into())]).is_err());
        assert!(validate(&[Check::Schema("not json".into())]).is_err());
        // A schema file that exists and compiles is not read either.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("other.json");
        std::fs::write(&file, r#"{"type": "object"}"#).unwrap();
        let outside = format!(r#"{{"$ref": "file://{}"}}"#, file.display());
        let why = validate(&[Check::Schema(outside)]).unwrap_err();
        assert!(why.contains("cannot refer outside"), "{why}");
        assert!(validate(&[Check::Command(" ".into())]).is_err());
    }
}
