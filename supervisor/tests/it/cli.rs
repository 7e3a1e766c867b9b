//! The `studio` command line, end to end: each command starts the daemon
//! when needed, prints tables or JSON, and exits with a meaningful code.

use std::process::Command;

use serde_json::Value;

use crate::cli_harness::{Cli, path};
use crate::support::{studio_bin, worker_bin};

#[test]
fn agents_are_created_listed_shown_and_removed() {
    let cli = Cli::new();
    assert!(cli.ok(&["agent", "list"]).contains("no agents yet"));
    cli.ok(&[
        "agent",
        "create",
        "quick",
        "--chunks",
        "3",
        "--max-memory-mib",
        "64",
    ]);
    let file = cli.write(
        "writer.toml",
        "name = \"writer\"\nsystem_prompt = \"Write tersely.\"\n[script]\nchunks = 4\nfault = \"exit:2\"\n[budgets]\nmax_wall_secs = 30\n",
    );
    cli.ok(&["agent", "create", "--file", path(&file)]);
    let err = cli.fails(&["agent", "create", "quick"], 2);
    assert!(err.contains("exists (use --replace"), "{err}");
    cli.ok(&[
        "agent",
        "create",
        "quick",
        "--chunks",
        "5",
        "--max-turns",
        "4",
        "--replace",
    ]);

    let agents = cli.json(&["agent", "list"]);
    let names: Vec<&str> = agents
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["quick", "writer"]);
    let writer = cli.json(&["agent", "show", "writer"]);
    assert_eq!(writer["script"]["fault"], "exit:2");
    assert_eq!(writer["budgets"]["max_wall_secs"], 30);
    let toml_text = cli.ok(&["agent", "show", "writer"]);
    assert!(
        toml_text.contains("system_prompt = \"Write tersely.\""),
        "{toml_text}"
    );
    assert!(cli.ok(&["agent", "list"]).contains("wall 30s"));
    assert_eq!(
        cli.json(&["agent", "show", "quick"])["budgets"]["max_turns"],
        4
    );
    assert!(cli.ok(&["agent", "list"]).contains("4 turns"));

    let bad = cli.write("bad.toml", "name = \"x\"\nmodle = \"typo\"\n");
    let err = cli.fails(&["agent", "create", "--file", path(&bad)], 2);
    assert!(err.contains("unknown field `modle`"), "{err}");

    cli.ok(&["agent", "rm", "writer"]);
    let err = cli.fails(&["agent", "show", "writer"], 4);
    assert!(err.contains("no agent named \"writer\""), "{err}");
}

#[test]
fn a_run_streams_its_answer_and_exit_codes_tell_how_it_ended() {
    let cli = Cli::new();
    cli.ok(&[
        "agent",
        "create",
        "echo",
        "--chunk-chars",
        "4",
        "--chunk-delay-ms",
        "5",
    ]);
    let out = cli.ok(&[
        "run",
        "echo",
        "--prompt",
        "hi",
        "--answer",
        "Hello from the script",
    ]);
    assert_eq!(out, "Hello from the script\n");

    let err = cli.fails(&["run", "echo", "--prompt", "hi", "--fault", "panic"], 3);
    assert!(
        err.contains("crashed: worker exited with code 101"),
        "{err}"
    );
    let err = cli.fails(&["run", "nobody", "--prompt", "hi"], 4);
    assert!(err.contains("no agent named"), "{err}");
    let err = cli.fails(&["run", "echo", "--prompt", "hi", "--fault", "melt"], 2);
    assert!(err.contains("unknown fault"), "{err}");

    let detached = cli.json(&["run", "echo", "--prompt", "later", "--detach"]);
    let session = detached["session"].as_str().unwrap().to_owned();
    let lines = cli.ok(&["--json", "events", &session[..13], "--follow"]);
    let events: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = events.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names.first(), Some(&"run.queued"));
    assert_eq!(names.last(), Some(&"session.completed"));
    assert!(names.contains(&"llm.response.chunk"));
    for (index, event) in events.iter().enumerate() {
        assert_eq!(event["seq"], index as u64 + 1);
        assert_eq!(event["session"], session.as_str());
    }
    // Following an ended session from past its end returns at once.
    let after = events.len().to_string();
    assert_eq!(
        cli.ok(&["events", &session, "--follow", "--after", &after]),
        ""
    );
    let text = cli.ok(&["events", &session]);
    assert!(
        text.contains("message.user") && text.contains("text=\"later\""),
        "{text}"
    );

    let all = cli.json(&["ps", "--all"]);
    let row = all
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == session.as_str())
        .unwrap();
    assert_eq!(row["status"], "completed");
    assert_eq!(row["agent"], "echo");
    assert_eq!(row["events"], events.len() as u64);
    assert!(
        cli.json(&["ps"]).as_array().unwrap().is_empty(),
        "nothing live"
    );
}

