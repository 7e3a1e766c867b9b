//! Installing plugins through the CLI: a marketplace made here as a git
//! repository (over `file://`) lists a tracker plugin pinned by its
//! checksum; it is found, refused without consent (nothing installed),
//! installed with it at the marketplace's commit, disabled and enabled;
//! an update that asks for more network and the shell says what changed
//! and is refused until agreed to; an update with the same files changes
//! nothing; removal takes its files. Refused with a clear error and
//! nothing left behind: a malformed manifest, a wrong checksum, an
//! over-large manifest, a symlink out of the plugin, a name the manifest
//! contradicts. A folder and a git URL at a tag install too; an enabled
//! plugin's templates are listed and shown with the gallery's.

use std::path::Path;

use protocol::layout::Layout;
use serde_json::{Value, json};

use crate::cli_harness::{Cli, path};
use crate::gallery::{commit, new_repo, put, url};
use crate::run_workspaces::git;

const STUDIO_V1: &str = r#"
format = 1

[permissions]
network = ["tracker.example.com"]

[[permissions.env]]
name = "TRACKER_TOKEN"
description = "An API token"
"#;

const STUDIO_V2: &str = r#"
format = 1

[permissions]
network = ["tracker.example.com", "uploads.example.com"]
shell = true

[[permissions.env]]
name = "TRACKER_TOKEN"
description = "An API token"
"#;

/// Writes a tracker plugin at `dir`, at `version`, with `studio` as its
/// `studio-plugin.toml`.
fn tracker(dir: &Path, name: &str, version: &str, studio: &str) {
    let manifest = json!({
        "name": name,
        "version": version,
        "description": "Issues, from your agents.",
        "keywords": ["issues"],
    });
    put(dir, ".claude-plugin/plugin.json", &manifest.to_string());
    put(
        dir,
        ".mcp.json",
        r#"{"tracker": {"command": "node", "args": ["${CLAUDE_PLUGIN_ROOT}/server.js"]}}"#,
    );
    put(dir, "server.js", "// the tracker's server\n");
    put(dir, "studio-plugin.toml", studio);
}

