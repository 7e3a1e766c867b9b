//! A workspace of its own for each run of an agent with
//! `workspace_per_run`, so N attempts on one repository never write into
//! one directory.
//!
//! `create` makes it under `Layout::run_workspaces`, named by the session:
//! a git worktree on the branch `studio/run-SHORTID` from the origin's
//! `HEAD` when the agent's workspace is in a git repository, else a copy
//! with a git directory of its own beside it (`SESSION.git`) holding its
//! starting tree. Either way the daemon reads a run through a git
//! directory the agent cannot write (`git::Git::on`), never through the
//! workspace's own `.git`. `settle` snapshots what the run left (a commit
//! on a worktree's branch), `changes` counts it, `patch` and `apply` bring
//! it into the origin (`git apply`: all or nothing, so a conflict writes
//! nothing and uncommitted work there stays), `remove` deletes it with
//! its run, and `sweep::sweep` removes at start what a killed daemon left
//! unrecorded.

pub mod git;
pub(crate) mod sweep;

use std::path::{Path, PathBuf};

use protocol::SessionId;
use protocol::workspace::{
    ApplyReport, Changes, FileChange, MAX_PATCH_BYTES, RunWorkspace, WorkspaceKind,
};

use self::git::{Git, GitError};

/// Why a run's workspace could not be made, read or applied.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// A git command failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// A file operation failed.
    #[error("{what}: {err}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        err: std::io::Error,
    },
    /// The changes do not apply to the origin as it is now.
    #[error("the run's changes do not apply to {origin}; nothing was written:\n{detail}")]
    Conflict {
        /// The origin.
        origin: String,
        /// What git apply said.
        detail: String,
    },
    /// The recorded workspace is not where run workspaces are kept.
    #[error("{0} is not a run workspace of this daemon")]
    Foreign(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> WorkspaceError {
    let what = what.into();
    move |err| WorkspaceError::Io { what, err }
}

/// Makes `session`'s own workspace from `origin` (a real path) under
/// `runs_dir`.
pub async fn create(
    runs_dir: &Path,
    session: SessionId,
    origin: &Path,
) -> Result<RunWorkspace, WorkspaceError> {
    create_dir_private(runs_dir)?;
    let path = runs_dir.join(session.to_string());
    // An agent's default workspace is a repository only of its own: not
    // of one that holds the workspaces (a home directory kept in git).
    let here = match runs_dir.parent() {
        Some(workspaces) if origin.starts_with(workspaces) => Git::at(origin).below(workspaces),
        _ => Git::at(origin),
    };
    let top = here.text(&["rev-parse", "--show-toplevel"]).await;
    let base = here
        .text(&["rev-parse", "--verify", "-q", "HEAD^{commit}"])
        .await;
    let made = match (top, base) {
        (Ok(top), Ok(base)) => match here.text(&["rev-parse", "--show-prefix"]).await {
            Ok(prefix) => worktree(session, &path, Path::new(&top), &prefix, base).await,
            Err(err) => Err(err.into()),
        },
        _ => copy(&path, origin).await,
    };
    if made.is_err() {
        // Nothing records a workspace that was not made: leave none.
        let _ = remove_tree(&path);
        let _ = remove_tree(&copy_git_dir(&path));
    }
    made
}

/// Held while git adds or removes a worktree: git reads every worktree's
/// metadata when it adds one, and fails on one that another `worktree
/// add` is still writing ("failed to read .git/worktrees/.../commondir"),
/// so N runs started at once on one repository would fail at random (the
/// chaos suite's worktree round found it).
static WORKTREES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A worktree of the repository at `top` on a branch of its own.
async fn worktree(
    session: SessionId,
    path: &Path,
    top: &Path,
    prefix: &str,
    base: String,
) -> Result<RunWorkspace, WorkspaceError> {
    let branch = format!("studio/run-{}", session.short());
    let path_text = path.display().to_string();
    {
        let _one_at_a_time = WORKTREES.lock().await;
        Git::at(top)
            .run(&["worktree", "add", "-q", "-b", &branch, &path_text, &base])
            .await?;
    }
    // Read before the agent runs: the `.git` file is still the one git wrote.
    let git_dir = Git::at(path)
        .text(&["rev-parse", "--absolute-git-dir"])
        .await?;
    Ok(RunWorkspace {
        origin: top.display().to_string(),
        path: path_text,
        subdir: prefix.trim_end_matches('/').to_owned(),
        kind: WorkspaceKind::Worktree { branch },
        git_dir,
        base,
    })
}

/// A copy of `origin`, with its starting tree in a git directory beside it.
async fn copy(path: &Path, origin: &Path) -> Result<RunWorkspace, WorkspaceError> {
    create_dir_private(path)?;
    let mut from = origin.as_os_str().to_os_string();
    from.push("/.");
    let out = studio_process::command("cp", studio_process::ChildEnv::Only(&["PATH"]))
        .arg("-a")
        .arg("--reflink=auto")
        .arg(&from)
        .arg(path)
        .output()
        .await
        .map_err(io(format!("cannot run cp for {}", origin.display())))?;
    if !out.status.success() {
        return Err(WorkspaceError::Io {
            what: format!("cannot copy {}", origin.display()),
            err: std::io::Error::other(String::from_utf8_lossy(&out.stderr).trim().to_owned()),
        });
    }
    let git_dir = copy_git_dir(path);
    let git_dir_text = git_dir.display().to_string();
    Git::at(path.parent().unwrap_or(path))
        .run(&["init", "-q", "--bare", &git_dir_text])
        .await?;
    let base = snapshot(&Git::on(&git_dir, path)).await?;
    Ok(RunWorkspace {
        origin: origin.display().to_string(),
        path: path.display().to_string(),
        subdir: String::new(),
        kind: WorkspaceKind::Copy,
        git_dir: git_dir_text,
        base,
    })
}

/// The git directory of a copy at `path`: `SESSION.git` beside it.
fn copy_git_dir(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".git");
    path.with_file_name(name)
}

