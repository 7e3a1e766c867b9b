//! Built-in tools through the daemon: approved calls run in the agent's
//! workspace, escapes are refused, and a background child of a shell
//! command dies with the session's process group.

use std::time::Duration;

use protocol::agent::{SafetyMode, ScriptPatch};
use protocol::control::RunSpec;
use protocol::event::EventKind;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approved_tools_run_in_the_workspace_and_nothing_they_start_outlives_the_session() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    let workspace = tempfile::tempdir().unwrap();
    let mut coder = agent("coder", 2, 0);
    coder.tools = vec!["fs".into(), "shell".into()];
    coder.safety = SafetyMode::WorkspaceWrite;
    coder.workspace = Some(workspace.path().display().to_string());
    create_agent(&client, coder).await;
    // A sleep no other process has: `sleep 60.PID`.
    let marker = format!("60.{}", std::process::id());
    let script = ScriptPatch {
        tool_calls: Some(vec![
            call(
                "fs.write",
                serde_json::json!({"path": "notes/todo.txt", "content": "buy milk\n"}),
            ),
            call(
                "shell",
                serde_json::json!({"command": format!("cat notes/todo.txt; sleep {marker} & echo started")}),
            ),
            call("fs.read", serde_json::json!({"path": "../outside.txt"})),
            call("fs.search", serde_json::json!({"contains": "milk"})),
        ]),
        chunk_delay_ms: Some(0),
        ..ScriptPatch::default()
    };
    let session = run(
        &client,
        RunSpec {
            script,
            approve: vec!["*".parse().unwrap()],
            ..spec("coder", "use the tools")
        },
    )
    .await;
    let events = follow_to_end(&client, session, Duration::from_secs(30)).await;
    assert_log_is_whole(&events);
    let outcomes: Vec<Result<String, String>> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolCompleted { output, .. } => Some(Ok(output.clone())),
            EventKind::ToolError { message, .. } => Some(Err(message.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(outcomes.len(), 4, "{outcomes:?}");
    assert_eq!(
        outcomes[0],
        Ok("wrote 9 bytes to notes/todo.txt".to_owned())
    );
    let shell = outcomes[1].as_ref().unwrap();
    assert!(
        shell.contains("buy milk") && shell.contains("started") && shell.ends_with("[exit code 0]"),
        "{shell}"
    );
    let escape = outcomes[2].as_ref().unwrap_err();
    assert!(escape.contains("uses '..'"), "{escape}");
    assert_eq!(outcomes[3], Ok("notes/todo.txt:1: buy milk".to_owned()));
    assert_eq!(
        std::fs::read_to_string(workspace.path().join("notes/todo.txt")).unwrap(),
        "buy milk\n"
    );
    assert_eq!(events.last().unwrap().kind, EventKind::SessionCompleted);

    // The background `sleep` was in the worker's process group, swept
    // before the terminal event was recorded.
    let pid = worker_pid(&events).unwrap();
    assert!(group_is_empty(pid), "the session's group is empty");
    let survivors: Vec<u32> = supervisor::procfs::pids()
        .into_iter()
        .filter(|p| {
            supervisor::procfs::cmdline(*p).is_some_and(|args| {
                args.len() == 2 && args[0].ends_with(b"sleep") && args[1] == marker.as_bytes()
            })
        })
        .filter(|p| alive(*p))
        .collect();
    assert!(
        survivors.is_empty(),
        "the background child outlived its session: {survivors:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_agent_is_not_offered_writing_tools() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    let mut reader = agent("reader", 2, 0);
    reader.tools = vec!["fs".into(), "shell".into()];
    create_agent(&client, reader).await;
    let script = ScriptPatch {
        tool_calls: Some(vec![
            call("fs.write", serde_json::json!({"path": "x", "content": "y"})),
            call("shell", serde_json::json!({"command": "true"})),
            call("fs.list", serde_json::json!({})),
        ]),
        ..ScriptPatch::default()
    };
    let session = run(
        &client,
        RunSpec {
            script,
            approve: vec!["*".parse().unwrap()],
            ..spec("reader", "try to write")
        },
    )
    .await;
    let events = follow_to_end(&client, session, Duration::from_secs(30)).await;
    let errors: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolError { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        errors,
        [
            "there is no tool named \"fs.write\"",
            "there is no tool named \"shell\""
        ],
        "tools outside the mode are not there at all"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e.kind, EventKind::ToolCompleted { .. })),
        "fs.list ran"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_during_a_huge_search_is_cooperative_and_prompt() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    let workspace = tempfile::tempdir().unwrap();
    // A tree big enough that searching it takes seconds.
    for d in 0..400 {
        let dir = workspace.path().join(format!("d{d}"));
        std::fs::create_dir(&dir).unwrap();
        for f in 0..250 {
            std::fs::write(dir.join(format!("f{f}.txt")), "nothing to see here\n").unwrap();
        }
    }
    let mut searcher = agent("searcher", 2, 0);
    searcher.tools = vec!["fs".into()];
    searcher.workspace = Some(workspace.path().display().to_string());
    create_agent(&client, searcher).await;
    let script = ScriptPatch {
        tool_calls: Some(vec![call(
            "fs.search",
            serde_json::json!({"contains": "needle"}),
        )]),
        ..ScriptPatch::default()
    };
    let session = run(
        &client,
        RunSpec {
            script,
            approve: vec!["fs.*".parse().unwrap()],
            ..spec("searcher", "find the needle")
        },
    )
    .await;
    // The search runs off the worker's runtime: its tool.started is
    // recorded while it searches.
    wait_for_event(&client, session, |k| {
        matches!(k, EventKind::ToolStarted { .. })
    })
    .await;
    let sent = std::time::Instant::now();
    client
        .request(protocol::control::ControlRequest::Cancel { session })
        .await
        .unwrap();
    let events = follow_to_end(&client, session, Duration::from_secs(30)).await;
    let took = sent.elapsed();
    assert_log_is_whole(&events);
    assert_eq!(
        events.last().unwrap().kind,
        EventKind::SessionCancelled {
            reason: protocol::event::StopReason::User,
            forced: false
        },
        "the worker stopped at once, not after the 500 ms grace"
    );
    assert!(took < Duration::from_millis(500), "{took:?}");
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.kind, EventKind::ToolCompleted { .. })),
        "the search ran to its end: make the tree bigger"
    );
}

/// Waits until `session` has recorded an event for which `check` holds.
async fn wait_for_event(
    client: &studio_client::Client,
    session: protocol::SessionId,
    check: impl Fn(&EventKind) -> bool,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if events(client, session).await.iter().any(|e| check(&e.kind)) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "no such event");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
