//! Workspaces no run records, removed when the daemon starts. A daemon
//! killed between making a run's workspace and committing its
//! `workspace.created`, or between deleting runs and removing their
//! workspaces, leaves one behind; nothing else would ever remove it.
//!
//! What goes: an entry of `Layout::run_workspaces` whose session is gone
//! from the database (its tree only: that run's agent may have rewritten
//! its `.git`, so no git command trusts it), or whose session has ended
//! without recording a workspace (no agent ever ran there: the worktree
//! is removed with its branch through its repository). A live session's
//! entry is left alone, whatever it records so far.

use std::collections::BTreeSet;
use std::path::Path;

use protocol::SessionId;
use protocol::workspace::{RunWorkspace, WorkspaceKind};

use super::git::Git;
use super::{WorkspaceError, copy_git_dir, remove, remove_tree};
use crate::store::{SessionLookup, Store, StoreError};

/// Removes the unrecorded workspaces under `runs_dir`; returns how many.
pub(crate) async fn sweep(runs_dir: &Path, store: &Store) -> usize {
    let Ok(entries) = std::fs::read_dir(runs_dir) else {
        return 0;
    };
    let sessions: BTreeSet<SessionId> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let name = name.to_str()?;
            name.strip_suffix(".git").unwrap_or(name).parse().ok()
        })
        .collect();
    let mut removed = 0;
    for session in sessions {
        let path = runs_dir.join(session.to_string());
        let outcome = match store.session(SessionLookup::Exact(session)).await {
            Err(StoreError::NotFound(_)) => {
                remove_tree(&path).and_then(|()| remove_tree(&copy_git_dir(&path)))
            }
            Ok(record) if record.status.is_terminal() => match store.run_workspace(session).await {
                Ok(None) => remove_unrecorded(runs_dir, &path, session).await,
                Ok(Some(_)) | Err(_) => continue,
            },
            Ok(_) | Err(_) => continue,
        };
        match outcome {
            Ok(()) => {
                removed += 1;
                tracing::info!(path = %path.display(), "removed a workspace no run records");
            }
            Err(err) => {
                tracing::warn!(%err, path = %path.display(), "a workspace no run records was not removed");
            }
        }
    }
    removed
}

/// Removes the workspace of `session`, made but never recorded: a worktree
/// (its `.git` a file git wrote) through its repository, else a copy.
async fn remove_unrecorded(
    runs_dir: &Path,
    path: &Path,
    session: SessionId,
) -> Result<(), WorkspaceError> {
    if !path.join(".git").is_file() {
        remove_tree(path)?;
        return remove_tree(&copy_git_dir(path));
    }
    let common = Git::at(path)
        .text(&["rev-parse", "--path-format=absolute", "--git-common-dir"])
        .await;
    let Some(origin) = common
        .ok()
        .and_then(|dir| Path::new(&dir).parent().map(Path::to_path_buf))
    else {
        return remove_tree(path);
    };
    let workspace = RunWorkspace {
        origin: origin.display().to_string(),
        path: path.display().to_string(),
        subdir: String::new(),
        kind: WorkspaceKind::Worktree {
            branch: format!("studio/run-{}", session.short()),
        },
        git_dir: String::new(),
        base: String::new(),
    };
    remove(runs_dir, &workspace).await
}
