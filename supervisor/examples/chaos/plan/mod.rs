//! What one round does, drawn from its seed before anything runs.
//!
//! A round has a reference phase and three fault phases, each a list of
//! scripted runs with the faults aimed at them and the times they strike:
//!
//! - **reference**: every distinct clean run spec once, before any fault:
//!   their logs are what an untouched run of the same spec must record;
//! - **storm**: clean runs mixed with scripted worker faults (panic, abort,
//!   exit, hang, spin, flood, malformed and oversized frames, memory
//!   growth over a budget), an agent's commands trying to escape (children
//!   that start their own session, double forks and `nohup`, then kill or
//!   cancel; a child over the memory budget; a fork bomb), harness faults
//!   on clean runs (SIGKILL, SIGSTOP then kill or cancel), a cancellation
//!   flood, bad frames on both sockets, and `Events` polls;
//! - **daemon kill**: long runs (one hung, one stopped with SIGSTOP), then
//!   SIGKILL of the daemon and a restart;
//! - **disk full**: runs that stream while the data dir's tmpfs is full.
//!
//! Harness faults on a clean run strike early (within the first 30% of a
//! run of 1.6 s or more), so that they land before it could complete.

use std::time::Duration;

use protocol::control::RunSpec;

mod draw;

/// The agents each round creates: name, model and system prompt.
pub const AGENTS: [(&str, &str, &str); 2] = [
    ("chaos-a", "scripted-1", "Answer tersely."),
    (
        "chaos-b",
        "scripted-long",
        "Answer at length, in plain words.",
    ),
];

/// The agent whose `shell` calls try to escape its session: its commands
/// run in the sandbox of a `workspace-write` agent, at most
/// [`SHELL_AGENT_PROCESSES`] processes at once.
pub const SHELL_AGENT: &str = "chaos-shell";

/// The process limit of [`SHELL_AGENT`]'s sessions.
pub const SHELL_AGENT_PROCESSES: u32 = 48;

/// A kind of fault, as counted in the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// The harness sends SIGKILL to a streaming worker.
    SigKill,
    /// SIGSTOP to a streaming worker, then `Kill`.
    StopKill,
    /// SIGSTOP to a streaming worker, then `Cancel`.
    StopCancel,
    /// SIGSTOP to a streaming worker, then SIGKILL of the daemon.
    StopDaemonKill,
    /// The worker panics.
    Panic,
    /// The worker aborts (SIGABRT).
    Abort,
    /// The worker exits with a code, without finishing its turn.
    Exit,
    /// The worker hangs (ignoring cancellation), then `Cancel`.
    HangCancel,
    /// The worker hangs, then SIGKILL of the daemon.
    HangDaemonKill,
    /// The worker burns CPU (ignoring cancellation), then `Kill`.
    SpinKill,
    /// The worker floods the daemon with events, then finishes.
    Flood,
    /// The worker sends a malformed frame.
    Garbage,
    /// The worker announces an oversized frame.
    Oversized,
    /// The worker grows its memory past its budget.
    MemoryBudget,
    /// Many concurrent `Cancel`s: several per target, and for ended and
    /// unknown sessions.
    CancelFlood,
    /// SIGKILL of the daemon, then a restart on the same data dir.
    DaemonKill,
    /// A bad frame or handshake on the control socket.
    ControlFrame,
    /// A bad frame or handshake on the worker socket.
    WorkerFrame,
    /// The data dir's filesystem fills up while runs stream.
    DiskFull,
    /// A command starts children that leave its session (`setsid`, a
    /// double fork, `nohup`), then `Kill` or `Cancel`.
    Escape,
    /// A command's child allocates far past the memory budget.
    ChildMemory,
    /// A command forks without end, then `Kill`.
    ForkBomb,
    /// Another process opens connections until the daemon's cap.
    ConnectionFlood,
    /// A gc under way when the daemon is SIGKILLed.
    GcKill,
    /// The OTLP receiver the daemon sends traces to refuses a request.
    ReceiverRefuses,
    /// Runs in worktrees of their own are live when the daemon is SIGKILLed.
    WorktreeKill,
    /// A Slurm run's job is cancelled by someone else (`scancel`).
    SlurmCancel,
    /// A Slurm run's worker gets SIGKILL on its node.
    SlurmWorkerKill,
    /// Slurm runs stream when the daemon is SIGKILLed.
    SlurmDaemonKill,
}

