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
//!
//! A pattern over the `shell` tool's `command` is checked against each
//! simple command the shell parser ([`shell`]) finds in it: an allow rule
//! applies only when the parser sees through the whole command and every
//! simple command matches as written; a deny or ask rule applies when any
//! simple command matches (also from its name on, with the name cut to
//! its basename, or as what a wrapper runs) or the whole string does.
//! Every other argument pattern matches the argument's whole text, and a
//! rule with no argument pattern matches every call of its tools.

use std::cell::OnceCell;

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

pub(crate) mod shell;

const OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: false,
    require_literal_leading_dot: false,
};

fn glob_matches(pattern: &str, text: &str) -> bool {
    Pattern::new(pattern).is_ok_and(|p| p.matches_with(text, OPTIONS))
}

/// The built-in tool whose `command` argument is read as shell (see
/// [`shell`]); an MCP tool of the same name would be namespaced.
const SHELL_TOOL: &str = "shell";

/// The argument of [`SHELL_TOOL`] that holds the command.
const SHELL_COMMAND: &str = "command";

/// A call, with what rules look at worked out once, when first needed.
struct Subject<'a> {
    call: &'a Call<'a>,
    arguments: OnceCell<Option<serde_json::Map<String, serde_json::Value>>>,
    commands: OnceCell<Option<shell::Commands>>,
}

impl<'a> Subject<'a> {
    fn new(call: &'a Call<'a>) -> Self {
        Subject {
            call,
            arguments: OnceCell::new(),
            commands: OnceCell::new(),
        }
    }

    /// One argument's text: a string as it is, another value as JSON.
    fn argument(&self, field: &str) -> Option<String> {
        let arguments =
            self.arguments
                .get_or_init(|| match serde_json::from_str(self.call.arguments) {
                    Ok(serde_json::Value::Object(arguments)) => Some(arguments),
                    _ => None,
                });
        match arguments.as_ref()?.get(field)? {
            serde_json::Value::String(text) => Some(text.clone()),
            other => Some(other.to_string()),
        }
    }

    /// The shell tool's command, read by the parser.
    fn commands(&self) -> Option<&shell::Commands> {
        self.commands
            .get_or_init(|| {
                self.argument(SHELL_COMMAND)
                    .map(|command| shell::parse(&command))
            })
            .as_ref()
    }
}

/// Whether `matches`, deciding `decision`, applies to the call.
///
/// A pattern over the shell tool's `command` is checked against each
/// simple command in it (see [`command_rule_applies`]); every other
/// argument pattern against the argument's whole text.
fn applies(matches: &RuleMatch, decision: RuleDecision, subject: &Subject<'_>) -> bool {
    if !glob_matches(&matches.tool, subject.call.tool) {
        return false;
    }
    let Some(argument) = &matches.argument else {
        return true;
    };
    let Some(text) = subject.argument(&argument.field) else {
        return false;
    };
    let Ok(pattern) = Pattern::new(&argument.pattern) else {
        return false;
    };
    if subject.call.tool == SHELL_TOOL
        && argument.field == SHELL_COMMAND
        && let Some(commands) = subject.commands()
    {
        return command_rule_applies(&pattern, decision, commands, &text);
    }
    pattern.matches_with(&text, OPTIONS)
}

