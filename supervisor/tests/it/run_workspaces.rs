//! A workspace of its own for each run, through the CLI and the real
//! daemon: attempts on a git repository each work in a worktree on a
//! branch of its own (a plain directory is copied), set up by the agent's
//! setup command in its sandbox; the results table shows what each
//! changed, `studio diff` gives the patch, `studio apply` brings one run's
//! changes into the original workspace (keeping uncommitted work there,
//! refusing whole on a conflict), and deleting the runs removes their
//! workspaces and branches. A hostile run that rewrites its worktree's
//! `.git` to make the daemon's git run its program gets nowhere.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::cli_harness::{Cli, path};

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@t"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A repository with `a.txt` (ten lines) committed.
pub fn repository(cli: &Cli) -> PathBuf {
    let repo = cli.tmp.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    let lines: String = (1..=10).map(|i| format!("line {i}\n")).collect();
    std::fs::write(repo.join("a.txt"), lines).unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "init"]);
    repo
}

/// An agent working in `workspace`, a workspace per run set up by
/// `setup`, whose one tool call runs `command`.
fn coder(cli: &Cli, name: &str, workspace: &Path, setup: &str, command: &str) {
    coder_answering(cli, name, workspace, setup, command, "done");
}

/// [`coder`], answering `answer`.
fn coder_answering(
    cli: &Cli,
    name: &str,
    workspace: &Path,
    setup: &str,
    command: &str,
    answer: &str,
) {
    let call = format!("shell:{}", serde_json::json!({ "command": command }));
    cli.ok(&[
        "agent",
        "create",
        name,
        "--workspace",
        path(workspace),
        "--workspace-per-run",
        "--setup",
        setup,
        "--tools",
        "shell",
        "--safety",
        "workspace-write",
        "--tool-call",
        &call,
        "--answer",
        answer,
    ]);
}

fn runs(results: &Value) -> Vec<Value> {
    results["runs"].as_array().unwrap().clone()
}

fn event<'a>(events: &'a [Value], name: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {events:#?}"))
}

