//! What sessions spent, summed by agent, model or day (`studio cost --by`).

use serde::{Deserialize, Serialize};

use crate::event::Usage;

/// How [`super::ControlRequest::Spend`] sums sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpendBy {
    /// By agent name.
    Agent,
    /// By the model a session ran on.
    Model,
    /// By the UTC day a session was created (`2026-12-04`).
    Day,
}

/// What the sessions of one agent, model or day spent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpendRow {
    /// The agent's name, the model, or the day.
    pub key: String,
    /// How many sessions.
    pub sessions: u32,
    /// Tokens summed over their responses.
    pub usage: Usage,
    /// US dollars summed over their priced responses.
    pub cost_usd: f64,
    /// Responses without a price (not in `cost_usd`).
    pub unpriced: u32,
}