/// The checksum `studio plugin check` gives the plugin at `dir`.
fn sum(cli: &Cli, dir: &Path) -> String {
    cli.json(&["plugin", "check", path(dir)])["sha256"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn market_index(entries: &[Value]) -> String {
    json!({
        "name": "team-tools",
        "owner": {"name": "Team"},
        "plugins": entries,
    })
    .to_string()
}

fn installed(cli: &Cli) -> Vec<Value> {
    cli.json(&["plugin", "list"]).as_array().unwrap().clone()
}

#[test]
fn a_marketplace_plugin_installs_pinned_and_updates_asking_again_for_more() {
    let cli = Cli::new();
    let plugins = Layout::new(cli.data_dir()).plugins();
    let market = new_repo(&cli, "market");
    tracker(
        &market.join("plugins/tracker"),
        "tracker",
        "1.0.0",
        STUDIO_V1,
    );
    tracker(&market.join("plugins/notes"), "notes", "1.0.0", STUDIO_V1);
    put(
        &market,
        "plugins/broken/.claude-plugin/plugin.json",
        "{ \"name\": ",
    );
    tracker(&market.join("plugins/liar"), "not-liar", "1.0.0", STUDIO_V1);
    let v1 = sum(&cli, &market.join("plugins/tracker"));
    let index = |tracker_sum: &str| {
        market_index(&[
            json!({"name": "tracker", "source": "./plugins/tracker", "version": "1.0.0",
                   "description": "An issue tracker", "sha256": tracker_sum}),
            json!({"name": "notes", "source": "./plugins/notes", "sha256": "0".repeat(64)}),
            json!({"name": "broken", "source": "./plugins/broken"}),
            json!({"name": "liar", "source": "./plugins/liar"}),
            json!({"name": "from-npm", "source": {"source": "npm", "package": "x"}}),
        ])
    };
    put(&market, ".claude-plugin/marketplace.json", &index(&v1));
    let first = commit(&market, "v1");

    let out = cli.run(&["plugin", "marketplace", "add", &url(&market)]);
    let said = String::from_utf8_lossy(&out.stdout);
    let warned = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}{warned}");
    assert!(
        said.contains("marketplace team-tools added: 4 plugin(s)"),
        "{said}"
    );
    assert!(warned.contains("left out: from-npm"), "{warned}");
    let found = cli.json(&["plugin", "search", "issue"]);
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found[0]["entry"]["name"], "tracker");
    assert_eq!(found[0]["market"], "team-tools");

    // No terminal, no --yes: it says what it asks and installs nothing.
    let err = cli.fails(&["plugin", "install", "tracker"], 2);
    assert!(err.contains("reach tracker.example.com"), "{err}");
    assert!(err.contains("a value for TRACKER_TOKEN"), "{err}");
    assert!(err.contains("add --yes"), "{err}");
    assert!(installed(&cli).is_empty());
    assert!(!plugins.join("tracker").exists());

    let text = cli.ok(&["plugin", "install", "tracker@team-tools", "--yes"]);
    assert!(text.contains("installed tracker 1.0.0"), "{text}");
    let list = installed(&cli);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["version"], "1.0.0");
    assert_eq!(list[0]["enabled"], true);
    assert_eq!(list[0]["sha256"], v1.as_str());
    assert_eq!(list[0]["origin"]["kind"], "marketplace");
    assert_eq!(list[0]["origin"]["commit"], first.as_str());
    assert_eq!(list[0]["servers"][0], "tracker");
    assert!(plugins.join("tracker/server.js").is_file());
    let err = cli.fails(&["plugin", "install", "tracker", "--yes"], 2);
    assert!(err.contains("already installed"), "{err}");

    for (name, says) in [
        ("notes", "but the marketplace pins"),
        ("broken", ".claude-plugin/plugin.json"),
        ("liar", "its manifest names \"not-liar\""),
    ] {
        let err = cli.fails(&["plugin", "install", name, "--yes"], 2);
        assert!(err.contains(says), "{name}: {err}");
        assert!(err.contains("nothing was installed"), "{name}: {err}");
        assert!(!plugins.join(name).exists(), "{name}");
    }
    let err = cli.fails(&["plugin", "install", "from-npm", "--yes"], 4);
    assert!(err.contains("no marketplace lists"), "{err}");
    assert_eq!(installed(&cli).len(), 1);
    let leftovers: Vec<_> = std::fs::read_dir(&plugins)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with(".fetch"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    cli.ok(&["plugin", "disable", "tracker"]);
    assert_eq!(installed(&cli)[0]["enabled"], false);
    cli.ok(&["plugin", "enable", "tracker"]);
    assert_eq!(installed(&cli)[0]["enabled"], true);

    // Version 1.1.0 asks for another host and the shell.
    tracker(
        &market.join("plugins/tracker"),
        "tracker",
        "1.1.0",
        STUDIO_V2,
    );
    let v2 = sum(&cli, &market.join("plugins/tracker"));
    put(&market, ".claude-plugin/marketplace.json", &index(&v2));
    commit(&market, "v2");
    let out = cli.run(&["plugin", "update", "tracker"]);
    let said = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}{err}");
    assert!(said.contains("version 1.0.0 -> 1.1.0"), "{said}");
    assert!(
        err.contains("reach uploads.example.com; run shell commands"),
        "{err}"
    );
    assert!(
        !err.contains("tracker.example.com"),
        "granted before: {err}"
    );
    assert_eq!(installed(&cli)[0]["version"], "1.0.0");

    let report = cli.json(&["plugin", "update", "tracker", "--yes"]);
    assert_eq!(report[0]["changed"], true, "{report}");
    let now = &installed(&cli)[0];
    assert_eq!(now["version"], "1.1.0");
    assert_eq!(now["sha256"], v2.as_str());
    assert_eq!(now["granted"]["shell"], true);
    let text = cli.ok(&["plugin", "update", "tracker"]);
    assert!(text.contains("tracker: no change"), "{text}");

    cli.ok(&["plugin", "rm", "tracker"]);
    assert!(installed(&cli).is_empty());
    assert!(!plugins.join("tracker").exists());
    cli.ok(&["plugin", "marketplace", "rm", "team-tools"]);
    let err = cli.fails(&["plugin", "install", "tracker@team-tools"], 4);
    assert!(err.contains("no marketplace \"team-tools\""), "{err}");
}

