//! Starting a real daemon for a test, a benchmark or the chaos suite: the
//! built binaries ([`Binaries`]), `studio daemon run` on a data dir with
//! its stderr in a log file ([`Launch`]), and waiting until it serves
//! ([`serving`]). Each harness keeps its own policy (restarts, kills);
//! the process they start is the same.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use protocol::layout::Layout;
use studio_client::Client;

/// `studio` and `studio-worker`, as built.
#[derive(Clone, Debug)]
pub struct Binaries {
    /// `studio`.
    pub studio: PathBuf,
    /// `studio-worker`.
    pub worker: PathBuf,
}

impl Binaries {
    /// The two binaries in `dir`; both must exist (`how` says how to build
    /// them when one does not).
    pub fn in_dir(dir: &Path, how: &str) -> Result<Binaries, String> {
        let bins = Binaries {
            studio: dir.join("studio"),
            worker: dir.join("studio-worker"),
        };
        for bin in [&bins.studio, &bins.worker] {
            if !bin.is_file() {
                return Err(format!("{} is missing: {how}", bin.display()));
            }
        }
        Ok(bins)
    }
}

/// How to start one `studio daemon run`.
#[derive(Clone, Debug)]
pub struct Launch {
    /// The binaries.
    pub bins: Binaries,
    /// The data dir.
    pub data_dir: PathBuf,
    /// Where its stderr goes (appended).
    pub log: PathBuf,
    /// `--max-concurrent`.
    pub max_concurrent: u64,
    /// `--cancel-grace-ms`.
    pub cancel_grace: Duration,
    /// More `daemon run` arguments.
    pub args: Vec<OsString>,
    /// More environment (after the harness's own).
    pub env: Vec<(OsString, OsString)>,
}

impl Launch {
    /// Starts the daemon (not waiting for it to serve). Its settings come
    /// from here only: the environment's `STUDIO_MAX_CONCURRENT_RUNS` and
    /// `STUDIO_CANCEL_GRACE_MS` are dropped.
    pub fn spawn(&self) -> std::io::Result<Child> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        studio_process::std_command(&self.bins.studio, studio_process::ChildEnv::Inherit)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["daemon", "run", "--max-concurrent"])
            .arg(self.max_concurrent.to_string())
            .arg("--cancel-grace-ms")
            .arg(self.cancel_grace.as_millis().to_string())
            .args(&self.args)
            .env("STUDIO_WORKER_BIN", &self.bins.worker)
            .env_remove("STUDIO_MAX_CONCURRENT_RUNS")
            .env_remove("STUDIO_CANCEL_GRACE_MS")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
    }
}

/// Waits until the daemon `child` serves the data dir `layout`, and
/// returns a connected client; `Err` says why not (it exited, or
/// `timeout` passed: then it is left running for the caller to kill).
pub async fn serving(
    child: &mut Child,
    layout: &Layout,
    timeout: Duration,
) -> Result<Client, String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(client) = Client::connect(layout).await {
            return Ok(client);
        }
        match child.try_wait() {
            Ok(Some(status)) => return Err(format!("the daemon exited at start ({status})")),
            Ok(None) => {}
            Err(err) => return Err(format!("cannot wait for the daemon: {err}")),
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the daemon did not serve within {}s",
                timeout.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
