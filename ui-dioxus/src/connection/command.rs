//! What components ask of the daemon: one [`Command`] each, which the
//! connection task turns into requests.

use protocol::approval::{RuleDecision, RuleMatch};
use protocol::control::{ModelPrice, ReplaySpec, RowWindow, RunSpec};
use protocol::mcp::McpServerConfig;
use protocol::{AgentConfig, ProviderKind, Secret, SessionId};
use studio_client::mcp_import::ImportedEntry;

use super::export::ExportFormat;

/// What a component asks of the daemon.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Start the daemon that was stopped (the app never does on its own
    /// once it was connected).
    StartDaemon,
    /// Ask a session to stop.
    Cancel(SessionId),
    /// Kill a session's processes now.
    Kill(SessionId),
    /// Give a session a title (empty: its first message again).
    Retitle {
        /// The session.
        session: SessionId,
        /// The title.
        title: String,
    },
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
        /// Changes to its approval rules, made after it is stored.
        rules: RuleChanges,
    },
    /// Delete an agent (its sessions stay).
    RemoveAgent(String),
    /// Queue runs as one group (`RunBatch`), at most `parallel` of them live.
    Run {
        /// What to run.
        runs: Vec<RunSpec>,
        /// Most of them live at once.
        parallel: u32,
        /// The group's name (empty: its first prompt).
        name: String,
        /// What the group's runs may spend together.
        caps: protocol::caps::SpendCaps,
        /// What each run's answer is checked for.
        checks: Vec<protocol::checks::Check>,
    },
    /// Delete sessions (or, with `groups`, groups with their runs) and
    /// what goes on from them (`Delete`).
    Delete {
        /// The sessions, or groups.
        ids: Vec<SessionId>,
        /// `ids` name groups.
        groups: bool,
    },
    /// Bring a run's changes into the workspace its own was made from
    /// (`Apply`).
    Apply(SessionId),
    /// How `run`'s result differs from `against`'s (`WorkspaceDiff`).
    DiffRuns {
        /// The new side.
        run: SessionId,
        /// The old side.
        against: SessionId,
    },
    /// Read where the daemon sends traces (`OtlpStatus`).
    ReadOtlp,
    /// Have the daemon send every ended turn as traces to `url` with
    /// `headers` (`SetOtlp`), or stop (`None`).
    SetOtlp {
        /// The OTLP/HTTP endpoint.
        url: Option<String>,
        /// Headers for each request (auth); the values are secrets.
        headers: Vec<(String, protocol::Secret)>,
    },
    /// Read what sessions spent, by agent, model and day (`Spend`), and
    /// each agent's caps today (`CapsToday`).
    Spend,
    /// Open a group's results table (`GroupGet`), or read it again.
    Results(SessionId),
    /// Mark a run as its group's preferred result (`None`: no run).
    Prefer {
        /// The group.
        group: SessionId,
        /// The run.
        run: Option<SessionId>,
    },
    /// Change the daemon's limits of live runs and of live interactive
    /// sessions (stored by the daemon); `None` keeps one as it is.
    SetLimits {
        /// Most headless runs live at once.
        max_concurrent_runs: Option<u32>,
        /// Most interactive sessions live at once.
        max_live_chats: Option<u32>,
    },
    /// Open an interactive session with an agent, then inspect it.
    OpenChat(String),
    /// The models a provider offers (for the agent form's picker).
    ListModels(ProviderKind),
    /// Prove a provider works, as the setup wizard does: store `key` (if
    /// any) first, then list the models at `base_url` (the default when
    /// `None`), sending the key there when `send_key` (`Update::Models`).
    TestProvider {
        /// The provider.
        provider: ProviderKind,
        /// Its key, stored before the models are asked for.
        key: Option<Secret>,
        /// Where to ask, as pasted (the daemon makes it a base URL).
        base_url: Option<String>,
        /// Send the key to `base_url` although it is not the provider's host.
        send_key: bool,
    },
    /// Create an agent, then its rules, then start one run of it and show
    /// it in the Inspector: each step only once the one before succeeded
    /// (the setup wizard's last step).
    CreateAndRun {
        /// The agent.
        agent: Box<AgentConfig>,
        /// Its own rules.
        rules: Vec<NewRule>,
        /// The run.
        run: Box<RunSpec>,
    },
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
    /// Load the events `branch` goes on from: `parent`'s up to `at`
    /// (`Update::Inherited`, page by page).
    Inherit {
        /// The branch.
        branch: SessionId,
        /// Its original.
        parent: SessionId,
        /// The branch point.
        at: u64,
    },
    /// Run a session again as a headless run from one of its turns, with
    /// what the spec changes (`Replay`; the default spec: all of it, as
    /// it was); shown in the Inspector once started when `inspect`.
    Replay {
        /// The session run again.
        session: SessionId,
        /// From where, and what changes.
        spec: Box<ReplaySpec>,
        /// Open the new run in the Inspector.
        inspect: bool,
    },
    /// Branch a session after event `at_seq` into a new interactive
    /// session (with `agent`, or the original's), then open it.
    Branch {
        /// The session branched from.
        session: SessionId,
        /// Its last event the branch keeps.
        at_seq: u64,
        /// The agent that goes on; `None` for the original's.
        agent: Option<String>,
    },
    /// Put sessions side by side (`Compare`): the rows of `window`.
    Compare {
        /// Two to four sessions; the first is the base.
        sessions: Vec<SessionId>,
        /// Which rows.
        window: RowWindow,
    },
    /// Export a session as text (`Update::Exported` once whole).
    Export {
        /// The session.
        session: SessionId,
        /// As what.
        format: ExportFormat,
    },
    /// Export a group's results, every answer whole, as JSON lines, CSV
    /// or Markdown (`Update::Exported` once whole).
    ExportGroup {
        /// The group.
        group: SessionId,
        /// As what.
        format: ExportFormat,
    },
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
    /// Sign in to an HTTP MCP server (`studio mcp login`, in the browser).
    SignInMcp(String),
    /// Forget an HTTP MCP server's sign-in.
    SignOutMcp(String),
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
    /// Store a value an installed plugin declares it needs, as a secret.
    SetPluginValue {
        /// The plugin.
        plugin: String,
        /// The variable it declares.
        name: String,
        /// Its value (never shown again).
        value: Secret,
    },
    /// Forget every value and sign-in stored for a plugin (once it is
    /// removed).
    ForgetPluginValues(String),
    /// A view's own tool call (MCP Apps), numbered by `ticket` for its
    /// answer (`Update::AppCall`).
    AppToolCall {
        /// The app's number for it.
        ticket: u64,
        /// The session whose view asks.
        session: SessionId,
        /// The view's `ui://` resource.
        uri: String,
        /// The view's server.
        server: String,
        /// The tool's name on that server.
        tool: String,
        /// Arguments as JSON text.
        arguments: String,
    },
}

