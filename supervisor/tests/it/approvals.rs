//! The approval pipeline end to end: rules, run rules, the ask policy, the
//! inbox answered over the control socket, timeouts, and the loop watchdog.

use std::time::Duration;

use protocol::Timestamp;
use protocol::agent::{SafetyMode, ScriptPatch, ScriptedToolCall};
use protocol::approval::{AskPolicy, RuleDecision};
use protocol::control::{ControlRequest, ControlResponse, RunSpec};
use protocol::event::{BudgetKind, Decider, Event, EventKind, SessionStatus, StopReason};
use studio_client::Client;

use crate::support::*;

fn calls(list: &[(&str, &str)]) -> ScriptPatch {
    ScriptPatch {
        tool_calls: Some(
            list.iter()
                .map(|(name, arguments)| ScriptedToolCall {
                    name: (*name).to_owned(),
                    arguments: (*arguments).to_owned(),
                })
                .collect(),
        ),
        ..ScriptPatch::default()
    }
}

/// Each call's decision, in order: (approved, who decided).
fn decisions(events: &[Event]) -> Vec<(bool, Decider)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolApproved { by, .. } => Some((true, by.clone())),
            EventKind::ToolDenied { by, .. } => Some((false, by.clone())),
            _ => None,
        })
        .collect()
}

async fn add_rule(client: &Client, matches: &str, decision: RuleDecision) -> String {
    let request = ControlRequest::RuleAdd {
        agent: None,
        matches: matches.parse().unwrap(),
        decision,
        priority: 0,
    };
    match client.request(request).await.unwrap() {
        ControlResponse::Rule(rule) => rule.id,
        other => panic!("unexpected {other:?}"),
    }
}

