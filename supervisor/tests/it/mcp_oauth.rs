//! MCP authorization end to end: `tests/mcp/oauth-server.mjs`, a real
//! OAuth-protected streamable-HTTP MCP server with its own authorization
//! server on 127.0.0.1, against the daemon, `studio mcp login` (the
//! "browser" a curl that follows the authorization redirect to the login's
//! loopback listener) and sessions that use the tokens.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use protocol::Secret;
use protocol::agent::{ScriptPatch, ScriptedToolCall};
use protocol::control::{ControlRequest, RunSpec};
use protocol::event::{Event, EventKind};
use protocol::mcp::{McpOAuthTokens, McpServerConfig, McpTransport};
use serde_json::Value;
use studio_client::Client;

use crate::mcp::mcp_dir;
use crate::support::*;

/// The OAuth-protected server, killed when dropped.
pub(crate) struct OAuthServer {
    child: Child,
    port: u16,
}

impl OAuthServer {
    pub(crate) fn start() -> OAuthServer {
        Self::start_with(&[])
    }

    /// With `env` (`CLIENT_ID`, `CLIENT_SECRET`: a pre-registered client).
    pub(crate) fn start_with(env: &[(&str, &str)]) -> OAuthServer {
        let mut child = Command::new("node")
            .arg(mcp_dir().join("oauth-server.mjs"))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .unwrap()
            .parse()
            .unwrap();
        OAuthServer { child, port }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }

