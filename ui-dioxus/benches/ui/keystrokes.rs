//! `scripts/bench`, keys typed into the command palette one at a time,
//! each timed by the app's own probe (`src/key_probe.js`) from its keydown
//! until the re-render names the new query: in the browser view
//! (`studio-ui --web`, Chromium driven by `tests/e2e/keystrokes.mjs`) and
//! in the desktop window under Xvfb (`ui/desktop_keys.rs`), while a few
//! runs stream, then while many do.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

use super::{ms, quantile, ratio, studio};

/// The key round trips of one phase.
pub struct Phase {
    /// Runs streaming meanwhile.
    pub runs: usize,
    /// Each key's round trip.
    pub latencies: Vec<Duration>,
}

/// Both views' baseline and loaded phases, or why a view was not measured.
pub struct Typed {
    pub browser: anyhow::Result<(Phase, Phase)>,
    pub desktop: anyhow::Result<(Phase, Phase)>,
}

/// Kills a child process when dropped.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether the browser tools are installed (scripts/setup installs them).
pub fn browser_available(root: &Path) -> bool {
    root.join("tests/e2e/node_modules/playwright-core").exists()
        && Command::new("node").arg("--version").output().is_ok()
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

/// Runs `measure` while `runs` runs of the load agent stream, then kills
/// them.
pub fn under_load(
    studio_bin: &Path,
    dir: &Path,
    runs: usize,
    measure: impl FnOnce() -> anyhow::Result<Vec<Duration>>,
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
    let measured = measure();
    stop_load(studio_bin, dir)?;
    Ok(Phase {
        runs,
        latencies: measured?,
    })
}

/// `keys` keys typed in Chromium into the browser view.
pub fn in_browser(
    root: &Path,
    studio_bin: &Path,
    dir: &Path,
    keys: usize,
) -> anyhow::Result<Vec<Duration>> {
    let (server, url) = serve(studio_bin, dir)?;
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
    Ok(report["latencies_ms"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(serde_json::Value::as_f64)
                .map(|ms| Duration::from_secs_f64(ms / 1e3))
                .collect()
        })
        .unwrap_or_default())
}

/// `studio-ui --web` on a free port: the server and its address.
fn serve(studio_bin: &Path, dir: &Path) -> anyhow::Result<(Reaped, String)> {
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
    let server = Reaped(child);
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

/// The markdown section of the keys typed in both views (or why a view
/// was not measured).
pub fn section(typed: Typed, quick: bool) -> String {
    let mut out = String::from("\n## 9. Keys typed while runs stream\n\n");
    if quick {
        out.push_str("_Quick run (`--quick`): few keys, figures not meaningful._\n\n");
    }
    out.push_str(
        "Letters typed one at a time into the command palette, each timed inside the page by \
         the app's probe (`ui-dioxus/src/key_probe.js`) from its keydown until the re-render \
         names the new query: the round trip a key makes through the app, the display's own \
         input latency left out. The browser view is `studio-ui --web` in Debian's Chromium \
         (`tests/e2e/keystrokes.mjs`); the desktop window is the release `studio-ui` under \
         Xvfb, typed into with xdotool (`ui-dioxus/benches/ui/desktop_keys.rs`).\n\n",
    );
    for (view, phases) in [
        ("Browser view", typed.browser),
        ("Desktop window", typed.desktop),
    ] {
        let _ = writeln!(out, "### {view}\n");
        match phases {
            Ok((baseline, loaded)) => table(&mut out, &baseline, &loaded),
            Err(err) => {
                let _ = writeln!(out, "Not measured: {err:#}.\n");
            }
        }
    }
    out
}

/// One view's table and its goal.
fn table(out: &mut String, baseline: &Phase, loaded: &Phase) {
    let _ = writeln!(
        out,
        "Baseline: {} runs streaming; loaded: {}.\n",
        baseline.runs, loaded.runs
    );
    let _ = writeln!(out, "| figure | baseline | loaded | loaded / baseline |");
    let _ = writeln!(out, "|---|---:|---:|---:|");
    let _ = writeln!(
        out,
        "| keys measured | {} | {} |  |",
        baseline.latencies.len(),
        loaded.latencies.len()
    );
    for (name, q) in [("p50", 0.5), ("p99", 0.99), ("max", 1.0)] {
        let (b, l) = (
            quantile(&baseline.latencies, q),
            quantile(&loaded.latencies, q),
        );
        let _ = writeln!(
            out,
            "| key round trip {name} | {} | {} | {} |",
            ms(b),
            ms(l),
            ratio(l.as_secs_f64(), b.as_secs_f64())
        );
    }
    let worst = quantile(&loaded.latencies, 0.99);
    let frame = Duration::from_micros(16_667);
    let _ = writeln!(
        out,
        "\nWith {} runs streaming, p99 {}: {} one 60 Hz frame (16.7 ms), {} the 50 ms goal \
         (well under what a person notices).\n",
        loaded.runs,
        ms(worst),
        if worst <= frame { "within" } else { "over" },
        if worst <= Duration::from_millis(50) {
            "meets"
        } else {
            "misses"
        },
    );
}
