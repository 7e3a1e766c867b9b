//! A corrupted database salvaged (issue 12): bytes overwritten in the
//! middle of stored records of a real database, made by a real daemon.
//! The daemon still starts and names the damaged sessions, serves the
//! others whole, `daemon check` finds the damage, and `daemon salvage`
//! makes a file that a daemon serves with every readable record.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cli_harness::Cli;

/// Overwrites every occurrence of `needle` in the file with 0xFF bytes,
/// which are not UTF-8: the string holding it no longer decodes. Returns
/// how many there were (redb is copy-on-write: older copies of a record
/// may sit in freed pages too).
fn overwrite(path: &Path, needle: &str) -> usize {
    let mut bytes = std::fs::read(path).unwrap();
    let needle = needle.as_bytes();
    let mut hits = 0;
    let mut at = 0;
    while let Some(found) = bytes[at..].windows(needle.len()).position(|w| w == needle) {
        let start = at + found;
        bytes[start..start + needle.len()].fill(0xff);
        hits += 1;
        at = start + needle.len();
    }
    std::fs::write(path, bytes).unwrap();
    hits
}

/// Runs `echo` to its end; returns the session id.
fn run(cli: &Cli, label: &str, prompt: &str) -> String {
    let started = cli.json(&[
        "run", "echo", "--prompt", prompt, "--label", label, "--detach",
    ]);
    let session = started["session"].as_str().unwrap().to_owned();
    cli.ok(&["events", &session, "--follow"]);
    session
}

/// `ps --all --json`, by session id.
fn sessions(cli: &Cli) -> Vec<Value> {
    cli.json(&["ps", "--all"]).as_array().unwrap().clone()
}

fn row<'a>(rows: &'a [Value], id: &str) -> Option<&'a Value> {
    rows.iter().find(|s| s["id"] == id)
}

/// `daemon check --json`, which must find damage (exit code 6).
fn check_json(cli: &Cli) -> Value {
    let out = cli
        .command(&["--json", "daemon", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_corrupted_database_is_served_checked_and_salvaged() {
    let cli = Cli::new();
    // A 48-character answer derived from the prompt, streamed 4 characters
    // a chunk: whole only in the session's `message.assistant` event.
    cli.ok(&[
        "agent",
        "create",
        "echo",
        "--chunks",
        "12",
        "--chunk-chars",
        "4",
    ]);
    let lost = run(&cli, "LABEL-OF-A-LOST-SESSION", "first");
    let broken = run(&cli, "b", "second");
    let whole = run(&cli, "c", "third");
    let whole_events = cli.events(&whole);
    let broken_events = cli.events(&broken);
    let answer = broken_events
        .iter()
        .find(|e| e["name"] == "message.assistant")
        .unwrap()["data"]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(answer.len(), 48);
    assert!(whole_events.len() >= 5, "{whole_events:?}");
    cli.ok(&["daemon", "stop"]);

    let db = cli.data_dir().join("studio.redb");
    assert!(
        overwrite(&db, "LABEL-OF-A-LOST-SESSION") >= 2,
        "session and run records"
    );
    assert!(overwrite(&db, &answer) >= 1);

    // The daemon starts (the next command starts it) and names the damage;
    // the events are decoded while it already serves.
    let deadline = Instant::now() + Duration::from_secs(20);
    let rows = loop {
        let rows = sessions(&cli);
        if row(&rows, &broken).unwrap()["status"] == "corrupt" {
            break rows;
        }
        assert!(
            Instant::now() < deadline,
            "never reported corrupt: {rows:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(rows.len(), 3, "{rows:?}");
    let lost_row = row(&rows, &lost).unwrap();
    assert_eq!(lost_row["status"], "corrupt");
    let damage = lost_row["damage"].as_str().unwrap();
    assert!(
        damage.contains("table sessions") && damage.contains(&lost),
        "{damage}"
    );
    let broken_row = row(&rows, &broken).unwrap();
    let damage = broken_row["damage"].as_str().unwrap();
    assert!(
        damage.contains("table events") && damage.contains(&broken),
        "{damage}"
    );
    let whole_row = row(&rows, &whole).unwrap();
    assert_eq!(whole_row["status"], "completed");
    assert_eq!(whole_row["damage"], Value::Null);
    let table = cli.ok(&["ps", "--all"]);
    assert!(
        table.contains("corrupt") && table.contains("damaged ("),
        "{table}"
    );
    let log = std::fs::read_to_string(cli.data_dir().join("daemon.log")).unwrap();
    for id in [&lost, &broken] {
        assert!(
            log.lines()
                .any(|l| l.contains(id.as_str()) && l.contains("does not decode")),
            "the log names {id}:\n{log}"
        );
    }

    // The other sessions are served whole; the damaged ones are clear errors.
    assert_eq!(cli.events(&whole), whole_events);
    let err = cli.fails(&["events", &lost], 1);
    assert!(
        err.contains(&lost) && err.contains("does not decode"),
        "{err}"
    );
    let err = cli.fails(&["events", &broken], 1);
    assert!(err.contains(&format!("{broken} #")), "{err}");
    let err = cli.fails(&["events", &broken, "--follow"], 1);
    assert!(err.contains("does not decode"), "{err}");
    let err = cli.fails(&["export", &broken], 1);
    assert!(err.contains("does not decode"), "{err}");
    cli.ok(&["agent", "show", "echo"]);

    // Checked through the running daemon, then from the file itself.
    let err = cli.fails(&["daemon", "check"], 6);
    assert!(err.contains("damaged record"), "{err}");
    let report = check_json(&cli);
    assert_eq!(report["clean"], false);
    let found: Vec<(&str, &str)> = report["damaged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["table"].as_str().unwrap(), d["session"].as_str().unwrap()))
        .collect();
    assert_eq!(
        found,
        [
            ("sessions", lost.as_str()),
            ("runs", lost.as_str()),
            ("events", broken.as_str()),
        ],
        "{report}"
    );
    let err = cli.fails(&["daemon", "salvage"], 2);
    assert!(err.contains("the daemon is running"), "{err}");
    cli.ok(&["daemon", "stop"]);
    let out = cli.command(&["daemon", "check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(6));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(&format!("events {broken} #")), "{text}");
    // The daemon wrote to the file, and left the damage as it was.
    assert_eq!(check_json(&cli)["damaged"], report["damaged"]);
    let damaged_bytes = std::fs::read(&db).unwrap();

    // Salvaged in place: the damaged file is kept beside it, unchanged.
    let out = cli.ok(&["daemon", "salvage", "--replace"]);
    assert!(out.contains("left out") && out.contains(&lost), "{out}");
    let kept: Vec<_> = std::fs::read_dir(cli.data_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("studio.redb.corrupt-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        std::fs::read(&kept[0]).unwrap() == damaged_bytes,
        "the damaged file is kept as it was"
    );
    assert!(
        cli.ok(&["daemon", "check"])
            .contains("every record decodes")
    );

    // A daemon on the salvaged file serves every readable record.
    let rows = sessions(&cli);
    let ids: Vec<&str> = rows.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{rows:?}");
    assert!(ids.contains(&whole.as_str()) && ids.contains(&broken.as_str()));
    assert!(rows.iter().all(|s| s["status"] == "completed"), "{rows:?}");
    assert_eq!(cli.events(&whole), whole_events);
    let salvaged = cli.events(&broken);
    assert_eq!(
        salvaged.len(),
        broken_events.len() - 1,
        "only the damaged event is missing"
    );
    assert!(salvaged.iter().all(|e| broken_events.contains(e)));
    cli.ok(&["agent", "show", "echo"]);
}