    /// What the server saw (`/stats`), over plain HTTP.
    pub(crate) fn stats(&self) -> Value {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .write_all(b"GET /stats HTTP/1.0\r\nhost: 127.0.0.1\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let body = answer.split_once("\r\n\r\n").unwrap().1;
        serde_json::from_str(body).unwrap()
    }
}

impl Drop for OAuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `studio ARGS` on the daemon's data dir, with `browser` as the program
/// that opens the sign-in address.
pub(crate) fn studio(
    daemon: &TestDaemon,
    args: &[&str],
    browser: Option<&std::path::Path>,
) -> std::process::Output {
    let mut command = Command::new(studio_bin());
    command
        .arg("--data-dir")
        .arg(daemon.dir.root())
        .args(args)
        .env("STUDIO_WORKER_BIN", worker_bin());
    match browser {
        Some(browser) => command.env("STUDIO_BROWSER", browser),
        None => command.env("STUDIO_BROWSER", "/bin/true"),
    };
    command.output().unwrap()
}

/// A "browser" that first opens an idle connection to the sign-in's
/// loopback listener (its port is in the address's `redirect_uri`), then
/// follows the address's redirects with curl.
pub(crate) const PRECONNECTING_BROWSER: &str = r#"#!/bin/bash
port=$(printf '%s' "$1" | sed -n 's/.*redirect_uri=http%3A%2F%2F127\.0\.0\.1%3A\([0-9]*\).*/\1/p')
exec 3<>"/dev/tcp/127.0.0.1/$port"
exec curl -sfL -o /dev/null "$1"
"#;

/// `studio --json mcp login NAME` with a "browser" that follows the
/// sign-in's redirects; asserts it signed in and returns what it printed.
pub(crate) fn sign_in(daemon: &TestDaemon, name: &str) -> Value {
    let scratch = tempfile::tempdir().unwrap();
    let browser = scratch.path().join("browser");
    std::fs::write(&browser, PRECONNECTING_BROWSER).unwrap();
    std::fs::set_permissions(
        &browser,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let login = studio(
        daemon,
        &["--json", "mcp", "login", name, "--timeout", "30"],
        Some(&browser),
    );
    assert!(
        login.status.success(),
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );
    serde_json::from_slice(&login.stdout).unwrap()
}

/// A session of `agent` calling `notes.whoami` once; its events.
async fn call_whoami(client: &Client) -> Vec<Event> {
    call_whoami_as(client, "noter").await
}

/// A session of `agent_name` calling `notes.whoami` once; its events.
async fn call_whoami_as(client: &Client, agent_name: &str) -> Vec<Event> {
    let script = ScriptPatch {
        tool_calls: Some(vec![ScriptedToolCall {
            name: "notes.whoami".to_owned(),
            arguments: "{}".to_owned(),
        }]),
        ..ScriptPatch::default()
    };
    let session = run(
        client,
        RunSpec {
            script,
            approve: vec!["notes.*".parse().unwrap()],
            ..spec(agent_name, "who am I?")
        },
    )
    .await;
    let events = follow_to_end(client, session, Duration::from_secs(60)).await;
    assert_log_is_whole(&events);
    events
}

/// The `notes` server's failure message, if it failed to start.
fn failure(events: &[Event]) -> Option<String> {
    events.iter().find_map(|e| match &e.kind {
        EventKind::McpServerFailed { server, message } if server == "notes" => {
            Some(message.clone())
        }
        _ => None,
    })
}

/// What `notes.whoami` answered.
fn whoami(events: &[Event]) -> Option<String> {
    events.iter().find_map(|e| match &e.kind {
        EventKind::ToolCompleted { output, .. } => Some(output.clone()),
        _ => None,
    })
}

/// The tokens the daemon keeps for `notes` (the test daemon keeps its
/// secrets in `secrets.json`: no keyring in tests).
fn stored_tokens(daemon: &TestDaemon) -> McpOAuthTokens {
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(daemon.dir.root().join("secrets.json")).unwrap(),
    )
    .unwrap();
    let value = file["secrets"]["mcp-oauth/notes"]["value"]
        .as_str()
        .unwrap();
    serde_json::from_str(value).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_then_sessions_use_and_refresh_the_tokens() {
    let server = OAuthServer::start();
    let daemon = TestDaemon::start(2).await;
    let client = daemon.client().await;
    add_notes(&client, &server).await;

    // Before any sign-in: the server answers 401, the session records why
    // and names the command; no run ever starts a browser or registers.
    let before = call_whoami(&client).await;
    let message = failure(&before).expect("the server failed without a sign-in");
    assert!(message.contains("studio mcp login notes"), "{message}");
    let stats = server.stats();
    assert_eq!(stats["authorize"], 0, "{stats}");
    assert_eq!(stats["registered"], 0, "{stats}");

    // `studio mcp login`: discovery, registration, the browser (a curl that
    // follows the redirect to the loopback listener, after opening a
    // connection to it that sends nothing, as a browser's preconnect
    // does), the exchange.
    let scratch = tempfile::tempdir().unwrap();
    let browser = scratch.path().join("browser");
    std::fs::write(&browser, PRECONNECTING_BROWSER).unwrap();
    std::fs::set_permissions(
        &browser,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let login = studio(
        &daemon,
        &["--json", "mcp", "login", "notes", "--timeout", "30"],
        Some(&browser),
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&login.stdout),
        String::from_utf8_lossy(&login.stderr)
    );
    assert!(login.status.success(), "{said}");
    let answer: Value = serde_json::from_slice(&login.stdout).unwrap();
    assert_eq!(answer["signed_in"], true, "{answer}");
    assert_eq!(answer["refreshable"], true, "{answer}");
    assert!(
        said.contains("/authorize?"),
        "the address is printed: {said}"
    );
    let stats = server.stats();
    assert_eq!(stats["registered"], 1, "{stats}");
    assert_eq!(stats["grants"]["authorization_code"], 1, "{stats}");
    let listed = studio(&daemon, &["--json", "mcp", "list"], None);
    assert!(listed.status.success());
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed[0]["signed_in"], true, "{listed}");
    let first = stored_tokens(&daemon);
    assert_eq!(first.resource, server.url());
    assert!(first.expires_at.is_some());

    // A session sends the token and the call succeeds.
    let signed_in = call_whoami(&client).await;
    assert_eq!(failure(&signed_in), None);
    assert_eq!(whoami(&signed_in).as_deref(), Some("signed in as client-1"));
    assert_eq!(signed_in.last().unwrap().kind, EventKind::SessionCompleted);

    // An expired access token is refreshed by the daemon before the
    // session starts, and the new tokens are kept.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expired = McpOAuthTokens {
        expires_at: Some(now - 10),
        ..first.clone()
    };
    client
        .request(ControlRequest::McpOAuthSet {
            server: "notes".to_owned(),
            tokens: Some(Secret::new(serde_json::to_string(&expired).unwrap())),
        })
        .await
        .unwrap();
    let refreshed = call_whoami(&client).await;
    assert_eq!(whoami(&refreshed).as_deref(), Some("signed in as client-1"));
    let stats = server.stats();
    assert_eq!(stats["grants"]["refresh_token"], 1, "{stats}");
    let second = stored_tokens(&daemon);
    assert_ne!(second.access_token, first.access_token);
    assert_ne!(second.refresh_token, first.refresh_token);
    assert!(second.expires_at.unwrap() > now);

