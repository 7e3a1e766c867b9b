//! `studio ui`: opens the desktop app (`studio-ui`, a separate binary so
//! that `studio` never links the webview) on this data dir.

use super::{CliError, Ctx};

pub(crate) async fn execute(ctx: &Ctx) -> Result<(), CliError> {
    // Start the daemon first, so a failure to start it is reported here.
    ctx.client().await?;
    let exe = std::env::current_exe()
        .map_err(|e| CliError::msg(format!("cannot find own executable: {e}")))?;
    let ui = exe.with_file_name("studio-ui");
    let status = tokio::process::Command::new(&ui)
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
