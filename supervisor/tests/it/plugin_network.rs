//! A plugin granted named hosts, through the real daemon, worker and
//! sandbox: its server has a network namespace of its own whose only way
//! out is the worker's proxy (`sandbox::proxy`), which lets through the
//! granted host and refuses the rest, each attempt recorded as
//! `sandbox.connect`. Attacked as a hostile server would: the same
//! address spelled as an IP, in a tunnel and as a plain request, and a
//! direct connection around the proxy, and a look into the forwarder's
//! working directory (the socket's); and the agent's own commands cannot
//! find the proxy's socket to borrow the plugin's grant.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use protocol::agent::ScriptPatch;
use protocol::control::RunSpec;
use protocol::event::EventKind;
use protocol::layout::Layout;
use studio_client::plugin::install::Spec;
use studio_client::plugin::store::Plugins;

use crate::support::*;

/// An HTTP server on 127.0.0.1 that answers every request with
/// `hello PATH`; returns its port.
fn granted_host() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let path = line.split(' ').nth(1).unwrap_or("?").to_owned();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let body = format!("hello {path}");
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// The tracker plugin, copied with a grant of `localhost` only.
fn tracker_granted_localhost(into: &Path) -> PathBuf {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/plugins/tracker");
    let copy = into.join("tracker");
    let copied = std::process::Command::new("cp")
        .arg("-r")
        .arg(&source)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(copied.success());
    let manifest = copy.join("studio-plugin.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let granted = text.replace("network = \"off\"", "network = [\"localhost\"]");
    assert_ne!(granted, text, "the manifest names its network");
    std::fs::write(&manifest, granted).unwrap();
    copy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_granted_a_host_reaches_it_through_the_proxy_and_nothing_else() {
    crate::mcp::mcp_dir();
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    let plugins = Plugins::new(&Layout::new(daemon.dir.root()));
    let folder = tempfile::tempdir().unwrap();
    let tracker = tracker_granted_localhost(folder.path());
    let ready = plugins
        .prepare_install(&Spec::Folder(tracker), &|_| {})
        .await
        .unwrap();
    plugins.commit(ready).unwrap();
    let port = granted_host();

    let workspace = tempfile::tempdir().unwrap();
    let mut user = agent("net-user", 1, 0);
    user.mcp_servers = vec!["plugin:tracker".into()];
    user.tools = vec!["shell".into()];
    user.workspace = Some(workspace.path().display().to_string());
    user.safety = protocol::SafetyMode::WorkspaceWrite;
    create_agent(&client, user).await;
    let get = |url: String, tunnel: bool| {
        call(
            "tracker.get",
            serde_json::json!({"url": url, "tunnel": tunnel}),
        )
    };
    let by_name = format!("http://localhost:{port}");
    let by_address = format!("http://127.0.0.1:{port}");
    let real_tmp = std::env::temp_dir();
    let script = ScriptPatch {
        tool_calls: Some(vec![
            get(format!("{by_name}/plain"), false),
            get(format!("{by_name}/tunnel"), true),
            // The same machine by another name is not the host granted.
            get(format!("{by_address}/plain"), false),
            get(format!("{by_address}/tunnel"), true),
            // Around the proxy: its own namespace has no way out.
            call(
                "tracker.reach",
                serde_json::json!({"host": "127.0.0.1", "port": port}),
            ),
            call("tracker.env", serde_json::json!({"name": "HTTPS_PROXY"})),
            // The forwarder works where the socket is: its directory is
            // not the server's to look into.
            call("tracker.children", serde_json::json!({})),
            // The agent's commands cannot see the proxy's socket.
            call(
                "shell",
                serde_json::json!({"command": format!(
                    "ls -d {}/studio-*.net 2>&1; echo listed",
                    real_tmp.display()
                )}),
            ),
        ]),
        ..ScriptPatch::default()
    };
    let session = run(
        &client,
        RunSpec {
            script,
            approve: vec!["tracker.*".parse().unwrap(), "shell".parse().unwrap()],
            ..spec("net-user", "reach the tracker")
        },
    )
    .await;
    let events = follow_to_end(&client, session, Duration::from_secs(90)).await;
    assert_log_is_whole(&events);
    assert_eq!(events.last().unwrap().kind, EventKind::SessionCompleted);

    let results = outcomes(&events);
    assert_eq!(results.len(), 8, "{results:?}");
    assert_eq!(results[0], Ok("200: hello /plain".to_owned()));
    assert_eq!(results[1], Ok("200: hello /tunnel".to_owned()));
    let refused = results[2].as_ref().expect_err("a plain request to the IP");
    assert!(
        refused.starts_with("403") && refused.contains("not a host the plugin was granted"),
        "{refused}"
    );
    let refused = results[3].as_ref().expect_err("a tunnel to the IP");
    assert!(refused.contains("403"), "{refused}");
    let refused = results[4].as_ref().expect_err("around the proxy");
    assert!(refused.contains("cannot reach"), "{refused}");
    assert_eq!(results[5], Ok("http://127.0.0.1:3128".to_owned()));
    let children = results[6].as_ref().expect("its children");
    assert!(
        children.contains(": EACCES") && !children.contains(".sock"),
        "{children}"
    );
    let listed = results[7].as_ref().expect("the agent's ls ran");
    assert!(
        listed.contains("No such file") && !listed.contains(".net\n"),
        "{listed}"
    );

    // Every attempt through the proxy is recorded, with why it was refused.
    let attempts: Vec<(String, bool)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::SandboxConnect {
                server,
                target,
                refused,
            } => {
                assert_eq!(server, "tracker");
                Some((target.clone(), refused.is_some()))
            }
            _ => None,
        })
        .collect();
    let name = format!("localhost:{port}");
    let address = format!("127.0.0.1:{port}");
    assert_eq!(
        attempts,
        vec![
            (name.clone(), false),
            (name, false),
            (address.clone(), true),
            (address, true)
        ]
    );
    // Its calls say so; the agent's own command has no network.
    let networks: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolStarted { confinement, .. } => Some(confinement.network),
            _ => None,
        })
        .collect();
    use protocol::sandbox::Network;
    assert_eq!(networks[..7], [Network::Hosts; 7]);
    assert_eq!(networks[7], Network::Off);
}
