//! The real desktop window under Xvfb, against a real daemon with live
//! runs: it connects, paints, switches to Runs with Ctrl+3 and shows the
//! runs as running. The screenshot is kept in `target/test-artifacts/`.
//!
//! Needs Xvfb, xdotool and ImageMagick (`scripts/setup` installs them) and
//! the `studio` binary built next to `studio-ui` (`scripts/test` builds the
//! whole workspace first).

// A panic is how a test fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Daemon, Guard};

fn tool(name: &str) -> Command {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found, "{name} is missing: run scripts/setup");
    Command::new(name)
}

/// Starts Xvfb on a free display; returns it and its guard.
fn xvfb() -> (String, Guard) {
    for n in 90..190 {
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
        let lock = PathBuf::from(format!("/tmp/.X{n}-lock"));
        if socket.exists() || lock.exists() {
            continue;
        }
        let child = tool("Xvfb")
            .args([
                &format!(":{n}"),
                "-screen",
                "0",
                "1280x900x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let guard = Guard(child);
        if wait_until(Duration::from_secs(10), || socket.exists()) {
            return (format!(":{n}"), guard);
        }
    }
    panic!("no free X display for Xvfb");
}

fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    false
}

/// Screenshot of the whole screen into `path`.
fn screenshot(display: &str, path: &Path) {
    let ok = tool("import")
        .args(["-display", display, "-window", "root"])
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "import failed");
}

/// What ImageMagick says of the image for `format`.
fn measure(path: &Path, args: &[&str], format: &str) -> f64 {
    let out = tool("convert")
        .arg(path)
        .args(args)
        .args(["-format", format, "info:"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0.0)
}

fn distinct_colours(path: &Path) -> f64 {
    measure(path, &[], "%k")
}

/// Pixels close to the colour of the "running" status text.
fn running_blue_pixels(path: &Path) -> f64 {
    measure(
        path,
        &[
            "-fuzz", "12%", "-fill", "black", "+opaque", "#2563eb", "-fill", "white", "-opaque",
            "#2563eb",
        ],
        "%[fx:mean*w*h]",
    )
}

#[test]
fn the_desktop_window_shows_live_runs_under_xvfb() {
    let ui = PathBuf::from(env!("CARGO_BIN_EXE_studio-ui"));
    let daemon = Daemon::new("sui");
    daemon.studio(&[
        "agent",
        "create",
        "slow",
        "--chunks",
        "600",
        "--chunk-delay-ms",
        "100",
    ]);
    for n in 0..3 {
        daemon.studio(&["run", "slow", "--prompt", &format!("run {n}"), "--detach"]);
    }

    let (display, _xvfb) = xvfb();
    let log = std::fs::File::create(daemon.tmp.path().join("ui.log")).unwrap();
    let _window = Guard(
        Command::new(&ui)
            .arg("--data-dir")
            .arg(&daemon.dir)
            .arg("--studio-bin")
            .arg(&daemon.studio)
            .env("DISPLAY", &display)
            .env_remove("WAYLAND_DISPLAY")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let mut window = String::new();
    let found = wait_until(Duration::from_secs(60), || {
        let out = tool("xdotool")
            .args(["search", "--name", "^AI Studio$"])
            .env("DISPLAY", &display)
            .output()
            .unwrap();
        window = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned();
        !window.is_empty()
    });
    let ui_log = || std::fs::read_to_string(daemon.tmp.path().join("ui.log")).unwrap_or_default();
    assert!(found, "no window titled AI Studio appeared:\n{}", ui_log());

    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("desktop-runs.png");
    // Poll until painted: a first launch can stay black for a while.
    let painted = wait_until(Duration::from_secs(30), || {
        screenshot(&display, &shot);
        distinct_colours(&shot) > 50.0
    });
    assert!(painted, "the window never painted:\n{}", ui_log());

    let keys = |args: &[&str]| {
        tool("xdotool")
            .args(args)
            .env("DISPLAY", &display)
            .status()
            .unwrap()
    };
    let shows_running = wait_until(Duration::from_secs(30), || {
        keys(&["windowfocus", "--sync", &window]);
        keys(&["key", "--clearmodifiers", "ctrl+3"]);
        std::thread::sleep(Duration::from_millis(500));
        screenshot(&display, &shot);
        running_blue_pixels(&shot) > 100.0
    });
    assert!(
        shows_running,
        "the Runs page never showed running runs (see {}):\n{}",
        shot.display(),
        ui_log()
    );
}
