//! Command-line parsing, dispatch and exit codes.
//!
//! Exit codes: 0 success; 1 error; 2 invalid input; 3 a run ended without
//! completing; 4 not found; 5 the daemon is unavailable; 6 the database
//! has records that do not decode (`studio daemon check`).

#[macro_use]
mod output;

mod agent;
mod agent_files;
mod batch;
mod caps;
mod chat;
mod checks;
mod compare;
mod daemon;
mod demo;
mod doctor;
mod export;
mod fanout;
mod gallery;
mod generate;
mod groups;
mod inspect;
mod keys;
mod mcp;
mod mcp_login;
mod models;
mod otlp;
mod plugin_show;
mod plugin_store;
mod plugins;
mod pricing;
mod retention;
mod rules;
mod run;
mod sessions;
mod spend;
mod store;
mod ui;
mod wait;
mod workspaces;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use protocol::control::ErrorKind;
use studio_client::{AutoStart, Client, ClientError};
use supervisor::paths::DataDir;

/// A workbench for LLM agents: one agent, one process; every action an
/// event; nothing lost when one of them dies.
#[derive(Parser, Debug)]
#[command(name = "studio", version, about, long_about = None)]
#[command(
    after_help = "Exit codes: 0 success, 1 error, 2 invalid input, 3 a run ended without completing, 4 not found, 5 daemon unavailable, 6 damaged database (daemon check), 7 over a spend cap."
)]
struct Cli {
    /// Data directory of the instance to use [default: ~/.local/share/ai-studio].
    #[arg(long, global = true, env = "STUDIO_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print machine-readable JSON instead of tables and text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run, start, stop or inspect the daemon.
    #[command(subcommand)]
    Daemon(daemon::DaemonCommand),
    /// Create, list, show and remove agents.
    #[command(subcommand)]
    Agent(agent::AgentCommand),
    /// Chat with an agent in the terminal (tool calls asked inline),
    /// continue a session with --session ID, or branch one with --branch ID.
    Chat(chat::ChatArgs),
    /// Run an agent headless: one prompt, or a group of runs (--attempts,
    /// --agents, --models, or a --batch file).
    Run(Box<run::RunArgs>),
    /// List groups of runs with their totals.
    Groups(groups::GroupsArgs),
    /// A group's results table: one row per run; --prefer RUN marks the
    /// preferred result.
    Group(groups::GroupArgs),
    /// Run a session again from one of its turns (a chat's later turns
    /// follow), as a headless run (or a chat, --chat), with the same or a
    /// changed context (prompt, agent, provider, model, sampling), live or
    /// from the recording (--tape).
    Replay(run::ReplayArgs),
    /// Two to four sessions side by side: figures with deltas, where they
    /// first part, and their steps aligned with word diffs.
    Compare(compare::CompareArgs),
    /// What a run changed in its own workspace (its agent has
    /// --workspace-per-run): the patch, or with --stat the files.
    Diff(workspaces::DiffArgs),
    /// Bring a run's changes into the workspace its own was made from;
    /// refused, with nothing written, when they do not apply there.
    Apply(workspaces::ApplyArgs),
    /// List live sessions (with --all, every session).
    Ps(sessions::PsArgs),
    /// Ask a session to stop; its processes are killed after a grace period.
    Cancel(sessions::StopArgs),
    /// Kill a session's processes at once.
    Kill(sessions::StopArgs),
    /// Give a session a title (without TEXT: its first message again).
    Title(sessions::TitleArgs),
    /// Show a session's recorded events.
    Events(sessions::EventsArgs),
    /// Delete sessions (with --group, groups with all their runs), and
    /// the branches and replays going on from them; asks first.
    Rm(retention::RmArgs),
    /// Delete every session that ended longer ago than --older-than (what
    /// a kept session goes on from stays), then compact the database.
    Gc(retention::GcArgs),
    /// Return once the sessions have ended (exit 0 when all completed, 3
    /// when one did not), for scripts.
    Wait(wait::WaitArgs),
    /// What a session spent and did: tokens, cost by model, requests, tool
    /// calls and approvals, errors, time in models and tools.
    Inspect(inspect::InspectArgs),
    /// Write a session (its setup, then every event) as JSON lines, a
    /// Markdown transcript, or (--otlp) OpenTelemetry traces.
    Export(export::ExportArgs),
    /// What works and what does not, each with its fix: the data dir, the
    /// daemon, provider keys (proved by listing models), Ollama, MCP
    /// servers. Exits 1 when a check fails.
    Doctor,
    /// Agent templates, bundled and from gallery sources: list, show, use;
    /// add, update, list and remove sources (`template source`).
    #[command(subcommand)]
    Template(agent_files::TemplateCommand),
    /// Plugins as published (Claude Code, Agent Plugins): check, install
    /// (from a folder, git or a marketplace), update, list, enable,
    /// disable, remove; search and add marketplaces.
    #[command(subcommand)]
    Plugin(plugins::PluginCommand),
    /// Send every turn that ends to an OpenTelemetry (OTLP/HTTP) endpoint.
    #[command(subcommand)]
    Otlp(otlp::OtlpCommand),
    /// Store, list and remove provider API keys (read from stdin, never argv).
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Add, list, test, import and remove MCP servers.
    #[command(subcommand)]
    Mcp(mcp::McpCommand),
    /// Add, list and remove approval rules for tool calls.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// Tool calls waiting for a person, across all sessions.
    Approvals,
    /// Let a waiting tool call run.
    Approve(rules::AnswerArgs),
    /// Refuse a waiting tool call.
    Deny(rules::AnswerArgs),
    /// List the models each provider offers (from its own list endpoint).
    Models(models::ModelsArgs),
    /// Show and change model prices (USD per million tokens).
    #[command(subcommand)]
    Pricing(pricing::PricingCommand),
    /// What a session cost, as recorded and at today's prices; with --by,
    /// what every session spent by agent, model or day.
    Cost(pricing::CostArgs),
    /// Open the desktop app on this data dir (or serve it to a browser with --web).
    Ui(ui::UiArgs),
    /// Run the demo: 40 runs at once, some hanging, spinning, leaking or
    /// crashing, and show that every other run is untouched.
    Demo(demo::DemoArgs),
    /// Print the completion script for a shell.
    ///
    /// The .deb installs them for bash, zsh and fish; otherwise, for bash:
    /// `studio completions bash > ~/.local/share/bash-completion/completions/studio`.
    Completions(generate::CompletionsArgs),
    /// Write the man pages (studio.1, studio-run.1, ...) into DIR, for
    /// packaging.
    #[command(hide = true)]
    Manpages(generate::ManpagesArgs),
}

