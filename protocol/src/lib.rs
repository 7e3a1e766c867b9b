//! Every type that crosses an AI Studio process boundary, and the frame codec.
//!
//! Layout:
//! - [`ids`] and [`time`]: identifiers and timestamps.
//! - [`agent`]: an agent's configuration, budgets and the scripted provider's script.
//! - [`app_view`]: MCP Apps views and a view's own tool calls.
//! - [`base_url`]: provider base URLs as people paste them, made usable.
//! - [`caps`]: spend caps over many sessions (an agent's day, a group).
//! - [`checks`]: checks that score a run's answer.
//! - [`approval`]: approval rules, ask policies and pending approvals.
//! - [`mcp`]: MCP server configurations.
//! - [`message`]: chat history as sent to a worker.
//! - [`secret`]: API keys that never print.
//! - [`event`]: the event enum every session records (`session.*`, `llm.*`, `tool.*`, ...).
//! - [`handshake`]: the first frame on every connection.
//! - [`layout`]: where an instance keeps its sockets, token and files.
//! - [`control`]: client <-> daemon requests, responses and pushes.
//! - [`worker`]: daemon <-> worker commands and reports.
//! - [`codec`]: u32 length prefix + bincode framing with a hard size limit.
//!
//! This crate does no I/O beyond reading and writing frames (and reading
//! the environment for the default data dir).

pub mod agent;
pub mod app_view;
pub mod approval;
pub mod base_url;
pub mod caps;
pub mod checks;
pub mod codec;
pub mod control;
pub mod event;
pub mod handshake;
pub mod ids;
pub mod launch;
pub mod layout;
pub mod mcp;
pub mod message;
pub mod plugin;
pub mod sampling;
pub mod sandbox;
pub mod script;
pub mod secret;
pub mod tape;
pub mod time;
pub mod worker;
pub mod workspace;

#[cfg(test)]
mod round_trip_tests;

/// Version of the wire protocol; both ends of a connection must agree.
///
/// Bump it whenever a type in this crate changes its encoding.
pub const PROTOCOL_VERSION: u32 = 31;

pub use agent::{AgentConfig, Budgets, Fault, ProviderKind, SafetyMode, Script, ScriptPatch};
pub use event::{Event, EventKind, SessionStatus};
pub use ids::SessionId;
pub use secret::Secret;
pub use time::Timestamp;
