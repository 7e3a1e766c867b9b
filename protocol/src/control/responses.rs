//! What the daemon sends a client: the one answer to each request
//! ([`ControlResponse`], or a typed [`ControlError`]) and the pushes of a
//! stream ([`Push`]), each in a [`ServerFrame`].

use serde::{Deserialize, Serialize};

use super::{
    Comparison, DaemonStatus, Group, GroupSummary, KeyInfo, ListKind, PricingTable, ProviderModels,
    SecretsInfo, SessionSummary, Setup, SpendRow, StoreReport,
};
use crate::agent::AgentConfig;
use crate::approval::{ApprovalRule, PendingApproval};
use crate::event::Event;
use crate::ids::SessionId;
use crate::mcp::McpServerConfig;

/// The daemon's frames to a client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ServerFrame {
    /// The one answer to request `id`.
    Response {
        /// The request's id.
        id: u64,
        /// Success or a typed error.
        result: Result<ControlResponse, ControlError>,
    },
    /// A streamed item for the subscription opened by request `id`.
    Push {
        /// The subscribing request's id.
        id: u64,
        /// The item.
        push: Push,
    },
}

/// Successful answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ControlResponse {
    /// Answer to [`ControlRequest::Ping`].
    Pong,
    /// Done, nothing to return.
    Ok,
    /// Answer to [`ControlRequest::Status`].
    Status(DaemonStatus),
    /// One agent.
    Agent(AgentConfig),
    /// All agents, by name.
    Agents(Vec<AgentConfig>),
    /// The run's session id.
    RunAccepted {
        /// Session created for the run.
        session: SessionId,
    },
    /// Answer to [`ControlRequest::RunBatch`].
    BatchAccepted {
        /// The runs' sessions, in the order of the request.
        sessions: Vec<SessionId>,
    },
    /// Session summaries.
    Sessions(Vec<SessionSummary>),
    /// One session summary.
    Session(SessionSummary),
    /// What a session was set up with.
    Setup(Box<Setup>),
    /// A page of events in seq order.
    Events(Vec<Event>),
    /// A stream is open; pushes follow.
    Subscribed,
    /// Answer to [`ControlRequest::KeyList`], one entry per provider that takes a key.
    Keys(Vec<KeyInfo>),
    /// The pricing table in force.
    Pricing(PricingTable),
    /// Answer to [`ControlRequest::ModelList`].
    Models(Vec<ProviderModels>),
    /// A rule, as stored.
    Rule(ApprovalRule),
    /// Rules in evaluation order.
    Rules(Vec<ApprovalRule>),
    /// Tool calls waiting for a person, oldest first.
    Approvals(Vec<PendingApproval>),
    /// Configured MCP servers, by name.
    McpServers(Vec<McpServerConfig>),
    /// The tools a server offers, as `server.tool`.
    McpTools(Vec<String>),
    /// An interactive session is open.
    ChatOpened {
        /// The session.
        session: SessionId,
        /// Events up to this seq were recorded before this client came: follow
        /// after it for what is new.
        after_seq: u64,
        /// A new worker continues a recorded session (`session.resumed`).
        resumed: bool,
    },
    /// Answer to [`ControlRequest::StoreCheck`].
    StoreCheck(StoreReport),
    /// Answer to [`ControlRequest::SecretList`].
    Secrets(SecretsInfo),
    /// Answer to [`ControlRequest::Compare`].
    Compared(Box<Comparison>),
    /// Group summaries.
    Groups(Vec<GroupSummary>),
    /// Answer to [`ControlRequest::GroupGet`].
    Group(Box<Group>),
    /// Answer to [`ControlRequest::Spend`].
    Spend(Vec<SpendRow>),
    /// Answer to [`ControlRequest::Delete`] and [`ControlRequest::Gc`].
    Deleted(super::DeleteReport),
    /// Answer to [`ControlRequest::CapsToday`].
    CapsToday(Vec<crate::caps::AgentDayStanding>),
    /// Answer to [`ControlRequest::WorkspaceDiff`].
    Diff(Box<crate::workspace::RunDiff>),
    /// Answer to [`ControlRequest::Apply`].
    Applied(crate::workspace::ApplyReport),
    /// Answer to [`ControlRequest::SetOtlp`] and [`ControlRequest::OtlpStatus`].
    Otlp(super::OtlpSettings),
    /// Answer to [`super::ControlRequest::AppToolCall`]: the call started;
    /// its `tool.*` events carry this id.
    AppCallStarted {
        /// The call.
        call_id: String,
    },
}

/// Streamed items.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[expect(
    clippy::large_enum_variant,
    reason = "a push is decoded, handled and dropped; never held in bulk"
)]
pub enum Push {
    /// A recorded event of the followed session.
    Event(Event),
    /// A session changed status (or its live figures changed).
    SessionChanged(SessionSummary),
    /// Sessions were deleted.
    SessionsRemoved(Vec<crate::ids::SessionId>),
    /// One of the daemon's lists changed ([`ControlRequest::WatchLists`]).
    ListChanged(ListKind),
    /// The stream is over: the followed session ended. (When the daemon
    /// stops, the connection simply closes.)
    End,
}

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ControlError {
    /// Category, for exit codes and UI treatment.
    pub kind: ErrorKind,
    /// Human-readable message.
    pub message: String,
}

impl ControlError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// Categories of [`ControlError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// The named agent or session does not exist.
    NotFound,
    /// The request makes no sense as given.
    Invalid,
    /// It conflicts with existing state (e.g. the agent exists).
    Conflict,
    /// The daemon is shutting down or cannot do it now.
    Unavailable,
    /// A bug or an I/O failure inside the daemon.
    Internal,
    /// Only a person may ask this: the request changes what agents may do
    /// (or sends a key somewhere) and comes from inside a session.
    Forbidden,
    /// The request or its answer does not fit in one frame
    /// ([`crate::codec::MAX_FRAME_LEN`]).
    TooLarge,
    /// A spend cap ([`crate::caps::SpendCaps`]) would be passed: the
    /// session was not started.
    OverCap,
}
