//! MCP Apps views through the real daemon, worker and the sample tracker
//! plugin (`tests/plugins/tracker`): a chat whose model calls
//! `tracker.list_issues` records the tool's `ui://` view with the call's
//! result (`app.view`), and the plugin's declared panel is recorded as
//! the chat opens (its servers start before it is first idle). The view's own button (`AppToolCall`) runs a tool
//! of its server as a turn of its own, through the approval inbox like
//! any call, and the model is not told of it. A view can only ask while
//! the chat is idle, only as a view the session recorded, only with an
//! object of arguments, and never reaches a tool its server does not have
//! (the built-in shell, here).

use std::path::PathBuf;

use protocol::SessionId;
use protocol::agent::{SafetyMode, ScriptedToolCall};
use protocol::control::{ControlRequest, ControlResponse, ErrorKind};
use protocol::event::{Event, EventKind};
use protocol::layout::Layout;
use studio_client::plugin::install::Spec;
use studio_client::plugin::store::Plugins;
use studio_client::{Client, ClientError};

use crate::chat::{follow, idle, open, say, until};
use crate::support::*;

const VIEW: &str = "ui://tracker/issues";

async fn app_call(
    client: &Client,
    session: SessionId,
    uri: &str,
    server: &str,
    tool: &str,
    arguments: &str,
) -> Result<String, ClientError> {
    let request = ControlRequest::AppToolCall {
        session,
        uri: uri.to_owned(),
        server: server.to_owned(),
        tool: tool.to_owned(),
        arguments: arguments.to_owned(),
    };
    match client.request(request).await? {
        ControlResponse::AppCallStarted { call_id } => Ok(call_id),
        other => panic!("unexpected {other:?}"),
    }
}

