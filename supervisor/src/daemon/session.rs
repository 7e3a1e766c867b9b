//! The Session actor: one per live session, owning its worker process.
//!
//! It spawns the worker (held in its own namespaces and cgroup, see
//! `containment`; parent-death signal; token on stdin), wires up its
//! socket once the listener has checked the worker's handshake, enforces
//! the budgets, and turns every way the worker can end into exactly one
//! terminal event. The terminal event is recorded only when the process
//! has exited, every process of the session is gone and everything it
//! sent has been read, so nothing it said is lost and nothing of it is
//! left running.
//!
//! Worker events do not pass through this actor: a reader task
//! (`worker_io::read_worker`) appends them straight to the session's
//! [`Sequencer`], keeping the hot path short.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use interprocess::local_socket::tokio::Stream;
use protocol::agent::SafetyMode;
use protocol::approval::{AskPolicy, RuleMatch};
use protocol::control::{ControlError, ErrorKind};
use protocol::event::{BudgetKind, Decider, Event, EventKind, ExitInfo, StopReason};
use protocol::mcp::McpServerConfig;
use protocol::message::ChatMessage;
use protocol::worker::{StartTurn, ToWorker, TurnOutcome};
use protocol::{SessionId, Timestamp};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::approvals::{ApprovalsMsg, DecideRequest, Ruling};
use super::containment::{self, SessionProcesses};
use super::sequencer::{AppendError, Sequencer};
use super::worker_io::{Meter, read_worker, write_worker};
use super::worker_process::{self, ProcStats};
use super::{Shared, history, providers};
use crate::store::{SessionRecord, StoreError};

/// How long a spawned worker has to connect and authenticate.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a worker has to exit after `Shutdown`.
const EXIT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a worker that hung up mid-turn has to exit on its own.
const HANGUP_GRACE: Duration = Duration::from_secs(1);
/// How long to keep reading after the process exited (its socket should
/// close with it; a leaked descriptor must not hold the session open).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the terminal event waits for the session's last processes to
/// go (they are killed again meanwhile); past it, it is recorded anyway.
const GROUP_EMPTY_TIMEOUT: Duration = Duration::from_secs(2);
/// Sampling period when a memory budget is set.
const FAST_TICK: Duration = Duration::from_millis(100);
/// Sampling period otherwise.
const SLOW_TICK: Duration = Duration::from_millis(500);

/// Figures of a live session that `ps` reads without asking the actor.
#[derive(Debug, Default)]
pub(crate) struct LiveStats {
    pid: AtomicU32,
    rss_bytes: AtomicU64,
    last_event_ms: AtomicU64,
}

impl LiveStats {
    /// Worker pid, if running.
    pub(crate) fn pid(&self) -> Option<u32> {
        Some(self.pid.load(Ordering::Relaxed)).filter(|p| *p != 0)
    }

    /// Last sampled RSS, if any.
    pub(crate) fn rss_bytes(&self) -> Option<u64> {
        Some(self.rss_bytes.load(Ordering::Relaxed)).filter(|r| *r != 0)
    }

    pub(crate) fn touch(&self) {
        self.last_event_ms.store(monotonic_ms(), Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        Duration::from_millis(
            monotonic_ms().saturating_sub(self.last_event_ms.load(Ordering::Relaxed)),
        )
    }
}

fn monotonic_ms() -> u64 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Reply port of a client waiting for a request to take effect.
pub(crate) type StopReply = RpcReplyPort<Result<(), ControlError>>;

fn ended() -> ControlError {
    ControlError::new(
        ErrorKind::Conflict,
        "the session has ended (resume it to go on)",
    )
}

/// How a session's worker begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Opening {
    /// A headless run: one turn on the run's prompt, then the session ends.
    Run,
    /// A new interactive session: idle until the user speaks.
    Chat,
    /// A new worker for a recorded interactive session (`session.resumed`).
    Resume,
}

