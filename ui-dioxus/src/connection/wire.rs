//! The app's side of its connection: what each open request was asked
//! for ([`Asked`]), how a [`Command`] becomes requests, and how each answer
//! or push becomes an [`Update`] and what it calls for next. Requests go
//! through the shared [`Client`] (`studio_client`), each on its own task;
//! its answer, or each push of a stream, comes back to the connection's
//! one task as a [`ServerFrame`] under the id the wire gave it.

use std::collections::HashMap;

use protocol::SessionId;
use protocol::control::{
    ControlRequest, ControlResponse, ListKind, Push, ServerFrame, SessionSummary, SpendBy,
};
use protocol::event::EventKind;
use studio_client::{Client, ClientError};
use tokio::sync::mpsc;

use super::Command;
use super::export::ExportStep;
use super::inherited::inherited_page;
use super::requests::{self, Asked};
use crate::state::{ImportOutcome, McpSummary, Update};

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

/// What lists `list` again, as the app asks for it at connect.
fn relist(list: ListKind) -> (ControlRequest, Asked) {
    match list {
        ListKind::Agents => (ControlRequest::AgentList, Asked::Agents),
        // Each also asks where secrets live once answered.
        ListKind::Keys => (ControlRequest::KeyList, Asked::Keys),
        ListKind::McpServers => (ControlRequest::McpList, Asked::Mcp),
        ListKind::Rules => (ControlRequest::RuleList, Asked::Rules),
        ListKind::Prices => (ControlRequest::PricingList, Asked::Pricing),
        ListKind::Limits => (ControlRequest::Status, Asked::Status),
    }
}

/// What comes back to the connection's task: a request's answer or a
/// stream's push as a frame, or why the connection is of no more use.
pub(super) type Incoming = Result<ServerFrame, ClientError>;

/// The requests of one connection and what each was asked for.
pub(super) struct Wire {
    pub(super) client: Client,
    /// Where answers and pushes come back to.
    pub(super) incoming: mpsc::Sender<Incoming>,
    pub(super) next_id: u64,
    pub(super) asked: HashMap<u64, Asked>,
    /// The Inspector's follow: its request id and session.
    pub(super) inspecting: Option<(u64, SessionId)>,
    /// The open streams' forwarding tasks, by id; dropping one ends its
    /// subscription.
    pub(super) streams: HashMap<u64, super::AbortOnDrop>,
    /// Groups whose summary was asked for: a run of another one asks
    /// for the groups again.
    pub(super) known_groups: std::collections::HashSet<SessionId>,
}

impl Wire {
    /// A wire over `client`, sending what comes back to `incoming`.
    pub(super) fn new(client: Client, incoming: mpsc::Sender<Incoming>) -> Wire {
        Wire {
            client,
            incoming,
            next_id: 1,
            asked: HashMap::new(),
            inspecting: None,
            streams: HashMap::new(),
            known_groups: std::collections::HashSet::new(),
        }
    }

    /// The groups asked for again when `runs` name one not known yet
    /// (their names and totals are shown by the Runs page).
    fn groups_of(&mut self, runs: &[SessionSummary]) -> Option<FollowUp> {
        let mut new = false;
        for group in runs.iter().filter_map(|run| run.batch) {
            new |= self.known_groups.insert(group);
        }
        new.then(|| {
            FollowUp::Request(
                Box::new(ControlRequest::GroupList {
                    limit: GROUPS_LISTED,
                }),
                Asked::Groups,
            )
        })
    }

