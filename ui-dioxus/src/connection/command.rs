//! What components ask of the daemon: one [`Command`] each, which the
//! connection task turns into requests.

use protocol::approval::{RuleDecision, RuleMatch};
use protocol::control::{ModelPrice, RunSpec};
use protocol::mcp::{ImportedEntry, McpServerConfig};
use protocol::{AgentConfig, ProviderKind, Secret, SessionId};

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
