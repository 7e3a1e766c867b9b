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
//!
//! Layout: this file holds the actor, its messages and state, and the
//! dispatch of each message; `start` (workspace, MCP servers, cgroup,
//! spawning, the worker's connection), `turns` (start messages, idle
//! waits, the user's messages, the worker's `Done`), `asking` (tool calls
//! to `Approvals`), `app_calls` (a view's own tool calls), `budgets`
//! (`LiveStats`, sampling, the budgets on each tick) and `ending` (cancel,
//! kill, the one terminal event).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use protocol::SessionId;
use protocol::approval::{AskPolicy, RuleMatch};
use protocol::control::{ControlError, ErrorKind};
use protocol::event::{BudgetKind, Event, ExitInfo, StopReason};
use protocol::mcp::McpServerConfig;
use protocol::worker::{ToWorker, TurnOutcome};
use protocol::{EventKind, Timestamp};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Shared;
use super::approvals::{Parked, Ruling};
use super::containment::SessionProcesses;
use super::listener::WorkerConnected;
use super::sequencer::{AppendError, Sequencer};
use super::spend_caps::SessionCaps;
use super::worker_process::ProcStats;
use crate::daemon::stderr_tail::StderrTail;
use crate::store::SessionRecord;

mod app_calls;
mod asking;
mod budgets;
mod checking;
mod derived;
mod ending;
mod placed;
mod plugins;
mod start;
mod turns;
mod worker_io;
mod workspace;

pub(crate) use app_calls::AppAsk;
pub(crate) use budgets::LiveStats;
use budgets::PersonWait;
use turns::ended;

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

/// Reply port of a client waiting for a request to take effect.
pub(crate) type StopReply = RpcReplyPort<Result<(), ControlError>>;

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

/// A later turn of a chat replayed as a run: its recorded message, and
/// its tape for a replay from the tape.
pub(crate) struct LaterTurn {
    /// The message the turn starts with.
    pub(crate) prompt: String,
    /// The recorded turn to play.
    pub(crate) tape: Option<Box<protocol::tape::Tape>>,
}

/// Messages to a Session actor.
pub(crate) enum SessionMsg {
    /// The listener accepted this session's worker.
    WorkerConnected(WorkerConnected),
    /// The worker finished its turn.
    WorkerDone(TurnOutcome),
    /// The worker recorded `replay.diverged`: the replay parted from the
    /// tape.
    ReplayParted,
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
    /// A view's own tool call on an idle chat. Replied once it started.
    AppCall(Box<AppAsk>, StopReply),
    /// No rule decided a call: it waits for a person.
    Parked(Parked),
    /// An interactive session had its chance to hear from the user since
    /// it went idle for the given time.
    IdleTimeout(u64),
    /// Sample resource use and check budgets.
    Tick,
    /// The worker had its chance to connect.
    ConnectTimeout,
    /// The session's cluster job left the queue.
    JobEnded(Box<crate::daemon::slurm::queue::JobEnd>),
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
    /// A replay from the tape: the recorded turn its worker plays.
    pub(crate) tape: Option<Box<protocol::tape::Tape>>,
    /// A chat replayed as a run: the turns after the first.
    pub(crate) later: Vec<LaterTurn>,
    /// The spend caps it is held to.
    pub(crate) caps: SessionCaps,
    /// What its answer is checked for before it completes.
    pub(crate) checks: std::sync::Arc<[protocol::checks::Check]>,
    /// Where its worker runs; `None`: the daemon's default.
    pub(crate) on: Option<protocol::launch::Launcher>,
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

/// Where a session is in its life: its worker's connection, then the
/// one terminal event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The worker was started and has not connected yet.
    Spawning,
    /// The worker's connection is open; its frames are being read.
    Connected,
    /// The connection was read to its end (or given up on after the
    /// worker exited).
    Drained,
    /// The terminal event is recorded; nothing more happens.
    Finished,
}

/// The worker process, its connection and what it used.
#[derive(Default)]
pub(crate) struct WorkerSide {
    /// Every process of the session (its group, namespace and cgroup).
    processes: Option<SessionProcesses>,
    /// Or the cluster job it runs in.
    job: Option<crate::daemon::slurm::Job>,
    /// How long the worker has to connect once started.
    connect_within: Duration,
    /// Commands to the worker, written in order by `write_worker`.
    to_worker: Option<mpsc::UnboundedSender<ToWorker>>,
    /// The task reading the worker's frames.
    reader: Option<JoinHandle<()>>,
    /// How the worker process ended, once it has.
    exit: Option<ExitInfo>,
    /// The last sample of its processes' use (/proc).
    stats: Option<ProcStats>,
    /// The most memory the session's processes held at once.
    peak_rss: u64,
    /// What the worker writes to stderr, its last lines kept.
    stderr: Option<StderrTail>,
    /// Those last lines, once it ended.
    last_stderr: Vec<String>,
}

