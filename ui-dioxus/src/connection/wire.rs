//! The writing half of the app's connection: what each open request was
//! asked for ([`Asked`]), how a [`Command`] becomes requests, and how each
//! answer or push becomes an [`Update`] and what it calls for next.

use std::collections::HashMap;
use std::sync::Arc;

use interprocess::local_socket::tokio::Stream;
use protocol::SessionId;
use protocol::codec::{FrameError, write_frame};
use protocol::control::{ClientFrame, ControlRequest, ControlResponse, Push, ServerFrame};
use protocol::event::EventKind;
use tokio::io::AsyncWriteExt;

use super::{Command, RuleChanges};
use crate::state::{ImportOutcome, McpSummary, Update};

/// What a request's answer updates.
#[derive(Clone, Debug)]
pub(super) enum Asked {
    Status,
    Agents,
    Sessions,
    Approvals,
    /// A stream: its answer is `Subscribed`, its pushes carry the data.
    Stream,
    /// An action: only a failure shows.
    Action,
    /// Changes the agents: list them again after.
    AgentsChanged,
    /// Saves this agent: list the agents again, then change its rules.
    AgentSaved(String, RuleChanges),
    /// Opens a chat: inspect it once open.
    Chat,
    /// A page of what `branch` goes on from: `parent`'s events up to `at`.
    Inherited {
        branch: SessionId,
        parent: SessionId,
        at: u64,
    },
    /// Lists models.
    Models,
    /// Lists keys, where secrets live, MCP servers, rules or prices.
    Keys,
    Secrets,
    Mcp,
    Rules,
    Pricing,
    /// Changes one of those: list it again after.
    Changed(Box<ControlRequest>),
    /// Tests this MCP server.
    McpTest(String),
    /// Adds this server of an import.
    McpImport(String),
}

/// What an answer calls for next.
pub(super) enum FollowUp {
    Request(Box<ControlRequest>, Asked),
    /// Several requests, in order.
    Requests(Vec<(ControlRequest, Asked)>),
    Command(Command),
}

/// Asks where each stored secret lives (after keys or MCP servers were
/// listed: a change to either may have moved one).
fn where_secrets_live() -> FollowUp {
    FollowUp::Request(Box::new(ControlRequest::SecretList), Asked::Secrets)
}

/// The writing half of a connection and what its open requests were.
pub(super) struct Wire {
    pub(super) stream: Arc<Stream>,
    pub(super) next_id: u64,
    pub(super) asked: HashMap<u64, Asked>,
    /// The Inspector's follow: its request id and session.
    pub(super) inspecting: Option<(u64, SessionId)>,
}

