//! The daemon under test: one `studio daemon run` process at a time on a
//! data dir, started, killed, restarted and stopped by the harness.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use protocol::control::ControlRequest;
use studio_client::Client;
use supervisor::paths::DataDir;
use test_support::daemon::Launch;

/// How long a daemon has to accept connections after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a daemon has to exit after `Shutdown`.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// The binaries under test.
pub use test_support::daemon::Binaries;

/// Daemon flags.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// `--max-concurrent`.
    pub max_concurrent: u32,
    /// `--cancel-grace-ms`.
    pub cancel_grace: Duration,
}

/// How a stop went.
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped {
    /// It exited after `Shutdown`, with this status.
    Clean(String),
    /// It had to be killed; why.
    Forced(String),
}

/// The daemon process of one data dir (at most one at a time). Killed when
/// dropped.
pub struct Daemon {
    bins: Binaries,
    dir: DataDir,
    log: PathBuf,
    settings: Settings,
    child: Option<Child>,
    /// How many times a daemon was started on this data dir.
    pub incarnation: u32,
    /// Extra environment of each daemon started (a Slurm cluster's).
    pub env: Vec<(String, String)>,
}

impl Daemon {
    /// A daemon for `dir` logging to `log` (not started yet).
    pub fn new(bins: Binaries, dir: DataDir, log: PathBuf, settings: Settings) -> Daemon {
        Daemon {
            bins,
            dir,
            log,
            settings,
            child: None,
            incarnation: 0,
            env: Vec::new(),
        }
    }

    /// The running daemon's pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts the daemon and returns a connected client once it serves.
    pub async fn start(&mut self) -> anyhow::Result<Client> {
        self.spawn()?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(client) = Client::connect(&self.dir).await {
                return Ok(client);
            }
            self.check_starting(deadline)?;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Starts the daemon and waits until its control socket accepts
    /// connections, without connecting a client (a `Client` keeps its
    /// connection open until the daemon closes it, even once dropped).
    pub async fn start_unconnected(&mut self) -> anyhow::Result<()> {
        self.spawn()?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            // Closed at once: the daemon sees a connection end before its hello.
            if std::os::unix::net::UnixStream::connect(self.dir.control_socket()).is_ok() {
                return Ok(());
            }
            self.check_starting(deadline)?;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Spawns `studio daemon run` (not waiting for it to serve).
    fn spawn(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            bail!("a daemon is already running");
        }
        let launch = Launch {
            bins: self.bins.clone(),
            data_dir: self.dir.root().to_owned(),
            log: self.log.clone(),
            max_concurrent: u64::from(self.settings.max_concurrent),
            cancel_grace: self.settings.cancel_grace,
            args: Vec::new(),
            env: (self.env.iter())
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        };
        let child = launch
            .spawn()
            .with_context(|| format!("cannot start {}", self.bins.studio.display()))?;
        self.incarnation += 1;
        self.child = Some(child);
        Ok(())
    }

    /// Fails if the starting daemon exited or `deadline` passed.
    fn check_starting(&mut self, deadline: Instant) -> anyhow::Result<()> {
        if let Some(child) = &mut self.child
            && let Some(status) = child.try_wait()?
        {
            self.child = None;
            bail!(
                "the daemon exited at start ({status}); see {}",
                self.log.display()
            );
        }
        if Instant::now() > deadline {
            self.kill9()?;
            bail!(
                "the daemon did not serve within {}s; see {}",
                START_TIMEOUT.as_secs(),
                self.log.display()
            );
        }
        Ok(())
    }

    /// SIGKILL to the daemon, and reaps it.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().context("cannot kill the daemon")?;
            child.wait().context("cannot reap the daemon")?;
        }
        Ok(())
    }

    /// Asks the daemon to stop and waits for it to exit; kills it if it
    /// does not exit in time.
    pub async fn stop(&mut self, client: &Client) -> anyhow::Result<Stopped> {
        let Some(child) = &mut self.child else {
            bail!("no daemon is running");
        };
        let asked = tokio::time::timeout(
            Duration::from_secs(5),
            client.request(ControlRequest::Shutdown),
        )
        .await;
        let problem = match asked {
            Ok(Ok(_)) => None,
            Ok(Err(err)) => Some(format!("Shutdown failed: {err}")),
            Err(_) => Some("Shutdown got no answer within 5s".to_owned()),
        };
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait()? {
                self.child = None;
                return Ok(match problem {
                    None => Stopped::Clean(status.to_string()),
                    Some(problem) => Stopped::Forced(problem),
                });
            }
            if Instant::now() > deadline {
                self.kill9()?;
                let why = problem.unwrap_or_else(|| {
                    format!("it did not exit within {}s", STOP_TIMEOUT.as_secs())
                });
                return Ok(Stopped::Forced(why));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM to the daemon (its graceful stop without a client), and
    /// waits; kills it if it does not exit in time. Returns whether it
    /// exited by itself.
    pub async fn terminate(&mut self) -> anyhow::Result<bool> {
        let Some(child) = &mut self.child else {
            bail!("no daemon is running");
        };
        let pid = i32::try_from(child.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw)
            .context("invalid daemon pid")?;
        rustix::process::kill_process(pid, rustix::process::Signal::TERM)
            .context("cannot send SIGTERM to the daemon")?;
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if child.try_wait()?.is_some() {
                self.child = None;
                return Ok(true);
            }
            if Instant::now() > deadline {
                self.kill9()?;
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The log's current length, to read what is written after it.
    pub fn log_mark(&self) -> u64 {
        std::fs::metadata(&self.log).map_or(0, |m| m.len())
    }

    /// What the log gained since `mark`.
    pub fn log_since(&self, mark: u64) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(&self.log)
            && file.seek(SeekFrom::Start(mark)).is_ok()
        {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    /// The last `lines` lines of the log that match `filter` (all when empty).
    pub fn log_excerpt(&self, filter: &[&str], lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let matching: Vec<&str> = text
            .lines()
            .filter(|l| filter.is_empty() || filter.iter().any(|f| l.contains(f)))
            .collect();
        let start = matching.len().saturating_sub(lines);
        matching[start..].join("\n")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.kill9();
    }
}
