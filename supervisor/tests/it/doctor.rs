//! `studio doctor` against the real daemon: a key proved by listing
//! models at the address an agent uses (a local server speaking OpenAI's
//! format, which checks the key), a key refused there, an address that
//! does not answer, a missing key, an MCP server that starts and one that
//! does not, a data dir others can read, a daemon of another build;
//! each with its fix, and exit 1 while one fails.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::cli_harness::Cli;

const KEY: &str = "sk-doctor-test-key";

/// An OpenAI-compatible `/v1/models` on a thread: 200 with two models for
/// the right key, 401 otherwise. Returns its base URL.
fn models_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&request).to_lowercase();
            let (status, body) = if head
                .contains(&format!("authorization: bearer {}", KEY.to_lowercase()))
            {
                (
                    "200 OK",
                    r#"{"object":"list","data":[{"id":"gpt-4o-mini","object":"model"},{"id":"local-7b","object":"model"}]}"#,
                )
            } else {
                (
                    "401 Unauthorized",
                    r#"{"error":{"message":"Incorrect API key provided"}}"#,
                )
            };
            let reply = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    base
}

fn findings(cli: &Cli, code: i32) -> Vec<Value> {
    let out = cli.run(&["--json", "doctor"]);
    assert_eq!(out.status.code(), Some(code), "{out:?}");
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn finding<'a>(all: &'a [Value], check: &str) -> &'a Value {
    all.iter()
        .find(|f| f["check"] == check)
        .unwrap_or_else(|| panic!("no {check} in {all:#?}"))
}

fn set_key(cli: &Cli, key: &str) {
    let mut child = cli
        .command(&["keys", "set", "openai"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    write!(child.stdin.take().unwrap(), "{key}").unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn doctor_proves_keys_at_the_addresses_agents_use_and_says_each_fix() {
    let cli = Cli::new();
    let base = models_server();
    cli.ok(&["agent", "create", "plain"]);
    // All is well: the data dir, the daemon, no provider in use.
    let all = findings(&cli, 0);
    assert_eq!(finding(&all, "data dir")["status"], "ok");
    assert_eq!(finding(&all, "daemon")["status"], "ok");
    assert_eq!(finding(&all, "disk space")["status"], "ok");

    // An OpenAI agent without a key.
    cli.ok(&[
        "agent",
        "create",
        "gpt",
        "--provider",
        "openai",
        "--model",
        "gpt-4o-mini",
        "--base-url",
        &base,
        "--send-key-to-base-url",
    ]);
    let all = findings(&cli, 1);
    let key = finding(&all, "openai key");
    assert_eq!(key["status"], "fail");
    assert!(
        key["detail"].as_str().unwrap().contains("used by gpt"),
        "{key}"
    );
    assert_eq!(key["fix"], "studio keys set openai");

    // A key the server refuses, then the right one.
    set_key(&cli, "sk-wrong");
    let all = findings(&cli, 1);
    let key = finding(&all, "openai key");
    assert_eq!(key["status"], "fail");
    assert!(
        key["detail"]
            .as_str()
            .unwrap()
            .contains("Incorrect API key"),
        "{key}"
    );
    set_key(&cli, KEY);
    let all = findings(&cli, 0);
    let key = finding(&all, "openai key");
    assert_eq!(key["status"], "ok", "{key}");
    assert!(
        key["detail"]
            .as_str()
            .unwrap()
            .contains("2 model(s) listed at"),
        "{key}"
    );

    // Ollama where nothing answers.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ollama = format!("http://127.0.0.1:{port}");
    cli.ok(&[
        "agent",
        "create",
        "local",
        "--provider",
        "ollama",
        "--model",
        "llama3",
        "--base-url",
        &ollama,
    ]);
    let all = findings(&cli, 1);
    let reached = finding(&all, "ollama");
    assert_eq!(reached["status"], "fail");
    assert!(
        reached["fix"].as_str().unwrap().contains("ollama serve"),
        "{reached}"
    );
    cli.ok(&["agent", "rm", "local"]);

    // An MCP server that starts (the npm test server), and one that cannot.
    let everything = crate::mcp::bin("mcp-server-everything");
    cli.ok(&["mcp", "add", "everything", "--", &everything]);
    let all = findings(&cli, 0);
    let works = finding(&all, "MCP everything");
    assert_eq!(works["status"], "ok", "{works}");
    assert!(
        works["detail"].as_str().unwrap().contains("tool(s)"),
        "{works}"
    );
    cli.ok(&["mcp", "add", "broken", "--", "/nonexistent/server"]);
    let all = findings(&cli, 1);
    let mcp = finding(&all, "MCP broken");
    assert_eq!(mcp["status"], "fail");
    assert!(
        mcp["fix"]
            .as_str()
            .unwrap()
            .contains("studio mcp test broken"),
        "{mcp}"
    );
    cli.ok(&["mcp", "rm", "broken"]);

    // A data dir others can read.
    let dir = cli.data_dir();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let all = findings(&cli, 1);
    let data = finding(&all, "data dir");
    assert_eq!(data["status"], "fail");
    assert_eq!(data["fix"], format!("chmod 700 {}", dir.display()));
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    findings(&cli, 0);

    // A daemon of another build (here: a copy of this one elsewhere) is
    // named with its executable.
    cli.ok(&["daemon", "stop"]);
    let other = cli.tmp.path().join("other-build");
    std::fs::create_dir(&other).unwrap();
    let copy = other.join("studio");
    std::fs::copy(crate::support::studio_bin(), &copy).unwrap();
    let started = std::process::Command::new(&copy)
        .args(["--data-dir", dir.to_str().unwrap(), "daemon", "start"])
        .env("STUDIO_WORKER_BIN", crate::support::worker_bin())
        .env_remove("STUDIO_DATA_DIR")
        .output()
        .unwrap();
    assert!(started.status.success(), "{started:?}");
    let all = findings(&cli, 0);
    let daemon = all
        .iter()
        .find(|f| f["check"] == "daemon" && f["status"] == "warn")
        .unwrap_or_else(|| panic!("no warning about the daemon's build in {all:#?}"));
    assert!(
        daemon["detail"]
            .as_str()
            .unwrap()
            .contains(copy.to_str().unwrap()),
        "{daemon}"
    );
    assert!(
        daemon["fix"]
            .as_str()
            .unwrap()
            .contains("studio daemon stop"),
        "{daemon}"
    );
    cli.ok(&["daemon", "stop"]);

    // The table for people says the same, and never the key.
    let out = cli.run(&["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("openai key") && text.contains("ok"), "{text}");
    assert!(!text.contains(KEY));
}
