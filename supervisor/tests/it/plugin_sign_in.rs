//! Signing in to a plugin's own HTTP MCP server: a plugin that brings
//! `tests/mcp/oauth-server.mjs` as its server (`.mcp.json`, `"type":
//! "http"`) is installed; a session without a sign-in fails naming
//! `studio mcp login plugin:PLUGIN/SERVER`; `studio mcp login
//! plugin:PLUGIN` signs in (the "browser" a curl); the next session sends
//! the token; removing the plugin forgets the sign-in.

use std::time::Duration;

use protocol::agent::ScriptPatch;
use protocol::control::{ControlRequest, RunSpec};
use protocol::event::{Event, EventKind};
use protocol::layout::Layout;
use serde_json::Value;
use studio_client::Client;
use studio_client::plugin::install::Spec;
use studio_client::plugin::store::Plugins;

use crate::mcp_oauth::{OAuthServer, sign_in, studio};
use crate::support::*;

/// A session of `notes-user` calling the plugin's `notes.whoami`; its
/// events.
async fn call_whoami(client: &Client) -> Vec<Event> {
    let script = ScriptPatch {
        tool_calls: Some(vec![call("notes.whoami", serde_json::json!({}))]),
        ..ScriptPatch::default()
    };
    let session = run(
        client,
        RunSpec {
            script,
            approve: vec!["notes.*".parse().unwrap()],
            ..spec("notes-user", "who am I?")
        },
    )
    .await;
    let events = follow_to_end(client, session, Duration::from_secs(60)).await;
    assert_log_is_whole(&events);
    events
}

/// The names of the secrets the test daemon keeps (`secrets.json`).
fn stored_secrets(daemon: &TestDaemon) -> Vec<String> {
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(daemon.dir.root().join("secrets.json")).unwrap(),
    )
    .unwrap();
    file["secrets"]
        .as_object()
        .map(|all| all.keys().cloned().collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugins_http_server_signs_in_and_its_sessions_send_the_token() {
    let server = OAuthServer::start();
    let daemon = TestDaemon::start(2).await;
    let client = daemon.client().await;

    // The plugin, as published plugins bring a remote server.
    let folder = tempfile::tempdir().unwrap();
    let plugin = folder.path().join("remote-notes");
    std::fs::create_dir_all(plugin.join(".claude-plugin")).unwrap();
    std::fs::write(
        plugin.join(".claude-plugin/plugin.json"),
        r#"{"name": "remote-notes", "version": "1.0.0", "description": "Notes, remotely"}"#,
    )
    .unwrap();
    std::fs::write(
        plugin.join(".mcp.json"),
        serde_json::json!({"mcpServers": {"notes": {"type": "http", "url": server.url()}}})
            .to_string(),
    )
    .unwrap();
    let plugins = Plugins::new(&Layout::new(daemon.dir.root()));
    let ready = plugins
        .prepare_install(&Spec::Folder(plugin), &|_| {})
        .await
        .unwrap();
    plugins.commit(ready).unwrap();
    let mut user = agent("notes-user", 1, 0);
    user.mcp_servers = vec!["plugin:remote-notes".into()];
    create_agent(&client, user).await;

    // Without a sign-in, the session says which command signs in.
    let before = call_whoami(&client).await;
    let failed = before
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::McpServerFailed { server, message } if server == "notes" => {
                Some(message.clone())
            }
            _ => None,
        })
        .expect("the server failed without a sign-in");
    assert!(
        failed.contains("studio mcp login plugin:remote-notes/notes"),
        "{failed}"
    );

    // A name that is no server of the plugin is refused, saying which are.
    let wrong = studio(
        &daemon,
        &[
            "mcp",
            "login",
            "plugin:remote-notes/other",
            "--timeout",
            "5",
        ],
        None,
    );
    let said = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(2), "{said}");
    assert!(said.contains("plugin:remote-notes/notes"), "{said}");

    let answer = sign_in(&daemon, "plugin:remote-notes");
    assert_eq!(answer["server"], "plugin:remote-notes/notes", "{answer}");
    assert_eq!(answer["signed_in"], true, "{answer}");
    let sign_in = "mcp-oauth/plugin:remote-notes/notes".to_owned();
    assert!(stored_secrets(&daemon).contains(&sign_in));

    // The plugin's sessions send the token.
    let after = call_whoami(&client).await;
    let answered = outcomes(&after);
    assert_eq!(answered, vec![Ok("signed in as client-1".to_owned())]);
    assert_eq!(after.last().unwrap().kind, EventKind::SessionCompleted);

    // Removed, the plugin's sign-in goes with it.
    let removed = studio(&daemon, &["plugin", "remove", "remote-notes"], None);
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    assert!(!stored_secrets(&daemon).contains(&sign_in));
    let gone = client
        .request(ControlRequest::McpOAuthSet {
            server: "plugin:remote-notes/notes".to_owned(),
            tokens: None,
        })
        .await;
    assert!(gone.is_err(), "{gone:?}");
}
