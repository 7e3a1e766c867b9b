//! What the daemon answers with besides events: its status, a session's
//! summary, totals and setup, prices, keys and models. Re-exported from
//! [`crate::control`].

use serde::{Deserialize, Serialize};

use super::RunSpec;
use crate::agent::ProviderKind;
use crate::event::{EventKind, SessionStatus, Usage};
use crate::ids::SessionId;
use crate::time::Timestamp;

/// A model's price in US dollars per million tokens of each kind.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelPrice {
    /// Input tokens not served from the cache.
    pub input: f64,
    /// Output tokens that are not reasoning.
    pub output: f64,
    /// Input tokens read from the cache.
    pub cache_read: f64,
    /// Input tokens written to the cache.
    pub cache_write: f64,
    /// Reasoning (thinking) output tokens.
    pub reasoning: f64,
}

/// The pricing table: built-in prices and the user's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PricingTable {
    /// Bumped on every change; recorded with each cost.
    pub version: u32,
    /// Every priced model (custom ones replace built-in ones of the same name).
    pub entries: Vec<PriceEntry>,
}

/// One row of the pricing table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriceEntry {
    /// Model name or prefix.
    pub model: String,
    /// Its price.
    pub price: ModelPrice,
    /// Set by the user (`studio pricing set`) rather than shipped.
    pub custom: bool,
}

/// The models of one provider, or why they could not be listed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProviderModels {
    /// The provider.
    pub provider: ProviderKind,
    /// Model names, sorted (empty on error).
    pub models: Vec<String>,
    /// Why listing failed, in the provider's words where it gave some.
    pub error: Option<String>,
}

/// Where a provider's key comes from (the key is never sent back).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// The provider.
    pub provider: ProviderKind,
    /// Where the key the next session would use comes from.
    pub source: KeySource,
    /// When the stored key was set, if one is stored.
    pub stored_at: Option<Timestamp>,
}

/// Where a key comes from; a stored key wins over the environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// `studio keys set`.
    Stored,
    /// The daemon's environment (`OPENAI_API_KEY`, ...).
    Environment,
    /// No key: sessions of this provider will be refused by it.
    Missing,
}

/// Where a stored secret (a provider's key, an MCP server's env values or
/// headers) lives. Never the secret itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretLocation {
    /// The OS keyring (Secret Service on Linux).
    Keyring,
    /// `DATA_DIR/secrets.json` (mode 0600), where no OS keyring is available.
    File,
}

impl SecretLocation {
    /// `keyring` or `file`, as listings show it.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretLocation::Keyring => "keyring",
            SecretLocation::File => "file",
        }
    }
}

impl std::fmt::Display for SecretLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One stored secret, by name: where it lives and when it was stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecretInfo {
    /// `key/PROVIDER` for a provider's key, `mcp/SERVER` for the env
    /// values or headers of an MCP server.
    pub name: String,
    /// Where its value is.
    pub location: SecretLocation,
    /// When it was stored.
    pub stored_at: Timestamp,
}

/// Every stored secret and where new ones go.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecretsInfo {
    /// Where a secret stored now goes.
    pub store: SecretLocation,
    /// Why the OS keyring is not in use, when it is not (not built in,
    /// no Secret Service answering, turned off with `--secret-store file`).
    pub keyring_unavailable: Option<String>,
    /// The stored secrets, by name.
    pub secrets: Vec<SecretInfo>,
}

/// What `studio daemon status` shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DaemonStatus {
    /// Daemon process id.
    pub pid: u32,
    /// Daemon package version.
    pub version: String,
    /// Data directory in use.
    pub data_dir: String,
    /// When the daemon started.
    pub started_at: Timestamp,
    /// Sessions with a live worker.
    pub live_sessions: u32,
    /// Runs waiting for a slot.
    pub queued_runs: u32,
    /// Most runs live at once.
    pub max_concurrent_runs: u32,
    /// Interactive sessions with a live worker.
    pub live_chats: u32,
    /// Most interactive sessions live at once; opening one more is refused.
    pub max_live_chats: u32,
    /// How sessions are held and commands confined on this machine, and
    /// what it lacks, one line each (`processes: ...`, `commands: ...`).
    pub containment: Vec<String>,
    /// Set while the store cannot commit (a full disk, an I/O error):
    /// what is queued waits, and lands once it can.
    pub store_stalled: Option<StoreStall>,
}

/// The store cannot write: since when, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreStall {
    /// The first failed commit.
    pub since: Timestamp,
    /// The last commit's error, e.g. `No space left on device (os error 28)`.
    pub error: String,
}

impl std::fmt::Display for StoreStall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the store is stalled: {} since {}",
            self.error, self.since
        )
    }
}

/// What a session was set up with (`SessionSetup`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Setup {
    /// Its summary.
    pub summary: SessionSummary,
    /// The agent as it was when the session started (no secrets: keys and
    /// MCP servers' settings are kept apart).
    pub agent: crate::agent::AgentConfig,
    /// What a headless run was started with; `None` for a chat.
    pub run: Option<RunSpec>,
    /// For a branch, the conversation it goes on from, as its model is
    /// sent it (its ancestry's, each up to its branch point); empty for a
    /// session that is not a branch. At most the latest
    /// [`SETUP_INHERITED_MESSAGES`], each text cut at
    /// [`SETUP_TEXT_CHARS`] (ending in `…`), so it always fits one frame.
    pub inherited: Vec<crate::message::ChatMessage>,
    /// Older inherited messages left out of `inherited`.
    pub inherited_left_out: u32,
}

