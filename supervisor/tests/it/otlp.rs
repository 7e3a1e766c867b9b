//! Sessions as OpenTelemetry traces, sent to a real receiver: Arize
//! Phoenix from PyPI (`tests/otlp/requirements.txt`, installed by
//! `scripts/setup`), read back through Phoenix's own REST API. Also: the
//! daemon's continuous export survives a restart and a receiver that is
//! down for a while, and a header's value (auth) reaches the receiver and
//! nowhere else.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cli_harness::Cli;

/// A Phoenix server on a free port, with a database of its own; killed
/// (with its process group) when dropped.
struct Phoenix {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Phoenix {
    fn start() -> Phoenix {
        let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/otlp/.venv/bin/phoenix");
        assert!(
            bin.is_file(),
            "{} is missing: run scripts/setup (it installs Arize Phoenix)",
            bin.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new(&bin)
            .arg("serve")
            .env("PHOENIX_WORKING_DIR", dir.path())
            .env("PHOENIX_HOST", "127.0.0.1")
            .env("PHOENIX_PORT", port.to_string())
            .env("PHOENIX_GRPC_PORT", free_port().to_string())
            .env("PHOENIX_TELEMETRY_ENABLED", "false")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("phoenix.log")).unwrap())
            .process_group(0)
            .spawn()
            .unwrap();
        let phoenix = Phoenix {
            child,
            port,
            _dir: dir,
        };
        let up = wait_for(Duration::from_secs(120), || {
            http_get(port, "/healthz").is_some_and(|(status, _)| status == 200)
        });
        assert!(up, "Phoenix did not start: {}", phoenix.log());
        phoenix
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("phoenix.log")).unwrap_or_default()
    }

    /// The spans of `session`'s trace, as Phoenix's REST API gives them
    /// (OTLP JSON), once it holds at least `count`.
    fn spans(&self, session: &str, count: usize) -> Vec<Value> {
        let trace = session.replace('-', "");
        let mut found = Vec::new();
        let arrived = wait_for(Duration::from_secs(60), || {
            let Some((200, body)) =
                http_get(self.port, "/v1/projects/default/spans/otlpv1?limit=1000")
            else {
                return false;
            };
            let all: Value = serde_json::from_str(&body).unwrap();
            found = all["data"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|span| span["trace_id"] == trace.as_str())
                .cloned()
                .collect();
            found.len() >= count
        });
        assert!(
            arrived,
            "{} of {count} spans of {session} arrived",
            found.len()
        );
        found
    }
}

impl Drop for Phoenix {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    false
}

/// GET `path` on 127.0.0.1:`port`: the status and the body.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// An attribute of an OTLP JSON span, as a JSON value.
fn attribute<'a>(span: &'a Value, key: &str) -> &'a Value {
    let found = span["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|kv| kv["key"] == key);
    let Some(kv) = found else {
        panic!("no {key} on {}", span["name"]);
    };
    let value = kv["value"].as_object().unwrap();
    value.values().find(|v| !v.is_null()).unwrap()
}

/// An agent that calls `shell` once, then answers.
fn coder(cli: &Cli) {
    cli.ok(&[
        "agent",
        "create",
        "coder",
        "--tools",
        "shell",
        "--safety",
        "workspace-write",
        "--tool-call",
        r#"shell:{"command":"echo hi"}"#,
        "--chunks",
        "2",
    ]);
}

/// Runs the coder to its end; returns the session id.
fn run_coder(cli: &Cli, prompt: &str) -> String {
    let out = cli.json(&[
        "run",
        "coder",
        "--prompt",
        prompt,
        "--approve",
        "shell",
        "--detach",
    ]);
    let id = out["session"].as_str().unwrap().to_owned();
    cli.ok(&["wait", &id]);
    id
}