/// The approval rules an agent form adds and removes: made only once the
/// agent is saved, so a cancelled edit changes nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleChanges {
    /// Rules to add for the agent.
    pub add: Vec<NewRule>,
    /// Ids of its stored rules to remove.
    pub remove: Vec<String>,
}

impl RuleChanges {
    /// No rule is added or removed.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }

    /// What was not done for `agent`, when its save failed, e.g. "its rule
    /// for coder was not added: shell allow".
    pub fn not_made(&self, agent: &str) -> String {
        let plural = |n: usize| {
            if n == 1 {
                ("rule", "was")
            } else {
                ("rules", "were")
            }
        };
        let mut parts = Vec::new();
        if !self.add.is_empty() {
            let (what, were) = plural(self.add.len());
            let list: Vec<_> = self
                .add
                .iter()
                .map(|r| format!("{} {}", r.matches, r.decision))
                .collect();
            parts.push(format!(
                "its {what} for {agent} {were} not added: {}",
                list.join(", ")
            ));
        }
        if !self.remove.is_empty() {
            let (what, were) = plural(self.remove.len());
            parts.push(format!(
                "its {what} {} {were} not removed",
                self.remove.join(", ")
            ));
        }
        parts.join("; ")
    }
}

/// An approval rule to add for an agent (the daemon assigns its id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRule {
    /// Which calls.
    pub matches: RuleMatch,
    /// What it decides.
    pub decision: RuleDecision,
    /// Higher first.
    pub priority: i32,
}

impl NewRule {
    /// The request that adds it for `agent`.
    pub fn add_for(self, agent: &str) -> protocol::control::ControlRequest {
        protocol::control::ControlRequest::RuleAdd {
            agent: Some(agent.to_owned()),
            matches: self.matches,
            decision: self.decision,
            priority: self.priority,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_changes_not_made_name_each_rule_once() {
        let rule = |matches: &str, decision| NewRule {
            matches: matches.parse().unwrap(),
            decision,
            priority: 0,
        };
        let mut changes = RuleChanges::default();
        assert!(changes.is_empty());
        changes.add.push(rule("shell", RuleDecision::Allow));
        assert_eq!(
            changes.not_made("coder"),
            "its rule for coder was not added: shell allow"
        );
        changes.add.push(rule("fs.*", RuleDecision::Deny));
        changes.remove = vec!["r1".into(), "r2".into()];
        assert_eq!(
            changes.not_made("coder"),
            "its rules for coder were not added: shell allow, fs.* deny; \
             its rules r1, r2 were not removed"
        );
        let only_removed = RuleChanges {
            add: Vec::new(),
            remove: vec!["r9".into()],
        };
        assert!(!only_removed.is_empty());
        assert_eq!(
            only_removed.not_made("coder"),
            "its rule r9 was not removed"
        );
    }
}
