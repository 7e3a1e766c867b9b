//! A run's own workspace: `WorkspaceDiff` (its changes with the patch)
//! and `Apply` (its changes into the workspace it was made from).

use protocol::SessionId;
use protocol::control::{ControlError, ControlResponse, ErrorKind};
use protocol::workspace::RunDiff;

use super::find_session;
use crate::daemon::root::Handles;
use crate::daemon::run_workspace::{self, WorkspaceError};
use crate::store::RecordedWorkspace;

/// The changes of run `id`, with its patch; with `against`, how its
/// result differs from that run's.
pub(super) async fn diff(
    id: &str,
    against: Option<&str>,
    handles: &Handles,
) -> Result<ControlResponse, ControlError> {
    let (_, recorded, result) = ended_run(id, handles).await?;
    let workspace = &recorded.workspace;
    let (changes, patch, patch_cut, against) = match against {
        None => {
            let changes = run_workspace::changes(workspace, &result)
                .await
                .map_err(internal)?;
            let (patch, cut) = run_workspace::patch(workspace, &result)
                .await
                .map_err(internal)?;
            (changes, patch, cut, None)
        }
        Some(other) => {
            let (other, theirs, their_result) = ended_run(other, handles).await?;
            let (changes, patch, cut) =
                run_workspace::between((&theirs.workspace, &their_result), (workspace, &result))
                    .await
                    .map_err(internal)?;
            (changes, patch, cut, Some(other))
        }
    };
    Ok(ControlResponse::Diff(Box::new(RunDiff {
        workspace: recorded.workspace,
        changes,
        patch,
        patch_cut,
        against,
    })))
}

/// Brings run `id`'s changes into its origin (or checks they apply).
pub(super) async fn apply(
    id: &str,
    dry_run: bool,
    handles: &Handles,
) -> Result<ControlResponse, ControlError> {
    let (_, recorded, result) = ended_run(id, handles).await?;
    match run_workspace::apply(&recorded.workspace, &result, dry_run).await {
        Ok(report) => {
            if report.applied {
                tracing::info!(run = id, origin = %report.origin, "applied a run's changes");
            }
            Ok(ControlResponse::Applied(report))
        }
        Err(err @ WorkspaceError::Conflict { .. }) => {
            Err(ControlError::new(ErrorKind::Conflict, err.to_string()))
        }
        Err(err) => Err(internal(err)),
    }
}

/// Run `id`, its workspace and the tree it left: read now when its end
/// did not record one (its daemon stopped first). Refused while it runs.
async fn ended_run(
    id: &str,
    handles: &Handles,
) -> Result<(SessionId, RecordedWorkspace, String), ControlError> {
    let store = &handles.shared.store;
    let session = find_session(store, id).await?;
    let Some(recorded) = store.run_workspace(session.id).await? else {
        return Err(ControlError::new(
            ErrorKind::NotFound,
            format!(
                "session {} has no workspace of its own (only runs of an agent with workspace_per_run have one)",
                session.id.short()
            ),
        ));
    };
    if !session.status.is_terminal() {
        return Err(ControlError::new(
            ErrorKind::Conflict,
            format!(
                "run {} is still {}: its changes are read when it ends",
                session.id.short(),
                session.status
            ),
        ));
    }
    let result = match &recorded.result {
        Some(result) => result.clone(),
        None => run_workspace::settle(&recorded.workspace)
            .await
            .map_err(internal)?,
    };
    Ok((session.id, recorded, result))
}

fn internal(err: WorkspaceError) -> ControlError {
    ControlError::new(ErrorKind::Internal, err.to_string())
}
