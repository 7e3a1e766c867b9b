//! Runs' own workspaces as their events recorded them: where each is
//! (`workspace.created`) and what it left (`workspace.changed`), for
//! `studio diff`, `studio apply` and removing them with their runs.

use protocol::SessionId;
use protocol::event::EventKind;
use protocol::workspace::RunWorkspace;
use redb::ReadTransaction;

use super::check::{KeyRef, Kind};
use super::query::decode_at;
use super::records::EventRecord;
use super::schema::EVENTS;
use super::{Store, StoreError};

/// A run's own workspace, and the tree it left if that was recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RecordedWorkspace {
    /// Where it is and what it came from.
    pub(crate) workspace: RunWorkspace,
    /// The tree of `workspace.changed`; `None` when the run has not
    /// ended or its daemon stopped before it could be read.
    pub(crate) result: Option<String>,
}

impl Store {
    /// `session`'s own workspace, if it had one.
    pub(crate) async fn run_workspace(
        &self,
        session: SessionId,
    ) -> Result<Option<RecordedWorkspace>, StoreError> {
        self.read(move |txn| recorded(txn, session)).await
    }

    /// The own workspaces of those of `sessions` that had one.
    pub(crate) async fn run_workspaces(
        &self,
        sessions: Vec<SessionId>,
    ) -> Result<Vec<RunWorkspace>, StoreError> {
        self.read(move |txn| {
            let mut found = Vec::new();
            for session in sessions {
                if let Some(recorded) = recorded(txn, session)? {
                    found.push(recorded.workspace);
                }
            }
            Ok(found)
        })
        .await
    }
}

/// Reads `session`'s events for its workspace: `workspace.created` comes
/// before its worker starts, so a session without one among its first
/// events has none.
fn recorded(
    txn: &ReadTransaction,
    session: SessionId,
) -> Result<Option<RecordedWorkspace>, StoreError> {
    const CREATED_WITHIN: u64 = 16;
    let table = txn.open_table(EVENTS)?;
    let key = session.as_u128();
    let mut workspace = None;
    for row in table.range((key, 0)..=(key, CREATED_WITHIN))? {
        let (k, value) = row?;
        let record: EventRecord =
            decode_at(Kind::Events, KeyRef::Event(key, k.value().1), value.value())?;
        if let EventKind::WorkspaceCreated { workspace: found } = record.kind {
            workspace = Some(found);
            break;
        }
    }
    let Some(workspace) = workspace else {
        return Ok(None);
    };
    let mut result = None;
    for row in table.range((key, 0)..=(key, u64::MAX))?.rev() {
        let (k, value) = row?;
        let record: EventRecord =
            decode_at(Kind::Events, KeyRef::Event(key, k.value().1), value.value())?;
        match record.kind {
            EventKind::WorkspaceChanged { result: tree, .. } => {
                result = Some(tree);
                break;
            }
            EventKind::WorkspaceCreated { .. } => break,
            _ => {}
        }
    }
    Ok(Some(RecordedWorkspace { workspace, result }))
}
