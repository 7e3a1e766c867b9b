//! Spend caps through the CLI and the real daemon: an agent's daily run
//! cap refuses runs past it before they start (and still does after a
//! restart, counted from the store); a group's run cap refuses a group too
//! big; a group's token cap stops its queued runs once spent; and an
//! agent's daily dollar cap, spent by one run, cancels another that is
//! live with `budget.exceeded`. The caps are said before a group starts.

use serde_json::Value;

use crate::cli_harness::Cli;

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["name"].as_str().unwrap()).collect()
}

/// How many sessions agent `agent` has, as `studio cost --by agent` counts.
fn sessions_of(cli: &Cli, agent: &str) -> u64 {
    let rows = cli.json(&["cost", "--by", "agent"]);
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == agent)
        .map_or(0, |r| r["sessions"].as_u64().unwrap())
}

#[test]
fn a_daily_run_cap_refuses_runs_past_it_before_they_start_even_after_a_restart() {
    let cli = Cli::new();
    cli.ok(&[
        "agent",
        "create",
        "poet",
        "--answer",
        "Hi.",
        "--daily-runs",
        "3",
    ]);
    cli.ok(&["run", "poet", "--prompt", "one"]);
    // Before a group starts, the cap it starts under is said.
    let out = cli.run(&["run", "poet", "--prompt", "two", "--attempts", "1"]);
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("agent poet cap today: 1 of 3 runs"), "{said}");

    let refused = cli.fails(&["run", "poet", "--prompt", "three", "--attempts", "2"], 7);
    assert!(
        refused.contains(
            "2 more run(s) would pass agent poet's daily cap of 3 runs (2 started today): nothing was started"
        ),
        "{refused}"
    );
    assert_eq!(
        sessions_of(&cli, "poet"),
        2,
        "the refused group left nothing"
    );

    // A new daemon counts the day from the store.
    cli.ok(&["daemon", "stop"]);
    cli.fails(&["run", "poet", "--prompt", "three", "--attempts", "2"], 7);
    cli.ok(&["run", "poet", "--prompt", "three"]);
    let refused = cli.fails(&["run", "poet", "--prompt", "four"], 7);
    assert!(refused.contains("(3 started today)"), "{refused}");
    assert_eq!(sessions_of(&cli, "poet"), 3);

    // A chat is a session of the day too.
    let refused = cli.fails(&["chat", "poet"], 7);
    assert!(refused.contains("daily cap of 3 runs"), "{refused}");

    // A group's own run cap refuses a group bigger than it.
    cli.ok(&["agent", "create", "free", "--answer", "Hi."]);
    let refused = cli.fails(
        &[
            "run",
            "free",
            "--prompt",
            "p",
            "--attempts",
            "3",
            "--group-runs",
            "2",
            "--name",
            "trio",
        ],
        7,
    );
    assert!(
        refused.contains("3 more run(s) would pass group trio's cap of 2 runs"),
        "{refused}"
    );
    assert_eq!(sessions_of(&cli, "free"), 0);
}

