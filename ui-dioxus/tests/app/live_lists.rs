//! The app's lists stay current without reconnecting: what the CLI (or
//! another window) changes reaches the open app through the daemon's
//! `WatchLists` pushes: agents, keys, MCP servers, rules, prices and
//! limits.

// A panic is how a test fails.

use std::io::Write;
use std::process::{Command, Stdio};

use protocol::ProviderKind;
use protocol::control::KeySource;
use protocol::layout::Layout;
use ui_dioxus::{Target, Update};

use crate::common::Daemon;
use crate::connection::{next, start_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_cli_changes_shows_in_the_open_app() {
    let daemon = Daemon::new("sul");
    daemon.studio(&["agent", "create", "first"]);
    let target = Target {
        layout: Layout::new(&daemon.dir),
        studio_bin: daemon.studio.clone(),
    };
    let (_commands, mut updates, task) = start_app(target);
    // The lists asked for at connect come in, in any order.
    let (mut agents, mut prices) = (false, false);
    next(&mut updates, |u| {
        match u {
            Update::Agents(list) => agents = list.iter().any(|a| a.name == "first"),
            Update::Pricing(_) => prices = true,
            _ => {}
        }
        (agents && prices).then_some(())
    })
    .await;

    daemon.studio(&["agent", "create", "from-cli"]);
    next(&mut updates, |u| match u {
        Update::Agents(agents) => agents.iter().any(|a| a.name == "from-cli").then_some(()),
        _ => None,
    })
    .await;

    daemon.studio(&["rules", "add", "shell:command=make *", "--deny"]);
    next(&mut updates, |u| match u {
        Update::Rules(rules) => (rules.len() == 1).then_some(()),
        _ => None,
    })
    .await;

    daemon.studio(&["mcp", "add", "files", "--", "true"]);
    next(&mut updates, |u| match u {
        Update::Mcp(servers) => servers.iter().any(|s| s.name == "files").then_some(()),
        _ => None,
    })
    .await;

    daemon.studio(&["pricing", "set", "m-live", "--input", "1", "--output", "2"]);
    next(&mut updates, |u| match u {
        Update::Pricing(table) => table
            .entries
            .iter()
            .any(|e| e.model == "m-live")
            .then_some(()),
        _ => None,
    })
    .await;

    daemon.studio(&["daemon", "limits", "--max-concurrent", "7"]);
    next(&mut updates, |u| match u {
        Update::Connected(status) => (status.max_concurrent_runs == 7).then_some(()),
        _ => None,
    })
    .await;

    // A key, pasted on stdin as a person does.
    let mut keys = Command::new(&daemon.studio)
        .arg("--data-dir")
        .arg(&daemon.dir)
        .args(["keys", "set", "openai"])
        .env_remove("STUDIO_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    keys.stdin
        .take()
        .unwrap()
        .write_all(b"sk-live-lists\n")
        .unwrap();
    assert!(keys.wait().unwrap().success());
    next(&mut updates, |u| match u {
        Update::Keys(keys) => keys
            .iter()
            .any(|k| k.provider == ProviderKind::OpenAi && k.source == KeySource::Stored)
            .then_some(()),
        _ => None,
    })
    .await;

    daemon.studio(&["agent", "rm", "from-cli"]);
    next(&mut updates, |u| match u {
        Update::Agents(agents) => (!agents.iter().any(|a| a.name == "from-cli")).then_some(()),
        _ => None,
    })
    .await;
    task.abort();
}
