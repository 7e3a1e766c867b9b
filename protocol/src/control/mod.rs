//! The control socket: clients (CLI, desktop app) talk to the daemon.
//!
//! After the handshake a client sends [`ClientFrame`]s, each carrying an id
//! it chose; the daemon answers each with exactly one
//! [`ServerFrame::Response`] with the same id. Requests that open a stream
//! ([`ControlRequest::Follow`], [`ControlRequest::WatchSessions`],
//! [`ControlRequest::WatchLists`]) are then
//! followed by [`ServerFrame::Push`]es with that id until
//! [`Push::End`] or [`ControlRequest::Unsubscribe`]. Requests are served
//! concurrently: responses may arrive out of order.

use serde::{Deserialize, Serialize};

use crate::agent::{AgentConfig, Budgets, ProviderKind, ScriptPatch};
use crate::approval::{AskPolicy, RuleDecision, RuleMatch};
use crate::caps::SpendCaps;
use crate::ids::SessionId;
use crate::mcp::McpServerConfig;
use crate::secret::Secret;

mod answers;
mod compare;
mod groups;
mod otlp;
mod replay;
mod request_kinds;
mod responses;
mod retention;
mod spend;

pub use answers::{
    DaemonStatus, DamagedRecord, Estimated, KeyInfo, KeySource, ModelPrice, PriceEntry,
    PricingTable, ProviderModels, SETUP_INHERITED_MESSAGES, SETUP_TEXT_CHARS, SecretInfo,
    SecretLocation, SecretsInfo, SessionSummary, SessionTotals, Setup, StoreReport, StoreStall,
    TableReport, Waiting,
};
pub use compare::{
    COMPARE_TEXT_CHARS, Change, Compared, Comparison, Figures, MAX_COMPARE_ROWS, MAX_COMPARED,
    MIN_COMPARED, Row, RowWindow, Span, Step, StepKind,
};
pub use groups::{
    ANSWER_EXCERPT_CHARS, GROUP_PAGE_FULL_ANSWERS, Group, GroupRun, GroupSummary, MAX_ANSWER_CHARS,
    MAX_GROUP_NAME_CHARS, MAX_GROUP_PAGE, StatusCount,
};
pub use otlp::OtlpSettings;
pub use replay::ReplaySpec;
pub use responses::{ControlError, ControlResponse, ErrorKind, Push, ServerFrame};
pub use retention::DeleteReport;
pub use spend::{SpendBy, SpendRow};

/// A list the daemon owns and clients show: [`Push::ListChanged`] names
/// the one that changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ListKind {
    /// Agents ([`ControlRequest::AgentList`]).
    Agents,
    /// Provider keys ([`ControlRequest::KeyList`]) and where secrets live
    /// ([`ControlRequest::SecretList`]).
    Keys,
    /// MCP servers ([`ControlRequest::McpList`]), and where their secrets live.
    McpServers,
    /// Approval rules ([`ControlRequest::RuleList`]).
    Rules,
    /// Model prices ([`ControlRequest::PricingList`]).
    Prices,
    /// The daemon's limits (in [`ControlRequest::Status`]).
    Limits,
}

impl ListKind {
    /// Every list.
    pub const ALL: [ListKind; 6] = [
        ListKind::Agents,
        ListKind::Keys,
        ListKind::McpServers,
        ListKind::Rules,
        ListKind::Prices,
        ListKind::Limits,
    ];
}

/// A request with the id its response will carry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientFrame {
    /// Chosen by the client, unique among its open requests, never 0:
    /// the daemon uses id 0 for an error about the connection itself (a
    /// malformed frame) just before it closes it.
    pub id: u64,
    /// What to do.
    pub request: ControlRequest,
}