    /// Sends `request`, whose answer (and pushes, for a stream) will come
    /// back as frames under the returned id.
    pub(super) async fn send(
        &mut self,
        request: ControlRequest,
        asked: Asked,
    ) -> Result<u64, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        self.asked.insert(id, asked);
        let (client, incoming) = (self.client.clone(), self.incoming.clone());
        if matches!(
            request,
            ControlRequest::Follow { .. }
                | ControlRequest::WatchSessions
                | ControlRequest::WatchLists
        ) {
            let task = tokio::spawn(stream(client, request, id, incoming));
            self.streams.insert(id, super::AbortOnDrop(task));
        } else {
            tokio::spawn(async move {
                let frame = match client.request(request).await {
                    Ok(response) => Ok(ServerFrame::Response {
                        id,
                        result: Ok(response),
                    }),
                    Err(ClientError::Daemon(err)) => Ok(ServerFrame::Response {
                        id,
                        result: Err(err),
                    }),
                    Err(err) => Err(err),
                };
                let _ = incoming.send(frame).await;
            });
        }
        Ok(id)
    }

    /// Sends each request in order.
    pub(super) async fn send_all(
        &mut self,
        requests: Vec<(ControlRequest, Asked)>,
    ) -> Result<(), ClientError> {
        for (request, asked) in requests {
            self.send(request, asked).await?;
        }
        Ok(())
    }

    /// Sends what `command` asks for; `update` hears what it settles at
    /// once (an import's unusable entries).
    pub(super) async fn command(
        &mut self,
        command: Command,
        update: &mut impl FnMut(Update),
    ) -> Result<(), ClientError> {
        let command = match requests::plain(command) {
            Ok((request, asked)) => return self.send(request, asked).await.map(|_| ()),
            Err(command) => command,
        };
        match command {
            // Already running: it answered. A sign-in is run by `pump`.
            Command::StartDaemon | Command::SignInMcp(_) => Ok(()),
            Command::Inspect(session) => {
                if let Some((request_id, _)) = self.inspecting.take() {
                    // Its task ends, and with it the subscription.
                    self.streams.remove(&request_id);
                    self.asked.remove(&request_id);
                }
                let request = ControlRequest::Follow {
                    session,
                    after_seq: 0,
                };
                let id = self.send(request, Asked::Stream).await?;
                self.inspecting = Some((id, session));
                let setup = ControlRequest::SessionSetup {
                    id: session.to_string(),
                };
                self.send(setup, Asked::Setup).await.map(|_| ())
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
                Ok(())
            }
            Command::Spend => {
                let today = ControlRequest::CapsToday { agents: Vec::new() };
                self.send(today, Asked::CapsToday).await?;
                for by in [SpendBy::Agent, SpendBy::Model, SpendBy::Day] {
                    let request = ControlRequest::Spend { by, since: None };
                    self.send(request, Asked::Spend(by)).await?;
                }
                Ok(())
            }
            // Every other command is plain.
            _ => Ok(()),
        }
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
                    // The view is told why, as the answer to its request.
                    (Some(Asked::AppCall(ticket)), Err(err)) => {
                        update(Update::AppCall(ticket, Err(err.message)));
                    }
                    (
                        Some(Asked::AppCall(ticket)),
                        Ok(ControlResponse::AppCallStarted { call_id }),
                    ) => update(Update::AppCall(ticket, Ok(call_id))),
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
                    // The chain goes on; a failure falls through to show.
                    (Some(Asked::Then(rest)), Ok(_)) => {
                        let (request, asked) = super::requests::next_in_chain(rest);
                        return Some(FollowUp::Request(Box::new(request), asked));
                    }
                    // A session whose setup does not decode still inspects.
                    (Some(Asked::Setup), Err(_)) => {}
                    // Shown beside the run, with what git said.
                    (Some(Asked::Apply(run)), Err(err)) => {
                        update(Update::Applied(run, Err(err.message)));
                    }
                    (Some(Asked::RunDiff), Err(err)) => update(Update::RunDiff(Err(err.message))),
                    (Some(Asked::RunDiff), Ok(ControlResponse::Diff(diff))) => {
                        update(Update::RunDiff(Ok(diff)));
                    }
                    // The lists it leaves waiting say why, then it shows.
                    (Some(asked), Err(err)) => {
                        for provider in requests::lists_left_waiting(&asked) {
                            update(Update::Models(provider, Err(err.message.clone())));
                        }
                        update(Update::Failed(err.message));
                    }
                    (None, Err(err)) => update(Update::Failed(err.message)),
                    (Some(Asked::Apply(run)), Ok(ControlResponse::Applied(report))) => {
                        let said =
                            format!("{} applied to {}", report.changes.short(), report.origin);
                        update(Update::Applied(run, Ok(said)));
                    }
                    (Some(Asked::Status), Ok(ControlResponse::Status(status))) => {
                        update(Update::Connected(status));
                    }
                    (Some(Asked::Agents), Ok(ControlResponse::Agents(agents))) => {
                        update(Update::Agents(agents));
                    }
                    (Some(Asked::Setup), Ok(ControlResponse::Setup(setup))) => {
                        update(Update::Setup(setup));
                    }
                    (Some(Asked::Sessions), Ok(ControlResponse::Sessions(list))) => {
                        let follow = self.groups_of(&list);
                        update(Update::Sessions(list));
                        return follow;
                    }
                    (Some(Asked::Groups), Ok(ControlResponse::Groups(groups))) => {
                        update(Update::Groups(groups));
                    }
                    (Some(Asked::CapsToday), Ok(ControlResponse::CapsToday(today))) => {
                        update(Update::CapsToday(today));
                    }
                    (Some(Asked::Otlp), Ok(ControlResponse::Otlp(otlp))) => {
                        update(Update::Otlp(otlp));
                    }
                    (Some(Asked::Spend(by)), Ok(ControlResponse::Spend(rows))) => {
                        update(Update::Spend(by, rows));
                    }
                    (Some(Asked::Approvals), Ok(ControlResponse::Approvals(list))) => {
                        update(Update::Approvals(list));
                    }
                    (Some(Asked::ListWatch), Ok(_)) => {
                        self.asked.insert(id, Asked::Stream);
                        return Some(FollowUp::Requests(ListKind::ALL.map(relist).to_vec()));
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
                    }
                    // The agent is stored: now its rule changes (a refusal
                    // shows in the error banner; the lists come back as
                    // pushes).
                    (Some(Asked::AgentSaved(name, rules)), Ok(_)) => {
                        let mut next: Vec<_> = rules
                            .remove
                            .into_iter()
                            .map(|id| (ControlRequest::RuleRemove { id }, Asked::Action))
                            .collect();
                        next.extend(
                            rules
                                .add
                                .into_iter()
                                .map(|rule| (rule.add_for(&name), Asked::Action)),
                        );
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
                    (Some(Asked::Compare), Ok(ControlResponse::Compared(comparison))) => {
                        update(Update::Compared(comparison));
                    }
                    (Some(Asked::Results), Ok(ControlResponse::Group(group))) => {
                        update(Update::Results(group));
                    }
                    (Some(Asked::Prefer(group)), Ok(_)) => {
                        return Some(FollowUp::Command(Command::Results(group)));
                    }
                    (Some(Asked::Export(job)), Ok(response)) => match job.take(response) {
                        Ok(ExportStep::More(request, job)) => {
                            return Some(FollowUp::Request(request, Asked::Export(job)));
                        }
                        Ok(ExportStep::Done(exported)) => {
                            update(Update::Exported(Box::new(exported)));
                        }
                        Err(message) => update(Update::Failed(message)),
                    },
                    // A replay that goes on as a chat opens like one.
                    (Some(Asked::Replay), Ok(ControlResponse::ChatOpened { session, .. })) => {
                        update(Update::Opened(session));
                        return Some(FollowUp::Command(Command::Inspect(session)));
                    }
                    (Some(Asked::Replay), Ok(ControlResponse::RunAccepted { session })) => {
                        update(Update::Replayed(session));
                        return Some(FollowUp::Command(Command::Inspect(session)));
                    }
                    (Some(Asked::Chat), Ok(ControlResponse::ChatOpened { session, .. })) => {
                        update(Update::Opened(session));
                        return Some(FollowUp::Command(Command::Inspect(session)));
                    }
                    (Some(Asked::Models(_)), Ok(ControlResponse::Models(lists))) => {
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
                    let follow = self.groups_of(std::slice::from_ref(&summary));
                    update(Update::SessionChanged(Box::new(summary)));
                    follow
                }
                Push::SessionsRemoved(sessions) => {
                    update(Update::Removed(sessions));
                    None
                }
                // Whoever changed it (this app, another window, the CLI).
                Push::ListChanged(list) => Some(FollowUp::Requests(vec![relist(list)])),
                Push::Event(event) if self.inspecting.is_some_and(|(open, _)| open == id) => {
                    update(Update::Events(event.session, vec![event]));
                    None
                }
                Push::End => {
                    self.asked.remove(&id);
                    self.streams.remove(&id);
                    None
                }
                _ => None,
            },
        }
    }
}

