//! The parts events are made of: a session's status, why it stopped,
//! how its worker exited, which budget, who decided a call, token usage.

use std::fmt;

use serde::{Deserialize, Serialize};

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
    /// Its stored record or one of its events does not decode (a damaged
    /// database; [`crate::control::SessionSummary::damage`] says what).
    /// Only reported, never stored.
    Corrupt,
    /// Running, but a tool call waits for a person to approve or deny it
    /// ([`crate::control::SessionSummary::waiting`] says since when and
    /// until when). Only reported, never stored.
    Waiting,
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
                | SessionStatus::Waiting
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
            SessionStatus::Corrupt => "corrupt",
            SessionStatus::Waiting => "waiting",
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
    /// The cluster its worker ran on ended the job (`scancel` by someone
    /// else, preemption).
    Cluster,
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
    /// US dollars of the agent's sessions of the day (its daily cap).
    DailyCost,
    /// Tokens of the agent's sessions of the day (its daily cap).
    DailyTokens,
    /// Sessions of the agent started that day (its daily cap).
    DailyRuns,
    /// US dollars of the group's runs (the group's cap).
    GroupCost,
    /// Tokens of the group's runs (the group's cap).
    GroupTokens,
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
