//! `studio plugin check` on plugin folders as they are published: a Claude
//! Code plugin with an npm MCP server and AI Studio's own section (what
//! it brings and asks for, in words and JSON), and a malformed manifest
//! refused with exit 2. Nothing is installed: the data dir gains no
//! plugin.

use crate::cli_harness::Cli;

const MANIFEST: &str = r#"{
  "name": "tracker",
  "displayName": "Tracker",
  "version": "1.0.0",
  "description": "Issues, from your agents.",
  "author": {"name": "Test Team"},
  "commands": ["./commands/triage.md"]
}"#;

const MCP: &str = r#"{
  "tracker": {"command": "npx", "args": ["-y", "tracker-mcp@1.0.0"], "env": {"TRACKER_TOKEN": "${TRACKER_TOKEN}"}}
}"#;

const STUDIO: &str = r#"
format = 1

[permissions]
network = ["tracker.example.com"]

[[permissions.env]]
name = "TRACKER_TOKEN"
description = "An API token"

[[panels]]
server = "tracker"
resource = "ui://tracker/issues"
title = "Issues"
"#;

fn write(dir: &std::path::Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

#[test]
fn plugin_check_says_what_a_published_plugin_brings_and_asks_for() {
    let cli = Cli::new();
    let dir = cli.tmp.path().join("tracker");
    write(
        &dir,
        &[
            (".claude-plugin/plugin.json", MANIFEST),
            (".mcp.json", MCP),
            ("studio-plugin.toml", STUDIO),
        ],
    );
    let path = dir.to_str().unwrap();
    let text = cli.ok(&["plugin", "check", path]);
    for said in [
        "Tracker (tracker), 1.0.0: Claude Code plugin",
        "tracker: npx -y tracker-mcp@1.0.0 (env: TRACKER_TOKEN)",
        "reach: tracker.example.com",
        "run shell commands: no",
        "TRACKER_TOKEN (An API token)",
        "Panel \"Issues\": ui://tracker/issues of tracker",
        "Not used by AI Studio: commands",
    ] {
        assert!(text.contains(said), "{said:?} not in:\n{text}");
    }
    let json = cli.json(&["plugin", "check", path]);
    assert_eq!(json["format"], "claude-code");
    assert_eq!(json["servers"][0]["name"], "tracker");
    assert_eq!(json["permissions"]["network"][0], "tracker.example.com");
    assert_eq!(json["env_refs"][0], "TRACKER_TOKEN");

    write(&dir, &[(".claude-plugin/plugin.json", "{ \"name\": ")]);
    let err = cli.fails(&["plugin", "check", path], 2);
    assert!(err.contains(".claude-plugin/plugin.json"), "{err}");
    let empty = cli.tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let err = cli.fails(&["plugin", "check", empty.to_str().unwrap()], 2);
    assert!(err.contains("no plugin manifest"), "{err}");
    let plugins = protocol::layout::Layout::new(cli.data_dir()).plugins();
    assert!(!plugins.exists(), "nothing installed");
}
