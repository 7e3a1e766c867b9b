//! `studio-worker`: runs one session's agent loop in its own process.
//!
//! The daemon spawns one worker per live session, passes a one-time token
//! on stdin and talks to it over a local socket (see `protocol::worker`).
//! The worker holds no durable state: each turn arrives complete in a
//! `Start` message and is answered by events and one `Done`.
//!
//! Layout:
//! - `main.rs` (this file): arguments, logging, the runtime and exit codes.
//! - [`connection`]: connecting, the handshake, and the frame reader and
//!   batching writer.
//! - [`dial`]: TLS to a daemon on another machine (`--dial`), its
//!   certificate pinned by fingerprint; [`usage`]: what such a worker
//!   tells the daemon it uses.
//! - [`turn`]: the command loop; runs turns and cancels them on request.
//! - [`scripted`]: the built-in deterministic `scripted` provider.
//! - [`tape`]: a replay playing a recorded turn instead of calling the
//!   provider and running tools, as far as it asks what was recorded.
//! - [`fault`]: the misbehaviours a script can ask for.
//! - [`init`]: the outer process and the init (PID 1, reaping the
//!   session's orphans) that hold a worker in its session's namespace.
//! - [`sandbox`]: the sandbox of a confined agent's commands, and the
//!   `sandbox` launcher that applies it.
//! - [`conformance`]: the MCP client that the official conformance suite
//!   drives (`mcp-conformance`, run by `scripts/conformance`).
//!
//! Exit codes: 0 on `Shutdown` or when the daemon closes the connection,
//! 1 on any other error, 2 without a token on stdin, 3 when the daemon
//! refuses the handshake. Faults may end the process in their own way.

mod agent;
mod conformance;
mod connection;
mod dial;
mod fault;
mod init;
mod judge;
mod mcp;
mod provider;
mod sandbox;
mod scripted;
mod tape;
mod tools;
mod turn;
mod usage;

use std::io::{BufRead, IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use protocol::SessionId;
use protocol::handshake::HelloReply;
use tokio::io::BufReader;
use tokio::sync::mpsc;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::connection::Ended;

/// Command-line arguments, as the daemon passes them.
#[derive(Debug, Parser)]
#[command(
    name = "studio-worker",
    version,
    about = "AI Studio worker: runs one session's agent loop.",
    long_about = "AI Studio worker: runs one session's agent loop.\n\n\
        Started by the AI Studio daemon, not by hand. Reads a one-time token \
        as the first line of stdin, connects to the daemon's worker socket and \
        runs the turns the daemon sends until told to shut down.\n\n\
        Logging goes to stderr; set STUDIO_LOG (e.g. `debug`) to change the \
        level (default `warn`)."
)]
#[command(subcommand_negates_reqs = true)]
struct Args {
    /// Path of the daemon's worker socket.
    #[arg(
        long,
        value_name = "PATH",
        required_unless_present = "dial",
        conflicts_with = "dial"
    )]
    socket: Option<PathBuf>,
    /// The daemon's TCP worker listener (`HOST:PORT`), for a worker that
    /// runs on another machine: TLS, with the certificate whose SHA-256
    /// fingerprint is the second line of stdin (after the token).
    #[arg(long, value_name = "HOST:PORT")]
    dial: Option<String>,
    /// Id of the session this worker runs.
    #[arg(long, value_name = "SESSION_ID", required = true)]
    session: Option<SessionId>,
    #[command(subcommand)]
    command: Option<Command>,
}

/// One-shot jobs the daemon gives a worker instead of a session.
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Print the models a provider offers, as a JSON array, reading the
    /// endpoint (base URL and key) as JSON from stdin.
    ListModels {
        /// The provider.
        #[arg(long)]
        provider: protocol::ProviderKind,
    },
    /// Start or reach an MCP server, list its tools and print them as a
    /// JSON array of `SERVER.TOOL`, reading the server's configuration as
    /// JSON from stdin.
    McpTest,
    /// Act as the MCP client under test of the official conformance suite
    /// (client mode): connect to URL, list and call its tools, print what
    /// happened. The suite sets MCP_CONFORMANCE_SCENARIO; see
    /// `scripts/conformance`.
    McpConformance {
        /// The scenario server's URL, which the suite appends.
        url: String,
    },
    /// Sign in to an HTTP MCP server (OAuth, for `studio mcp login`): read
    /// `{"url", "timeout_secs"}` from stdin, print the URL to visit as a
    /// JSON line, wait on 127.0.0.1 for the browser's redirect, print the
    /// tokens as the last JSON line. Never opens a browser itself.
    McpLogin,
    /// Confine this process as a session's sandbox says, then execute the
    /// command after `--` (how a worker starts a confined agent's shell
    /// commands and MCP servers); `--probe` reports what the kernel offers.
    Sandbox(Box<sandbox::launch::Args>),
    /// Inside a sandbox granted named hosts: copy each connection to the
    /// listener given as stdin to the worker's proxy socket SOCKET (in
    /// the working directory), until PARENT is gone (`sandbox::forward`).
    #[command(hide = true)]
    SandboxForward {
        /// The launcher (then the command) this serves.
        #[arg(long)]
        parent: u32,
        /// The proxy's socket, in the working directory.
        socket: std::ffi::OsString,
    },
}