/// Messages to a Session actor.
pub(crate) enum SessionMsg {
    /// The listener accepted this session's worker.
    WorkerConnected(Arc<Stream>),
    /// The worker finished its turn.
    WorkerDone(TurnOutcome),
    /// Recorded usage crossed a token or cost budget.
    Exceeded {
        /// Which budget.
        budget: BudgetKind,
        /// Its limit.
        limit: f64,
        /// What was used.
        observed: f64,
    },
    /// The worker asks whether it may run a tool call.
    ApprovalRequest {
        /// The call.
        call_id: String,
        /// Tool name.
        tool: String,
        /// Arguments as JSON text.
        arguments: String,
    },
    /// Approvals decided a call.
    Decided {
        /// The call.
        call_id: String,
        /// How.
        ruling: Ruling,
    },
    /// The worker's socket closed (`None`) or broke the protocol (`Some`).
    ReaderEnded(Option<String>),
    /// The worker process exited.
    Exited(ExitInfo),
    /// Stop cooperatively, then by force after the grace period. Replied
    /// once delivered.
    Cancel(StopReason, Option<StopReply>),
    /// SIGKILL the group now. Replied once the terminal event is recorded.
    Kill(StopReason, Option<StopReply>),
    /// The daemon is stopping: kill and record `session.interrupted`.
    Interrupt,
    /// The user's next message to an interactive session. Replied once
    /// the turn started.
    Say(String, StopReply),
    /// End an interactive session. Replied once the terminal event is recorded.
    End(StopReply),
    /// No rule decided a call: it waits for a person.
    Parked {
        /// The call.
        call_id: String,
        /// Its number in the approvals inbox.
        approval: u64,
        /// When it is denied unanswered.
        expires_at: Timestamp,
    },
    /// An interactive session had its chance to hear from the user since
    /// it went idle for the given time.
    IdleTimeout(u64),
    /// Sample resource use and check budgets.
    Tick,
    /// The worker had its chance to connect.
    ConnectTimeout,
    /// The worker had its chance to honour a cancel.
    GraceExpired,
    /// The worker had its chance to exit after `Shutdown`.
    ExitTimeout,
    /// The socket had its chance to drain after the process exited.
    DrainTimeout,
}

/// What the actor is started with.
pub(crate) struct SessionArgs {
    pub(crate) record: SessionRecord,
    pub(crate) sequencer: Arc<Sequencer>,
    pub(crate) live: Arc<LiveStats>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) queued_for: Duration,
    pub(crate) approve: Vec<RuleMatch>,
    pub(crate) ask: AskPolicy,
    pub(crate) opening: Opening,
    /// Answered once the worker is spawned (and, for a resumed session,
    /// `session.resumed` is committed), or with why it could not start.
    pub(crate) opened: Option<StopReply>,
}

/// The Session actor (state in [`SessionState`]).
pub(crate) struct SessionActor;

/// How the session was asked to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    Cancel { reason: StopReason, forced: bool },
    Kill(StopReason),
    Interrupt,
}

/// A live session. Dropping it (however the actor ends) kills the
/// worker's process group.
pub(crate) struct SessionState {
    id: SessionId,
    record: SessionRecord,
    sequencer: Arc<Sequencer>,
    live: Arc<LiveStats>,
    shared: Arc<Shared>,
    queued_for: Duration,
    started: Instant,
    processes: Option<SessionProcesses>,
    to_worker: Option<mpsc::UnboundedSender<ToWorker>>,
    reader: Option<JoinHandle<()>>,
    connected: bool,
    reader_done: bool,
    exit: Option<ExitInfo>,
    done: Option<TurnOutcome>,
    stop: Option<Stop>,
    failure: Option<String>,
    problem: Option<String>,
    stats: Option<ProcStats>,
    peak_rss: u64,
    waiters: Vec<StopReply>,
    finished: bool,
    /// Where the provider is, with its key: only ever put in the start message.
    endpoint: Option<protocol::worker::Endpoint>,
    /// The agent's MCP servers, with their secrets: only ever put in the start message.
    mcp_servers: Vec<McpServerConfig>,
    /// The run's `--approve` rules, the session's "always allow" grants,
    /// and what happens to calls that would need asking.
    run_rules: Vec<RuleMatch>,
    grants: Vec<RuleMatch>,
    /// A branch's inherited events, once read (see `history_before`).
    inherited: Option<Arc<[Event]>>,
    ask_policy: AskPolicy,
    /// The loop watchdog: the last call and how often it came in a row.
    last_call: Option<(String, String)>,
    repeats: u32,
    opening: Opening,
    opened: Option<StopReply>,
    /// Interactive sessions: a turn is running (else the session is idle).
    in_turn: bool,
    /// A message said before the worker connected.
    early_say: Option<(String, StopReply)>,
    /// Counts the times an interactive session went idle or busy, so a
    /// stale `IdleTimeout` is recognised.
    idle_epoch: u64,
}

impl Drop for SessionState {
    fn drop(&mut self) {
        if let Some(reader) = &self.reader {
            reader.abort();
        }
        self.shared.workers.forget(self.id);
        // `processes`' own Drop kills every process of the session.
    }
}

