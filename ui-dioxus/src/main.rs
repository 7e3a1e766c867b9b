//! `studio-ui`: the AI Studio desktop app (see the `ui_dioxus` library).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use dioxus::desktop::{Config, WindowBuilder};
use protocol::layout::Layout;
use ui_dioxus::key_probe::KeyLatencyLog;
use ui_dioxus::{App, Target};

/// The AI Studio desktop app: agents, sessions, runs, the inspector and
/// settings of one daemon, live.
#[derive(Parser, Debug)]
#[command(name = "studio-ui", version, about, long_about = None)]
struct Args {
    /// Data directory of the instance to use [default: ~/.local/share/ai-studio].
    #[arg(long, env = "STUDIO_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The studio executable, to start the daemon [default: next to this one].
    #[arg(long, env = "STUDIO_BIN", value_name = "PATH")]
    studio_bin: Option<PathBuf>,
    /// Serve the app to a browser on 127.0.0.1 instead of opening a window.
    #[arg(long)]
    web: bool,
    /// The port of --web (0: any free one).
    #[arg(long, default_value_t = 7878, requires = "web")]
    port: u16,
    /// A further Host for --web to answer to, as the browser sends it (a
    /// tunnel on another local port: localhost:9000); repeatable.
    #[arg(long = "allow-host", value_name = "HOST:PORT", requires = "web",
          value_parser = ui_dioxus::web::parse_allowed_host)]
    allow_host: Vec<String>,
    /// Appends each key's round trip in the command palette (ms, one per
    /// line) to FILE: for scripts/bench.
    #[arg(long, value_name = "FILE", hide = true, conflicts_with = "web")]
    key_latency_log: Option<PathBuf>,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STUDIO_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let root = match args.data_dir.map_or_else(Layout::default_root, Ok) {
        Ok(root) => root,
        Err(err) => {
            eprintln!("studio-ui: {err}");
            return ExitCode::from(2);
        }
    };
    let studio_bin = args.studio_bin.unwrap_or_else(|| {
        std::env::current_exe()
            .map(|exe| exe.with_file_name("studio"))
            .unwrap_or_else(|_| PathBuf::from("studio"))
    });
    let target = Target {
        layout: Layout::new(root),
        studio_bin,
    };
    if args.web {
        return serve_web(target, args.port, &args.allow_host);
    }
    let window = WindowBuilder::new()
        .with_title("AI Studio")
        .with_inner_size(dioxus::desktop::LogicalSize::new(1200.0, 800.0));
    let mut launch = dioxus::LaunchBuilder::desktop()
        .with_cfg(Config::new().with_window(window).with_menu(None))
        .with_context(target);
    if let Some(log) = args.key_latency_log {
        launch = launch.with_context(KeyLatencyLog(log));
    }
    launch.launch(App);
    ExitCode::SUCCESS
}

/// `--web`: serves until killed.
fn serve_web(target: Target, port: u16, allow_hosts: &[String]) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("studio-ui: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let token_file = target.layout.client_token();
    let served = runtime.block_on(async move {
        let listening = ui_dioxus::web::bind(target, port, allow_hosts).await?;
        println!(
            "AI Studio is served at http://{}/login (sign in with the token in {})",
            listening.addr,
            token_file.display()
        );
        listening.serve().await
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("studio-ui: {err:#}");
            ExitCode::FAILURE
        }
    }
}