#[test]
fn folders_and_git_tags_install_and_bad_plugins_are_refused_whole() {
    let cli = Cli::new();
    let plugins = Layout::new(cli.data_dir()).plugins();

    let folder = cli.tmp.path().join("from-folder");
    tracker(&folder, "tracker", "0.1.0", STUDIO_V1);
    cli.ok(&["plugin", "install", path(&folder), "--yes"]);
    let list = installed(&cli);
    assert_eq!(list[0]["origin"]["kind"], "folder");
    // Its server's placeholder names where it is installed, not the folder.
    let check = cli.json(&["plugin", "check", path(&plugins.join("tracker"))]);
    assert!(
        check["servers"][0]["runs"]
            .as_str()
            .unwrap()
            .contains(path(&plugins.join("tracker/server.js"))),
        "{check}"
    );
    cli.ok(&["plugin", "rm", "tracker"]);

    let repo = new_repo(&cli, "repo");
    tracker(&repo, "tracker", "2.0.0", STUDIO_V1);
    let tagged = commit(&repo, "2.0.0");
    git(&repo, &["tag", "v2"]);
    tracker(&repo, "tracker", "3.0.0-dev", STUDIO_V1);
    commit(&repo, "work in progress");
    cli.ok(&["plugin", "install", &url(&repo), "--ref", "v2", "--yes"]);
    let list = installed(&cli);
    assert_eq!(list[0]["version"], "2.0.0");
    assert_eq!(list[0]["origin"]["kind"], "git");
    assert_eq!(list[0]["origin"]["commit"], tagged.as_str());
    cli.ok(&["plugin", "rm", "tracker"]);

    // A plugin's templates join the gallery while it is enabled.
    let kit = cli.tmp.path().join("kit");
    tracker(
        &kit,
        "kit",
        "1.0.0",
        "format = 1\ntemplates = [\"templates/triager.toml\"]\n",
    );
    let template = studio_client::templates::text("writer")
        .unwrap()
        .replace("name = \"writer\"", "name = \"triager\"");
    put(&kit, "templates/triager.toml", &template);
    cli.ok(&["plugin", "install", path(&kit), "--yes"]);
    let listed = cli.json(&["template", "list"]);
    let triager = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "triager")
        .expect("the plugin's template is listed");
    assert_eq!(triager["source"], "plugin:kit");
    let shown = cli.ok(&["template", "show", "plugin:kit/triager"]);
    assert!(shown.contains("name = \"triager\""), "{shown}");
    cli.ok(&["plugin", "disable", "kit"]);
    let listed = cli.json(&["template", "list"]);
    assert!(
        !listed
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "triager"),
        "a disabled plugin's template is listed"
    );
    cli.ok(&["plugin", "rm", "kit"]);

    // A plugin as published, whose server comes from the npm registry.
    let published =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/plugins/published/playwright");
    let text = cli.ok(&["plugin", "install", path(&published), "--yes"]);
    assert!(
        text.contains("playwright: npx @playwright/mcp@latest"),
        "{text}"
    );
    assert!(text.contains("installed playwright"), "{text}");
    cli.ok(&["plugin", "rm", "playwright"]);

    // A marketplace entry whose folder in its repository is a link out of
    // it (to a plugin the user keeps elsewhere): refused, nothing copied.
    let elsewhere = cli.tmp.path().join("elsewhere");
    tracker(&elsewhere, "outside", "1.0.0", STUDIO_V1);
    let linked_repo = new_repo(&cli, "linked-repo");
    std::os::unix::fs::symlink(&elsewhere, linked_repo.join("plugins")).unwrap();
    commit(&linked_repo, "a link");
    let linky = cli.tmp.path().join("linky");
    put(
        &linky,
        ".claude-plugin/marketplace.json",
        &json!({"name": "linky", "plugins": [{"name": "outside", "source": {
            "source": "git-subdir", "url": url(&linked_repo), "path": "plugins"}}]})
        .to_string(),
    );
    cli.ok(&["plugin", "marketplace", "add", path(&linky)]);
    let err = cli.fails(&["plugin", "install", "outside@linky", "--yes"], 2);
    assert!(err.contains("through a symbolic link"), "{err}");
    assert!(!plugins.join("outside").exists());

    // Over-large manifest, a link out, an odd URL: each refused whole.
    let big = cli.tmp.path().join("big");
    tracker(&big, "big", "1.0.0", STUDIO_V1);
    let padding = " ".repeat(300 * 1024);
    put(
        &big,
        ".claude-plugin/plugin.json",
        &format!("{{\"name\": \"big\"{padding}}}"),
    );
    let err = cli.fails(&["plugin", "install", path(&big), "--yes"], 2);
    assert!(err.contains("plugin.json"), "{err}");
    let linked = cli.tmp.path().join("linked");
    tracker(&linked, "linked", "1.0.0", STUDIO_V1);
    std::os::unix::fs::symlink("/etc/passwd", linked.join("passwd")).unwrap();
    let err = cli.fails(&["plugin", "install", path(&linked), "--yes"], 2);
    assert!(err.contains("passwd is a symbolic link"), "{err}");
    let err = cli.fails(
        &["plugin", "install", "--upload-pack=touch /tmp/x", "--yes"],
        2,
    );
    assert!(err.contains("starts with '-'"), "{err}");
    assert!(installed(&cli).is_empty());
    for name in ["big", "linked"] {
        assert!(!plugins.join(name).exists(), "{name}");
    }
}
