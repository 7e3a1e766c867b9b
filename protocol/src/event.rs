//! Events: everything a session does is one of these, recorded in order.
//!
//! Each variant of [`EventKind`] has a dotted name ([`EventKind::name`]), the
//! name users see in `studio events` and the Inspector. Where OpenTelemetry's
//! GenAI semantic conventions name a field, the field has that meaning.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::SessionId;
use crate::time::Timestamp;

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
#[non_exhaustive]
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
    /// `tool.started`: the tool is running.
    ToolStarted {
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
            EventKind::ToolStarted { .. } => "tool.started",
            EventKind::ToolCompleted { .. } => "tool.completed",
            EventKind::ToolError { .. } => "tool.error",
            EventKind::McpServerStarted { .. } => "mcp.server.started",
            EventKind::McpServerFailed { .. } => "mcp.server.failed",
            EventKind::McpToolsSkipped { .. } => "mcp.tools.skipped",
            EventKind::McpServerExited { .. } => "mcp.server.exited",
            EventKind::RunQueued => "run.queued",
            EventKind::RunStarted { .. } => "run.started",
            EventKind::BudgetExceeded { .. } => "budget.exceeded",
            EventKind::WorkerStats { .. } => "worker.stats",
            EventKind::LlmCost { .. } => "llm.cost",
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

/// Where a session is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionStatus {
    /// Waiting for a free run slot.
    Queued,
    /// Worker being spawned.
    Starting,
    /// Worker working.
    Running,
    /// Interactive session waiting for input.
    Idle,
    /// Finished normally.
    Completed,
    /// Ended by an error the worker reported.
    Failed,
    /// Stopped on request.
    Cancelled,
    /// Killed at once.
    Killed,
    /// Worker died without finishing.
    Crashed,
    /// The daemon stopped while the session was live.
    Interrupted,
}

impl SessionStatus {
    /// Whether nothing more will happen in this session.
    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            SessionStatus::Queued
                | SessionStatus::Starting
                | SessionStatus::Running
                | SessionStatus::Idle
        )
    }

    /// Lowercase name, as shown by `studio ps`.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Queued => "queued",
            SessionStatus::Starting => "starting",
            SessionStatus::Running => "running",
            SessionStatus::Idle => "idle",
            SessionStatus::Completed => "completed",
            SessionStatus::Failed => "failed",
            SessionStatus::Cancelled => "cancelled",
            SessionStatus::Killed => "killed",
            SessionStatus::Crashed => "crashed",
            SessionStatus::Interrupted => "interrupted",
        }
    }
}

impl std::fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a session was stopped from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// A client asked (`studio cancel` / `studio kill`, the UI).
    User,
    /// A budget was exceeded (see the preceding `budget.exceeded`).
    Budget,
    /// The daemon is shutting down.
    Shutdown,
}

/// How a worker process ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    /// Exit code, if it exited.
    pub code: Option<i32>,
    /// Signal number, if a signal ended it.
    pub signal: Option<i32>,
}

/// Which budget was exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetKind {
    /// Wall-clock seconds.
    WallTime,
    /// Seconds without an event.
    Idle,
    /// Worker RSS, MiB.
    Memory,
    /// Model turns.
    Turns,
    /// Tokens.
    Tokens,
    /// US dollars.
    Cost,
    /// Identical tool calls in a row.
    ToolLoop,
}

/// Who decided a tool call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decider {
    /// An approval rule, by id.
    Rule {
        /// Rule id.
        id: String,
    },
    /// A person answering a prompt.
    User,
    /// A headless run's policy for `ask`.
    RunPolicy,
    /// Nobody answered in time.
    Timeout,
    /// A person approving the call and every later call of that tool in
    /// the session ("always allow"), which holds across its resumes.
    UserAlways,
}

impl fmt::Display for Decider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decider::Rule { id } => write!(f, "by rule {id}"),
            Decider::User => f.write_str("by the user"),
            Decider::RunPolicy => f.write_str("by the run's policy"),
            Decider::Timeout => f.write_str("unanswered in time"),
            Decider::UserAlways => f.write_str("by the user, for the rest of the session"),
        }
    }
}

/// Token counts of one model response, normalised across providers.
///
/// `input_tokens` includes cached tokens and `output_tokens` includes
/// reasoning tokens, as in OpenTelemetry's `gen_ai.usage.*`; the detail
/// counts are kept apart so cost is never counted twice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// `gen_ai.usage.input_tokens`.
    pub input_tokens: u64,
    /// `gen_ai.usage.output_tokens`.
    pub output_tokens: u64,
    /// Input tokens served from the provider's cache.
    pub cache_read_tokens: u64,
    /// Input tokens written to the provider's cache.
    pub cache_creation_tokens: u64,
    /// Output tokens spent on reasoning.
    pub reasoning_tokens: u64,
}

impl Usage {
    /// Adds `other`'s counts to these (saturating).
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cache_read_tokens = self
            .cache_read_tokens
            .saturating_add(other.cache_read_tokens);
        self.cache_creation_tokens = self
            .cache_creation_tokens
            .saturating_add(other.cache_creation_tokens);
        self.reasoning_tokens = self.reasoning_tokens.saturating_add(other.reasoning_tokens);
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