    // No token in any event, the daemon's log or what the CLI printed.
    let issued: Vec<String> = stats["issued"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(issued.len(), 4);
    let recorded = format!("{before:?}{signed_in:?}{refreshed:?}");
    let log = daemon.log();
    for token in &issued {
        assert!(!recorded.contains(token.as_str()), "a token in an event");
        assert!(!log.contains(token.as_str()), "a token in the daemon's log");
        assert!(!said.contains(token.as_str()), "a token printed by login");
    }

    // Signed out, a session fails again with the command to run.
    client
        .request(ControlRequest::McpOAuthSet {
            server: "notes".to_owned(),
            tokens: None,
        })
        .await
        .unwrap();
    let after = call_whoami(&client).await;
    let message = failure(&after).expect("the server failed after signing out");
    assert!(message.contains("studio mcp login notes"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_refuses_what_it_cannot_do_and_gives_up_in_time() {
    let server = OAuthServer::start();
    let daemon = TestDaemon::start(1).await;
    let client = daemon.client().await;
    for (name, transport) in [
        (
            "notes",
            McpTransport::Http {
                url: server.url(),
                headers: Vec::new(),
            },
        ),
        (
            "local",
            McpTransport::Stdio {
                command: "node".to_owned(),
                args: Vec::new(),
                env: Vec::new(),
            },
        ),
    ] {
        client
            .request(ControlRequest::McpAdd {
                server: McpServerConfig {
                    name: name.to_owned(),
                    transport,
                    startup_timeout_secs: 20,
                    call_timeout_secs: 20,
                },
                replace: false,
            })
            .await
            .unwrap();
    }
    let err = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).into_owned();

    let unknown = studio(&daemon, &["mcp", "login", "nobody"], None);
    assert_eq!(unknown.status.code(), Some(2), "{}", err(&unknown));
    assert!(
        err(&unknown).contains("no MCP server named"),
        "{}",
        err(&unknown)
    );

    let command = studio(&daemon, &["mcp", "login", "local"], None);
    assert_eq!(command.status.code(), Some(2), "{}", err(&command));
    assert!(
        err(&command).contains("not an HTTP server"),
        "{}",
        err(&command)
    );

    // Nobody signs in (the "browser" does nothing): the login gives up,
    // having registered a client and printed the address, and stores nothing.
    let started = std::time::Instant::now();
    let waited = studio(&daemon, &["mcp", "login", "notes", "--timeout", "2"], None);
    assert_eq!(waited.status.code(), Some(1), "{}", err(&waited));
    assert!(
        err(&waited).contains("no sign-in within 2s"),
        "{}",
        err(&waited)
    );
    assert!(err(&waited).contains("/authorize?"), "{}", err(&waited));
    assert!(started.elapsed() < Duration::from_secs(30));
    let stats = server.stats();
    assert_eq!(stats["registered"], 1, "{stats}");
    assert_eq!(stats["authorize"], 0, "{stats}");
    // `studio doctor` says how to fix a server that wants a sign-in.
    let doctor = studio(&daemon, &["--json", "doctor"], None);
    let findings: Value = serde_json::from_slice(&doctor.stdout).unwrap();
    let notes = findings
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "MCP notes")
        .unwrap_or_else(|| panic!("{findings:#}"));
    assert_eq!(notes["status"], "fail", "{notes}");
    assert!(
        notes["fix"]
            .as_str()
            .unwrap()
            .contains("studio mcp login notes"),
        "{notes}"
    );
    let secrets =
        std::fs::read_to_string(daemon.dir.root().join("secrets.json")).unwrap_or_default();
    assert!(!secrets.contains("mcp-oauth/notes"), "{secrets}");
}

/// Adds the server as `notes` and an agent `noter` that uses it.
pub(crate) async fn add_notes(client: &Client, server: &OAuthServer) {
    client
        .request(ControlRequest::McpAdd {
            server: McpServerConfig {
                name: "notes".to_owned(),
                transport: McpTransport::Http {
                    url: server.url(),
                    headers: Vec::new(),
                },
                startup_timeout_secs: 20,
                call_timeout_secs: 20,
            },
            replace: false,
        })
        .await
        .unwrap();
    let mut noter = agent("noter", 1, 0);
    noter.mcp_servers = vec!["notes".to_owned()];
    create_agent(client, noter).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_a_client_registered_out_of_band() {
    let secret = "pre-registered-client-secret";
    let server = OAuthServer::start_with(&[("CLIENT_ID", "pre-1"), ("CLIENT_SECRET", secret)]);
    let daemon = TestDaemon::start(1).await;
    let client = daemon.client().await;
    add_notes(&client, &server).await;
    let scratch = tempfile::tempdir().unwrap();
    let browser = scratch.path().join("browser");
    std::fs::write(&browser, "#!/bin/sh\nexec curl -sfL -o /dev/null \"$1\"\n").unwrap();
    std::fs::set_permissions(
        &browser,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();

    // The secret comes from the environment; a wrong one is refused.
    let login = |value: &str| {
        let mut command = Command::new(studio_bin());
        command
            .arg("--data-dir")
            .arg(daemon.dir.root())
            .args([
                "mcp",
                "login",
                "notes",
                "--timeout",
                "30",
                "--client-id",
                "pre-1",
            ])
            .args(["--client-secret-env", "NOTES_SECRET"])
            .env("NOTES_SECRET", value)
            .env("STUDIO_BROWSER", &browser)
            .env("STUDIO_WORKER_BIN", worker_bin());
        command.output().unwrap()
    };
    let wrong = login("not-the-secret");
    assert_eq!(wrong.status.code(), Some(1));
    let right = login(secret);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&right.stdout),
        String::from_utf8_lossy(&right.stderr)
    );
    assert!(right.status.success(), "{said}");
    let stats = server.stats();
    assert_eq!(stats["registered"], 0, "no dynamic registration: {stats}");
    assert_eq!(stats["grants"]["authorization_code"], 1, "{stats}");

    let signed_in = call_whoami(&client).await;
    assert_eq!(whoami(&signed_in).as_deref(), Some("signed in as pre-1"));

    // The daemon refreshes as the confidential client (HTTP Basic).
    let stored = stored_tokens(&daemon);
    assert_eq!(stored.client_secret.as_deref(), Some(secret));
    let expired = McpOAuthTokens {
        expires_at: Some(1),
        ..stored
    };
    client
        .request(ControlRequest::McpOAuthSet {
            server: "notes".to_owned(),
            tokens: Some(Secret::new(serde_json::to_string(&expired).unwrap())),
        })
        .await
        .unwrap();
    let refreshed = call_whoami(&client).await;
    assert_eq!(whoami(&refreshed).as_deref(), Some("signed in as pre-1"));
    assert_eq!(server.stats()["grants"]["refresh_token"], 1);

    let recorded = format!("{signed_in:?}{refreshed:?}");
    assert!(!recorded.contains(secret));
    assert!(!daemon.log().contains(secret));
    assert!(!said.contains(secret));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_needs_more_scope_names_the_login_and_a_wider_login_passes() {
    let server = OAuthServer::start_with(&[("CALL_SCOPE", "notes:write")]);
    let daemon = TestDaemon::start(1).await;
    let client = daemon.client().await;
    add_notes(&client, &server).await;
    let scratch = tempfile::tempdir().unwrap();
    let browser = scratch.path().join("browser");
    std::fs::write(&browser, "#!/bin/sh\nexec curl -sfL -o /dev/null \"$1\"\n").unwrap();
    std::fs::set_permissions(
        &browser,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();

    // The scope the 401 asks for: enough to connect, not to call.
    let narrow = studio(&daemon, &["mcp", "login", "notes"], Some(&browser));
    assert!(
        narrow.status.success(),
        "{}",
        String::from_utf8_lossy(&narrow.stderr)
    );
    assert_eq!(
        server.stats()["scopes"][0],
        "notes:read",
        "{}",
        server.stats()
    );
    let refused = call_whoami(&client).await;
    assert_eq!(failure(&refused), None);
    let message = refused
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::ToolError { message, .. } => Some(message.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("the call was refused: {refused:#?}"));
    assert!(message.contains("studio mcp login notes"), "{message}");

    let wide = studio(
        &daemon,
        &["mcp", "login", "notes", "--scope", "notes:read notes:write"],
        Some(&browser),
    );
    assert!(
        wide.status.success(),
        "{}",
        String::from_utf8_lossy(&wide.stderr)
    );
    let stats = server.stats();
    assert_eq!(stats["scopes"][0], "notes:read", "{stats}");
    assert_eq!(stats["scopes"][1], "notes:read notes:write", "{stats}");
    let allowed = call_whoami(&client).await;
    assert_eq!(whoami(&allowed).as_deref(), Some("signed in as client-2"));
}
