//! What a hostile agent (or a shared agent file) tries, through the real
//! daemon and real workers, each with the refusal or event it must meet.
//! The process escapes and resource attacks of a session's own commands
//! are in `escapes`; this module holds the attacks on names, places,
//! limits and keys.

use std::time::Duration;

use futures_util::future::join_all;
use protocol::agent::{AgentConfig, SafetyMode};
use protocol::control::{ControlRequest, ControlResponse, ErrorKind};
use protocol::event::EventKind;
use protocol::layout::Layout;
use protocol::mcp::{McpServerConfig, McpTransport};

use crate::support::{TestDaemon, agent, create_agent, follow_to_end};

/// Sends `request` and returns the refusal's kind and message.
async fn refused(client: &studio_client::Client, request: ControlRequest) -> (ErrorKind, String) {
    match client.request(request).await {
        Err(studio_client::ClientError::Daemon(err)) => (err.kind, err.message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_and_places_that_would_reach_the_data_dir_are_refused() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    let inside = daemon.dir.root().join("inside");
    std::fs::create_dir_all(&inside).unwrap();
    let plugin_files = Layout::new(daemon.dir.root()).plugins().join("tracker");
    std::fs::create_dir_all(&plugin_files).unwrap();
    let with_workspace = |dir: &std::path::Path| AgentConfig {
        workspace: Some(dir.display().to_string()),
        safety: SafetyMode::WorkspaceWrite,
        ..agent("placed", 1, 0)
    };
    let mut fs_server = McpServerConfig {
        name: "fs".to_owned(),
        transport: McpTransport::Stdio {
            command: "true".to_owned(),
            args: Vec::new(),
            env: Vec::new(),
        },
        startup_timeout_secs: 5,
        call_timeout_secs: 5,
    };
    let attacks: Vec<(&str, ControlRequest, &str)> = vec![
        (
            "an agent named '..' (its workspace would be the data dir's parent's)",
            ControlRequest::AgentCreate {
                agent: Box::new(agent("..", 1, 0)),
                replace: true,
            },
            "invalid agent name",
        ),
        (
            "an agent named '.'",
            ControlRequest::AgentCreate {
                agent: Box::new(agent(".", 1, 0)),
                replace: true,
            },
            "invalid agent name",
        ),
        (
            "a hidden agent name",
            ControlRequest::AgentCreate {
                agent: Box::new(agent(".config", 1, 0)),
                replace: true,
            },
            "invalid agent name",
        ),
        (
            "a workspace inside the data dir",
            ControlRequest::AgentCreate {
                agent: Box::new(with_workspace(&inside)),
                replace: true,
            },
            "is inside the daemon's data dir",
        ),
        (
            "a workspace that holds the data dir",
            ControlRequest::AgentCreate {
                agent: Box::new(with_workspace(daemon.tmp.path())),
                replace: true,
            },
            "holds the daemon's data dir",
        ),
        (
            "a sandbox that would show the data dir to every command",
            ControlRequest::AgentCreate {
                agent: Box::new(AgentConfig {
                    sandbox: protocol::sandbox::SandboxConfig {
                        read: vec![daemon.tmp.path().display().to_string()],
                        ..Default::default()
                    },
                    ..agent("peek", 1, 0)
                }),
                replace: true,
            },
            "sandbox path",
        ),
        (
            "a workspace in the installed plugins' folder (their code runs with their grants)",
            ControlRequest::AgentCreate {
                agent: Box::new(with_workspace(&plugin_files)),
                replace: true,
            },
            "is inside the installed plugins' folder",
        ),
        (
            "a sandbox that writes the installed plugins' folder",
            ControlRequest::AgentCreate {
                agent: Box::new(AgentConfig {
                    sandbox: protocol::sandbox::SandboxConfig {
                        write: vec![
                            Layout::new(daemon.dir.root())
                                .plugins()
                                .display()
                                .to_string(),
                        ],
                        ..Default::default()
                    },
                    ..agent("tamper", 1, 0)
                }),
                replace: true,
            },
            "is the installed plugins' folder",
        ),
        (
            "an MCP server named fs, whose tools would pass for the built-in ones",
            ControlRequest::McpAdd {
                server: fs_server.clone(),
                replace: true,
            },
            "built-in tools' names",
        ),
    ];
    for (attack, request, why) in attacks {
        let (kind, message) = refused(&client, request).await;
        assert_eq!(kind, ErrorKind::Invalid, "{attack}: {message}");
        assert!(message.contains(why), "{attack}: {message}");
    }
    fs_server.name = "shell".to_owned();
    let (_, message) = refused(
        &client,
        ControlRequest::McpAdd {
            server: fs_server,
            replace: true,
        },
    )
    .await;
    assert!(message.contains("built-in tools' names"), "{message}");

    // An agent without a workspace works beside the data dir, never in it.
    let mut writer = agent("writer", 1, 0);
    writer.tools = vec!["shell".to_owned()];
    writer.safety = SafetyMode::WorkspaceWrite;
    writer.script.tool_calls = vec![protocol::agent::ScriptedToolCall {
        name: "shell".to_owned(),
        arguments: r#"{"command":"pwd"}"#.to_owned(),
    }];
    create_agent(&client, writer).await;
    let mut spec = crate::support::spec("writer", "where am I?");
    spec.approve = vec!["shell".parse().unwrap()];
    let session = crate::support::run(&client, spec).await;
    let events = follow_to_end(&client, session, Duration::from_secs(30)).await;
    let output = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::ToolCompleted { output, .. } => Some(output.clone()),
            _ => None,
        })
        .expect("the shell call completed");
    let workspace = daemon.dir.layout().default_workspace("writer");
    let data_dir = std::fs::canonicalize(daemon.dir.root()).unwrap();
    let cwd = output.lines().next().unwrap();
    assert_eq!(
        cwd,
        std::fs::canonicalize(&workspace).unwrap().to_str().unwrap()
    );
    assert!(!std::path::Path::new(cwd).starts_with(&data_dir), "{cwd}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_chats_meet_the_chat_limit() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    create_agent(&client, agent("talker", 1, 0)).await;
    let ControlResponse::Status(status) = client
        .request(ControlRequest::LimitsSet {
            max_concurrent_runs: None,
            max_live_chats: Some(8),
        })
        .await
        .unwrap()
    else {
        panic!("no status");
    };
    assert_eq!((status.max_live_chats, status.max_concurrent_runs), (8, 4));

    let opens = (0..300).map(|_| {
        client.request(ControlRequest::ChatOpen {
            agent: "talker".to_owned(),
        })
    });
    let answers = join_all(opens).await;
    let mut opened = Vec::new();
    let mut refusals = 0;
    for answer in answers {
        match answer {
            Ok(ControlResponse::ChatOpened { session, .. }) => opened.push(session),
            Err(studio_client::ClientError::Daemon(err)) => {
                assert_eq!(err.kind, ErrorKind::Conflict);
                assert!(err.message.contains("the most allowed"), "{}", err.message);
                refusals += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((opened.len(), refusals), (8, 292));
    let ControlResponse::Status(status) = client.request(ControlRequest::Status).await.unwrap()
    else {
        panic!("no status");
    };
    assert_eq!(status.live_chats, 8);
    let live_workers = workers_of(daemon.child.id()).len();
    assert_eq!(live_workers, 8, "one worker per open chat, none more");

    // A refused chat is recorded as failed, saying why; the limit is kept
    // across a restart, and once a chat ends another may open.
    let ControlResponse::Sessions(sessions) = client
        .request(ControlRequest::SessionList {
            all: true,
            limit: 1000,
        })
        .await
        .unwrap()
    else {
        panic!("no sessions");
    };
    let failed: Vec<_> = sessions
        .iter()
        .filter(|s| !opened.contains(&s.id))
        .collect();
    assert_eq!(failed.len(), 292);
    let events = crate::support::events(&client, failed[0].id).await;
    assert!(
        matches!(&events.last().unwrap().kind, EventKind::SessionFailed { error } if error.contains("the most allowed")),
        "{events:?}"
    );
    client
        .request(ControlRequest::ChatEnd { session: opened[0] })
        .await
        .unwrap();
    let again = client
        .request(ControlRequest::ChatOpen {
            agent: "talker".to_owned(),
        })
        .await;
    assert!(
        matches!(again, Ok(ControlResponse::ChatOpened { .. })),
        "{again:?}"
    );
}

/// The live `studio-worker` children of the daemon `daemon_pid`.
fn workers_of(daemon_pid: u32) -> Vec<u32> {
    use supervisor::procfs;
    procfs::pids()
        .into_iter()
        .filter(|pid| procfs::stat(*pid).is_some_and(|s| s.ppid == daemon_pid && !s.is_zombie()))
        .filter(|pid| {
            procfs::cmdline(*pid)
                .and_then(|args| args.into_iter().next())
                .is_some_and(|argv0| argv0.ends_with(b"studio-worker"))
        })
        .collect()
}