impl Actor for SessionActor {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = SessionArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: SessionArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        args.live.touch();
        Ok(SessionState {
            id: args.record.id,
            record: args.record,
            sequencer: args.sequencer,
            live: args.live,
            shared: args.shared,
            queued_for: args.queued_for,
            started: Instant::now(),
            processes: None,
            to_worker: None,
            reader: None,
            connected: false,
            reader_done: false,
            exit: None,
            done: None,
            stop: None,
            failure: None,
            problem: None,
            stats: None,
            peak_rss: 0,
            waiters: Vec::new(),
            finished: false,
            endpoint: None,
            mcp_servers: Vec::new(),
            run_rules: args.approve,
            grants: Vec::new(),
            inherited: None,
            ask_policy: args.ask,
            last_call: None,
            repeats: 0,
            opening: args.opening,
            opened: args.opened,
            in_turn: false,
            early_say: None,
            idle_epoch: 0,
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.start(&myself).await;
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if state.finished {
            match msg {
                SessionMsg::Cancel(_, Some(reply))
                | SessionMsg::Kill(_, Some(reply))
                | SessionMsg::End(reply) => {
                    let _ = reply.send(Ok(()));
                }
                SessionMsg::Say(_, reply) => {
                    let _ = reply.send(Err(ended()));
                }
                _ => {}
            }
            return Ok(());
        }
        match msg {
            SessionMsg::WorkerConnected(stream) => state.connected(&myself, stream),
            SessionMsg::WorkerDone(outcome) => state.worker_done(&myself, outcome),
            SessionMsg::ApprovalRequest {
                call_id,
                tool,
                arguments,
            } => state.ask_approval(&myself, call_id, tool, arguments),
            SessionMsg::Decided { call_id, ruling } => state.decided(call_id, ruling),
            SessionMsg::Exceeded {
                budget,
                limit,
                observed,
            } => {
                if state.stop.is_none() && state.done.is_none() {
                    state.exceeded(budget, limit, observed);
                    state.cancel(&myself, StopReason::Budget);
                }
            }
            SessionMsg::ReaderEnded(problem) => {
                state.reader_done = true;
                if problem.is_some() {
                    state.problem = problem;
                }
                let expected = state.done.is_some() || state.stop.is_some();
                if state.exit.is_none() && !expected {
                    if state.problem.is_some() {
                        // Broke the protocol: it is of no further use.
                        state.kill_group();
                    } else {
                        // Hung up mid-turn: most likely exiting (a panic closes
                        // the socket while unwinding). Let it finish so its
                        // real exit status is recorded, then make sure.
                        drop(myself.send_after(HANGUP_GRACE, || SessionMsg::ExitTimeout));
                    }
                }
            }
            SessionMsg::Exited(exit) => {
                // The worker itself may be what the kernel killed for memory.
                state.check_oom();
                state.exit = Some(exit);
                state.live.pid.store(0, Ordering::Relaxed);
                // Sweep anything the worker left in its group.
                state.kill_group();
                if !state.reader_done {
                    drop(myself.send_after(DRAIN_TIMEOUT, || SessionMsg::DrainTimeout));
                }
            }
            SessionMsg::Cancel(reason, reply) => {
                state.cancel(&myself, reason);
                if let Some(reply) = reply {
                    let _ = reply.send(Ok(()));
                }
            }
            SessionMsg::Kill(reason, reply) => {
                state.request_stop(Stop::Kill(reason));
                state.kill_group();
                state.waiters.extend(reply);
            }
            SessionMsg::Interrupt => {
                state.request_stop(Stop::Interrupt);
                state.kill_group();
            }
            SessionMsg::Say(text, reply) => state.say(&myself, text, reply).await,
            SessionMsg::End(reply) => state.end(&myself, Some(reply)),
            SessionMsg::Parked {
                call_id,
                approval,
                expires_at,
            } => state.append(EventKind::ToolApprovalPending {
                call_id,
                approval,
                expires_at,
            }),
            SessionMsg::IdleTimeout(epoch) => {
                if epoch == state.idle_epoch && !state.in_turn {
                    tracing::info!(session = %state.id, "interactive session idle too long: ending it");
                    state.end(&myself, None);
                }
            }
            SessionMsg::Tick => state.tick(&myself),
            SessionMsg::ConnectTimeout => {
                if !state.connected && state.exit.is_none() {
                    state.problem = Some(format!(
                        "worker did not connect within {}s",
                        CONNECT_TIMEOUT.as_secs()
                    ));
                    state.kill_group();
                }
            }
            SessionMsg::GraceExpired => {
                if state.exit.is_none()
                    && let Some(Stop::Cancel { forced, .. }) = &mut state.stop
                {
                    *forced = true;
                    state.kill_group();
                }
            }
            SessionMsg::ExitTimeout => {
                if state.exit.is_none() {
                    state.kill_group();
                }
            }
            SessionMsg::DrainTimeout => {
                if !state.reader_done {
                    if let Some(reader) = state.reader.take() {
                        reader.abort();
                    }
                    state.reader_done = true;
                }
            }
        }
        state.finish_if_over(&myself).await;
        Ok(())
    }
}

impl SessionState {
    /// Looks up the agent's MCP servers; one that is not configured is an
    /// `mcp.server.failed` and the session goes on without it.
    async fn resolve_mcp_servers(&mut self) {
        let wanted = &self.record.agent.mcp_servers;
        if wanted.is_empty() {
            return;
        }
        let configured = match self.shared.store.mcp_servers().await {
            Ok(configured) => configured,
            Err(err) => {
                tracing::warn!(session = %self.id, %err, "cannot read the MCP servers");
                Vec::new()
            }
        };
        for name in wanted.clone() {
            // One stored by an older release may break today's rules (a
            // server named `fs` would pass for the built-in tools).
            let found = configured.iter().find(|s| s.name == name);
            match found.map(|server| (server, server.validate())) {
                Some((_, Err(why))) => self.append(EventKind::McpServerFailed {
                    message: why,
                    server: name,
                }),
                Some((server, Ok(()))) => self.mcp_servers.push(server.clone()),
                None => self.append(EventKind::McpServerFailed {
                    message: format!(
                        "no MCP server named {name:?} is configured (see studio mcp list)"
                    ),
                    server: name,
                }),
            }
        }
    }

