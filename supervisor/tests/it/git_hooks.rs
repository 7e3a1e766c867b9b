//! What a hostile `workspace-write` agent tries against the user's own
//! git: a hook or a `core.fsmonitor` planted in the repository it works
//! in would run outside every sandbox the next time the user commits or
//! even asks `git status`. Through the shell and through `fs.*`, by every
//! spelling (moving `.git` aside, a symlink to it, a nested clone, a
//! worktree's `gitdir:` file), each meets a read-only wall; git still
//! reads, and an agent granted `.git` explicitly commits.

use std::path::Path;

use protocol::agent::{AgentConfig, SafetyMode, ScriptedToolCall};
use studio_client::Client;

use crate::sandbox::run_calls;
use crate::support::*;

/// Runs `git ARGS` in `dir` as the user would, with no config of theirs.
fn user_git(dir: &Path, args: &[&str]) -> std::process::Output {
    let output = studio_process::std_command("git", studio_process::ChildEnv::Only(&["PATH"]))
        .args(["-c", "user.name=User", "-c", "user.email=user@localhost"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A repository with one commit, a clone inside it and a linked worktree.
fn repository(dir: &Path) {
    user_git(dir, &["init", "-q"]);
    std::fs::write(dir.join("a.txt"), "a\n").unwrap();
    user_git(dir, &["add", "a.txt"]);
    user_git(dir, &["commit", "-qm", "first"]);
    std::fs::create_dir(dir.join("lib")).unwrap();
    user_git(&dir.join("lib"), &["init", "-q"]);
    user_git(dir, &["worktree", "add", "-q", "wt"]);
}

fn coder(name: &str, workspace: &Path, write: Vec<String>) -> AgentConfig {
    let mut agent = agent(name, 1, 0);
    agent.tools = vec!["shell".into(), "fs".into()];
    agent.safety = SafetyMode::WorkspaceWrite;
    agent.workspace = Some(workspace.display().to_string());
    agent.sandbox.write = write;
    agent
}

fn shell(command: String) -> ScriptedToolCall {
    ScriptedToolCall {
        name: "shell".into(),
        arguments: serde_json::json!({ "command": command }).to_string(),
    }
}

/// Runs one run of `agent` making `calls`, all approved; each call's
/// output, in order.
async fn outputs(client: &Client, agent: &str, calls: Vec<ScriptedToolCall>) -> Vec<String> {
    run_calls(client, agent, calls, "*").await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_cannot_plant_a_hook_or_setting_in_the_users_git() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().canonicalize().unwrap().join("ws");
    std::fs::create_dir(&ws).unwrap();
    repository(&ws);
    let marker = tmp.path().join("escaped");
    let config_before = std::fs::read(ws.join(".git/config")).unwrap();
    create_agent(&client, coder("coder", &ws, Vec::new())).await;
    let hook = format!("#!/bin/sh\ntouch {}\n", marker.display());
    let write = |path: &str| ScriptedToolCall {
        name: "fs.write".into(),
        arguments: serde_json::json!({ "path": path, "content": hook }).to_string(),
    };
    let calls = vec![
        shell(format!(
            "printf '#!/bin/sh\\ntouch {m}\\n' > .git/hooks/pre-commit; chmod +x .git/hooks/pre-commit; \
             git config core.fsmonitor 'touch {m}'; git config core.hooksPath $PWD/hooks; echo tried",
            m = marker.display()
        )),
        shell("mv .git .git-aside; rm -rf .git; ls .git/config".into()),
        shell(
            "echo '[core] fsmonitor = x' >> lib/.git/config; echo \"gitdir: $PWD/evil\" > wt/.git; \
             cat wt/.git"
                .into(),
        ),
        shell("git status --short; echo ok > new.txt && cat new.txt".into()),
        write(".git/hooks/post-checkout"),
        shell("ln -s .git g; echo linked".into()),
        write("g/hooks/pre-push"),
        write("lib/.git/config"),
    ];
    let out = outputs(&client, "coder", calls).await;
    assert!(
        out[0].matches("Read-only file system").count() >= 3 && out[0].contains("tried"),
        "the hook and both settings are refused: {}",
        out[0]
    );
    assert!(out[1].contains("Device or resource busy"), "{}", out[1]);
    assert!(
        out[1].contains(".git/config\n"),
        "it is still there: {}",
        out[1]
    );
    assert_eq!(
        out[2].matches("Read-only file system").count(),
        2,
        "{}",
        out[2]
    );
    assert!(out[2].contains("gitdir: "), "{}", out[2]);
    assert!(
        !out[2].contains("evil"),
        "the worktree was repointed: {}",
        out[2]
    );
    // Git still reads, and the rest of the workspace is written.
    assert!(
        out[3].contains("?? lib/") && out[3].contains("ok\n"),
        "{}",
        out[3]
    );
    for at in [4, 6, 7] {
        assert!(out[at].contains("git's metadata"), "{}", out[at]);
    }
    // Nothing of it reached the repository: the user's own git, hooks
    // and all, runs nothing of the agent's.
    assert_eq!(
        std::fs::read(ws.join(".git/config")).unwrap(),
        config_before
    );
    assert!(!ws.join(".git-aside").exists());
    for hook in ["pre-commit", "post-checkout", "pre-push"] {
        assert!(!ws.join(".git/hooks").join(hook).exists(), "{hook} planted");
    }
    user_git(&ws, &["status", "--short"]);
    user_git(&ws, &["add", "new.txt"]);
    user_git(
        &ws,
        &["commit", "-qm", "the agent's work, committed by the user"],
    );
    user_git(&ws.join("wt"), &["status"]);
    assert!(!marker.exists(), "the user's git ran the agent's program");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_granted_its_git_explicitly_commits() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().canonicalize().unwrap();
    repository(&ws);
    let git_dir = ws.join(".git").display().to_string();
    create_agent(&client, coder("committer", &ws, vec![git_dir])).await;
    let calls = vec![
        shell(
            "echo b > b.txt && git add b.txt && \
             git -c user.name=Agent -c user.email=agent@localhost commit -qm 'from the agent' && echo committed"
                .into(),
        ),
        ScriptedToolCall {
            name: "fs.write".into(),
            arguments: serde_json::json!({ "path": ".git/description", "content": "granted\n" })
                .to_string(),
        },
        // What it was granted is its repository's, not a clone's inside.
        shell("echo x >> lib/.git/config; echo rc=$?".into()),
    ];
    let out = outputs(&client, "committer", calls).await;
    assert!(out[0].contains("committed"), "{}", out[0]);
    assert!(out[1].contains("wrote"), "{}", out[1]);
    assert!(out[2].contains("Read-only file system"), "{}", out[2]);
    let log = user_git(&ws, &["log", "--format=%s", "-1"]);
    assert_eq!(String::from_utf8_lossy(&log.stdout), "from the agent\n");
}
