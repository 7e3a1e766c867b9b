//! A hostile agent's commands try to outlive or outgrow their session:
//! children that start their own session, double forks and `nohup`ed
//! children after kill, cancel and completion; a child over the memory
//! budget; a fork bomb. Each runs through the daemon with real workers,
//! and each must meet its refusal or event, with nothing of the session
//! left once its terminal event is recorded.

use std::time::Duration;

use protocol::agent::{AgentConfig, SafetyMode, ScriptPatch, ScriptedToolCall};
use protocol::control::{ControlRequest, RunSpec};
use protocol::event::{BudgetKind, Event, EventKind, StopReason};
use studio_client::Client;

use crate::support::*;

/// An agent whose one tool call runs `command` in the shell.
fn shell_agent(name: &str, workspace: &std::path::Path) -> AgentConfig {
    let mut agent = agent(name, 2, 0);
    agent.tools = vec!["shell".into()];
    agent.safety = SafetyMode::WorkspaceWrite;
    agent.workspace = Some(workspace.display().to_string());
    agent
}

/// A run whose model calls `shell` with `command` (approved by the run).
fn shell_run(agent: &str, command: &str, budgets: protocol::Budgets) -> RunSpec {
    RunSpec {
        script: ScriptPatch {
            tool_calls: Some(vec![ScriptedToolCall {
                name: "shell".into(),
                arguments: serde_json::json!({ "command": command }).to_string(),
            }]),
            ..ScriptPatch::default()
        },
        approve: vec!["shell".parse().unwrap()],
        budgets,
        ..spec(agent, "misbehave")
    }
}

/// Live processes with an argument that holds `marker`.
fn marked(marker: &str) -> Vec<u32> {
    supervisor::procfs::pids()
        .into_iter()
        .filter(|pid| supervisor::procfs::is_alive(*pid))
        .filter(|pid| {
            supervisor::procfs::cmdline(*pid).is_some_and(|args| {
                args.iter()
                    .any(|a| String::from_utf8_lossy(a).contains(marker))
            })
        })
        .collect()
}

/// Live `sleep` processes whose duration is `seconds` exactly (a
/// duration no other process uses marks a test's sleepers).
fn sleeping(seconds: &str) -> Vec<u32> {
    supervisor::procfs::pids()
        .into_iter()
        .filter(|pid| supervisor::procfs::is_alive(*pid))
        .filter(|pid| {
            supervisor::procfs::cmdline(*pid).is_some_and(|args| {
                args.len() == 2 && args[0].ends_with(b"sleep") && args[1] == seconds.as_bytes()
            })
        })
        .collect()
}

