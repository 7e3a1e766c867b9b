//! What a hostile agent's commands try against the sandbox, through the
//! daemon with real workers, in each safety mode: writing outside its
//! workspace, reading the daemon's token, database and environment,
//! signalling the daemon, the network, other files of the user, and the
//! `studio` CLI run from inside the session to grant itself approvals or
//! to install a plugin of its own and give it a value.
//! Each attack meets its refusal; a `full` agent's commands run
//! unconfined but still cannot act as a person.

use std::path::Path;
use std::time::Duration;

use protocol::agent::{AgentConfig, SafetyMode, ScriptPatch, ScriptedToolCall};
use protocol::control::{ControlRequest, ControlResponse, RunSpec};
use protocol::event::{Event, EventKind};
use protocol::sandbox::Network;
use studio_client::Client;

use crate::mcp::mcp_dir;
use crate::support::*;

/// A secret in the daemon's environment that no command may read.
const DAEMON_SECRET: &str = "sk-daemon-env-0123456789";

/// One attack: the command, and what its output must (not) hold.
struct Attack {
    what: &'static str,
    command: String,
    /// Each must appear in the output.
    says: Vec<String>,
    /// None may appear in the output.
    never: Vec<String>,
}

fn attack(what: &'static str, command: String, says: &[&str], never: &[&str]) -> Attack {
    Attack {
        what,
        command,
        says: says.iter().map(|s| (*s).to_owned()).collect(),
        never: never.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// Runs every attack as one shell call of one run of `agent`; returns
/// each call's output, in order, and the run's events.
async fn run_attacks(
    client: &Client,
    agent: &str,
    attacks: &[Attack],
) -> (Vec<String>, Vec<Event>) {
    let tool_calls = attacks
        .iter()
        .map(|a| ScriptedToolCall {
            name: "shell".into(),
            arguments: serde_json::json!({ "command": a.command }).to_string(),
        })
        .collect();
    let (outputs, events) = run_calls(client, agent, tool_calls, "shell").await;
    for (attack, output) in attacks.iter().zip(&outputs) {
        for said in &attack.says {
            assert!(
                output.contains(said.as_str()),
                "{}: expected {said:?} in:\n{output}",
                attack.what
            );
        }
        for never in &attack.never {
            assert!(
                !output.contains(never.as_str()),
                "{}: {never:?} got out:\n{output}",
                attack.what
            );
        }
    }
    (outputs, events)
}

/// Runs one run of `agent` making `calls`, approving those `approve`
/// matches; each call's output (or error), in order, and the run's events.
pub(crate) async fn run_calls(
    client: &Client,
    agent: &str,
    calls: Vec<ScriptedToolCall>,
    approve: &str,
) -> (Vec<String>, Vec<Event>) {
    let count = calls.len();
    let spec = RunSpec {
        script: ScriptPatch {
            tool_calls: Some(calls),
            chunk_delay_ms: Some(0),
            ..ScriptPatch::default()
        },
        approve: vec![approve.parse().unwrap()],
        ..spec(agent, "try everything")
    };
    let session = run(client, spec).await;
    let events = follow_to_end(client, session, Duration::from_secs(120)).await;
    assert_log_is_whole(&events);
    let outputs: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolCompleted { output, .. } => Some(output.clone()),
            EventKind::ToolError { message, .. } => Some(format!("error: {message}")),
            _ => None,
        })
        .collect();
    assert_eq!(outputs.len(), count, "{outputs:#?}");
    (outputs, events)
}

/// The confinement the first tool call of `events` ran in.
fn first_confinement(events: &[Event]) -> protocol::sandbox::Confinement {
    events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::ToolStarted { confinement, .. } => Some(confinement.clone()),
            _ => None,
        })
        .expect("a tool.started")
}

/// The rules the daemon holds (none were added by any test here).
async fn rules(client: &Client) -> usize {
    match client.request(ControlRequest::RuleList).await.unwrap() {
        ControlResponse::Rules(rules) => rules.len(),
        other => panic!("unexpected {other:?}"),
    }
}

/// The `studio` CLI, run as an agent would to grant itself approvals.
fn self_approval(data_dir: &Path) -> String {
    let studio = studio_bin().display().to_string();
    let dir = data_dir.display().to_string();
    format!(
        "{studio} --data-dir {dir} rules add '*' --allow --priority 1000 2>&1; \
         {studio} --data-dir {dir} approve 1 2>&1; \
         echo sk-planted | {studio} --data-dir {dir} keys set openai 2>&1; \
         {studio} --data-dir {dir} gc --older-than 0s --yes 2>&1; \
         {studio} --data-dir {dir} apply 0000 2>&1; \
         {studio} --data-dir {dir} diff 0000 2>&1; \
         {studio} --data-dir {dir} otlp set http://127.0.0.1:9 2>&1; echo done"
    )
}

