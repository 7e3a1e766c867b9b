//! A row of the groups table: runs started together as one experiment.

use protocol::{SessionId, Timestamp};
use serde::{Deserialize, Serialize};

use super::{Record, decode_current, decode_old};

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
    /// Caps on what its runs spend together.
    pub(crate) caps: protocol::caps::SpendCaps,
    /// Checks each of its runs' answers is scored by.
    pub(crate) checks: Vec<protocol::checks::Check>,
}

impl Record for GroupRecord {
    /// 2: with `caps` and `checks`.
    const VERSION: u8 = 2;
    const WHAT: &'static str = "group";

    fn decode_version(version: u8, payload: &[u8]) -> Result<Self, String> {
        match version {
            1 => decode_old::<GroupRecordV1, _>(payload),
            _ => decode_current(Self::VERSION, version, payload),
        }
    }
}

/// Version 1: before `caps` and `checks`.
#[derive(Deserialize)]
struct GroupRecordV1 {
    id: SessionId,
    name: String,
    created_at: Timestamp,
    runs: u32,
    preferred: Option<SessionId>,
}

impl From<GroupRecordV1> for GroupRecord {
    fn from(v1: GroupRecordV1) -> GroupRecord {
        GroupRecord {
            id: v1.id,
            name: v1.name,
            created_at: v1.created_at,
            runs: v1.runs,
            preferred: v1.preferred,
            caps: Default::default(),
            checks: Vec::new(),
        }
    }
}
