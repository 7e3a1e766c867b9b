//! MCP Apps views end to end in Chromium (`tests/e2e/app_views.mjs`,
//! typed at human speed while runs stream) against a real daemon, worker
//! and the sample tracker plugin (`tests/plugins/tracker`): the model's
//! call shows the tracker's view in a sandboxed frame, the plugin's panel
//! opens, and its button's call is approved in the chat and shows in the
//! panel. Then what was recorded is checked: the view's call is an
//! `app.call` of the tracker's own tool, asked of a person and approved
//! by them, and the issue is in the plugin's data folder.

use std::path::Path;

use serde_json::Value;

use crate::common::{Daemon, run_browser_script, serve_web};

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

#[test]
fn a_views_panel_calls_its_tool_through_an_approval_in_the_browser() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Chromium is not installed: run scripts/setup"
    );
    let daemon = Daemon::new("apv");
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