/// What every command needs.
pub(crate) struct Ctx {
    pub(crate) dir: DataDir,
    pub(crate) json: bool,
}

impl Ctx {
    /// A client of the daemon, started if needed.
    pub(crate) async fn client(&self) -> Result<Client, CliError> {
        let start = AutoStart {
            studio_bin: std::env::current_exe()
                .map_err(|e| CliError::msg(format!("cannot find own executable: {e}")))?,
        };
        Ok(Client::connect_or_start(&self.dir, &start).await?)
    }
}

/// An error with the exit code it maps to.
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) message: String,
    pub(crate) code: u8,
}

impl CliError {
    /// A general error (exit code 1).
    pub(crate) fn msg(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 1,
        }
    }

    /// Invalid input (exit code 2).
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 2,
        }
    }

    /// A run that did not complete (exit code 3); the message is already printed.
    pub(crate) fn incomplete(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 3,
        }
    }
}

impl From<ClientError> for CliError {
    fn from(err: ClientError) -> Self {
        let code = match &err {
            ClientError::Daemon(e) => match e.kind {
                ErrorKind::NotFound => 4,
                ErrorKind::Invalid
                | ErrorKind::Conflict
                | ErrorKind::Forbidden
                | ErrorKind::TooLarge => 2,
                ErrorKind::Unavailable => 5,
                ErrorKind::OverCap => 7,
                _ => 1,
            },
            ClientError::TooLarge { .. } => 2,
            ClientError::NotRunning(_)
            | ClientError::StartFailed { .. }
            | ClientError::Disconnected => 5,
            _ => 1,
        };
        Self {
            message: err.to_string(),
            code,
        }
    }
}

