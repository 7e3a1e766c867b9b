//! Workers as Slurm jobs (`Launcher::Slurm`), through the Slurm commands
//! the daemon's `SLURM_CONF` points at: [`submit`] (`sbatch --parsable`,
//! the job script on stdin), [`Job`] (`scancel`, `squeue`) and
//! [`queue::JobWatcher`] (one `squeue` for every job of the daemon, until
//! each leaves the queue, then `scontrol show job` for how it ended).
//!
//! The job is named `studio-SESSION` and its comment says which session
//! and agent it runs, so a cluster's admin sees what it is. Its script
//! starts `studio-worker --dial`, which reads its one-time token and the
//! daemon's fingerprint from a here-document: never in argv, and the
//! script is kept only where Slurm keeps scripts (its state and spool
//! directories, the job's user's). The token is used up by the time
//! anything of the job's could read it. The job's environment is the
//! worker's own short list (`slurm_env`); nothing secret is in it.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use protocol::SessionId;
use studio_process::ChildEnv;
use tokio::io::AsyncWriteExt;

/// What the Slurm commands, and through `--export=ALL` the job, get of the
/// daemon's environment: a worker's variables, and where Slurm's
/// configuration is.
fn slurm_env() -> Vec<&'static str> {
    let mut env = crate::daemon::containment::INHERITED_ENV.to_vec();
    env.push("SLURM_CONF");
    env
}

pub(crate) mod queue;

/// How often a job's state is read.
const POLL: Duration = Duration::from_millis(200);

/// Why a Slurm command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SlurmError {
    /// The command could not be started (Slurm is not installed here).
    #[error("cannot run {0} (is Slurm installed, and SLURM_CONF set?): {1}")]
    Spawn(&'static str, std::io::Error),
    /// It ran and said no.
    #[error("{0}: {1}")]
    Refused(&'static str, String),
}

/// What a session's job is submitted with.
pub(crate) struct Submission<'a> {
    pub(crate) session: SessionId,
    pub(crate) agent: &'a str,
    pub(crate) partition: Option<&'a str>,
    pub(crate) worker_bin: &'a Path,
    /// The `HOST:PORT` the worker dials.
    pub(crate) address: &'a str,
    /// The fingerprint it pins.
    pub(crate) fingerprint: &'a str,
    pub(crate) token: &'a str,
    /// The memory budget, MiB: `--mem`, with headroom (the daemon holds
    /// the budget itself).
    pub(crate) memory_mib: Option<u64>,
    /// The wall budget: `--time`, in Slurm's whole minutes, rounded up.
    pub(crate) wall_secs: Option<u64>,
    /// Where the job starts (its agent's workspace).
    pub(crate) workdir: &'a Path,
}

/// `text` in single quotes, for a shell.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The job script: the worker, its secrets in a here-document.
fn script(submission: &Submission<'_>) -> String {
    format!(
        "#!/bin/sh\n\
         # AI Studio session {session} (agent {agent}): its worker dials the daemon back.\n\
         exec {bin} --dial {address} --session {session} <<'STUDIO_SECRETS'\n\
         {token}\n\
         {fingerprint}\n\
         STUDIO_SECRETS\n",
        session = submission.session,
        agent = submission.agent.replace('\n', " "),
        bin = quoted(&submission.worker_bin.to_string_lossy()),
        address = quoted(submission.address),
        token = submission.token,
        fingerprint = submission.fingerprint,
    )
}

/// `sbatch`'s arguments for `submission` (its script goes on stdin).
fn sbatch_args(submission: &Submission<'_>) -> Vec<String> {
    let mut args = vec![
        "--parsable".to_owned(),
        format!("--job-name=studio-{}", submission.session),
        format!(
            "--comment=AI Studio session {} (agent {})",
            submission.session,
            submission.agent.replace(['\n', '\r'], " ")
        ),
        "--export=ALL".to_owned(),
        // Nothing is left on the node; what a worker says goes over its
        // connection.
        "--output=/dev/null".to_owned(),
        format!("--chdir={}", submission.workdir.display()),
        "--ntasks=1".to_owned(),
        // A job whose node failed is the session lost, not a worker
        // started again for a session that went on without it.
        "--no-requeue".to_owned(),
    ];
    if let Some(partition) = submission.partition {
        args.push(format!("--partition={partition}"));
    }
    if let Some(mib) = submission.memory_mib {
        args.push(format!("--mem={}M", mib + (mib / 4).max(32)));
    }
    if let Some(secs) = submission.wall_secs {
        args.push(format!("--time={}", secs.div_ceil(60).max(1)));
    }
    args
}

/// Runs Slurm's `program` with `args` (and `input` on stdin); its stdout.
async fn slurm(
    program: &'static str,
    args: &[String],
    input: Option<&str>,
) -> Result<String, SlurmError> {
    let mut child = studio_process::command(program, ChildEnv::Only(&slurm_env()))
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| SlurmError::Spawn(program, err))?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(input.as_bytes())
            .await
            .map_err(|err| SlurmError::Spawn(program, err))?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|err| SlurmError::Spawn(program, err))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let said = String::from_utf8_lossy(&out.stderr);
        Err(SlurmError::Refused(program, said.trim().to_owned()))
    }
}

