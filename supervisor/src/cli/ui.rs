//! `studio ui`: opens the desktop app (`studio-ui`, a separate binary so
//! that `studio` never links the webview) on this data dir, or with
//! `--web` serves it to a browser on loopback.

use clap::Args;

use super::{CliError, Ctx};

#[derive(Args, Debug)]
pub(crate) struct UiArgs {
    /// Serve the app to a browser on 127.0.0.1 (sign in with the client
    /// token) instead of opening a window; reach it through an SSH tunnel.
    #[arg(long)]
    web: bool,
    /// The port of --web.
    #[arg(long, default_value_t = 7878, requires = "web")]
    port: u16,
    /// A further Host for --web to answer to, as the browser sends it
    /// (through a tunnel on another local port: localhost:9000); others
    /// are refused (DNS rebinding). Repeatable.
    #[arg(long = "allow-host", value_name = "HOST:PORT", requires = "web")]
    allow_host: Vec<String>,
}

pub(crate) async fn execute(args: UiArgs, ctx: &Ctx) -> Result<(), CliError> {
    // Start the daemon first, so a failure to start it is reported here.
    ctx.client().await?;
    let exe = std::env::current_exe()
        .map_err(|e| CliError::msg(format!("cannot find own executable: {e}")))?;
    let ui = exe.with_file_name("studio-ui");
    let mut command = studio_process::command(&ui, studio_process::ChildEnv::Inherit);
    if args.web {
        command.args(["--web", "--port", &args.port.to_string()]);
        for host in &args.allow_host {
            command.args(["--allow-host", host]);
        }
    }
    let status = command
        .arg("--data-dir")
        .arg(ctx.dir.root())
        .env("STUDIO_BIN", &exe)
        .status()
        .await
        .map_err(|e| {
            CliError::msg(format!(
                "cannot start the desktop app {}: {e} (build it with `cargo build -p ui-dioxus`)",
                ui.display()
            ))
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(CliError::msg(format!(
            "the desktop app exited with {status}"
        )))
    }
}
