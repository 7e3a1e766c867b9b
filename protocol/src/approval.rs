//! Approval rules and pending approvals: how the daemon decides tool calls.
//!
//! Rules match a tool's namespaced name by glob (`shell`, `fs.*`,
//! `github.*`) and optionally one argument's value by glob (`command` of
//! `git *`, `path` of `docs/*`). The daemon evaluates them; a worker never
//! decides its own calls.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::SessionId;
use crate::time::Timestamp;

/// What a rule says about a matching call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleDecision {
    /// Run it.
    Allow,
    /// Ask a person (interactive), or the run's [`AskPolicy`] (headless).
    Ask,
    /// Refuse it.
    Deny,
}

impl RuleDecision {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleDecision::Allow => "allow",
            RuleDecision::Ask => "ask",
            RuleDecision::Deny => "deny",
        }
    }
}

impl fmt::Display for RuleDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which calls a rule applies to.
///
/// Written `TOOL_GLOB` or `TOOL_GLOB:FIELD=VALUE_GLOB`, e.g. `shell:command=git *`.
/// In globs `*` matches any run of characters (including `/`) and `?` one.
/// The daemon checks a glob over the built-in `shell` tool's `command`
/// against each simple command in it (README.md, "What a command rule can
/// and cannot promise"); any other against the argument's whole text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleMatch {
    /// Glob over the tool's namespaced name.
    pub tool: String,
    /// One argument whose text must match, if any.
    pub argument: Option<ArgumentMatch>,
}

/// A glob over one top-level argument of a tool call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgumentMatch {
    /// The argument's name (a top-level key of the arguments object).
    pub field: String,
    /// Glob its value must match (strings as they are, other values as JSON).
    pub pattern: String,
}

impl fmt::Display for RuleMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tool)?;
        if let Some(arg) = &self.argument {
            write!(f, ":{}={}", arg.field, arg.pattern)?;
        }
        Ok(())
    }
}

impl FromStr for RuleMatch {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (tool, argument) = match s.split_once(':') {
            None => (s, None),
            Some((tool, arg)) => {
                let (field, pattern) = arg
                    .split_once('=')
                    .ok_or_else(|| format!("{s:?}: expected TOOL or TOOL:FIELD=GLOB"))?;
                if field.is_empty() {
                    return Err(format!("{s:?}: the argument name is empty"));
                }
                let argument = ArgumentMatch {
                    field: field.to_owned(),
                    pattern: pattern.to_owned(),
                };
                (tool, Some(argument))
            }
        };
        if tool.is_empty() {
            return Err(format!("{s:?}: the tool glob is empty"));
        }
        Ok(RuleMatch {
            tool: tool.to_owned(),
            argument,
        })
    }
}

/// A stored approval rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRule {
    /// Assigned by the daemon (`r1`, `r2`, ...); recorded with each decision it makes.
    pub id: String,
    /// The agent it applies to; `None` for every agent.
    pub agent: Option<String>,
    /// Which calls.
    pub matches: RuleMatch,
    /// What it decides.
    pub decision: RuleDecision,
    /// Higher first; ties go to deny, then ask, then allow.
    pub priority: i32,
}

/// How a headless run resolves a call no rule allows or denies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AskPolicy {
    /// Deny at once (the default: a run never blocks on a person).
    #[default]
    Deny,
    /// Allow at once.
    Allow,
    /// Wait in the approvals inbox up to this many seconds, then deny.
    Wait {
        /// Seconds.
        secs: u32,
    },
}

impl fmt::Display for AskPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AskPolicy::Deny => f.write_str("deny"),
            AskPolicy::Allow => f.write_str("allow"),
            AskPolicy::Wait { secs } => write!(f, "wait:{secs}"),
        }
    }
}

impl FromStr for AskPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            None if s == "deny" => Ok(AskPolicy::Deny),
            None if s == "allow" => Ok(AskPolicy::Allow),
            None if s == "wait" => Ok(AskPolicy::Wait { secs: 300 }),
            Some(("wait", secs)) => secs
                .parse()
                .map(|secs| AskPolicy::Wait { secs })
                .map_err(|_| format!("invalid seconds in {s:?}")),
            _ => Err(format!(
                "unknown ask policy {s:?}: expected deny, allow or wait[:SECS]"
            )),
        }
    }
}

/// A tool call waiting for a person's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingApproval {
    /// Number to answer it by (`studio approve ID`).
    pub id: u64,
    /// The session.
    pub session: SessionId,
    /// Its agent.
    pub agent: String,
    /// The call.
    pub call_id: String,
    /// Tool name.
    pub tool: String,
    /// Arguments as JSON text.
    pub arguments: String,
    /// When it was asked.
    pub requested_at: Timestamp,
    /// When it will be denied unanswered.
    pub expires_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_matches_read_and_print_the_same() {
        for text in [
            "shell",
            "fs.*",
            "shell:command=git *",
            "fs.write:path=docs/*",
        ] {
            assert_eq!(text.parse::<RuleMatch>().unwrap().to_string(), text);
        }
        assert!("shell:command".parse::<RuleMatch>().is_err());
        assert!(":x=y".parse::<RuleMatch>().is_err());
    }

    #[test]
    fn ask_policies_parse() {
        assert_eq!("deny".parse(), Ok(AskPolicy::Deny));
        assert_eq!("wait:30".parse(), Ok(AskPolicy::Wait { secs: 30 }));
        assert!("maybe".parse::<AskPolicy>().is_err());
    }
}
