//! Evaluating approval rules: which rule, if any, decides a tool call.
//!
//! The order, documented in README.md and tested as a table below:
//! 1. Every rule that matches the call is a candidate: stored rules for
//!    all agents or for this agent, the run's `--approve` rules and the
//!    session's "always allow" grants (the last two allow, at priority 0).
//! 2. The highest priority wins.
//! 3. At equal priority, deny beats ask, and ask beats allow.
//! 4. At equal priority and decision, the first in evaluation order wins
//!    (agent rules, then global rules, then run rules, then grants; stored
//!    rules by id), which only changes which id is recorded.
//! 5. No candidate: ask.

use glob::{MatchOptions, Pattern};
use protocol::approval::{ApprovalRule, RuleDecision, RuleMatch};

/// The deciding rule: its decision and the id recorded with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub(crate) decision: RuleDecision,
    pub(crate) rule: String,
}

/// A call to decide.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Call<'a> {
    pub(crate) agent: &'a str,
    pub(crate) tool: &'a str,
    /// JSON text.
    pub(crate) arguments: &'a str,
}

const OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: false,
    require_literal_leading_dot: false,
};

fn glob_matches(pattern: &str, text: &str) -> bool {
    Pattern::new(pattern).is_ok_and(|p| p.matches_with(text, OPTIONS))
}

/// Whether `matches` applies to `call`.
pub(crate) fn applies(matches: &RuleMatch, call: &Call<'_>) -> bool {
    if !glob_matches(&matches.tool, call.tool) {
        return false;
    }
    let Some(argument) = &matches.argument else {
        return true;
    };
    let Ok(serde_json::Value::Object(arguments)) = serde_json::from_str(call.arguments) else {
        return false;
    };
    match arguments.get(&argument.field) {
        Some(serde_json::Value::String(text)) => glob_matches(&argument.pattern, text),
        Some(other) => glob_matches(&argument.pattern, &other.to_string()),
        None => false,
    }
}

/// A glob that does not parse is refused when the rule is added.
pub(crate) fn check(matches: &RuleMatch) -> Result<(), String> {
    Pattern::new(&matches.tool).map_err(|e| format!("bad tool glob {:?}: {e}", matches.tool))?;
    if let Some(argument) = &matches.argument {
        Pattern::new(&argument.pattern)
            .map_err(|e| format!("bad argument glob {:?}: {e}", argument.pattern))?;
    }
    Ok(())
}

/// Severity at equal priority: deny > ask > allow.
fn severity(decision: RuleDecision) -> u8 {
    match decision {
        RuleDecision::Allow => 0,
        RuleDecision::Ask => 1,
        RuleDecision::Deny => 2,
    }
}

