//! The worker socket: the daemon and one session's worker process.
//!
//! After the handshake the daemon sends [`ToWorker::Start`]; the worker
//! streams [`FromWorker::Event`]s and ends the turn with
//! [`FromWorker::Done`]. The daemon then sends another `Start` (chat) or
//! [`ToWorker::Shutdown`]. The worker holds no durable state: everything it
//! needs comes in `Start`, so a worker that dies loses nothing recorded.

use serde::{Deserialize, Serialize};

use crate::agent::{AgentConfig, Script};
use crate::event::EventKind;
use crate::ids::SessionId;
use crate::mcp::McpServerConfig;
use crate::message::ChatMessage;
use crate::time::Timestamp;

/// Daemon to worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    /// Run one turn. Answered by events and one [`FromWorker::Done`].
    Start(Box<StartTurn>),
    /// The decision on a [`FromWorker::ApprovalRequest`].
    ApprovalDecision {
        /// The call it decides.
        call_id: String,
        /// Whether the call may run.
        approved: bool,
        /// Explanation passed to the model when denied.
        reason: String,
    },
    /// Stop the turn at the next await point and report
    /// [`TurnOutcome::Cancelled`]. The daemon kills the process group if
    /// this does not happen within the grace period.
    Cancel,
    /// Exit now; no reply.
    Shutdown,
}

/// Everything a worker needs for a turn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StartTurn {
    /// The session.
    pub session: SessionId,
    /// The agent snapshot the session runs with.
    pub agent: AgentConfig,
    /// Conversation so far, oldest first, without the new input.
    pub history: Vec<ChatMessage>,
    /// The new user input.
    pub input: String,
    /// The scripted provider's script for this turn.
    pub script: Script,
    /// Tools the model may call.
    pub tools: Vec<ToolSpec>,
    /// How to reach the provider; `None` for the scripted provider.
    pub endpoint: Option<Endpoint>,
    /// The MCP servers the agent uses (with their secrets: only ever here).
    pub mcp_servers: Vec<McpServerConfig>,
    /// The servers of the installed plugins the agent uses, each in a
    /// sandbox of its plugin's permissions.
    pub plugin_servers: Vec<crate::plugin::PluginServer>,
    /// What the kernel offers the sandbox of the session's commands.
    pub sandbox_support: crate::sandbox::SandboxSupport,
    /// A replay from the tape: the recorded turn to play instead of
    /// calling the provider and running tools, as far as it matches.
    pub tape: Option<Box<crate::tape::Tape>>,
    /// A command to run in the run's new workspace before the turn (its
    /// agent's `workspace_per_run.setup`); only in a run's first turn.
    pub setup: Option<String>,
    /// Command checks (`Check::Command`) to run in the workspace once the
    /// turn completes, each recorded as `check.command`; only in a run's
    /// last turn.
    pub check_commands: Vec<String>,
    /// Judge checks (`Check::Judge`) to ask once the turn completes, each
    /// recorded as `check.judge`; only in a run's last turn.
    pub judges: Vec<JudgeCall>,
    /// A view's own tool call to run instead of a model turn: asked,
    /// run and answered, then `Done`.
    pub app_call: Option<crate::app_view::AppCall>,
    /// Only start the MCP servers (and record their plugins' panels),
    /// then `Done`: a chat's first step, so its panels show before its
    /// first message.
    pub servers_only: bool,
}

/// A judge agent to ask about the run's answer, with where its provider
/// is (its key: only ever here).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JudgeCall {
    /// The judge agent as it is now.
    pub agent: AgentConfig,
    /// How to reach its provider; `None` for the scripted provider.
    pub endpoint: Option<Endpoint>,
}

/// A tool offered to the model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Name the model calls it by.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON Schema of its arguments, as JSON text.
    pub parameters: String,
}

/// Where a provider is and the secret to use there. Only ever sent inside
/// a start message: never in argv, environment, events or logs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Base URL, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// API key, if the provider needs one.
    pub api_key: Option<String>,
}

impl std::fmt::Debug for Endpoint {
    /// Never prints the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Worker to daemon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    /// Something happened; the daemon assigns the seq and records it.
    Event {
        /// Worker clock.
        at: Timestamp,
        /// What.
        kind: EventKind,
    },
    /// A tool call needs a decision; answered by [`ToWorker::ApprovalDecision`].
    ApprovalRequest {
        /// Call id.
        call_id: String,
        /// Tool name.
        tool: String,
        /// Arguments as JSON text.
        arguments: String,
    },
    /// The turn is over.
    Done(TurnOutcome),
    /// What the worker and every process it started use (protocol 30):
    /// sent twice a second by a worker on another machine (`--dial`),
    /// whose `/proc` the daemon cannot read, so memory budgets hold.
    Usage {
        /// Resident memory, bytes.
        rss_bytes: u64,
        /// The worker's CPU time, milliseconds.
        cpu_ms: u64,
    },
}

/// How a turn ended, as the worker saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TurnOutcome {
    /// The model gave its final answer.
    Completed,
    /// Stopped by [`ToWorker::Cancel`].
    Cancelled,
    /// An error the worker could not recover from.
    Failed {
        /// What went wrong.
        error: String,
    },
}