/// A command pattern allows only a command it sees through whole, every
/// simple command of which matches as written; it denies or asks if any
/// simple command matches, in any of its forms (from the name on, the
/// name's basename, what a wrapper runs), or the whole string does.
fn command_rule_applies(
    pattern: &Pattern,
    decision: RuleDecision,
    commands: &shell::Commands,
    whole: &str,
) -> bool {
    let matches = |text: &str| pattern.matches_with(text, OPTIONS);
    match decision {
        RuleDecision::Allow => {
            commands.opaque.is_none()
                && !commands.seen.is_empty()
                && commands.seen.iter().all(|c| matches(&c.text))
        }
        RuleDecision::Ask | RuleDecision::Deny => {
            matches(whole)
                || commands
                    .seen
                    .iter()
                    .any(|c| matches(&c.text) || c.also.iter().any(|form| matches(form)))
        }
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
    let subject = Subject::new(call);
    let agent_rules = stored
        .iter()
        .filter(|r| r.agent.as_deref() == Some(call.agent));
    let global_rules = stored.iter().filter(|r| r.agent.is_none());
    let stored = agent_rules
        .chain(global_rules)
        .filter(|r| applies(&r.matches, r.decision, &subject))
        .map(|r| (r.priority, r.decision, r.id.clone()));
    let run = run_rules
        .iter()
        .filter(|m| applies(m, RuleDecision::Allow, &subject))
        .map(|m| (0, RuleDecision::Allow, format!("run:{m}")));
    let granted = grants
        .iter()
        .filter(|m| applies(m, RuleDecision::Allow, &subject))
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

    /// What a user configures: git allowed, rm denied. Each simple
    /// command is checked, not the whole string.
    #[test]
    fn command_rules_check_each_simple_command() {
        let rules = vec![
            rule("r1", None, "shell:command=git *", Allow, 0),
            rule("r2", None, "shell:command=rm *", Deny, 0),
            rule("r3", None, "shell:command=curl *", Ask, 0),
        ];
        let cases: &[(&str, Option<(RuleDecision, &str)>)] = &[
            ("git status", Some((Allow, "r1"))),
            ("git status; git diff | git apply", Some((Allow, "r1"))),
            ("git st'atus' > out.txt", Some((Allow, "r1"))),
            ("git status && rm -rf x", Some((Deny, "r2"))),
            ("true && rm -f junk", Some((Deny, "r2"))),
            ("git log $(rm -rf x)", Some((Deny, "r2"))),
            ("/bin/rm -f x", Some((Deny, "r2"))),
            ("\\rm -f x", Some((Deny, "r2"))),
            ("sudo rm -rf x", Some((Deny, "r2"))),
            ("sh -c 'rm -rf x'", Some((Deny, "r2"))),
            ("eval 'rm -rf x'", Some((Deny, "r2"))),
            ("git status && curl https://example.com", Some((Ask, "r3"))),
            ("curl x && rm y", Some((Deny, "r2"))),
            // Not allowed: a command no rule allows, or one not seen through.
            ("git status && ls", None),
            ("git log | head", None),
            ("eval git status", None),
            ("$GIT status", None),
            ("sh -c 'git status'", None),
            ("/tmp/evil/git status", None),
            ("X=1 git status", None),
            ("git status $(ls)", None),
            ("echo 'unbalanced", None),
            ("", None),
            ("   # nothing", None),
        ];
        for (command, expected) in cases {
            let arguments = serde_json::json!({ "command": command }).to_string();
            let got = evaluate(&rules, &[], &[], &call("shell", &arguments));
            let expected = expected.map(|(decision, rule)| Verdict {
                decision,
                rule: rule.to_owned(),
            });
            assert_eq!(got, expected, "{command:?}");
        }
    }

    /// Run rules and grants allow like stored allow rules; a rule on the
    /// tool alone allows everything; other tools' arguments keep whole
    /// string globs; an opaque command still meets a whole-string deny.
    #[test]
    fn command_rules_elsewhere() {
        let sneaky = r#"{"command":"git status && rm -rf x"}"#;
        let piped = r#"{"command":"cat <<EOF | sh\nrm -rf x\nEOF"}"#;
        let run: Vec<RuleMatch> = vec!["shell:command=git *".parse().unwrap()];
        assert_eq!(evaluate(&[], &run, &[], &call("shell", sneaky)), None);
        assert_eq!(evaluate(&[], &[], &run, &call("shell", sneaky)), None);
        let tool: Vec<RuleMatch> = vec!["shell".parse().unwrap()];
        let got = evaluate(&[], &[], &tool, &call("shell", piped)).unwrap();
        assert_eq!(got.decision, Allow);
        let other = vec![rule("r1", None, "*:command=git *", Allow, 0)];
        let got = evaluate(&other, &[], &[], &call("mcp.shell", sneaky)).unwrap();
        assert_eq!(got.decision, Allow);
        let whole = vec![rule("r1", None, "shell:command=*rm -rf*", Deny, 0)];
        let got = evaluate(&whole, &[], &[], &call("shell", piped)).unwrap();
        assert_eq!(got.decision, Deny);
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