    /// The agent's workspace, its own or its default one, as a real path
    /// that is not the data dir, inside it or above it (a `full` agent's
    /// own workspace is not checked: it is not confined anyway).
    fn resolve_workspace(&self) -> std::io::Result<std::path::PathBuf> {
        let data_dir = &self.shared.config.data_dir;
        let agent = &self.record.agent;
        if agent.safety != SafetyMode::Full {
            let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
            data_dir.check_sandbox_paths(&agent.sandbox, home.as_deref())?;
        }
        match &agent.workspace {
            None => data_dir.default_workspace(&agent.name),
            Some(dir) if agent.safety == SafetyMode::Full => Ok(dir.into()),
            Some(dir) => data_dir.check_workspace(std::path::Path::new(dir)),
        }
    }

    /// Spawns the worker. Failures end the session with `session.failed`.
    async fn start(&mut self, myself: &ActorRef<SessionMsg>) {
        if self.opening == Opening::Run {
            let queued_ms = u64::try_from(self.queued_for.as_millis()).unwrap_or(u64::MAX);
            self.append(EventKind::RunStarted { queued_ms });
        }
        let token = match crate::auth::new_token() {
            Ok(token) => token,
            Err(err) => {
                return self
                    .fail_to_start(myself, format!("cannot create a worker token: {err}"))
                    .await;
            }
        };
        let provider = self.record.agent.provider;
        let stored_key = match self.shared.store.key(provider).await {
            Ok(stored) => stored.map(|(key, _)| key),
            Err(err) => {
                tracing::warn!(session = %self.id, %err, "cannot read the stored key");
                None
            }
        };
        self.endpoint = providers::endpoint(&self.record.agent, stored_key);
        self.resolve_mcp_servers().await;
        match self.resolve_workspace() {
            Ok(dir) => self.record.agent.workspace = Some(dir.display().to_string()),
            Err(err) => return self.fail_to_start(myself, err.to_string()).await,
        }
        let config = &self.shared.config;
        let spawned = containment::spawn_worker(
            &config.worker_bin,
            &config.data_dir.worker_socket(),
            self.id,
            self.create_cgroup(),
            config.hold_sessions,
        )
        .await;
        let (processes, mut child) = match spawned {
            Ok(spawned) => spawned,
            Err(err) => return self.fail_to_start(myself, err.to_string()).await,
        };
        // Register the pid before the worker can know its token, so that
        // only this process can ever present it.
        let pid = processes.worker();
        self.shared
            .workers
            .expect(self.id, token.clone(), pid, myself.clone());
        self.live.pid.store(pid, Ordering::Relaxed);
        self.processes = Some(processes);
        if self.opening == Opening::Resume {
            // Committed before the client hears the session is open, so a
            // follower never mistakes it for the ended session it was.
            if let Err(err) = self
                .sequencer
                .append_committed(EventKind::SessionResumed { pid })
                .await
            {
                tracing::error!(session = %self.id, %err, "cannot record the resume");
            }
        }
        if let Some(opened) = self.opened.take() {
            let _ = opened.send(Ok(()));
        }
        if let Err(err) = worker_process::send_token(&mut child, &token).await {
            tracing::warn!(session = %self.id, %err, "cannot hand the worker its token");
        }
        let actor = myself.clone();
        tokio::spawn(async move {
            let exit = match child.wait().await {
                Ok(status) => worker_process::exit_info(status),
                Err(_) => ExitInfo::default(),
            };
            let _ = actor.cast(SessionMsg::Exited(exit));
        });
        drop(myself.send_after(CONNECT_TIMEOUT, || SessionMsg::ConnectTimeout));
        let period = if self.record.budgets.max_memory_mib.is_some() {
            FAST_TICK
        } else {
            SLOW_TICK
        };
        myself.send_interval(period, || SessionMsg::Tick);
    }

