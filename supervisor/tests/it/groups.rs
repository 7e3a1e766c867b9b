//! Groups through the CLI and the real daemon: attempts, a model matrix
//! and several agents start one group each; a group's totals are the sum
//! of its runs'; the preferred result is marked and unmarked; `wait
//! --group` returns by outcome; a batch file is a group too; and the
//! results export as JSON lines, CSV and Markdown (pinned by snapshots,
//! with ids and times named or left out).

use serde_json::Value;

use crate::cli_harness::{Cli, path};

/// A long answer: exports carry it whole, the results table an excerpt.
fn long_answer() -> String {
    (1..=60).map(|n| format!("line{n} ")).collect::<String>() + "`end`"
}

fn poet(cli: &Cli) {
    cli.ok(&[
        "agent",
        "create",
        "poet",
        "--chunks",
        "3",
        "--answer",
        &long_answer(),
    ]);
    cli.ok(&[
        "agent",
        "create",
        "critic",
        "--chunks",
        "2",
        "--answer",
        "Too long.",
    ]);
}

fn runs(group: &Value) -> &Vec<Value> {
    group["runs"].as_array().unwrap()
}

fn field<'a>(runs: &'a [Value], name: &str) -> Vec<&'a str> {
    runs.iter().map(|r| r[name].as_str().unwrap()).collect()
}

#[test]
fn attempts_models_and_agents_each_start_one_group_whose_totals_are_its_runs() {
    let cli = Cli::new();
    poet(&cli);
    let attempts = cli.json(&["run", "poet", "--prompt", "A haiku", "--attempts", "3"]);
    let group = &attempts["group"];
    assert_eq!(group["runs"], 3, "{attempts}");
    assert_eq!(group["name"], "A haiku");
    assert_eq!(group["by_status"], serde_json::json!({"completed": 3}));
    assert_eq!(field(runs(&attempts), "label"), ["#1", "#2", "#3"]);
    // The table carries an excerpt of each answer.
    let answer = runs(&attempts)[0]["answer"].as_str().unwrap();
    assert!(long_answer().starts_with(answer) && answer.chars().count() == 400);

    // Totals are the sum of the runs' own, as `ps` shows them.
    let all = cli.json(&["ps", "--all"]);
    let of_group: Vec<&Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["batch"] == group["id"])
        .collect();
    assert_eq!(of_group.len(), 3);
    let sum = |what: &str| -> u64 {
        of_group
            .iter()
            .map(|s| s["usage"][what].as_u64().unwrap())
            .sum()
    };
    assert!(sum("output_tokens") > 0);
    assert_eq!(group["usage"]["input_tokens"], sum("input_tokens"));
    assert_eq!(group["usage"]["output_tokens"], sum("output_tokens"));

    let matrix = cli.json(&[
        "run",
        "poet",
        "--prompt",
        "Another",
        "--models",
        "small,large",
        "--attempts",
        "2",
        "--name",
        "size matters",
    ]);
    assert_eq!(matrix["group"]["name"], "size matters");
    assert_eq!(
        field(runs(&matrix), "model"),
        ["small", "small", "large", "large"]
    );
    assert_eq!(
        field(runs(&matrix), "label"),
        ["small · #1", "small · #2", "large · #1", "large · #2"]
    );

    let agents = cli.json(&["run", "--prompt", "Judge", "--agents", "poet,critic"]);
    assert_eq!(field(runs(&agents), "agent"), ["poet", "critic"]);
    assert_eq!(runs(&agents)[1]["answer"], "Too long.");

    // Newest first, each with its totals.
    let groups = cli.json(&["groups"]);
    let names: Vec<&str> = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Judge", "size matters", "A haiku"]);
    let table = cli.ok(&["groups"]);
    assert!(
        table.contains("3 completed") && table.contains("size matters"),
        "{table}"
    );

    // A bad model name or an unknown agent starts nothing.
    let err = cli.fails(&["run", "--prompt", "x", "--agents", "poet,nobody"], 4);
    assert!(
        err.contains("nobody") && err.contains("no run was queued"),
        "{err}"
    );
    let err = cli.fails(&["run", "poet", "--prompt", "x", "--models", "ok, "], 2);
    assert!(err.contains("is not a model name"), "{err}");
    assert_eq!(cli.json(&["groups"]).as_array().unwrap().len(), 3);
}

