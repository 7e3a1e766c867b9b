//! Plugins as published: real Claude Code manifests copied verbatim, an
//! Agent Plugins 1.0.0 plugin, AI Studio's own section, and what is
//! refused (a malformed, over-large or symlinked manifest, a manifest of
//! no known format) or left out with the reason.

use std::path::Path;

use protocol::mcp::McpTransport;

use super::studio::{Network, NetworkSwitch};
use super::*;

/// Writes `files` (path, text) under a new folder.
fn plugin(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn load(dir: &Path) -> Result<Plugin, PluginError> {
    read(dir, Path::new("/data/plugin"))
}

fn stdio(server: &McpServerConfig) -> (String, Vec<String>) {
    match &server.transport {
        McpTransport::Stdio { command, args, .. } => (command.clone(), args.clone()),
        McpTransport::Http { url, .. } => panic!("{} is http: {url}", server.name),
    }
}

/// anthropics/claude-plugins-official@340e33aef211d95769d252324854497af871dafe,
/// `external_plugins/playwright/.claude-plugin/plugin.json` and its flat
/// `.mcp.json`, verbatim.
const PLAYWRIGHT_MANIFEST: &str = r#"{
  "name": "playwright",
  "description": "Browser automation and end-to-end testing MCP server by Microsoft. Enables Claude to interact with web pages, take screenshots, fill forms, click elements, and perform automated browser testing workflows.",
  "author": {
    "name": "Microsoft"
  }
}
"#;
const PLAYWRIGHT_MCP: &str = r#"{
  "playwright": {
    "command": "npx",
    "args": ["@playwright/mcp@latest"]
  }
}
"#;

/// The same repository's `external_plugins/firebase` (flat, with `-y`).
const FIREBASE_MANIFEST: &str = r#"{
  "name": "firebase",
  "description": "Google Firebase MCP integration. Manage Firestore databases, authentication, cloud functions, hosting, and storage. Build and manage your Firebase backend directly from your development workflow.",
  "author": {
    "name": "Google"
  }
}
"#;
const FIREBASE_MCP: &str = r#"{
  "firebase": {
    "command": "npx",
    "args": ["-y", "firebase-tools@latest", "mcp"]
  }
}
"#;

/// ChromeDevTools/chrome-devtools-mcp@5eb41154d8aca6a9e109bc0a8a969cf962b34d36,
/// `.claude-plugin/plugin.json`: its server inline, `version` not semver.
const CHROME_DEVTOOLS_MANIFEST: &str = r#"{
  "name": "chrome-devtools-mcp",
  "version": "latest",
  "description": "Control and inspect a live Chrome browser through MCP - automate actions, debug, and analyze performance using Chrome DevTools",
  "mcpServers": {
    "chrome-devtools": {
      "command": "npx",
      "args": ["chrome-devtools-mcp@latest"]
    }
  }
}
"#;

#[test]
fn published_claude_code_plugins_load_with_their_npm_servers() {
    let dir = plugin(&[
        (CLAUDE_MANIFEST, PLAYWRIGHT_MANIFEST),
        (CLAUDE_MCP_FILE, PLAYWRIGHT_MCP),
    ]);
    let playwright = load(dir.path()).unwrap();
    assert_eq!(playwright.format, Format::ClaudeCode);
    assert_eq!(
        (playwright.name.as_str(), playwright.author.as_deref()),
        ("playwright", Some("Microsoft"))
    );
    assert_eq!(playwright.servers.len(), 1);
    assert_eq!(
        stdio(&playwright.servers[0]),
        ("npx".to_owned(), vec!["@playwright/mcp@latest".to_owned()])
    );
    assert!(playwright.left_out.is_empty(), "{:?}", playwright.left_out);
    // Published without AI Studio's section: nothing is granted.
    assert!(!playwright.has_studio_file);
    assert!(playwright.studio.permissions.network_is_off());
    assert!(!playwright.studio.permissions.shell);

    let dir = plugin(&[
        (CLAUDE_MANIFEST, FIREBASE_MANIFEST),
        (CLAUDE_MCP_FILE, FIREBASE_MCP),
    ]);
    let firebase = load(dir.path()).unwrap();
    assert_eq!(
        stdio(&firebase.servers[0]).1,
        ["-y", "firebase-tools@latest", "mcp"]
    );

    let dir = plugin(&[(CLAUDE_MANIFEST, CHROME_DEVTOOLS_MANIFEST)]);
    let chrome = load(dir.path()).unwrap();
    assert_eq!(chrome.version.as_deref(), Some("latest"));
    assert_eq!(chrome.servers[0].name, "chrome-devtools");
}