    /// The session's cgroup, limited to its memory budget (with headroom:
    /// sampling enforces the budget itself, the kernel stops what is too
    /// fast to sample) and its process limit; `None` where the machine
    /// gives none.
    fn create_cgroup(&self) -> Option<containment::SessionCgroup> {
        if !self.shared.config.hold_sessions {
            return None;
        }
        let memory_max = self.record.budgets.max_memory_mib.map(|mib| {
            let headroom = (mib / 4).max(32);
            (mib + headroom) * 1024 * 1024
        });
        let pids_max = self.record.agent.sandbox.max_processes();
        match self.shared.cgroups.create(self.id, memory_max, pids_max) {
            Ok(cgroup) => cgroup,
            Err(err) => {
                tracing::warn!(session = %self.id, %err, "cannot create the session's cgroup");
                None
            }
        }
    }

    async fn fail_to_start(&mut self, myself: &ActorRef<SessionMsg>, error: String) {
        tracing::error!(session = %self.id, %error, "worker did not start");
        if let Some(opened) = self.opened.take() {
            let _ = opened.send(Err(ControlError::new(ErrorKind::Internal, error.clone())));
        }
        self.failure = Some(error);
        self.exit = Some(ExitInfo::default());
        self.finish_if_over(myself).await;
    }

    /// Queues a daemon-side event; a refusal only means the session ended.
    fn append(&self, kind: EventKind) {
        match self.sequencer.append(Timestamp::now(), kind) {
            Ok(_) | Err(AppendError::Ended) => {}
            Err(err) => tracing::error!(session = %self.id, %err, "cannot record event"),
        }
    }

    fn connected(&mut self, myself: &ActorRef<SessionMsg>, stream: Arc<Stream>) {
        if self.exit.is_some() || matches!(self.stop, Some(Stop::Kill(_) | Stop::Interrupt)) {
            return;
        }
        self.connected = true;
        self.live.touch();
        let Some(pid) = self.processes.as_ref().map(SessionProcesses::worker) else {
            return;
        };
        let agent = &self.record.agent;
        if self.opening != Opening::Resume {
            self.append(EventKind::SessionStarted {
                pid,
                agent: agent.name.clone(),
                provider: agent.provider.to_string(),
                model: agent.model.clone(),
            });
        }
        if let Some(processes) = &self.processes {
            let mut containment = processes.containment(&self.shared.cgroups);
            // What its commands will run without, if it confines them.
            if self.record.agent.safety != SafetyMode::Full {
                let support = self.shared.sandbox_support;
                containment.missing.extend(
                    support
                        .missing()
                        .into_iter()
                        .map(|m| format!("{m} for its commands' sandbox")),
                );
            }
            self.append(EventKind::SessionContained { containment });
        }
        if self.opening == Opening::Run {
            self.append(EventKind::MessageUser {
                text: self.record.prompt.clone(),
            });
        }
        let meter = Meter::new(
            Arc::clone(&self.shared),
            self.record.agent.model.clone(),
            self.record.budgets.clone(),
        );
        self.reader = Some(tokio::spawn(read_worker(
            Arc::clone(&stream),
            Arc::clone(&self.sequencer),
            Arc::clone(&self.live),
            meter,
            myself.clone(),
        )));
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_worker(stream, rx));
        self.to_worker = Some(tx);
        if self.opening == Opening::Run {
            let start = self.start_turn(Vec::new(), self.record.prompt.clone());
            self.send(start);
            if let Some(Stop::Cancel { .. }) = self.stop {
                self.send(ToWorker::Cancel);
            }
        } else {
            self.go_idle(myself, None);
        }
    }

    /// The message that starts a turn on `input` after `history`.
    fn start_turn(&self, history: Vec<ChatMessage>, input: String) -> ToWorker {
        ToWorker::Start(Box::new(StartTurn {
            session: self.id,
            agent: self.record.agent.clone(),
            history,
            input,
            script: self.record.script.clone(),
            tools: Vec::new(),
            endpoint: self.endpoint.clone(),
            mcp_servers: self.mcp_servers.clone(),
            sandbox_support: self.shared.sandbox_support,
        }))
    }

    /// An interactive session finished a turn (or just started): it waits
    /// for the user, at most `chat_idle_timeout`.
    fn go_idle(&mut self, myself: &ActorRef<SessionMsg>, error: Option<String>) {
        self.in_turn = false;
        self.idle_epoch += 1;
        self.append(EventKind::SessionIdle { error });
        let epoch = self.idle_epoch;
        let timeout = self.shared.config.chat_idle_timeout;
        drop(myself.send_after(timeout, move || SessionMsg::IdleTimeout(epoch)));
        if let Some((text, reply)) = self.early_say.take() {
            let _ = myself.cast(SessionMsg::Say(text, reply));
        }
    }

