//! The app's one connection to the daemon's control socket, owned by one
//! task: it sends what the components ask for ([`Command`]) and folds every
//! answer and push into the store as an [`Update`]. Components never talk
//! to the daemon themselves.
//!
//! It starts the daemon when none is running (through `studio daemon
//! start`, as the CLI does), and reconnects after the daemon restarts.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::tokio::Stream as _;
use interprocess::local_socket::{GenericFilePath, ToFsName};
use protocol::approval::{RuleDecision, RuleMatch};
use protocol::codec::{FrameError, read_frame, write_frame};
use protocol::control::{
    ClientFrame, ControlRequest, ControlResponse, ModelPrice, Push, RunSpec, ServerFrame,
};
use protocol::handshake::{Hello, HelloReply, PeerRole};
use protocol::layout::Layout;
use protocol::mcp::{ImportedEntry, McpServerConfig};
use protocol::{AgentConfig, ProviderKind, Secret, SessionId, Timestamp};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use crate::state::{ImportOutcome, McpSummary, Update};

/// Pause between connection attempts.
const RETRY: Duration = Duration::from_secs(1);
/// How often the approvals inbox and the sessions' live figures (events,
/// memory) are asked again: pushes carry status changes only.
const REFRESH_EVERY: Duration = Duration::from_secs(2);
/// How often live durations move on.
const CLOCK_EVERY: Duration = Duration::from_secs(1);
/// Sessions listed at connect.
const SESSIONS_LISTED: u32 = 1000;

/// What a component asks of the daemon.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Ask a session to stop.
    Cancel(SessionId),
    /// Kill a session's processes now.
    Kill(SessionId),
    /// Answer a waiting tool call.
    Answer {
        /// Its inbox number.
        id: u64,
        /// Let it run.
        approve: bool,
        /// And the same tool for the rest of the session.
        remember: bool,
    },
    /// Show this session in the Inspector: its recorded events, then live ones.
    Inspect(SessionId),
    /// Create an agent, or replace the one of that name (the agent list is
    /// asked again after), then add `rules` for it: only once the daemon
    /// has stored the agent, so a refused agent never gets rules (nor does
    /// another agent of that name); a refusal of either is shown.
    SaveAgent {
        /// The agent.
        agent: Box<AgentConfig>,
        /// Replace an existing one (editing) rather than refuse.
        replace: bool,
        /// Approval rules for it, added after it is stored.
        rules: Vec<NewRule>,
    },
    /// Delete an agent (its sessions stay).
    RemoveAgent(String),
    /// Queue runs as one batch (`RunBatch`), at most `parallel` of them live.
    Run {
        /// What to run.
        runs: Vec<RunSpec>,
        /// Most of them live at once.
        parallel: u32,
    },
    /// Change the daemon's limit of live runs (stored by the daemon).
    SetMaxConcurrentRuns(u32),
    /// Open an interactive session with an agent, then inspect it.
    OpenChat(String),
    /// The models a provider offers (for the agent form's picker).
    ListModels(ProviderKind),
    /// The user's next message to an interactive session.
    Say {
        /// The session.
        session: SessionId,
        /// The message.
        text: String,
    },
    /// End an interactive session.
    EndChat(SessionId),
    /// Resume an ended interactive session (or attach to a live one), then inspect it.
    ResumeChat(SessionId),
    /// Store a provider's key in the daemon.
    SetKey {
        /// The provider.
        provider: ProviderKind,
        /// The key (never shown again).
        key: Secret,
    },
    /// Forget a stored key.
    RemoveKey(ProviderKind),
    /// Add an MCP server (its secrets go to the daemon and nowhere else).
    AddMcp {
        /// The server.
        server: Box<McpServerConfig>,
        /// Replace a server of that name rather than refuse.
        replace: bool,
    },
    /// Add every usable entry of a parsed `mcpServers` document, reporting
    /// each entry (unusable, refused or added) by name.
    ImportMcp {
        /// The document's entries.
        entries: Vec<ImportedEntry>,
        /// Replace servers of the same names rather than refuse.
        replace: bool,
    },
    /// Forget an MCP server.
    RemoveMcp(String),
    /// Start or reach an MCP server and list its tools.
    TestMcp(String),
    /// Add an approval rule.
    AddRule {
        /// The agent it applies to; `None` for all.
        agent: Option<String>,
        /// Which calls.
        matches: RuleMatch,
        /// What it decides.
        decision: RuleDecision,
        /// Higher first.
        priority: i32,
    },
    /// Delete an approval rule.
    RemoveRule(String),
    /// Set a model's (or prefix's) price; the new table comes back.
    SetPrice {
        /// Model name or prefix.
        model: String,
        /// USD per million tokens.
        price: ModelPrice,
    },
    /// Drop a custom price (back to the built-in one, if any).
    ResetPrice(String),
}

