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

/// Starts Xvfb on a display it picks itself (`-displayfd`): the server
/// takes the display's lock before it says the number, so two tests that
/// start at once never share a display (one that lost a race for a number
/// it had checked free used to borrow the other's server and lose it
/// when that test ended).
fn xvfb() -> (String, Guard) {
    use std::io::BufRead;
    let mut child = tool("Xvfb")
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
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let guard = Guard(child);
    // Xvfb writes the number once it accepts connections; an Xvfb that
    // fails closes the pipe, so this never waits forever.
    let mut number = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut number)
        .unwrap();
    let number = number.trim();
    assert!(
        !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()),
        "Xvfb did not say its display: {number:?}"
    );
    (format!(":{number}"), guard)
}

pub fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
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

/// An Xvfb display with the app's window on it, driven by xdotool.
pub struct X {
    /// `:N`.
    display: String,
    _xvfb: Guard,
    /// The window's id, once it appeared.
    window: std::cell::RefCell<String>,
    /// Where the app's stderr goes.
    log: std::cell::RefCell<Option<PathBuf>>,
}

impl X {
    /// A fresh display.
    pub fn start() -> X {
        let (display, xvfb) = xvfb();
        X {
            display,
            _xvfb: xvfb,
            window: std::cell::RefCell::default(),
            log: std::cell::RefCell::default(),
        }
    }