    /// Starts a turn of an idle interactive session on the user's message,
    /// with the conversation so far rebuilt from the log.
    async fn say(&mut self, myself: &ActorRef<SessionMsg>, text: String, reply: StopReply) {
        let busy = |what: &str| Err(ControlError::new(ErrorKind::Conflict, what.to_owned()));
        let refusal = if self.opening == Opening::Run {
            Err(ControlError::new(
                ErrorKind::Invalid,
                format!("session {} is a headless run: it takes no input", self.id),
            ))
        } else if self.stop.is_some() || self.done.is_some() {
            busy("the session is ending")
        } else if !self.connected {
            if self.early_say.is_none() {
                self.early_say = Some((text, reply));
                return;
            }
            busy("the session is starting and already has a message waiting")
        } else if self.in_turn {
            busy("a turn is running: wait for session.idle, or cancel it")
        } else {
            Ok(())
        };
        if let Err(err) = refusal {
            let _ = reply.send(Err(err));
            return;
        }
        self.in_turn = true;
        self.idle_epoch += 1;
        self.live.touch();
        let recorded = self
            .sequencer
            .append_committed(EventKind::MessageUser { text: text.clone() })
            .await;
        let history = match recorded {
            Ok(seq) => self
                .history_before(seq)
                .await
                .map_err(|err| err.to_string()),
            Err(err) => Err(err.to_string()),
        };
        match history {
            Ok((inherited, own)) => {
                // "Always allow" holds for the whole session: grants given
                // in an earlier life come back from its log (a branch's
                // original keeps its own).
                for grant in history::grants(&own) {
                    if !self.grants.contains(&grant) {
                        self.grants.push(grant);
                    }
                }
                let mut events = inherited.to_vec();
                events.extend(own);
                let start = self.start_turn(history::conversation(&events), text);
                self.send(start);
                let _ = reply.send(Ok(()));
            }
            Err(err) => {
                tracing::error!(session = %self.id, %err, "cannot start the turn");
                let err = ControlError::new(ErrorKind::Internal, err);
                let _ = reply.send(Err(err.clone()));
                self.go_idle(myself, Some(err.message));
            }
        }
    }

    /// What the turn starting at `seq` is built from: the events the
    /// session inherits as a branch (read once, then kept) and its own
    /// before `seq`.
    async fn history_before(&mut self, seq: u64) -> Result<(Arc<[Event]>, Vec<Event>), StoreError> {
        let store = &self.shared.store;
        let inherited = match &self.inherited {
            Some(inherited) => Arc::clone(inherited),
            None => {
                let read: Arc<[Event]> = history::inherited(store, self.id, self.record.parent)
                    .await?
                    .into();
                self.inherited = Some(Arc::clone(&read));
                read
            }
        };
        let own = history::events_through(store, self.id, seq - 1).await?;
        Ok((inherited, own))
    }

    /// Ends an interactive session: at once when idle (`session.completed`),
    /// by cancelling the running turn otherwise.
    fn end(&mut self, myself: &ActorRef<SessionMsg>, reply: Option<StopReply>) {
        self.waiters.extend(reply);
        if self.stop.is_some() || self.done.is_some() {
            return;
        }
        if self.in_turn || !self.connected {
            return self.cancel(myself, StopReason::User);
        }
        self.done = Some(TurnOutcome::Completed);
        self.send(ToWorker::Shutdown);
        drop(myself.send_after(EXIT_TIMEOUT, || SessionMsg::ExitTimeout));
    }

    fn worker_done(&mut self, myself: &ActorRef<SessionMsg>, outcome: TurnOutcome) {
        if self.done.is_some() {
            return;
        }
        if self.opening != Opening::Run && self.stop.is_none() {
            // An interactive session outlives its turns, failed ones too;
            // the user decides what comes next.
            self.sample();
            if self.in_turn {
                let error = match outcome {
                    TurnOutcome::Failed { error } => Some(error),
                    _ => None,
                };
                self.go_idle(myself, error);
            }
            return;
        }
        self.done = Some(outcome);
        self.sample();
        self.send(ToWorker::Shutdown);
        drop(myself.send_after(EXIT_TIMEOUT, || SessionMsg::ExitTimeout));
    }

