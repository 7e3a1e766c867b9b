//! What each command that needs nothing of the connection's state sends:
//! its request, and what the answer is for (`Asked`).

use protocol::control::{ANSWER_EXCERPT_CHARS, ControlRequest, MAX_GROUP_PAGE};
use protocol::{ProviderKind, SessionId};

use super::export::ExportJob;
use super::inherited::inherited_page;
use super::{Command, RuleChanges};

/// What a request's answer updates.
#[derive(Clone, Debug)]
pub(super) enum Asked {
    Status,
    Agents,
    Sessions,
    Approvals,
    /// A stream: its answer is `Subscribed`, its pushes carry the data.
    Stream,
    /// The lists' watch: once it is subscribed, every list is asked for,
    /// so that no change is missed between the two.
    ListWatch,
    /// An action: only a failure shows.
    Action,
    /// Saves this agent: list the agents again, then change its rules.
    AgentSaved(String, RuleChanges),
    /// Opens a chat: inspect it once open.
    Chat,
    /// A replay to show in the Inspector once started.
    Replay,
    /// Sessions side by side.
    Compare,
    /// A group's results table.
    Results,
    /// The newest groups, for their names.
    Groups,
    /// Each agent's caps today.
    CapsToday,
    /// Where the daemon sends traces.
    Otlp,
    /// What sessions spent, summed this way.
    Spend(protocol::control::SpendBy),
    /// A run's changes applied, or refused.
    Apply(SessionId),
    /// Two runs' results diffed.
    RunDiff,
    /// A preferred run marked: read the group again.
    Prefer(SessionId),
    /// An export under way.
    Export(Box<ExportJob>),
    /// A page of what `branch` goes on from: `parent`'s events up to `at`.
    Inherited {
        branch: SessionId,
        parent: SessionId,
        at: u64,
    },
    /// What the inspected session was set up with (its system prompt).
    Setup,
    /// Lists this provider's models (a failure is its list's).
    Models(ProviderKind),
    /// Lists keys, where secrets live, MCP servers, rules or prices.
    Keys,
    Secrets,
    Mcp,
    Rules,
    Pricing,
    /// Tests this MCP server.
    McpTest(String),
    /// A view's call, by the app's ticket for it.
    AppCall(u64),
    /// Adds this server of an import.
    McpImport(String),
    /// A step of a chain: once it succeeds, the first of these is sent,
    /// carrying the rest (the last with its own `Asked`); a failure ends
    /// the chain and shows.
    Then(Vec<(ControlRequest, Asked)>),
}

/// The providers whose model lists a failed request of `asked` leaves
/// unanswered: its own, or those of the chain it stopped (a key that
/// could not be stored). Each is given the failure, so that nothing
/// waiting for one (the wizard's test of a key) waits forever.
pub(super) fn lists_left_waiting(asked: &Asked) -> Vec<ProviderKind> {
    match asked {
        Asked::Models(provider) => vec![*provider],
        Asked::Then(rest) => rest
            .iter()
            .flat_map(|(_, a)| lists_left_waiting(a))
            .collect(),
        _ => Vec::new(),
    }
}

/// `first`, then each of `rest` in turn, each only once the one before
/// succeeded.
fn chain(first: ControlRequest, rest: Vec<(ControlRequest, Asked)>) -> (ControlRequest, Asked) {
    if rest.is_empty() {
        (first, Asked::Action)
    } else {
        (first, Asked::Then(rest))
    }
}

/// The request after a chained one succeeded, and what its answer is for.
pub(super) fn next_in_chain(mut rest: Vec<(ControlRequest, Asked)>) -> (ControlRequest, Asked) {
    let (request, asked) = rest.remove(0);
    if rest.is_empty() {
        (request, asked)
    } else {
        (request, Asked::Then(rest))
    }
}

/// Rows of a comparison asked for at once.
const COMPARE_ROWS: u32 = 300;

