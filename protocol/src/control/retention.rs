//! Retention: deleting sessions and groups (`studio rm`), and removing
//! everything that ended long ago (`studio gc`).

use serde::{Deserialize, Serialize};

use crate::ids::SessionId;

/// What a deletion or a gc removed (or, with `dry_run`, would remove).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeleteReport {
    /// The sessions, named ones and those going on from them (branches
    /// and replays: their conversations begin with their origin's).
    pub sessions: Vec<SessionId>,
    /// How many of `sessions` were not named but go on from one that was.
    pub descendants: u32,
    /// Groups left without a run, removed with them.
    pub groups: Vec<SessionId>,
    /// Events of the sessions.
    pub events: u64,
    /// Runs' own workspaces removed with them (`workspace_per_run`).
    pub workspaces: u32,
    /// Nothing was removed: this is what would be.
    pub dry_run: bool,
    /// The database file before, in bytes.
    pub bytes_before: u64,
    /// The database file after its compaction, in bytes (as before for a
    /// dry run).
    pub bytes_after: u64,
}
