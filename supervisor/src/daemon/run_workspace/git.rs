//! `git`, run by the daemon on a run's workspace: never through the
//! run's own `.git` file (the agent's to rewrite), always with the git
//! directory named, and with nothing that could run a program of the
//! agent's choosing: no hooks, no fsmonitor, no external diff or textconv.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use studio_process::ChildEnv;
use tokio::io::AsyncWriteExt;

/// Longest a git command may take (a checkout or an `add` of a large tree).
const GIT_TIMEOUT: Duration = Duration::from_secs(300);

/// What a git command gets of the daemon's environment.
const GIT_ENV: &[&str] = &["PATH", "HOME", "LANG", "LC_ALL", "TZ"];

/// Settings that keep git from starting programs a repository names.
const HARDENED: &[&str] = &[
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.untrackedCache=false",
    "commit.gpgSign=false",
    "core.pager=cat",
    "user.name=AI Studio",
    "user.email=studio@localhost",
];

/// A git command that failed: what ran and what git said.
#[derive(Debug, thiserror::Error)]
#[error("git {args}: {detail}")]
pub struct GitError {
    args: String,
    detail: String,
    /// Its exit code, when it exited.
    pub code: Option<i32>,
}

impl GitError {
    /// What git said, without the command.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

/// Where a git command runs and which repository it works on.
#[derive(Clone, Debug)]
pub struct Git {
    cwd: PathBuf,
    git_dir: Option<PathBuf>,
    work_tree: Option<PathBuf>,
    /// Another repository's objects, readable too.
    alternate: Option<PathBuf>,
    /// A directory git must not look for a repository in, or above.
    ceiling: Option<PathBuf>,
}

impl Git {
    /// Git in `cwd`, finding its repository there (only for directories
    /// the agent could not write: the origin).
    pub fn at(cwd: &Path) -> Git {
        Git {
            cwd: cwd.to_path_buf(),
            git_dir: None,
            work_tree: None,
            alternate: None,
            ceiling: None,
        }
    }

    /// This git, finding no repository in `dir` or above it.
    pub fn below(mut self, dir: &Path) -> Git {
        self.ceiling = Some(dir.to_path_buf());
        self
    }

    /// Git on the repository `git_dir` with the work tree `work_tree`.
    pub fn on(git_dir: &Path, work_tree: &Path) -> Git {
        Git {
            cwd: work_tree.to_path_buf(),
            git_dir: Some(git_dir.to_path_buf()),
            work_tree: Some(work_tree.to_path_buf()),
            alternate: None,
            ceiling: None,
        }
    }

    /// This git, reading `objects` (another repository's) too.
    pub fn reading(mut self, objects: &Path) -> Git {
        self.alternate = Some(objects.to_path_buf());
        self
    }

    /// Runs `git ARGS`; its standard output, or why it failed.
    pub async fn run(&self, args: &[&str]) -> Result<Vec<u8>, GitError> {
        self.run_with_input(args, None).await
    }

    /// Runs `git ARGS`, its output as trimmed text.
    pub async fn text(&self, args: &[&str]) -> Result<String, GitError> {
        let out = self.run(args).await?;
        Ok(String::from_utf8_lossy(&out).trim().to_owned())
    }

    /// Runs `git ARGS` with `input` on its standard input.
    pub async fn run_with_input(
        &self,
        args: &[&str],
        input: Option<&[u8]>,
    ) -> Result<Vec<u8>, GitError> {
        let failed = |detail: String, code| GitError {
            args: args.join(" "),
            detail,
            code,
        };
        let mut command = studio_process::command("git", ChildEnv::Only(GIT_ENV));
        command
            .current_dir(&self.cwd)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for setting in HARDENED {
            command.arg("-c").arg(setting);
        }
        if let Some(dir) = &self.git_dir {
            command.arg(flag("--git-dir=", dir));
        }
        if let Some(tree) = &self.work_tree {
            command.arg(flag("--work-tree=", tree));
        }
        if let Some(objects) = &self.alternate {
            command.env("GIT_ALTERNATE_OBJECT_DIRECTORIES", objects);
        }
        if let Some(ceiling) = &self.ceiling {
            command.env("GIT_CEILING_DIRECTORIES", ceiling);
        }
        command.args(args);
        let mut child = command
            .spawn()
            .map_err(|err| failed(format!("cannot run git: {err}"), None))?;
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            let input = input.to_vec();
            tokio::spawn(async move {
                let _ = stdin.write_all(&input).await;
            });
        }
        let output = tokio::time::timeout(GIT_TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| failed(format!("took over {}s", GIT_TIMEOUT.as_secs()), None))?
            .map_err(|err| failed(err.to_string(), None))?;
        if output.status.success() {
            return Ok(output.stdout);
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let detail = stderr.lines().take(20).collect::<Vec<_>>().join("\n");
        Err(failed(detail, output.status.code()))
    }
}

fn flag(name: &str, path: &Path) -> std::ffi::OsString {
    let mut flag = OsStr::new(name).to_os_string();
    flag.push(path.as_os_str());
    flag
}
