//! Events: everything a session does is one of these, recorded in order.
//!
//! Each variant of [`EventKind`] has a dotted name ([`EventKind::name`]), the
//! name users see in `studio events` and the Inspector. Where OpenTelemetry's
//! GenAI semantic conventions name a field, the field has that meaning.

use serde::{Deserialize, Serialize};

use crate::ids::SessionId;
use crate::sandbox::{Confinement, SessionContainment};
use crate::time::Timestamp;

mod parts;

pub use parts::{BudgetKind, Decider, ExitInfo, SessionStatus, StopReason, Usage};

/// One recorded event: which session, its position in that session, when, what.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The session the event belongs to.
    pub session: SessionId,
    /// Position within the session: gapless, starting at 1, assigned by the daemon.
    pub seq: u64,
    /// When the event happened (worker clock for worker events, daemon clock otherwise).
    pub at: Timestamp,
    /// What happened.
    pub kind: EventKind,
}

/// What happened. Variants are grouped by the prefix of their dotted name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum EventKind {
    /// `session.started`: the worker process is up and authenticated.
    SessionStarted {
        /// Worker process id (also its process group id).
        pid: u32,
        /// Agent name.
        agent: String,
        /// Provider name.
        provider: String,
        /// Model name.
        model: String,
    },
    /// `session.resumed`: a new worker continues a recorded session.
    SessionResumed {
        /// Worker process id.
        pid: u32,
    },
    /// `session.idle`: an interactive session is up, or finished a turn, and
    /// waits for input.
    SessionIdle {
        /// Why the turn that just ended failed, if it did (the session goes on).
        error: Option<String>,
    },
    /// `session.completed`: terminal; the agent finished its work.
    SessionCompleted,
    /// `session.failed`: terminal; the worker reported an error it could not recover from.
    SessionFailed {
        /// What went wrong.
        error: String,
    },
    /// `session.cancelled`: terminal; stopped on request (user or budget).
    SessionCancelled {
        /// Why it was cancelled.
        reason: StopReason,
        /// True when the worker ignored the request and its process group was killed.
        forced: bool,
    },
    /// `session.killed`: terminal; its process group got SIGKILL at once.
    SessionKilled {
        /// Why it was killed.
        reason: StopReason,
    },
    /// `session.crashed`: terminal; the worker died or hung up without finishing.
    SessionCrashed {
        /// How the process ended, if it did.
        exit: ExitInfo,
        /// What the daemon observed.
        detail: String,
    },
    /// `session.interrupted`: terminal; the daemon stopped while the session was live.
    SessionInterrupted,
    /// `message.user`: input from the user (or the run's prompt).
    MessageUser {
        /// The text.
        text: String,
    },
    /// `message.assistant`: the model's complete answer for a turn.
    MessageAssistant {
        /// The text.
        text: String,
    },
    /// `llm.request.started`: a request to the provider is on its way.
    LlmRequestStarted {
        /// Groups the request's chunks, completion and errors.
        request_id: String,
        /// `gen_ai.provider.name`.
        provider: String,
        /// `gen_ai.request.model`.
        model: String,
        /// Request parameters as JSON text (never a secret).
        params: String,
    },
    /// `llm.response.chunk`: a piece of streamed text.
    LlmResponseChunk {
        /// The request this chunk answers.
        request_id: String,
        /// The text delta.
        text: String,
    },
    /// `llm.response.completed`: the stream ended normally.
    LlmResponseCompleted {
        /// The request that completed.
        request_id: String,
        /// Token counts as the provider reported them, normalised.
        usage: Usage,
        /// `gen_ai.response.finish_reasons`, e.g. `stop`, `tool_calls`.
        finish_reason: String,
    },
    /// `llm.error`: the request failed (HTTP error, broken stream, timeout).
    LlmError {
        /// The request that failed.
        request_id: String,
        /// The provider's message or ours.
        message: String,
        /// Whether a retry follows.
        will_retry: bool,
    },
    /// `tool.requested`: the model asked for a tool call.
    ToolRequested {
        /// Call id.
        call_id: String,
        /// Tool name.
        tool: String,
        /// Arguments as JSON text.
        arguments: String,
    },
    /// `tool.approval.requested`: the call waits for a decision.
    ToolApprovalRequested {
        /// Call id.
        call_id: String,
    },
    /// `tool.approved`: the call may run.
    ToolApproved {
        /// Call id.
        call_id: String,
        /// Who decided.
        by: Decider,
    },
    /// `tool.denied`: the call may not run.
    ToolDenied {
        /// Call id.
        call_id: String,
        /// Who decided.
        by: Decider,
        /// Why, as told to the model.
        reason: String,
    },
    /// `tool.started` as releases before protocol 13 recorded it, without
    /// the confinement; kept so their logs still read.
    ToolStartedLegacy {
        /// Call id.
        call_id: String,
    },
    /// `tool.completed`: the tool returned.
    ToolCompleted {
        /// Call id.
        call_id: String,
        /// Output as given to the model.
        output: String,
        /// Whether output was cut to the cap.
        truncated: bool,
    },
    /// `tool.error`: the tool failed.
    ToolError {
        /// Call id.
        call_id: String,
        /// What went wrong.
        message: String,
    },
    /// `mcp.server.started`: an MCP server is initialised.
    McpServerStarted {
        /// Configured server name.
        server: String,
        /// Number of tools it offers.
        tools: u32,
    },
    /// `mcp.server.failed`: an MCP server could not start or broke.
    McpServerFailed {
        /// Configured server name.
        server: String,
        /// What went wrong.
        message: String,
    },
    /// `mcp.server.exited`: an MCP server went away.
    McpServerExited {
        /// Configured server name.
        server: String,
    },
    /// `run.queued`: a headless run was accepted and waits for a free slot.
    RunQueued,
    /// `run.started`: the run left the queue and its worker is being spawned.
    RunStarted {
        /// Time spent in the queue, in milliseconds.
        queued_ms: u64,
    },
    /// `budget.exceeded`: a limit was crossed; a terminal event follows.
    BudgetExceeded {
        /// Which limit.
        budget: BudgetKind,
        /// The limit, in the budget's unit.
        limit: f64,
        /// What was observed, in the same unit.
        observed: f64,
    },
    /// `worker.stats`: resource use of the worker process.
    WorkerStats {
        /// Resident set size, bytes.
        rss_bytes: u64,
        /// Peak resident set size seen by the daemon, bytes.
        peak_rss_bytes: u64,
        /// CPU time used, milliseconds (user + system).
        cpu_ms: u64,
    },
    /// `llm.cost`: what a model response cost, computed by the daemon from
    /// the usage in the `llm.response.completed` just before it.
    LlmCost {
        /// The request it prices.
        request_id: String,
        /// The model priced.
        model: String,
        /// US dollars; `None` when the model has no price.
        usd: Option<f64>,
        /// Version of the pricing table used (recompute with a newer one).
        pricing_version: u32,
    },
    /// `tool.approval.pending`: no rule decided the call; it waits for a
    /// person (answer it by `approval`, e.g. `studio approve 7`).
    ToolApprovalPending {
        /// Call id.
        call_id: String,
        /// The pending approval's number in the inbox.
        approval: u64,
        /// When it is denied unanswered.
        expires_at: Timestamp,
    },
    /// `mcp.tools.skipped`: tools an MCP server listed that are not
    /// offered to the model: names providers refuse, or names another tool
    /// already has as providers see them.
    McpToolsSkipped {
        /// Configured server name.
        server: String,
        /// The first few skipped tools, each with why, e.g.
        /// `"read file": providers accept only letters, digits, '_', '-' and '.'`.
        tools: Vec<String>,
        /// How many were skipped in all.
        count: u32,
    },
    /// `tool.started`: the tool is running, confined as `confinement` says.
    ToolStarted {
        /// Call id.
        call_id: String,
        /// What it may touch: mode, writable paths, network.
        confinement: Confinement,
    },
    /// `session.contained`: what holds every process of this life of the
    /// session (a PID namespace, a cgroup), and what this machine lacks.
    SessionContained {
        /// The mechanisms in force and the missing ones.
        containment: SessionContainment,
    },
    /// `replay.diverged`: a replay from the tape (`studio replay --tape`)
    /// asked something the recording did not hold, or came to its end;
    /// what follows is live, or the session stops.
    ReplayDiverged {
        /// The step of the tape (from 1: a model response or a tool
        /// result) that could not be played.
        step: u32,
        /// What differed, or why the tape ends there.
        what: String,
    },
    /// `check.result`: one check of the run's group on its last answer,
    /// recorded by the daemon just before `session.completed`.
    CheckResult {
        /// How it came out.
        outcome: crate::checks::CheckOutcome,
    },
    /// `check.command`: a command check (`Check::Command`) ran in the
    /// run's workspace after its turn; `check.result` says how it came out.
    CheckCommandRan {
        /// The command.
        command: String,
        /// Its exit code; `None` when killed, timed out or not started.
        exit_code: Option<i32>,
        /// Its output (both streams, capped head and tail).
        output: String,
    },
    /// `check.judge`: a judge agent (`Check::Judge`) scored the run's
    /// answer after its last turn; `check.result` says whether it passed.
    CheckJudged {
        /// The judge agent.
        agent: String,
        /// Its provider (`openai`, `scripted`, ...).
        provider: String,
        /// The model it asked.
        model: String,
        /// Its score from 0 to 10; `None` when it gave none (or failed).
        score: Option<u8>,
        /// What it said, or why it could not judge.
        reason: String,
        /// The judge's tokens (its cost follows as `llm.cost`).
        usage: Usage,
    },
    /// `workspace.created`: the run works in a workspace of its own
    /// (its agent's `workspace_per_run`), recorded by the daemon before
    /// the worker starts.
    WorkspaceCreated {
        /// Where it is and what it came from.
        workspace: crate::workspace::RunWorkspace,
    },
    /// `workspace.setup`: the agent's setup command ran in the run's new
    /// workspace, before the turn.
    WorkspaceSetup {
        /// The command.
        command: String,
        /// Its exit code; `None` when it was killed or could not start.
        exit_code: Option<i32>,
        /// Its output (both streams, capped head and tail).
        output: String,
    },
    /// `workspace.changed`: what the run changed in its workspace,
    /// recorded by the daemon after its last process is gone, before the
    /// terminal event.
    WorkspaceChanged {
        /// The files and lines.
        changes: crate::workspace::Changes,
        /// The git tree of what it left, which `studio diff` and `studio
        /// apply` read (a worktree's branch also holds it as a commit).
        result: String,
    },
    /// `plugin.loaded`: the session uses an installed plugin (boxed: it
    /// is rare and large; its encoding is that of a struct variant).
    PluginLoaded(Box<PluginLoad>),
    /// `app.view`: an MCP App view was read from its server, for a tool
    /// call's result or as a plugin's panel (boxed: it holds a page).
    AppView(Box<crate::app_view::AppView>),
    /// `app.view.refused`: a view a server named was not recorded (it
    /// could not be read, is not an MCP App page, or is too large).
    AppViewRefused {
        /// The tool call it was for; `None` for a panel.
        call_id: Option<String>,
        /// The server.
        server: String,
        /// Its `ui://` resource.
        uri: String,
        /// Why.
        reason: String,
    },
    /// `app.call`: a view asked, on a person's action, to call a tool of
    /// its server; the call's `tool.*` events follow under `call_id`. The
    /// model is not told of it.
    AppCallAsked {
        /// The call.
        call_id: String,
        /// `SERVER.TOOL`.
        tool: String,
        /// The view that asked.
        uri: String,
    },
    /// `sandbox.connect`: a plugin server granted named hosts asked the
    /// worker's proxy, its only way out, for a connection: recorded
    /// whether it was let through or refused.
    SandboxConnect {
        /// The server that asked.
        server: String,
        /// `host:port` as it asked for it.
        target: String,
        /// Why the sandbox refused it; `None` when it was let through.
        refused: Option<String>,
    },
    /// `session.placed`: the session's worker was submitted to a cluster
    /// (a launcher other than `local`): where, and the job that holds it.
    SessionPlaced {
        /// The launcher (`slurm`, `slurm:PARTITION`).
        launcher: crate::launch::Launcher,
        /// The cluster's id of its job.
        job: String,
    },
}