/// The request `command` sends and what its answer is for; the command
/// back when it needs the connection's state (`Wire::command` sends it).
pub(super) fn plain(command: Command) -> Result<(ControlRequest, Asked), Command> {
    let request = match command {
        Command::Cancel(session) => ControlRequest::Cancel { session },
        Command::Kill(session) => ControlRequest::Kill { session },
        Command::Retitle { session, title } => ControlRequest::SessionRetitle {
            id: session.to_string(),
            title,
        },
        Command::Answer {
            id,
            approve,
            remember,
        } => ControlRequest::ApprovalAnswer {
            id,
            approve,
            remember,
        },
        Command::SaveAgent {
            agent,
            replace,
            rules,
        } => {
            let asked = Asked::AgentSaved(agent.name.clone(), rules);
            let request = ControlRequest::AgentCreate { agent, replace };
            return Ok((request, asked));
        }
        Command::RemoveAgent(name) => ControlRequest::AgentRemove { name },
        Command::Delete { ids, groups } => ControlRequest::Delete {
            ids: ids.iter().map(ToString::to_string).collect(),
            groups,
            dry_run: false,
        },
        Command::Run {
            runs,
            parallel,
            name,
            caps,
            checks,
        } => ControlRequest::RunBatch {
            runs,
            parallel,
            name,
            caps,
            checks,
        },
        Command::SetLimits {
            max_concurrent_runs,
            max_live_chats,
        } => {
            let request = ControlRequest::LimitsSet {
                max_concurrent_runs,
                max_live_chats,
            };
            return Ok((request, Asked::Status));
        }
        Command::ReadOtlp => return Ok((ControlRequest::OtlpStatus, Asked::Otlp)),
        Command::SetOtlp { url, headers } => {
            return Ok((ControlRequest::SetOtlp { url, headers }, Asked::Otlp));
        }
        Command::OpenChat(agent) => {
            let request = ControlRequest::ChatOpen { agent };
            return Ok((request, Asked::Chat));
        }
        Command::Say { session, text } => ControlRequest::ChatSay { session, text },
        Command::EndChat(session) => ControlRequest::ChatEnd { session },
        Command::Inherit { branch, parent, at } => {
            let request = inherited_page(parent, 0, at);
            let asked = Asked::Inherited { branch, parent, at };
            return Ok((request, asked));
        }
        Command::Replay {
            session,
            spec,
            inspect,
        } => {
            let request = ControlRequest::Replay {
                session: session.to_string(),
                spec,
            };
            let asked = if inspect {
                Asked::Replay
            } else {
                Asked::Action
            };
            return Ok((request, asked));
        }
        Command::Results(group) => {
            let request = ControlRequest::GroupGet {
                id: group.to_string(),
                from: 0,
                limit: MAX_GROUP_PAGE,
                answer_chars: ANSWER_EXCERPT_CHARS,
            };
            return Ok((request, Asked::Results));
        }
        Command::Apply(run) => {
            let request = ControlRequest::Apply {
                id: run.to_string(),
                dry_run: false,
            };
            return Ok((request, Asked::Apply(run)));
        }
        Command::DiffRuns { run, against } => {
            let request = ControlRequest::WorkspaceDiff {
                id: run.to_string(),
                against: Some(against.to_string()),
            };
            return Ok((request, Asked::RunDiff));
        }
        Command::Prefer { group, run } => {
            let request = ControlRequest::GroupPrefer {
                group: group.to_string(),
                run: run.map(|r| r.to_string()),
            };
            return Ok((request, Asked::Prefer(group)));
        }
        Command::Compare { sessions, window } => {
            let request = ControlRequest::Compare {
                sessions: sessions.iter().map(ToString::to_string).collect(),
                window,
                max_rows: COMPARE_ROWS,
            };
            return Ok((request, Asked::Compare));
        }
        Command::Export { session, format } => {
            let (request, job) = ExportJob::start(session, format);
            let asked = Asked::Export(Box::new(job));
            return Ok((request, asked));
        }
        Command::ExportGroup { group, format } => {
            let (request, job) = ExportJob::start_group(group, format);
            return Ok((request, Asked::Export(Box::new(job))));
        }
        Command::Branch {
            session,
            at_seq,
            agent,
        } => {
            let request = ControlRequest::ChatBranch {
                session: session.to_string(),
                at_seq: Some(at_seq),
                agent,
            };
            return Ok((request, Asked::Chat));
        }
        Command::ResumeChat(session) => {
            let request = ControlRequest::ChatResume {
                session: session.to_string(),
            };
            return Ok((request, Asked::Chat));
        }
        Command::SetKey { provider, key } => ControlRequest::KeySet { provider, key },
        Command::RemoveKey(provider) => ControlRequest::KeyRemove { provider },
        Command::AddMcp { server, replace } => ControlRequest::McpAdd {
            server: *server,
            replace,
        },
        Command::RemoveMcp(name) => ControlRequest::McpRemove { name },
        Command::SignOutMcp(server) => ControlRequest::McpOAuthSet {
            server,
            tokens: None,
        },
        Command::SetPluginValue {
            plugin,
            name,
            value,
        } => ControlRequest::PluginEnvSet {
            plugin,
            name,
            value,
        },
        Command::ForgetPluginValues(plugin) => {
            ControlRequest::PluginEnvRemove { plugin, name: None }
        }
        Command::AppToolCall {
            ticket,
            session,
            uri,
            server,
            tool,
            arguments,
        } => {
            let request = ControlRequest::AppToolCall {
                session,
                uri,
                server,
                tool,
                arguments,
            };
            return Ok((request, Asked::AppCall(ticket)));
        }
        Command::TestMcp(name) => {
            let request = ControlRequest::McpTest { name: name.clone() };
            return Ok((request, Asked::McpTest(name)));
        }
        Command::AddRule {
            agent,
            matches,
            decision,
            priority,
        } => ControlRequest::RuleAdd {
            agent,
            matches,
            decision,
            priority,
        },
        Command::RemoveRule(id) => ControlRequest::RuleRemove { id },
        Command::SetPrice { model, price } => {
            let request = ControlRequest::PricingSet { model, price };
            return Ok((request, Asked::Pricing));
        }
        Command::ResetPrice(model) => {
            let request = ControlRequest::PricingRemove { model };
            return Ok((request, Asked::Pricing));
        }
        Command::TestProvider {
            provider,
            key,
            base_url,
            send_key,
        } => {
            let models = ControlRequest::ModelList {
                provider: Some(provider),
                base_url,
                send_key,
            };
            return Ok(match key {
                Some(key) => chain(
                    ControlRequest::KeySet { provider, key },
                    vec![(models, Asked::Models(provider))],
                ),
                None => (models, Asked::Models(provider)),
            });
        }
        Command::CreateAndRun { agent, rules, run } => {
            let name = agent.name.clone();
            let mut rest: Vec<_> = rules
                .into_iter()
                .map(|rule| (rule.add_for(&name), Asked::Action))
                .collect();
            rest.push((ControlRequest::Run(*run), Asked::Replay));
            let create = ControlRequest::AgentCreate {
                agent,
                replace: false,
            };
            return Ok(chain(create, rest));
        }
        Command::ListModels(provider) => {
            let request = ControlRequest::ModelList {
                provider: Some(provider),
                base_url: None,
                send_key: false,
            };
            return Ok((request, Asked::Models(provider)));
        }
        command @ (Command::StartDaemon
        | Command::SignInMcp(_)
        | Command::Inspect(_)
        | Command::ImportMcp { .. }
        | Command::Spend) => {
            return Err(command);
        }
    };
    Ok((request, Asked::Action))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wizard tests a key by storing it, then listing models: a key
    /// store that fails must end the test too ("Testing…" forever else).
    #[test]
    fn a_failed_step_hands_its_failure_to_the_model_lists_it_leaves_waiting() {
        let test = Command::TestProvider {
            provider: ProviderKind::OpenAi,
            key: Some(protocol::Secret::new("sk-test")),
            base_url: None,
            send_key: false,
        };
        let (request, asked) = plain(test).unwrap_or_else(|_| panic!("a request"));
        assert!(matches!(request, ControlRequest::KeySet { .. }));
        assert_eq!(lists_left_waiting(&asked), [ProviderKind::OpenAi]);
        let listing = plain(Command::ListModels(ProviderKind::Anthropic))
            .unwrap_or_else(|_| panic!("a request"));
        assert_eq!(lists_left_waiting(&listing.1), [ProviderKind::Anthropic]);
        assert!(lists_left_waiting(&Asked::Action).is_empty());
    }
}
