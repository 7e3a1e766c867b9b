//! MCP through the daemon: real servers from the npm registry (pinned by
//! `tests/mcp/package-lock.json`, installed by `scripts/setup`) over stdio
//! and streamable HTTP serve a scripted agent's tool calls; servers that
//! crash, hang, babble or never start are events and the session goes on.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use protocol::Secret;
use protocol::agent::ScriptPatch;
use protocol::control::{ControlRequest, ControlResponse, RunSpec};
use protocol::event::EventKind;
use protocol::mcp::{McpServerConfig, McpTransport};
use studio_client::Client;

use crate::support::*;

/// `tests/mcp`, with its npm packages installed.
pub(crate) fn mcp_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/mcp")
        .canonicalize()
        .expect("tests/mcp");
    assert!(
        dir.join("node_modules/.bin/mcp-server-everything").exists(),
        "the test MCP servers are not installed: run scripts/setup (scripts/test does)"
    );
    dir
}

pub(crate) fn bin(name: &str) -> String {
    mcp_dir()
        .join("node_modules/.bin")
        .join(name)
        .display()
        .to_string()
}

fn stdio(name: &str, command: &str, args: &[&str], timeouts: (u32, u32)) -> McpServerConfig {
    McpServerConfig {
        name: name.to_owned(),
        transport: McpTransport::Stdio {
            command: command.to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env: Vec::new(),
        },
        startup_timeout_secs: timeouts.0,
        call_timeout_secs: timeouts.1,
    }
}

async fn add(client: &Client, server: McpServerConfig) {
    client
        .request(ControlRequest::McpAdd {
            server,
            replace: false,
        })
        .await
        .unwrap();
}

/// server-everything over streamable HTTP on a free loopback port.
struct HttpServer {
    child: Child,
    url: String,
}

