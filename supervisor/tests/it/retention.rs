//! Retention through the CLI and the real daemon: `studio rm` says what
//! goes (branches and replays with their origin, a group with its runs),
//! asks unless `--yes`, and refuses a live session; `studio gc` under live
//! runs removes only what ended before its cutoff and shrinks the file,
//! while the live runs record every event; and a daemon SIGKILLed in the
//! middle of a gc leaves every session whole or gone, never in part.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;

use crate::cli_harness::Cli;

fn ps(cli: &Cli) -> Vec<Value> {
    cli.json(&["ps", "--all", "--limit", "100000"])
        .as_array()
        .unwrap()
        .clone()
}

fn ids(sessions: &[Value]) -> HashSet<String> {
    sessions
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Each table's record count, from `daemon check`.
fn records(cli: &Cli, table: &str) -> u64 {
    let report = cli.json(&["daemon", "check"]);
    assert_eq!(report["clean"], true, "{report}");
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == table)
        .unwrap()["records"]
        .as_u64()
        .unwrap()
}

/// Every session listed is whole: its events are 1..=n with one terminal
/// event, the last; and the events table holds exactly theirs (none of a
/// deleted session is left behind).
fn every_session_whole(cli: &Cli) {
    let sessions = ps(cli);
    let mut total = 0;
    for session in &sessions {
        let id = session["id"].as_str().unwrap();
        let events = cli.events(id);
        let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
        assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "{id}");
        assert_eq!(
            session["events"].as_u64().unwrap(),
            seqs.len() as u64,
            "{id}"
        );
        total += seqs.len() as u64;
    }
    assert_eq!(
        records(cli, "events"),
        total,
        "no event outlives its session"
    );
    assert_eq!(records(cli, "sessions"), sessions.len() as u64);
}

#[test]
fn rm_takes_branches_and_replays_with_their_origin_asks_first_and_spares_live_sessions() {
    let cli = Cli::new();
    cli.ok(&[
        "agent",
        "create",
        "poet",
        "--answer",
        "Hello there.",
        "--chunks",
        "4",
    ]);
    let origin = cli.ok(&["run", "poet", "--prompt", "origin", "--detach"]);
    let origin = origin.trim();
    cli.ok(&["wait", origin]);
    let replay = cli.ok(&["run", "poet", "--prompt", "other"]);
    assert!(!replay.is_empty());
    let replayed = cli.json(&["replay", origin, "--detach"]);
    let replayed = replayed["session"].as_str().unwrap().to_owned();
    cli.ok(&["wait", &replayed]);
    let before = ps(&cli);
    assert_eq!(before.len(), 3);

    // Not asked on a terminal and no --yes: nothing goes.
    let refused = cli.fails(&["rm", origin], 2);
    assert!(
        refused.contains(
            "Would delete 2 session(s) (1 of them branches or replays of the ones named), 0 group(s)"
        ) && refused.contains("add --yes"),
        "{refused}"
    );
    assert_eq!(ps(&cli).len(), 3);
    let plan = cli.json(&["rm", origin, "--dry-run"]);
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["descendants"], 1);
    assert_eq!(ps(&cli).len(), 3, "a dry run deletes nothing");

    let done = cli.json(&["rm", origin, "--yes"]);
    let gone: HashSet<String> = done["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    assert!(gone.contains(&replayed) && gone.len() == 2, "{done}");
    let left = ps(&cli);
    assert_eq!(left.len(), 1);
    assert!(ids(&left).is_disjoint(&gone));
    every_session_whole(&cli);

    // A live session is refused, and nothing else goes with it.
    let slow = cli.ok(&[
        "run",
        "poet",
        "--prompt",
        "slow",
        "--chunks",
        "100",
        "--chunk-delay-ms",
        "100",
        "--detach",
    ]);
    let slow = slow.trim();
    let refused = cli.fails(&["rm", slow, "--yes"], 2);
    assert!(
        refused.contains("are live") && refused.contains("nothing was deleted"),
        "{refused}"
    );
    cli.ok(&["cancel", slow]);
    cli.fails(&["wait", slow], 3);

    // A group goes with all its runs.
    let group = cli.json(&[
        "run",
        "poet",
        "--prompt",
        "g",
        "--attempts",
        "3",
        "--detach",
    ]);
    let group_id = group["group"].as_str().unwrap().to_owned();
    for run in group["runs"].as_array().unwrap() {
        cli.ok(&["wait", run["session"].as_str().unwrap()]);
    }
    let done = cli.json(&["rm", "--group", &group_id, "--yes"]);
    assert_eq!(done["sessions"].as_array().unwrap().len(), 3, "{done}");
    assert_eq!(done["groups"], serde_json::json!([group_id]));
    assert!(cli.json(&["groups"]).as_array().unwrap().is_empty());
    every_session_whole(&cli);
}

