//! `studio-ui`: the AI Studio desktop app (see the `ui_dioxus` library).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use dioxus::desktop::{Config, WindowBuilder};
use protocol::layout::Layout;
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
    let window = WindowBuilder::new()
        .with_title("AI Studio")
        .with_inner_size(dioxus::desktop::LogicalSize::new(1200.0, 800.0));
    dioxus::LaunchBuilder::desktop()
        .with_cfg(Config::new().with_window(window).with_menu(None))
        .with_context(target)
        .launch(App);
    ExitCode::SUCCESS
}
