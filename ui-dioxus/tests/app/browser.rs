//! The browser view (`studio-ui --web`) end to end in Debian's Chromium,
//! driven by `tests/e2e/browser.mjs` (playwright-core, pinned by
//! `tests/e2e/package-lock.json`) against a real daemon: sign in with
//! `?token=` (which must leave the URL and set a session cookie that is not
//! the token), create an agent with the form, start three runs and kill one
//! while the others finish, approve a waiting tool call from the inbox,
//! find an event in the Inspector by search, chat with an agent (streamed
//! answer, a tool call approved inline), end and resume the chat, store a
//! key, add a rule, add and import MCP servers, set and reset a price on
//! the Settings page, use the command palette, and sign out (another tab
//! of the session is closed too) and in again with the form. Screenshots of each step
//! go to `target/test-artifacts/`.
//!
//! Needs `/usr/bin/chromium` and the npm packages (`scripts/setup`
//! installs both) and `studio` built next to `studio-ui`.

// A panic is how a test fails.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::{Daemon, Guard};

#[test]
fn the_browser_view_creates_runs_kills_approves_and_inspects() {
    let e2e = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e");
    assert!(
        e2e.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run scripts/setup"
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Chromium is not installed: run scripts/setup"
    );
    let ui = PathBuf::from(env!("CARGO_BIN_EXE_studio-ui"));
    let daemon = Daemon::new("sub");
    daemon.studio(&[
        "agent",
        "create",
        "slow",
        "--chunks",
        "40",
        "--chunk-delay-ms",
        "100",
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
        "3",
    ]);

    let mut server = Command::new(&ui)
        .arg("--data-dir")
        .arg(&daemon.dir)
        .arg("--studio-bin")
        .arg(&daemon.studio)
        .args(["--web", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = server.stdout.take().unwrap();
    let _server = Guard(server);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let url = line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .and_then(|u| u.strip_suffix("/login"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();

    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts");
    let out = Command::new("node")
        .arg(e2e.join("browser.mjs"))
        .arg(&url)
        .arg(daemon.dir.join("client.token"))
        .arg(&artifacts)
        .output()
        .expect("node is missing: run scripts/setup");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the browser steps failed:\n{report}");
    assert!(report.contains("all steps passed"), "{report}");
}