/// Opens the stream `request` (as request `id`) and forwards its answer
/// and pushes to `incoming`. The daemon's watch never ends while it is up,
/// so its end means the connection went down.
async fn stream(
    client: Client,
    request: ControlRequest,
    id: u64,
    incoming: mpsc::Sender<Incoming>,
) {
    let watch = matches!(
        request,
        ControlRequest::WatchSessions | ControlRequest::WatchLists
    );
    let mut subscription = match client.subscribe(request).await {
        Ok(subscription) => subscription,
        Err(ClientError::Daemon(err)) => {
            let _ = incoming
                .send(Ok(ServerFrame::Response {
                    id,
                    result: Err(err),
                }))
                .await;
            return;
        }
        Err(err) => {
            let _ = incoming.send(Err(err)).await;
            return;
        }
    };
    let subscribed = ServerFrame::Response {
        id,
        result: Ok(ControlResponse::Subscribed),
    };
    if incoming.send(Ok(subscribed)).await.is_err() {
        return;
    }
    while let Some(push) = subscription.next().await {
        if incoming
            .send(Ok(ServerFrame::Push { id, push }))
            .await
            .is_err()
        {
            return;
        }
    }
    if watch {
        let _ = incoming.send(Err(ClientError::Disconnected)).await;
    }
}

/// Most groups the Runs page knows by name: the newest.
const GROUPS_LISTED: u32 = 200;
