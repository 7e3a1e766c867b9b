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

#[test]
fn judge_agents_score_each_answer_and_their_tokens_are_counted() {
    let cli = Cli::new();
    agents(&cli);
    cli.ok(&[
        "agent",
        "create",
        "generous",
        "--answer",
        "9\nClear and correct.",
    ]);
    cli.ok(&[
        "agent",
        "create",
        "harsh",
        "--answer",
        "Score: 2/10\nIt guesses.",
    ]);
    cli.ok(&[
        "agent",
        "create",
        "mute",
        "--answer",
        "I would rather not say.",
    ]);
    // A judge that does not exist starts nothing.
    let refused = cli.fails(
        &[
            "run",
            "prose",
            "--prompt",
            "p",
            "--attempts",
            "1",
            "--check-judge",
            "nobody",
        ],
        4,
    );
    assert!(
        refused.contains("judge: ") && refused.contains("no run was queued"),
        "{refused}"
    );
    assert!(cli.json(&["groups"]).as_array().unwrap().is_empty());

    let results = cli.json(&[
        "run",
        "prose",
        "--prompt",
        "Which city is the capital of France?",
        "--attempts",
        "1",
        "--check-judge",
        "generous",
        "--check-judge",
        "harsh:5",
        "--check-judge",
        "mute:1",
    ]);
    let run = &results["runs"][0];
    let checks = run["checks"].as_array().unwrap();
    let passed: Vec<bool> = checks.iter().map(|c| c["passed"] == true).collect();
    assert_eq!(passed, [true, false, false], "{run}");
    assert_eq!(checks[0]["check"], "judge generous ≥ 7/10");
    assert_eq!(checks[0]["detail"], "9/10: Clear and correct.");
    assert_eq!(checks[1]["detail"], "2/10: It guesses.");
    assert_eq!(checks[2]["detail"], "no score: I would rather not say.");

    let events = cli.events(run["run"].as_str().unwrap());
    let judged: Vec<&Value> = events
        .iter()
        .filter(|e| e["name"] == "check.judge")
        .collect();
    assert_eq!(judged.len(), 3);
    assert_eq!(judged[0]["data"]["score"], 9);
    assert_eq!(judged[0]["data"]["model"], "scripted-1");
    // Each judge's tokens are priced as its own llm.cost, and counted in
    // the run's totals.
    let costs = events
        .iter()
        .filter(|e| e["name"] == "llm.cost")
        .filter(|e| {
            e["data"]["request_id"]
                .as_str()
                .unwrap()
                .starts_with("judge:")
        })
        .count();
    assert_eq!(costs, 3);
    let judge_input: u64 = judged
        .iter()
        .map(|j| j["data"]["usage"]["input_tokens"].as_u64().unwrap())
        .sum();
    let model_input: u64 = events
        .iter()
        .filter(|e| e["name"] == "llm.response.completed")
        .map(|e| e["data"]["usage"]["input_tokens"].as_u64().unwrap())
        .sum();
    assert!(judge_input > 0);
    assert_eq!(run["input_tokens"], judge_input + model_input, "{run}");
}