/// Everything a client can ask of the daemon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[expect(
    clippy::large_enum_variant,
    reason = "a request is decoded, answered and dropped; never held in bulk"
)]
pub enum ControlRequest {
    /// Liveness check. Replies [`ControlResponse::Pong`].
    Ping,
    /// Replies [`ControlResponse::Status`].
    Status,
    /// Stop the daemon: live sessions are killed and recorded as interrupted.
    /// Replies [`ControlResponse::Ok`] before shutting down.
    Shutdown,
    /// Create an agent, or replace it when `replace` is set. Replies [`ControlResponse::Ok`].
    AgentCreate {
        /// The agent (boxed: the largest request by far).
        agent: Box<AgentConfig>,
        /// Overwrite an agent of the same name.
        replace: bool,
    },
    /// Replies [`ControlResponse::Agents`].
    AgentList,
    /// Replies [`ControlResponse::Agent`].
    AgentGet {
        /// Agent name.
        name: String,
    },
    /// Delete an agent; its sessions stay. Replies [`ControlResponse::Ok`].
    AgentRemove {
        /// Agent name.
        name: String,
    },
    /// Start (or queue) a headless run. Replies [`ControlResponse::RunAccepted`].
    Run(RunSpec),
    /// Queue many runs at once as one group (attempts, a matrix of agents
    /// or models, a batch file), of which at most `parallel` are live at a
    /// time (and never more than the daemon's limit). Every run is checked
    /// before any is queued: a bad one queues none. Replies
    /// [`ControlResponse::BatchAccepted`].
    RunBatch {
        /// The runs, in the order they start.
        runs: Vec<RunSpec>,
        /// Most of them live at once (at least 1).
        parallel: u32,
        /// The group's name (at most [`MAX_GROUP_NAME_CHARS`]); empty: its
        /// first run's prompt.
        name: String,
        /// Caps on what the group's runs spend together: a batch over its
        /// run cap is refused whole, a run that would start over its cost
        /// or token cap ends before it starts, and live ones that cross
        /// it are cancelled.
        caps: SpendCaps,
        /// Checks each run's answer is scored by (at most
        /// [`crate::checks::MAX_CHECKS`]).
        checks: Vec<crate::checks::Check>,
    },
    /// Change the daemon's limits; they are stored and outlive a restart
    /// (unless the daemon is started with `--max-concurrent`). Replies
    /// [`ControlResponse::Status`] with the limits now in force.
    LimitsSet {
        /// Most headless runs live at once (1 to [`MAX_CONCURRENT_RUNS`]);
        /// `None` keeps the current limit.
        max_concurrent_runs: Option<u32>,
        /// Most interactive sessions live at once (1 to
        /// [`MAX_LIVE_CHATS`]); `None` keeps the current limit.
        max_live_chats: Option<u32>,
    },
    /// Replies [`ControlResponse::Sessions`], newest first.
    SessionList {
        /// Include ended sessions.
        all: bool,
        /// At most this many.
        limit: u32,
    },
    /// Groups, newest first, with their totals. Replies
    /// [`ControlResponse::Groups`].
    GroupList {
        /// At most this many.
        limit: u32,
    },
    /// A group with a page of its runs. Replies [`ControlResponse::Group`].
    GroupGet {
        /// The group's id, short id or prefix (its first run's).
        id: String,
        /// The index of the first run to send.
        from: u32,
        /// Most runs to send (at most [`MAX_GROUP_PAGE`], or
        /// [`GROUP_PAGE_FULL_ANSWERS`] when `answer_chars` is over
        /// [`ANSWER_EXCERPT_CHARS`]).
        limit: u32,
        /// How much of each run's last answer to send, in characters (at
        /// most [`MAX_ANSWER_CHARS`]).
        answer_chars: u32,
    },
    /// What sessions spent, summed by agent, model or day, most first (days
    /// newest first). Replies [`ControlResponse::Spend`].
    Spend {
        /// How to sum them.
        by: SpendBy,
        /// Only sessions created at or after this time.
        since: Option<crate::time::Timestamp>,
    },
    /// Deletes sessions (or, with `groups`, groups with all their runs),
    /// and every session going on from one of them; then compacts the
    /// database. A live session among them refuses the whole request.
    /// Replies [`ControlResponse::Deleted`].
    Delete {
        /// Session (or group) ids, short ids or prefixes.
        ids: Vec<String>,
        /// The ids name groups.
        groups: bool,
        /// Only say what would go.
        dry_run: bool,
    },
    /// Deletes every session that ended more than `older_than_secs` ago,
    /// unless a kept session goes on from it, and groups left without a
    /// run; then compacts the database. Replies [`ControlResponse::Deleted`].
    Gc {
        /// How long ago a session must have ended, in seconds.
        older_than_secs: u64,
        /// Only say what would go.
        dry_run: bool,
    },
    /// A run's changes to its own workspace, with the patch; with
    /// `against`, how its result differs from another run's. Replies
    /// [`ControlResponse::Diff`]; `NotFound` for a run without one. Not
    /// from inside a session: a run whose end recorded no result is
    /// settled first (committed on its branch), which writes.
    WorkspaceDiff {
        /// The run's id, short id or prefix.
        id: String,
        /// Another run to diff it against (its result is the old side).
        against: Option<String>,
    },
    /// Brings an ended run's changes into the workspace its own was made
    /// from; refused (`Conflict`, nothing written) when a change does not
    /// apply there. Uncommitted work there is kept. Replies
    /// [`ControlResponse::Applied`].
    Apply {
        /// The run's id, short id or prefix.
        id: String,
        /// Only check that they apply.
        dry_run: bool,
    },
    /// Each named agent's daily caps and what its sessions of today (UTC)
    /// spent, as the daemon counts them against the caps: shown before a
    /// group starts. Replies [`ControlResponse::CapsToday`].
    CapsToday {
        /// Agent names; empty: every agent.
        agents: Vec<String>,
    },
    /// Marks a run of a group as its preferred result, or (`run: None`)
    /// takes the mark away. Replies [`ControlResponse::Groups`] with the
    /// group alone.
    GroupPrefer {
        /// The group's id, short id or prefix.
        group: String,
        /// A run of the group (id, short id or prefix).
        run: Option<String>,
    },
    /// Look a session up by full id or unique prefix. Replies [`ControlResponse::Session`].
    SessionGet {
        /// Id or prefix.
        id: String,
    },
    /// What a session was set up with: its summary, the agent as it was
    /// when the session started, and a run's spec (for `studio export`).
    /// Replies [`ControlResponse::Setup`].
    SessionSetup {
        /// Id or prefix.
        id: String,
    },
    /// Ask a session to stop; its process group is killed after a grace period.
    /// Replies [`ControlResponse::Ok`] once the request is delivered.
    Cancel {
        /// Session.
        session: SessionId,
    },
    /// Kill a session's process group at once. Replies [`ControlResponse::Ok`]
    /// once the terminal event is recorded.
    Kill {
        /// Session.
        session: SessionId,
    },
    /// A page of recorded events. Replies [`ControlResponse::Events`].
    Events {
        /// Session.
        session: SessionId,
        /// Only events with a larger seq.
        after_seq: u64,
        /// At most this many.
        limit: u32,
    },
    /// Stream a session's events: first the recorded ones after `after_seq`,
    /// then live ones. Replies [`ControlResponse::Subscribed`], then pushes
    /// [`Push::Event`]s and a final [`Push::End`] after the terminal event.
    Follow {
        /// Session.
        session: SessionId,
        /// Only events with a larger seq.
        after_seq: u64,
    },
    /// Stream status changes of all sessions. Replies
    /// [`ControlResponse::Subscribed`], then pushes [`Push::SessionChanged`].
    WatchSessions,
    /// Stream which of the daemon's lists changed (agents, keys, MCP
    /// servers, rules, prices, limits), by any client. Replies
    /// [`ControlResponse::Subscribed`], then pushes [`Push::ListChanged`]
    /// after each change; a watcher lists that one again.
    WatchLists,
    /// Stop the stream opened by the request with this id. Replies [`ControlResponse::Ok`].
    Unsubscribe {
        /// Id of the Follow, WatchSessions or WatchLists request.
        request_id: u64,
    },
    /// Store a provider's API key in the daemon's secret store, the OS
    /// keyring or `DATA_DIR/secrets.json` (replacing one stored before).
    /// Replies [`ControlResponse::Ok`].
    KeySet {
        /// The provider.
        provider: ProviderKind,
        /// The key.
        key: Secret,
    },
    /// Where each provider's key comes from, never the key itself. Replies
    /// [`ControlResponse::Keys`].
    KeyList,
    /// Forget a stored key. Replies [`ControlResponse::Ok`].
    KeyRemove {
        /// The provider.
        provider: ProviderKind,
    },
    /// The models each provider offers, from its own list endpoint.
    /// Replies [`ControlResponse::Models`], with failures per provider.
    ModelList {
        /// One provider, or all.
        provider: Option<ProviderKind>,
        /// Ask this address instead of the provider's default (e.g. a local
        /// OpenAI-compatible server).
        base_url: Option<String>,
        /// Send the provider's key to `base_url` even though it is not the
        /// provider's own host (as an agent's `send_key_to_base_url`).
        send_key: bool,
    },
    /// Add an approval rule. Replies [`ControlResponse::Rule`] with its id.
    RuleAdd {
        /// The agent it applies to; `None` for all.
        agent: Option<String>,
        /// Which calls.
        matches: RuleMatch,
        /// What it decides.
        decision: RuleDecision,
        /// Higher first.
        priority: i32,
    },
    /// Replies [`ControlResponse::Rules`], in evaluation order.
    RuleList,
    /// Delete a rule. Replies [`ControlResponse::Ok`].
    RuleRemove {
        /// Its id.
        id: String,
    },
    /// Tool calls waiting for a person, across all sessions. Replies
    /// [`ControlResponse::Approvals`].
    ApprovalList,
    /// Answer a waiting tool call; the first answer wins. Replies
    /// [`ControlResponse::Ok`], or `NotFound` if it was already decided.
    ApprovalAnswer {
        /// The pending approval's id.
        id: u64,
        /// Let it run.
        approve: bool,
        /// With `approve`: allow the same tool for the rest of the session.
        remember: bool,
    },
    /// Add (or with `replace`, replace) an MCP server. Replies [`ControlResponse::Ok`].
    McpAdd {
        /// The server.
        server: McpServerConfig,
        /// Overwrite one of the same name.
        replace: bool,
    },
    /// Replies [`ControlResponse::McpServers`], without their secrets
    /// (env values and header values are empty).
    McpList,
    /// Forget an MCP server. Replies [`ControlResponse::Ok`].
    McpRemove {
        /// Its name.
        name: String,
    },
    /// Start or connect to a server from a one-shot worker and list its
    /// tools. Replies [`ControlResponse::McpTools`].
    McpTest {
        /// Its name.
        name: String,
    },
    /// The pricing table in force. Replies [`ControlResponse::Pricing`].
    PricingList,
    /// Set (or replace) a model's price; bumps the pricing version.
    /// Replies [`ControlResponse::Pricing`].
    PricingSet {
        /// Model name, or a prefix of model names (`gpt-4o` prices `gpt-4o-2024-08-06`).
        model: String,
        /// The price.
        price: ModelPrice,
    },
    /// Drop a custom price (back to the built-in one, if any); bumps the
    /// pricing version. Replies [`ControlResponse::Pricing`].
    PricingRemove {
        /// Model name as set.
        model: String,
    },
    /// Open an interactive session with an agent: its worker starts at once
    /// (interactive sessions do not wait for a run slot) and the session
    /// goes `session.idle`, waiting for [`ControlRequest::ChatSay`].
    /// Replies [`ControlResponse::ChatOpened`].
    ChatOpen {
        /// Agent name.
        agent: String,
    },
    /// Continue an interactive session by id or prefix: attach to it if it
    /// is live, else start a new worker on its recorded history
    /// (`session.resumed`). Replies [`ControlResponse::ChatOpened`].
    ChatResume {
        /// Id or prefix.
        session: String,
    },
    /// Run a recorded session (a run or a chat) again from the turn of
    /// `spec.at_seq`, keeping the conversation before it (the new
    /// session's `parent` is the original at the event before that turn),
    /// with what `spec` changes: as a headless run (a run's budgets,
    /// script and approval settings are kept; a chat's later turns follow,
    /// each with its recorded message), replying
    /// [`ControlResponse::RunAccepted`], or with `spec.as_chat` as an
    /// interactive session whose first message is that turn's, replying
    /// [`ControlResponse::ChatOpened`].
    Replay {
        /// Id or prefix of the session.
        session: String,
        /// From where, and what changes.
        spec: Box<ReplaySpec>,
    },
    /// Branch a session (interactive or a run) into a new interactive
    /// session whose conversation is the original's up to `at_seq` (its
    /// last event when `None`), optionally with another agent, e.g. to
    /// try a different model from that point. The new session's summary
    /// names its `parent`; the original is left as it is. Replies
    /// [`ControlResponse::ChatOpened`].
    ChatBranch {
        /// Id or prefix of the session branched from.
        session: String,
        /// The last event of the original the branch keeps.
        at_seq: Option<u64>,
        /// The agent that goes on (the original's, as it was, when `None`).
        agent: Option<String>,
    },
    /// The user's next message: starts a turn of an idle interactive
    /// session. Replies [`ControlResponse::Ok`] once the turn started;
    /// `Conflict` while another turn runs.
    ChatSay {
        /// Session.
        session: SessionId,
        /// The message.
        text: String,
    },
    /// End an interactive session (`session.completed` when idle; a running
    /// turn is cancelled). It can be resumed later. Replies
    /// [`ControlResponse::Ok`] once the terminal event is recorded.
    ChatEnd {
        /// Session.
        session: SessionId,
    },
    /// Decode every record of every table of the daemon's database, in
    /// one read transaction (what `studio daemon check` asks when the
    /// daemon holds the file). Replies [`ControlResponse::StoreCheck`].
    StoreCheck,
    /// Every stored secret by name (provider keys, MCP servers' env values
    /// and headers), where it lives, and where new ones go; never a value.
    /// Replies [`ControlResponse::Secrets`].
    SecretList,
    /// Two to four sessions side by side: their steps aligned, the first
    /// divergence, word diffs against the first session, and their
    /// figures. Replies [`ControlResponse::Compared`] with the rows of
    /// `window` (at most `max_rows`, itself at most [`MAX_COMPARE_ROWS`]).
    Compare {
        /// Ids, short ids or prefixes, [`MIN_COMPARED`] to [`MAX_COMPARED`].
        sessions: Vec<String>,
        /// Which rows to send.
        window: RowWindow,
        /// Most rows to send.
        max_rows: u32,
    },
    /// Give a session a title (one line, at most [`MAX_TITLE_CHARS`]); an
    /// empty one gives it back its first message as title. Replies
    /// [`ControlResponse::Session`]; watchers are pushed the change.
    SessionRetitle {
        /// Id, short id or prefix.
        id: String,
        /// The new title.
        title: String,
    },
    /// Send every turn that ends from now on to an OTLP/HTTP endpoint as
    /// traces (`url`), or stop (`None`). The header values are secrets:
    /// the daemon keeps them with its others. Replies
    /// [`ControlResponse::Otlp`].
    SetOtlp {
        /// The traces URL, `…/v1/traces`.
        url: Option<String>,
        /// Headers sent with each request (auth).
        headers: Vec<(String, crate::Secret)>,
    },
    /// Where turns are sent and how that went. Replies
    /// [`ControlResponse::Otlp`].
    OtlpStatus,
    /// Store the value of a variable an installed plugin declares it needs,
    /// as a secret its servers get. Replies [`ControlResponse::Ok`].
    PluginEnvSet {
        /// The installed plugin.
        plugin: String,
        /// The variable it declares.
        name: String,
        /// Its value.
        value: Secret,
    },
    /// Forget a plugin's value, or all of them. Replies [`ControlResponse::Ok`].
    PluginEnvRemove {
        /// The plugin.
        plugin: String,
        /// One variable, or all.
        name: Option<String>,
    },
    /// A view recorded in a session (`app.view`) asks to call a tool of
    /// its own server, on a person's action. The session must be an idle
    /// chat; the call then runs as a turn of its own, through approvals.
    /// Replies [`ControlResponse::AppCallStarted`].
    AppToolCall {
        /// The session.
        session: SessionId,
        /// The view's `ui://` resource.
        uri: String,
        /// The view's server.
        server: String,
        /// The tool's own name on that server.
        tool: String,
        /// Arguments as a JSON object's text.
        arguments: String,
    },
    /// Store the OAuth tokens `studio mcp login` got for an HTTP MCP
    /// server (a [`crate::mcp::McpOAuthTokens`] as JSON), or forget them
    /// (`None`). Replies [`ControlResponse::Ok`].
    McpOAuthSet {
        /// The configured server.
        server: String,
        /// The tokens, as JSON; `None` signs out.
        tokens: Option<Secret>,
    },
}

