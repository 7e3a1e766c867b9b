//! Groups: runs started together as one experiment (attempts of one
//! prompt, the same prompt on several agents or models, a batch file), and
//! what `studio groups`, `studio group ID` and the app's results table show
//! of them.

use serde::{Deserialize, Serialize};

use super::answers::SessionSummary;
use crate::event::{SessionStatus, Usage};
use crate::ids::SessionId;
use crate::time::Timestamp;

/// How much of each answer a [`GroupRun`] carries unless asked for more,
/// in characters.
pub const ANSWER_EXCERPT_CHARS: u32 = 400;

/// The most of an answer a [`GroupRun`] carries, in characters (an export
/// asks for this much, a page of [`GROUP_PAGE_FULL_ANSWERS`] runs at a time).
pub const MAX_ANSWER_CHARS: u32 = 64 * 1024;

/// Most runs one answer to a group request carries.
pub const MAX_GROUP_PAGE: u32 = 1000;

/// Most runs a page carries when their answers are asked for whole, so
/// that the page stays well within a frame.
pub const GROUP_PAGE_FULL_ANSWERS: u32 = 32;

/// Longest group name, in characters.
pub const MAX_GROUP_NAME_CHARS: usize = 200;

/// A group as `studio groups` lists it: what it is and its totals so far.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    /// The group's id: its first run's session id, which every run of it
    /// keeps as [`SessionSummary::batch`].
    pub id: SessionId,
    /// What it is called: given at start, else its first run's prompt.
    pub name: String,
    /// When it was started.
    pub created_at: Timestamp,
    /// How many runs it has.
    pub runs: u32,
    /// How many runs are in each status, in the order of
    /// [`SessionStatus`]'s first appearance among its runs.
    pub by_status: Vec<StatusCount>,
    /// Tokens summed over its runs.
    pub usage: Usage,
    /// US dollars summed over its runs' priced responses.
    pub cost_usd: f64,
    /// Responses without a price (not in `cost_usd`).
    pub unpriced: u32,
    /// From its first run's start to its last run's end (or now, while a
    /// run is unfinished), in microseconds; 0 before any run started.
    pub wall_micros: u64,
    /// The run a person marked as the preferred result.
    pub preferred: Option<SessionId>,
    /// Caps on what its runs spend together (empty: none).
    pub caps: crate::caps::SpendCaps,
    /// Checks each of its runs' answers is scored by.
    pub checks: Vec<crate::checks::Check>,
}

impl GroupSummary {
    /// How many of its runs are in `status`.
    pub fn count(&self, status: SessionStatus) -> u32 {
        self.by_status
            .iter()
            .find(|c| c.status == status)
            .map_or(0, |c| c.runs)
    }

    /// How many of its runs have ended, however they ended.
    pub fn ended(&self) -> u32 {
        self.by_status
            .iter()
            .filter(|c| c.status.is_terminal())
            .map(|c| c.runs)
            .sum()
    }
}

/// Runs in one status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCount {
    /// The status.
    pub status: SessionStatus,
    /// How many runs are in it.
    pub runs: u32,
}

/// A group with a page of its runs: the results table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// The group and its totals (over all its runs).
    pub summary: GroupSummary,
    /// The index of the first run of `runs` among the group's runs.
    pub from: u32,
    /// A page of its runs, in the order they were queued.
    pub runs: Vec<GroupRun>,
}

/// One run of a group, as its results table shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupRun {
    /// The run's session.
    pub summary: SessionSummary,
    /// The provider it ran on (`openai`, `scripted`, ...).
    pub provider: String,
    /// The model it ran on.
    pub model: String,
    /// The start of its last answer (as many characters as asked, at
    /// most [`MAX_ANSWER_CHARS`]), empty before one.
    pub answer: String,
    /// Whether the answer was cut to fit.
    pub answer_cut: bool,
    /// From its start to its end (or now), microseconds; `None` before it
    /// started.
    pub duration_micros: Option<u64>,
    /// Its group's checks, as they came out (empty before it completed).
    pub checks: Vec<crate::checks::CheckOutcome>,
    /// What it changed in its own workspace, once it ended (`None`: it
    /// had none, or it has not ended).
    pub changes: Option<crate::workspace::Changes>,
}