fn shell_agent(name: &str, safety: SafetyMode, workspace: &Path) -> AgentConfig {
    let mut agent = agent(name, 1, 0);
    agent.tools = vec!["shell".into()];
    agent.safety = safety;
    agent.workspace = Some(workspace.display().to_string());
    agent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_write_agent_s_commands_stay_in_their_sandbox() {
    let daemon =
        TestDaemon::start_with_env(4, vec![("STUDIO_TEST_SECRET".into(), DAEMON_SECRET.into())])
            .await;
    let client = daemon.client().await;
    let workspace = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir_in("/var/tmp").unwrap();
    std::fs::write(outside.path().join("private.txt"), "the user's own file").unwrap();
    let token = std::fs::read_to_string(daemon.dir.client_token()).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let data = daemon.dir.root().display().to_string();
    let daemon_pid = daemon.child.id();
    let mut coder = shell_agent("coder", SafetyMode::WorkspaceWrite, workspace.path());
    // So the CLI attack really runs the CLI.
    let bin_dir = studio_bin().parent().unwrap().display().to_string();
    coder.sandbox.read = vec![bin_dir];
    create_agent(&client, coder).await;
    let outside_file = outside.path().join("pwned.txt");
    let host_tmp = format!("/tmp/studio-sandbox-test-{}", std::process::id());
    let attacks = [
        attack(
            "writes in its workspace",
            "echo mine > inside.txt && cat inside.txt".into(),
            &["mine", "[exit code 0]"],
            &[],
        ),
        attack(
            "writes outside its workspace",
            format!("echo pwned > {}; echo rc=$?", outside_file.display()),
            &["rc=2"],
            &[],
        ),
        attack(
            "writes /tmp, which is its own",
            format!("echo t > {host_tmp} && cat {host_tmp}"),
            &["t\n", "[exit code 0]"],
            &[],
        ),
        attack(
            "reads the user's other files",
            format!("cat {}/private.txt", outside.path().display()),
            &["No such file"],
            &["the user's own file"],
        ),
        attack(
            "reads the client token",
            format!("cat {data}/client.token"),
            &["No such file"],
            &[token.trim()],
        ),
        attack(
            "reads the database",
            format!("strings {data}/studio.redb | head; ls {data}"),
            &["No such file"],
            &[],
        ),
        attack(
            "reads the daemon's environment",
            format!("cat /proc/{daemon_pid}/environ; tr '\\0' '\\n' < /proc/{daemon_pid}/environ"),
            &["Permission denied"],
            &[DAEMON_SECRET],
        ),
        attack(
            "signals the daemon (not even visible) and its own worker",
            format!("kill -STOP {daemon_pid}; echo rc=$?; kill -STOP 2; echo rc=$?"),
            &["No such process", "Operation not permitted", "rc=1"],
            &[],
        ),
        attack(
            "reaches a service on 127.0.0.1",
            format!(
                "/usr/bin/python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), 2)' 2>&1 | tail -1"
            ),
            &["Network is unreachable"],
            &[],
        ),
        attack(
            "runs the studio CLI to approve itself",
            self_approval(daemon.dir.root()),
            &["done"],
            &["rule r1 added", "approved", "deleted", "applied to"],
        ),
        attack(
            "installs a plugin of its own with the studio CLI and gives it a value",
            format!(
                "mkdir -p evil/.claude-plugin && echo '{{\"name\": \"evil\"}}' > evil/.claude-plugin/plugin.json; \
                 {studio} --data-dir {data} plugin install ./evil --yes 2>&1; \
                 echo planted | {studio} --data-dir {data} plugin env set evil TOKEN 2>&1; echo done",
                studio = studio_bin().display()
            ),
            &["done"],
            &[],
        ),
    ];
    let (_, events) = run_attacks(&client, "coder", &attacks).await;
    assert!(!outside_file.exists(), "a write escaped the workspace");
    let plugins = protocol::layout::Layout::new(daemon.dir.root()).plugins();
    assert!(
        !plugins.join("evil").exists() && !plugins.join("installed.toml").exists(),
        "an agent installed a plugin"
    );
    assert!(
        !Path::new(&host_tmp).exists(),
        "its /tmp is not the machine's"
    );
    assert_eq!(
        std::fs::read_to_string(workspace.path().join("inside.txt")).unwrap(),
        "mine\n"
    );
    assert_eq!(rules(&client).await, 0, "the agent added a rule");
    // Its private /tmp goes with the session.
    let private_tmp = std::env::temp_dir().join(format!("studio-{}", events[0].session));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while private_tmp.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} is still there",
            private_tmp.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let daemon_state = supervisor::procfs::stat(daemon_pid).unwrap().state;
    assert_ne!(daemon_state, 'T', "the daemon was stopped");
    // Every call records the sandbox it ran in.
    for event in &events {
        if let EventKind::ToolStarted { confinement, .. } = &event.kind {
            assert!(confinement.confined, "{confinement}");
            assert_eq!(confinement.network, Network::Off);
            assert_eq!(
                confinement.writable[0],
                workspace
                    .path()
                    .canonicalize()
                    .unwrap()
                    .display()
                    .to_string()
            );
            assert!(confinement.missing.is_empty(), "{confinement}");
        }
    }
    drop(listener);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_agent_writes_anywhere_but_cannot_act_as_a_person() {
    let daemon =
        TestDaemon::start_with_env(4, vec![("STUDIO_TEST_SECRET".into(), DAEMON_SECRET.into())])
            .await;
    let daemon_pid = daemon.child.id();
    let client = daemon.client().await;
    let workspace = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir_in("/var/tmp").unwrap();
    create_agent(
        &client,
        shell_agent("free", SafetyMode::Full, workspace.path()),
    )
    .await;
    let outside_file = outside.path().join("free.txt");
    let attacks = [
        attack(
            "writes outside its workspace",
            format!("echo free > {} && echo written", outside_file.display()),
            &["written"],
            &[],
        ),
        attack(
            "runs the studio CLI to approve itself",
            self_approval(daemon.dir.root()),
            &[
                "refused: this connection comes from inside a session",
                "done",
            ],
            &["rule r1 added", "deleted"],
        ),
        attack(
            "reads the daemon's environment (its session's user namespace forbids it)",
            format!("cat /proc/{daemon_pid}/environ"),
            &["Permission denied"],
            &[DAEMON_SECRET],
        ),
    ];
    let (outputs, events) = run_attacks(&client, "free", &attacks).await;
    assert_eq!(std::fs::read_to_string(&outside_file).unwrap(), "free\n");
    assert_eq!(
        outputs[1]
            .matches("refused: this connection comes from inside a session")
            .count(),
        7,
        "the rule, the approval, the key, the gc, the apply, the diff and the OTLP endpoint are all refused: {}",
        outputs[1]
    );
    assert_eq!(rules(&client).await, 0);
    let ControlResponse::Otlp(otlp) = client.request(ControlRequest::OtlpStatus).await.unwrap()
    else {
        panic!("no OTLP status");
    };
    assert_eq!(otlp.url, None, "an agent set where its sessions' traces go");
    let ControlResponse::Keys(keys) = client.request(ControlRequest::KeyList).await.unwrap() else {
        panic!("no keys");
    };
    assert!(
        keys.iter()
            .all(|k| k.source != protocol::control::KeySource::Stored),
        "{keys:?}"
    );
    // Labelled unconfined wherever it shows.
    let started = first_confinement(&events);
    assert_eq!(started.to_string(), "full: unconfined");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_agent_s_mcp_server_writes_only_its_private_tmp() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    let workspace = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir_in("/var/tmp").unwrap();
    let script = mcp_dir().join("misbehaving.mjs").display().to_string();
    client
        .request(ControlRequest::McpAdd {
            server: protocol::mcp::McpServerConfig {
                name: "writer".into(),
                transport: protocol::mcp::McpTransport::Stdio {
                    command: "node".into(),
                    args: vec![script],
                    env: Vec::new(),
                },
                startup_timeout_secs: 30,
                call_timeout_secs: 10,
            },
            replace: false,
        })
        .await
        .unwrap();
    let mut reader = agent("reader", 1, 0);
    reader.workspace = Some(workspace.path().display().to_string());
    reader.mcp_servers = vec!["writer".into()];
    reader.sandbox.read = vec![mcp_dir().display().to_string()];
    create_agent(&client, reader).await;
    let write = |path: String| ScriptedToolCall {
        name: "writer.write".into(),
        arguments: serde_json::json!({ "path": path, "text": "x" }).to_string(),
    };
    let in_workspace = workspace.path().join("w.txt");
    let outside_file = outside.path().join("w.txt");
    let spec = RunSpec {
        script: ScriptPatch {
            tool_calls: Some(vec![
                write(in_workspace.display().to_string()),
                write(outside_file.display().to_string()),
                write("/tmp/scratch.txt".into()),
            ]),
            ..ScriptPatch::default()
        },
        approve: vec!["writer.*".parse().unwrap()],
        ..spec("reader", "write")
    };
    let session = run(&client, spec).await;
    let events = follow_to_end(&client, session, Duration::from_secs(60)).await;
    let results: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolCompleted { output, .. } => Some(output.clone()),
            EventKind::ToolError { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 3, "{results:?}");
    assert!(results[0].contains("cannot write: EROFS"), "{results:?}");
    assert!(results[1].contains("cannot write: ENOENT"), "{results:?}");
    assert_eq!(results[2], "written", "{results:?}");
    assert!(!in_workspace.exists() && !outside_file.exists());
    let started = first_confinement(&events);
    assert!(started.confined);
    assert_eq!(started.mode, SafetyMode::ReadOnly);
    assert_eq!(started.writable.len(), 1, "its private tmp only: {started}");
}