/// Everything in the work tree, as a tree object: its id. Not `git add
/// -A`, which a repository nested in the work tree without a commit
/// makes fail: tracked files are updated, then untracked ones added one
/// by one, leaving out nested repositories (listed as directories).
async fn snapshot(git: &Git) -> Result<String, WorkspaceError> {
    git.run(&["add", "-u", "--ignore-errors", "."]).await?;
    let untracked = git
        .run(&["ls-files", "-z", "--others", "--exclude-standard"])
        .await?;
    let files: Vec<u8> = untracked
        .split(|b| *b == 0)
        .filter(|name| !name.is_empty() && !name.ends_with(b"/"))
        .flat_map(|name| name.iter().copied().chain([0]))
        .collect();
    if !files.is_empty() {
        git.run_with_input(&["update-index", "--add", "-z", "--stdin"], Some(&files))
            .await?;
    }
    Ok(git.text(&["write-tree"]).await?)
}

/// Snapshots what the run left in `workspace` once its processes are
/// gone: the id of the tree (a worktree also gets it as a commit on its
/// branch, so the branch holds the run's result).
pub async fn settle(workspace: &RunWorkspace) -> Result<String, WorkspaceError> {
    let git = Git::on(Path::new(&workspace.git_dir), Path::new(&workspace.path));
    let tree = snapshot(&git).await?;
    if let WorkspaceKind::Worktree { .. } = workspace.kind {
        let head_tree = git.text(&["rev-parse", "HEAD^{tree}"]).await?;
        if head_tree != tree {
            let commit = git
                .text(&["commit-tree", &tree, "-p", "HEAD", "-m", "AI Studio run"])
                .await?;
            git.run(&["update-ref", "HEAD", &commit]).await?;
        }
    }
    Ok(tree)
}

/// What the run changed: its starting point against `result` (a tree id
/// from [`settle`]).
pub async fn changes(workspace: &RunWorkspace, result: &str) -> Result<Changes, WorkspaceError> {
    numstat(&reader(workspace), &workspace.base, result).await
}

/// The changes from tree `from` to tree `to`, read by `git`.
async fn numstat(git: &Git, from: &str, to: &str) -> Result<Changes, WorkspaceError> {
    let out = git
        .run(&[
            "diff-tree",
            "-r",
            "-z",
            "--numstat",
            "--no-renames",
            from,
            to,
        ])
        .await?;
    Ok(Changes::of(parse_numstat(&out)))
}

/// How run `b`'s result differs from run `a`'s (each a workspace and the
/// tree it left): the changes and the patch, cut as [`patch`] cuts it.
pub async fn between(
    (a, a_result): (&RunWorkspace, &str),
    (b, b_result): (&RunWorkspace, &str),
) -> Result<(Changes, String, bool), WorkspaceError> {
    let git = reader(b).reading(&objects_of(a));
    let changes = numstat(&git, a_result, b_result).await?;
    let (patch, cut) = cut_patch(tree_patch(&git, a_result, b_result).await?);
    Ok((changes, patch, cut))
}

/// Where a run workspace's objects are: a worktree's in its repository's
/// common directory, a copy's in its own git directory.
fn objects_of(workspace: &RunWorkspace) -> PathBuf {
    let git_dir = Path::new(&workspace.git_dir);
    match workspace.kind {
        WorkspaceKind::Worktree { .. } => git_dir
            .parent()
            .and_then(Path::parent)
            .unwrap_or(git_dir)
            .join("objects"),
        WorkspaceKind::Copy => git_dir.join("objects"),
    }
}

/// The run's changes as a patch git can apply, cut to `MAX_PATCH_BYTES`
/// at a line's end (and whether it was cut).
pub async fn patch(
    workspace: &RunWorkspace,
    result: &str,
) -> Result<(String, bool), WorkspaceError> {
    Ok(cut_patch(full_patch(workspace, result).await?))
}

/// `out` as text, cut to `MAX_PATCH_BYTES` at a line's end (and whether
/// it was cut).
fn cut_patch(out: Vec<u8>) -> (String, bool) {
    if out.len() <= MAX_PATCH_BYTES {
        return (String::from_utf8_lossy(&out).into_owned(), false);
    }
    let cut = out[..MAX_PATCH_BYTES]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    (String::from_utf8_lossy(&out[..cut]).into_owned(), true)
}

