//! `studio rules add|list|rm`, `studio approvals`, `studio approve|deny ID`:
//! the approval rules, and one inbox for the tool calls waiting on a person.

use clap::{Args, Subcommand};
use protocol::approval::{ApprovalRule, RuleDecision, RuleMatch};
use protocol::control::{ControlRequest, ControlResponse};

use super::output::{print_json, table};
use super::{CliError, Ctx};

#[derive(Subcommand, Debug)]
pub(crate) enum RulesCommand {
    /// Add a rule: `studio rules add 'shell:command=git *' --allow`.
    Add(AddArgs),
    /// List rules in evaluation order.
    List,
    /// Remove a rule by id.
    Rm {
        /// Rule id (`r3`).
        id: String,
    },
}

#[derive(Args, Debug)]
pub(crate) struct AddArgs {
    /// Which calls: `TOOL_GLOB` or `TOOL_GLOB:FIELD=VALUE_GLOB`.
    matches: RuleMatch,
    /// Let matching calls run.
    #[arg(long, group = "decision")]
    allow: bool,
    /// Refuse matching calls.
    #[arg(long, group = "decision")]
    deny: bool,
    /// Ask a person (headless runs: their --ask policy).
    #[arg(long, group = "decision")]
    ask: bool,
    /// Only for this agent.
    #[arg(long)]
    agent: Option<String>,
    /// Higher first; at equal priority deny beats ask beats allow.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    priority: i32,
}

#[derive(Args, Debug)]
pub(crate) struct AnswerArgs {
    /// The waiting call's number (see `studio approvals`).
    id: u64,
    /// Also allow this tool for the rest of the session.
    #[arg(long)]
    always: bool,
}

pub(crate) async fn rules(cmd: RulesCommand, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    match cmd {
        RulesCommand::Add(args) => {
            let decision = match (args.allow, args.deny, args.ask) {
                (true, _, _) => RuleDecision::Allow,
                (_, true, _) => RuleDecision::Deny,
                (_, _, true) => RuleDecision::Ask,
                _ => {
                    return Err(CliError::invalid(
                        "say what the rule decides: --allow, --deny or --ask",
                    ));
                }
            };
            let request = ControlRequest::RuleAdd {
                agent: args.agent,
                matches: args.matches,
                decision,
                priority: args.priority,
            };
            let ControlResponse::Rule(rule) = client.request(request).await? else {
                return Err(CliError::msg("unexpected answer to rules add"));
            };
            if ctx.json {
                print_json(&rule_json(&rule));
            } else {
                outln!("rule {} added", rule.id);
            }
        }
        RulesCommand::List => {
            let ControlResponse::Rules(rules) = client.request(ControlRequest::RuleList).await?
            else {
                return Err(CliError::msg("unexpected answer to rules list"));
            };
            if ctx.json {
                print_json(&serde_json::Value::Array(
                    rules.iter().map(rule_json).collect(),
                ));
            } else if rules.is_empty() {
                outln!(
                    "no rules: tool calls are asked about (headless runs: denied unless --approve or --ask say otherwise)"
                );
            } else {
                let mut t = table(&["ID", "AGENT", "MATCHES", "DECISION", "PRIORITY"]);
                for r in &rules {
                    t.add_row(vec![
                        r.id.clone(),
                        r.agent.clone().unwrap_or_else(|| "*".to_owned()),
                        r.matches.to_string(),
                        r.decision.to_string(),
                        r.priority.to_string(),
                    ]);
                }
                outln!("{t}");
            }
        }
        RulesCommand::Rm { id } => {
            client
                .request(ControlRequest::RuleRemove { id: id.clone() })
                .await?;
            if !ctx.json {
                outln!("rule {id} removed");
            }
        }
    }
    Ok(())
}

fn rule_json(rule: &ApprovalRule) -> serde_json::Value {
    serde_json::json!({
        "id": rule.id,
        "agent": rule.agent,
        "matches": rule.matches.to_string(),
        "decision": rule.decision.as_str(),
        "priority": rule.priority,
    })
}

pub(crate) async fn approvals(ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let ControlResponse::Approvals(waiting) = client.request(ControlRequest::ApprovalList).await?
    else {
        return Err(CliError::msg("unexpected answer to approvals"));
    };
    if ctx.json {
        let rows: Vec<_> = waiting
            .iter()
            .map(|w| {
                serde_json::json!({
                    "id": w.id, "session": w.session.to_string(), "agent": w.agent,
                    "call_id": w.call_id, "tool": w.tool, "arguments": w.arguments,
                    "requested_at": w.requested_at.to_string(), "expires_at": w.expires_at.to_string(),
                })
            })
            .collect();
        print_json(&serde_json::Value::Array(rows));
    } else if waiting.is_empty() {
        outln!("no tool call is waiting");
    } else {
        let mut t = table(&["ID", "SESSION", "AGENT", "TOOL", "ARGUMENTS", "EXPIRES"]);
        for w in &waiting {
            t.add_row(vec![
                w.id.to_string(),
                w.session.to_string(),
                w.agent.clone(),
                w.tool.clone(),
                w.arguments.chars().take(60).collect(),
                w.expires_at.to_string(),
            ]);
        }
        outln!("{t}");
    }
    Ok(())
}

pub(crate) async fn answer(args: AnswerArgs, ctx: &Ctx, approve: bool) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let request = ControlRequest::ApprovalAnswer {
        id: args.id,
        approve,
        remember: args.always,
    };
    client.request(request).await?;
    if !ctx.json {
        outln!(
            "#{}: {}",
            args.id,
            if approve { "approved" } else { "denied" }
        );
    }
    Ok(())
}