/// How the session is ending, once it is: what was asked, what the
/// worker said, and who waits for the terminal event.
#[derive(Default)]
pub(crate) struct Ending {
    /// A cancel, kill or interrupt that was asked for.
    stop: Option<Stop>,
    /// How the worker said the (last) turn ended.
    done: Option<TurnOutcome>,
    /// Why starting the session failed.
    failure: Option<String>,
    /// What went wrong with the worker (a broken protocol, no connection).
    problem: Option<String>,
    /// Told once the terminal event is recorded.
    waiters: Vec<StopReply>,
}

/// What each turn starts with, resolved when the session starts.
#[derive(Default)]
pub(crate) struct TurnSetup {
    /// Where the provider is, with its key: only ever put in the start message.
    endpoint: Option<protocol::worker::Endpoint>,
    /// The agent's MCP servers, with their secrets: only ever put in the start message.
    mcp_servers: Vec<McpServerConfig>,
    /// The servers of the installed plugins it uses, as they were when the
    /// session began.
    plugin_servers: Vec<protocol::plugin::PluginServer>,
    /// The approval rules its plugins bring, for their own tools only.
    plugin_rules: Vec<protocol::approval::ApprovalRule>,
    /// The run's `--approve` rules.
    run_rules: Vec<RuleMatch>,
    /// The session's "always allow" grants.
    grants: Vec<RuleMatch>,
    /// A branch's inherited events, once read (see `history_before`).
    inherited: Option<Arc<[Event]>>,
    /// What happens to calls that would need asking.
    ask_policy: AskPolicy,
    /// A replay from the tape: the recorded turn, until the run's turn
    /// starts with it.
    tape: Option<Box<protocol::tape::Tape>>,
    /// A chat replayed as a run: the turns still to play after this one.
    later: std::collections::VecDeque<LaterTurn>,
    /// The replay parted from the tape (`replay.diverged`).
    parted: bool,
    /// What the answer is checked for before the run completes.
    checks: std::sync::Arc<[protocol::checks::Check]>,
    /// The run's own workspace (`workspace_per_run`), until it is settled.
    run_workspace: Option<protocol::workspace::RunWorkspace>,
    /// The judges of its checks, with their providers' keys.
    judges: Vec<protocol::worker::JudgeCall>,
}

/// How the session was opened and, when interactive, where its
/// conversation is.
pub(crate) struct Chat {
    opening: Opening,
    /// Told once the session is open.
    opened: Option<StopReply>,
    /// Interactive sessions: a turn is running (else the session is idle).
    in_turn: bool,
    /// A message said before the worker connected, or while its servers
    /// start (`preparing`).
    early_say: Option<(String, StopReply)>,
    /// The servers of a new life start before the chat is first idle.
    preparing: bool,
    /// Counts the times an interactive session went idle or busy, so a
    /// stale `IdleTimeout` is recognised.
    idle_epoch: u64,
}

/// The loop watchdog: the last call and how often it came in a row.
#[derive(Default)]
pub(crate) struct LoopWatch {
    last_call: Option<(String, String)>,
    repeats: u32,
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
    phase: Phase,
    worker: WorkerSide,
    ending: Ending,
    setup: TurnSetup,
    chat: Chat,
    watch: LoopWatch,
    /// Time its calls waited for a person (left out of the wall budget).
    person: PersonWait,
    /// The spend caps it is held to (its agent's day, its group).
    caps: SessionCaps,
    /// Where its worker runs.
    launcher: protocol::launch::Launcher,
}