impl HttpServer {
    fn start() -> HttpServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(bin("mcp-server-everything"))
            .arg("streamableHttp")
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the HTTP MCP server did not come up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        HttpServer {
            child,
            url: format!("http://127.0.0.1:{port}/mcp"),
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_servers_over_stdio_and_http_serve_a_scripted_agent() {
    // A provider key in the daemon's environment must not reach any server.
    let daemon = TestDaemon::start_with_env(
        4,
        vec![("OPENAI_API_KEY".into(), "sk-daemon-secret".into())],
    )
    .await;
    let client = daemon.client().await;
    let workspace = tempfile::tempdir().unwrap();
    let root = workspace.path().canonicalize().unwrap();
    let http = HttpServer::start();

    let mut everything = stdio(
        "everything",
        &bin("mcp-server-everything"),
        &["stdio"],
        (60, 30),
    );
    if let McpTransport::Stdio { env, .. } = &mut everything.transport {
        env.push(("GREETING".into(), Secret::new("configured-value")));
    }
    add(&client, everything).await;
    let root_arg = root.display().to_string();
    add(
        &client,
        stdio(
            "files",
            &bin("mcp-server-filesystem"),
            &[&root_arg],
            (60, 30),
        ),
    )
    .await;
    add(
        &client,
        McpServerConfig {
            name: "remote".into(),
            transport: McpTransport::Http {
                url: http.url.clone(),
                headers: Vec::new(),
            },
            startup_timeout_secs: 30,
            call_timeout_secs: 30,
        },
    )
    .await;

    let mut user = agent("mcp-user", 2, 0);
    user.mcp_servers = vec!["everything".into(), "files".into(), "remote".into()];
    user.workspace = Some(root_arg.clone());
    // The stdio servers run in the agent's sandbox: they write the
    // workspace and read the installed packages, nothing else.
    user.safety = protocol::SafetyMode::WorkspaceWrite;
    user.sandbox.read = vec![mcp_dir().display().to_string()];
    create_agent(&client, user).await;
    let note = root.join("note.txt").display().to_string();
    let script = ScriptPatch {
        tool_calls: Some(vec![
            call("everything.echo", serde_json::json!({"message": "hello"})),
            call("everything.get-sum", serde_json::json!({"a": 2, "b": 3})),
            call(
                "files.write_file",
                serde_json::json!({"path": note, "content": "from mcp"}),
            ),
            call("files.read_text_file", serde_json::json!({"path": note})),
            call("remote.echo", serde_json::json!({"message": "over http"})),
            call("everything.get-env", serde_json::json!({})),
        ]),
        ..ScriptPatch::default()
    };
    let session = run(
        &client,
        RunSpec {
            script,
            approve: vec![
                "everything.*".parse().unwrap(),
                "files.*".parse().unwrap(),
                "remote.*".parse().unwrap(),
            ],
            ..spec("mcp-user", "use the servers")
        },
    )
    .await;
    let events = follow_to_end(&client, session, Duration::from_secs(90)).await;
    assert_log_is_whole(&events);
    assert_eq!(events.last().unwrap().kind, EventKind::SessionCompleted);

    let started: Vec<(String, u32)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::McpServerStarted { server, tools } => Some((server.clone(), *tools)),
            _ => None,
        })
        .collect();
    let names: Vec<&str> = started.iter().map(|(s, _)| s.as_str()).collect();
    let failed: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::McpServerFailed { server, message } => Some(format!("{server}: {message}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        names,
        ["everything", "files", "remote"],
        "{started:?} {failed:?}"
    );
    assert!(started.iter().all(|(_, tools)| *tools >= 5), "{started:?}");

    // Every call was asked about and allowed by the run's rules.
    let approved = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::ToolApproved { .. }))
        .count();
    assert_eq!(approved, 6);
    let results = outcomes(&events);
    assert_eq!(results.len(), 6, "{results:?}");
    assert_eq!(results[0], Ok("Echo: hello".to_owned()));
    assert_eq!(results[1], Ok("The sum of 2 and 3 is 5.".to_owned()));
    assert!(
        results[2].as_ref().unwrap().contains("Successfully wrote"),
        "{results:?}"
    );
    assert_eq!(results[3], Ok("from mcp".to_owned()));
    assert_eq!(results[4], Ok("Echo: over http".to_owned()));
    let env = results[5].as_ref().unwrap();
    assert!(
        env.contains("configured-value"),
        "the server's own env: {env}"
    );
    assert!(
        !env.contains("sk-daemon-secret"),
        "a provider key leaked into an MCP server: {env}"
    );
    assert!(!env.contains("OPENAI_API_KEY"), "{env}");
    assert_eq!(
        std::fs::read_to_string(root.join("note.txt")).unwrap(),
        "from mcp"
    );

    // The stdio servers were children in the worker's group: gone with it,
    // before the terminal event was recorded.
    let pid = worker_pid(&events).unwrap();
    assert!(group_is_empty(pid), "the session's group is empty");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_servers_are_events_and_the_session_goes_on() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    let script_path = mcp_dir().join("misbehaving.mjs").display().to_string();
    add(&client, stdio("bad", "node", &[&script_path], (20, 2))).await;
    add(
        &client,
        stdio("silent", "node", &[&script_path, "silent"], (2, 2)),
    )
    .await;
    add(
        &client,
        stdio("absent", "/nonexistent/mcp-server", &[], (2, 2)),
    )
    .await;

    let mut user = agent("brave", 3, 0);
    user.sandbox.read = vec![mcp_dir().display().to_string()];
    user.mcp_servers = vec![
        "bad".into(),
        "silent".into(),
        "absent".into(),
        "unconfigured".into(),
    ];
    create_agent(&client, user).await;
    let text = |t: &str| serde_json::json!({ "text": t });
    let script = ScriptPatch {
        tool_calls: Some(vec![
            call("bad.echo", text("one")),
            call("bad.hang", text("")),
            call("bad.garbage", text("")),
            call("bad.echo", text("still here")),
            call("bad.crash", text("")),
            call("bad.echo", text("after the crash")),
            call("silent.anything", text("")),
        ]),
        ..ScriptPatch::default()
    };
    let session = run(
        &client,
        RunSpec {
            script,
            approve: vec!["*".parse().unwrap()],
            ..spec("brave", "survive")
        },
    )
    .await;
    let events = follow_to_end(&client, session, Duration::from_secs(60)).await;
    assert_log_is_whole(&events);
    assert_eq!(
        events.last().unwrap().kind,
        EventKind::SessionCompleted,
        "the session went on"
    );
    let (answer, _) = answer(&events);
    assert!(!answer.is_empty());

    let failed: Vec<(String, String)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::McpServerFailed { server, message } => {
                Some((server.clone(), message.clone()))
            }
            _ => None,
        })
        .collect();
    let reason = |name: &str| {
        failed
            .iter()
            .find(|(s, _)| s == name)
            .map(|(_, m)| m.clone())
            .unwrap_or_else(|| panic!("no mcp.server.failed for {name}: {failed:?}"))
    };
    assert!(
        reason("unconfigured").contains("no MCP server named"),
        "{failed:?}"
    );
    assert!(reason("silent").contains("within 2s"), "{failed:?}");
    assert!(reason("absent").contains("cannot start"), "{failed:?}");
    assert_eq!(failed.len(), 3, "{failed:?}");

    // Tools providers would refuse are not offered (one bad name must not
    // break every request), and the log says which and why.
    let started = events.iter().find_map(|e| match &e.kind {
        EventKind::McpServerStarted { server, tools } if server == "bad" => Some(*tools),
        _ => None,
    });
    assert_eq!(
        started,
        Some(6),
        "echo, crash, hang, garbage, dup.x and write"
    );
    let skipped = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::McpToolsSkipped {
                server,
                tools,
                count,
            } if server == "bad" => Some((tools.clone(), *count)),
            _ => None,
        })
        .expect("an mcp.tools.skipped event");
    assert_eq!(skipped.1, 3, "{skipped:?}");
    let why = skipped.0.join("\n");
    assert!(
        why.contains("\"dup__x\": another tool is already called bad__dup__x")
            && why.contains("\"has space\": providers accept only")
            && why.contains("longer than the 64 characters"),
        "{why}"
    );

    let results = outcomes(&events);
    assert_eq!(results.len(), 7, "{results:?}");
    assert_eq!(results[0], Ok("echo: one".to_owned()));
    let hang = results[1].as_ref().unwrap_err();
    assert!(hang.contains("no answer within 2s"), "{hang}");
    let garbage = results[2].as_ref().unwrap_err();
    assert!(garbage.contains("no answer within 2s"), "{garbage}");
    assert_eq!(
        results[3],
        Ok("echo: still here".to_owned()),
        "a bad line does not end the server"
    );
    let crash = results[4].as_ref().unwrap_err();
    assert!(
        crash.contains("went away") && crash.contains("crashing on purpose"),
        "the crash and the server's last words: {crash}"
    );
    let after = results[5].as_ref().unwrap_err();
    assert!(after.contains("no tool named"), "{after}");
    let never = results[6].as_ref().unwrap_err();
    assert!(never.contains("no tool named"), "{never}");
    let exited: Vec<&String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::McpServerExited { server } => Some(server),
            _ => None,
        })
        .collect();
    assert_eq!(exited, ["bad"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_are_persisted_and_tested_from_a_one_shot_worker() {
    let mut daemon = TestDaemon::start(2).await;
    let client = daemon.client().await;
    add(
        &client,
        stdio(
            "everything",
            &bin("mcp-server-everything"),
            &["stdio"],
            (60, 30),
        ),
    )
    .await;
    let duplicate = client
        .request(ControlRequest::McpAdd {
            server: stdio("everything", "x", &[], (1, 1)),
            replace: false,
        })
        .await
        .unwrap_err();
    assert!(duplicate.to_string().contains("exists"), "{duplicate}");

    let ControlResponse::McpTools(tools) = client
        .request(ControlRequest::McpTest {
            name: "everything".into(),
        })
        .await
        .unwrap()
    else {
        panic!("unexpected answer");
    };
    assert!(tools.contains(&"everything.echo".to_owned()), "{tools:?}");

    drop(client);
    daemon.kill9();
    daemon.restart().await;
    let client = daemon.client().await;
    let ControlResponse::McpServers(servers) =
        client.request(ControlRequest::McpList).await.unwrap()
    else {
        panic!("unexpected answer");
    };
    assert_eq!(servers.len(), 1);
    assert_eq!(servers[0].name, "everything");
    client
        .request(ControlRequest::McpRemove {
            name: "everything".into(),
        })
        .await
        .unwrap();
    let missing = client
        .request(ControlRequest::McpTest {
            name: "everything".into(),
        })
        .await
        .unwrap_err();
    assert!(
        missing.to_string().contains("no MCP server named"),
        "{missing}"
    );
}