/// An approval rule to add for an agent being created (the daemon assigns its id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRule {
    /// Which calls.
    pub matches: RuleMatch,
    /// What it decides.
    pub decision: RuleDecision,
    /// Higher first.
    pub priority: i32,
}

/// Which daemon to talk to, and how to start it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The instance's files.
    pub layout: Layout,
    /// The `studio` executable, for `studio daemon start`.
    pub studio_bin: PathBuf,
}

/// Why a connection attempt failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("cannot reach the daemon at {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("cannot start the daemon: {0}")]
    Start(String),
    #[error("the daemon refused the connection: {0}")]
    Refused(String),
    #[error("lost the connection to the daemon: {0}")]
    Frame(#[from] FrameError),
}

/// Runs until the app closes: connects (starting the daemon if needed),
/// serves the connection, and reconnects when it breaks.
pub async fn run(
    target: Target,
    mut commands: impl futures_util::Stream<Item = Command> + Unpin,
    mut update: impl FnMut(Update),
) {
    // The session the Inspector follows, followed again after a reconnect.
    let mut inspected: Option<SessionId> = None;
    loop {
        let reason = match connect(&target).await {
            Ok(stream) => serve(stream, &mut commands, &mut update, &mut inspected).await,
            Err(err) => err.to_string(),
        };
        tracing::info!(%reason, "daemon connection down; retrying");
        update(Update::Disconnected(reason));
        tokio::time::sleep(RETRY).await;
    }
}

/// Connects and shakes hands, starting the daemon when none listens.
async fn connect(target: &Target) -> Result<Arc<Stream>, ConnectError> {
    let stream = match open_socket(&target.layout).await {
        Ok(stream) => stream,
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            start_daemon(target).await?;
            open_socket(&target.layout)
                .await
                .map_err(|source| io_error(&target.layout, source))?
        }
        Err(source) => return Err(io_error(&target.layout, source)),
    };
    let token = std::fs::read_to_string(target.layout.client_token())
        .map_err(|source| io_error(&target.layout, source))?;
    let reply = Hello::new(PeerRole::Client, token.trim().to_owned())
        .send(&mut &stream, &mut BufReader::new(&stream))
        .await?;
    match reply {
        Some(HelloReply::Accepted { .. }) => Ok(Arc::new(stream)),
        Some(HelloReply::Refused { reason }) => Err(ConnectError::Refused(reason)),
        None => Err(ConnectError::Refused("closed during the handshake".into())),
    }
}

fn io_error(layout: &Layout, source: io::Error) -> ConnectError {
    ConnectError::Io {
        path: layout.control_socket().display().to_string(),
        source,
    }
}

async fn open_socket(layout: &Layout) -> io::Result<Stream> {
    let socket = layout.control_socket();
    let name = socket.as_path().to_fs_name::<GenericFilePath>()?;
    Stream::connect(name).await
}

/// `studio daemon start`: returns once the daemon answers, or why not.
pub(crate) async fn start_daemon(target: &Target) -> Result<(), ConnectError> {
    tracing::info!("no daemon is running: starting one");
    let output = tokio::process::Command::new(&target.studio_bin)
        .arg("--data-dir")
        .arg(target.layout.root())
        .args(["daemon", "start"])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|err| ConnectError::Start(format!("{}: {err}", target.studio_bin.display())))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(ConnectError::Start(stderr.trim().to_owned()))
}