#[test]
fn gc_under_live_runs_removes_only_what_ended_before_its_cutoff_and_shrinks_the_file() {
    let cli = Cli::new();
    cli.ok(&[
        "agent",
        "create",
        "poet",
        "--answer",
        "A line of verse.",
        "--chunks",
        "60",
    ]);
    cli.ok(&[
        "run",
        "poet",
        "--prompt",
        "old",
        "--attempts",
        "40",
        "--parallel",
        "8",
    ]);
    let old = ids(&ps(&cli));
    assert_eq!(old.len(), 40);
    // Live runs stream while the gc deletes and compacts (60 chunks, 6 s).
    let long = "verse ".repeat(60);
    let live: Vec<String> = (0..4)
        .map(|n| {
            cli.ok(&[
                "run",
                "poet",
                "--prompt",
                &format!("live {n}"),
                "--answer",
                &long,
                "--chunk-delay-ms",
                "100",
                "--detach",
            ])
            .trim()
            .to_owned()
        })
        .collect();
    let done = cli.json(&["gc", "--older-than", "0s", "--yes"]);
    let gone: HashSet<String> = done["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(gone, old, "every ended session, and no live one");
    assert_eq!(done["groups"].as_array().unwrap().len(), 1);
    let (before, after) = (
        done["bytes_before"].as_u64().unwrap(),
        done["bytes_after"].as_u64().unwrap(),
    );
    assert!(after < before, "compacted: {before} -> {after}");
    for run in &live {
        cli.ok(&["wait", run]);
    }
    let left = ps(&cli);
    assert_eq!(ids(&left), live.iter().cloned().collect());
    every_session_whole(&cli);
    // A newer cutoff keeps what ended since.
    let kept = cli.json(&["gc", "--older-than", "1h", "--yes"]);
    assert!(kept["sessions"].as_array().unwrap().is_empty(), "{kept}");
}

#[test]
fn a_daemon_killed_in_the_middle_of_a_gc_leaves_every_session_whole_or_gone() {
    let cli = Cli::new();
    cli.ok(&[
        "agent", "create", "poet", "--answer", "Verse.", "--chunks", "40",
    ]);
    for delay_ms in [5, 20, 60] {
        // Small groups and single runs: several commits of whole sessions.
        for _ in 0..8 {
            cli.ok(&[
                "run",
                "poet",
                "--prompt",
                "p",
                "--attempts",
                "10",
                "--parallel",
                "10",
            ]);
            cli.ok(&["run", "poet", "--prompt", "alone"]);
        }
        let before = ids(&ps(&cli));
        let pid = cli.json(&["daemon", "status"])["pid"].as_u64().unwrap();
        let mut gc = cli.command(&["gc", "--older-than", "0s", "--yes"]);
        let mut gc = gc
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        let _ = gc.wait();
        // Gone, not dying: its socket no longer takes connections.
        while std::path::Path::new(&format!("/proc/{pid}")).exists() {
            std::thread::sleep(Duration::from_millis(5));
        }
        // The next command starts a new daemon on the same file.
        let after = ids(&ps(&cli));
        assert!(after.is_subset(&before), "nothing new appeared");
        every_session_whole(&cli);
    }
    let done = cli.json(&["gc", "--older-than", "0s", "--yes"]);
    assert!(done["bytes_after"].as_u64() <= done["bytes_before"].as_u64());
    assert!(ps(&cli).is_empty());
    assert!(
        cli.json(&["groups"]).as_array().unwrap().is_empty(),
        "no group outlives its runs"
    );
    assert_eq!(records(&cli, "events"), 0);
    assert_eq!(records(&cli, "runs"), 0);
}
