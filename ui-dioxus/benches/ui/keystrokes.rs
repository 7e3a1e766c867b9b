//! `scripts/bench`, keystrokes in the browser view: the app served with
//! `studio-ui --web`, Chromium types into the palette one key at a time,
//! and each key's round trip (keydown until the server's re-render names
//! the new query, timed in the page by `tests/e2e/keystrokes.mjs`) is
//! taken while a few runs stream, then while many do.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

use super::studio;

/// The key round trips of one phase.
pub struct Phase {
    /// Runs streaming meanwhile.
    pub runs: usize,
    /// Each key's round trip.
    pub latencies: Vec<Duration>,
}

/// Kills the web server when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether the browser tools are installed (scripts/setup installs them).
pub fn available(root: &Path) -> bool {
    root.join("tests/e2e/node_modules/playwright-core").exists()
        && Command::new("node").arg("--version").output().is_ok()
}

/// Measures `keys` keys while `runs` runs of a streaming agent go on.
pub fn phase(
    root: &Path,
    studio_bin: &Path,
    dir: &Path,
    runs: usize,
    keys: usize,
) -> anyhow::Result<Phase> {
    let batch = dir.join(format!("keystroke-load-{runs}.jsonl"));
    let line = r#"{"prompt": "load while typing", "label": "keystroke load"}"#;
    std::fs::write(&batch, vec![line; runs].join("\n") + "\n")?;
    let batch_path = batch.display().to_string();
    studio(
        studio_bin,
        dir,
        &["run", "typist-load", "--batch", &batch_path, "--detach"],
    )?;
    // Let them start streaming.
    std::thread::sleep(Duration::from_secs(3));
    let server = serve(studio_bin, dir)?;
    let url = server.1.clone();
    let artifacts = root.join("target/test-artifacts");
    let out = Command::new("node")
        .arg(root.join("tests/e2e/keystrokes.mjs"))
        .arg(&url)
        .arg(dir.join("client.token"))
        .arg(&artifacts)
        .arg(keys.to_string())
        .output()
        .context("node")?;
    drop(server);
    stop_load(studio_bin, dir)?;
    if !out.status.success() {
        bail!(
            "keystrokes.mjs failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let report: serde_json::Value = serde_json::from_slice(
        out.stdout
            .split(|b| *b == b'\n')
            .rfind(|line| line.starts_with(b"{"))
            .unwrap_or_default(),
    )
    .context("keystrokes.mjs printed no report")?;
    let latencies = report["latencies_ms"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(serde_json::Value::as_f64)
                .map(|ms| Duration::from_secs_f64(ms / 1e3))
                .collect()
        })
        .unwrap_or_default();
    Ok(Phase { runs, latencies })
}

/// The agent whose runs load the daemon while keys are typed.
pub fn create_load_agent(studio_bin: &Path, dir: &Path) -> anyhow::Result<()> {
    studio(
        studio_bin,
        dir,
        &[
            "agent",
            "create",
            "typist-load",
            "--chunks",
            "2000",
            "--chunk-delay-ms",
            "50",
        ],
    )
}

/// `studio-ui --web` on a free port: the server and its address.
fn serve(studio_bin: &Path, dir: &Path) -> anyhow::Result<(Server, String)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_studio-ui"))
        .arg("--data-dir")
        .arg(dir)
        .arg("--studio-bin")
        .arg(studio_bin)
        .args(["--web", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("studio-ui --web")?;
    let stdout = child.stdout.take().context("its stdout")?;
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let url = line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .and_then(|u| u.strip_suffix("/login"))
        .with_context(|| format!("no address in {line:?}"))?
        .to_owned();
    Ok((server, url))
}

/// Kills every live run of the load agent.
fn stop_load(studio_bin: &Path, dir: &Path) -> anyhow::Result<()> {
    let out = Command::new(studio_bin)
        .arg("--data-dir")
        .arg(dir)
        .args(["ps", "--json"])
        .output()?;
    let live: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    for run in live.as_array().into_iter().flatten() {
        if run["agent"] == "typist-load"
            && let Some(id) = run["id"].as_str()
        {
            let _ = studio(studio_bin, dir, &["kill", id]);
        }
    }
    Ok(())
}