#[test]
fn placeholders_point_into_the_plugin_and_variables_are_named_not_read() {
    let manifest = r#"{
      "name": "tracker",
      "displayName": "Tracker",
      "version": "1.2.0",
      "mcpServers": "./config/servers.json",
      "commands": ["./commands/triage.md"],
      "hooks": "./hooks/hooks.json"
    }"#;
    let servers = r#"{"mcpServers": {
      "tracker": {"command": "node", "args": ["${CLAUDE_PLUGIN_ROOT}/server.js", "--db", "${CLAUDE_PLUGIN_DATA}/db"],
                  "env": {"TRACKER_TOKEN": "${TRACKER_TOKEN}"}},
      "cloud": {"type": "http", "url": "https://tracker.example.com/mcp",
                "headers": {"Authorization": "Bearer ${TRACKER_CLOUD_KEY:-}"}},
      "_comment": "skipped"
    }}"#;
    let dir = plugin(&[
        (CLAUDE_MANIFEST, manifest),
        ("config/servers.json", servers),
    ]);
    let tracker = load(dir.path()).unwrap();
    assert_eq!(tracker.title, "Tracker");
    let root = dir.path().canonicalize().unwrap().display().to_string();
    let local = tracker
        .servers
        .iter()
        .find(|s| s.name == "tracker")
        .unwrap();
    assert_eq!(
        stdio(local).1,
        [
            format!("{root}/server.js"),
            "--db".to_owned(),
            "/data/plugin/db".to_owned()
        ]
    );
    assert_eq!(tracker.servers.len(), 2);
    let mut refs = tracker.env_refs.clone();
    refs.sort();
    assert_eq!(refs, ["TRACKER_CLOUD_KEY", "TRACKER_TOKEN"]);
    assert_eq!(tracker.unused, ["commands", "hooks"]);
}

#[test]
fn an_agent_plugins_plugin_loads_from_its_root_manifest_and_mcp_json() {
    let manifest = r#"{
      "$schema": "https://agent-plugins.org/schemas/1.0.0/plugin.schema.json",
      "name": "notes.search",
      "version": "0.3.0",
      "author": {"name": "Notes Team"}
    }"#;
    let mcp = r#"{
      "$schema": "https://agent-plugins.org/schemas/1.0.0/mcp.schema.json",
      "mcpServers": {
        "notes": {"type": "stdio", "command": "python3", "args": ["${PLUGIN_ROOT}/serve.py"]},
        "remote": {"type": "streamable-http", "url": "https://notes.example.com/mcp"},
        "fs": {"type": "stdio", "command": "cat"}
      }
    }"#;
    let dir = plugin(&[
        (AGENT_PLUGINS_MANIFEST, manifest),
        (AGENT_PLUGINS_MCP_FILE, mcp),
    ]);
    let notes = load(dir.path()).unwrap();
    assert_eq!(notes.format, Format::AgentPlugins);
    assert_eq!(notes.author.as_deref(), Some("Notes Team"));
    let names: Vec<&str> = notes.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["notes", "remote"]);
    // A built-in tool's name is no server's.
    assert_eq!(notes.left_out.len(), 1, "{:?}", notes.left_out);
    assert!(notes.left_out[0].0.contains("fs"));

    // An mcp.json of another version turns its servers off, not the plugin.
    let other = mcp.replace("1.0.0/mcp", "2.0.0/mcp");
    let dir = plugin(&[
        (AGENT_PLUGINS_MANIFEST, manifest),
        (AGENT_PLUGINS_MCP_FILE, &other),
    ]);
    let off = load(dir.path()).unwrap();
    assert!(off.servers.is_empty());
    assert_eq!(off.left_out[0].0, AGENT_PLUGINS_MCP_FILE);
}