async fn full_patch(workspace: &RunWorkspace, result: &str) -> Result<Vec<u8>, WorkspaceError> {
    tree_patch(&reader(workspace), &workspace.base, result).await
}

/// The patch from tree `from` to tree `to`, binary files included.
async fn tree_patch(git: &Git, from: &str, to: &str) -> Result<Vec<u8>, WorkspaceError> {
    Ok(git
        .run(&[
            "diff-tree",
            "-r",
            "-p",
            "--binary",
            "--full-index",
            "--no-renames",
            "--no-ext-diff",
            "--no-textconv",
            from,
            to,
        ])
        .await?)
}

/// Brings the run's changes (up to `result`) into its origin, or with
/// `dry_run` only checks that they apply. Refused, with nothing written,
/// when any of them does not apply.
pub async fn apply(
    workspace: &RunWorkspace,
    result: &str,
    dry_run: bool,
) -> Result<ApplyReport, WorkspaceError> {
    let changes = changes(workspace, result).await?;
    let report = |applied| ApplyReport {
        origin: workspace.origin.clone(),
        changes: changes.clone(),
        applied,
    };
    if changes.is_empty() {
        return Ok(report(false));
    }
    let patch = full_patch(workspace, result).await?;
    let origin = Path::new(&workspace.origin);
    let mut args = vec!["apply", "--whitespace=nowarn"];
    if dry_run {
        args.push("--check");
    }
    args.push("-");
    match Git::at(origin).run_with_input(&args, Some(&patch)).await {
        Ok(_) => Ok(report(!dry_run)),
        Err(err) if err.code.is_some() => Err(WorkspaceError::Conflict {
            origin: workspace.origin.clone(),
            detail: err.detail().to_owned(),
        }),
        Err(err) => Err(err.into()),
    }
}

/// Removes the run's workspace (a worktree with its branch; a copy with
/// its git directory). Something already gone is not an error.
pub async fn remove(runs_dir: &Path, workspace: &RunWorkspace) -> Result<(), WorkspaceError> {
    let path = Path::new(&workspace.path);
    if path.parent() != Some(runs_dir) {
        return Err(WorkspaceError::Foreign(workspace.path.clone()));
    }
    match &workspace.kind {
        WorkspaceKind::Worktree { branch } => {
            let _one_at_a_time = WORKTREES.lock().await;
            let origin = Git::at(Path::new(&workspace.origin));
            if origin
                .run(&["worktree", "remove", "--force", "--force", &workspace.path])
                .await
                .is_err()
            {
                remove_tree(path)?;
                origin.run(&["worktree", "prune"]).await?;
            }
            let _ = origin.run(&["branch", "-q", "-D", branch]).await;
        }
        WorkspaceKind::Copy => {
            remove_tree(path)?;
            remove_tree(&copy_git_dir(path))?;
        }
    }
    Ok(())
}

/// Git reading a run's objects (no work tree needed).
fn reader(workspace: &RunWorkspace) -> Git {
    Git::on(Path::new(&workspace.git_dir), Path::new(&workspace.path))
}

/// `ADDED\tREMOVED\tPATH\0` records (`-\t-` for a binary file).
fn parse_numstat(out: &[u8]) -> Vec<FileChange> {
    out.split(|b| *b == 0)
        .filter(|record| !record.is_empty())
        .filter_map(|record| {
            let text = String::from_utf8_lossy(record);
            let mut parts = text.splitn(3, '\t');
            let (added, removed, path) = (parts.next()?, parts.next()?, parts.next()?);
            let binary = added == "-";
            Some(FileChange {
                path: path.trim_start_matches('\n').to_owned(),
                added: added.parse().unwrap_or(0),
                removed: removed.parse().unwrap_or(0),
                binary,
            })
        })
        .collect()
}

/// Removes `dir` and everything in it, even what a run made unwritable;
/// never following a symbolic link.
fn remove_tree(dir: &Path) -> Result<(), WorkspaceError> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::remove_dir_all(dir) {
        Ok(()) => return Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(_) => {}
    }
    // A directory without write or search permission: open every one up
    // (directories only, so no link is followed), then again.
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&next) else {
            continue;
        };
        if meta.is_dir() {
            let _ = std::fs::set_permissions(&next, std::fs::Permissions::from_mode(0o700));
            if let Ok(entries) = std::fs::read_dir(&next) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        }
    }
    std::fs::remove_dir_all(dir).map_err(io(format!("cannot remove {}", dir.display())))
}

fn create_dir_private(dir: &Path) -> Result<(), WorkspaceError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(format!("cannot create {}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numstat_records_read_text_and_binary_files() {
        let out = b"3\t1\tsrc/a b.rs\0-\t-\tlogo.png\0";
        let files = parse_numstat(out);
        assert_eq!(files.len(), 2);
        assert_eq!(
            (files[0].path.as_str(), files[0].added, files[0].removed),
            ("src/a b.rs", 3, 1)
        );
        assert!(files[1].binary && files[1].added == 0);
    }
}
