//! A workspace of its own for each run: what an agent asks for
//! ([`WorkspacePerRun`]), where a run's workspace came from
//! ([`RunWorkspace`], in `workspace.created`), and what the run changed
//! in it ([`Changes`], in `workspace.changed`), which the results table,
//! Compare and `studio apply` read.

use serde::{Deserialize, Serialize};

/// An agent's ask that each of its runs work in a workspace of its own,
/// so that many attempts on one repository never write into one
/// directory: a git worktree on a branch of its own when the agent's
/// workspace is in a git repository (from its `HEAD`), else a copy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspacePerRun {
    /// A command (`sh -c`) run in the new workspace, in the agent's
    /// sandbox but allowed to write the workspace, before the run's turn
    /// (`npm ci`, `cargo fetch`); a failing setup fails the run.
    #[serde(default)]
    pub setup: Option<String>,
}

/// Longest setup command, in bytes.
pub const MAX_SETUP_BYTES: usize = 4096;

impl WorkspacePerRun {
    /// Why this cannot be used as given, if it cannot.
    pub fn validate(&self) -> Result<(), String> {
        match &self.setup {
            Some(setup) if setup.trim().is_empty() => {
                Err("the workspace's setup command is empty".to_owned())
            }
            Some(setup) if setup.len() > MAX_SETUP_BYTES => Err(format!(
                "the workspace's setup command is over {MAX_SETUP_BYTES} bytes"
            )),
            _ => Ok(()),
        }
    }
}

/// How a run's workspace was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkspaceKind {
    /// A git worktree of the origin's repository, on a branch of its own.
    Worktree {
        /// The branch, `studio/run-SHORTID`.
        branch: String,
    },
    /// A copy of the origin directory.
    Copy,
}

/// Where a run's workspace is and what it started from: everything the
/// daemon needs to read its changes, apply them and remove it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunWorkspace {
    /// The agent's own workspace it was made from (a worktree's: the top
    /// of the repository).
    pub origin: String,
    /// The run's directory (a worktree's top; the run works in `path`
    /// joined with `subdir`).
    pub path: String,
    /// Where in it the agent's workspace is, relative (empty: its top).
    pub subdir: String,
    /// How it was made.
    pub kind: WorkspaceKind,
    /// The git directory the daemon reads its changes through. The run's
    /// own `.git` file is the agent's to rewrite, so it is never used.
    pub git_dir: String,
    /// The commit (a worktree) or tree (a copy) it started from.
    pub base: String,
}

/// One file a run changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// Its path, relative to the workspace's top.
    pub path: String,
    /// Lines added (0 for a binary file).
    pub added: u32,
    /// Lines removed (0 for a binary file).
    pub removed: u32,
    /// Whether git saw it as binary.
    pub binary: bool,
}

/// Most files a [`Changes`] lists; `more` counts the rest.
pub const MAX_LISTED_FILES: usize = 200;

/// What a run changed in its workspace, against what it started from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// The files, in path order, at most [`MAX_LISTED_FILES`].
    pub files: Vec<FileChange>,
    /// Files changed beyond those listed.
    pub more: u32,
    /// Lines added in all (listed or not).
    pub added: u64,
    /// Lines removed in all.
    pub removed: u64,
}

impl Changes {
    /// The changes of `files` (every file changed, in any order).
    pub fn of(mut files: Vec<FileChange>) -> Changes {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let added = files.iter().map(|f| u64::from(f.added)).sum();
        let removed = files.iter().map(|f| u64::from(f.removed)).sum();
        let more = files.len().saturating_sub(MAX_LISTED_FILES);
        files.truncate(MAX_LISTED_FILES);
        Changes {
            files,
            more: u32::try_from(more).unwrap_or(u32::MAX),
            added,
            removed,
        }
    }

    /// How many files changed.
    pub fn file_count(&self) -> u64 {
        self.files.len() as u64 + u64::from(self.more)
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.file_count() == 0
    }

    /// `3 files +12 -4`, or `no changes`.
    pub fn short(&self) -> String {
        match self.file_count() {
            0 => "no changes".to_owned(),
            1 => format!("1 file +{} -{}", self.added, self.removed),
            n => format!("{n} files +{} -{}", self.added, self.removed),
        }
    }
}

/// Most bytes of a patch a [`RunDiff`] carries (a frame must hold it).
pub const MAX_PATCH_BYTES: usize = 4 << 20;

/// A run's changes with their patch, for `studio diff` (or how its result
/// differs from another run's: `against`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunDiff {
    /// Its workspace.
    pub workspace: RunWorkspace,
    /// Its changes.
    pub changes: Changes,
    /// The changes as a git patch (binary files included), cut to
    /// [`MAX_PATCH_BYTES`] at a line's end.
    pub patch: String,
    /// Whether the patch was cut.
    pub patch_cut: bool,
    /// The run diffed against, when not the run's own starting point.
    pub against: Option<crate::SessionId>,
}

/// What `studio apply` did, or would do with `dry_run`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyReport {
    /// The workspace the changes went (or would go) into.
    pub origin: String,
    /// The run's changes.
    pub changes: Changes,
    /// Whether they were written (false for a dry run).
    pub applied: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, added: u32, removed: u32) -> FileChange {
        FileChange {
            path: path.into(),
            added,
            removed,
            binary: false,
        }
    }

    #[test]
    fn changes_sum_every_file_and_list_them_in_path_order() {
        let changes = Changes::of(vec![file("b.rs", 3, 1), file("a.rs", 2, 0)]);
        assert_eq!(changes.files[0].path, "a.rs");
        assert_eq!((changes.added, changes.removed), (5, 1));
        assert_eq!(changes.short(), "2 files +5 -1");
        assert_eq!(Changes::default().short(), "no changes");
    }

    #[test]
    fn past_the_listed_files_only_counts_remain() {
        let files = (0..MAX_LISTED_FILES + 5)
            .map(|i| file(&format!("f{i:04}"), 1, 0))
            .collect();
        let changes = Changes::of(files);
        assert_eq!(changes.files.len(), MAX_LISTED_FILES);
        assert_eq!(changes.more, 5);
        assert_eq!(changes.file_count(), MAX_LISTED_FILES as u64 + 5);
        assert_eq!(changes.added, MAX_LISTED_FILES as u64 + 5);
    }

    #[test]
    fn an_empty_setup_is_refused() {
        let setup = |s: &str| WorkspacePerRun {
            setup: Some(s.into()),
        };
        assert!(setup(" ").validate().is_err());
        assert!(setup("npm ci").validate().is_ok());
        assert!(WorkspacePerRun::default().validate().is_ok());
    }
}
