//! A run's own workspace (its agent's `workspace_per_run`): made before
//! its worker starts, settled and counted once its last process is gone.

use std::path::{Path, PathBuf};

use protocol::event::EventKind;
use protocol::workspace::WorkspaceKind;

use super::{SessionState, Stop};
use crate::daemon::run_workspace;

impl SessionState {
    /// Makes the run's own workspace from `origin`, records
    /// `workspace.created`, and returns where the run works. Its commands
    /// may read the repository a worktree belongs to (so `git status`
    /// works in it), never write it.
    pub(super) async fn make_run_workspace(&mut self, origin: &Path) -> Result<PathBuf, String> {
        let runs_dir = self.shared.config.data_dir.layout().run_workspaces();
        let workspace = run_workspace::create(&runs_dir, self.id, origin)
            .await
            .map_err(|err| format!("cannot make the run's own workspace: {err}"))?;
        if let WorkspaceKind::Worktree { .. } = workspace.kind
            && let Some(common) = Path::new(&workspace.git_dir)
                .parent()
                .and_then(Path::parent)
        {
            let common = common.display().to_string();
            self.record.agent.sandbox.read.push(common);
        }
        let dir = Path::new(&workspace.path).join(&workspace.subdir);
        self.append(EventKind::WorkspaceCreated {
            workspace: workspace.clone(),
        });
        self.setup.run_workspace = Some(workspace);
        Ok(dir)
    }

    /// The setup command of the run's first turn, if its workspace is new.
    pub(super) fn workspace_setup(&self) -> Option<String> {
        self.setup.run_workspace.as_ref()?;
        self.record.agent.workspace_per_run.as_ref()?.setup.clone()
    }

    /// Records what the run changed in its workspace (`workspace.changed`),
    /// unless the daemon is shutting down.
    pub(super) async fn record_changes(&mut self) {
        let Some(workspace) = self.setup.run_workspace.take() else {
            return;
        };
        if let Some(Stop::Interrupt) = self.ending.stop {
            return;
        }
        let counted = async {
            let result = run_workspace::settle(&workspace).await?;
            let changes = run_workspace::changes(&workspace, &result).await?;
            Ok::<_, run_workspace::WorkspaceError>((changes, result))
        };
        match counted.await {
            Ok((changes, result)) => self.append(EventKind::WorkspaceChanged { changes, result }),
            Err(err) => {
                tracing::warn!(session = %self.id, %err, "cannot read what the run changed");
            }
        }
    }
}