#[test]
fn a_session_sent_to_phoenix_is_one_trace_nested_with_the_gen_ai_attributes() {
    let phoenix = Phoenix::start();
    let cli = Cli::new();
    coder(&cli);
    let id = run_coder(&cli, "say hi");
    let sent = cli.json(&["export", &id, "--otlp", &phoenix.url()]);
    assert_eq!(sent["sessions"][0]["spans"], 4, "{sent}");
    assert_eq!(sent["url"], format!("{}/v1/traces", phoenix.url()));

    let spans = phoenix.spans(&id, 4);
    let named = |prefix: &str| -> Vec<&Value> {
        spans
            .iter()
            .filter(|s| s["name"].as_str().unwrap().starts_with(prefix))
            .collect()
    };
    let agent = named("invoke_agent coder");
    assert_eq!(agent.len(), 1, "one turn: {spans:#?}");
    let root = agent[0];
    assert!(root["parent_span_id"].is_null() || root["parent_span_id"] == "");
    for span in &spans {
        if span["span_id"] != root["span_id"] {
            assert_eq!(span["parent_span_id"], root["span_id"], "{}", span["name"]);
        }
    }
    let chats = named("chat scripted");
    assert_eq!(
        chats.len(),
        2,
        "a model call before the tool call and one after"
    );
    let tool = named("execute_tool shell");
    assert_eq!(tool.len(), 1);

    assert_eq!(attribute(root, "gen_ai.operation.name"), "invoke_agent");
    assert_eq!(attribute(root, "gen_ai.agent.name"), "coder");
    assert_eq!(attribute(root, "gen_ai.conversation.id"), id.as_str());
    assert_eq!(attribute(root, "studio.status"), "completed");
    for chat in &chats {
        assert_eq!(attribute(chat, "gen_ai.operation.name"), "chat");
        assert_eq!(attribute(chat, "gen_ai.provider.name"), "scripted");
        assert_eq!(attribute(chat, "gen_ai.request.model"), "scripted-1");
        let reasons = attribute(chat, "gen_ai.response.finish_reasons");
        assert_eq!(reasons["values"].as_array().unwrap().len(), 1, "{reasons}");
        for count in [
            "gen_ai.usage.cache_read.input_tokens",
            "gen_ai.usage.cache_creation.input_tokens",
            "gen_ai.usage.reasoning.output_tokens",
        ] {
            assert!(attribute(chat, count).is_number(), "{count}");
        }
        assert!(attribute(chat, "studio.cost.usd").is_number());
    }
    assert_eq!(attribute(tool[0], "gen_ai.operation.name"), "execute_tool");
    assert_eq!(
        attribute(tool[0], "gen_ai.tool.call.id")
            .as_str()
            .map(str::is_empty),
        Some(false)
    );
    assert_eq!(tool[0]["status"]["code"], 1, "the call ran: status OK");

    // The turn's token counts are the session's, as `ps` shows them.
    let listed = cli.json(&["ps", "--all"]);
    let session = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id.as_str())
        .unwrap();
    let count = |value: &Value| value.as_i64().or_else(|| value.as_str()?.parse().ok());
    for (attr, usage) in [
        ("gen_ai.usage.input_tokens", "input_tokens"),
        ("gen_ai.usage.output_tokens", "output_tokens"),
    ] {
        assert_eq!(
            count(attribute(root, attr)),
            session["usage"][usage].as_i64(),
            "{attr}"
        );
        let summed: i64 = chats
            .iter()
            .map(|c| count(attribute(c, attr)).unwrap())
            .sum();
        assert_eq!(count(attribute(root, attr)), Some(summed), "{attr}");
    }

    // Sent again, the spans keep their ids: the receiver holds 4, not 8.
    cli.json(&["export", &id, "--otlp", &phoenix.url()]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(phoenix.spans(&id, 4).len(), 4);

    // Bad input is refused before anything is sent.
    let err = cli.fails(&["export", &id, "--otlp", "127.0.0.1:4318"], 2);
    assert!(err.contains("not an http:// or https:// URL"), "{err}");
    let err = cli.fails(
        &["export", &id, "--otlp", &phoenix.url(), "--format", "md"],
        2,
    );
    assert!(err.contains("--format"), "{err}");
}

#[test]
fn the_daemon_sends_each_ended_turn_and_goes_on_after_a_restart() {
    let phoenix = Phoenix::start();
    let cli = Cli::new();
    coder(&cli);
    let before = run_coder(&cli, "before export was set");
    let set = cli.json(&["otlp", "set", &phoenix.url()]);
    assert_eq!(set["url"], format!("{}/v1/traces", phoenix.url()));

    let first = run_coder(&cli, "first");
    assert_eq!(phoenix.spans(&first, 4).len(), 4);
    // The daemon stops and starts again: the setting is kept.
    cli.ok(&["daemon", "stop"]);
    let second = run_coder(&cli, "second");
    assert_eq!(phoenix.spans(&second, 4).len(), 4);
    let status = cli.json(&["otlp", "status"]);
    assert_eq!(status["url"], set["url"]);
    assert!(status["exported_turns"].as_u64().unwrap() >= 1, "{status}");
    assert!(status["last_error"].is_null(), "{status}");
    // A turn that ended before export was set is not sent by the daemon.
    let (_, body) = http_get(phoenix.port, "/v1/projects/default/spans/otlpv1?limit=1000").unwrap();
    assert!(!body.contains(&before.replace('-', "")));

    let off = cli.json(&["otlp", "off"]);
    assert!(off["url"].is_null(), "{off}");
}