#[test]
fn a_run_is_marked_preferred_and_wait_group_returns_by_outcome() {
    let cli = Cli::new();
    poet(&cli);
    let batch = cli.write(
        "tries.jsonl",
        "{\"prompt\":\"one\"}\n{\"prompt\":\"two\",\"fault\":\"exit:3\"}\n{\"prompt\":\"three\",\"agent\":\"critic\"}\n",
    );
    let started = cli.json(&["run", "poet", "--batch", path(&batch), "--detach"]);
    let ids: Vec<String> = started
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["session"].as_str().unwrap().to_owned())
        .collect();
    let group = &ids[0][28..];
    let err = cli.fails(&["wait", "--group", group], 3);
    assert!(err.contains("1 of 3 sessions did not complete"), "{err}");
    let shown = cli.json(&["group", group]);
    assert_eq!(
        shown["group"]["name"], "tries.jsonl",
        "a batch file names its group"
    );
    assert_eq!(
        shown["group"]["by_status"],
        serde_json::json!({"completed": 2, "crashed": 1})
    );

    let third = &ids[2];
    let marked = cli.json(&["group", group, "--prefer", &third[28..]]);
    assert_eq!(marked["group"]["preferred"], third.as_str());
    let preferred: Vec<bool> = runs(&marked)
        .iter()
        .map(|r| r["preferred"].as_bool().unwrap())
        .collect();
    assert_eq!(preferred, [false, false, true]);
    let table = cli.ok(&["group", group]);
    let starred = table.lines().find(|l| l.contains('★')).unwrap();
    assert!(starred.contains(&third[28..]), "{table}");

    // A run of another group cannot be this one's preferred result.
    let other = cli.json(&["run", "poet", "--prompt", "x", "--attempts", "1"]);
    let stranger = runs(&other)[0]["run"].as_str().unwrap().to_owned();
    let err = cli.fails(&["group", group, "--prefer", &stranger], 2);
    assert!(err.contains("is not of group"), "{err}");
    let unmarked = cli.json(&["group", group, "--no-prefer"]);
    assert_eq!(unmarked["group"]["preferred"], Value::Null);

    let done = cli.json(&[
        "run",
        "poet",
        "--prompt",
        "y",
        "--attempts",
        "2",
        "--detach",
    ]);
    let id = done["group"].as_str().unwrap();
    let ended = cli.json(&["wait", "--group", id]);
    assert_eq!(ended.as_array().unwrap().len(), 2);
    let err = cli.fails(&["wait", "--group", "ffffffff"], 4);
    assert!(err.contains("no group"), "{err}");
    // A name makes one run a group of one.
    let solo = cli.json(&["run", "poet", "--prompt", "z", "--name", "solo"]);
    assert_eq!(
        (
            solo["group"]["name"].as_str(),
            solo["group"]["runs"].as_u64()
        ),
        (Some("solo"), Some(1))
    );
}

