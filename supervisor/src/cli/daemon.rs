//! `studio daemon run|start|stop|status|limits|check|salvage`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use protocol::control::{ControlRequest, ControlResponse, DaemonStatus};
use studio_client::{Client, ClientError};
use supervisor::daemon::{self, DaemonConfig};
use supervisor::secrets::StoreChoice;

use super::output::print_json;
use super::{CliError, Ctx};

#[derive(Subcommand, Debug)]
pub(crate) enum DaemonCommand {
    /// Run the daemon in the foreground (what `start` runs in the background).
    Run(RunArgs),
    /// Start the daemon in the background if it is not running.
    Start,
    /// Stop the daemon; live sessions are killed and recorded as interrupted.
    Stop,
    /// Show whether the daemon runs, and its figures.
    Status,
    /// Show or change the daemon's limits; a change is stored and outlives
    /// restarts (a `daemon run --max-concurrent` flag still wins).
    Limits(LimitsArgs),
    /// Decode every record of the database (read-only, daemon running or
    /// not); exit code 6 when some do not decode.
    Check,
    /// Copy every record that decodes into a new database file (the
    /// daemon must be stopped); the damaged file is left as it is.
    Salvage(super::store::SalvageArgs),
}

#[derive(Args, Debug)]
pub(crate) struct LimitsArgs {
    /// Most headless runs live at once (1 to 1024); queued runs start at once if it rose.
    #[arg(long, value_name = "N")]
    max_concurrent: Option<u32>,
    /// Most interactive sessions live at once (1 to 1024); opening one
    /// more is refused until one ends.
    #[arg(long, value_name = "N")]
    max_chats: Option<u32>,
}

#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    /// Most runs live at once; more wait in a queue [default: the limit last
    /// set with `studio daemon limits`, else 16].
    #[arg(long, env = "STUDIO_MAX_CONCURRENT_RUNS", value_name = "N")]
    max_concurrent: Option<u32>,
    /// Milliseconds a cancelled worker has to stop before it is killed.
    #[arg(long, env = "STUDIO_CANCEL_GRACE_MS", default_value_t = 2000)]
    cancel_grace_ms: u64,
    /// Identical tool calls in a row that stop a session as a loop (0: never).
    #[arg(long, env = "STUDIO_TOOL_LOOP_LIMIT", default_value_t = 5)]
    tool_loop_limit: u32,
    /// Seconds an interactive session may sit idle before it ends (it can be resumed).
    #[arg(long, env = "STUDIO_CHAT_IDLE_SECS", default_value_t = 1800)]
    chat_idle_secs: u64,
    /// Where provider keys and MCP secrets are kept: `auto` uses the OS
    /// keyring (Secret Service) when it is built in and answers, else
    /// DATA_DIR/secrets.json (0600); `keyring` refuses to start without
    /// it; `file` never uses it.
    #[arg(long, env = "STUDIO_SECRET_STORE", value_enum, default_value_t = StoreChoice::Auto)]
    secret_store: StoreChoice,
    /// Where a run's worker runs unless it says (`studio run --on`):
    /// `local`, `slurm` or `slurm:PARTITION`.
    #[arg(
        long,
        env = "STUDIO_LAUNCHER",
        default_value = "local",
        value_name = "LAUNCHER"
    )]
    launcher: protocol::launch::Launcher,
    /// Offer the TCP worker listener (TLS) that workers on other machines
    /// (Slurm jobs) dial, on this address (e.g. 0.0.0.0:7717; port 0 picks
    /// one) [default: not offered].
    #[arg(long, env = "STUDIO_WORKER_LISTEN", value_name = "ADDR:PORT")]
    worker_listen: Option<std::net::SocketAddr>,
    /// The address those workers dial, when it is not the one listened on
    /// (0.0.0.0, a NAT) [default: the bound address].
    #[arg(long, env = "STUDIO_WORKER_ADDRESS", value_name = "HOST:PORT")]
    worker_address: Option<String>,
    /// Seconds a cluster job may wait in the queue before its worker
    /// connects; then its session ends, and the job with it.
    #[arg(
        long,
        env = "STUDIO_PENDING_LIMIT_SECS",
        default_value_t = 120,
        value_name = "SECS"
    )]
    pending_limit_secs: u64,
    /// The studio-worker executable [default: next to this one].
    #[arg(long, env = "STUDIO_WORKER_BIN", value_name = "PATH")]
    worker_bin: Option<PathBuf>,
    /// Run sessions without their own PID namespace and cgroup, only to
    /// measure what those cost (scripts/bench): a child that starts its own
    /// session then outlives it.
    #[arg(long, hide = true)]
    unheld_sessions: bool,
    /// Write stdout and stderr (the workers' too) to DATA_DIR/daemon.log,
    /// rotated; what `studio daemon start` asks for.
    #[arg(long, hide = true)]
    log_to_file: bool,
    /// Size at which daemon.log is cut.
    #[arg(long, hide = true, env = "STUDIO_LOG_MAX_BYTES", default_value_t = daemon::log_file::MAX_LOG_BYTES)]
    log_max_bytes: usize,
}