    /// Records the request and has Approvals decide it, without waiting:
    /// a person may take minutes, and the session must stay responsive.
    fn ask_approval(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        call_id: String,
        tool: String,
        arguments: String,
    ) {
        self.append(EventKind::ToolApprovalRequested {
            call_id: call_id.clone(),
        });
        if self.stop.is_some() {
            let reason = "the session is stopping".to_owned();
            let ruling = Ruling {
                approved: false,
                by: Decider::RunPolicy,
                reason,
                remember: None,
            };
            return self.decided(call_id, ruling);
        }
        let call = (tool.clone(), arguments.clone());
        if self.last_call.as_ref() == Some(&call) {
            self.repeats += 1;
        } else {
            self.last_call = Some(call);
            self.repeats = 1;
        }
        let limit = self.shared.config.tool_loop_limit;
        if limit > 0 && self.repeats >= limit {
            self.exceeded(
                BudgetKind::ToolLoop,
                f64::from(limit),
                f64::from(self.repeats),
            );
            self.decided(
                call_id,
                Ruling {
                    approved: false,
                    by: Decider::RunPolicy,
                    reason: format!("the same call {limit} times in a row: stopped as a loop"),
                    remember: None,
                },
            );
            self.cancel(myself, StopReason::Budget);
            return;
        }
        let request = DecideRequest {
            session: self.id,
            agent: self.record.agent.name.clone(),
            call_id: call_id.clone(),
            tool,
            arguments,
            run_rules: self.run_rules.clone(),
            grants: self.grants.clone(),
            policy: self.ask_policy,
            asker: Some(myself.clone()),
        };
        let approvals = self.shared.approvals.clone();
        let session = myself.clone();
        tokio::spawn(async move {
            let asked = approvals
                .call(|reply| ApprovalsMsg::Decide(Box::new(request), reply), None)
                .await;
            if let Ok(ractor::rpc::CallResult::Success(ruling)) = asked {
                let _ = session.cast(SessionMsg::Decided { call_id, ruling });
            }
        });
    }

    /// Records a decision and tells the worker.
    fn decided(&mut self, call_id: String, ruling: Ruling) {
        let event = if ruling.approved {
            EventKind::ToolApproved {
                call_id: call_id.clone(),
                by: ruling.by,
            }
        } else {
            EventKind::ToolDenied {
                call_id: call_id.clone(),
                by: ruling.by,
                reason: ruling.reason.clone(),
            }
        };
        self.append(event);
        if let Some(grant) = ruling.remember {
            self.grants.push(grant);
        }
        self.send(ToWorker::ApprovalDecision {
            call_id,
            approved: ruling.approved,
            reason: ruling.reason,
        });
    }

    fn send(&self, msg: ToWorker) {
        if let Some(tx) = &self.to_worker {
            let _ = tx.send(msg);
        }
    }

    fn cancel(&mut self, myself: &ActorRef<SessionMsg>, reason: StopReason) {
        if self.stop.is_some() || self.done.is_some() {
            return;
        }
        if !self.connected {
            // Nothing can be cancelled cooperatively before the worker is up.
            self.stop = Some(Stop::Cancel {
                reason,
                forced: true,
            });
            self.kill_group();
            return;
        }
        self.stop = Some(Stop::Cancel {
            reason,
            forced: false,
        });
        if self.opening != Opening::Run && !self.in_turn {
            // An idle interactive session has no turn to cancel: it just ends.
            self.done = Some(TurnOutcome::Cancelled);
            self.send(ToWorker::Shutdown);
            drop(myself.send_after(EXIT_TIMEOUT, || SessionMsg::ExitTimeout));
            return;
        }
        self.send(ToWorker::Cancel);
        let grace = self.shared.config.cancel_grace;
        drop(myself.send_after(grace, || SessionMsg::GraceExpired));
    }

    /// Records a stronger stop request; a kill overrides a cancel.
    fn request_stop(&mut self, stop: Stop) {
        match self.stop {
            Some(Stop::Kill(_) | Stop::Interrupt) => {}
            _ => self.stop = Some(stop),
        }
    }

    fn kill_group(&self) {
        if let Some(processes) = &self.processes {
            processes.kill();
        }
    }

    /// Samples the memory of every process of the session and the
    /// worker's CPU time.
    fn sample(&mut self) {
        let Some(pid) = self.live.pid() else { return };
        let Some(processes) = &self.processes else {
            return;
        };
        if let Some(worker) = worker_process::proc_stats(pid) {
            let stats = ProcStats {
                rss_bytes: processes.rss_bytes().max(worker.rss_bytes),
                cpu_ms: worker.cpu_ms,
            };
            self.live
                .rss_bytes
                .store(stats.rss_bytes, Ordering::Relaxed);
            self.peak_rss = self.peak_rss.max(stats.rss_bytes);
            self.stats = Some(stats);
        }
    }

    /// Whether the kernel killed a process of the session for memory: its
    /// cgroup's cap is the memory budget's backstop. Records the budget as
    /// exceeded and kills the session.
    fn check_oom(&mut self) -> bool {
        let Some(processes) = &self.processes else {
            return false;
        };
        let Some(limit) = self.record.budgets.max_memory_mib else {
            return false;
        };
        // A turn that finished is not undone by a child the kernel killed.
        if self.stop.is_some() || self.done.is_some() || processes.oom_kills() == 0 {
            return false;
        }
        let peak = processes.peak_bytes().unwrap_or(self.peak_rss);
        let observed = peak.max(self.peak_rss) as f64 / (1024.0 * 1024.0);
        self.exceeded(BudgetKind::Memory, limit as f64, observed);
        self.request_stop(Stop::Kill(StopReason::Budget));
        self.kill_group();
        true
    }