/// What a request's answer updates.
#[derive(Clone, Debug)]
enum Asked {
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
    /// Saves this agent: list the agents again, then add these rules for it.
    AgentSaved(String, Vec<NewRule>),
    /// Opens a chat: inspect it once open.
    Chat,
    /// Lists models.
    Models,
    /// Lists keys, MCP servers, rules or prices.
    Keys,
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
enum FollowUp {
    Request(Box<ControlRequest>, Asked),
    /// Several requests, in order.
    Requests(Vec<(ControlRequest, Asked)>),
    Command(Command),
}

/// Serves one connection until it breaks; returns why. `inspected` is the
/// session the Inspector followed on the last connection (followed again
/// here: the store drops the events it holds already), and is left as the
/// one it follows when this connection ends.
async fn serve(
    stream: Arc<Stream>,
    commands: &mut (impl futures_util::Stream<Item = Command> + Unpin),
    update: &mut impl FnMut(Update),
    inspected: &mut Option<SessionId>,
) -> String {
    let (frames_tx, mut frames) = mpsc::channel(256);
    let reader = tokio::spawn(read_frames(Arc::clone(&stream), frames_tx));
    let _stop_reader = AbortOnDrop(reader);
    let mut wire = Wire {
        stream,
        next_id: 1,
        asked: HashMap::new(),
        inspecting: None,
    };
    let reason = pump(&mut wire, &mut frames, commands, update, *inspected).await;
    *inspected = wire.inspecting.map(|(_, session)| session);
    // An agent saved with rules whose answer never came: its rules were
    // never sent, and it is not known whether the agent was stored.
    for asked in wire.asked.into_values() {
        if let Asked::AgentSaved(name, rules) = asked
            && !rules.is_empty()
        {
            update(Update::Failed(format!(
                "the connection broke before agent {name} was saved; its rules were not added: {}",
                rule_list(&rules)
            )));
        }
    }
    reason
}

/// Sends the opening requests (and follows `inspected` again), then
/// carries commands and frames until the connection breaks; returns why.
async fn pump(
    wire: &mut Wire,
    frames: &mut mpsc::Receiver<Result<ServerFrame, FrameError>>,
    commands: &mut (impl futures_util::Stream<Item = Command> + Unpin),
    update: &mut impl FnMut(Update),
    inspected: Option<SessionId>,
) -> String {
    for (request, asked) in [
        (ControlRequest::Status, Asked::Status),
        (ControlRequest::AgentList, Asked::Agents),
        (
            ControlRequest::SessionList {
                all: true,
                limit: SESSIONS_LISTED,
            },
            Asked::Sessions,
        ),
        (ControlRequest::WatchSessions, Asked::Stream),
        (ControlRequest::ApprovalList, Asked::Approvals),
        (ControlRequest::KeyList, Asked::Keys),
        (ControlRequest::McpList, Asked::Mcp),
        (ControlRequest::RuleList, Asked::Rules),
        (ControlRequest::PricingList, Asked::Pricing),
    ] {
        if let Err(err) = wire.send(request, asked).await {
            return err.to_string();
        }
    }
    let mut refresh = tokio::time::interval(REFRESH_EVERY);
    refresh.tick().await;
    let mut clock = tokio::time::interval(CLOCK_EVERY);
    if let Some(session) = inspected
        && let Err(err) = wire.command(Command::Inspect(session), update).await
    {
        return err.to_string();
    }
    loop {
        tokio::select! {
            _ = clock.tick() => update(Update::Tick(Timestamp::now())),
            frame = frames.recv() => match frame {
                Some(Ok(frame)) => {
                    let sent = match wire.fold(frame, update) {
                        Some(FollowUp::Request(request, asked)) => wire.send(*request, asked).await.map(|_| ()),
                        Some(FollowUp::Requests(requests)) => wire.send_all(requests).await,
                        Some(FollowUp::Command(command)) => wire.command(command, update).await,
                        None => Ok(()),
                    };
                    if let Err(err) = sent {
                        return err.to_string();
                    }
                }
                Some(Err(err)) => return err.to_string(),
                None => return "the daemon closed the connection".to_owned(),
            },
            command = commands.next() => {
                let Some(command) = command else {
                    return "the app is closing".to_owned();
                };
                if let Err(err) = wire.command(command, update).await {
                    return err.to_string();
                }
            }
            _ = refresh.tick() => {
                let sessions = ControlRequest::SessionList { all: true, limit: SESSIONS_LISTED };
                for (request, asked) in [(ControlRequest::ApprovalList, Asked::Approvals), (sessions, Asked::Sessions)] {
                    if let Err(err) = wire.send(request, asked).await {
                        return err.to_string();
                    }
                }
            }
        }
    }
}

/// The writing half of a connection and what its open requests were.
struct Wire {
    stream: Arc<Stream>,
    next_id: u64,
    asked: HashMap<u64, Asked>,
    /// The Inspector's follow: its request id and session.
    inspecting: Option<(u64, SessionId)>,
}

impl Wire {
    async fn send(&mut self, request: ControlRequest, asked: Asked) -> Result<u64, FrameError> {
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
    async fn send_all(&mut self, requests: Vec<(ControlRequest, Asked)>) -> Result<(), FrameError> {
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
    async fn command(
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
            Command::SetMaxConcurrentRuns(max_concurrent_runs) => {
                let request = ControlRequest::LimitsSet {
                    max_concurrent_runs,
                };
                return self.send(request, Asked::Status).await.map(|_| ());
            }
            Command::OpenChat(agent) => {
                let request = ControlRequest::ChatOpen { agent };
                return self.send(request, Asked::Chat).await.map(|_| ());
            }
            Command::Say { session, text } => ControlRequest::ChatSay { session, text },
            Command::EndChat(session) => ControlRequest::ChatEnd { session },
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
                };
                return self.send(request, Asked::Models).await.map(|_| ());
            }
        };
        self.send(request, Asked::Action).await.map(|_| ())
    }

