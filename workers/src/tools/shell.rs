//! `shell`: a command run by `sh -c` in the workspace, with a timeout and
//! capped output, inside the worker's process group (so killing the
//! session reaches it and anything it started), and with a scrubbed
//! environment: no provider key or token can reach it.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::{Capped, Context, Output};

/// Default and longest run time.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
const MAX_TIMEOUT: Duration = Duration::from_secs(600);
/// How long to keep reading after the command exited (a background child
/// may hold the pipes open; it is left to the session's group sweep).
const DRAIN: Duration = Duration::from_millis(200);
/// Environment a command gets; the worker's own is already an allow-list.
const ENV: &[&str] = &["PATH", "LANG", "LC_ALL", "TZ", "TMPDIR"];

pub(super) async fn run(
    context: &Context,
    command: &str,
    timeout_secs: Option<u64>,
) -> Result<Output, String> {
    let ran = execute(context, command, timeout_secs).await?;
    Ok(Output {
        text: format!("{}\n[{}]", ran.text, ran.ending),
        truncated: ran.truncated,
    })
}

/// A command that ran: its output (both streams, capped) and how it ended.
pub(crate) struct Ran {
    /// The output.
    pub(crate) text: String,
    /// Whether the output was cut.
    pub(crate) truncated: bool,
    /// Its exit code; `None` when killed or timed out.
    pub(crate) code: Option<i32>,
    /// `exit code N`, `killed by a signal`, `timed out ...`.
    pub(crate) ending: String,
}

/// Runs `command` as the `shell` tool does.
pub(crate) async fn execute(
    context: &Context,
    command: &str,
    timeout_secs: Option<u64>,
) -> Result<Ran, String> {
    let timeout = timeout_secs
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs)
        .min(MAX_TIMEOUT);
    let mut child = context
        .sandbox
        .command("sh".as_ref(), &["-c".as_ref(), command.as_ref()])?
        .current_dir(&context.root)
        .env_clear()
        .envs(ENV.iter().filter_map(|k| Some((*k, std::env::var_os(k)?))))
        .env("HOME", &context.root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run sh: {e}"))?;
    let output = Arc::new(Mutex::new(Capped::default()));
    let readers = [
        child
            .stdout
            .take()
            .map(|out| tokio::spawn(collect(out, Arc::clone(&output)))),
        child
            .stderr
            .take()
            .map(|err| tokio::spawn(collect(err, Arc::clone(&output)))),
    ];
    let status = tokio::time::timeout(timeout, child.wait()).await;
    let code = match &status {
        Ok(Ok(status)) => status.code(),
        _ => None,
    };
    let ending = match status {
        Ok(Ok(status)) => match status.code() {
            Some(code) => format!("exit code {code}"),
            None => "killed by a signal".to_owned(),
        },
        Ok(Err(err)) => format!("lost track of the command: {err}"),
        Err(_) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            format!("timed out after {}s and was killed", timeout.as_secs())
        }
    };
    for reader in readers.into_iter().flatten() {
        let abort = reader.abort_handle();
        if tokio::time::timeout(DRAIN, reader).await.is_err() {
            abort.abort();
        }
    }
    let output = output.lock().unwrap_or_else(|p| p.into_inner());
    Ok(Ran {
        text: output.text(),
        truncated: output.truncated(),
        code,
        ending,
    })
}

async fn collect(mut pipe: impl AsyncRead + Unpin, into: Arc<Mutex<Capped>>) {
    let mut buf = [0u8; 8192];
    while let Ok(n) = pipe.read(&mut buf).await {
        if n == 0 {
            break;
        }
        into.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use protocol::agent::SafetyMode;

    use super::*;
    use crate::tools::OUTPUT_CAP;

    fn context() -> (tempfile::TempDir, Context) {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        (dir, Context::for_tests(root, SafetyMode::WorkspaceWrite))
    }

    #[tokio::test]
    async fn commands_run_in_the_workspace_with_both_streams_and_the_exit_code() {
        let (_dir, ctx) = context();
        let out = run(&ctx, "pwd; echo oops >&2; exit 3", None).await.unwrap();
        assert!(
            out.text.starts_with(ctx.root.to_str().unwrap()),
            "{}",
            out.text
        );
        assert!(out.text.contains("oops"));
        assert!(out.text.ends_with("[exit code 3]"));
    }

    #[tokio::test]
    async fn a_flood_of_output_is_capped_head_and_tail() {
        let (_dir, ctx) = context();
        let out = run(
            &ctx,
            "echo first; yes line | head -c 2000000; echo; echo last",
            None,
        )
        .await
        .unwrap();
        assert!(out.truncated);
        assert!(out.text.starts_with("first"));
        assert!(
            out.text.contains("last\n\n[exit code 0]"),
            "{}",
            &out.text[out.text.len() - 50..]
        );
        assert!(out.text.len() < OUTPUT_CAP + 200);
    }

    #[tokio::test]
    async fn a_command_that_outlives_its_timeout_is_killed() {
        let (_dir, ctx) = context();
        let started = std::time::Instant::now();
        let out = run(&ctx, "echo started; sleep 30", Some(1)).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(out.text.contains("started"));
        assert!(
            out.text.ends_with("[timed out after 1s and was killed]"),
            "{}",
            out.text
        );
    }

    #[tokio::test]
    async fn a_background_child_does_not_hold_the_call_open() {
        let (_dir, ctx) = context();
        let started = std::time::Instant::now();
        let out = run(&ctx, "sleep 30 & echo parent done", None)
            .await
            .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(out.text.contains("parent done"));
    }

    #[tokio::test]
    async fn the_environment_is_scrubbed() {
        let (_dir, ctx) = context();
        let out = run(&ctx, "env", None).await.unwrap();
        let names: Vec<&str> = out
            .text
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, _)| k))
            .collect();
        assert!(
            names.iter().all(|k| [
                "PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "HOME", "PWD", "SHLVL", "_", "OLDPWD"
            ]
            .contains(k)),
            "{names:?}"
        );
    }
}