/// Most inherited messages a [`Setup`] carries.
pub const SETUP_INHERITED_MESSAGES: usize = 1000;

/// Longest text (a message, a tool output, a call's arguments) of an
/// inherited message in a [`Setup`], in characters.
pub const SETUP_TEXT_CHARS: usize = 2000;

/// One row of `studio ps`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionSummary {
    /// Session id.
    pub id: SessionId,
    /// Agent name.
    pub agent: String,
    /// Label given at run time.
    pub label: Option<String>,
    /// What to call it: the title a person gave it, else the first line of
    /// its first message (empty before one).
    pub title: String,
    /// Current status.
    pub status: SessionStatus,
    /// Worker pid while live.
    pub pid: Option<u32>,
    /// Worker resident memory at the last sample, bytes, while live.
    pub rss_bytes: Option<u64>,
    /// Number of recorded events (the last seq).
    pub events: u64,
    /// When the session was created.
    pub created_at: Timestamp,
    /// When its worker started.
    pub started_at: Option<Timestamp>,
    /// When it ended.
    pub ended_at: Option<Timestamp>,
    /// Session it was branched from.
    pub parent: Option<SessionId>,
    /// The parent's last event the branch kept (its branch point).
    pub branched_at: Option<u64>,
    /// An interactive session (`studio chat`) rather than a headless run.
    pub interactive: bool,
    /// Tokens and cost so far; `None` for sessions recorded before the
    /// daemon kept totals.
    pub totals: Option<SessionTotals>,
    /// What responses whose usage has not arrived are estimated to have
    /// spent: the one streaming now, and any cut short by a kill, cancel or
    /// crash (providers bill those too). Not in `totals`.
    pub estimated: Estimated,
    /// Tool calls waiting for a person, while there are any (the status
    /// is then [`SessionStatus::Waiting`]).
    pub waiting: Option<Waiting>,
    /// The batch a run was queued in, named by the batch's first run
    /// (which names itself); `None` for a chat or a run queued alone.
    pub batch: Option<SessionId>,
    /// When its last event was recorded (for sessions recorded before the
    /// daemon kept it: when it last started or ended).
    pub last_activity: Timestamp,
    /// What of the session's stored data does not decode (its record or
    /// an event: table, key and error), when its status is
    /// [`SessionStatus::Corrupt`].
    pub damage: Option<String>,
    /// The cluster job its worker runs in while live (a launcher other
    /// than `local`; `pid` is then `None`).
    pub job: Option<String>,
}

/// What a session has spent: the sum of its responses' usage and costs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionTotals {
    /// Token counts summed over every completed model response.
    pub usage: Usage,
    /// US dollars summed over the priced responses.
    pub cost_usd: f64,
    /// Responses whose model has no price (not in `cost_usd`).
    pub unpriced: u32,
}

impl SessionTotals {
    /// Adds what `kind` spent, if it is `llm.response.completed` or `llm.cost`.
    pub fn add(&mut self, kind: &EventKind) {
        match kind {
            EventKind::LlmResponseCompleted { usage, .. }
            | EventKind::CheckJudged { usage, .. } => {
                self.usage.add(usage);
            }
            EventKind::LlmCost { usd: Some(usd), .. } => self.cost_usd += usd,
            EventKind::LlmCost { usd: None, .. } => self.unpriced += 1,
            _ => {}
        }
    }
}

/// A session's tool calls waiting for a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    /// How many calls wait.
    pub calls: u32,
    /// When the longest-waiting call began to wait.
    pub since: Timestamp,
    /// When the first of them is denied unanswered.
    pub decided_by: Timestamp,
}

/// Tokens and cost estimated from text (about four bytes a token) for
/// responses the provider never reported usage for, yet or ever.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Estimated {
    /// Estimated token counts (input and output only).
    pub usage: Usage,
    /// US dollars at the model's price when the session was created.
    pub cost_usd: f64,
    /// The model had no price then (`cost_usd` is 0).
    pub unpriced: bool,
}

impl Estimated {
    /// Whether anything is estimated.
    pub fn is_empty(&self) -> bool {
        self.usage.input_tokens == 0 && self.usage.output_tokens == 0
    }
}

/// What `studio daemon check` found: every record of every table decoded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StoreReport {
    /// The database file.
    pub path: String,
    /// Each table, in the order checked.
    pub tables: Vec<TableReport>,
    /// Every record that does not decode, in the order found.
    pub damaged: Vec<DamagedRecord>,
}

impl StoreReport {
    /// Records read, damaged ones included.
    pub fn records(&self) -> u64 {
        self.tables.iter().map(|t| t.records).sum()
    }
}

/// One table's count.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TableReport {
    /// Table name (`sessions`, `events`, ...).
    pub name: String,
    /// Records read, damaged ones included.
    pub records: u64,
    /// Records that do not decode.
    pub damaged: u64,
}

/// A stored record that does not decode (or a part of a table that cannot
/// be read at all).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DamagedRecord {
    /// Table name.
    pub table: String,
    /// Its key as text: a session id, `SESSION #SEQ` for an event, a name.
    pub key: String,
    /// The session it belongs to, if any.
    pub session: Option<SessionId>,
    /// Why it does not decode.
    pub error: String,
}

impl std::fmt::Display for DamagedRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "record {} of table {} does not decode: {}",
            self.key, self.table, self.error
        )
    }
}