fn rule(id: &str) -> Decider {
    Decider::Rule { id: id.to_owned() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_and_run_rules_decide_and_each_decision_names_its_decider() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    create_agent(&client, agent("tools", 2, 0)).await;
    let deny = add_rule(&client, "shell:command=rm *", RuleDecision::Deny).await;
    let allow = add_rule(&client, "fs.*", RuleDecision::Allow).await;
    assert_eq!((deny.as_str(), allow.as_str()), ("r1", "r2"));

    let run_spec = RunSpec {
        script: calls(&[
            ("shell", r#"{"command":"rm -rf /"}"#),
            ("fs.read", r#"{"path":"a.txt"}"#),
            ("web.fetch", r#"{"url":"https://example.com"}"#),
            ("shell", r#"{"command":"git status"}"#),
        ]),
        approve: vec!["shell:command=git *".parse().unwrap()],
        ..spec("tools", "use your tools")
    };
    let session = run(&client, run_spec).await;
    let events = follow_to_end(&client, session, Duration::from_secs(20)).await;
    assert_log_is_whole(&events);
    assert_eq!(
        decisions(&events),
        [
            (false, rule("r1")),
            (true, rule("r2")),
            (false, Decider::RunPolicy),
            (true, rule("run:shell:command=git *")),
        ]
    );
    // An approved call reaches the worker, which has no such tool yet.
    let errors = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::ToolError { .. }))
        .count();
    assert_eq!(errors, 2);
    assert_eq!(events.last().unwrap().kind, EventKind::SessionCompleted);

    let ControlResponse::Rules(rules) = client.request(ControlRequest::RuleList).await.unwrap()
    else {
        panic!("expected rules");
    };
    assert_eq!(rules.len(), 2);
    client
        .request(ControlRequest::RuleRemove { id: deny })
        .await
        .unwrap();
    let err = client
        .request(ControlRequest::RuleRemove { id: "r1".into() })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no rule r1"), "{err}");
    let bad = client
        .request(ControlRequest::RuleAdd {
            agent: None,
            matches: "shell[".parse().unwrap(),
            decision: RuleDecision::Allow,
            priority: 0,
        })
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("bad tool glob"), "{bad}");
}

/// Issue 12: a deny rule over a shell command holds for each simple
/// command in it, not only for the whole string. With the whole tool
/// allowed for the run, `true && rm -f junk` and `eval 'rm -f junk'` are
/// denied by `shell:command=rm *`, and the file is still there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deny_rule_holds_for_every_simple_command_of_a_shell_call() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    let workspace = tempfile::tempdir().unwrap();
    let junk = workspace.path().join("junk");
    std::fs::write(&junk, "keep me\n").unwrap();
    let mut coder = agent("coder", 2, 0);
    coder.tools = vec!["shell".into()];
    coder.safety = SafetyMode::WorkspaceWrite;
    coder.workspace = Some(workspace.path().display().to_string());
    create_agent(&client, coder).await;
    let deny = add_rule(&client, "shell:command=rm *", RuleDecision::Deny).await;

    let run_spec = RunSpec {
        script: calls(&[
            ("shell", r#"{"command":"true && rm -f junk"}"#),
            ("shell", r#"{"command":"eval 'rm -f junk'"}"#),
            ("shell", r#"{"command":"cat junk"}"#),
        ]),
        approve: vec!["shell".parse().unwrap()],
        ..spec("coder", "clean up")
    };
    let session = run(&client, run_spec).await;
    let events = follow_to_end(&client, session, Duration::from_secs(30)).await;
    assert_log_is_whole(&events);
    assert_eq!(
        decisions(&events),
        [
            (false, rule(&deny)),
            (false, rule(&deny)),
            (true, rule("run:shell")),
        ]
    );
    let reasons: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolDenied { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    let reason = format!("denied by approval rule {deny}");
    assert_eq!(reasons, [reason.as_str(), reason.as_str()]);
    let outputs: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolCompleted { output, .. } => Some(output.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(outputs.len(), 1, "{outputs:?}");
    assert!(outputs[0].contains("keep me"), "{}", outputs[0]);
    assert_eq!(std::fs::read_to_string(&junk).unwrap(), "keep me\n");
    assert_eq!(events.last().unwrap().kind, EventKind::SessionCompleted);
}

/// Neither a removed rule's id nor an answered call's approval number is
/// given out again, not even by the next daemon: recorded decisions name
/// their rule by id, and a person may still hold an old number
/// (`studio approve 1`) that must not approve some other call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_ids_and_approval_numbers_are_never_reused() {
    let mut daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    create_agent(&client, agent("tools", 2, 0)).await;
    let first = add_rule(&client, "fs.*", RuleDecision::Allow).await;
    let second = add_rule(&client, "shell", RuleDecision::Deny).await;
    assert_eq!((first.as_str(), second.as_str()), ("r1", "r2"));
    // The newest is removed: its number is not given out again.
    client
        .request(ControlRequest::RuleRemove { id: second })
        .await
        .unwrap();
    assert_eq!(add_rule(&client, "shell", RuleDecision::Ask).await, "r3");
    client
        .request(ControlRequest::RuleRemove { id: "r3".into() })
        .await
        .unwrap();
    // A call parked for a person, then answered.
    let asking = || RunSpec {
        script: calls(&[("web.fetch", r#"{"url":"https://example.com"}"#)]),
        ask: AskPolicy::Wait { secs: 60 },
        ..spec("tools", "fetch")
    };
    let session = run(&client, asking()).await;
    let parked = waiting(&client, 1).await[0].id;
    client
        .request(ControlRequest::ApprovalAnswer {
            id: parked,
            approve: false,
            remember: false,
        })
        .await
        .unwrap();
    // Ended, so all it wrote is committed before the kill.
    follow_to_end(&client, session, Duration::from_secs(20)).await;

    drop(client);
    daemon.kill9();
    daemon.restart().await;
    let client = daemon.client().await;
    assert_eq!(add_rule(&client, "web.*", RuleDecision::Ask).await, "r4");
    let ControlResponse::Rules(rules) = client.request(ControlRequest::RuleList).await.unwrap()
    else {
        panic!("expected rules");
    };
    let ids: Vec<_> = rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["r1", "r4"]);
    run(&client, asking()).await;
    let next = waiting(&client, 1).await[0].id;
    assert!(
        next > parked,
        "approval #{parked} given out again as #{next}"
    );
    let stale = client
        .request(ControlRequest::ApprovalAnswer {
            id: parked,
            approve: true,
            remember: false,
        })
        .await
        .unwrap_err();
    assert!(stale.to_string().contains("is waiting"), "{stale}");
}

async fn waiting(client: &Client, count: usize) -> Vec<protocol::approval::PendingApproval> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let ControlResponse::Approvals(list) =
            client.request(ControlRequest::ApprovalList).await.unwrap()
        else {
            panic!("expected approvals");
        };
        if list.len() >= count {
            return list;
        }
        assert!(std::time::Instant::now() < deadline, "no call waited");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_call_is_answered_from_the_inbox_and_always_allow_holds_for_the_session() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    create_agent(&client, agent("tools", 2, 0)).await;
    let run_spec = RunSpec {
        script: calls(&[
            ("fs.write", r#"{"path":"a"}"#),
            ("fs.write", r#"{"path":"b"}"#),
        ]),
        ask: AskPolicy::Wait { secs: 60 },
        ..spec("tools", "write twice")
    };
    let session = run(&client, run_spec).await;
    let inbox = waiting(&client, 1).await;
    assert_eq!(inbox.len(), 1);
    assert_eq!(
        (inbox[0].session, inbox[0].tool.as_str()),
        (session, "fs.write")
    );
    assert_eq!(inbox[0].arguments, r#"{"path":"a"}"#);
    // The session says it waits for a person, since when and until when.
    let parked = wait_for(&client, session, "waiting", |s| {
        s.status == SessionStatus::Waiting
    })
    .await;
    let wait = parked.waiting.unwrap();
    assert_eq!(wait.calls, 1);
    assert_eq!(wait.decided_by, inbox[0].expires_at);
    assert!(wait.since <= Timestamp::now() && wait.since >= parked.created_at);
    client
        .request(ControlRequest::ApprovalAnswer {
            id: inbox[0].id,
            approve: true,
            remember: true,
        })
        .await
        .unwrap();
    let again = client
        .request(ControlRequest::ApprovalAnswer {
            id: inbox[0].id,
            approve: false,
            remember: false,
        })
        .await
        .unwrap_err();
    assert!(
        again.to_string().contains("is waiting"),
        "the first answer wins: {again}"
    );
    let events = follow_to_end(&client, session, Duration::from_secs(20)).await;
    assert_eq!(
        decisions(&events),
        [
            (true, Decider::UserAlways),
            (true, rule("session:fs.write"))
        ],
        "the second call was allowed by the grant, without asking"
    );
    let done = summary(&client, session).await;
    assert_eq!(
        (done.status, done.waiting),
        (SessionStatus::Completed, None)
    );
}

/// A run with a 2 s wall budget whose call waits 4 s for a person is not
/// cancelled: waiting for a person does not count against the budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_waiting_for_a_person_is_not_spent_from_the_wall_budget() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    let mut tools = agent("tools", 2, 0);
    tools.budgets.max_wall_secs = Some(2);
    create_agent(&client, tools).await;
    let run_spec = RunSpec {
        script: calls(&[("fs.write", r#"{"path":"a"}"#)]),
        ask: AskPolicy::Wait { secs: 60 },
        ..spec("tools", "write, once a person says so")
    };
    let session = run(&client, run_spec).await;
    let inbox = waiting(&client, 1).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    client
        .request(ControlRequest::ApprovalAnswer {
            id: inbox[0].id,
            approve: true,
            remember: false,
        })
        .await
        .unwrap();
    let events = follow_to_end(&client, session, Duration::from_secs(20)).await;
    assert_eq!(decisions(&events), [(true, Decider::User)]);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.kind, EventKind::BudgetExceeded { .. })),
        "{events:?}"
    );
    assert_eq!(events.last().unwrap().kind, EventKind::SessionCompleted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_call_is_denied_when_the_wait_runs_out() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    create_agent(&client, agent("tools", 2, 0)).await;
    let run_spec = RunSpec {
        script: calls(&[("shell", r#"{"command":"make"}"#)]),
        ask: AskPolicy::Wait { secs: 1 },
        ..spec("tools", "build")
    };
    let session = run(&client, run_spec).await;
    let events = follow_to_end(&client, session, Duration::from_secs(20)).await;
    assert_eq!(decisions(&events), [(false, Decider::Timeout)]);
    assert_eq!(events.last().unwrap().kind, EventKind::SessionCompleted);
    let ControlResponse::Approvals(left) =
        client.request(ControlRequest::ApprovalList).await.unwrap()
    else {
        panic!("expected approvals");
    };
    assert!(left.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_call_over_and_over_is_stopped_as_a_loop() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    create_agent(&client, agent("looper", 200, 20)).await;
    let same = ("shell", r#"{"command":"ls"}"#);
    let run_spec = RunSpec {
        script: calls(&[same, same, same, same, same, same]),
        approve: vec!["shell".parse().unwrap()],
        ..spec("looper", "list forever")
    };
    let session = run(&client, run_spec).await;
    let events = follow_to_end(&client, session, Duration::from_secs(20)).await;
    assert_log_is_whole(&events);
    let exceeded = events.iter().find_map(|e| match &e.kind {
        EventKind::BudgetExceeded {
            budget,
            limit,
            observed,
        } => Some((*budget, *limit, *observed)),
        _ => None,
    });
    assert_eq!(exceeded, Some((BudgetKind::ToolLoop, 5.0, 5.0)));
    let budgets = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::BudgetExceeded { .. }))
        .count();
    assert_eq!(budgets, 1, "the loop is reported once");
    let decided = decisions(&events);
    assert!(
        decided[..4].iter().all(|(approved, _)| *approved),
        "{decided:?}"
    );
    // The fifth is the loop; a sixth may arrive before the worker hears the cancel.
    assert!(
        decided[4..]
            .iter()
            .all(|d| *d == (false, Decider::RunPolicy)),
        "{decided:?}"
    );
    assert_eq!(
        events.last().unwrap().kind,
        EventKind::SessionCancelled {
            reason: StopReason::Budget,
            forced: false
        }
    );
}