impl Drop for SessionState {
    fn drop(&mut self) {
        if let Some(reader) = &self.worker.reader {
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
        // The run's choice, else its agent's, else the daemon's.
        let launcher = (args.on.clone())
            .or_else(|| args.record.agent.on.clone())
            .unwrap_or_else(|| args.shared.config.launcher.clone());
        if !args.checks.is_empty() {
            args.live.keep_answer();
        }
        Ok(SessionState {
            id: args.record.id,
            record: args.record,
            sequencer: args.sequencer,
            live: args.live,
            shared: args.shared,
            queued_for: args.queued_for,
            started: Instant::now(),
            phase: Phase::Spawning,
            worker: WorkerSide::default(),
            ending: Ending::default(),
            setup: TurnSetup {
                run_rules: args.approve,
                ask_policy: args.ask,
                tape: args.tape,
                later: args.later.into(),
                checks: args.checks,
                ..TurnSetup::default()
            },
            chat: Chat {
                opening: args.opening,
                opened: args.opened,
                in_turn: false,
                early_say: None,
                preparing: false,
                idle_epoch: 0,
            },
            watch: LoopWatch::default(),
            person: PersonWait::default(),
            caps: args.caps,
            launcher,
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
        if state.phase == Phase::Finished {
            match msg {
                SessionMsg::Cancel(_, Some(reply))
                | SessionMsg::Kill(_, Some(reply))
                | SessionMsg::End(reply) => {
                    let _ = reply.send(Ok(()));
                }
                SessionMsg::Say(_, reply) | SessionMsg::AppCall(_, reply) => {
                    let _ = reply.send(Err(ended()));
                }
                _ => {}
            }
            return Ok(());
        }
        match msg {
            SessionMsg::WorkerConnected(WorkerConnected(link)) => state.connected(&myself, link),
            SessionMsg::WorkerDone(outcome) => {
                if state.goes_on(&outcome) {
                    state.next_turn(&myself).await;
                } else {
                    state.worker_done(&myself, outcome);
                }
            }
            SessionMsg::ReplayParted => state.setup.parted = true,
            SessionMsg::ApprovalRequest {
                call_id,
                tool,
                arguments,
            } => state.ask_approval(&myself, call_id, tool, arguments),
            SessionMsg::Decided { call_id, ruling } => {
                state.person.settle(&call_id);
                state.decided(call_id, ruling);
            }
            SessionMsg::Exceeded {
                budget,
                limit,
                observed,
            } => {
                if state.ending.stop.is_none() && state.ending.done.is_none() {
                    state.exceeded(budget, limit, observed);
                    state.cancel(&myself, StopReason::Budget);
                }
            }
            SessionMsg::ReaderEnded(problem) => {
                state.phase = Phase::Drained;
                if problem.is_some() {
                    state.ending.problem = problem;
                }
                let expected = state.ending.done.is_some() || state.ending.stop.is_some();
                if state.worker.exit.is_none() && !expected {
                    if state.ending.problem.is_some() {
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
                state.worker.exit = Some(exit);
                state.live.pid.store(0, Ordering::Relaxed);
                // Sweep anything the worker left in its group.
                state.kill_group();
                if state.phase == Phase::Connected {
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
                state.ending.waiters.extend(reply);
            }
            SessionMsg::Interrupt => {
                state.request_stop(Stop::Interrupt);
                state.kill_group();
            }
            SessionMsg::Say(text, reply) => match state.shared.ledger.over(&state.caps) {
                // An idle chat is not cancelled for a spent cap; its next
                // turn is refused.
                Some(over) => {
                    let _ = reply.send(Err(ControlError::new(
                        ErrorKind::OverCap,
                        format!("{}: the chat takes no more turns", over.describe()),
                    )));
                }
                None => state.say(&myself, text, reply).await,
            },
            SessionMsg::AppCall(ask, reply) => state.app_call(*ask, reply).await,
            SessionMsg::End(reply) => state.end(&myself, Some(reply)),
            SessionMsg::Parked(Parked {
                call_id,
                approval,
                expires_at,
            }) => {
                state.person.park(call_id.clone());
                state.append(EventKind::ToolApprovalPending {
                    call_id,
                    approval,
                    expires_at,
                });
            }
            SessionMsg::IdleTimeout(epoch) => {
                if epoch == state.chat.idle_epoch && !state.chat.in_turn {
                    tracing::info!(session = %state.id, "interactive session idle too long: ending it");
                    state.end(&myself, None);
                }
            }
            SessionMsg::Tick => state.tick(&myself),
            SessionMsg::ConnectTimeout => {
                if !state.is_connected() && state.worker.exit.is_none() {
                    state.ending.problem = Some(format!(
                        "worker did not connect within {}s",
                        state.worker.connect_within.as_secs()
                    ));
                    state.kill_group();
                }
            }
            SessionMsg::JobEnded(end) => state.job_ended(&myself, *end),
            SessionMsg::GraceExpired => {
                if state.worker.exit.is_none()
                    && let Some(Stop::Cancel { forced, .. }) = &mut state.ending.stop
                {
                    *forced = true;
                    state.kill_group();
                }
            }
            SessionMsg::ExitTimeout => {
                if state.worker.exit.is_none() {
                    state.kill_group();
                }
            }
            SessionMsg::DrainTimeout => {
                if state.phase == Phase::Connected {
                    if let Some(reader) = state.worker.reader.take() {
                        reader.abort();
                    }
                    state.phase = Phase::Drained;
                }
            }
        }
        state.finish_if_over(&myself).await;
        Ok(())
    }
}

impl SessionState {
    /// Whether the worker has connected (its connection may be drained).
    fn is_connected(&self) -> bool {
        matches!(self.phase, Phase::Connected | Phase::Drained)
    }

    /// Whether nothing more will come from the worker's connection: it
    /// was read to its end, or it never opened.
    fn drained(&self) -> bool {
        matches!(self.phase, Phase::Spawning | Phase::Drained)
    }

    /// Queues a daemon-side event; a refusal only means the session ended.
    fn append(&self, kind: EventKind) {
        match self.sequencer.append(Timestamp::now(), kind) {
            Ok(_) | Err(AppendError::Ended) => {}
            Err(err) => tracing::error!(session = %self.id, %err, "cannot record event"),
        }
    }

    fn send(&self, msg: ToWorker) {
        if let Some(tx) = &self.worker.to_worker {
            let _ = tx.send(msg);
        }
    }
}
