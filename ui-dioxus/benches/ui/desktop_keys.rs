//! `scripts/bench`, keys typed in the desktop window: the release
//! `studio-ui` on its own Xvfb display with `--key-latency-log`, so its
//! probe (`src/key_probe.js`) writes each key's round trip to a file;
//! xdotool opens the palette and types letters one at a time, each sent
//! once the previous one came back.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::keystrokes::Reaped;

/// Letters that match no page, agent or session.
const LETTERS: &[&str] = &["z", "q", "x", "j", "z", "q", "x", "v", "z", "q", "x", "k"];

/// Whether Xvfb and xdotool are installed (scripts/setup installs them).
pub fn available() -> bool {
    ["Xvfb", "xdotool"].iter().all(|tool| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|out| out.status.success())
    })
}

/// `keys` keys typed into the palette of a window on `dir`'s daemon.
pub fn in_window(studio_bin: &Path, dir: &Path, keys: usize) -> anyhow::Result<Vec<Duration>> {
    let (display, _xvfb) = xvfb()?;
    let log = dir.join("key-latency.log");
    let _ = std::fs::remove_file(&log);
    let _app = Reaped(
        Command::new(env!("CARGO_BIN_EXE_studio-ui"))
            .arg("--data-dir")
            .arg(dir)
            .arg("--studio-bin")
            .arg(studio_bin)
            .arg("--key-latency-log")
            .arg(&log)
            .env("DISPLAY", &display)
            .env_remove("WAYLAND_DISPLAY")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("studio-ui.log"))?)
            .spawn()
            .context("studio-ui")?,
    );
    // Each look starts xdotool: not too often, or it slows what it waits for.
    let window = wait_for(Duration::from_secs(120), Duration::from_millis(250), || {
        let out = xdotool(&display, &["search", "--name", "^AI Studio"]).ok()?;
        let found = String::from_utf8_lossy(&out.stdout);
        found.lines().next().map(str::to_owned)
    })
    .with_context(|| {
        let log = std::fs::read_to_string(dir.join("studio-ui.log")).unwrap_or_default();
        format!("no window titled AI Studio appeared; the app said: {log:?}")
    })?;
    let key = |name: &str| -> anyhow::Result<()> {
        xdotool(&display, &["windowfocus", "--sync", &window])?;
        xdotool(&display, &["key", "--clearmodifiers", name])?;
        Ok(())
    };
    // The window may take a while to paint and connect: open the palette
    // and type until a first key comes back, then start from empty.
    let ready = wait_for(Duration::from_secs(60), Duration::ZERO, || {
        key("ctrl+k").ok()?;
        std::thread::sleep(Duration::from_millis(300));
        key("z").ok()?;
        std::thread::sleep(Duration::from_millis(700));
        (!measured(&log).is_empty()).then_some(())
    });
    ready.context("no key typed into the palette came back rendered")?;
    key("ctrl+a")?;
    key("BackSpace")?;
    // A warm-up key may still come back: let it, then count from there.
    std::thread::sleep(Duration::from_millis(1000));
    let skip = measured(&log).len();
    for n in 0..keys {
        if n > 0 && n % 10 == 0 {
            // Start again from an empty field, so the query stays short.
            key("ctrl+a")?;
            key("BackSpace")?;
            std::thread::sleep(Duration::from_millis(200));
        }
        let before = measured(&log).len();
        key(LETTERS[n % LETTERS.len()])?;
        // Reading a small file: cheap enough to do every 2 ms.
        wait_for(Duration::from_secs(10), Duration::from_millis(2), || {
            (measured(&log).len() > before).then_some(())
        })
        .with_context(|| format!("key {} never came back rendered", n + 1))?;
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(measured(&log).into_iter().skip(skip).take(keys).collect())
}

/// What the probe wrote so far.
fn measured(log: &Path) -> Vec<Duration> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.trim().parse::<f64>().ok())
        .map(|ms| Duration::from_secs_f64(ms / 1e3))
        .collect()
}

/// `xdotool ARGS` on `display`, which must succeed.
fn xdotool(display: &str, args: &[&str]) -> anyhow::Result<std::process::Output> {
    let out = Command::new("xdotool")
        .args(args)
        .env("DISPLAY", display)
        .output()
        .context("xdotool")?;
    if !out.status.success() {
        bail!(
            "xdotool {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out)
}

/// Xvfb on a display it picks itself (`-displayfd`, so two at once never
/// share one): its name and the server.
fn xvfb() -> anyhow::Result<(String, Reaped)> {
    use std::io::BufRead;
    let mut child = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x900x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("Xvfb")?;
    let stdout = child.stdout.take().context("Xvfb's stdout")?;
    let server = Reaped(child);
    // The number comes once the server accepts connections; a server
    // that fails closes the pipe instead.
    let mut number = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut number)
        .context("reading Xvfb's display")?;
    let number = number.trim();
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        bail!("Xvfb did not say its display: {number:?}");
    }
    Ok((format!(":{number}"), server))
}

/// Polls `check` every `every` until it gives something or `limit` passes.
fn wait_for<T>(
    limit: Duration,
    every: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = check() {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(every);
    }
}