impl Wire {
    pub(super) async fn send(
        &mut self,
        request: ControlRequest,
        asked: Asked,
    ) -> Result<u64, FrameError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut writer = &*self.stream;
        write_frame(&mut writer, &ClientFrame { id, request }).await?;
        writer.flush().await?;
        // Answers are folded by this same task, so none can come before this.
        self.asked.insert(id, asked);
        Ok(id)
    }

    /// Sends each request in order.
    pub(super) async fn send_all(
        &mut self,
        requests: Vec<(ControlRequest, Asked)>,
    ) -> Result<(), FrameError> {
        for (request, asked) in requests {
            self.send(request, asked).await?;
        }
        Ok(())
    }

    /// Sends `request`, and `then` once it succeeded.
    async fn changed(
        &mut self,
        request: ControlRequest,
        then: ControlRequest,
    ) -> Result<(), FrameError> {
        self.send(request, Asked::Changed(Box::new(then)))
            .await
            .map(|_| ())
    }

    /// Sends what `command` asks; `update` hears what it settles at once
    /// (an import's unusable entries).
    /// Sends what `command` asks for. A request too large for one frame
    /// (say, a huge batch) is refused here, before a byte is written, and
    /// shown as an error; the connection stays up.
    pub(super) async fn command(
        &mut self,
        command: Command,
        update: &mut impl FnMut(Update),
    ) -> Result<(), FrameError> {
        match self.send_command(command, update).await {
            Err(FrameError::TooLarge { len, max }) => {
                update(Update::Failed(format!(
                    "not sent: the request takes {len} bytes, more than the {max} one message may hold"
                )));
                Ok(())
            }
            other => other,
        }
    }

    async fn send_command(
        &mut self,
        command: Command,
        update: &mut impl FnMut(Update),
    ) -> Result<(), FrameError> {
        let request = match command {
            Command::Cancel(session) => ControlRequest::Cancel { session },
            Command::Kill(session) => ControlRequest::Kill { session },
            Command::Answer {
                id,
                approve,
                remember,
            } => ControlRequest::ApprovalAnswer {
                id,
                approve,
                remember,
            },
            Command::Inspect(session) => {
                if let Some((request_id, _)) = self.inspecting.take() {
                    self.send(ControlRequest::Unsubscribe { request_id }, Asked::Action)
                        .await?;
                }
                let request = ControlRequest::Follow {
                    session,
                    after_seq: 0,
                };
                let id = self.send(request, Asked::Stream).await?;
                self.inspecting = Some((id, session));
                return Ok(());
            }
            Command::SaveAgent {
                agent,
                replace,
                rules,
            } => {
                let asked = Asked::AgentSaved(agent.name.clone(), rules);
                let request = ControlRequest::AgentCreate {
                    agent: *agent,
                    replace,
                };
                return self.send(request, asked).await.map(|_| ());
            }
            Command::RemoveAgent(name) => {
                let request = ControlRequest::AgentRemove { name };
                return self.send(request, Asked::AgentsChanged).await.map(|_| ());
            }
            Command::Run { runs, parallel } => ControlRequest::RunBatch { runs, parallel },
            Command::SetLimits {
                max_concurrent_runs,
                max_live_chats,
            } => {
                let request = ControlRequest::LimitsSet {
                    max_concurrent_runs,
                    max_live_chats,
                };
                return self.send(request, Asked::Status).await.map(|_| ());
            }
            Command::OpenChat(agent) => {
                let request = ControlRequest::ChatOpen { agent };
                return self.send(request, Asked::Chat).await.map(|_| ());
            }
            Command::Say { session, text } => ControlRequest::ChatSay { session, text },
            Command::EndChat(session) => ControlRequest::ChatEnd { session },
            Command::Inherit { branch, parent, at } => {
                let request = inherited_page(parent, 0, at);
                let asked = Asked::Inherited { branch, parent, at };
                return self.send(request, asked).await.map(|_| ());
            }
            Command::Replay(session) => ControlRequest::RunReplay {
                session: session.to_string(),
                agent: None,
            },
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
                return self.send(request, Asked::Chat).await.map(|_| ());
            }
            Command::ResumeChat(session) => {
                let request = ControlRequest::ChatResume {
                    session: session.to_string(),
                };
                return self.send(request, Asked::Chat).await.map(|_| ());
            }
            Command::SetKey { provider, key } => {
                let request = ControlRequest::KeySet { provider, key };
                return self.changed(request, ControlRequest::KeyList).await;
            }
            Command::RemoveKey(provider) => {
                let request = ControlRequest::KeyRemove { provider };
                return self.changed(request, ControlRequest::KeyList).await;
            }
            Command::AddMcp { server, replace } => {
                let request = ControlRequest::McpAdd {
                    server: *server,
                    replace,
                };
                return self.changed(request, ControlRequest::McpList).await;
            }
            Command::ImportMcp { entries, replace } => {
                let report = entries
                    .iter()
                    .map(|(name, server)| {
                        let outcome = match server {
                            Ok(_) => ImportOutcome::Pending,
                            Err(why) => ImportOutcome::Skipped(why.clone()),
                        };
                        (name.clone(), outcome)
                    })
                    .collect();
                update(Update::McpImportStarted(report));
                for (name, server) in entries {
                    if let Ok(server) = server {
                        let request = ControlRequest::McpAdd { server, replace };
                        self.send(request, Asked::McpImport(name)).await?;
                    }
                }
                return Ok(());
            }
            Command::RemoveMcp(name) => {
                let request = ControlRequest::McpRemove { name };
                return self.changed(request, ControlRequest::McpList).await;
            }
            Command::TestMcp(name) => {
                let request = ControlRequest::McpTest { name: name.clone() };
                return self.send(request, Asked::McpTest(name)).await.map(|_| ());
            }
            Command::AddRule {
                agent,
                matches,
                decision,
                priority,
            } => {
                let request = ControlRequest::RuleAdd {
                    agent,
                    matches,
                    decision,
                    priority,
                };
                return self.changed(request, ControlRequest::RuleList).await;
            }
            Command::RemoveRule(id) => {
                let request = ControlRequest::RuleRemove { id };
                return self.changed(request, ControlRequest::RuleList).await;
            }
            Command::SetPrice { model, price } => {
                let request = ControlRequest::PricingSet { model, price };
                return self.send(request, Asked::Pricing).await.map(|_| ());
            }
            Command::ResetPrice(model) => {
                let request = ControlRequest::PricingRemove { model };
                return self.send(request, Asked::Pricing).await.map(|_| ());
            }
            Command::ListModels(provider) => {
                let request = ControlRequest::ModelList {
                    provider: Some(provider),
                    base_url: None,
                    send_key: false,
                };
                return self.send(request, Asked::Models).await.map(|_| ());
            }
        };
        self.send(request, Asked::Action).await.map(|_| ())
    }

    /// Turns one frame into the update it means, and says what it calls for next.
    pub(super) fn fold(
        &mut self,
        frame: ServerFrame,
        update: &mut impl FnMut(Update),
    ) -> Option<FollowUp> {
        match frame {
            ServerFrame::Response { id, result } => {
                let asked = self.asked.remove(&id);
                match (asked, result) {
                    (Some(Asked::McpTest(name)), Err(err)) => {
                        update(Update::McpTested(name, Err(err.message)));
                    }
                    // Shown by name in the import's report.
                    (Some(Asked::McpImport(name)), Err(err)) => {
                        update(Update::McpImported(name, Err(err.message)));
                    }
                    // Its rules are not sent: say so rather than drop them.
                    (Some(Asked::AgentSaved(name, rules)), Err(err)) if !rules.is_empty() => {
                        update(Update::Failed(format!(
                            "{}; so {}",
                            err.message,
                            rules.not_made(&name)
                        )));
                    }
                    (_, Err(err)) => update(Update::Failed(err.message)),
                    (Some(Asked::Status), Ok(ControlResponse::Status(status))) => {
                        update(Update::Connected(status));
                    }
                    (Some(Asked::Agents), Ok(ControlResponse::Agents(agents))) => {
                        update(Update::Agents(agents));
                    }
                    (Some(Asked::Sessions), Ok(ControlResponse::Sessions(list))) => {
                        update(Update::Sessions(list));
                    }
                    (Some(Asked::Approvals), Ok(ControlResponse::Approvals(list))) => {
                        update(Update::Approvals(list));
                    }
                    (Some(Asked::Stream), Ok(_)) => {
                        // Pushes follow under the same id.
                        self.asked.insert(id, Asked::Stream);
                    }
                    (Some(Asked::Keys), Ok(ControlResponse::Keys(keys))) => {
                        update(Update::Keys(keys));
                        return Some(where_secrets_live());
                    }
                    (Some(Asked::Secrets), Ok(ControlResponse::Secrets(secrets))) => {
                        update(Update::Secrets(secrets));
                    }
                    (Some(Asked::Mcp), Ok(ControlResponse::McpServers(servers))) => {
                        // The configs carry secrets: only names and shapes go on.
                        let servers = servers.iter().map(McpSummary::of).collect();
                        update(Update::Mcp(servers));
                        return Some(where_secrets_live());
                    }
                    (Some(Asked::Rules), Ok(ControlResponse::Rules(rules))) => {
                        update(Update::Rules(rules));
                    }
                    (Some(Asked::Pricing), Ok(ControlResponse::Pricing(table))) => {
                        update(Update::Pricing(table));
                    }
                    (Some(Asked::McpTest(name)), Ok(ControlResponse::McpTools(tools))) => {
                        update(Update::McpTested(name, Ok(tools)));
                    }
                    (Some(Asked::McpImport(name)), Ok(_)) => {
                        update(Update::McpImported(name, Ok(())));
                        return Some(FollowUp::Request(
                            Box::new(ControlRequest::McpList),
                            Asked::Mcp,
                        ));
                    }
                    (Some(Asked::Changed(then)), Ok(_)) => {
                        let asked = match *then {
                            ControlRequest::KeyList => Asked::Keys,
                            ControlRequest::McpList => Asked::Mcp,
                            ControlRequest::RuleList => Asked::Rules,
                            _ => Asked::Action,
                        };
                        return Some(FollowUp::Request(then, asked));
                    }
                    (Some(Asked::AgentsChanged), Ok(_)) => {
                        return Some(FollowUp::Request(
                            Box::new(ControlRequest::AgentList),
                            Asked::Agents,
                        ));
                    }
                    // The agent is stored: now its rule changes, the rules
                    // listed again after each (a refusal shows in the error
                    // banner).
                    (Some(Asked::AgentSaved(name, rules)), Ok(_)) => {
                        let listed = || Asked::Changed(Box::new(ControlRequest::RuleList));
                        let mut next = vec![(ControlRequest::AgentList, Asked::Agents)];
                        next.extend(
                            rules
                                .remove
                                .into_iter()
                                .map(|id| (ControlRequest::RuleRemove { id }, listed())),
                        );
                        next.extend(rules.add.into_iter().map(|rule| {
                            let request = ControlRequest::RuleAdd {
                                agent: Some(name.clone()),
                                matches: rule.matches,
                                decision: rule.decision,
                                priority: rule.priority,
                            };
                            (request, listed())
                        }));
                        return Some(FollowUp::Requests(next));
                    }
                    (
                        Some(Asked::Inherited { branch, parent, at }),
                        Ok(ControlResponse::Events(page)),
                    ) => {
                        let last = page.last().map(|e| e.seq);
                        // Only what was said is shown: the rest is not kept.
                        let said: Vec<_> = page
                            .into_iter()
                            .filter(|e| e.seq <= at)
                            .filter(|e| {
                                matches!(
                                    e.kind,
                                    EventKind::MessageUser { .. }
                                        | EventKind::MessageAssistant { .. }
                                )
                            })
                            .collect();
                        update(Update::Inherited(branch, said));
                        if let Some(last) = last.filter(|last| *last < at) {
                            let asked = Asked::Inherited { branch, parent, at };
                            return Some(FollowUp::Request(
                                Box::new(inherited_page(parent, last, at)),
                                asked,
                            ));
                        }
                    }
                    (Some(Asked::Chat), Ok(ControlResponse::ChatOpened { session, .. })) => {
                        update(Update::Opened(session));
                        return Some(FollowUp::Command(Command::Inspect(session)));
                    }
                    (Some(Asked::Models), Ok(ControlResponse::Models(lists))) => {
                        for list in lists {
                            let models = match list.error {
                                Some(error) => Err(error),
                                None => Ok(list.models),
                            };
                            update(Update::Models(list.provider, models));
                        }
                    }
                    _ => {}
                }
                None
            }
            ServerFrame::Push { id, push } => match push {
                Push::SessionChanged(summary) => {
                    update(Update::SessionChanged(summary));
                    None
                }
                Push::Event(event) if self.inspecting.is_some_and(|(open, _)| open == id) => {
                    update(Update::Events(event.session, vec![event]));
                    None
                }
                Push::End => {
                    self.asked.remove(&id);
                    None
                }
                _ => None,
            },
        }
    }
}

/// Events asked for at a time when loading what a branch goes on from.
const INHERITED_PAGE: u64 = 1000;

/// The next page of `parent`'s events after `after`, up to `at`.
fn inherited_page(parent: SessionId, after: u64, at: u64) -> ControlRequest {
    ControlRequest::Events {
        session: parent,
        after_seq: after,
        limit: u32::try_from(at.saturating_sub(after).min(INHERITED_PAGE)).unwrap_or(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_branch_goes_on_from_is_asked_for_a_page_at_a_time_up_to_its_point() {
        let parent = SessionId::new();
        let limit = |after, at| match inherited_page(parent, after, at) {
            ControlRequest::Events {
                session,
                after_seq,
                limit,
            } => {
                assert_eq!((session, after_seq), (parent, after));
                limit
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(limit(0, 12), 12);
        assert_eq!(limit(0, 2500), 1000);
        assert_eq!(limit(2000, 2500), 500);
    }
}