pub(crate) async fn execute(cmd: DaemonCommand, ctx: &Ctx) -> Result<(), CliError> {
    match cmd {
        DaemonCommand::Run(args) => run(args, ctx).await,
        DaemonCommand::Start => {
            let client = ctx.client().await?;
            show_status(&client, ctx).await
        }
        DaemonCommand::Stop => stop(ctx).await,
        DaemonCommand::Check => super::store::check(ctx).await,
        DaemonCommand::Salvage(args) => super::store::salvage(args, ctx).await,
        DaemonCommand::Limits(args) => {
            let client = ctx.client().await?;
            if args.max_concurrent.is_some() || args.max_chats.is_some() {
                client
                    .request(ControlRequest::LimitsSet {
                        max_concurrent_runs: args.max_concurrent,
                        max_live_chats: args.max_chats,
                    })
                    .await?;
            }
            show_status(&client, ctx).await
        }
        DaemonCommand::Status => match Client::connect(&ctx.dir).await {
            Ok(client) => show_status(&client, ctx).await,
            Err(ClientError::NotRunning(dir)) => {
                if ctx.json {
                    print_json(&serde_json::json!({ "running": false, "data_dir": dir }));
                } else {
                    outln!("not running ({})", dir.display());
                }
                Err(CliError {
                    message: String::new(),
                    code: 5,
                })
            }
            Err(err) => Err(err.into()),
        },
    }
}

