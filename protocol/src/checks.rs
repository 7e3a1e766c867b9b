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
    /// The answer is JSON valid against this JSON Schema (its text).
    Schema(String),
    /// This command (`sh -c`) exits 0 when run in the run's workspace,
    /// in the agent's sandbox, after its turn (tests pass?).
    Command(String),
    /// A judge agent scores the answer from 0 to 10, asked once the run's
    /// turn completes; it passes at `pass_at` or more.
    Judge {
        /// The judge agent's name.
        agent: String,
        /// The lowest passing score (0 to 10).
        pass_at: u8,
    },
}

/// The highest score a judge gives.
pub const MAX_SCORE: u8 = 10;

/// The passing score of a judge check that names none.
pub const DEFAULT_PASS_AT: u8 = 7;

impl Check {
    /// A judge check from `AGENT` or `AGENT:MIN` (`critic:8`).
    pub fn judge_from(text: &str) -> Result<Check, String> {
        let (agent, pass_at) = match text.rsplit_once(':') {
            Some((agent, min)) => {
                let min = min
                    .trim()
                    .parse::<u8>()
                    .ok()
                    .filter(|m| *m <= MAX_SCORE)
                    .ok_or_else(|| format!("{min:?} is not a score from 0 to {MAX_SCORE}"))?;
                (agent, min)
            }
            None => (text, DEFAULT_PASS_AT),
        };
        let agent = agent.trim();
        if agent.is_empty() {
            return Err("name the judge agent (AGENT or AGENT:MIN)".to_owned());
        }
        Ok(Check::Judge {
            agent: agent.to_owned(),
            pass_at,
        })
    }
}

impl Check {
    /// How the check is named in events, tables and exports:
    /// `contains "Paris"`, `regex ^\d+$`, `json`.
    pub fn name(&self) -> String {
        match self {
            Check::Contains(text) => format!("contains {text:?}"),
            Check::Regex(pattern) => format!("regex {pattern}"),
            Check::Json => "json".to_owned(),
            Check::Schema(schema) => format!("schema {}", cut(&compact(schema), 60)),
            Check::Command(command) => format!("command {}", cut(command, 80)),
            Check::Judge { agent, pass_at } => format!("judge {agent} ≥ {pass_at}/{MAX_SCORE}"),
        }
    }

    /// The judge agent of a judge check.
    pub fn judge(&self) -> Option<&str> {
        match self {
            Check::Judge { agent, .. } => Some(agent),
            _ => None,
        }
    }

    /// The command of a command check.
    pub fn command(&self) -> Option<&str> {
        match self {
            Check::Command(command) => Some(command),
            _ => None,
        }
    }
}

/// Text on one line, each run of white space one space.
fn compact(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `chars` characters of `text`, `…` where cut.
fn cut(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
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
        assert_eq!(
            Check::Schema("{\n  \"type\": \"object\"\n}".into()).name(),
            "schema { \"type\": \"object\" }"
        );
        assert_eq!(
            Check::Command("cargo test".into()).name(),
            "command cargo test"
        );
        let judge = Check::Judge {
            agent: "critic".into(),
            pass_at: 7,
        };
        assert_eq!(judge.name(), "judge critic ≥ 7/10");
        assert_eq!(Check::judge_from("critic"), Ok(judge));
        assert_eq!(
            Check::judge_from("critic:9"),
            Ok(Check::Judge {
                agent: "critic".into(),
                pass_at: 9
            })
        );
        assert!(Check::judge_from("critic:11").is_err());
        assert!(Check::judge_from(":5").is_err());
        let long = Check::Command("x".repeat(100)).name();
        assert!(long.ends_with('…') && long.chars().count() == 8 + 80 + 1);
    }
}
