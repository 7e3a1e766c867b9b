//! MCP Apps views end to end in Chromium (`tests/e2e/app_views.mjs`,
//! typed at human speed while runs stream) against a real daemon, worker
//! and the sample tracker plugin (`tests/plugins/tracker`): the model's
//! call shows the tracker's view in a sandboxed frame, the plugin's panel
//! opens, and its button's call is approved in the chat and shows in the
//! panel. Then what was recorded is checked: the view's call is an
//! `app.call` of the tracker's own tool, asked of a person and approved
//! by them, and the issue is in the plugin's data folder.
//!
//! And in the desktop window under Xvfb (WebKitGTK): the chat is asked
//! by keys typed with xdotool, the view's own button is reached with
//! Shift+Tab from the message box (the view is the last thing before it)
//! and pressed, and its call waits for a person, is approved, and files
//! the issue: the view ran, spoke to the window's host and was answered.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::common::{Daemon, run_browser_script, serve_web};
use crate::window::{X, wait_until};

/// The chat's agent: scripted to list the tracker's issues each turn.
const VIEWER: &str = r#"
format = 1

[agent]
name = "viewer"
provider = "scripted"
model = "scripted-1"
safety = "workspace-write"
mcp_servers = ["plugin:tracker"]

[agent.script]
chunks = 3
chunk_chars = 8
chunk_delay_ms = 20
tool_calls = [{ name = "tracker.list_issues", arguments = "{}" }]
"#;

/// A daemon with the tracker plugin installed and the `viewer` agent.
fn with_tracker(prefix: &str) -> Daemon {
    let daemon = Daemon::new(prefix);
    daemon.studio(&["daemon", "start"]);
    let tracker = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/plugins/tracker")
        .canonicalize()
        .unwrap();
    let installed = daemon.studio(&["plugin", "install", tracker.to_str().unwrap(), "--yes"]);
    assert!(
        installed.status.success(),
        "{}",
        String::from_utf8_lossy(&installed.stderr)
    );
    let file = daemon.tmp.path().join("viewer.toml");
    std::fs::write(&file, VIEWER).unwrap();
    let imported = daemon.studio(&["agent", "import", file.to_str().unwrap()]);
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    daemon
}

/// `studio --json ARGS`, parsed (one value, or one per line).
fn studio_json(daemon: &Daemon, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = daemon.studio(&all);
    let text = String::from_utf8_lossy(&out.stdout);
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(list)) => list,
        Ok(one) => vec![one],
        Err(_) => text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| serde_json::from_str(line).unwrap())
            .collect(),
    }
}

/// The events of the viewer's chat.
fn viewer_events(daemon: &Daemon) -> Vec<Value> {
    let Some(chat) = studio_json(daemon, &["ps", "--all"])
        .into_iter()
        .find(|s| s["agent"] == "viewer")
    else {
        return Vec::new();
    };
    studio_json(daemon, &["events", chat["id"].as_str().unwrap()])
}

#[test]
fn a_views_button_in_the_desktop_window_asks_and_files_the_issue() {
    let daemon = with_tracker("apw");
    let x = X::start();
    let _window = x.open_app(&daemon);
    let shot =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts/desktop-view.png");
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    assert!(x.painted(&shot), "the window never painted:\n{}", x.log());
    x.keys(&["key", "--clearmodifiers", "ctrl+k"]);
    x.wait_for_focused_field();
    x.type_slowly("start session with viewer");
    x.keys(&["key", "Return"]);
    x.wait_for_focused_field();
    x.type_slowly("list the issues");
    std::thread::sleep(Duration::from_millis(1000));
    x.keys(&["key", "--clearmodifiers", "ctrl+Return"]);
    let shown = wait_until(Duration::from_secs(30), || {
        let events = viewer_events(&daemon);
        events.iter().any(|e| e["name"] == "app.view")
            && events.last().is_some_and(|e| e["name"] == "session.idle")
    });
    assert!(shown, "the model's call recorded no view:\n{}", x.log());
    // The view's page loads and runs; its button is the last thing
    // before the message box.
    std::thread::sleep(Duration::from_secs(3));
    x.screenshot(&shot);
    x.keys(&["key", "--clearmodifiers", "shift+Tab"]);
    x.keys(&["key", "Return"]);
    let asking = wait_until(Duration::from_secs(30), || {
        viewer_events(&daemon)
            .iter()
            .any(|e| e["name"] == "tool.approval.pending")
    });
    x.screenshot(&shot);
    assert!(
        asking,
        "the view's button asked nothing (see {}):\n{}",
        shot.display(),
        x.log()
    );
    let asked: Vec<Value> = viewer_events(&daemon)
        .into_iter()
        .filter(|e| e["name"] == "app.call")
        .collect();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0]["data"]["tool"], "tracker.create_issue");
    let waiting = studio_json(&daemon, &["approvals"]);
    let id = waiting[0]["id"].to_string();
    let approved = daemon.studio(&["approve", &id]);
    assert!(
        approved.status.success(),
        "{}",
        String::from_utf8_lossy(&approved.stderr)
    );
    let data = protocol::layout::Layout::new(&daemon.dir)
        .plugins()
        .join(".data/tracker/issues.json");
    let filed = wait_until(Duration::from_secs(30), || {
        std::fs::read_to_string(&data).is_ok_and(|issues| issues.contains("Filed from the panel"))
    });
    x.screenshot(&shot);
    assert!(
        filed,
        "the approved call filed nothing (see {})",
        shot.display()
    );
}

#[test]
fn a_views_panel_calls_its_tool_through_an_approval_in_the_browser() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Chromium is not installed: run scripts/setup"
    );
    let daemon = with_tracker("apv");

    let (_server, url) = serve_web(&daemon, &[]);
    run_browser_script(
        "app_views.mjs",
        &url,
        &daemon,
        &[
            daemon.studio.to_str().unwrap(),
            daemon.dir.to_str().unwrap(),
        ],
    );

    let listed: Value =
        serde_json::from_slice(&daemon.studio(&["--json", "ps", "--all"]).stdout).unwrap();
    let chat = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["agent"] == "viewer")
        .expect("the viewer's chat");
    let id = chat["id"].as_str().unwrap();
    let out = daemon.studio(&["--json", "events", id]);
    let text = String::from_utf8_lossy(&out.stdout);
    let events: Vec<Value> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let named =
        |name: &str| -> Vec<&Value> { events.iter().filter(|e| e["name"] == name).collect() };
    let asked = named("app.call");
    assert_eq!(asked.len(), 2, "create_issue, then list_issues: {text}");
    assert!(asked[0].to_string().contains("tracker.create_issue"));
    // The person approved the view's create_issue.
    let approvals = named("tool.approved");
    assert!(
        approvals.iter().any(|e| e.to_string().contains("user")),
        "{text}"
    );
    let data = protocol::layout::Layout::new(&daemon.dir)
        .plugins()
        .join(".data/tracker/issues.json");
    let issues = std::fs::read_to_string(data).unwrap();
    assert!(issues.contains("Filed from the panel"), "{issues}");
}
