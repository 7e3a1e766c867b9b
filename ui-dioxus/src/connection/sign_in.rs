//! The Settings page's Sign in for an HTTP MCP server: runs `studio mcp
//! login NAME` (the CLI's flow: the browser opens on the sign-in page, a
//! listener on 127.0.0.1 takes the redirect, the daemon keeps the tokens)
//! and reports the address to visit, then how it ended. The tokens never
//! pass through the app.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::mpsc;

use super::Target;
use crate::state::SignIn;

/// Seconds the person has to sign in.
const SIGN_IN_SECS: u32 = 300;

/// Runs the sign-in to `server`, sending what happens on `news`.
pub(super) async fn sign_in(
    target: Target,
    server: String,
    news: mpsc::UnboundedSender<(String, SignIn)>,
) {
    let ended = run(&target, &server, &news).await;
    let _ = news.send((server, SignIn::Ended(ended)));
}

/// The login's outcome; the address it printed goes to `news` meanwhile.
async fn run(
    target: &Target,
    server: &str,
    news: &mpsc::UnboundedSender<(String, SignIn)>,
) -> Result<(), String> {
    let mut login = studio_process::command(&target.studio_bin, studio_process::ChildEnv::Inherit)
        .arg("--data-dir")
        .arg(target.layout.root())
        .args(["--json", "mcp", "login", server, "--timeout"])
        .arg(SIGN_IN_SECS.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| format!("{}: {err}", target.studio_bin.display()))?;
    let stderr = login.stderr.take().ok_or("the login has no stderr")?;
    let mut stdout = login.stdout.take().ok_or("the login has no stdout")?;
    let mut lines = BufReader::new(stderr).lines();
    let mut said = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = line.trim().to_owned();
        if line.starts_with("http://") || line.starts_with("https://") {
            let _ = news.send((server.to_owned(), SignIn::Waiting(Some(line))));
        } else if !line.is_empty() {
            said.push(line);
        }
    }
    let mut out = String::new();
    let _ = stdout.read_to_string(&mut out).await;
    let status = login.wait().await.map_err(|err| err.to_string())?;
    if status.success() {
        return Ok(());
    }
    Err(said
        .last()
        .map(|line| line.trim_start_matches("studio: ").to_owned())
        .unwrap_or_else(|| format!("studio mcp login ended with {status}")))
}