/// `studio replay` runs a recorded run again as it was started (prompt,
/// label, script), with its agent or another, or with a changed context.
#[test]
fn a_run_is_replayed_as_it_was_started_with_its_agent_or_another() {
    let cli = Cli::new();
    cli.ok(&["agent", "create", "echo"]);
    cli.ok(&[
        "agent",
        "create",
        "other",
        "--answer",
        "From the other agent",
    ]);
    let first = cli.json(&[
        "run",
        "echo",
        "--prompt",
        "say it",
        "--label",
        "nightly",
        "--answer",
        "Said once",
        "--detach",
    ]);
    let first = first["session"].as_str().unwrap().to_owned();
    cli.ok(&["events", &first, "--follow"]);

    // Streamed like `studio run`, with the same scripted answer.
    assert_eq!(cli.ok(&["replay", &first[..8]]), "Said once\n");
    let again = cli.json(&["replay", &first, "--agent", "other", "--detach"]);
    let again = again["session"].as_str().unwrap().to_owned();
    cli.ok(&["events", &again, "--follow"]);
    let events = cli.ok(&["events", &again]);
    assert!(
        events.contains("text=\"say it\""),
        "the same prompt: {events}"
    );

    let all = cli.json(&["ps", "--all"]);
    let rows = all.as_array().unwrap();
    let replays: Vec<(&str, &str)> = rows
        .iter()
        .filter(|s| s["id"] != first.as_str())
        .map(|s| (s["agent"].as_str().unwrap(), s["label"].as_str().unwrap()))
        .collect();
    assert_eq!(replays.len(), 2, "{all}");
    let labelled = |agent: &str, tail: &str| {
        replays.iter().any(|(a, label)| {
            *a == agent && label.starts_with("nightly (replay from #") && label.ends_with(tail)
        })
    };
    assert!(labelled("echo", ")"), "{replays:?}");
    assert!(labelled("other", "; agent other)"), "{replays:?}");
    let original = rows.iter().find(|s| s["id"] == first.as_str()).unwrap();
    assert_eq!(original["label"], "nightly");

    // With a changed context from the flags.
    let changed = cli.json(&[
        "replay",
        &first,
        "--model",
        "scripted-2",
        "--temperature",
        "0.5",
        "--prompt",
        "say it twice",
        "--detach",
    ]);
    let changed = changed["session"].as_str().unwrap().to_owned();
    cli.ok(&["events", &changed, "--follow"]);
    let shown = cli.json(&["ps", "--all"]);
    let row = shown
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == changed.as_str())
        .unwrap();
    assert!(
        row["label"]
            .as_str()
            .unwrap()
            .ends_with("; model scripted-2, prompt, temperature 0.5)"),
        "{row}"
    );
    assert_eq!(row["parent"], first.as_str());
    assert!(
        cli.ok(&["events", &changed])
            .contains("text=\"say it twice\"")
    );
    let err = cli.fails(&["replay", &first, "--at", "999"], 2);
    assert!(err.contains("cannot replay from #999"), "{err}");
    let err = cli.fails(&["replay", &first, "--agent", "nobody"], 4);
    assert!(err.contains("no agent named"), "{err}");
    let err = cli.fails(&["replay", "ffffffff"], 4);
    assert!(err.contains("no session"), "{err}");
}