/// Parses arguments, runs the command, maps the result to an exit code.
pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    let daemon_mode = matches!(cli.command, Command::Daemon(daemon::DaemonCommand::Run(_)));
    init_logging(daemon_mode);
    let dir = match cli
        .data_dir
        .clone()
        .map(Ok)
        .unwrap_or_else(DataDir::default_root)
    {
        Ok(root) => DataDir::new(root),
        Err(err) => {
            errln!("studio: {err}");
            return ExitCode::from(1);
        }
    };
    let ctx = Ctx {
        dir,
        json: cli.json,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            errln!("studio: cannot start the async runtime: {err}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(dispatch(cli.command, &ctx));
    // Do not wait for lingering tasks (e.g. a reader blocked on a socket).
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if !err.message.is_empty() {
                errln!("studio: {}", err.message);
            }
            ExitCode::from(err.code)
        }
    }
}

async fn dispatch(command: Command, ctx: &Ctx) -> Result<(), CliError> {
    match command {
        Command::Daemon(cmd) => daemon::execute(cmd, ctx).await,
        Command::Agent(cmd) => agent::execute(cmd, ctx).await,
        Command::Chat(args) => chat::execute(args, ctx).await,
        Command::Run(args) => run::execute(*args, ctx).await,
        Command::Groups(args) => groups::list(args, ctx).await,
        Command::Group(args) => groups::show(args, ctx).await,
        Command::Replay(args) => run::replay(args, ctx).await,
        Command::Compare(args) => compare::execute(args, ctx).await,
        Command::Diff(args) => workspaces::diff(args, ctx).await,
        Command::Apply(args) => workspaces::apply(args, ctx).await,
        Command::Ps(args) => sessions::ps(args, ctx).await,
        Command::Cancel(args) => sessions::stop(args, ctx, false).await,
        Command::Kill(args) => sessions::stop(args, ctx, true).await,
        Command::Title(args) => sessions::title(args, ctx).await,
        Command::Events(args) => sessions::events(args, ctx).await,
        Command::Rm(args) => retention::rm(args, ctx).await,
        Command::Gc(args) => retention::gc(args, ctx).await,
        Command::Inspect(args) => inspect::execute(args, ctx).await,
        Command::Wait(args) => wait::execute(args, ctx).await,
        Command::Export(args) => export::execute(args, ctx).await,
        Command::Otlp(command) => otlp::execute(command, ctx).await,
        Command::Plugin(command) => plugins::execute(command, ctx).await,
        Command::Template(command) => agent_files::template(command, ctx).await,
        Command::Doctor => doctor::execute(ctx).await,
        Command::Keys(cmd) => keys::execute(cmd, ctx).await,
        Command::Models(args) => models::execute(args, ctx).await,
        Command::Mcp(cmd) => mcp::execute(cmd, ctx).await,
        Command::Rules(cmd) => rules::rules(cmd, ctx).await,
        Command::Approvals => rules::approvals(ctx).await,
        Command::Approve(args) => rules::answer(args, ctx, true).await,
        Command::Deny(args) => rules::answer(args, ctx, false).await,
        Command::Pricing(cmd) => pricing::execute(cmd, ctx).await,
        Command::Cost(args) => pricing::cost(args, ctx).await,
        Command::Demo(args) => demo::execute(args, ctx).await,
        Command::Ui(args) => ui::execute(args, ctx).await,
        Command::Completions(args) => generate::completions(args),
        Command::Manpages(args) => generate::manpages(args),
    }
}

/// Logs to stderr, filtered by `STUDIO_LOG` (default: info for the daemon,
/// warnings for client commands).
fn init_logging(daemon: bool) {
    let default = if daemon { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("STUDIO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}