/// Longest title a person may give a session, in characters.
pub const MAX_TITLE_CHARS: usize = 200;

/// Parameters of one headless run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// Agent name.
    pub agent: String,
    /// The user message the run starts with.
    pub prompt: String,
    /// Free text shown next to the run (e.g. a batch line number).
    pub label: Option<String>,
    /// Changes to the agent's script for this run only.
    pub script: ScriptPatch,
    /// Limits for this run, each overriding the agent's.
    pub budgets: Budgets,
    /// Another model of the agent's provider, for this run only (a
    /// group's `--models`).
    pub model: Option<String>,
    /// Tool calls this run may make without asking (run-scoped allow rules).
    pub approve: Vec<RuleMatch>,
    /// What happens to a call no rule allows or denies.
    pub ask: AskPolicy,
    /// Checks of this run's answer, beside its group's (a batch line's
    /// `checks`).
    pub checks: Vec<crate::checks::Check>,
    /// Where its worker runs; `None`: the daemon's default launcher.
    pub on: Option<crate::launch::Launcher>,
}

/// Most runs one batch may hold (`RunBatch`, a batch file).
pub const MAX_BATCH_RUNS: usize = 10_000;

/// Most [`ControlRequest::LimitsSet`] accepts for concurrent runs.
pub const MAX_CONCURRENT_RUNS: u32 = 1024;

/// Most [`ControlRequest::LimitsSet`] accepts for live interactive sessions.
pub const MAX_LIVE_CHATS: u32 = 1024;