    fn tick(&mut self, myself: &ActorRef<SessionMsg>) {
        if self.exit.is_some() {
            return;
        }
        self.sample();
        if self.stop.is_some() || self.done.is_some() || self.check_oom() {
            return;
        }
        let budgets = self.record.budgets.clone();
        if let (Some(limit), Some(stats)) = (budgets.max_memory_mib, self.stats) {
            let used_mib = stats.rss_bytes as f64 / (1024.0 * 1024.0);
            if used_mib > limit as f64 {
                self.exceeded(BudgetKind::Memory, limit as f64, used_mib);
                self.request_stop(Stop::Kill(StopReason::Budget));
                self.kill_group();
                return;
            }
        }
        if let Some(limit) = budgets.max_wall_secs {
            let used = self.started.elapsed().as_secs_f64();
            if used > limit as f64 {
                self.exceeded(BudgetKind::WallTime, limit as f64, used);
                return self.cancel(myself, StopReason::Budget);
            }
        }
        // An idle interactive session waits for a person, not for the model.
        let waiting_for_user = self.opening != Opening::Run && !self.in_turn;
        if let Some(limit) = budgets.max_idle_secs.filter(|_| !waiting_for_user) {
            let idle = self.live.idle_for().as_secs_f64();
            if idle > limit as f64 {
                self.exceeded(BudgetKind::Idle, limit as f64, idle);
                self.cancel(myself, StopReason::Budget);
            }
        }
    }

    fn exceeded(&self, budget: BudgetKind, limit: f64, observed: f64) {
        tracing::info!(session = %self.id, ?budget, limit, observed, "budget exceeded");
        self.append(EventKind::BudgetExceeded {
            budget,
            limit,
            observed,
        });
    }

    /// Records the terminal event once the process is gone and its socket
    /// drained, answers waiting clients, and stops the actor.
    async fn finish_if_over(&mut self, myself: &ActorRef<SessionMsg>) {
        let drained = self.reader_done || !self.connected;
        if self.finished || self.exit.is_none() || !drained {
            return;
        }
        self.finished = true;
        // The terminal event says nothing of the session is left running.
        if let Some(processes) = &self.processes {
            processes.wait_empty(GROUP_EMPTY_TIMEOUT).await;
            // Nothing is left to use its commands' private temp dir; its
            // removal need not hold up the terminal event.
            tokio::spawn(containment::remove_private_tmp(self.id));
        }
        if let Some(stats) = self.stats {
            self.append(EventKind::WorkerStats {
                rss_bytes: stats.rss_bytes,
                peak_rss_bytes: self.peak_rss,
                cpu_ms: stats.cpu_ms,
            });
        }
        let terminal = self.terminal_event();
        let result = match self.sequencer.append_terminal(terminal).await {
            Ok(_) | Err(AppendError::Ended) => Ok(()),
            Err(err) => {
                tracing::error!(session = %self.id, %err, "cannot record the terminal event");
                Err(ControlError::new(ErrorKind::Internal, err.to_string()))
            }
        };
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(result.clone());
        }
        let _ = self
            .shared
            .approvals
            .cast(ApprovalsMsg::SessionEnded(self.id));
        myself.stop(None);
    }

    /// The one terminal event that describes how this session ended.
    fn terminal_event(&self) -> EventKind {
        if let Some(error) = &self.failure {
            return EventKind::SessionFailed {
                error: error.clone(),
            };
        }
        match (self.stop, &self.done) {
            (Some(Stop::Kill(reason)), _) => EventKind::SessionKilled { reason },
            (Some(Stop::Interrupt), _) => EventKind::SessionInterrupted,
            (_, Some(TurnOutcome::Completed)) => EventKind::SessionCompleted,
            (_, Some(TurnOutcome::Failed { error })) => EventKind::SessionFailed {
                error: error.clone(),
            },
            (Some(Stop::Cancel { reason, .. }), Some(TurnOutcome::Cancelled)) => {
                EventKind::SessionCancelled {
                    reason,
                    forced: false,
                }
            }
            (
                Some(Stop::Cancel {
                    reason,
                    forced: true,
                }),
                None,
            ) => EventKind::SessionCancelled {
                reason,
                forced: true,
            },
            (None, Some(TurnOutcome::Cancelled)) => EventKind::SessionCancelled {
                reason: StopReason::User,
                forced: false,
            },
            (Some(Stop::Cancel { forced: false, .. }) | None, None) => {
                let exit = self.exit.unwrap_or_default();
                let mut detail = format!("worker {}", worker_process::describe_exit(exit));
                if let Some(problem) = &self.problem {
                    detail.push_str(": ");
                    detail.push_str(problem);
                }
                EventKind::SessionCrashed { exit, detail }
            }
        }
    }
}
