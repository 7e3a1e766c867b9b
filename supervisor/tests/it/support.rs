//! Fixtures: a daemon in a temp dir, a client, and /proc helpers.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use protocol::SessionId;
use protocol::agent::AgentConfig;
use protocol::control::{ControlRequest, ControlResponse, Push, RunSpec, SessionSummary};
use protocol::event::{Event, EventKind};
use studio_client::Client;
use supervisor::paths::DataDir;
use test_support::daemon::{Binaries, Launch};

/// The `studio` binary under test.
pub fn studio_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_studio"))
}

/// The `studio-worker` binary, built next to `studio` by `cargo build --workspace`.
pub fn worker_bin() -> PathBuf {
    let bin = studio_bin().with_file_name("studio-worker");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build --workspace` first (scripts/test does)",
        bin.display()
    );
    bin
}

/// A daemon running in its own temp data dir; killed when dropped.
pub struct TestDaemon {
    pub tmp: tempfile::TempDir,
    pub dir: DataDir,
    pub child: Child,
    pub extra_env: Vec<(String, String)>,
    max_concurrent: u32,
}

impl TestDaemon {
    /// Starts a daemon allowing `max_concurrent` runs, with a 500 ms cancel grace.
    pub async fn start(max_concurrent: u32) -> TestDaemon {
        Self::start_with_env(max_concurrent, Vec::new()).await
    }

    /// Like [`TestDaemon::start`], with extra environment for the daemon.
    pub async fn start_with_env(
        max_concurrent: u32,
        extra_env: Vec<(String, String)>,
    ) -> TestDaemon {
        let tmp = tempfile::Builder::new()
            .prefix("st")
            .tempdir_in("/tmp")
            .unwrap();
        let dir = DataDir::new(tmp.path().join("d"));
        let child = spawn_daemon(&dir, max_concurrent, &extra_env);
        let mut daemon = TestDaemon {
            tmp,
            dir,
            child,
            extra_env,
            max_concurrent,
        };
        daemon.wait_ready().await;
        daemon
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if Client::connect(&self.dir).await.is_ok() {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("daemon exited early: {status}");
            }
            assert!(Instant::now() < deadline, "daemon did not come up");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A new client connection.
    pub async fn client(&self) -> Client {
        Client::connect(&self.dir).await.unwrap()
    }

    /// SIGKILL to the daemon, and wait for it.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Starts a new daemon on the same data dir (after [`TestDaemon::kill9`]).
    pub async fn restart(&mut self) {
        self.child = spawn_daemon(&self.dir, self.max_concurrent, &self.extra_env);
        self.wait_ready().await;
    }

    /// Starts another daemon on the same data dir, not waiting for it.
    pub fn spawn_another(&self) -> Child {
        spawn_daemon(&self.dir, self.max_concurrent, &self.extra_env)
    }

    /// The daemon's log so far (its stderr goes to `daemon.log` in the temp dir).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.tmp.path().join("daemon.log")).unwrap_or_default()
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_daemon(dir: &DataDir, max_concurrent: u32, extra_env: &[(String, String)]) -> Child {
    Launch {
        bins: Binaries {
            studio: studio_bin(),
            worker: worker_bin(),
        },
        data_dir: dir.root().to_owned(),
        log: dir.root().parent().unwrap().join("daemon.log"),
        max_concurrent: u64::from(max_concurrent),
        cancel_grace: Duration::from_millis(500),
        args: Vec::new(),
        env: extra_env
            .iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect(),
    }
    .spawn()
    .unwrap()
}

/// A scripted agent streaming `chunks` chunks of 8 characters, `delay_ms` apart.
pub fn agent(name: &str, chunks: u32, delay_ms: u32) -> AgentConfig {
    let mut agent = AgentConfig::scripted(name);
    agent.script.chunks = chunks;
    agent.script.chunk_chars = 8;
    agent.script.chunk_delay_ms = delay_ms;
    agent
}

/// Creates (or replaces) `agent`.
pub async fn create_agent(client: &Client, agent: AgentConfig) {
    client
        .request(ControlRequest::AgentCreate {
            agent: Box::new(agent),
            replace: true,
        })
        .await
        .unwrap();
}

/// Starts a run.
pub async fn run(client: &Client, spec: RunSpec) -> SessionId {
    match client.request(ControlRequest::Run(spec)).await.unwrap() {
        ControlResponse::RunAccepted { session } => session,
        other => panic!("unexpected {other:?}"),
    }
}

/// A run of `agent` with `prompt`.
pub fn spec(agent: &str, prompt: &str) -> RunSpec {
    RunSpec {
        agent: agent.to_owned(),
        prompt: prompt.to_owned(),
        ..RunSpec::default()
    }
}

/// All recorded events of `session`.
pub async fn events(client: &Client, session: SessionId) -> Vec<Event> {
    client.all_events(session, 0).await.unwrap()
}

/// Follows `session` until its terminal event; returns every event.
pub async fn follow_to_end(client: &Client, session: SessionId, timeout: Duration) -> Vec<Event> {
    let mut sub = client
        .subscribe(ControlRequest::Follow {
            session,
            after_seq: 0,
        })
        .await
        .unwrap();
    let mut out = Vec::new();
    let collect = async {
        while let Some(push) = sub.next().await {
            if let Push::Event(event) = push {
                out.push(event);
            }
        }
    };
    tokio::time::timeout(timeout, collect)
        .await
        .unwrap_or_else(|_| panic!("session {session} did not end within {timeout:?}"));
    out
}

/// The session's summary.
pub async fn summary(client: &Client, session: SessionId) -> SessionSummary {
    match client
        .request(ControlRequest::SessionGet {
            id: session.to_string(),
        })
        .await
        .unwrap()
    {
        ControlResponse::Session(s) => s,
        other => panic!("unexpected {other:?}"),
    }
}

/// Polls until `check` holds for the session's summary.
pub async fn wait_for(
    client: &Client,
    session: SessionId,
    what: &str,
    check: impl Fn(&SessionSummary) -> bool,
) -> SessionSummary {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = summary(client, session).await;
        if check(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{session}: timed out waiting for {what}: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Seqs run 1..=n, and exactly the last event is terminal.
pub fn assert_log_is_whole(events: &[Event]) {
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    let expected: Vec<u64> = (1..=events.len() as u64).collect();
    assert_eq!(seqs, expected, "seqs must be gapless from 1");
    let terminals: Vec<&str> = events
        .iter()
        .filter(|e| e.kind.is_terminal())
        .map(|e| e.kind.name())
        .collect();
    assert_eq!(
        terminals.len(),
        1,
        "exactly one terminal event: {terminals:?}"
    );
    assert!(
        events.last().unwrap().kind.is_terminal(),
        "the terminal event comes last"
    );
}

/// The streamed chunks and the final message of a completed run.
pub fn answer(events: &[Event]) -> (String, Option<String>) {
    let mut streamed = String::new();
    let mut message = None;
    for event in events {
        match &event.kind {
            EventKind::LlmResponseChunk { text, .. } => streamed.push_str(text),
            EventKind::MessageAssistant { text } => message = Some(text.clone()),
            _ => {}
        }
    }
    (streamed, message)
}

/// The worker pid from `session.started`.
pub fn worker_pid(events: &[Event]) -> Option<u32> {
    events.iter().find_map(|e| match e.kind {
        EventKind::SessionStarted { pid, .. } => Some(pid),
        _ => None,
    })
}

pub use supervisor::procfs::{group_members, is_alive as alive};

/// Whether process group `pgid` has no live process now. Once a session's
/// terminal event is recorded this must hold: the daemon waits for its
/// group (node MCP servers, a shell's background job) to empty first.
pub fn group_is_empty(pgid: u32) -> bool {
    group_members(pgid).is_empty()
}

/// Mode bits of a path.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A scripted tool call of `name` with `arguments`.
pub fn call(name: &str, arguments: serde_json::Value) -> protocol::agent::ScriptedToolCall {
    protocol::agent::ScriptedToolCall {
        name: name.to_owned(),
        arguments: arguments.to_string(),
    }
}

/// What each tool call came to, in order: `Ok(output)` or `Err(message)`.
pub fn outcomes(events: &[Event]) -> Vec<Result<String, String>> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolCompleted { output, .. } => Some(Ok(output.clone())),
            EventKind::ToolError { message, .. } => Some(Err(message.clone())),
            _ => None,
        })
        .collect()
}