/// Requests as received: the head (request line and headers) and the body.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A receiver that keeps every request it gets (headers and body) and
/// answers each with an empty OTLP success.
struct Capture {
    requests: Received,
}

impl Capture {
    fn start(port: u16) -> Capture {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let kept = Arc::clone(&kept);
                std::thread::spawn(move || serve(stream, &kept));
            }
        });
        Capture { requests }
    }

    /// Whether a request body holds the trace id of `session`.
    fn holds_trace_of(&self, session: &str) -> bool {
        let trace = hex_bytes(&session.replace('-', ""));
        self.requests
            .lock()
            .unwrap()
            .iter()
            .any(|(_, body)| body.windows(16).any(|w| w == trace.as_slice()))
    }
}

fn serve(stream: TcpStream, kept: &Mutex<Vec<(String, Vec<u8>)>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let length = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        kept.lock().unwrap().push((head, body));
        let reply =
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

#[test]
fn a_header_reaches_the_receiver_and_nowhere_else_and_turns_wait_for_a_receiver_that_is_down() {
    const TOKEN: &str = "Bearer otlp-s3cret-7f3a";
    let cli = Cli::new();
    coder(&cli);
    // Nothing listens there yet.
    let port = free_port();
    let set = set_otlp(&cli, port, TOKEN);
    assert_eq!(set["headers"], serde_json::json!(["authorization"]));

    let id = run_coder(&cli, "while the receiver is down");
    let failed = wait_for(Duration::from_secs(30), || {
        let status = cli.json(&["otlp", "status"]);
        !status["last_error"].is_null() && status["pending_sessions"].as_u64() >= Some(1)
    });
    assert!(failed, "{}", cli.json(&["otlp", "status"]));

    // The receiver comes up: the turn that waited arrives, with the header.
    let capture = Capture::start(port);
    let arrived = wait_for(Duration::from_secs(90), || capture.holds_trace_of(&id));
    assert!(arrived, "{}", cli.json(&["otlp", "status"]));
    let requests = capture.requests.lock().unwrap().clone();
    for (head, _) in &requests {
        let auth = head
            .lines()
            .find_map(|l| l.strip_prefix("authorization: "))
            .map(str::trim);
        assert_eq!(auth, Some(TOKEN), "{head}");
        assert!(head.contains("application/x-protobuf"), "{head}");
    }
    let status = cli.json(&["otlp", "status"]);
    assert!(status["last_error"].is_null(), "{status}");

    // Down again; a turn waits; the endpoint is set to another receiver:
    // the waiting turn goes there.
    set_otlp(&cli, free_port(), TOKEN);
    let waiting = run_coder(&cli, "while the next receiver is down");
    let failed = wait_for(Duration::from_secs(30), || {
        let status = cli.json(&["otlp", "status"]);
        !status["last_error"].is_null() && status["pending_sessions"].as_u64() >= Some(1)
    });
    assert!(failed, "{}", cli.json(&["otlp", "status"]));
    let other = free_port();
    let second = Capture::start(other);
    set_otlp(&cli, other, TOKEN);
    let arrived = wait_for(Duration::from_secs(30), || second.holds_trace_of(&waiting));
    assert!(arrived, "{}", cli.json(&["otlp", "status"]));

    // The value is nowhere but the secret store.
    let everywhere = [
        cli.ok(&["--json", "otlp", "status"]),
        cli.ok(&["otlp", "status"]),
        cli.ok(&["--json", "events", &id]),
        cli.ok(&["export", &id]),
        std::fs::read_to_string(cli.data_dir().join("daemon.log")).unwrap_or_default(),
        String::from_utf8_lossy(&std::fs::read(cli.data_dir().join("studio.redb")).unwrap())
            .into_owned(),
    ];
    for text in everywhere {
        assert!(
            !text.contains("otlp-s3cret"),
            "the header's value leaked: {text}"
        );
    }
}

/// `studio otlp set http://127.0.0.1:PORT --header authorization`, the
/// value on stdin; the answer.
fn set_otlp(cli: &Cli, port: u16, token: &str) -> Value {
    let url = format!("http://127.0.0.1:{port}");
    let mut set = cli.command(&["--json", "otlp", "set", &url, "--header", "authorization"]);
    let mut child = set
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{token}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}