    /// Opens the desktop app on `daemon`'s data dir and waits for its
    /// window; the guard closes it.
    pub fn open_app(&self, daemon: &Daemon) -> Guard {
        let log_path = daemon.tmp.path().join("ui.log");
        let log = std::fs::File::create(&log_path).unwrap();
        *self.log.borrow_mut() = Some(log_path);
        let app = Guard(
            Command::new(env!("CARGO_BIN_EXE_studio-ui"))
                .arg("--data-dir")
                .arg(&daemon.dir)
                .arg("--studio-bin")
                .arg(&daemon.studio)
                .env("DISPLAY", &self.display)
                .env("XDG_DOWNLOAD_DIR", daemon.tmp.path().join("downloads"))
                // No notification server runs under Xvfb: notices go here.
                .env(ui_dioxus::notify::SINK_VAR, notices_file(daemon))
                .env_remove("WAYLAND_DISPLAY")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
        let found = wait_until(Duration::from_secs(60), || {
            let out = self
                .xdotool(&["search", "--name", "^AI Studio"])
                .output()
                .unwrap();
            let id = String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned();
            *self.window.borrow_mut() = id;
            !self.window.borrow().is_empty()
        });
        assert!(
            found,
            "no window titled AI Studio appeared:\n{}",
            self.log()
        );
        app
    }

    /// What the app wrote to stderr.
    pub fn log(&self) -> String {
        self.log
            .borrow()
            .as_ref()
            .and_then(|path| std::fs::read_to_string(path).ok())
            .unwrap_or_default()
    }

    /// Polls until the window painted (a first launch can stay black for
    /// a while), leaving the last screenshot in `shot`.
    pub fn painted(&self, shot: &Path) -> bool {
        wait_until(Duration::from_secs(30), || {
            self.screenshot(shot);
            distinct_colours(shot) > 50.0
        })
    }

    /// Screenshot of the whole screen into `path`.
    pub fn screenshot(&self, path: &Path) {
        screenshot(&self.display, path);
    }

    fn xdotool(&self, args: &[&str]) -> Command {
        let mut command = tool("xdotool");
        command.args(args).env("DISPLAY", &self.display);
        command
    }

    /// Focuses the window, then runs `xdotool ARGS`.
    pub fn keys(&self, args: &[&str]) {
        let window = self.window.borrow().clone();
        self.xdotool(&["windowfocus", "--sync", &window])
            .status()
            .unwrap();
        let ok = self.xdotool(args).status().unwrap().success();
        assert!(ok, "xdotool {args:?} failed");
    }

    /// Types `text` into the focused field as a person does: a real key
    /// event every 50 ms.
    pub fn type_slowly(&self, text: &str) {
        self.keys(&["type", "--delay", "50", "--", text]);
    }

    /// The focused field's whole text, read back through the clipboard:
    /// the clipboard is first set to a marker, then the field's text is
    /// selected and copied, and xclip is asked until the marker is gone (a
    /// loaded app copies late; the copy is tried three times). Empty when
    /// nothing was copied.
    pub fn field_text(&self) -> String {
        const MARKER: &str = "<nothing copied>";
        for _ in 0..3 {
            let mut set = tool("xclip")
                .args(["-selection", "clipboard", "-i"])
                .env("DISPLAY", &self.display)
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            std::io::Write::write_all(&mut set.stdin.take().unwrap(), MARKER.as_bytes()).unwrap();
            assert!(set.wait().unwrap().success(), "xclip -i failed");
            std::thread::sleep(Duration::from_millis(500));
            self.keys(&["key", "--clearmodifiers", "ctrl+a"]);
            self.keys(&["key", "--clearmodifiers", "ctrl+c"]);
            let mut text = String::new();
            let copied = wait_until(Duration::from_secs(8), || {
                let out = tool("xclip")
                    .args(["-o", "-selection", "clipboard"])
                    .env("DISPLAY", &self.display)
                    .output()
                    .unwrap();
                text = String::from_utf8_lossy(&out.stdout).into_owned();
                out.status.success() && text != MARKER
            });
            if copied {
                // Back to the end of the field, as it was.
                self.keys(&["key", "End"]);
                return text;
            }
        }
        String::new()
    }

    /// Waits until a text field has the focus (a loaded app focuses a new
    /// one late): once emptied, a probe key typed must come back as the
    /// field's whole text; it is then erased. The field is left empty.
    pub fn wait_for_focused_field(&self) {
        let focused = wait_until(Duration::from_secs(30), || {
            self.keys(&["key", "--clearmodifiers", "ctrl+a"]);
            self.keys(&["key", "BackSpace"]);
            self.keys(&["type", "--", "@"]);
            if self.field_text() == "@" {
                return true;
            }
            false
        });
        if !focused {
            let shot = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../target/test-artifacts/desktop-no-focus.png");
            self.screenshot(&shot);
            panic!(
                "no text field took the focus (see {}):\n{}",
                shot.display(),
                self.log()
            );
        }
        self.keys(&["key", "--clearmodifiers", "ctrl+a"]);
        self.keys(&["key", "BackSpace"]);
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn the_desktop_window_shows_live_runs_under_xvfb() {
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
    let x = X::start();
    let _window = x.open_app(&daemon);
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("desktop-runs.png");
    assert!(x.painted(&shot), "the window never painted:\n{}", x.log());
    let shows_running = wait_until(Duration::from_secs(30), || {
        x.keys(&["key", "--clearmodifiers", "ctrl+3"]);
        std::thread::sleep(Duration::from_millis(500));
        x.screenshot(&shot);
        running_blue_pixels(&shot) > 100.0
    });
    assert!(
        shows_running,
        "the Runs page never showed running runs (see {}):\n{}",
        shot.display(),
        x.log()
    );
}

/// Where the app under test writes its notices.
fn notices_file(daemon: &Daemon) -> PathBuf {
    daemon.tmp.path().join("notices.jsonl")
}

/// The notices written so far, each as (title, body).
fn notices(daemon: &Daemon) -> Vec<(String, String)> {
    std::fs::read_to_string(notices_file(daemon))
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let notice: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                notice["title"].as_str().unwrap().to_owned(),
                notice["body"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_desktop_window_says_once_what_needs_you() {
    let daemon = Daemon::new("sun");
    daemon.studio(&[
        "agent",
        "create",
        "quick",
        "--chunks",
        "3",
        "--chunk-delay-ms",
        "20",
    ]);
    daemon.studio(&[
        "agent",
        "create",
        "asker",
        "--tools",
        "fs",
        "--tool-call",
        "fs.list",
        "--chunks",
        "2",
    ]);
    let x = X::start();
    let _window = x.open_app(&daemon);
    let shot =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts/desktop-notices.png");
    assert!(x.painted(&shot), "the window never painted:\n{}", x.log());
    // Runs alone until the app says one ended: it is then watching (a
    // loaded machine may take a while to connect it).
    let mut warm_ups = Vec::new();
    let watching = wait_until(Duration::from_secs(90), || {
        let out = daemon.studio(&["run", "quick", "--prompt", "warm up", "--detach"]);
        warm_ups.push(String::from_utf8_lossy(&out.stdout).trim().to_owned());
        std::thread::sleep(Duration::from_secs(2));
        !notices(&daemon).is_empty()
    });
    assert!(watching, "no run's end was ever told:\n{}", x.log());
    // Every warm-up ended, and the app heard it.
    let mut wait = vec!["wait"];
    wait.extend(warm_ups.iter().map(String::as_str));
    daemon.studio(&wait);
    std::thread::sleep(Duration::from_secs(2));
    // What was told past the warm-ups (each its own "Run completed").
    let told = || -> Vec<(String, String)> {
        notices(&daemon)
            .into_iter()
            .filter(|(_, body)| !body.starts_with("warm up"))
            .collect()
    };
    assert!(told().is_empty(), "{:?}", notices(&daemon));
    // Twelve runs of one group: one summary once the last has ended.
    daemon.studio(&[
        "run",
        "quick",
        "--prompt",
        "tell me",
        "--attempts",
        "12",
        "--detach",
    ]);
    let summed = wait_until(Duration::from_secs(60), || !told().is_empty());
    assert!(summed, "no notice for the group:\n{}", x.log());
    // A call that waits for a person.
    daemon.studio(&[
        "run", "asker", "--prompt", "list", "--ask", "wait:120", "--detach",
    ]);
    let asked = wait_until(Duration::from_secs(60), || told().len() >= 2);
    assert!(
        asked,
        "no notice for the waiting call: {:?}",
        notices(&daemon)
    );
    std::thread::sleep(Duration::from_secs(1));
    // The group's one summary, and the call.
    assert_eq!(
        told(),
        [
            (
                "A group of 12 runs ended".to_owned(),
                "tell me: 12 completed".to_owned()
            ),
            (
                "asker needs your approval".to_owned(),
                "1 tool call(s) wait in list".to_owned()
            ),
        ]
    );
}
