//! The daemon under test, a client, and /proc readings.

use std::collections::HashSet;
use std::ffi::OsString;
use std::process::Child;
use std::time::Duration;

use anyhow::{Context, bail};
use protocol::SessionId;
use protocol::agent::AgentConfig;
use protocol::control::{ControlRequest, ControlResponse, Push, RunSpec};
use protocol::event::{Event, SessionStatus};
use studio_client::Client;
use supervisor::paths::DataDir;
pub(crate) use supervisor::procfs::{self, group_members, pss_bytes as pss};
use test_support::daemon::{Launch, serving};

/// The binaries being measured.
pub(crate) use test_support::daemon::Binaries;

/// A daemon in its own temp data dir; killed when dropped.
pub(crate) struct Daemon {
    _tmp: tempfile::TempDir,
    child: Child,
    pub(crate) client: Client,
}

impl Daemon {
    /// Starts a daemon allowing `max_concurrent` live runs.
    pub(crate) async fn start(
        bins: &Binaries,
        max_concurrent: usize,
        grace_ms: u64,
    ) -> anyhow::Result<Daemon> {
        Self::start_with(bins, max_concurrent, grace_ms, &[]).await
    }

    /// Like [`Daemon::start`], with more `daemon run` arguments.
    pub(crate) async fn start_with(
        bins: &Binaries,
        max_concurrent: usize,
        grace_ms: u64,
        extra: &[&str],
    ) -> anyhow::Result<Daemon> {
        let tmp = tempfile::Builder::new().prefix("sb").tempdir_in("/tmp")?;
        let dir = DataDir::new(tmp.path().join("d"));
        let launch = Launch {
            bins: bins.clone(),
            data_dir: dir.root().to_owned(),
            log: tmp.path().join("daemon.log"),
            max_concurrent: max_concurrent as u64,
            cancel_grace: Duration::from_millis(grace_ms),
            args: extra.iter().map(OsString::from).collect(),
            env: vec![("STUDIO_LOG".into(), "warn".into())],
        };
        let mut child = launch.spawn().context("cannot start the daemon")?;
        let client = serving(&mut child, dir.layout(), Duration::from_secs(20))
            .await
            .map_err(anyhow::Error::msg)?;
        Ok(Daemon {
            _tmp: tmp,
            child,
            client,
        })
    }

    /// The daemon's pid.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Creates (or replaces) an agent.
    pub(crate) async fn agent(&self, agent: AgentConfig) -> anyhow::Result<()> {
        self.client
            .request(ControlRequest::AgentCreate {
                agent: Box::new(agent),
                replace: true,
            })
            .await?;
        Ok(())
    }

    /// Starts a run.
    pub(crate) async fn run(&self, spec: RunSpec) -> anyhow::Result<SessionId> {
        match self.client.request(ControlRequest::Run(spec)).await? {
            ControlResponse::RunAccepted { session } => Ok(session),
            other => bail!("unexpected answer {other:?}"),
        }
    }

    /// Starts `specs` at once (concurrently submitted).
    pub(crate) async fn run_all(&self, specs: Vec<RunSpec>) -> anyhow::Result<Vec<SessionId>> {
        let mut tasks = Vec::new();
        for spec in specs {
            let client = self.client.clone();
            tasks.push(tokio::spawn(async move {
                client.request(ControlRequest::Run(spec)).await
            }));
        }
        let mut out = Vec::new();
        for task in tasks {
            match task.await?? {
                ControlResponse::RunAccepted { session } => out.push(session),
                other => bail!("unexpected answer {other:?}"),
            }
        }
        Ok(out)
    }

    /// Follows `session` until `stop` holds for an event (or it ends);
    /// returns the events seen.
    pub(crate) async fn follow_until(
        &self,
        session: SessionId,
        stop: impl Fn(&Event) -> bool,
    ) -> anyhow::Result<Vec<Event>> {
        let mut sub = self
            .client
            .subscribe(ControlRequest::Follow {
                session,
                after_seq: 0,
            })
            .await?;
        let mut seen = Vec::new();
        while let Some(push) = sub.next().await {
            if let Push::Event(event) = push {
                let done = stop(&event);
                seen.push(event);
                if done {
                    break;
                }
            }
        }
        Ok(seen)
    }

    /// Waits until every one of `sessions` has ended; returns how many completed.
    pub(crate) async fn wait_all(&self, sessions: &[SessionId]) -> anyhow::Result<usize> {
        let mut pending: HashSet<SessionId> = sessions.iter().copied().collect();
        let mut completed = 0;
        let mut watch = self.client.subscribe(ControlRequest::WatchSessions).await?;
        // Some may have ended before the watch started.
        for session in sessions {
            if let ControlResponse::Session(s) = self
                .client
                .request(ControlRequest::SessionGet {
                    id: session.to_string(),
                })
                .await?
                && s.status.is_terminal()
                && pending.remove(session)
                && s.status == SessionStatus::Completed
            {
                completed += 1;
            }
        }
        while !pending.is_empty() {
            match tokio::time::timeout(Duration::from_secs(120), watch.next()).await {
                Ok(Some(Push::SessionChanged(s))) => {
                    if s.status.is_terminal()
                        && pending.remove(&s.id)
                        && s.status == SessionStatus::Completed
                    {
                        completed += 1;
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => bail!("lost the daemon"),
                Err(_) => bail!("{} sessions did not end within 120 s", pending.len()),
            }
        }
        Ok(completed)
    }

    /// Every event of `session`.
    pub(crate) async fn events(
        &self,
        session: SessionId,
        after_seq: u64,
        limit: u32,
    ) -> anyhow::Result<Vec<Event>> {
        match self
            .client
            .request(ControlRequest::Events {
                session,
                after_seq,
                limit,
            })
            .await?
        {
            ControlResponse::Events(events) => Ok(events),
            other => bail!("unexpected answer {other:?}"),
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scripted agent.
pub(crate) fn agent(name: &str, chunks: u32, chunk_chars: u32, delay_ms: u32) -> AgentConfig {
    let mut agent = AgentConfig::scripted(name);
    agent.script.chunks = chunks;
    agent.script.chunk_chars = chunk_chars;
    agent.script.chunk_delay_ms = delay_ms;
    agent
}

/// A run of `agent`.
pub(crate) fn spec(agent: &str, prompt: String) -> RunSpec {
    RunSpec {
        agent: agent.to_owned(),
        prompt,
        ..RunSpec::default()
    }
}

/// Resident memory of `pid`, bytes.
pub(crate) fn rss(pid: u32) -> Option<u64> {
    procfs::status_bytes(pid, "VmRSS:")
}

/// Peak resident memory of `pid` since start or the last [`reset_peak_rss`], bytes.
pub(crate) fn peak_rss(pid: u32) -> Option<u64> {
    procfs::status_bytes(pid, "VmHWM:")
}

/// Resets `pid`'s peak RSS (VmHWM).
pub(crate) fn reset_peak_rss(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// CPU time of `pid` and its reaped children (its workers), seconds.
pub(crate) fn cpu_with_children(pid: u32) -> f64 {
    procfs::stat(pid).map_or(0.0, |s| {
        procfs::ticks_to_ms(s.cpu_ticks + s.children_cpu_ticks) as f64 / 1000.0
    })
}

/// MemAvailable, bytes.
pub(crate) fn mem_available() -> u64 {
    procfs::meminfo_bytes("MemAvailable:").unwrap_or(0)
}

/// MemTotal, bytes.
pub(crate) fn mem_total() -> u64 {
    procfs::meminfo_bytes("MemTotal:").unwrap_or(0)
}

/// `12.3 MiB`.
pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