/// Submits the session's worker; the job that runs it.
pub(crate) async fn submit(submission: &Submission<'_>) -> Result<Job, SlurmError> {
    let out = slurm(
        "sbatch",
        &sbatch_args(submission),
        Some(&script(submission)),
    )
    .await?;
    // `ID` or `ID;CLUSTER`.
    let id = out.trim().split(';').next().unwrap_or_default().to_owned();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(SlurmError::Refused(
            "sbatch",
            format!("no job id in {out:?}"),
        ));
    }
    Ok(Job::new(id))
}

/// A session's job. Dropping it kills the job.
#[derive(Debug)]
pub(crate) struct Job {
    /// Slurm's id of it.
    pub(crate) id: String,
    /// Whether the daemon cancelled it (so a cancellation is not someone
    /// else's).
    killed: std::sync::atomic::AtomicBool,
}

impl Job {
    fn new(id: String) -> Job {
        Job {
            id,
            killed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Whether the daemon cancelled it.
    pub(crate) fn killed(&self) -> bool {
        self.killed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `scancel --signal=KILL --full`: every process of the job, now; not
    /// waited for.
    pub(crate) fn kill(&self) {
        self.killed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let id = self.id.clone();
        tokio::spawn(async move {
            let args = ["--signal=KILL".to_owned(), "--full".to_owned(), id.clone()];
            if let Err(err) = slurm("scancel", &args, None).await {
                tracing::debug!(job = id, %err, "cannot cancel the job (it may have ended)");
            }
        });
    }

    /// Its state while it is in the queue (`PENDING`, `RUNNING`,
    /// `COMPLETING`, ...); `None` once it left.
    pub(crate) async fn state(&self) -> Option<String> {
        let args = [
            "-h".to_owned(),
            "-j".to_owned(),
            self.id.clone(),
            "-o".to_owned(),
            "%T".to_owned(),
        ];
        // An id Slurm forgot is an error: the job is gone.
        let out = slurm("squeue", &args, None).await.ok()?;
        let state = out.trim();
        (!state.is_empty()).then(|| state.to_owned())
    }

    /// Waits (up to `timeout`) until the job has left the queue, killing
    /// it again meanwhile; says whether it left.
    pub(crate) async fn wait_gone(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.state().await.is_none() {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(job = self.id, "the session's job is still in the queue");
                return false;
            }
            self.kill();
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        // A session that ends for any reason takes its job with it.
        let _ = studio_process::std_command("scancel", ChildEnv::Only(&slurm_env()))
            .args(["--signal=KILL", "--full", &self.id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }
}

/// Cancels the jobs a previous daemon left for `sessions` (those it had
/// live when it stopped: they are interrupted now), so none is left on
/// the cluster: a running one's worker has lost its daemon, a pending one
/// would start for nobody. Only jobs named for those sessions are
/// touched; without Slurm here, nothing is.
pub(crate) async fn cancel_left_jobs(sessions: &[SessionId]) {
    if sessions.is_empty() {
        return;
    }
    let args = ["-h".to_owned(), "-o".to_owned(), "%i %j".to_owned()];
    let Ok(listed) = slurm("squeue", &args, None).await else {
        return;
    };
    for line in listed.lines() {
        let Some((id, name)) = line.trim().split_once(' ') else {
            continue;
        };
        let left = sessions
            .iter()
            .any(|session| name.trim() == format!("studio-{session}"));
        if left {
            tracing::warn!(job = id, name, "cancelling a job the previous daemon left");
            let args = [
                "--signal=KILL".to_owned(),
                "--full".to_owned(),
                id.to_owned(),
            ];
            if let Err(err) = slurm("scancel", &args, None).await {
                tracing::warn!(job = id, %err, "cannot cancel a job the previous daemon left");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submission() -> Submission<'static> {
        Submission {
            session: SessionId::from_u128(7),
            agent: "it's",
            partition: Some("studio"),
            worker_bin: Path::new("/opt/ai studio/studio-worker"),
            address: "10.0.0.1:7717",
            fingerprint: "f1ngerpr1nt",
            token: "secret-token-1",
            memory_mib: Some(256),
            wall_secs: Some(61),
            workdir: Path::new("/ws"),
        }
    }

    #[test]
    fn the_secrets_are_in_the_script_not_the_arguments() {
        let args = sbatch_args(&submission()).join(" ");
        assert!(
            !args.contains("secret-token-1") && !args.contains("f1ngerpr1nt"),
            "{args}"
        );
        assert!(args.contains("--mem=320M"), "{args}");
        assert!(args.contains("--time=2"), "{args}");
        assert!(args.contains("--partition=studio"), "{args}");
        assert!(args.contains("--job-name=studio-00000000-0000-0000-0000-000000000007"));
        let script = script(&submission());
        assert!(
            script.contains("exec '/opt/ai studio/studio-worker' --dial '10.0.0.1:7717'"),
            "{script}"
        );
        assert!(
            script.ends_with("<<'STUDIO_SECRETS'\nsecret-token-1\nf1ngerpr1nt\nSTUDIO_SECRETS\n"),
            "{script}"
        );
    }
}
