//! Workspaces no run records are removed when the daemon starts: what a
//! daemon killed between making a run's workspace and recording it left
//! (a worktree, with its branch), and what is left of a deleted run. A
//! symlink in the runs' folder is removed, never followed.

use std::time::{Duration, Instant};

use crate::cli_harness::Cli;
use crate::run_workspaces::{git, repository, run_dirs};

#[test]
fn a_restarted_daemon_removes_workspaces_no_run_records_and_follows_no_symlink() {
    let cli = Cli::new();
    let repo = repository(&cli);
    cli.ok(&["agent", "create", "plain", "--answer", "ok"]);
    let out = cli.json(&["run", "plain", "--prompt", "hi", "--detach"]);
    let ended = out["session"].as_str().unwrap().to_owned();
    cli.ok(&["wait", &ended]);
    let short = &ended[ended.len() - 8..];
    cli.ok(&["daemon", "stop"]);

    // As a daemon killed after `git worktree add` but before
    // `workspace.created` was committed would leave it.
    let runs = cli.tmp.path().join("d.workspaces").join(".runs");
    std::fs::create_dir_all(&runs).unwrap();
    let orphan = runs.join(&ended);
    let branch = format!("studio/run-{short}");
    git(
        &repo,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            &branch,
            orphan.to_str().unwrap(),
            "HEAD",
        ],
    );
    // What a deleted run's copy and its git directory left.
    let gone = "01930000-0000-7000-8000-00000000abcd";
    std::fs::create_dir_all(runs.join(gone)).unwrap();
    std::fs::write(runs.join(gone).join("f.txt"), "left").unwrap();
    std::fs::create_dir_all(runs.join(format!("{gone}.git"))).unwrap();
    // A symlink named like a session, pointing at something to keep.
    let kept = cli.tmp.path().join("kept");
    std::fs::create_dir_all(&kept).unwrap();
    std::fs::write(kept.join("precious.txt"), "keep me").unwrap();
    let linked = "01930000-0000-7000-8000-00000000beef";
    std::os::unix::fs::symlink(&kept, runs.join(linked)).unwrap();
    // Something that is not a session's is not the daemon's to remove.
    std::fs::create_dir_all(runs.join("notes")).unwrap();

    cli.ok(&["daemon", "start"]);
    // The worktree's folder goes first, then its branch: wait for both.
    let swept = || {
        run_dirs(&cli) == ["notes"]
            && git(&repo, &["branch", "--list", "studio/*"])
                .trim()
                .is_empty()
    };
    let start = Instant::now();
    while !swept() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(run_dirs(&cli), ["notes"]);
    assert_eq!(
        std::fs::read_to_string(kept.join("precious.txt")).unwrap(),
        "keep me"
    );
    let worktrees = git(&repo, &["worktree", "list", "--porcelain"]);
    assert_eq!(worktrees.matches("worktree ").count(), 1, "{worktrees}");
    let branches = git(&repo, &["branch", "--list", "studio/*"]);
    assert!(branches.trim().is_empty(), "{branches}");
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
    // The run itself is untouched.
    assert_eq!(cli.json(&["ps", "--all"]).as_array().unwrap().len(), 1);
}