#[test]
fn a_spent_group_token_cap_ends_its_queued_runs_before_they_start() {
    let cli = Cli::new();
    cli.ok(&[
        "agent",
        "create",
        "poet",
        "--answer",
        "A short poem.",
        "--chunks",
        "2",
    ]);
    let out = cli.run(&[
        "--json",
        "run",
        "poet",
        "--prompt",
        "p",
        "--attempts",
        "4",
        "--parallel",
        "1",
        "--group-tokens",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(3), "not every run completed");
    let group: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(group["group"]["caps"]["max_tokens"], 1, "{group}");
    let runs = group["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    // The first run spent the cap with its one response.
    let first = cli.events(runs[0]["run"].as_str().unwrap());
    assert!(kinds(&first).contains(&"llm.response.completed"));
    for run in &runs[1..] {
        assert_eq!(run["status"], "cancelled", "{run}");
        let events = cli.events(run["run"].as_str().unwrap());
        assert!(
            !kinds(&events).contains(&"llm.request.started"),
            "it never asked the model: {events:?}"
        );
        let exceeded = events
            .iter()
            .find(|e| e["name"] == "budget.exceeded")
            .unwrap_or_else(|| panic!("{events:?}"));
        assert_eq!(exceeded["data"]["budget"], "group_tokens");
        assert_eq!(exceeded["data"]["limit"], 1.0);
        let end = events.last().unwrap();
        assert_eq!(end["name"], "session.cancelled");
        assert_eq!(end["data"]["reason"], "budget");
    }
}

#[test]
fn a_daily_dollar_cap_spent_by_one_run_cancels_another_live_run() {
    let cli = Cli::new();
    // A dollar a token: the first response spends the cap.
    cli.ok(&[
        "pricing",
        "set",
        "scripted-1",
        "--input",
        "1000000",
        "--output",
        "1000000",
    ]);
    cli.ok(&[
        "agent",
        "create",
        "poet",
        "--answer",
        "A long slow poem, line after line after line.",
        "--chunks",
        "60",
        "--chunk-delay-ms",
        "200",
        "--daily-usd",
        "1",
    ]);
    let slow = cli.ok(&["run", "poet", "--prompt", "slow", "--detach"]);
    let slow = slow.trim();
    // A quick run of the same agent spends the day's dollar.
    cli.ok(&[
        "run",
        "poet",
        "--prompt",
        "quick",
        "--chunks",
        "1",
        "--chunk-delay-ms",
        "0",
    ]);
    cli.fails(&["wait", slow, "--timeout", "60s"], 3);
    let events = cli.events(slow);
    assert!(
        !kinds(&events).contains(&"llm.response.completed"),
        "cancelled mid-answer: {:?}",
        kinds(&events)
    );
    let exceeded = events
        .iter()
        .find(|e| e["name"] == "budget.exceeded")
        .unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(exceeded["data"]["budget"], "daily_cost");
    assert!(exceeded["data"]["observed"].as_f64().unwrap() >= 1.0);
    let end = events.last().unwrap();
    assert_eq!(end["name"], "session.cancelled", "{end}");
    assert_eq!(end["data"]["reason"], "budget");

    let refused = cli.fails(&["run", "poet", "--prompt", "more"], 7);
    assert!(
        refused.contains("agent poet's daily cap of $1.00 is spent"),
        "{refused}"
    );
}

/// An idle chat is not cancelled when a run spends its agent's daily cap:
/// it stays open, and its next turn is refused, saying which cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_chat_outlives_a_spent_daily_cap_but_takes_no_more_turns() {
    use protocol::control::{ControlRequest, ControlResponse, ErrorKind, ModelPrice};
    use protocol::event::SessionStatus;
    use studio_client::ClientError;

    use crate::support::*;

    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    let price = ModelPrice {
        input: 1_000_000.0,
        output: 1_000_000.0,
        cache_read: 1_000_000.0,
        cache_write: 1_000_000.0,
        reasoning: 1_000_000.0,
    };
    client
        .request(ControlRequest::PricingSet {
            model: "scripted-1".into(),
            price,
        })
        .await
        .unwrap();
    let mut poet = agent("poet", 2, 0);
    poet.daily_caps.max_cost_usd = Some(1.0);
    create_agent(&client, poet).await;
    let ControlResponse::ChatOpened { session: chat, .. } = client
        .request(ControlRequest::ChatOpen {
            agent: "poet".into(),
        })
        .await
        .unwrap()
    else {
        panic!("no chat");
    };
    wait_for(&client, chat, "idle", |s| s.status == SessionStatus::Idle).await;
    let run = run(&client, spec("poet", "spend it")).await;
    wait_for(&client, run, "the run's end", |s| s.status.is_terminal()).await;
    // A few ticks pass: the idle chat is left alone.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(summary(&client, chat).await.status, SessionStatus::Idle);
    let refused = client
        .request(ControlRequest::ChatSay {
            session: chat,
            text: "one more".into(),
        })
        .await;
    let Err(ClientError::Daemon(err)) = refused else {
        panic!("a turn over the cap: {refused:?}");
    };
    assert_eq!(err.kind, ErrorKind::OverCap);
    assert!(
        err.message
            .contains("the agent's daily cap of $1.00 is spent"),
        "{}",
        err.message
    );
    assert_eq!(summary(&client, chat).await.status, SessionStatus::Idle);
}
