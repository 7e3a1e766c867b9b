//! Runs in workspaces of their own, live when the daemon is SIGKILLed. The
//! round makes a git repository and an agent that works in a worktree of
//! it per run (`workspace_per_run`), its command writing a file; a group
//! of such runs is started just before the daemon kill, so some end and
//! some are interrupted. After the restart each run's patch is asked for
//! (`WorkspaceDiff`, which settles an interrupted run's worktree), and at
//! the end of the round: each session is whole, names its workspace
//! (`workspace.created`), which is still there; a completed run recorded
//! what it changed (`workspace.changed`); the repository's own branch,
//! index and files are untouched; and no workspace is left without its
//! session.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;
use protocol::agent::AgentConfig;
use protocol::approval::RuleMatch;
use protocol::control::{ControlRequest, ControlResponse, RunSpec, SessionSummary};
use protocol::event::EventKind;
use protocol::script::{ScriptPatch, ScriptedToolCall};
use protocol::workspace::WorkspacePerRun;
use protocol::{SessionId, SessionStatus};
use supervisor::store::Snapshot;

use super::Round;
use crate::check::{self, Check};
use crate::inject::Ctx;
use crate::plan::FaultKind;
use crate::track::REQUEST_TIMEOUT;

/// The agent that works in a worktree per run.
const AGENT: &str = "chaos-worktree";
/// Runs started before the kill, one group.
const RUNS: usize = 6;
/// What each run's command does: a change, then a pause so that the kill
/// finds some runs live.
const COMMAND: &str = "echo changed >> notes.txt && echo new > added.txt && sleep 0.2";

/// The repository and the runs.
#[derive(Default)]
pub(super) struct WorktreeRuns {
    repo: Option<PathBuf>,
    /// The repository's `HEAD` commit before any run.
    head: String,
    pub(super) sessions: HashSet<SessionId>,
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "chaos")
        .env("GIT_AUTHOR_EMAIL", "chaos@localhost")
        .env("GIT_COMMITTER_NAME", "chaos")
        .env("GIT_COMMITTER_EMAIL", "chaos@localhost")
        .output()
        .context("cannot run git")?;
    anyhow::ensure!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

