//! End-to-end tests: the real `studio-worker` binary against a fake daemon
//! listening on a socket in a temporary directory.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test on any error"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "the tests start the binary under test"
)]

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use interprocess::local_socket::tokio::{Listener, Stream, prelude::*};
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use protocol::agent::{AgentConfig, Fault, Script};
use protocol::codec::{read_frame, write_frame};
use protocol::event::EventKind;
use protocol::handshake::{Hello, HelloReply, PeerRole};
use protocol::message::{ChatMessage, Role};
use protocol::worker::{FromWorker, StartTurn, ToWorker, TurnOutcome};
use protocol::{PROTOCOL_VERSION, SessionId};
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};
use tokio::time::timeout;

const TOKEN: &str = "one-time-secret";
const PATIENCE: Duration = Duration::from_secs(10);

/// A fake daemon: a listening socket and the worker it spawned.
struct Daemon {
    _dir: tempfile::TempDir,
    listener: Listener,
    session: SessionId,
    child: Child,
}

impl Daemon {
    /// Listens, spawns the worker and hands it `token` on stdin.
    async fn spawn(token: &str) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("worker.sock");
        let listener = ListenerOptions::new()
            .name(path.clone().to_fs_name::<GenericFilePath>().unwrap())
            .create_tokio()
            .unwrap();
        let session = SessionId::new();
        let child = spawn_worker(path, session, token).await;
        Daemon {
            _dir: dir,
            listener,
            session,
            child,
        }
    }

    /// Accepts the worker and checks its `Hello`.
    async fn accept_hello(&self) -> Stream {
        let stream = timeout(PATIENCE, self.listener.accept())
            .await
            .expect("the worker connects")
            .unwrap();
        let hello: Hello = recv(&stream).await.expect("a hello");
        assert_eq!(hello.protocol, PROTOCOL_VERSION);
        assert_eq!(
            hello.role,
            PeerRole::Worker {
                session: self.session
            }
        );
        assert_eq!(hello.token, TOKEN, "the token arrives from stdin");
        stream
    }

    /// Accepts the worker and lets it in.
    async fn accept(&self) -> Stream {
        let stream = self.accept_hello().await;
        send(
            &stream,
            &HelloReply::Accepted {
                daemon_version: "test".to_owned(),
            },
        )
        .await;
        stream
    }

    /// Waits for the worker to exit; returns its status and stderr.
    async fn exit(self) -> (ExitStatus, String) {
        let output = timeout(PATIENCE, self.child.wait_with_output())
            .await
            .expect("the worker exits")
            .unwrap();
        (
            output.status,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// A turn for this daemon's session.
    fn start(&self, input: &str, script: Script) -> ToWorker {
        ToWorker::Start(Box::new(StartTurn {
            session: self.session,
            agent: AgentConfig::scripted("tester"),
            history: Vec::new(),
            input: input.to_owned(),
            script,
            tools: Vec::new(),
            endpoint: None,
            mcp_servers: Vec::new(),
            plugin_servers: Vec::new(),
            sandbox_support: Default::default(),
            tape: None,
            setup: None,
            check_commands: Vec::new(),
            judges: Vec::new(),
            app_call: None,
        }))
    }
}

async fn spawn_worker(socket: PathBuf, session: SessionId, token: &str) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_studio-worker"))
        .arg("--socket")
        .arg(socket)
        .arg("--session")
        .arg(session.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{token}\n").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    child
}

async fn send<T: serde::Serialize>(stream: &Stream, msg: &T) {
    let mut writer = stream;
    write_frame(&mut writer, msg).await.unwrap();
}

async fn recv<T: serde::de::DeserializeOwned>(stream: &Stream) -> Option<T> {
    let mut reader = stream;
    timeout(PATIENCE, read_frame(&mut reader, &mut Vec::new()))
        .await
        .expect("a frame in time")
        .unwrap()
}

/// Every event kind up to `Done`, and how the turn ended.
async fn collect_turn(stream: &Stream) -> (Vec<EventKind>, TurnOutcome) {
    let mut events = Vec::new();
    loop {
        match recv::<FromWorker>(stream).await.expect("a message") {
            FromWorker::Event { kind, .. } => events.push(kind),
            FromWorker::Done(outcome) => return (events, outcome),
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Resident memory of process `pid`, where the OS tells (Linux).
fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn names(events: &[EventKind]) -> Vec<&'static str> {
    events.iter().map(EventKind::name).collect()
}

fn streamed_text(events: &[EventKind]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            EventKind::LlmResponseChunk { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

fn script(chunks: u32, chunk_chars: u32, chunk_delay_ms: u32) -> Script {
    Script {
        chunks,
        chunk_chars,
        chunk_delay_ms,
        ..Script::default()
    }
}

#[tokio::test]
async fn a_turn_streams_its_answer_and_the_worker_serves_the_next_one() {
    let daemon = Daemon::spawn(TOKEN).await;
    let stream = daemon.accept().await;

    send(&stream, &daemon.start("hello worker", script(3, 8, 0))).await;
    let (events, outcome) = collect_turn(&stream).await;
    assert_eq!(outcome, TurnOutcome::Completed);
    assert_eq!(
        names(&events),
        [
            "llm.request.started",
            "llm.response.chunk",
            "llm.response.chunk",
            "llm.response.chunk",
            "llm.response.completed",
            "message.assistant",
        ]
    );
    let EventKind::LlmRequestStarted {
        request_id,
        provider,
        model,
        ..
    } = &events[0]
    else {
        unreachable!()
    };
    assert_eq!(
        (request_id.as_str(), provider.as_str(), model.as_str()),
        ("req-1", "scripted", "scripted-1")
    );
    let EventKind::MessageAssistant { text } = &events[5] else {
        unreachable!()
    };
    assert_eq!(text.chars().count(), 24);
    assert_eq!(&streamed_text(&events), text);
    let EventKind::LlmResponseCompleted {
        usage,
        finish_reason,
        ..
    } = &events[4]
    else {
        unreachable!()
    };
    assert_eq!(finish_reason, "stop");
    assert_eq!(usage.input_tokens, 2);

    // A Cancel while idle is ignored; the next turn continues the chat.
    send(&stream, &ToWorker::Cancel).await;
    let mut next = daemon.start("again", script(1, 4, 0));
    if let ToWorker::Start(start) = &mut next {
        start.history = vec![
            ChatMessage::text(Role::User, "hello worker"),
            ChatMessage::text(Role::Assistant, text.clone()),
        ];
    }
    send(&stream, &next).await;
    let (events, outcome) = collect_turn(&stream).await;
    assert_eq!(outcome, TurnOutcome::Completed);
    assert!(matches!(
        &events[0],
        EventKind::LlmRequestStarted { request_id, .. } if request_id == "req-2"
    ));

    send(&stream, &ToWorker::Shutdown).await;
    let (status, stderr) = daemon.exit().await;
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains(TOKEN), "the token is never logged");
}

#[tokio::test]
async fn cancel_stops_a_slow_turn_promptly_and_eof_ends_the_worker() {
    let daemon = Daemon::spawn(TOKEN).await;
    let stream = daemon.accept().await;

    send(&stream, &daemon.start("slow", script(50, 4, 200))).await;
    let first: FromWorker = recv(&stream).await.unwrap();
    assert!(matches!(
        first,
        FromWorker::Event {
            kind: EventKind::LlmRequestStarted { .. },
            ..
        }
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    if let Some(rss) = rss_bytes(daemon.child.id().unwrap()) {
        // A few MiB in release builds; debug builds are somewhat larger.
        assert!(rss < 24 << 20, "worker uses {rss} bytes mid-turn");
    }
    let cancelled_at = Instant::now();
    send(&stream, &ToWorker::Cancel).await;
    let (events, outcome) = collect_turn(&stream).await;
    let latency = cancelled_at.elapsed();
    assert_eq!(outcome, TurnOutcome::Cancelled);
    assert!(latency < Duration::from_millis(150), "took {latency:?}");
    assert!(
        events.len() <= 2,
        "only chunks sent before the cancel: {:?}",
        names(&events)
    );

    drop(stream);
    let (status, stderr) = daemon.exit().await;
    assert_eq!(status.code(), Some(0), "{stderr}");
}

#[tokio::test]
async fn a_refused_handshake_exits_with_code_3() {
    let daemon = Daemon::spawn(TOKEN).await;
    let stream = daemon.accept_hello().await;
    send(
        &stream,
        &HelloReply::Refused {
            reason: "unknown worker token".to_owned(),
        },
    )
    .await;
    drop(stream);
    let (status, stderr) = daemon.exit().await;
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("unknown worker token"), "{stderr}");
}

#[tokio::test]
async fn no_token_on_stdin_exits_with_code_2() {
    let daemon = Daemon::spawn("").await;
    let (status, stderr) = daemon.exit().await;
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("token"), "{stderr}");
}

/// Runs a turn with `fault` after one chunk and returns the events seen
/// before the connection dropped, and how the process ended.
async fn run_fatal_fault(fault: Fault) -> (Vec<&'static str>, ExitStatus, String) {
    let daemon = Daemon::spawn(TOKEN).await;
    let stream = daemon.accept().await;
    let faulty = Script {
        fault: Some(fault),
        fault_after_chunks: 1,
        ..script(3, 4, 0)
    };
    send(&stream, &daemon.start("boom", faulty)).await;
    let mut seen = Vec::new();
    while let Some(msg) = recv::<FromWorker>(&stream).await {
        match msg {
            FromWorker::Event { kind, .. } => seen.push(kind.name()),
            other => panic!("unexpected {other:?}"),
        }
    }
    let (status, stderr) = daemon.exit().await;
    (seen, status, stderr)
}

#[tokio::test]
async fn the_exit_fault_exits_with_its_code_after_flushing() {
    let (seen, status, stderr) = run_fatal_fault(Fault::Exit { code: 7 }).await;
    assert_eq!(seen, ["llm.request.started", "llm.response.chunk"]);
    assert_eq!(status.code(), Some(7), "{stderr}");
}

#[tokio::test]
async fn the_panic_fault_exits_with_code_101() {
    let (seen, status, stderr) = run_fatal_fault(Fault::Panic).await;
    assert_eq!(seen, ["llm.request.started", "llm.response.chunk"]);
    assert_eq!(status.code(), Some(101), "{stderr}");
    assert!(stderr.contains("scripted fault: panic"), "{stderr}");
}

#[tokio::test]
async fn a_flood_sends_its_events_then_the_turn_completes() {
    let daemon = Daemon::spawn(TOKEN).await;
    let stream = daemon.accept().await;
    let flood = Script {
        fault: Some(Fault::Flood { events: 5000 }),
        fault_after_chunks: 1,
        ..script(2, 4, 0)
    };
    send(&stream, &daemon.start("flood", flood)).await;
    let (events, outcome) = collect_turn(&stream).await;
    assert_eq!(outcome, TurnOutcome::Completed);
    let chunks = events
        .iter()
        .filter(|e| matches!(e, EventKind::LlmResponseChunk { .. }))
        .count();
    assert_eq!(chunks, 5002);
    assert_eq!(names(&events).last(), Some(&"message.assistant"));
}

#[tokio::test]
async fn growing_memory_can_still_be_cancelled() {
    let daemon = Daemon::spawn(TOKEN).await;
    let stream = daemon.accept().await;
    let grow = Script {
        fault: Some(Fault::GrowMemory { mib_per_sec: 50 }),
        ..script(3, 4, 0)
    };
    send(&stream, &daemon.start("grow", grow)).await;
    let _started: FromWorker = recv(&stream).await.unwrap();
    let pid = daemon.child.id().unwrap();
    let before = rss_bytes(pid);
    tokio::time::sleep(Duration::from_millis(400)).await;
    if let (Some(before), Some(after)) = (before, rss_bytes(pid)) {
        assert!(
            after > before + (10 << 20),
            "the memory is resident: {before} -> {after} bytes"
        );
    }
    send(&stream, &ToWorker::Cancel).await;
    let (events, outcome) = collect_turn(&stream).await;
    assert_eq!(outcome, TurnOutcome::Cancelled);
    assert!(events.is_empty(), "{:?}", names(&events));
}

/// Starts a turn whose fault blocks the worker's thread, and checks that a
/// Cancel goes unanswered (the daemon has to kill such a worker).
async fn assert_blocking_fault_ignores_cancel(fault: Fault) {
    let mut daemon = Daemon::spawn(TOKEN).await;
    let stream = daemon.accept().await;
    let blocking = Script {
        fault: Some(fault),
        ..script(3, 4, 0)
    };
    send(&stream, &daemon.start("block", blocking)).await;
    let _started: FromWorker = recv(&stream).await.unwrap();
    // Let the fault strike first: a Cancel before it would be honoured.
    tokio::time::sleep(Duration::from_millis(100)).await;
    send(&stream, &ToWorker::Cancel).await;
    let mut reader = &stream;
    let answer = timeout(
        Duration::from_millis(300),
        read_frame::<_, FromWorker>(&mut reader, &mut Vec::new()),
    )
    .await;
    assert!(answer.is_err(), "no answer expected, got {answer:?}");
    daemon.child.start_kill().unwrap();
    let (status, _) = daemon.exit().await;
    assert!(!status.success());
}

#[tokio::test]
async fn hang_ignores_cancel() {
    assert_blocking_fault_ignores_cancel(Fault::Hang).await;
}

#[tokio::test]
async fn spin_ignores_cancel() {
    assert_blocking_fault_ignores_cancel(Fault::Spin).await;
}

#[tokio::test]
async fn a_turn_for_another_session_fails_without_events() {
    let daemon = Daemon::spawn(TOKEN).await;
    let stream = daemon.accept().await;
    let mut wrong = daemon.start("hi", script(1, 1, 0));
    if let ToWorker::Start(start) = &mut wrong {
        start.session = SessionId::new();
    }
    send(&stream, &wrong).await;
    let (events, outcome) = collect_turn(&stream).await;
    assert!(events.is_empty());
    assert!(
        matches!(&outcome, TurnOutcome::Failed { error } if error.contains("session")),
        "{outcome:?}"
    );
}