/// The rule that decides `call`, per the order in the module docs.
pub(crate) fn evaluate(
    stored: &[ApprovalRule],
    run_rules: &[RuleMatch],
    grants: &[RuleMatch],
    call: &Call<'_>,
) -> Option<Verdict> {
    let agent_rules = stored
        .iter()
        .filter(|r| r.agent.as_deref() == Some(call.agent));
    let global_rules = stored.iter().filter(|r| r.agent.is_none());
    let stored = agent_rules
        .chain(global_rules)
        .filter(|r| applies(&r.matches, call))
        .map(|r| (r.priority, r.decision, r.id.clone()));
    let run = run_rules
        .iter()
        .filter(|m| applies(m, call))
        .map(|m| (0, RuleDecision::Allow, format!("run:{m}")));
    let granted = grants
        .iter()
        .filter(|m| applies(m, call))
        .map(|m| (0, RuleDecision::Allow, format!("session:{m}")));
    let mut best: Option<(i32, RuleDecision, String)> = None;
    for candidate in stored.chain(run).chain(granted) {
        let better = best.as_ref().is_none_or(|(priority, decision, _)| {
            (candidate.0, severity(candidate.1)) > (*priority, severity(*decision))
        });
        if better {
            best = Some(candidate);
        }
    }
    best.map(|(_, decision, rule)| Verdict { decision, rule })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        id: &str,
        agent: Option<&str>,
        matches: &str,
        decision: RuleDecision,
        priority: i32,
    ) -> ApprovalRule {
        ApprovalRule {
            id: id.into(),
            agent: agent.map(str::to_owned),
            matches: matches.parse().unwrap(),
            decision,
            priority,
        }
    }

    fn call<'a>(tool: &'a str, arguments: &'a str) -> Call<'a> {
        Call {
            agent: "coder",
            tool,
            arguments,
        }
    }

    use RuleDecision::{Allow, Ask, Deny};

    /// A row of the table: name, stored rules, run rules, the call, the expected verdict.
    type Case<'a> = (
        &'a str,
        Vec<ApprovalRule>,
        Vec<&'a str>,
        Call<'a>,
        Option<(RuleDecision, &'a str)>,
    );

    /// The evaluation order, as a table: rules, the call, the outcome.
    #[test]
    fn rules_are_evaluated_in_the_documented_order() {
        let git = r#"{"command":"git status"}"#;
        let rm = r#"{"command":"rm -rf /"}"#;
        let doc = r#"{"path":"docs/readme.md"}"#;
        let cases: Vec<Case<'_>> = vec![
            ("no rule: ask", vec![], vec![], call("shell", git), None),
            (
                "a matching allow",
                vec![rule("r1", None, "shell", Allow, 0)],
                vec![],
                call("shell", git),
                Some((Allow, "r1")),
            ),
            (
                "tool globs",
                vec![rule("r1", None, "fs.*", Allow, 0)],
                vec![],
                call("fs.read", doc),
                Some((Allow, "r1")),
            ),
            (
                "a glob that does not match",
                vec![rule("r1", None, "fs.*", Allow, 0)],
                vec![],
                call("shell", git),
                None,
            ),
            (
                "argument globs",
                vec![rule("r1", None, "shell:command=git *", Allow, 0)],
                vec![],
                call("shell", git),
                Some((Allow, "r1")),
            ),
            (
                "an argument that does not match",
                vec![rule("r1", None, "shell:command=git *", Allow, 0)],
                vec![],
                call("shell", rm),
                None,
            ),
            (
                "deny beats allow at equal priority",
                vec![
                    rule("r1", None, "shell", Allow, 0),
                    rule("r2", None, "shell:command=rm *", Deny, 0),
                ],
                vec![],
                call("shell", rm),
                Some((Deny, "r2")),
            ),
            (
                "ask beats allow at equal priority",
                vec![
                    rule("r1", None, "shell", Allow, 0),
                    rule("r2", None, "shell", Ask, 0),
                ],
                vec![],
                call("shell", git),
                Some((Ask, "r2")),
            ),
            (
                "higher priority beats deny",
                vec![
                    rule("r1", None, "shell", Deny, 0),
                    rule("r2", None, "shell:command=git *", Allow, 10),
                ],
                vec![],
                call("shell", git),
                Some((Allow, "r2")),
            ),
            (
                "agent rules apply to their agent only",
                vec![rule("r1", Some("other"), "shell", Allow, 0)],
                vec![],
                call("shell", git),
                None,
            ),
            (
                "agent rules come before global ones at a tie",
                vec![
                    rule("r1", None, "shell", Allow, 0),
                    rule("r2", Some("coder"), "shell", Allow, 0),
                ],
                vec![],
                call("shell", git),
                Some((Allow, "r2")),
            ),
            (
                "a run's --approve allows",
                vec![],
                vec!["shell:command=git *"],
                call("shell", git),
                Some((Allow, "run:shell:command=git *")),
            ),
            (
                "a run's --approve cannot beat a deny",
                vec![rule("r1", None, "shell", Deny, 0)],
                vec!["shell"],
                call("shell", git),
                Some((Deny, "r1")),
            ),
            (
                "unparsable arguments never match argument globs",
                vec![rule("r1", None, "shell:command=*", Allow, 0)],
                vec![],
                call("shell", "not json"),
                None,
            ),
        ];
        for (name, rules, run, call, expected) in cases {
            let run: Vec<RuleMatch> = run.iter().map(|m| m.parse().unwrap()).collect();
            let got = evaluate(&rules, &run, &[], &call);
            let expected = expected.map(|(decision, rule)| Verdict {
                decision,
                rule: rule.to_owned(),
            });
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn session_grants_allow_like_run_rules() {
        let grant: RuleMatch = "fs.write".parse().unwrap();
        let got = evaluate(&[], &[], &[grant], &call("fs.write", "{}")).unwrap();
        assert_eq!(
            (got.decision, got.rule.as_str()),
            (Allow, "session:fs.write")
        );
    }

    #[test]
    fn bad_globs_are_refused() {
        assert!(check(&"shell[".parse().unwrap()).is_err());
        assert!(check(&"shell:command=[".parse().unwrap()).is_err());
        assert!(check(&"shell:command=git *".parse().unwrap()).is_ok());
    }
}