/// Waits until `count` processes are found by `find`.
async fn until_found(find: impl Fn() -> Vec<u32>, count: usize, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while find().len() < count {
        assert!(
            std::time::Instant::now() < deadline,
            "only {:?} of {count} {what} processes started",
            find()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A duration that marks this test's sleepers: `600.PID` plus `n`.
fn marker(n: u32) -> String {
    format!("{}.{}", 600 + n, std::process::id())
}

/// Starts a `setsid -f` child, a double-forked one and a `nohup`ed one,
/// each `sleep SECONDS`, says so, and waits.
fn escapers(seconds: &str) -> String {
    format!(
        "setsid -f sleep {seconds} </dev/null >/dev/null 2>&1; \
         (sh -c 'sleep {seconds} &') ; \
         nohup sleep {seconds} </dev/null >/dev/null 2>&1 & \
         echo escaped; sleep 600"
    )
}

fn terminal(events: &[Event]) -> &EventKind {
    &events.last().unwrap().kind
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_that_start_their_own_session_die_with_it_whatever_ends_it() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    let workspace = tempfile::tempdir().unwrap();
    create_agent(&client, shell_agent("escaper", workspace.path())).await;

    // Killed, cancelled: the escapers are running when the session ends.
    for (how, seconds) in [("kill", marker(1)), ("cancel", marker(2))] {
        let session = run(
            &client,
            shell_run("escaper", &escapers(&seconds), Default::default()),
        )
        .await;
        until_found(|| sleeping(&seconds), 3, how).await;
        let request = if how == "kill" {
            ControlRequest::Kill { session }
        } else {
            ControlRequest::Cancel { session }
        };
        client.request(request).await.unwrap();
        let events = follow_to_end(&client, session, Duration::from_secs(30)).await;
        assert_log_is_whole(&events);
        assert!(
            matches!(
                terminal(&events),
                EventKind::SessionKilled { .. } | EventKind::SessionCancelled { .. }
            ),
            "{how}: {:?}",
            terminal(&events)
        );
        assert_eq!(
            sleeping(&seconds),
            Vec::<u32>::new(),
            "{how}: a child outlived its session's terminal event"
        );
        held_by_a_namespace(&events);
    }

    // Completed: the command returns at once, leaving its escapers behind.
    let seconds = marker(3);
    let command = escapers(&seconds).replace("; sleep 600", "");
    let session = run(&client, shell_run("escaper", &command, Default::default())).await;
    let events = follow_to_end(&client, session, Duration::from_secs(30)).await;
    assert_eq!(*terminal(&events), EventKind::SessionCompleted);
    assert_eq!(sleeping(&seconds), Vec::<u32>::new());
}

/// The session records what holds it: here, a PID namespace.
fn held_by_a_namespace(events: &[Event]) {
    let contained = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::SessionContained { containment } => Some(containment),
            _ => None,
        })
        .expect("session.contained is recorded");
    assert!(
        contained.pid_namespace,
        "this machine has user namespaces: {contained}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_over_the_memory_budget_ends_the_session() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    let workspace = tempfile::tempdir().unwrap();
    create_agent(&client, shell_agent("hog", workspace.path())).await;
    // dd's buffer is 600 MiB, touched whole by the read.
    let command = "dd if=/dev/zero of=/dev/null bs=600M count=1 2>&1; sleep 600";
    let budgets = protocol::Budgets {
        max_memory_mib: Some(100),
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let session = run(&client, shell_run("hog", command, budgets)).await;
    let events = follow_to_end(&client, session, Duration::from_secs(60)).await;
    assert_log_is_whole(&events);
    let exceeded = events.iter().find_map(|e| match &e.kind {
        EventKind::BudgetExceeded {
            budget, observed, ..
        } => Some((*budget, *observed)),
        _ => None,
    });
    let (budget, observed) = exceeded.expect("the memory budget is exceeded");
    assert_eq!(budget, BudgetKind::Memory);
    assert!(observed > 100.0, "observed {observed} MiB");
    assert_eq!(
        *terminal(&events),
        EventKind::SessionKilled {
            reason: StopReason::Budget
        }
    );
    assert!(started.elapsed() < Duration::from_secs(50));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_bomb_stops_at_the_session_s_process_limit() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    let workspace = tempfile::tempdir().unwrap();
    let mut bomber = shell_agent("bomber", workspace.path());
    bomber.sandbox.max_processes = Some(48);
    create_agent(&client, bomber).await;
    let marker = format!("bomb-{}", std::process::id());
    // Every copy forks forever (a failed fork only makes it try again),
    // pausing 10 ms between tries so the machine stays usable; every
    // one's arguments hold MARKER.
    let command =
        format!("perl -e 'while (1) {{ fork; select(undef, undef, undef, 0.01) }}' {marker}");
    let session = run(&client, shell_run("bomber", &command, Default::default())).await;
    until_found(|| marked(&marker), 20, "bomb").await;
    let events = wait_contained(&client, session).await;
    let contained = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::SessionContained { containment } => Some(containment.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        contained.cgroup.is_some(),
        "the process limit needs a cgroup, and this machine gives the daemon one: {contained}"
    );
    // The bomb presses against the limit for a while; it never passes it.
    let mut most = 0;
    for _ in 0..10 {
        most = most.max(marked(&marker).len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(most <= 48, "{most} processes under a limit of 48");
    // The daemon still answers, and a kill leaves nothing.
    client.request(ControlRequest::Ping).await.unwrap();
    client
        .request(ControlRequest::Kill { session })
        .await
        .unwrap();
    let events = follow_to_end(&client, session, Duration::from_secs(30)).await;
    assert_log_is_whole(&events);
    assert!(matches!(terminal(&events), EventKind::SessionKilled { .. }));
    assert_eq!(marked(&marker), Vec::<u32>::new());
}

/// The session's events once `session.contained` is among them.
async fn wait_contained(client: &Client, session: protocol::SessionId) -> Vec<Event> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let events = events(client, session).await;
        if events
            .iter()
            .any(|e| matches!(e.kind, EventKind::SessionContained { .. }))
        {
            return events;
        }
        assert!(std::time::Instant::now() < deadline, "{events:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