#[test]
fn ai_studios_section_grants_permissions_panels_templates_and_rules() {
    let section = r#"
format = 1
templates = ["templates/triager.toml", "templates/missing.toml", "../outside.toml", "README.md"]

[permissions]
read = ["~/notes"]
network = ["tracker.example.com", "*.tracker.example.com"]

[[permissions.env]]
name = "TRACKER_TOKEN"
description = "An API token"

[[panels]]
server = "tracker"
resource = "ui://tracker/issues"
title = "Issues"

[[rules]]
matches = "tracker.list_issues"
decision = "allow"
"#;
    let triager = crate::templates::text("writer")
        .unwrap()
        .replace("name = \"writer\"", "name = \"triager\"");
    let dir = plugin(&[
        (CLAUDE_MANIFEST, PLAYWRIGHT_MANIFEST),
        (STUDIO_FILE, section),
        ("templates/triager.toml", &triager),
        ("README.md", "# not a template"),
    ]);
    let loaded = load(dir.path()).unwrap();
    assert!(loaded.has_studio_file);
    let permissions = &loaded.studio.permissions;
    assert_eq!(permissions.read, ["~/notes"]);
    assert!(matches!(&permissions.network, Some(Network::Hosts(h)) if h.len() == 2));
    assert_eq!(permissions.env[0].name, "TRACKER_TOKEN");
    assert_eq!(loaded.studio.panels[0].resource, "ui://tracker/issues");
    assert_eq!(loaded.studio.rules.len(), 1);
    assert_eq!(loaded.templates.len(), 1);
    assert_eq!(loaded.templates[0].agent.name, "triager");
    let reasons: Vec<&str> = loaded
        .left_out
        .iter()
        .map(|(_, why)| why.as_str())
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].contains("not in the plugin"), "{reasons:?}");
    assert!(reasons[1].contains("leaves the plugin"), "{reasons:?}");

    for (bad, why) in [
        ("format = 2", "format"),
        (
            "format = 1\n[permissions]\nnetwork = \"sometimes\"",
            "network",
        ),
        ("format = 1\n[permissions]\nnetwork = [\"a b\"]", "host"),
        (
            "format = 1\n[permissions]\nwrite = [\"relative/path\"]",
            "absolute",
        ),
        ("format = 1\n[[permissions.env]]\nname = \"lower\"", "A-Z"),
        (
            "format = 1\n[[panels]]\nserver = \"t\"\nresource = \"https://x\"\ntitle = \"T\"",
            "ui://",
        ),
        ("format = 1\nsurprise = true", "surprise"),
    ] {
        let dir = plugin(&[(CLAUDE_MANIFEST, PLAYWRIGHT_MANIFEST), (STUDIO_FILE, bad)]);
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(STUDIO_FILE) && err.contains(why),
            "{bad}: {err}"
        );
    }
    let on = "format = 1\n[permissions]\nnetwork = \"on\"";
    let dir = plugin(&[(CLAUDE_MANIFEST, PLAYWRIGHT_MANIFEST), (STUDIO_FILE, on)]);
    let open = load(dir.path()).unwrap();
    assert_eq!(
        open.studio.permissions.network,
        Some(Network::Switch(NetworkSwitch::On))
    );
    assert!(!open.studio.permissions.network_is_off());
}

#[test]
fn malformed_oversized_symlinked_and_unknown_manifests_are_refused() {
    let refused = |files: &[(&str, &str)], why: &str| {
        let dir = plugin(files);
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains(why), "{files:?}: {err}");
    };
    refused(&[(CLAUDE_MANIFEST, "{ not json")], "plugin.json");
    refused(
        &[(CLAUDE_MANIFEST, r#"{"description": "no name"}"#)],
        "name",
    );
    refused(&[(CLAUDE_MANIFEST, r#"{"name": "Not Kebab"}"#)], "kebab");
    refused(
        &[(CLAUDE_MANIFEST, r#"{"name": "k", "keywords": "a string"}"#)],
        "expected a sequence",
    );
    refused(
        &[(CLAUDE_MANIFEST, r#"{"name": "k", "mcpServers": 7}"#)],
        "mcpServers",
    );
    let huge = format!(
        r#"{{"name": "big", "description": "{}"}}"#,
        "x".repeat(MAX_MANIFEST_BYTES as usize)
    );
    refused(&[(CLAUDE_MANIFEST, &huge)], "over the limit");
    refused(&[(AGENT_PLUGINS_MANIFEST, r#"{"name": "x"}"#)], "$schema");
    refused(
        &[(
            AGENT_PLUGINS_MANIFEST,
            r#"{"$schema": "https://agent-plugins.org/schemas/9.0.0/plugin.schema.json", "name": "x"}"#,
        )],
        "not Agent Plugins 1.0.0",
    );
    refused(
        &[(
            AGENT_PLUGINS_MANIFEST,
            r#"{"$schema": "https://agent-plugins.org/schemas/1.0.0/plugin.schema.json", "name": "x", "author": {"name": "a", "phone": "1"}}"#,
        )],
        "phone",
    );
    // A field the specification lacks is named, not refused.
    let dir = plugin(&[(
        AGENT_PLUGINS_MANIFEST,
        r#"{"$schema": "https://agent-plugins.org/schemas/1.0.0/plugin.schema.json", "name": "x", "commands": []}"#,
    )]);
    assert_eq!(load(dir.path()).unwrap().unused, ["commands"]);
    refused(&[("README.md", "hello")], "no plugin manifest");

    // A manifest that is a symlink (to a file outside) is not read.
    let outside = plugin(&[("secret.json", r#"{"name": "stolen"}"#)]);
    let dir = plugin(&[]);
    std::fs::create_dir_all(dir.path().join(".claude-plugin")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.json"),
        dir.path().join(CLAUDE_MANIFEST),
    )
    .unwrap();
    let err = load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("symlink"), "{err}");

    // A server file that leaves the plugin is left out, unread.
    let dir = plugin(&[(
        CLAUDE_MANIFEST,
        r#"{"name": "sneaky", "mcpServers": "../../etc/passwd"}"#,
    )]);
    let sneaky = load(dir.path()).unwrap();
    assert!(sneaky.servers.is_empty());
    assert!(
        sneaky.left_out[0].1.contains("leaves the plugin"),
        "{:?}",
        sneaky.left_out
    );
}
