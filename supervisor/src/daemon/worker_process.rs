//! One-shot worker jobs, handing a worker its token, and reading how a
//! worker process ended and what it uses. (Starting a session's worker,
//! held in its namespaces and cgroup, is `containment::spawn_worker`.)
//!
//! A worker's environment is rebuilt from a short allow-list
//! (`containment::INHERITED_ENV`): no secret of the daemon's environment
//! reaches it, and its token arrives on stdin, never in argv or the
//! environment.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ExitStatus, Stdio};

use protocol::SessionId;
use protocol::event::ExitInfo;
use protocol::sandbox::SandboxSupport;
use studio_process::ChildEnv;
use tokio::io::AsyncWriteExt;
use tokio::process::Child;

use super::containment;
use crate::procfs;

/// Runs a one-shot worker job (`studio-worker ARGS`) with `input` on its
/// stdin (never argv or the environment: it may hold a key) and returns
/// its stdout, or its stderr as the error. Killed after `timeout`.
pub(crate) async fn run_job(
    bin: &Path,
    args: &[&str],
    input: &[u8],
    timeout: std::time::Duration,
) -> Result<String, String> {
    let mut cmd = studio_process::command(bin, ChildEnv::Only(containment::INHERITED_ENV));
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|err| format!("cannot start {}: {err}", bin.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input)
            .await
            .map_err(|err| err.to_string())?;
        stdin.shutdown().await.map_err(|err| err.to_string())?;
    }
    // Sweeps anything the job left behind, however this returns.
    let _sweep = SweepGroup(child.id());
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| format!("no answer within {}s", timeout.as_secs()))?
        .map_err(|err| err.to_string())?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(stderr.lines().last().unwrap_or("failed").trim().to_owned())
    }
}

/// What the kernel offers the sandbox of agents' commands, as a worker
/// finds by trying (`studio-worker sandbox --probe`); nothing when the
/// probe fails.
pub(crate) async fn probe_sandbox(worker_bin: &Path) -> SandboxSupport {
    let probed = run_job(
        worker_bin,
        &["sandbox", "--probe"],
        b"",
        std::time::Duration::from_secs(10),
    )
    .await;
    match probed.map(|out| serde_json::from_str::<SandboxSupport>(&out)) {
        Ok(Ok(support)) => support,
        Ok(Err(err)) => {
            tracing::warn!(%err, "unreadable sandbox probe");
            SandboxSupport::default()
        }
        Err(err) => {
            tracing::warn!(%err, "the sandbox probe failed");
            SandboxSupport::default()
        }
    }
}

/// Kills a job's process group when dropped.
struct SweepGroup(Option<u32>);

impl Drop for SweepGroup {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            containment::kill_group(pgid);
        }
    }
}

/// Writes the worker's one-time token to its stdin and closes it.
pub(crate) async fn send_token(child: &mut Child, token: &str) -> io::Result<()> {
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| io::Error::other("the worker's stdin is not a pipe"))?;
    stdin.write_all(format!("{token}\n").as_bytes()).await?;
    stdin.shutdown().await
}

/// How an exit status reads in an event.
pub(crate) fn exit_info(status: ExitStatus) -> ExitInfo {
    ExitInfo {
        code: status.code(),
        signal: status.signal(),
    }
}

/// "exited with code 3", "killed by signal 9 (SIGKILL)".
pub(crate) fn describe_exit(exit: ExitInfo) -> String {
    match (exit.code, exit.signal) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => match signal_name(signal) {
            Some(name) => format!("killed by signal {signal} ({name})"),
            None => format!("killed by signal {signal}"),
        },
        (None, None) => "ended in an unknown way".to_owned(),
    }
}

fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => return None,
    })
}

/// Resource use of one process, read from /proc.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ProcStats {
    /// Resident set size, bytes.
    pub(crate) rss_bytes: u64,
    /// User + system CPU time, milliseconds.
    pub(crate) cpu_ms: u64,
}

/// Reads `pid`'s RSS and CPU time; `None` once it is gone.
pub(crate) fn proc_stats(pid: u32) -> Option<ProcStats> {
    Some(ProcStats {
        rss_bytes: procfs::rss_bytes(pid)?,
        cpu_ms: procfs::ticks_to_ms(procfs::stat(pid)?.cpu_ticks),
    })
}

/// Whether `pid` is alive and is the `studio-worker` of `session` (guards
/// against pid reuse before killing a group left over from a previous daemon).
pub(crate) fn is_worker_of(pid: u32, session: SessionId) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|cmdline| is_worker_cmdline(&cmdline, session))
        .unwrap_or(false)
}

fn is_worker_cmdline(cmdline: &[u8], session: SessionId) -> bool {
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let session = session.to_string();
    args.first()
        .is_some_and(|argv0| argv0.ends_with(b"studio-worker"))
        && args
            .windows(2)
            .any(|pair| pair[0] == b"--session" && pair[1] == session.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_stats_are_readable() {
        let stats = proc_stats(std::process::id()).unwrap();
        assert!(stats.rss_bytes > 0);
    }

    #[test]
    fn only_the_worker_of_that_session_matches() {
        let session = SessionId::from_u128(5);
        let cmdline = format!("/x/studio-worker\0--socket\0/s\0--session\0{session}\0");
        assert!(is_worker_cmdline(cmdline.as_bytes(), session));
        assert!(!is_worker_cmdline(
            cmdline.as_bytes(),
            SessionId::from_u128(6)
        ));
        let other = format!("/bin/sleep\0--session\0{session}\0");
        assert!(!is_worker_cmdline(other.as_bytes(), session));
    }

    #[test]
    fn exits_are_described_in_words() {
        assert_eq!(
            describe_exit(ExitInfo {
                code: Some(101),
                signal: None
            }),
            "exited with code 101"
        );
        assert_eq!(
            describe_exit(ExitInfo {
                code: None,
                signal: Some(6)
            }),
            "killed by signal 6 (SIGABRT)"
        );
    }
}