fn refused(result: Result<String, ClientError>) -> (ErrorKind, String) {
    match result {
        Err(ClientError::Daemon(err)) => (err.kind, err.message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn views(events: &[Event]) -> Vec<protocol::app_view::AppView> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::AppView(view) => Some((**view).clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_views_button_calls_its_own_servers_tool_through_the_inbox() {
    crate::mcp::mcp_dir();
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    let plugins = Plugins::new(&Layout::new(daemon.dir.root()));
    let tracker = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/plugins/tracker");
    let ready = plugins
        .prepare_install(&Spec::Folder(tracker.canonicalize().unwrap()), &|_| {})
        .await
        .unwrap();
    plugins.commit(ready).unwrap();

    let mut user = agent("viewer", 1, 0);
    user.mcp_servers = vec!["plugin:tracker".into()];
    user.tools = vec!["shell".into()];
    user.safety = SafetyMode::WorkspaceWrite;
    let workspace = tempfile::tempdir().unwrap();
    user.workspace = Some(workspace.path().display().to_string());
    user.script.tool_calls = vec![ScriptedToolCall {
        name: "tracker.list_issues".into(),
        arguments: "{}".into(),
    }];
    create_agent(&client, user).await;
    let (session, ..) = open(
        &client,
        ControlRequest::ChatOpen {
            agent: "viewer".into(),
        },
    )
    .await;
    let mut sees = follow(&client, session, 0).await;
    // Its servers start before the chat is first idle, so the plugin's
    // panel is there before anything is said.
    until(&mut sees, idle).await;
    let recorded = views(&events(&client, session).await);
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0].call_id, None);
    assert_eq!(
        (recorded[0].uri.as_str(), recorded[0].title.as_str()),
        (VIEW, "Issues")
    );
    // A view that was never shown cannot ask.
    let other = app_call(
        &client,
        session,
        "ui://tracker/other",
        "tracker",
        "list_issues",
        "{}",
    );
    let (kind, message) = refused(other.await);
    assert_eq!(kind, ErrorKind::NotFound, "{message}");

    // The model lists the issues (the plugin's own rule allows it): the
    // tool's view is recorded with the call's result.
    say(&client, session, "list the issues").await.unwrap();
    until(&mut sees, idle).await;
    let recorded = views(&events(&client, session).await);
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    let shown = recorded.iter().find(|v| v.call_id.is_some()).expect("view");
    assert_eq!(
        (shown.server.as_str(), shown.uri.as_str()),
        ("tracker", VIEW)
    );
    assert!(shown.html.contains("ui/initialize"), "{}", shown.html);
    assert!(shown.prefers_border);
    let result: serde_json::Value = serde_json::from_str(&shown.result).unwrap();
    assert_eq!(result["structuredContent"]["issues"], serde_json::json!([]));

    // Bad asks are refused and change nothing.
    let (kind, _) =
        refused(app_call(&client, session, VIEW, "tracker", "create_issue", "[1]").await);
    assert_eq!(kind, ErrorKind::Invalid);
    let (kind, _) = refused(app_call(&client, session, VIEW, "other", "create_issue", "{}").await);
    assert_eq!(kind, ErrorKind::NotFound);

    // The button: the call waits in the inbox like any other.
    let call_id = app_call(
        &client,
        session,
        VIEW,
        "tracker",
        "create_issue",
        r#"{"title":"Filed from the panel"}"#,
    )
    .await
    .unwrap();
    let asking = until(
        &mut sees,
        |k| matches!(k, EventKind::ToolApprovalPending { call_id: c, .. } if *c == call_id),
    )
    .await;
    let EventKind::ToolApprovalPending { approval, .. } = asking.kind else {
        unreachable!()
    };
    // A second ask while the first runs is refused.
    let (kind, _) = refused(app_call(&client, session, VIEW, "tracker", "list_issues", "{}").await);
    assert_eq!(kind, ErrorKind::Conflict);
    client
        .request(ControlRequest::ApprovalAnswer {
            id: approval,
            approve: true,
            remember: false,
        })
        .await
        .unwrap();
    let done = until(
        &mut sees,
        |k| matches!(k, EventKind::ToolCompleted { call_id: c, .. } if *c == call_id),
    )
    .await;
    let EventKind::ToolCompleted { output, .. } = done.kind else {
        unreachable!()
    };
    assert_eq!(output, "created issue #1: Filed from the panel");
    until(&mut sees, idle).await;

    // A tool its server does not have is never run, the shell included.
    let shell = app_call(
        &client,
        session,
        VIEW,
        "tracker",
        "shell",
        r#"{"command":"id"}"#,
    )
    .await
    .unwrap();
    let failed = until(&mut sees, idle).await;
    let EventKind::SessionIdle { error: Some(error) } = failed.kind else {
        panic!("{failed:?}")
    };
    assert!(error.contains("no live MCP server has"), "{error}");

    client
        .request(ControlRequest::ChatEnd { session })
        .await
        .unwrap();
    until(&mut sees, EventKind::is_terminal).await;
    let log = events(&client, session).await;
    assert_log_is_whole(&log);
    let asked: Vec<&str> = log
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::AppCallAsked { tool, uri, .. } => {
                assert_eq!(uri, VIEW);
                Some(tool.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(asked, ["tracker.create_issue", "tracker.shell"]);
    assert!(
        !log.iter().any(|e| matches!(&e.kind,
            EventKind::ToolRequested { call_id, .. } if *call_id == shell)),
        "the shell call was never asked for"
    );
    let issues = std::fs::read_to_string(plugins.data_of("tracker").join("issues.json")).unwrap();
    assert!(issues.contains("Filed from the panel"), "{issues}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_allowing_a_views_call_holds_in_the_chats_next_life() {
    crate::mcp::mcp_dir();
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    let plugins = Plugins::new(&Layout::new(daemon.dir.root()));
    let tracker = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/plugins/tracker");
    let ready = plugins
        .prepare_install(&Spec::Folder(tracker.canonicalize().unwrap()), &|_| {})
        .await
        .unwrap();
    plugins.commit(ready).unwrap();
    let mut user = agent("keeper", 1, 0);
    user.mcp_servers = vec!["plugin:tracker".into()];
    create_agent(&client, user).await;
    let (session, ..) = open(
        &client,
        ControlRequest::ChatOpen {
            agent: "keeper".into(),
        },
    )
    .await;
    let mut sees = follow(&client, session, 0).await;
    until(&mut sees, idle).await;
    // The panel (recorded as the chat opened) files an issue; the person
    // allows it for the rest of the session.
    let first = app_call(
        &client,
        session,
        VIEW,
        "tracker",
        "create_issue",
        r#"{"title":"one"}"#,
    )
    .await
    .unwrap();
    let asking = until(
        &mut sees,
        |k| matches!(k, EventKind::ToolApprovalPending { call_id, .. } if *call_id == first),
    )
    .await;
    let EventKind::ToolApprovalPending { approval, .. } = asking.kind else {
        unreachable!()
    };
    client
        .request(ControlRequest::ApprovalAnswer {
            id: approval,
            approve: true,
            remember: true,
        })
        .await
        .unwrap();
    until(&mut sees, idle).await;
    client
        .request(ControlRequest::ChatEnd { session })
        .await
        .unwrap();
    until(&mut sees, EventKind::is_terminal).await;

    // A new life: the view's next call needs no one.
    let (resumed, after, _) = open(
        &client,
        ControlRequest::ChatResume {
            session: session.to_string(),
        },
    )
    .await;
    assert_eq!(resumed, session);
    let mut sees = follow(&client, session, after).await;
    until(&mut sees, idle).await;
    let second = app_call(
        &client,
        session,
        VIEW,
        "tracker",
        "create_issue",
        r#"{"title":"two"}"#,
    )
    .await
    .unwrap();
    let decided = until(&mut sees, |k| {
        matches!(k, EventKind::ToolApproved { call_id, .. } | EventKind::ToolApprovalPending { call_id, .. }
            if *call_id == second)
    })
    .await;
    assert!(
        matches!(decided.kind, EventKind::ToolApproved { .. }),
        "the grant did not hold: {decided:?}"
    );
    until(&mut sees, idle).await;
    let issues = std::fs::read_to_string(plugins.data_of("tracker").join("issues.json")).unwrap();
    assert!(issues.contains("two"), "{issues}");
    client
        .request(ControlRequest::ChatEnd { session })
        .await
        .unwrap();
}