impl FaultKind {
    /// Every kind, in report order.
    pub const ALL: [FaultKind; 29] = [
        FaultKind::SigKill,
        FaultKind::StopKill,
        FaultKind::StopCancel,
        FaultKind::StopDaemonKill,
        FaultKind::Panic,
        FaultKind::Abort,
        FaultKind::Exit,
        FaultKind::HangCancel,
        FaultKind::HangDaemonKill,
        FaultKind::SpinKill,
        FaultKind::Flood,
        FaultKind::Garbage,
        FaultKind::Oversized,
        FaultKind::MemoryBudget,
        FaultKind::CancelFlood,
        FaultKind::DaemonKill,
        FaultKind::ControlFrame,
        FaultKind::WorkerFrame,
        FaultKind::DiskFull,
        FaultKind::Escape,
        FaultKind::ChildMemory,
        FaultKind::ForkBomb,
        FaultKind::ConnectionFlood,
        FaultKind::GcKill,
        FaultKind::ReceiverRefuses,
        FaultKind::WorktreeKill,
        FaultKind::SlurmCancel,
        FaultKind::SlurmWorkerKill,
        FaultKind::SlurmDaemonKill,
    ];

    /// How the report names it.
    pub fn label(self) -> &'static str {
        match self {
            FaultKind::SigKill => "worker SIGKILL",
            FaultKind::StopKill => "worker SIGSTOP, then kill",
            FaultKind::StopCancel => "worker SIGSTOP, then cancel",
            FaultKind::StopDaemonKill => "worker SIGSTOP, then daemon SIGKILL",
            FaultKind::Panic => "worker panic",
            FaultKind::Abort => "worker abort (SIGABRT)",
            FaultKind::Exit => "worker exit without finishing",
            FaultKind::HangCancel => "worker hang, then cancel",
            FaultKind::HangDaemonKill => "worker hang, then daemon SIGKILL",
            FaultKind::SpinKill => "worker CPU spin, then kill",
            FaultKind::Flood => "worker event flood",
            FaultKind::Garbage => "worker sends a malformed frame",
            FaultKind::Oversized => "worker announces an oversized frame",
            FaultKind::MemoryBudget => "memory-budget breach",
            FaultKind::CancelFlood => "cancellation flood",
            FaultKind::DaemonKill => "daemon SIGKILL + restart",
            FaultKind::ControlFrame => "bad frame on control.sock",
            FaultKind::WorkerFrame => "bad frame on worker.sock",
            FaultKind::DiskFull => "full disk",
            FaultKind::Escape => "command children escape (setsid, double fork, nohup)",
            FaultKind::ChildMemory => "command child over the memory budget",
            FaultKind::ForkBomb => "command fork bomb",
            FaultKind::ConnectionFlood => "connection flood on control.sock",
            FaultKind::GcKill => "daemon SIGKILL in the middle of a gc",
            FaultKind::ReceiverRefuses => "the OTLP receiver refuses requests (503)",
            FaultKind::WorktreeKill => "daemon SIGKILL with runs live in their own worktrees",
            FaultKind::SlurmCancel => "a Slurm run's job cancelled from outside (scancel)",
            FaultKind::SlurmWorkerKill => "a Slurm run's worker SIGKILLed on its node",
            FaultKind::SlurmDaemonKill => "daemon SIGKILL with Slurm runs streaming",
        }
    }
}

/// Which part of the round a run belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Fault-free reference runs.
    Reference,
    /// Worker faults, floods and bad frames.
    Storm,
    /// Runs live when the daemon is killed.
    DaemonKill,
    /// Runs streaming while the disk is full.
    DiskFull,
}

impl Phase {
    /// Lowercase name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Reference => "reference",
            Phase::Storm => "storm",
            Phase::DaemonKill => "daemon-kill",
            Phase::DiskFull => "disk-full",
        }
    }
}

/// What the harness does to a run's worker or session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionKind {
    /// SIGKILL to the worker.
    SigKill,
    /// SIGSTOP to the worker, then a `Kill` request.
    StopThenKill,
    /// SIGSTOP to the worker, then a `Cancel` request.
    StopThenCancel,
    /// SIGSTOP to the worker and nothing else (the daemon kill follows).
    StopOnly,
    /// A `Cancel` request.
    Cancel,
    /// A `Kill` request.
    Kill,
}

