//! `studio compare` on real runs: equal sessions take the same steps;
//! a changed answer parts them at the model's step, with a word diff; a
//! run that calls a tool has more steps, left empty in the others; a
//! replay lines up with its original until the replayed turn. `--json`
//! is pinned by snapshots (ids, seqs and times, which differ each run,
//! are named or left out).

use serde_json::{Value, json};

use crate::cli_harness::Cli;

/// Starts a run and waits for its end; its id.
fn run(cli: &Cli, args: &[&str]) -> String {
    let mut all = vec!["run", "echo", "--prompt", "Capital of France?", "--detach"];
    all.extend_from_slice(args);
    let started = cli.json(&all);
    let id = started["session"].as_str().unwrap().to_owned();
    cli.ok(&["events", &id, "--follow"]);
    id
}

/// `compare --json`, with each session's id named by its letter and
/// what changes from one test run to the next left out.
fn compared(cli: &Cli, sessions: &[(&str, &str)]) -> String {
    let mut args = vec!["compare"];
    args.extend(sessions.iter().map(|(_, id)| *id));
    let mut value = cli.json(&args);
    let name = |id: &Value| {
        sessions
            .iter()
            .find(|(_, full)| id == *full)
            .map_or_else(|| json!("?"), |(letter, _)| json!(letter))
    };
    let figures_kept = [
        "input_tokens",
        "output_tokens",
        "requests",
        "tool_calls",
        "approved",
        "denied",
        "errors",
        "answer_chars",
        "steps",
    ];
    let sessions_seen: Vec<Value> = value["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let figures: serde_json::Map<String, Value> = figures_kept
                .iter()
                .map(|k| ((*k).to_owned(), s["figures"][k].clone()))
                .collect();
            json!({
                "session": name(&s["summary"]["id"]),
                "status": s["summary"]["status"],
                "figures": figures,
            })
        })
        .collect();
    value["sessions"] = Value::Array(sessions_seen);
    for row in value["rows"].as_array_mut().unwrap() {
        for cell in row["cells"].as_array_mut().unwrap() {
            if let Some(step) = cell.as_object_mut() {
                let session = name(&step["session"]);
                step.insert("session".into(), session);
                step.remove("seq");
            }
        }
    }
    serde_json::to_string_pretty(&value).unwrap()
}

#[test]
fn sessions_compare_step_by_step_with_their_first_divergence() {
    let cli = Cli::new();
    cli.ok(&[
        "agent",
        "create",
        "echo",
        "--answer",
        "Paris is the capital.",
    ]);
    let a = run(&cli, &[]);
    let b = run(&cli, &[]);
    let c = run(&cli, &["--answer", "Lyon is the capital."]);
    let d = run(&cli, &["--tool-call", r#"get_time:{"zone":"CET"}"#]);

    insta::assert_snapshot!("equal", compared(&cli, &[("A", &a), ("B", &b)]));
    insta::assert_snapshot!("diverging", compared(&cli, &[("A", &a), ("C", &c)]));
    insta::assert_snapshot!(
        "different_lengths",
        compared(&cli, &[("A", &a), ("D", &d), ("C", &c)])
    );

    // For a person: the figures, where they part, the steps as a word diff.
    let shown = cli.ok(&["compare", &a[28..], &c]);
    assert!(shown.contains("the sessions part at row 1 of 2"), "{shown}");
    assert!(
        shown.contains("[-Paris-]{+Lyon+} is the capital."),
        "{shown}"
    );
    let same = cli.ok(&["compare", &a, &b]);
    assert!(
        same.contains("the sessions take the same 2 steps"),
        "{same}"
    );

    // Bad input is refused with a reason.
    let err = cli.fails(&["compare", &a, &a], 2);
    assert!(err.contains("is named twice"), "{err}");
    let err = cli.fails(&["compare", &a, "ffffffff"], 4);
    assert!(err.contains("no session"), "{err}");
    let err = cli.fails(&["compare", &a], 2);
    assert!(err.contains("2"), "{err}");
}

/// A replay from the second turn of a chat lines up with its original
/// until that turn: what it inherited is the same, its own turn parts.
#[test]
fn a_replay_parts_from_its_original_at_the_replayed_turn() {
    let cli = Cli::new();
    cli.ok(&["agent", "create", "echo", "--answer", "Noted."]);
    // A chat of two turns, typed ahead and ended.
    let mut chat = cli.command(&["--json", "chat", "echo"]);
    chat.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = chat.spawn().unwrap();
    {
        use std::io::Write;
        let stdin = child.stdin.as_mut().unwrap();
        stdin.write_all(b"first\nsecond\n/exit\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let said = String::from_utf8(out.stdout).unwrap();
    let original: Value = serde_json::from_str(said.lines().next().unwrap()).unwrap();
    let original = original["session"].as_str().unwrap().to_owned();
    let events = cli.ok(&["--json", "events", &original]);
    let second = events
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|e| e["name"] == "message.user")
        .nth(1)
        .unwrap()["seq"]
        .as_u64()
        .unwrap();
    let replay = cli.json(&[
        "replay",
        &original,
        "--at",
        &second.to_string(),
        "--prompt",
        "second, again",
        "--detach",
    ]);
    let replay = replay["session"].as_str().unwrap().to_owned();
    cli.ok(&["events", &replay, "--follow"]);

    let compared = cli.json(&["compare", &original, &replay]);
    // you, model (inherited), then the replayed turn: you, model.
    assert_eq!(compared["total_rows"], 4, "{compared}");
    assert_eq!(compared["first_divergence"], 2, "{compared}");
    let row = &compared["rows"][2]["cells"];
    assert_eq!(row[0]["text"], "second");
    assert_eq!(row[1]["text"], "second, again");
    assert_eq!(row[1]["session"], replay.as_str());
    let inherited = &compared["rows"][0]["cells"][1];
    assert_eq!(
        inherited["session"],
        original.as_str(),
        "an inherited step names the session it was taken in"
    );
    // Only its own steps count in its figures.
    assert_eq!(compared["sessions"][1]["figures"]["steps"], 2);
    assert_eq!(compared["sessions"][0]["figures"]["steps"], 4);
}