impl Round<'_> {
    /// Makes the repository (one commit) and the agent.
    pub(super) async fn create_worktree_agent(&mut self, ctx: &Ctx) -> anyhow::Result<()> {
        let parent = self
            .dir
            .root()
            .parent()
            .context("the data dir has no parent")?;
        let repo = parent.join("repo");
        std::fs::create_dir_all(&repo)?;
        std::fs::write(repo.join("notes.txt"), "first\n")?;
        git(&repo, &["init", "-q", "-b", "main"])?;
        git(&repo, &["add", "notes.txt"])?;
        git(&repo, &["commit", "-q", "-m", "first"])?;
        self.worktrees.head = git(&repo, &["rev-parse", "HEAD"])?;
        let mut agent = AgentConfig::scripted(AGENT);
        agent.tools = vec!["shell".to_owned()];
        agent.safety = protocol::SafetyMode::WorkspaceWrite;
        agent.workspace = Some(repo.display().to_string());
        agent.workspace_per_run = Some(WorkspacePerRun::default());
        let request = ControlRequest::AgentCreate {
            agent: Box::new(agent),
            replace: true,
        };
        tokio::time::timeout(REQUEST_TIMEOUT, ctx.client(0).request(request))
            .await
            .context("AgentCreate got no answer")??;
        self.worktrees.repo = Some(repo);
        Ok(())
    }

    /// Starts the group of worktree runs (the daemon is killed soon after).
    pub(super) async fn start_worktree_runs(&mut self, ctx: &Ctx) -> anyhow::Result<()> {
        let spec = RunSpec {
            agent: AGENT.to_owned(),
            prompt: "change the notes".to_owned(),
            script: ScriptPatch {
                chunks: Some(3),
                chunk_delay_ms: Some(20),
                tool_calls: Some(vec![ScriptedToolCall {
                    name: "shell".to_owned(),
                    arguments: serde_json::json!({ "command": COMMAND }).to_string(),
                }]),
                ..ScriptPatch::default()
            },
            approve: vec![RuleMatch {
                tool: "shell".to_owned(),
                argument: None,
            }],
            ..RunSpec::default()
        };
        let request = ControlRequest::RunBatch {
            runs: vec![spec; RUNS],
            parallel: RUNS as u32,
            name: "worktrees".to_owned(),
            caps: Default::default(),
            checks: Vec::new(),
        };
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, ctx.client(0).request(request))
            .await
            .context("the worktree batch got no answer")??;
        let ControlResponse::BatchAccepted { sessions } = answer else {
            anyhow::bail!("unexpected answer to the worktree batch: {answer:?}");
        };
        self.worktrees.sessions = sessions.into_iter().collect();
        Ok(())
    }

    /// Once every worktree run has ended, asks for each one's patch: an
    /// interrupted run's worktree is settled then.
    pub(super) async fn diff_worktree_runs(&mut self, ctx: &Ctx) {
        for id in self.worktrees.sessions.clone() {
            let result = async {
                for _ in 0..200 {
                    let get = ControlRequest::SessionGet { id: id.to_string() };
                    if let Ok(ControlResponse::Session(s)) = ctx.client(0).request(get).await
                        && s.status.is_terminal()
                    {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let diff = ControlRequest::WorkspaceDiff {
                    id: id.to_string(),
                    against: None,
                };
                match tokio::time::timeout(REQUEST_TIMEOUT, ctx.client(0).request(diff)).await {
                    Ok(Ok(ControlResponse::Diff(_))) => Ok(()),
                    // Interrupted before its workspace was recorded: the
                    // database check says whether that fits.
                    Ok(Err(studio_client::ClientError::Daemon(err)))
                        if err.kind == protocol::control::ErrorKind::NotFound =>
                    {
                        Ok(())
                    }
                    other => Err(format!("the patch of worktree run {id}: {other:?}")),
                }
            }
            .await;
            self.tally.verify(Check::Workspaces, Some(id), result);
        }
    }

    /// The checks on the database, the worktrees and the repository.
    pub(super) fn check_worktrees(&mut self, db: &Snapshot) -> anyhow::Result<()> {
        let Some(repo) = self.worktrees.repo.clone() else {
            return Ok(());
        };
        let summaries: Vec<SessionSummary> = db.sessions()?;
        let interrupted = summaries
            .iter()
            .filter(|s| self.worktrees.sessions.contains(&s.id))
            .filter(|s| s.status == SessionStatus::Interrupted)
            .count();
        self.faults.record(FaultKind::WorktreeKill, interrupted > 0);
        let mut places = HashSet::new();
        for id in self.worktrees.sessions.clone() {
            let events = db.events(id)?;
            let result = match summaries.iter().find(|s| s.id == id) {
                None => Err("a worktree run is missing from the database".to_owned()),
                Some(summary) => check::whole(summary, &events)
                    .and_then(|()| worktree_recorded(summary, &events))
                    .map(|place| {
                        places.extend(place);
                    }),
            };
            self.tally.verify(Check::Workspaces, Some(id), result);
        }
        // The repository itself: its branch, index and files as they were.
        let result = (|| -> anyhow::Result<()> {
            let head = git(&repo, &["rev-parse", "HEAD"])?;
            anyhow::ensure!(
                head == self.worktrees.head,
                "the repository's HEAD moved to {head}"
            );
            let status = git(&repo, &["status", "--porcelain"])?;
            anyhow::ensure!(
                status.is_empty(),
                "the repository's files changed: {status}"
            );
            // No workspace is left without its run: in the runs' folder,
            // and in git's list of worktrees.
            let runs_dir = self.dir.layout().run_workspaces();
            if runs_dir.exists() {
                for entry in std::fs::read_dir(&runs_dir)?.flatten() {
                    let path = entry.path();
                    anyhow::ensure!(
                        places.contains(&path),
                        "{} is in the runs' folder but no run records it",
                        path.display()
                    );
                }
            }
            let listed = git(&repo, &["worktree", "list", "--porcelain"])?;
            for line in listed.lines() {
                if let Some(path) = line.strip_prefix("worktree ")
                    && Path::new(path) != repo
                {
                    anyhow::ensure!(
                        places.contains(Path::new(path)),
                        "worktree {path} belongs to no run"
                    );
                }
            }
            Ok(())
        })()
        .map_err(|err| format!("{err:#}"));
        self.tally.verify(Check::Workspaces, None, result);
        Ok(())
    }
}

/// The workspace a run's events name, which must exist; a completed run
/// must have recorded its changes, and they must not be empty.
fn worktree_recorded(
    summary: &SessionSummary,
    events: &[protocol::Event],
) -> Result<Option<PathBuf>, String> {
    let created = events.iter().find_map(|e| match &e.kind {
        EventKind::WorkspaceCreated { workspace } => Some(PathBuf::from(&workspace.path)),
        _ => None,
    });
    let changed = events.iter().find_map(|e| match &e.kind {
        EventKind::WorkspaceChanged { changes, .. } => Some(changes.file_count()),
        _ => None,
    });
    let Some(place) = created else {
        // Killed before its workspace was made: nothing to find.
        return match summary.status {
            SessionStatus::Interrupted => Ok(None),
            status => Err(format!(
                "a {status} worktree run recorded no workspace.created"
            )),
        };
    };
    if !place.is_dir() {
        return Err(format!("its workspace {} is gone", place.display()));
    }
    if summary.status == SessionStatus::Completed && changed.is_none_or(|files| files == 0) {
        return Err(format!(
            "a completed worktree run recorded {changed:?} changed files"
        ));
    }
    Ok(Some(place))
}