    /// Turns one frame into the update it means, and says what it calls for next.
    fn fold(&mut self, frame: ServerFrame, update: &mut impl FnMut(Update)) -> Option<FollowUp> {
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
                        let (what, were) = match rules.len() {
                            1 => ("rule", "was"),
                            _ => ("rules", "were"),
                        };
                        update(Update::Failed(format!(
                            "{}; so its {what} for {name} {were} not added: {}",
                            err.message,
                            rule_list(&rules)
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
                    }
                    (Some(Asked::Mcp), Ok(ControlResponse::McpServers(servers))) => {
                        // The configs carry secrets: only names and shapes go on.
                        let servers = servers.iter().map(McpSummary::of).collect();
                        update(Update::Mcp(servers));
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
                    // The agent is stored: now its rules, each listed again
                    // after (a refusal shows in the error banner).
                    (Some(Asked::AgentSaved(name, rules)), Ok(_)) => {
                        let mut next = vec![(ControlRequest::AgentList, Asked::Agents)];
                        next.extend(rules.into_iter().map(|rule| {
                            let request = ControlRequest::RuleAdd {
                                agent: Some(name.clone()),
                                matches: rule.matches,
                                decision: rule.decision,
                                priority: rule.priority,
                            };
                            let then = Asked::Changed(Box::new(ControlRequest::RuleList));
                            (request, then)
                        }));
                        return Some(FollowUp::Requests(next));
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

/// `TOOL[:FIELD=GLOB] decision` of each rule, for messages.
fn rule_list(rules: &[NewRule]) -> String {
    rules
        .iter()
        .map(|r| format!("{} {}", r.matches, r.decision))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads frames into `tx` until the connection ends (a read is not
/// cancel-safe, so it runs on its own task rather than in a select).
async fn read_frames(stream: Arc<Stream>, tx: mpsc::Sender<Result<ServerFrame, FrameError>>) {
    let mut reader = BufReader::new(&*stream);
    let mut buf = Vec::new();
    loop {
        let frame = match read_frame::<_, ServerFrame>(&mut reader, &mut buf).await {
            Ok(Some(frame)) => Ok(frame),
            Ok(None) => return,
            Err(err) => Err(err),
        };
        let failed = frame.is_err();
        if tx.send(frame).await.is_err() || failed {
            return;
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_daemon_binary_is_a_clear_error() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|err| panic!("{err}"));
        let tmp = std::env::temp_dir().join(format!("studio-ui-test-{}", std::process::id()));
        let target = Target {
            layout: Layout::new(&tmp),
            studio_bin: PathBuf::from("/nonexistent/studio"),
        };
        let err = runtime
            .block_on(connect(&target))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with("cannot start the daemon: /nonexistent/studio"),
            "{err}"
        );
    }
}