async fn run(args: RunArgs, ctx: &Ctx) -> Result<(), CliError> {
    if args.log_to_file {
        let log = ctx.dir.daemon_log();
        daemon::log_file::capture(&log, args.log_max_bytes)
            .map_err(|e| CliError::msg(format!("cannot log to {}: {e}", log.display())))?;
    }
    let mut config =
        DaemonConfig::new(ctx.dir.clone()).map_err(|e| CliError::msg(e.to_string()))?;
    config.max_concurrent_runs = args.max_concurrent.map(|n| n.max(1));
    config.cancel_grace = Duration::from_millis(args.cancel_grace_ms);
    config.tool_loop_limit = args.tool_loop_limit;
    config.chat_idle_timeout = Duration::from_secs(args.chat_idle_secs.max(1));
    config.hold_sessions = !args.unheld_sessions;
    config.secret_store = args.secret_store;
    config.launcher = args.launcher;
    config.worker_listen = args.worker_listen;
    config.worker_address = args.worker_address;
    config.pending_limit = Duration::from_secs(args.pending_limit_secs.max(1));
    if let Some(bin) = args.worker_bin {
        // Absolute: a cluster job starts it from another directory.
        config.worker_bin = std::path::absolute(&bin)
            .map_err(|err| CliError::invalid(format!("--worker-bin {}: {err}", bin.display())))?;
    }
    daemon::run(config, shutdown_signal())
        .await
        .map_err(|err| CliError::msg(err.to_string()))
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

async fn stop(ctx: &Ctx) -> Result<(), CliError> {
    let client = match Client::connect(&ctx.dir).await {
        Ok(client) => client,
        Err(ClientError::NotRunning(_)) => {
            if !ctx.json {
                outln!("not running");
            }
            return Ok(());
        }
        // A daemon of another release (or with another token) refuses to
        // talk: it still stops on SIGTERM, like on Ctrl-C.
        Err(ClientError::Refused(reason)) => return stop_by_signal(ctx, &reason).await,
        Err(err) => return Err(err.into()),
    };
    client.request(ControlRequest::Shutdown).await?;
    wait_until_stopped(ctx).await
}

/// Sends SIGTERM to the daemon named by the pid file, after checking that
/// the process is a `studio daemon run`.
async fn stop_by_signal(ctx: &Ctx, refusal: &str) -> Result<(), CliError> {
    let refused = |what: &str| {
        CliError::msg(format!(
            "the daemon refused the connection ({refusal}) and {what}"
        ))
    };
    let pid = std::fs::read_to_string(ctx.dir.pid_file())
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .ok_or_else(|| refused("its pid file cannot be read"))?;
    let is_daemon = supervisor::procfs::cmdline(pid).is_some_and(|args| {
        let argv0 = args
            .first()
            .map(|a| String::from_utf8_lossy(a).into_owned());
        let named_studio = argv0.is_some_and(|a| a.rsplit('/').next() == Some("studio"));
        named_studio && args.windows(2).any(|w| w[0] == b"daemon" && w[1] == b"run")
    });
    if !is_daemon {
        return Err(refused(&format!("process {pid} is not a studio daemon")));
    }
    let target = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .ok_or_else(|| refused(&format!("pid {pid} is out of range")))?;
    rustix::process::kill_process(target, rustix::process::Signal::TERM)
        .map_err(|err| refused(&format!("SIGTERM to {pid} failed: {err}")))?;
    if !ctx.json {
        errln!("the daemon refused the connection ({refusal}): sent it SIGTERM");
    }
    wait_until_stopped(ctx).await
}

/// Waits for the daemon to remove its pid file and socket.
async fn wait_until_stopped(ctx: &Ctx) -> Result<(), CliError> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while ctx.dir.pid_file().exists() || ctx.dir.control_socket().exists() {
        if Instant::now() > deadline {
            return Err(CliError::msg("the daemon did not stop within 20s"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if !ctx.json {
        outln!("stopped");
    }
    Ok(())
}

async fn show_status(client: &Client, ctx: &Ctx) -> Result<(), CliError> {
    let ControlResponse::Status(status) = client.request(ControlRequest::Status).await? else {
        return Err(CliError::msg("unexpected answer to status"));
    };
    if ctx.json {
        print_json(&status_json(&status));
    } else {
        outln!(
            "running: pid {}, version {}, data dir {}\nsince {}; {} live, {} queued, at most {} runs at once\nchats: {} live, at most {} at once",
            status.pid,
            status.version,
            status.data_dir,
            status.started_at,
            status.live_sessions,
            status.queued_runs,
            status.max_concurrent_runs,
            status.live_chats,
            status.max_live_chats
        );
        for line in &status.containment {
            outln!("{line}");
        }
        if let Some(stall) = &status.store_stalled {
            outln!("{stall}");
        }
    }
    Ok(())
}

fn status_json(status: &DaemonStatus) -> serde_json::Value {
    serde_json::json!({
        "running": true,
        "pid": status.pid,
        "version": status.version,
        "data_dir": status.data_dir,
        "started_at": status.started_at.to_string(),
        "live_sessions": status.live_sessions,
        "queued_runs": status.queued_runs,
        "max_concurrent_runs": status.max_concurrent_runs,
        "live_chats": status.live_chats,
        "max_live_chats": status.max_live_chats,
        "containment": status.containment,
        "store_stalled": status.store_stalled.as_ref().map(|stall| serde_json::json!({
            "since": stall.since.to_string(),
            "error": stall.error,
        })),
    })
}