/// When an action strikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// `delay` after the harness saw the run's `chunks`-th chunk.
    Chunks {
        /// Chunks to wait for.
        chunks: u32,
        /// Then wait this long.
        delay: Duration,
    },
    /// `delay` after the disk was filled.
    AfterFill {
        /// Wait this long after filling.
        delay: Duration,
    },
}

/// A harness action aimed at one run.
#[derive(Clone, Copy, Debug)]
pub struct Action {
    /// What to do.
    pub kind: ActionKind,
    /// When.
    pub trigger: Trigger,
    /// Between SIGSTOP and the request that follows it.
    pub pause: Duration,
}

/// One run of a round.
#[derive(Clone, Debug)]
pub struct RunPlan {
    /// Its phase.
    pub phase: Phase,
    /// What is sent in `ControlRequest::Run`.
    pub spec: RunSpec,
    /// The clean spec it runs (index into [`RoundPlan::clean_specs`]), if
    /// its script has no fault: its log must match that reference.
    pub reference: Option<usize>,
    /// The fault aimed at it; `None` for an untouched run.
    pub fault: Option<FaultKind>,
    /// What the harness does to it, if anything.
    pub action: Option<Action>,
    /// Whether it is a target of the cancellation flood.
    pub flood_target: bool,
    /// When it is submitted, from the start of its phase.
    pub submit_at: Duration,
}

/// Which socket a bad connection goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Socket {
    /// `control.sock`.
    Control,
    /// `worker.sock`.
    Worker,
}

/// A bad connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attack {
    /// An HTTP request instead of a frame.
    HttpGarbage,
    /// Random bytes, then a half-close.
    RandomBytes(Vec<u8>),
    /// A valid hello cut short, then a half-close.
    TruncatedHello,
    /// A length prefix over the frame limit.
    OversizedLength(u32),
    /// A hello with another protocol version.
    BadVersion,
    /// A hello with a wrong token (client) or for a session that expects
    /// no worker (worker).
    WrongToken,
    /// After a good client handshake and a `Ping`: a payload that decodes
    /// as nothing.
    GarbageAfterHello(Vec<u8>),
    /// After a good client handshake and a `Ping`: an oversized length.
    OversizedAfterHello(u32),
    /// After a good client handshake and a `Ping`: half a frame, then a
    /// half-close.
    TruncatedAfterHello,
}

impl Attack {
    /// Short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Attack::HttpGarbage => "http-garbage",
            Attack::RandomBytes(_) => "random-bytes",
            Attack::TruncatedHello => "truncated-hello",
            Attack::OversizedLength(_) => "oversized-length",
            Attack::BadVersion => "bad-version",
            Attack::WrongToken => "wrong-token",
            Attack::GarbageAfterHello(_) => "garbage-after-hello",
            Attack::OversizedAfterHello(_) => "oversized-after-hello",
            Attack::TruncatedAfterHello => "truncated-after-hello",
        }
    }
}

/// A cancellation flood.
#[derive(Clone, Debug)]
pub struct CancelFlood {
    /// When, from the start of the storm.
    pub at: Duration,
    /// `Cancel`s sent to each target at once.
    pub copies: u32,
}

/// Everything one round does.
#[derive(Clone, Debug)]
pub struct RoundPlan {
    /// The distinct clean run specs; each runs once in the reference phase.
    pub clean_specs: Vec<RunSpec>,
    /// Storm runs.
    pub storm: Vec<RunPlan>,
    /// The storm's cancellation flood (its targets are marked in `storm`).
    pub flood: CancelFlood,
    /// Bad connections and when they are made, from the start of the storm.
    pub attacks: Vec<(Duration, Socket, Attack)>,
    /// When another process floods `control.sock` with connections, from
    /// the start of the storm.
    pub connection_flood: Duration,
    /// When `Events` polls of a random live session happen, from the start
    /// of the storm.
    pub polls: Vec<Duration>,
    /// Runs of the daemon-kill phase.
    pub kill_runs: Vec<RunPlan>,
    /// When the daemon is killed, from the start of its phase.
    pub kill_after: Duration,
    /// Runs of the disk-full phase.
    pub disk_runs: Vec<RunPlan>,
    /// How long the disk stays full.
    pub hold_full: Duration,
    /// `Run` requests made while the disk is full (they may be refused).
    pub runs_while_full: u32,
}
