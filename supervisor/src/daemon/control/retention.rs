//! Retention: `Delete` (sessions or groups, with what goes on from them)
//! and `Gc` (everything that ended long ago), each then compacting the
//! database. Sessions are removed a few at a time, each whole in one
//! transaction (a group with all its runs), so live runs keep recording
//! in between and a daemon killed midway leaves every session, and every
//! group, whole or gone.

use protocol::control::{ControlError, ControlResponse, DeleteReport, ErrorKind};
use protocol::workspace::RunWorkspace;
use protocol::{SessionId, Timestamp};

use super::find_session;
use crate::daemon::root::Handles;
use crate::daemon::run_workspace;
use crate::store::{Doomed, SessionLookup};

/// Sessions removed per transaction: small enough that live runs' events
/// are not held up for long.
const SESSIONS_PER_COMMIT: usize = 32;

/// Deletes the sessions named by `ids` (or the groups, with `groups`)
/// and those going on from them; refused whole if one of them is live.
pub(super) async fn delete(
    ids: Vec<String>,
    groups: bool,
    dry_run: bool,
    handles: &Handles,
) -> Result<ControlResponse, ControlError> {
    let store = &handles.shared.store;
    if ids.is_empty() {
        return Err(ControlError::new(
            ErrorKind::Invalid,
            "name at least one session or group to delete",
        ));
    }
    let mut roots: Vec<SessionId> = Vec::new();
    for id in &ids {
        if groups {
            let lookup =
                SessionLookup::parse(id).map_err(|m| ControlError::new(ErrorKind::Invalid, m))?;
            let group = store.group(lookup, 0, 0, 0).await?;
            roots.push(group.record.id);
            roots.extend(group.runs.iter().map(|run| run.id));
        } else {
            roots.push(find_session(store, id).await?.id);
        }
    }
    let doomed = store.plan_delete(roots).await?;
    if let Some(first) = doomed.live.first() {
        return Err(ControlError::new(
            ErrorKind::Conflict,
            format!(
                "{} of the sessions to delete are live (the first: {first}): cancel or end them first; nothing was deleted",
                doomed.live.len()
            ),
        ));
    }
    carry_out(doomed, dry_run, handles).await
}

/// Deletes every session that ended more than `older_than_secs` ago
/// (live ones, and what a kept session goes on from, stay).
pub(super) async fn gc(
    older_than_secs: u64,
    dry_run: bool,
    handles: &Handles,
) -> Result<ControlResponse, ControlError> {
    let cutoff = Timestamp(
        Timestamp::now()
            .0
            .saturating_sub(older_than_secs.saturating_mul(1_000_000)),
    );
    let doomed = handles.shared.store.plan_gc(cutoff).await?;
    carry_out(doomed, dry_run, handles).await
}

/// Removes what `doomed` holds (unless `dry_run`), then compacts.
async fn carry_out(
    doomed: Doomed,
    dry_run: bool,
    handles: &Handles,
) -> Result<ControlResponse, ControlError> {
    let store = &handles.shared.store;
    let bytes_before = store.file_bytes();
    let workspaces = store.run_workspaces(doomed.sessions.clone()).await?;
    if !dry_run {
        // A group goes in the commit that removes its runs.
        for (sessions, groups) in doomed.commits(SESSIONS_PER_COMMIT) {
            store.delete(sessions, groups).await?;
        }
        remove_workspaces(&workspaces, handles).await;
        // What was deleted stays deleted; a file not compacted now is
        // compacted by the next deletion.
        if let Err(err) = store.compact().await {
            tracing::warn!(%err, "the database was not compacted");
        }
        tracing::info!(
            sessions = doomed.sessions.len(),
            groups = doomed.groups.len(),
            events = doomed.events,
            "deleted"
        );
    }
    Ok(ControlResponse::Deleted(DeleteReport {
        sessions: doomed.sessions,
        descendants: doomed.descendants,
        groups: doomed.groups,
        events: doomed.events,
        workspaces: u32::try_from(workspaces.len()).unwrap_or(u32::MAX),
        dry_run,
        bytes_before,
        bytes_after: store.file_bytes(),
    }))
}

/// Removes the own workspaces of deleted runs. One that cannot be removed
/// is logged: its run is gone either way.
async fn remove_workspaces(workspaces: &[RunWorkspace], handles: &Handles) {
    let runs_dir = handles.shared.config.data_dir.layout().run_workspaces();
    for workspace in workspaces {
        if let Err(err) = run_workspace::remove(&runs_dir, workspace).await {
            tracing::warn!(%err, path = workspace.path, "a deleted run's workspace was not removed");
        }
    }
}