/// Process exit codes other than success.
mod exit {
    /// Any error: connection lost, malformed frame, I/O failure.
    pub const ERROR: u8 = 1;
    /// No token on stdin.
    pub const NO_TOKEN: u8 = 2;
    /// The daemon refused the handshake.
    pub const REFUSED: u8 = 3;
}

/// Longest token line read from stdin, in bytes; real tokens are far shorter.
const MAX_TOKEN_LINE: u64 = 4096;

/// Reads the arguments and the token, runs the worker on a single-threaded
/// runtime (a worker must stay small) and turns the result into an exit code.
fn main() -> ExitCode {
    let args = Args::parse();
    init_logging();
    let daemon = match (args.socket.clone(), args.dial.clone()) {
        (Some(socket), _) => Some(Daemon::Socket(socket)),
        (None, Some(address)) => Some(Daemon::Dial(address)),
        (None, None) => None,
    };
    let (Some(daemon), Some(session)) = (daemon, args.session) else {
        return match args.command {
            Some(Command::ListModels { provider }) => list_models(provider),
            Some(Command::McpTest) => mcp_test(),
            Some(Command::McpConformance { url }) => mcp_conformance(&url),
            Some(Command::McpLogin) => mcp_login(),
            Some(Command::Sandbox(args)) => sandbox::launch::run(*args),
            Some(Command::SandboxForward { parent, socket }) => {
                sandbox::forward::run(parent, &socket)
            }
            None => ExitCode::from(exit::ERROR),
        };
    };

    if let Some(code) = init::outer_or_init() {
        return code;
    }
    // Keys pass through this process's memory: no other process of the
    // user (an unconfined agent's command) may read it.
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);

    let Some(token) = read_token() else {
        eprintln!("studio-worker: expected a token as the first line of stdin, got none");
        return ExitCode::from(exit::NO_TOKEN);
    };
    let daemon = match daemon {
        Daemon::Dial(address) => {
            let Some(fingerprint) = read_token() else {
                eprintln!(
                    "studio-worker: expected the daemon's fingerprint as the second line of stdin, got none"
                );
                return ExitCode::from(exit::NO_TOKEN);
            };
            Daemon::Pinned(address, fingerprint)
        }
        other => other,
    };

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("studio-worker: cannot start the async runtime: {err}");
            return ExitCode::from(exit::ERROR);
        }
    };

    // At `warn` so the session id prefixes log lines at the default level.
    let span = tracing::warn_span!("worker", session = %session);
    match runtime.block_on(run(&daemon, session, token).instrument(span)) {
        Ok(Ended::Shutdown | Ended::Closed) => ExitCode::SUCCESS,
        Ok(Ended::Refused { reason }) => {
            eprintln!("studio-worker: the daemon refused the connection: {reason}");
            ExitCode::from(exit::REFUSED)
        }
        Err(err) => {
            eprintln!("studio-worker: {err:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}

/// Where the daemon is.
enum Daemon {
    /// Its worker socket, on this machine.
    Socket(PathBuf),
    /// Its TCP worker listener, before the fingerprint is read.
    Dial(String),
    /// Its TCP worker listener and the fingerprint of its certificate.
    Pinned(String, String),
}

/// Connects (over the Unix socket, or TLS to a remote daemon), then
/// [`serve`]s.
async fn run(daemon: &Daemon, session: SessionId, token: String) -> anyhow::Result<Ended> {
    match daemon {
        Daemon::Socket(socket) => {
            let stream = connection::connect(socket).await?;
            serve(&stream, &stream, session, token, false).await
        }
        Daemon::Pinned(address, fingerprint) => {
            let (reader, writer) = tokio::io::split(dial::connect(address, fingerprint).await?);
            serve(reader, writer, session, token, true).await
        }
        Daemon::Dial(_) => anyhow::bail!("the daemon's fingerprint is missing"),
    }
}

/// Shakes hands, then runs three loops on the one thread until one of
/// them ends the worker: the frame reader (commands in), the frame writer
/// (reports out) and the command loop (turns); and, for a daemon on
/// another machine (`remote`), what it uses ([`usage::report`]).
async fn serve<R, W>(
    reader: R,
    mut writer: W,
    session: SessionId,
    token: String,
    remote: bool,
) -> anyhow::Result<Ended>
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut reader = BufReader::new(reader);
    if let HelloReply::Refused { reason } =
        connection::handshake(&mut writer, &mut reader, session, token).await?
    {
        return Ok(Ended::Refused { reason });
    }
    tracing::debug!("handshake accepted");

    let (outbox, outgoing) = connection::outbox();
    let (commands_tx, mut commands) = mpsc::unbounded_channel();
    tokio::select! {
        ended = connection::read_commands(&mut reader, commands_tx) => ended,
        written = connection::write_frames(writer, outgoing) => written.map(|()| Ended::Closed),
        served = turn::serve(session, &mut commands, &outbox) => served.map(|()| Ended::Closed),
        reported = usage::report(&outbox), if remote => reported.map(|()| Ended::Closed),
    }
}

/// `list-models`: the endpoint (with its key) comes on stdin, never argv.
fn list_models(provider: protocol::ProviderKind) -> ExitCode {
    one_shot(|endpoint: protocol::worker::Endpoint| async move {
        provider::list_models(provider, &endpoint)
            .await
            .map_err(|err| err.to_string())
    })
}

/// `mcp-test`: the server's configuration (with its secrets) comes on stdin.
fn mcp_test() -> ExitCode {
    one_shot(|server: protocol::mcp::McpServerConfig| async move { mcp::probe(&server).await })
}

/// `mcp-login`: the server's URL comes on stdin; the URL to visit, then
/// the tokens, go to stdout (to the CLI), each a line of JSON.
fn mcp_login() -> ExitCode {
    one_shot(|job: mcp::login::LoginJob| async move {
        mcp::login::login(&job, |url| {
            println!("{}", serde_json::json!({ "authorize_url": url }));
        })
        .await
        .map_err(|err| err.to_string())
    })
}

/// `mcp-conformance`: one scenario of the MCP conformance suite; its
/// steps go to stdout, a failure to stderr with exit code 1.
fn mcp_conformance(url: &str) -> ExitCode {
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").ok();
    let runtime = match one_shot_runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    match runtime.block_on(conformance::run(url, scenario.as_deref())) {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("studio-worker: {err:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}

/// The current-thread runtime of a one-shot job; `Err` is the exit code
/// after the reason was printed.
fn one_shot_runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| {
            eprintln!("studio-worker: cannot start the async runtime: {err}");
            ExitCode::from(exit::ERROR)
        })
}

/// Runs a one-shot job: reads its input as JSON from stdin, prints its
/// result as JSON on stdout, or its error on stderr.
fn one_shot<I, O, F>(job: impl FnOnce(I) -> F) -> ExitCode
where
    I: serde::de::DeserializeOwned,
    O: serde::Serialize,
    F: std::future::Future<Output = Result<O, String>>,
{
    let mut input = String::new();
    let parsed = std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| e.to_string())
        .and_then(|_| serde_json::from_str(&input).map_err(|e| e.to_string()));
    let input = match parsed {
        Ok(input) => input,
        Err(err) => {
            eprintln!("studio-worker: expected the job's input as JSON on stdin: {err}");
            return ExitCode::from(exit::ERROR);
        }
    };
    let runtime = match one_shot_runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    match runtime.block_on(job(input)) {
        Ok(output) => match serde_json::to_string(&output) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("{err}");
                ExitCode::from(exit::ERROR)
            }
        },
        Err(err) => {
            eprintln!("{err}");
            ExitCode::from(exit::ERROR)
        }
    }
}

/// Logs to stderr at `warn`, or as `STUDIO_LOG` says.
fn init_logging() {
    let filter = EnvFilter::try_from_env("STUDIO_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .init();
}

/// The first line of stdin without its line ending; `None` if empty or unreadable.
fn read_token() -> Option<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .take(MAX_TOKEN_LINE)
        .read_line(&mut line)
        .ok()?;
    let token = line.trim_end_matches(['\n', '\r']);
    (!token.is_empty()).then(|| token.to_owned())
}