#[test]
fn a_groups_results_export_as_json_lines_csv_and_markdown() {
    let cli = Cli::new();
    poet(&cli);
    let started = cli.json(&[
        "run",
        "--prompt",
        "Judge | this",
        "--agents",
        "poet,critic",
        "--name",
        "judges",
    ]);
    let group = started["group"]["id"].as_str().unwrap().to_owned();
    let ids: Vec<String> = field(runs(&started), "run")
        .into_iter()
        .map(str::to_owned)
        .collect();
    cli.ok(&["group", &group, "--prefer", &ids[1]]);
    // Ids and times change from one test run to the next: named or blanked.
    let steady = |text: &str| {
        let mut text = text.replace(&group, "GROUP");
        for (n, id) in ids.iter().enumerate() {
            text = text.replace(id, &format!("RUN{}", n + 1));
            text = text.replace(&id[28..], &format!("run{}", n + 1));
        }
        text
    };

    let lines = cli.ok(&["export", "--group", &group]);
    let mut records: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records[0]["answer"], long_answer(), "whole, not an excerpt");
    for record in &mut records {
        assert!(record["duration_ms"].as_u64().is_some(), "{record}");
        for time in ["duration_ms", "started_at", "ended_at"] {
            record[time] = Value::from("…");
        }
    }
    let pretty: Vec<String> = records
        .iter()
        .map(|r| serde_json::to_string_pretty(r).unwrap())
        .collect();
    insta::assert_snapshot!("results_jsonl", steady(&pretty.join("\n")));

    let csv_out = cli.tmp.path().join("results.csv");
    cli.ok(&[
        "export",
        "--group",
        &group,
        "--format",
        "csv",
        "--out",
        path(&csv_out),
    ]);
    let csv_text = std::fs::read_to_string(&csv_out).unwrap();
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header, studio_client::results::RESULT_FIELDS);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[0][at("answer")], long_answer());
    assert_eq!(&rows[1][at("preferred")], "true");
    let blanked: Vec<String> = rows
        .iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .map(|(i, cell)| match header[i].as_str() {
                    "duration_ms" | "started_at" | "ended_at" => "…",
                    _ => cell,
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    insta::assert_snapshot!("results_csv", steady(&blanked.join("\n")));

    let md = cli.ok(&["export", "--group", &group, "--format", "md"]);
    // The duration column and the wall time vary: the table's last cell is blanked.
    let md: Vec<String> = md
        .lines()
        .map(|line| match line.rsplit_once(" | ") {
            Some((head, _)) if line.starts_with("| ") && !line.starts_with("| |") => {
                format!("{head} | … |")
            }
            _ => line.to_owned(),
        })
        .collect();
    insta::assert_snapshot!("results_md", steady(&md.join("\n")));

    let err = cli.fails(&["export", &ids[0], "--format", "csv"], 2);
    assert!(err.contains("CSV is for a group"), "{err}");
}

#[test]
fn cost_by_agent_model_and_day_sums_every_session() {
    let cli = Cli::new();
    poet(&cli);
    cli.json(&["run", "poet", "--prompt", "x", "--attempts", "2"]);
    cli.json(&["run", "critic", "--prompt", "y", "--models", "tiny"]);
    let all = cli.json(&["ps", "--all"]);
    let sessions = all.as_array().unwrap();
    let output_of = |agent: &str| -> u64 {
        sessions
            .iter()
            .filter(|s| s["agent"] == agent)
            .map(|s| s["usage"]["output_tokens"].as_u64().unwrap())
            .sum()
    };
    let rows = |by: &str| -> Vec<(String, u64, u64)> {
        cli.json(&["cost", "--by", by])
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["key"].as_str().unwrap().to_owned(),
                    r["sessions"].as_u64().unwrap(),
                    r["usage"]["output_tokens"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let mut by_agent = rows("agent");
    by_agent.sort();
    assert_eq!(
        by_agent,
        [
            ("critic".to_owned(), 1, output_of("critic")),
            ("poet".to_owned(), 2, output_of("poet")),
        ]
    );
    let mut by_model = rows("model");
    by_model.sort();
    let models: Vec<(&str, u64)> = by_model.iter().map(|(k, n, _)| (k.as_str(), *n)).collect();
    assert_eq!(models, [("scripted-1", 2), ("tiny", 1)]);
    let today = &sessions[0]["created_at"].as_str().unwrap()[..10];
    let by_day = rows("day");
    assert_eq!(by_day.len(), 1, "{by_day:?}");
    assert_eq!((by_day[0].0.as_str(), by_day[0].1), (today, 3));
    let table = cli.ok(&["cost", "--by", "agent", "--since", "1h"]);
    assert!(
        table.contains("poet") && table.contains("total $"),
        "{table}"
    );
    let err = cli.fails(&["cost"], 2);
    assert!(err.contains("<ID>") || err.contains("--by"), "{err}");
}