pub fn run_dirs(cli: &Cli) -> Vec<String> {
    let runs = cli.tmp.path().join("d.workspaces").join(".runs");
    let mut names: Vec<String> = std::fs::read_dir(runs)
        .map(|dir| {
            dir.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn attempts_on_a_repository_get_worktrees_of_their_own_whose_changes_apply_back() {
    let cli = Cli::new();
    let repo = repository(&cli);
    // Each run changes line 1 and writes a file named after its own
    // directory; its setup says which branch it is on (read in its sandbox).
    coder(
        &cli,
        "coder",
        &repo,
        "git rev-parse --abbrev-ref HEAD > .branch",
        "sed -i 's/^line 1$/line one/' a.txt && basename \"$PWD\" > \"$(basename \"$PWD\").txt\" && git status --short",
    );
    // The person's uncommitted work in the original.
    let mut lines = std::fs::read_to_string(repo.join("a.txt")).unwrap();
    lines = lines.replace("line 10\n", "line ten (mine)\n");
    std::fs::write(repo.join("a.txt"), &lines).unwrap();

    let results = cli.json(&[
        "run",
        "coder",
        "--prompt",
        "go",
        "--attempts",
        "3",
        "--approve",
        "shell",
    ]);
    let runs = runs(&results);
    assert_eq!(runs.len(), 3);
    for run in &runs {
        assert_eq!(run["status"], "completed", "{run}");
        // a.txt, .branch and its own file.
        assert_eq!(run["files_changed"], 3, "{run}");
        assert_eq!(run["lines_added"], 3, "{run}");
        assert_eq!(run["lines_removed"], 1, "{run}");
    }
    // Three worktrees, none writing into another or into the original.
    assert_eq!(run_dirs(&cli).len(), 3);
    assert_eq!(std::fs::read_to_string(repo.join("a.txt")).unwrap(), lines);
    assert_eq!(git(&repo, &["status", "--short"]), " M a.txt\n");
    let worktrees = git(&repo, &["worktree", "list"]);
    for run in &runs {
        let short = run["short_id"].as_str().unwrap();
        let branch = format!("studio/run-{short}");
        assert!(worktrees.contains(&format!("[{branch}]")), "{worktrees}");
        // The branch holds the run's result as a commit.
        let files = git(&repo, &["show", "--name-only", "--format=", &branch]);
        assert_eq!(files.lines().count(), 3, "{files}");
        let events = cli.events(run["run"].as_str().unwrap());
        let created = event(&events, "workspace.created");
        let dir = created["data"]["workspace"]["path"].as_str().unwrap();
        let own = Path::new(dir);
        let name = own.file_name().unwrap().to_str().unwrap();
        assert_eq!(
            std::fs::read_to_string(own.join(format!("{name}.txt"))).unwrap(),
            format!("{name}\n")
        );
        assert_eq!(
            std::fs::read_to_string(own.join(".branch")).unwrap(),
            format!("{branch}\n")
        );
        let setup = event(&events, "workspace.setup");
        assert_eq!(setup["data"]["exit_code"], 0, "{setup}");
        // Its tool ran where it works, and git works there.
        let tool = event(&events, "tool.completed");
        assert!(
            tool["data"]["output"].as_str().unwrap().contains("M a.txt"),
            "{tool}"
        );
        let names: Vec<&str> = events.iter().map(|e| e["name"].as_str().unwrap()).collect();
        assert_eq!(
            &names[names.len() - 2..],
            ["workspace.changed", "session.completed"]
        );
    }

    // How the second attempt's result differs from the first's: only in
    // the files that name their own worktree.
    let first = runs[0]["run"].as_str().unwrap();
    let apart = cli.json(&["diff", runs[1]["run"].as_str().unwrap(), "--against", first]);
    assert_eq!(apart["changes"]["files_changed"], 3, "{apart}");
    let first_short = runs[0]["short_id"].as_str().unwrap();
    let second_short = runs[1]["short_id"].as_str().unwrap();
    let patch = apart["patch"].as_str().unwrap();
    assert!(
        patch.contains(&format!(
            "-studio/run-{first_short}\n+studio/run-{second_short}\n"
        )),
        "{patch}"
    );
    assert!(
        !patch.contains("line one"),
        "both changed line 1 alike: {patch}"
    );

    // The patch, then apply: the person's line ten stays.
    let diff = cli.json(&["diff", first]);
    let patch = diff["patch"].as_str().unwrap();
    assert!(patch.contains("-line 1\n+line one\n"), "{patch}");
    assert_eq!(diff["workspace"]["kind"], "worktree");
    let checked = cli.json(&["apply", first, "--dry-run"]);
    assert_eq!(checked["applied"], false);
    assert_eq!(std::fs::read_to_string(repo.join("a.txt")).unwrap(), lines);
    let applied = cli.json(&["apply", first]);
    assert_eq!(applied["applied"], true, "{applied}");
    let now = std::fs::read_to_string(repo.join("a.txt")).unwrap();
    assert!(now.starts_with("line one\n"), "{now}");
    assert!(now.ends_with("line ten (mine)\n"), "{now}");
    assert!(repo.join(".branch").exists());

    // A second run's changes no longer apply: refused, nothing written.
    let before = std::fs::read_to_string(repo.join("a.txt")).unwrap();
    let second = runs[1]["run"].as_str().unwrap();
    let refused = cli.fails(&["apply", second], 2);
    assert!(refused.contains("do not apply"), "{refused}");
    assert!(refused.contains("nothing was written"), "{refused}");
    assert_eq!(std::fs::read_to_string(repo.join("a.txt")).unwrap(), before);
    let second_dir = Path::new(
        &cli.events(second)[2]["data"]["workspace"]["path"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
    .to_path_buf();
    let own_file = second_dir.file_name().unwrap().to_str().unwrap().to_owned() + ".txt";
    assert!(!repo.join(own_file).exists());

    // Deleting the group removes every worktree and its branch.
    let group = results["group"]["id"].as_str().unwrap();
    let removed = cli.json(&["rm", "--group", group, "--yes"]);
    assert_eq!(removed["workspaces"], 3, "{removed}");
    assert_eq!(run_dirs(&cli), Vec::<String>::new());
    assert_eq!(git(&repo, &["worktree", "list"]).lines().count(), 1);
    assert!(!git(&repo, &["branch"]).contains("studio/"));
}

#[test]
fn a_plain_directory_is_copied_and_a_failing_setup_fails_the_run() {
    let cli = Cli::new();
    let plain = cli.tmp.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    std::fs::write(plain.join("notes.txt"), "one\n").unwrap();
    coder(
        &cli,
        "copier",
        &plain,
        "true",
        "echo two >> notes.txt; basename $PWD > own.txt",
    );
    let results = cli.json(&[
        "run",
        "copier",
        "--prompt",
        "go",
        "--attempts",
        "2",
        "--approve",
        "shell",
    ]);
    let both = runs(&results);
    let run = &both[0];
    assert_eq!(run["files_changed"], 2, "{run}");
    let id = run["run"].as_str().unwrap();
    // Two copies, each with a git directory of its own: how the second's
    // result differs from the first's.
    let other = both[1]["run"].as_str().unwrap();
    let apart = cli.json(&["diff", other, "--against", id]);
    assert_eq!(apart["against"], id);
    assert_eq!(apart["changes"]["files_changed"], 1, "{apart}");
    assert_eq!(apart["changes"]["files"][0]["path"], "own.txt");
    let patch = apart["patch"].as_str().unwrap();
    assert!(patch.contains(&format!("-{id}\n+{other}\n")), "{patch}");
    let events = cli.events(id);
    let created = &event(&events, "workspace.created")["data"]["workspace"];
    assert_eq!(created["kind"], "Copy", "{created}");
    assert_eq!(
        std::fs::read_to_string(plain.join("notes.txt")).unwrap(),
        "one\n"
    );
    cli.json(&["apply", id]);
    assert_eq!(
        std::fs::read_to_string(plain.join("notes.txt")).unwrap(),
        "one\ntwo\n"
    );
    assert_eq!(
        run_dirs(&cli).len(),
        4,
        "two copies and their git directories"
    );
    cli.ok(&[
        "rm",
        "--group",
        results["group"]["id"].as_str().unwrap(),
        "--yes",
    ]);
    assert_eq!(run_dirs(&cli), Vec::<String>::new());

    // A setup that fails: the run fails before its turn, saying why.
    coder(
        &cli,
        "broken",
        &plain,
        "echo cannot install >&2; exit 4",
        "echo never > never.txt",
    );
    let out = cli.run(&[
        "--json",
        "run",
        "broken",
        "--prompt",
        "go",
        "--attempts",
        "1",
        "--approve",
        "shell",
    ]);
    assert_eq!(out.status.code(), Some(3), "a run that did not complete");
    let results: Value = serde_json::from_slice(&out.stdout).unwrap();
    let run = runs(&results).remove(0);
    assert_eq!(run["status"], "failed", "{run}");
    let events = cli.events(run["run"].as_str().unwrap());
    let setup = &event(&events, "workspace.setup")["data"];
    assert_eq!(setup["exit_code"], 4);
    assert!(setup["output"].as_str().unwrap().contains("cannot install"));
    assert!(events.iter().all(|e| e["name"] != "llm.request.started"));
    let failed = event(&events, "session.failed");
    assert!(
        failed["data"]["error"]
            .as_str()
            .unwrap()
            .contains("setup command failed"),
        "{failed}"
    );
    assert_eq!(run["files_changed"], 0);
}

#[test]
fn a_run_cannot_make_the_daemons_git_run_its_program() {
    let cli = Cli::new();
    let repo = repository(&cli);
    let escaped = cli.tmp.path().join("escaped");
    // The run tries to point its worktree's .git at a repository of its
    // own whose config names its program as fsmonitor and as a clean
    // filter (the sandbox keeps that file read-only; the daemon's git
    // never reads it either), asks for that filter on every file, and
    // tries to plant a hook in the original repository.
    let attack = format!(
        "printf '#!/bin/sh\\ntouch {marker}\\ncat\\n' > $PWD/evil.sh; chmod +x $PWD/evil.sh; \
         git init -q $PWD/evil; \
         printf '[core]\\n\\tfsmonitor = %s/evil.sh\\n[filter \"x\"]\\n\\tclean = %s/evil.sh\\n' $PWD $PWD >> $PWD/evil/.git/config; \
         echo \"gitdir: $PWD/evil/.git\" > .git; \
         echo '* filter=x' > .gitattributes; \
         echo change >> a.txt; \
         cp $PWD/evil.sh {repo}/.git/hooks/post-checkout; \
         cp $PWD/evil.sh {repo}/.git/hooks/pre-commit; \
         git status --short; echo tried",
        marker = path(&escaped),
        repo = path(&repo),
    );
    coder(&cli, "hostile", &repo, "true", &attack);
    let results = cli.json(&[
        "run",
        "hostile",
        "--prompt",
        "go",
        "--attempts",
        "1",
        "--approve",
        "shell",
    ]);
    let run = runs(&results).remove(0);
    assert!(
        !escaped.exists(),
        "the daemon's git ran the run's program reading its changes"
    );
    let id = run["run"].as_str().unwrap();
    let events = cli.events(id);
    let tool = event(&events, "tool.completed");
    assert!(
        tool["data"]["output"].as_str().unwrap().contains("tried"),
        "{tool}"
    );
    // Its changes were read all the same, through the real git directory.
    assert!(run["files_changed"].as_u64().unwrap() >= 2, "{run}");
    let diff = cli.json(&["diff", id]);
    assert!(diff["patch"].as_str().unwrap().contains("+change"));
    cli.json(&["apply", id]);
    assert!(!escaped.exists(), "the daemon's git ran the run's program");
    for hook in ["post-checkout", "pre-commit"] {
        assert!(
            !repo.join(".git/hooks").join(hook).exists(),
            "the run wrote a hook into the original repository"
        );
    }
    cli.ok(&["rm", id, "--yes"]);
    assert_eq!(run_dirs(&cli), Vec::<String>::new());
    assert!(!escaped.exists());
}

#[test]
fn a_run_whose_daemon_was_killed_still_diffs_applies_and_is_removed() {
    let cli = Cli::new();
    let repo = repository(&cli);
    coder(
        &cli,
        "slow",
        &repo,
        "true",
        "echo half > half.txt; echo started; sleep 600",
    );
    let started = cli.json(&[
        "run",
        "slow",
        "--prompt",
        "go",
        "--approve",
        "shell",
        "--detach",
    ]);
    let id = started["session"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !cli.events(&id).iter().any(|e| e["name"] == "tool.started") {
        assert!(
            std::time::Instant::now() < deadline,
            "the tool never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pid = cli.json(&["daemon", "status"])["pid"].as_u64().unwrap();
    Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    while Path::new(&format!("/proc/{pid}")).exists() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // The next daemon marks the run interrupted; its changes are read
    // when first asked for.
    let events = cli.events(&id);
    assert_eq!(events.last().unwrap()["name"], "session.interrupted");
    assert!(events.iter().all(|e| e["name"] != "workspace.changed"));
    let diff = cli.json(&["diff", &id]);
    assert_eq!(diff["changes"]["files_changed"], 1, "{diff}");
    assert_eq!(diff["changes"]["files"][0]["path"], "half.txt");
    cli.json(&["apply", &id]);
    assert_eq!(
        std::fs::read_to_string(repo.join("half.txt")).unwrap(),
        "half\n"
    );
    cli.ok(&["rm", &id, "--yes"]);
    assert_eq!(run_dirs(&cli), Vec::<String>::new());
    assert!(!git(&repo, &["branch"]).contains("studio/"));
}

#[test]
fn command_and_schema_checks_score_each_run_in_its_own_workspace() {
    let cli = Cli::new();
    let repo = repository(&cli);
    // Not under /tmp: a sandboxed command's /tmp is its own.
    let outside = PathBuf::from(format!("/var/tmp/studio-check-{}", std::process::id()));
    coder_answering(
        &cli,
        "tester",
        &repo,
        "true",
        "basename \"$PWD\" > \"$(basename \"$PWD\").txt\"",
        "```json\n{\"verdict\": \"fixed\"}\n```",
    );
    let schema = cli.write(
        "answer.schema.json",
        r#"{"type": "object", "required": ["verdict"]}"#,
    );
    let escape = format!("echo out > {}", path(&outside));
    let results = cli.json(&[
        "run",
        "tester",
        "--prompt",
        "go",
        "--attempts",
        "2",
        "--approve",
        "shell",
        "--check-command",
        "test -f \"$(basename \"$PWD\").txt\"",
        "--check-command",
        "echo no such test >&2; exit 3",
        "--check-command",
        &escape,
        "--check-schema",
        path(&schema),
        "--check-schema",
        r#"{"type": "string"}"#,
    ]);
    for run in runs(&results) {
        let checks = run["checks"].as_array().unwrap();
        let passed: Vec<bool> = checks.iter().map(|c| c["passed"] == true).collect();
        // The answer is an object with a verdict, not a string; its own
        // file is there; the failing command fails; the write outside its
        // workspace is refused by the sandbox.
        assert_eq!(passed, [true, false, true, false, false], "{run}");
        assert!(
            checks[1]["detail"].as_str().unwrap().contains("string"),
            "{run}"
        );
        assert_eq!(checks[3]["detail"], "exit code 3: no such test");
        let events = cli.events(run["run"].as_str().unwrap());
        let ran: Vec<&Value> = events
            .iter()
            .filter(|e| e["name"] == "check.command")
            .collect();
        assert_eq!(ran.len(), 3);
        assert_eq!(ran[0]["data"]["exit_code"], 0);
        let names: Vec<&str> = events.iter().map(|e| e["name"].as_str().unwrap()).collect();
        let last_command = names.iter().rposition(|n| *n == "check.command").unwrap();
        let first_result = names.iter().position(|n| *n == "check.result").unwrap();
        assert!(last_command < first_result, "{names:?}");
    }
    assert!(
        !outside.exists(),
        "a check's command wrote outside its sandbox"
    );
    assert_eq!(results["pass_rates"][0]["passed"], 0);
}

#[test]
fn a_default_workspace_inside_a_repository_is_copied_not_that_repository() {
    let cli = Cli::new();
    // The directory holding the data dir and the workspaces is itself a
    // repository (a home directory kept in git).
    git(cli.tmp.path(), &["init", "-q"]);
    std::fs::write(cli.tmp.path().join("dotfile"), "x\n").unwrap();
    git(cli.tmp.path(), &["add", "dotfile"]);
    git(cli.tmp.path(), &["commit", "-q", "-m", "home"]);
    let call = format!(
        "shell:{}",
        serde_json::json!({ "command": "echo mine > mine.txt" })
    );
    cli.ok(&[
        "agent",
        "create",
        "homebody",
        "--workspace-per-run",
        "--tools",
        "shell",
        "--safety",
        "workspace-write",
        "--tool-call",
        &call,
    ]);
    let results = cli.json(&[
        "run",
        "homebody",
        "--prompt",
        "go",
        "--attempts",
        "1",
        "--approve",
        "shell",
    ]);
    let run = runs(&results).remove(0);
    assert_eq!(run["files_changed"], 1, "{run}");
    let events = cli.events(run["run"].as_str().unwrap());
    let created = &event(&events, "workspace.created")["data"]["workspace"];
    assert_eq!(created["kind"], "Copy", "{created}");
    assert!(!git(cli.tmp.path(), &["branch"]).contains("studio/"));
}