/// What `plugin.loaded` says: the plugin's version, the checksum of its
/// files and the servers it brings (their tools' calls name them:
/// `SERVER.TOOL`), with what it was granted and the rules that apply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PluginLoad {
    /// The plugin's name.
    pub plugin: String,
    /// Its version (`""` when it gives none).
    pub version: String,
    /// The checksum of its installed files.
    pub sha256: String,
    /// Its servers, by name.
    pub servers: Vec<String>,
    /// What its servers may do beyond their own folders, in words.
    pub granted: Vec<String>,
    /// The approval rules it brings that apply (to its own tools), each
    /// with the id decisions name.
    pub rules: Vec<String>,
    /// Rules it brings that were left out, each with why.
    pub left_out: Vec<String>,
}

impl EventKind {
    /// The dotted name users see, e.g. `llm.response.chunk`.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::SessionStarted { .. } => "session.started",
            EventKind::SessionResumed { .. } => "session.resumed",
            EventKind::SessionIdle { .. } => "session.idle",
            EventKind::SessionCompleted => "session.completed",
            EventKind::SessionFailed { .. } => "session.failed",
            EventKind::SessionCancelled { .. } => "session.cancelled",
            EventKind::SessionKilled { .. } => "session.killed",
            EventKind::SessionCrashed { .. } => "session.crashed",
            EventKind::SessionInterrupted => "session.interrupted",
            EventKind::MessageUser { .. } => "message.user",
            EventKind::MessageAssistant { .. } => "message.assistant",
            EventKind::LlmRequestStarted { .. } => "llm.request.started",
            EventKind::LlmResponseChunk { .. } => "llm.response.chunk",
            EventKind::LlmResponseCompleted { .. } => "llm.response.completed",
            EventKind::LlmError { .. } => "llm.error",
            EventKind::ToolRequested { .. } => "tool.requested",
            EventKind::ToolApprovalRequested { .. } => "tool.approval.requested",
            EventKind::ToolApprovalPending { .. } => "tool.approval.pending",
            EventKind::ToolApproved { .. } => "tool.approved",
            EventKind::ToolDenied { .. } => "tool.denied",
            EventKind::ToolStarted { .. } | EventKind::ToolStartedLegacy { .. } => "tool.started",
            EventKind::SessionContained { .. } => "session.contained",
            EventKind::ToolCompleted { .. } => "tool.completed",
            EventKind::ToolError { .. } => "tool.error",
            EventKind::McpServerStarted { .. } => "mcp.server.started",
            EventKind::McpServerFailed { .. } => "mcp.server.failed",
            EventKind::McpToolsSkipped { .. } => "mcp.tools.skipped",
            EventKind::McpServerExited { .. } => "mcp.server.exited",
            EventKind::PluginLoaded(_) => "plugin.loaded",
            EventKind::AppView(_) => "app.view",
            EventKind::AppViewRefused { .. } => "app.view.refused",
            EventKind::AppCallAsked { .. } => "app.call",
            EventKind::SandboxConnect { .. } => "sandbox.connect",
            EventKind::SessionPlaced { .. } => "session.placed",
            EventKind::RunQueued => "run.queued",
            EventKind::RunStarted { .. } => "run.started",
            EventKind::BudgetExceeded { .. } => "budget.exceeded",
            EventKind::WorkerStats { .. } => "worker.stats",
            EventKind::LlmCost { .. } => "llm.cost",
            EventKind::ReplayDiverged { .. } => "replay.diverged",
            EventKind::CheckResult { .. } => "check.result",
            EventKind::CheckCommandRan { .. } => "check.command",
            EventKind::CheckJudged { .. } => "check.judge",
            EventKind::WorkspaceCreated { .. } => "workspace.created",
            EventKind::WorkspaceSetup { .. } => "workspace.setup",
            EventKind::WorkspaceChanged { .. } => "workspace.changed",
        }
    }

    /// The status a session has once this event is recorded, if it changes it.
    ///
    /// Terminal events map to terminal statuses; nothing follows them.
    pub fn status_after(&self) -> Option<SessionStatus> {
        Some(match self {
            EventKind::RunQueued => SessionStatus::Queued,
            EventKind::RunStarted { .. } => SessionStatus::Starting,
            EventKind::SessionStarted { .. } | EventKind::SessionResumed { .. } => {
                SessionStatus::Running
            }
            EventKind::SessionIdle { .. } => SessionStatus::Idle,
            EventKind::SessionCompleted => SessionStatus::Completed,
            EventKind::SessionFailed { .. } => SessionStatus::Failed,
            EventKind::SessionCancelled { .. } => SessionStatus::Cancelled,
            EventKind::SessionKilled { .. } => SessionStatus::Killed,
            EventKind::SessionCrashed { .. } => SessionStatus::Crashed,
            EventKind::SessionInterrupted => SessionStatus::Interrupted,
            _ => return None,
        })
    }

    /// Whether a worker may report this event. Lifecycle, run, budget,
    /// stats, approval and user-input events are the daemon's alone; a worker sending one is broken
    /// or hostile and is treated as a protocol error.
    pub fn may_come_from_worker(&self) -> bool {
        self.status_after().is_none()
            && !matches!(
                self,
                EventKind::BudgetExceeded { .. }
                    | EventKind::WorkerStats { .. }
                    | EventKind::LlmCost { .. }
                    | EventKind::MessageUser { .. }
                    | EventKind::ToolApprovalRequested { .. }
                    | EventKind::ToolApprovalPending { .. }
                    | EventKind::ToolApproved { .. }
                    | EventKind::ToolDenied { .. }
                    | EventKind::SessionContained { .. }
                    | EventKind::CheckResult { .. }
                    | EventKind::WorkspaceCreated { .. }
                    | EventKind::WorkspaceChanged { .. }
                    | EventKind::PluginLoaded(_)
                    | EventKind::AppCallAsked { .. }
                    | EventKind::SessionPlaced { .. }
            )
    }

    /// Whether this event tells of something that went wrong: a failed
    /// request, tool call or MCP server, tools not offered, a budget
    /// exceeded, a failed or crashed session, a failed chat turn.
    pub fn is_error(&self) -> bool {
        matches!(
            self,
            EventKind::LlmError { .. }
                | EventKind::ToolError { .. }
                | EventKind::McpServerFailed { .. }
                | EventKind::AppViewRefused { .. }
                | EventKind::SandboxConnect {
                    refused: Some(_),
                    ..
                }
                | EventKind::McpToolsSkipped { .. }
                | EventKind::SessionFailed { .. }
                | EventKind::SessionCrashed { .. }
                | EventKind::BudgetExceeded { .. }
                | EventKind::SessionIdle { error: Some(_) }
        )
    }

    /// Whether this event ends its session's life (exactly one per ended session).
    pub fn is_terminal(&self) -> bool {
        self.status_after().is_some_and(SessionStatus::is_terminal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_events_are_exactly_the_session_endings() {
        let terminal = [
            EventKind::SessionCompleted,
            EventKind::SessionFailed { error: "e".into() },
            EventKind::SessionCancelled {
                reason: StopReason::User,
                forced: false,
            },
            EventKind::SessionKilled {
                reason: StopReason::User,
            },
            EventKind::SessionCrashed {
                exit: ExitInfo::default(),
                detail: String::new(),
            },
            EventKind::SessionInterrupted,
        ];
        for kind in terminal {
            assert!(kind.is_terminal(), "{}", kind.name());
            assert!(kind.name().starts_with("session."));
        }
        let live = [
            EventKind::RunQueued,
            EventKind::SessionStarted {
                pid: 1,
                agent: "a".into(),
                provider: "p".into(),
                model: "m".into(),
            },
            EventKind::SessionIdle { error: None },
            EventKind::MessageUser { text: "hi".into() },
        ];
        for kind in live {
            assert!(!kind.is_terminal(), "{}", kind.name());
        }
    }

    #[test]
    fn workers_may_only_report_their_own_work() {
        let chunk = EventKind::LlmResponseChunk {
            request_id: "r".into(),
            text: "t".into(),
        };
        assert!(chunk.may_come_from_worker());
        assert!(!EventKind::SessionCompleted.may_come_from_worker());
        assert!(!EventKind::RunQueued.may_come_from_worker());
        let user = EventKind::MessageUser {
            text: "fake".into(),
        };
        assert!(
            !user.may_come_from_worker(),
            "only the daemon records user input"
        );
        let approval = EventKind::ToolApproved {
            call_id: "c".into(),
            by: Decider::User,
        };
        assert!(
            !approval.may_come_from_worker(),
            "a worker never approves itself"
        );
    }
}
