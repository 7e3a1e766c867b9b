//! A row of the groups table: runs started together as one experiment.

use protocol::{SessionId, Timestamp};
use serde::{Deserialize, Serialize};

use super::{Record, decode_current};

/// What a group is, beyond its runs (each run keeps the group's id as its
/// `SessionRecord::batch`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct GroupRecord {
    /// Its first run's session id.
    pub(crate) id: SessionId,
    /// Given at start, else its first run's prompt (first line).
    pub(crate) name: String,
    pub(crate) created_at: Timestamp,
    /// How many runs were queued in it.
    pub(crate) runs: u32,
    /// The run a person marked as the preferred result.
    pub(crate) preferred: Option<SessionId>,
}

impl Record for GroupRecord {
    const VERSION: u8 = 1;
    const WHAT: &'static str = "group";

    fn decode_version(version: u8, payload: &[u8]) -> Result<Self, String> {
        decode_current(Self::VERSION, version, payload)
    }
}
