//! The browser view (`studio-ui --web`) end to end in Debian's Chromium,
//! driven by `tests/e2e/browser.mjs` (playwright-core, pinned by
//! `tests/e2e/package-lock.json`) against a real daemon: sign in with
//! `?token=` (which must leave the URL and set a session cookie that is not
//! the token), create an agent with the form, start three runs and kill one
//! while the others finish, approve a waiting tool call from the inbox,
//! find an event in the Inspector by search, chat with an agent (streamed
//! answer, a tool call approved inline), end and resume the chat, store a
//! key, add a rule, add and import MCP servers, set and reset a price on
//! the Settings page, use the command palette, apply one of two attempts'
//! changes to a git repository from a group's results table (the other's
//! then conflict and are refused), and sign out (another tab of the
//! session is closed too) and in again with the form. Screenshots of each
//! step go to `target/test-artifacts/`.
//!
//! Needs `/usr/bin/chromium` and the npm packages (`scripts/setup`
//! installs both) and `studio` built next to `studio-ui`.

// A panic is how a test fails.

use std::path::Path;

use crate::common::{Daemon, run_browser_script, serve_web};

#[test]
fn the_browser_view_creates_runs_kills_approves_and_inspects() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Chromium is not installed: run scripts/setup"
    );
    let daemon = Daemon::new("sub");
    daemon.studio(&[
        "agent",
        "create",
        "slow",
        "--chunks",
        "40",
        "--chunk-delay-ms",
        "100",
    ]);
    daemon.studio(&[
        "agent",
        "create",
        "asker",
        "--tools",
        "fs",
        "--tool-call",
        "fs.list",
        "--chunks",
        "3",
    ]);

    // Attempts in a repository: each appends to notes.txt in a worktree
    // of its own.
    let repo = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .current_dir(repo.path())
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    git(&["init", "-q"]);
    std::fs::write(repo.path().join("notes.txt"), "original\n").unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "init"]);
    daemon.studio(&[
        "agent",
        "create",
        "coder",
        "--workspace",
        repo.path().to_str().unwrap(),
        "--workspace-per-run",
        "--tools",
        "shell",
        "--safety",
        "workspace-write",
        "--tool-call",
        r#"shell:{"command": "echo attempt >> notes.txt"}"#,
        "--chunks",
        "3",
    ]);

    let (_server, url) = serve_web(&daemon, &[]);
    run_browser_script("browser.mjs", &url, &daemon, &[]);
    // The first attempt's change, applied from the results table; the
    // second's was refused and wrote nothing.
    assert_eq!(
        std::fs::read_to_string(repo.path().join("notes.txt")).unwrap(),
        "original\nattempt\n"
    );
}
