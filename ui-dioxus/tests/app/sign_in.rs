//! Settings' Sign in for an HTTP MCP server that asks for OAuth, against a
//! real daemon and `tests/mcp/oauth-server.mjs` (an MCP server with its own
//! authorization server): the app runs `studio mcp login`, whose "browser"
//! (a curl that follows the redirect to the login's loopback listener, set
//! by a wrapper around `studio`) signs in; the daemon keeps the tokens and
//! the app lists the sign-in, then signs out. And the same clicked in
//! Chromium (`tests/e2e/sign_in.mjs`) while runs stream, for a configured
//! server in MCP servers and for a plugin's own server in Plugins.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command as Process, Stdio};

use protocol::layout::Layout;
use protocol::mcp::{McpServerConfig, McpTransport};
use ui_dioxus::state::SignIn;
use ui_dioxus::{AppState, Command, Target};

use crate::common::{Daemon, run_browser_script, serve_web_with_env};
use crate::connection::{settle, start_app};

/// The OAuth-protected server, killed when dropped.
struct OAuthServer(Child, u16);

impl OAuthServer {
    fn start() -> OAuthServer {
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/mcp/oauth-server.mjs");
        let mut child = Process::new("node")
            .arg(script)
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
        OAuthServer(child, port)
    }
}

impl Drop for OAuthServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether the daemon lists a stored sign-in for `server`.
fn signed_in(state: &AppState, server: &str) -> bool {
    let name = format!("mcp-oauth/{server}");
    state
        .settings
        .secrets
        .as_ref()
        .is_some_and(|s| s.secrets.iter().any(|s| s.name == name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_sign_in_to_an_oauth_server_and_out() {
    let server = OAuthServer::start();
    let daemon = Daemon::new("ssi");
    // `studio` with a "browser" that follows the sign-in redirect.
    let browser = daemon.tmp.path().join("browser");
    std::fs::write(&browser, "#!/bin/sh\nexec curl -sfL -o /dev/null \"$1\"\n").unwrap();
    let wrapper = daemon.tmp.path().join("studio");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nSTUDIO_BROWSER='{}' exec '{}' \"$@\"\n",
            browser.display(),
            daemon.studio.display()
        ),
    )
    .unwrap();
    for file in [&browser, &wrapper] {
        std::fs::set_permissions(file, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
    let target = Target {
        layout: Layout::new(&daemon.dir),
        studio_bin: wrapper,
    };
    let (commands_tx, mut updates, task) = start_app(target);
    let mut state = AppState::default();
    settle(&mut updates, &mut state, |s| s.settings.secrets.is_some()).await;

    commands_tx
        .send(Command::AddMcp {
            server: Box::new(McpServerConfig {
                name: "notes".into(),
                transport: McpTransport::Http {
                    url: format!("http://127.0.0.1:{}/mcp", server.1),
                    headers: Vec::new(),
                },
                startup_timeout_secs: 20,
                call_timeout_secs: 20,
            }),
            replace: false,
        })
        .unwrap();
    settle(&mut updates, &mut state, |s| {
        s.settings.mcp.iter().any(|m| m.http)
    })
    .await;
    assert!(!signed_in(&state, "notes"));

    commands_tx
        .send(Command::SignInMcp("notes".into()))
        .unwrap();
    // The address to open is shown while the sign-in waits.
    let mut shown = None;
    settle(&mut updates, &mut state, |s| {
        if let Some(SignIn::Waiting(Some(url))) = s.settings.mcp_sign_ins.get("notes") {
            shown = Some(url.clone());
        }
        matches!(s.settings.mcp_sign_ins.get("notes"), Some(SignIn::Ended(_)))
    })
    .await;
    let shown = shown.expect("the address was shown");
    assert!(shown.contains("/authorize?"), "{shown}");
    assert!(shown.contains("code_challenge_method=S256"), "{shown}");
    assert_eq!(
        state.settings.mcp_sign_ins.get("notes"),
        Some(&SignIn::Ended(Ok(())))
    );
    settle(&mut updates, &mut state, |s| signed_in(s, "notes")).await;

    commands_tx
        .send(Command::SignOutMcp("notes".into()))
        .unwrap();
    settle(&mut updates, &mut state, |s| !signed_in(s, "notes")).await;
    task.abort();
}

#[test]
fn sign_in_is_clicked_in_the_browser_for_a_server_and_a_plugins_server() {
    let server = OAuthServer::start();
    let daemon = Daemon::new("sib");
    daemon.studio(&["daemon", "start"]);
    let url = format!("http://127.0.0.1:{}/mcp", server.1);
    daemon.studio(&["mcp", "add", "notes", "--url", &url]);
    // A plugin that brings the same server as its own.
    let plugin = daemon.tmp.path().join("remote-notes");
    std::fs::create_dir_all(plugin.join(".claude-plugin")).unwrap();
    std::fs::write(
        plugin.join(".claude-plugin/plugin.json"),
        r#"{"name": "remote-notes", "version": "1.0.0", "description": "Notes, remotely"}"#,
    )
    .unwrap();
    std::fs::write(
        plugin.join(".mcp.json"),
        serde_json::json!({"mcpServers": {"notes": {"type": "http", "url": url}}}).to_string(),
    )
    .unwrap();
    daemon.studio(&["plugin", "install", "--yes", plugin.to_str().unwrap()]);
    // The "browser" `studio mcp login` opens follows the redirect.
    let browser = daemon.tmp.path().join("browser");
    std::fs::write(&browser, "#!/bin/sh\nexec curl -sfL -o /dev/null \"$1\"\n").unwrap();
    std::fs::set_permissions(
        &browser,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();

    let (_web, address) =
        serve_web_with_env(&daemon, &[], &[("STUDIO_BROWSER", browser.as_os_str())]);
    run_browser_script(
        "sign_in.mjs",
        &address,
        &daemon,
        &[
            daemon.studio.to_str().unwrap(),
            daemon.dir.to_str().unwrap(),
        ],
    );

    // The configured server was signed out again; the plugin's stays in.
    let secrets = std::fs::read_to_string(daemon.dir.join("secrets.json")).unwrap();
    assert!(
        secrets.contains("mcp-oauth/plugin:remote-notes/notes"),
        "{secrets}"
    );
    assert!(!secrets.contains("\"mcp-oauth/notes\""), "{secrets}");
}
