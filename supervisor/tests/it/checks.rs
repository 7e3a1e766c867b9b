//! Checks through the CLI and the real daemon: a group's checks score
//! each run's answer, recorded as `check.result` events just before
//! `session.completed`, shown in the results table with pass rates per
//! agent and model, and exported; a check that cannot work (a regular
//! expression that does not compile) starts nothing.

use serde_json::Value;

use crate::cli_harness::Cli;

fn agents(cli: &Cli) {
    cli.ok(&[
        "agent",
        "create",
        "prose",
        "--answer",
        "The capital of France is Paris.",
    ]);
    cli.ok(&[
        "agent",
        "create",
        "jsonbot",
        "--answer",
        "```json\n{\"city\": \"Paris\"}\n```",
    ]);
}

#[test]
fn a_groups_checks_score_each_answer_with_pass_rates_and_exports() {
    let cli = Cli::new();
    agents(&cli);
    let results = cli.json(&[
        "run",
        "--agents",
        "prose,jsonbot",
        "--prompt",
        "Which city is the capital of France?",
        "--check-contains",
        "Paris",
        "--check-json",
    ]);
    assert_eq!(
        results["group"]["checks"],
        serde_json::json!(["contains \"Paris\"", "json"])
    );
    let runs = results["runs"].as_array().unwrap();
    let by_agent = |agent: &str| runs.iter().find(|r| r["agent"] == agent).unwrap().clone();
    let prose = by_agent("prose");
    assert_eq!(prose["checks_passed"], 1, "{prose}");
    assert_eq!(prose["checks_failed"], 1);
    assert_eq!(prose["checks"][0]["passed"], true);
    assert_eq!(prose["checks"][1]["passed"], false);
    assert!(
        prose["checks"][1]["detail"]
            .as_str()
            .unwrap()
            .starts_with("not JSON: ")
    );
    let json = by_agent("jsonbot");
    assert_eq!(json["checks_passed"], 2, "{json}");
    let rates = results["pass_rates"].as_array().unwrap();
    let rate = |agent: &str| {
        rates
            .iter()
            .find(|r| r["agent_model"].as_str().unwrap().starts_with(agent))
            .unwrap()
            .clone()
    };
    assert_eq!(
        (
            rate("prose")["passed"].clone(),
            rate("prose")["checked"].clone()
        ),
        (0.into(), 1.into())
    );
    assert_eq!(rate("jsonbot")["passed"], 1);

    // Recorded just before the terminal event, one event per check.
    let events = cli.events(prose["run"].as_str().unwrap());
    let names: Vec<&str> = events.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(
        names[names.len() - 3..],
        ["check.result", "check.result", "session.completed"],
        "{names:?}"
    );
    assert_eq!(
        events[names.len() - 3]["data"]["outcome"]["check"],
        "contains \"Paris\""
    );

    // The table and the exports carry them.
    let group = results["group"]["id"].as_str().unwrap();
    let table = cli.ok(&["group", group]);
    assert!(
        table.contains("CHECKS") && table.contains("1/2") && table.contains("2/2"),
        "{table}"
    );
    assert!(
        table.contains("checks: contains \"Paris\", json"),
        "{table}"
    );
    assert!(
        table.contains("PASSED EVERY CHECK") && table.contains("100% (1 of 1)"),
        "{table}"
    );
    let csv = cli.ok(&["export", "--group", group, "--format", "csv"]);
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .contains(",checks_passed,checks_failed,"),
        "{csv}"
    );
    let lines: Vec<Value> = cli
        .ok(&["export", "--group", group, "--format", "jsonl"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l["checks"].as_array().unwrap().len() == 2)
    );
    let md = cli.ok(&["export", "--group", group, "--format", "md"]);
    assert!(
        md.contains("| agent · model | passed every check | cost |"),
        "{md}"
    );
}

#[test]
fn a_check_that_cannot_work_starts_nothing() {
    let cli = Cli::new();
    agents(&cli);
    let err = cli.fails(
        &[
            "run",
            "prose",
            "--prompt",
            "p",
            "--attempts",
            "2",
            "--check-regex",
            "(unclosed",
        ],
        2,
    );
    assert!(err.contains("check regex (unclosed"), "{err}");
    assert!(cli.json(&["groups"]).as_array().unwrap().is_empty());
}

#[test]
fn a_batch_lines_own_checks_score_its_run() {
    let cli = Cli::new();
    agents(&cli);
    let batch = cli.write(
        "quiz.jsonl",
        concat!(
            "{\"prompt\": \"capital?\", \"agent\": \"prose\", \"checks\": [{\"contains\": \"Paris\"}, {\"regex\": \"^The\"}]}\n",
            "{\"prompt\": \"as JSON?\", \"agent\": \"jsonbot\", \"checks\": [\"json\", {\"contains\": \"Lyon\"}]}\n",
        ),
    );
    let out = cli.run(&["run", "prose", "--batch", crate::cli_harness::path(&batch)]);
    assert!(out.status.success(), "{out:?}");
    let group = cli.json(&["groups"])[0]["id"].as_str().unwrap().to_owned();
    let results = cli.json(&["group", &group]);
    let runs = results["runs"].as_array().unwrap();
    let passed: Vec<(u64, u64)> = runs
        .iter()
        .map(|r| {
            (
                r["checks_passed"].as_u64().unwrap(),
                r["checks_failed"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(passed, [(2, 0), (1, 1)], "{results}");
    assert_eq!(runs[1]["checks"][1]["check"], "contains \"Lyon\"");
    let table = cli.ok(&["group", &group]);
    assert!(table.contains("2/2") && table.contains("1/2"), "{table}");
    // A bad pattern on a line starts nothing of the file.
    let bad = cli.write(
        "bad.jsonl",
        "{\"prompt\": \"p\", \"agent\": \"prose\", \"checks\": [{\"regex\": \"(\"}]}\n",
    );
    let err = cli.fails(
        &["run", "prose", "--batch", crate::cli_harness::path(&bad)],
        2,
    );
    assert!(err.contains("check regex ("), "{err}");
    assert_eq!(cli.json(&["groups"]).as_array().unwrap().len(), 1);
}
