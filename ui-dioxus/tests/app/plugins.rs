//! The Plugins section end to end in Chromium (`tests/e2e/plugins.mjs`,
//! typed at human speed while runs stream) against a real daemon: a
//! marketplace made here as a git repository, served over `file://`, holds
//! the sample tracker plugin and one that needs a token. The script adds
//! the marketplace, reviews and installs both, stores the token, disables
//! and removes the tracker. Then what is on disk is checked: the plugin
//! that stays is installed and enabled at the marketplace's commit, the
//! removed one's files are gone, and the token is in the daemon's secret
//! store under the plugin's name, never in the database.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::{Daemon, run_browser_script, serve_web};

const SECRET: &str = "needy-token-8675309";

fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Copies the sample tracker plugin to `dir` as plugin `name`, with
/// `studio` as its `studio-plugin.toml` when given.
fn tracker_as(dir: &Path, name: &str, studio: Option<&str>) {
    let tracker = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/plugins/tracker");
    std::fs::create_dir_all(dir.join(".claude-plugin")).unwrap();
    for file in [".mcp.json", "server.mjs", "studio-plugin.toml"] {
        std::fs::copy(tracker.join(file), dir.join(file)).unwrap();
    }
    let manifest = std::fs::read_to_string(tracker.join(".claude-plugin/plugin.json"))
        .unwrap()
        .replace("\"name\": \"tracker\"", &format!("\"name\": \"{name}\""));
    std::fs::write(dir.join(".claude-plugin/plugin.json"), manifest).unwrap();
    if let Some(studio) = studio {
        std::fs::write(dir.join("studio-plugin.toml"), studio).unwrap();
    }
}

#[test]
fn plugins_are_found_reviewed_installed_given_a_token_and_removed_in_the_app() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Chromium is not installed: run scripts/setup"
    );
    let daemon = Daemon::new("plg");
    let market = daemon.tmp.path().join("market");
    std::fs::create_dir_all(market.join(".claude-plugin")).unwrap();
    tracker_as(&market.join("plugins/tracker"), "tracker", None);
    tracker_as(
        &market.join("plugins/needy"),
        "needy",
        Some(
            "format = 1\n\n[[permissions.env]]\nname = \"NEEDY_TOKEN\"\ndescription = \"A token of your account\"\n",
        ),
    );
    std::fs::write(
        market.join(".claude-plugin/marketplace.json"),
        r#"{"name": "team", "owner": {"name": "Team"}, "plugins": [
            {"name": "tracker", "source": "./plugins/tracker", "version": "1.0.0", "description": "Issues, with a panel"},
            {"name": "needy", "source": "./plugins/needy", "version": "1.0.0", "description": "Needs a token"}]}"#,
    )
    .unwrap();
    git(&market, &["init", "-q", "-b", "main"]);
    git(&market, &["add", "-A"]);
    git(&market, &["commit", "-q", "-m", "plugins"]);
    let commit = git(&market, &["rev-parse", "HEAD"]).trim().to_owned();
    daemon.studio(&["daemon", "start"]);

    let (_server, url) = serve_web(&daemon, &[]);
    run_browser_script(
        "plugins.mjs",
        &url,
        &daemon,
        &[
            &format!("file://{}", market.display()),
            SECRET,
            daemon.studio.to_str().unwrap(),
            daemon.dir.to_str().unwrap(),
        ],
    );

    let listed: Value =
        serde_json::from_slice(&daemon.studio(&["--json", "plugin", "list"]).stdout).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["name"], "needy");
    assert_eq!(listed[0]["enabled"], true);
    assert_eq!(listed[0]["origin"]["commit"], commit.as_str());
    let plugins = protocol::layout::Layout::new(&daemon.dir).plugins();
    assert!(plugins.join("needy/server.mjs").is_file());
    assert!(
        !plugins.join("tracker").exists(),
        "the removed plugin's files"
    );
    let secrets = std::fs::read_to_string(daemon.dir.join("secrets.json")).unwrap();
    assert!(secrets.contains("plugin/needy/NEEDY_TOKEN"), "{secrets}");
    let database = std::fs::read(daemon.dir.join("studio.redb")).unwrap();
    assert!(
        !database
            .windows(SECRET.len())
            .any(|w| w == SECRET.as_bytes()),
        "the token is in the database"
    );
}