/// `studio export` writes a session's setup, then every event, as JSON
/// lines: to standard output, or whole to a file; a failed export leaves
/// no file behind.
#[test]
fn a_session_is_exported_as_json_lines_with_its_setup() {
    let cli = Cli::new();
    cli.ok(&["agent", "create", "echo", "--system-prompt", "Be brief."]);
    let run = cli.json(&[
        "run",
        "echo",
        "--prompt",
        "export me",
        "--label",
        "kept",
        "--detach",
    ]);
    let session = run["session"].as_str().unwrap().to_owned();
    cli.ok(&["events", &session, "--follow"]);

    let text = cli.ok(&["export", &session[..8]]);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let header = &lines[0];
    assert_eq!(header["export"], "ai-studio.session");
    assert_eq!(header["version"], 1);
    assert_eq!(header["session"]["id"], session.as_str());
    assert_eq!(header["session"]["label"], "kept");
    assert_eq!(header["agent"]["name"], "echo");
    assert_eq!(header["agent"]["system_prompt"], "Be brief.");
    assert_eq!(header["run"]["prompt"], "export me");
    let events = &lines[1..];
    assert_eq!(
        events.len() as u64,
        header["session"]["events"].as_u64().unwrap()
    );
    for (index, event) in events.iter().enumerate() {
        assert_eq!(event["seq"], index as u64 + 1);
    }
    assert_eq!(events[0]["name"], "run.queued");
    assert_eq!(events.last().unwrap()["name"], "session.completed");
    // The same, whole, in a file; the summary goes to stderr.
    let file = cli.tmp.path().join("export.jsonl");
    let out = cli.run(&["export", &session, "--out", file.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("events of"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    // Nothing is written for a session that does not exist.
    let missing = cli.tmp.path().join("missing.jsonl");
    let err = cli.fails(
        &["export", "ffffffff", "--out", missing.to_str().unwrap()],
        4,
    );
    assert!(err.contains("no session"), "{err}");
    let left: Vec<_> = std::fs::read_dir(cli.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("missing"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn kill_cancel_and_title_take_a_short_id_or_a_prefix() {
    let cli = Cli::new();
    cli.ok(&[
        "agent",
        "create",
        "slow",
        "--chunks",
        "500",
        "--chunk-delay-ms",
        "20",
    ]);
    let first = cli
        .ok(&["run", "slow", "--prompt", "a", "--detach"])
        .trim()
        .to_owned();
    let second = cli
        .ok(&["run", "slow", "--prompt", "b", "--detach"])
        .trim()
        .to_owned();
    // `ps` shows the short ids (the random last 8 digits: two runs made
    // in the same second share their first ones) and the titles.
    let short = |id: &str| id[id.len() - 8..].to_owned();
    let live = cli.ok(&["ps"]);
    assert!(
        live.contains(&short(&first)) && live.contains(&short(&second)),
        "{live}"
    );
    assert!(!live.contains(&first), "{live}");
    cli.ok(&["title", &short(&first), "Nightly report"]);
    let titled = cli.json(&["ps"]);
    let title_of = |rows: &serde_json::Value, id: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .map(|r| r["title"].as_str().unwrap().to_owned())
    };
    assert_eq!(title_of(&titled, &first).as_deref(), Some("Nightly report"));
    assert!(
        titled
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["batch"].is_null()),
        "a run queued alone is in no batch: {titled}"
    );
    assert_eq!(
        title_of(&titled, &second).as_deref(),
        Some("b"),
        "its prompt"
    );
    let refused = cli.fails(&["title", &short(&first), "two\nlines"], 2);
    assert!(refused.contains("one line"), "{refused}");
    cli.ok(&["title", &short(&first)]);
    assert_eq!(title_of(&cli.json(&["ps"]), &first).as_deref(), Some("a"));
    cli.ok(&["kill", &short(&first)]);
    let out = cli.ok(&["cancel", &second[..13]]);
    assert!(out.contains("cancel requested"), "{out}");
    let events = cli.ok(&["--json", "events", &second, "--follow"]);
    assert!(
        events.lines().last().unwrap().contains("session.cancelled"),
        "{events}"
    );
    let last = cli.ok(&["--json", "events", &first]);
    assert!(
        last.lines().last().unwrap().contains("session.killed"),
        "{last}"
    );
    let err = cli.fails(&["kill", &first], 2);
    assert!(err.contains("already ended (killed)"), "{err}");
    let err = cli.fails(&["kill", "ffff-ffff"], 4);
    assert!(err.contains("no session starts or ends with"), "{err}");
}

#[test]
fn a_batch_runs_in_parallel_and_summarises_every_line() {
    let cli = Cli::new();
    cli.ok(&[
        "agent",
        "create",
        "batcher",
        "--chunks",
        "5",
        "--chunk-delay-ms",
        "10",
    ]);
    let bad = cli.write(
        "bad.jsonl",
        "{\"prompt\":\"a\"}\n{\"prompt\":\"b\",\"fault\":\"nope\"}\n",
    );
    let err = cli.fails(&["run", "batcher", "--batch", path(&bad)], 2);
    assert!(
        err.contains("bad.jsonl: ")
            && err.contains("line 2: ")
            && err.contains("nothing was started"),
        "{err}"
    );
    assert!(cli.json(&["ps", "--all"]).as_array().unwrap().is_empty());

    let batch = cli.write(
        "runs.jsonl",
        "{\"prompt\":\"one\",\"label\":\"first\"}\n\
         {\"prompt\":\"two\"}\n\
         {\"prompt\":\"three\",\"fault\":\"panic\"}\n\
         \n\
         {\"prompt\":\"four\",\"script\":{\"fault\":\"exit:3\",\"fault_after_chunks\":2}}\n",
    );
    let out = cli.run(&[
        "--json",
        "run",
        "batcher",
        "--batch",
        path(&batch),
        "--parallel",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(3), "not every run completed");
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["totals"],
        serde_json::json!({"completed": 2, "crashed": 2})
    );
    let runs = summary["runs"].as_array().unwrap();
    let labels: Vec<&str> = runs.iter().map(|r| r["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["first", "line 2", "line 3", "line 5"]);
    assert_eq!(runs[3]["detail"], "crashed: worker exited with code 3");
    // The runs keep their batch, named by its first run.
    let all = cli.json(&["ps", "--all"]);
    let first = all
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == "first")
        .unwrap()["id"]
        .clone();
    assert!(
        all.as_array().unwrap().iter().all(|r| r["batch"] == first),
        "{all}"
    );
    // Each session keeps what it spent; completed ones streamed an answer.
    for run in all.as_array().unwrap() {
        assert!(run["usage"]["input_tokens"].as_u64().is_some(), "{run}");
        if run["status"] == "completed" {
            assert!(run["usage"]["output_tokens"].as_u64() > Some(0), "{run}");
        }
    }

    let table = cli.run(&["run", "batcher", "--batch", path(&batch)]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("4 runs: 2 completed, 2 crashed"), "{text}");

    // Detached: the ids at once, one per line, and the daemon runs the
    // batch to its end with nobody watching.
    let ids = cli.ok(&["run", "batcher", "--batch", path(&batch), "--detach"]);
    let ids: Vec<&str> = ids.lines().collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    let ended = |id: &str| {
        let shown = cli.json(&["ps", "--all"]);
        shown
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .map(|s| s["status"].as_str().unwrap().to_owned())
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while ids
        .iter()
        .any(|id| !matches!(ended(id).as_deref(), Some("completed" | "crashed")))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the detached batch did not end"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let statuses: Vec<String> = ids.iter().map(|id| ended(id).unwrap()).collect();
    assert_eq!(statuses, ["completed", "completed", "crashed", "crashed"]);
    let labelled = cli.json(&["run", "batcher", "--batch", path(&batch), "--detach"]);
    let labels: Vec<&str> = labelled
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["first", "line 2", "line 3", "line 5"]);
}

#[test]
fn ctrl_c_cancels_every_unfinished_run_of_a_batch() {
    let cli = Cli::new();
    // About 10 s per run: none ends by itself during the test.
    cli.ok(&[
        "agent",
        "create",
        "slowish",
        "--chunks",
        "200",
        "--chunk-delay-ms",
        "50",
    ]);
    let batch = cli.write(
        "slow.jsonl",
        "{\"prompt\":\"a\"}\n{\"prompt\":\"b\"}\n{\"prompt\":\"c\"}\n",
    );
    let child = cli
        .command(&[
            "--json",
            "run",
            "slowish",
            "--batch",
            path(&batch),
            "--parallel",
            "1",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !cli
        .json(&["ps"])
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["status"] == "running")
    {
        assert!(std::time::Instant::now() < deadline, "no run started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("cancelling the 3 unfinished run(s)"),
        "{stderr}"
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["totals"],
        serde_json::json!({"cancelled": 3}),
        "the running one and both queued ones"
    );
}

#[test]
fn a_daemon_that_refuses_the_client_is_still_stopped_by_daemon_stop() {
    let cli = Cli::new();
    cli.ok(&["daemon", "start"]);
    let pid: u32 = std::fs::read_to_string(cli.data_dir().join("run/daemon.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // As after an upgrade (another protocol) or a replaced token: the daemon
    // refuses this client's hello.
    std::fs::write(cli.data_dir().join("client.token"), "0".repeat(64)).unwrap();
    let refused = cli.fails(&["ps"], 1);
    assert!(refused.contains("refused"), "{refused}");
    let out = cli.run(&["daemon", "stop"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("sent it SIGTERM"), "{stderr}");
    // It removed its pid file and socket before exiting: give it a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while supervisor::procfs::is_alive(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        !supervisor::procfs::is_alive(pid),
        "the daemon {pid} is gone"
    );
}

#[test]
fn the_daemon_starts_on_demand_and_stops_on_request() {
    let cli = Cli::new();
    let err = cli.fails(&["daemon", "status"], 5);
    assert!(err.is_empty(), "{err}");
    let out = cli.run(&["--json", "daemon", "status"]);
    assert_eq!(out.status.code(), Some(5));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["running"], false);
    let started = cli.json(&["daemon", "start"]);
    assert_eq!(started["running"], true);
    assert_eq!(started["max_concurrent_runs"], 16);
    assert_eq!(cli.json(&["daemon", "status"])["pid"], started["pid"]);
    // A changed limit is in force at once and outlives a restart.
    let limits = cli.json(&["daemon", "limits", "--max-concurrent", "3"]);
    assert_eq!(limits["max_concurrent_runs"], 3);
    let refused = cli.fails(&["daemon", "limits", "--max-concurrent", "0"], 2);
    assert!(refused.contains("from 1 to 1024"), "{refused}");
    assert!(cli.ok(&["daemon", "stop"]).contains("stopped"));
    assert_eq!(cli.json(&["daemon", "start"])["max_concurrent_runs"], 3);
    assert!(cli.ok(&["daemon", "stop"]).contains("stopped"));
    cli.fails(&["daemon", "status"], 5);
    assert!(cli.ok(&["daemon", "stop"]).contains("not running"));
}

#[test]
fn the_demo_runs_and_checks_itself() {
    let cli = Cli::new();
    let report = cli.json(&["demo"]);
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["complete_answers"], 29);
    assert_eq!(report["sessions_checked"], 40);
    assert!(report["log_problems"].as_array().unwrap().is_empty());
}

#[test]
fn keys_are_read_from_stdin_stored_listed_without_the_key_and_removed() {
    use std::io::Write;
    use std::process::Stdio;

    let cli = Cli::new();
    let set = |provider: &str, key: &str| {
        let mut child = Command::new(studio_bin())
            .arg("--data-dir")
            .arg(cli.data_dir())
            .args(["keys", "set", provider])
            .env("STUDIO_WORKER_BIN", worker_bin())
            .env_remove("ANTHROPIC_API_KEY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(key.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let stored = set("anthropic", "sk-ant-cli-secret\n");
    assert!(
        stored.status.success(),
        "{}",
        String::from_utf8_lossy(&stored.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&stored.stdout),
        "anthropic key stored\n"
    );

    let empty = set("openai", "  \n");
    assert_eq!(empty.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&empty.stderr).contains("no key given"));
    let keyless = set("ollama", "sk-x");
    assert_eq!(keyless.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&keyless.stderr).contains("takes no key"));

    let listed = cli.ok(&["keys", "list"]);
    assert!(
        !listed.contains("sk-ant-cli-secret"),
        "keys are never shown: {listed}"
    );
    let json = cli.json(&["keys", "list"]);
    let anthropic = json
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["provider"] == "anthropic")
        .unwrap();
    assert_eq!(anthropic["source"], "stored");
    assert!(!json.to_string().contains("sk-ant"));

    cli.ok(&["keys", "rm", "anthropic"]);
    let err = cli.fails(&["keys", "rm", "anthropic"], 4);
    assert!(err.contains("no stored key for anthropic"), "{err}");
}

#[test]
fn prices_can_be_changed_and_a_sessions_cost_recomputed() {
    let cli = Cli::new();
    let listed = cli.json(&["pricing", "list"]);
    assert_eq!(listed["version"], 1);
    assert!(
        listed["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["model"] == "claude-sonnet-4")
    );
    let err = cli.fails(
        &["pricing", "set", "scripted", "--input=-1", "--output", "1"],
        2,
    );
    assert!(err.contains("zero or more"), "{err}");

    let set = cli.json(&[
        "pricing", "set", "scripted", "--input", "1000000", "--output", "2000000",
    ]);
    assert_eq!(set["version"], 2);
    cli.ok(&[
        "agent",
        "create",
        "paid",
        "--chunks",
        "2",
        "--chunk-delay-ms",
        "0",
    ]);
    cli.ok(&["run", "paid", "--prompt", "one two three"]);
    let session = cli.json(&["ps", "--all"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let recorded = cli.json(&["cost", &session]);
    let usd = recorded["usd"].as_f64().unwrap();
    assert!(usd > 0.0, "{recorded}");
    assert_eq!(recorded["responses"][0]["pricing_version"], 2);
    assert_eq!(
        recorded["usd_now"].as_f64(),
        Some(usd),
        "same prices, same cost"
    );

    cli.ok(&["pricing", "rm", "scripted"]);
    let now = cli.json(&["cost", &session]);
    assert_eq!(now["usd"].as_f64(), Some(usd), "what was recorded stays");
    assert_eq!(
        now["usd_now"].as_f64(),
        Some(0.0),
        "recomputed with the built-in free price"
    );
    assert_eq!(now["pricing_version_now"], 3);
    let err = cli.fails(&["pricing", "rm", "scripted"], 4);
    assert!(err.contains("no custom price"), "{err}");
}

#[test]
fn the_scripted_provider_calls_tools_through_the_daemon_before_answering() {
    let cli = Cli::new();
    cli.ok(&[
        "agent",
        "create",
        "caller",
        "--chunks",
        "2",
        "--chunk-delay-ms",
        "0",
    ]);
    let lines = cli.ok(&[
        "--json",
        "run",
        "caller",
        "--prompt",
        "weather?",
        "--tool-call",
        r#"get_weather:{"city":"Paris"}"#,
        "--tool-call",
        "clock",
    ]);
    let events: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = events.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "run.queued",
            "run.started",
            "session.started",
            "session.contained",
            "message.user",
            "llm.request.started",
            "llm.response.completed",
            "llm.cost",
            "tool.requested",
            "tool.approval.requested",
            "tool.denied",
            "tool.requested",
            "tool.approval.requested",
            "tool.denied",
            "llm.request.started",
            "llm.response.chunk",
            "llm.response.chunk",
            "llm.response.completed",
            "llm.cost",
            "message.assistant",
            "worker.stats",
            "session.completed",
        ]
    );
    assert_eq!(events[6]["data"]["finish_reason"], "tool_calls");
    assert_eq!(events[8]["data"]["tool"], "get_weather");
    assert_eq!(events[8]["data"]["arguments"], r#"{"city":"Paris"}"#);
    assert_eq!(events[11]["data"]["arguments"], "{}");
    assert_eq!(events[14]["data"]["request_id"], "req-2");

    // `studio inspect` sums the same log up.
    let session = events[0]["session"].as_str().unwrap();
    let inspected = cli.json(&["inspect", &session[..8]]);
    assert_eq!(inspected["session"]["id"], session);
    let stats = &inspected["stats"];
    assert_eq!(stats["requests"], 2);
    assert_eq!(stats["tool_calls"], 2);
    assert_eq!(
        (&stats["approved"], &stats["denied"]),
        (&0.into(), &2.into())
    );
    assert_eq!(stats["by_model"][0]["provider"], "scripted");
    assert_eq!(stats["by_model"][0]["requests"], 2);
    assert!(stats["output_tokens"].as_u64().unwrap() > 0, "{stats}");
    let text = cli.ok(&["inspect", session]);
    assert!(
        text.contains("tool calls 2: 0 approved, 2 denied") && text.contains("scripted"),
        "{text}"
    );
    let err = cli.fails(
        &[
            "run",
            "caller",
            "--prompt",
            "x",
            "--tool-call",
            "bad:{not json",
        ],
        2,
    );
    assert!(err.contains("not JSON"), "{err}");
}

#[test]
fn mcp_servers_import_from_an_mcp_servers_file_and_list_without_secrets() {
    let cli = Cli::new();
    let everything = crate::mcp::bin("mcp-server-everything");
    let file = cli.write(
        "claude_desktop_config.json",
        &serde_json::json!({
            "mcpServers": {
                "everything": {"command": everything, "args": ["stdio"], "env": {"API_TOKEN": "tok-secret-1"}},
                "remote": {"type": "http", "url": "http://127.0.0.1:9/mcp", "headers": {"Authorization": "Bearer tok-secret-2"}},
                "legacy": {"type": "sse", "url": "http://127.0.0.1:9/sse"}
            }
        })
        .to_string(),
    );
    // One entry cannot be used: the others are imported, and the exit code says so.
    let out = cli.run(&["mcp", "import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("imported everything") && stdout.contains("imported remote"),
        "{stdout}"
    );
    assert!(
        stdout.contains("skipped  legacy") && stdout.contains("SSE"),
        "{stdout}"
    );

    let listed = cli.json(&["mcp", "list"]);
    let text = listed.to_string();
    assert!(
        !text.contains("tok-secret"),
        "secret values are never listed: {text}"
    );
    assert_eq!(listed[0]["name"], "everything");
    assert_eq!(listed[0]["env"], serde_json::json!(["API_TOKEN"]));
    assert_eq!(listed[1]["transport"], "http");
    assert_eq!(listed[1]["headers"], serde_json::json!(["Authorization"]));
    let table = cli.ok(&["mcp", "list"]);
    assert!(
        !table.contains("tok-secret") && table.contains("(env: API_TOKEN)"),
        "{table}"
    );

    let tested = cli.json(&["mcp", "test", "everything"]);
    let tools: Vec<&str> = tested["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    assert!(tools.contains(&"everything.echo"), "{tools:?}");
    let err = cli.fails(&["mcp", "test", "remote"], 5);
    assert!(err.contains("MCP server \"remote\""), "{err}");

    // Agents name the servers they use.
    cli.ok(&["agent", "create", "helper", "--mcp", "everything,remote"]);
    let agent = cli.json(&["agent", "show", "helper"]);
    assert_eq!(
        agent["mcp_servers"],
        serde_json::json!(["everything", "remote"])
    );

    cli.ok(&["mcp", "rm", "remote"]);
    cli.fails(&["mcp", "rm", "remote"], 4);
    let err = cli.fails(&["mcp", "add", "x"], 2);
    assert!(err.contains("after `--`"), "{err}");
    let err = cli.fails(
        &[
            "mcp",
            "add",
            "x",
            "--env",
            "STUDIO_SURELY_UNSET",
            "--",
            "true",
        ],
        2,
    );
    assert!(err.contains("not set"), "{err}");
}

/// `studio replay --chat` goes on in the terminal as a chat: the turn's
/// message (here a changed one) is said for the person, the answer
/// streams, and then the person's own lines; `ps` names its origin.
#[test]
fn a_run_is_replayed_as_a_chat_in_the_terminal() {
    let cli = Cli::new();
    cli.ok(&["agent", "create", "echo", "--answer", "Noted."]);
    let first = cli.json(&["run", "echo", "--prompt", "remember this", "--detach"]);
    let first = first["session"].as_str().unwrap().to_owned();
    cli.ok(&["events", &first, "--follow"]);

    let mut replay = cli.command(&[
        "replay",
        &first[28..],
        "--chat",
        "--prompt",
        "remember that",
    ]);
    replay
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = replay.spawn().unwrap();
    {
        use std::io::Write;
        let stdin = child.stdin.as_mut().unwrap();
        stdin.write_all(b"and more\n/exit\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(
        stdout.matches("Noted.").count(),
        2,
        "the replayed turn and the next are answered: {stdout}"
    );
    assert!(stdout.contains("you> remember that"), "{stdout}");
    assert!(!stdout.contains("another client"), "{stdout}");
    assert!(stderr.contains(&format!("a branch of {first}")), "{stderr}");

    let all = cli.json(&["ps", "--all"]);
    let chat = all
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["parent"] == first.as_str())
        .unwrap_or_else(|| panic!("{all}"));
    assert_eq!(chat["interactive"], true, "{chat}");
    let at = chat["branched_at"].as_u64().unwrap();
    let table = cli.ok(&["ps", "--all"]);
    assert!(table.contains("FROM"), "{table}");
    assert!(
        table.contains(&format!("{}#{at}", &first[28..])),
        "the lineage column names the origin and point: {table}"
    );
}

/// `studio export --format md` writes a transcript for people: the
/// title, figures, system prompt, each message, a call with its decision;
/// markup in a text stays text, and control characters are shown, not
/// written.
#[test]
fn a_session_is_exported_as_a_markdown_transcript() {
    let cli = Cli::new();
    cli.ok(&[
        "agent",
        "create",
        "echo",
        "--system-prompt",
        "Be brief.",
        "--answer",
        "Done: \u{1b}[31mred ``` fence",
    ]);
    let run = cli.json(&[
        "run",
        "echo",
        "--prompt",
        "list *files*",
        "--tool-call",
        r#"get_time:{"zone":"CET"}"#,
        "--detach",
    ]);
    let session = run["session"].as_str().unwrap().to_owned();
    cli.ok(&["events", &session, "--follow"]);

    let md = cli.ok(&["export", &session, "--format", "md"]);
    assert!(md.starts_with("# list \\*files\\*\n"), "{md}");
    for part in [
        "## Figures",
        "| tool calls | 1: 0 approved, 1 denied |",
        "## System prompt\n\n```\nBe brief.\n```",
        "```\nlist *files*\n```",
        "### Tool call `get_time`",
        "```json\n{\"zone\":\"CET\"}\n```",
        "Denied by the run's policy",
        "````\nDone: \\x1b[31mred ``` fence\n````",
        "**session.completed**",
    ] {
        assert!(md.contains(part), "{part:?} in:\n{md}");
    }
    assert!(!md.contains('\u{1b}'), "no raw escape: {md}");

    let path = cli.tmp.path().join("t.md");
    let said = cli.ok(&[
        "--json",
        "export",
        &session,
        "--format",
        "md",
        "--out",
        path.to_str().unwrap(),
    ]);
    assert!(said.contains("t.md"), "{said}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), md);
}

/// `studio replay --tape` plays a run from its recording: the same answer
/// on the terminal, labelled as from the tape; a changed system prompt
/// parts from it (said on stderr) and `--then stop` ends there.
#[test]
fn a_run_is_replayed_from_the_tape_in_the_terminal() {
    let cli = Cli::new();
    cli.ok(&["agent", "create", "echo", "--answer", "Said once"]);
    let first = cli.json(&["run", "echo", "--prompt", "say it", "--detach"]);
    let first = first["session"].as_str().unwrap().to_owned();
    cli.ok(&["events", &first, "--follow"]);

    assert_eq!(cli.ok(&["replay", &first, "--tape"]), "Said once\n");
    let out = cli.run(&[
        "replay",
        &first,
        "--tape",
        "--then",
        "stop",
        "--system-prompt",
        "Shout.",
    ]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(stdout, "", "nothing is answered");
    assert!(
        stderr.contains("[the replay parts from the tape at step 1: the system prompt differs"),
        "{stderr}"
    );
    let all = cli.json(&["ps", "--all"]);
    let labels: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["label"].as_str())
        .collect();
    assert!(
        labels.iter().any(|l| l.ends_with("(from the tape)")),
        "{labels:?}"
    );
    assert!(
        labels
            .iter()
            .any(|l| l.ends_with("(system prompt, from the tape, stopping where it parts)")),
        "{labels:?}"
    );
    let err = cli.fails(&["replay", &first, "--tape", "--chat"], 2);
    assert!(err.contains("cannot be used with"), "{err}");
}

/// `studio wait` returns once the sessions have ended: exit 0 when all
/// completed, 3 when one did not, 4 for an unknown id, and 1 when a
/// timeout runs out first (the session goes on).
#[test]
fn wait_returns_when_the_sessions_end_with_an_exit_code_by_outcome() {
    let cli = Cli::new();
    cli.ok(&[
        "agent",
        "create",
        "slow",
        "--chunks",
        "20",
        "--chunk-delay-ms",
        "30",
    ]);
    let start = |args: &[&str]| {
        let mut all = vec!["run", "slow", "--prompt", "go", "--detach"];
        all.extend_from_slice(args);
        cli.json(&all)["session"].as_str().unwrap().to_owned()
    };
    let (one, two) = (start(&[]), start(&[]));
    let ended = cli.json(&["wait", &one, &two[28..]]);
    let statuses: Vec<&str> = ended
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["completed", "completed"], "{ended}");
    // Waiting on what has already ended returns at once.
    let shown = cli.ok(&["wait", &one]);
    assert!(shown.contains("completed"), "{shown}");

    let hang = start(&["--fault", "hang"]);
    let err = cli.fails(&["wait", &hang, "--timeout", "300ms"], 1);
    assert!(err.contains("timed out after 300ms"), "{err}");
    let still = cli.json(&["ps"]);
    assert!(
        still
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == hang.as_str()),
        "the session goes on: {still}"
    );
    cli.ok(&["kill", &hang]);
    let err = cli.fails(&["wait", &one, &hang], 3);
    assert!(err.contains("1 of 2 sessions did not complete"), "{err}");
    let err = cli.fails(&["wait", "ffffffff"], 4);
    assert!(err.contains("no session"), "{err}");
}

#[test]
fn an_agent_has_a_display_name_and_a_short_name_made_from_it() {
    let cli = Cli::new();
    let made = cli.json(&["agent", "create", "--display-name", "Code Helper ✨"]);
    assert_eq!(made["created"], "code-helper");
    cli.ok(&[
        "agent",
        "create",
        "named",
        "--display-name",
        "Ünïcode? — v2",
    ]);
    let agents = cli.json(&["agent", "list"]);
    let shown: Vec<(&str, &str)> = agents
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap(),
                a["display_name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("code-helper", "Code Helper ✨"),
            ("named", "Ünïcode? — v2")
        ]
    );
    let table = cli.ok(&["agent", "list"]);
    assert!(table.contains("Code Helper ✨"), "{table}");
    // The short name is what commands take.
    let run = cli.ok(&["run", "code-helper", "--prompt", "hi"]);
    assert!(!run.is_empty());
    let err = cli.fails(&["agent", "create", "x", "--display-name", "two\nlines"], 2);
    assert!(err.contains("display name"), "{err}");
    let err = cli.fails(&["agent", "create"], 2);
    assert!(err.contains("<NAME>"), "{err}");
}
