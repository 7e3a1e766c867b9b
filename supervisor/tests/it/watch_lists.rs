//! `WatchLists`: a client watching the daemon's lists hears each change
//! another client made (here the CLI), named by its list, and nothing for
//! requests that only read or that failed.

use std::time::Duration;

use protocol::control::{ControlRequest, ListKind, Push};
use protocol::layout::Layout;
use studio_client::{Client, Subscription};

use crate::cli_harness::Cli;

/// The next push within a few seconds.
async fn next(watch: &mut Subscription) -> Option<Push> {
    tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .ok()
        .flatten()
}

/// Nothing pushed for a moment.
async fn quiet(watch: &mut Subscription) {
    let push = tokio::time::timeout(Duration::from_millis(700), watch.next()).await;
    assert!(push.is_err(), "pushed {push:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_change_by_another_client_is_pushed_by_name() {
    let cli = Cli::new();
    cli.ok(&["agent", "create", "first"]);
    let client = Client::connect(&Layout::new(cli.data_dir())).await.unwrap();
    let mut watch = client.subscribe(ControlRequest::WatchLists).await.unwrap();

    let changes: [(&[&str], &[ListKind]); 8] = [
        (&["agent", "create", "second"], &[ListKind::Agents]),
        (
            &["rules", "add", "shell:command=make *", "--deny"],
            &[ListKind::Rules],
        ),
        (
            &["pricing", "set", "m-1", "--input", "1", "--output", "2"],
            &[ListKind::Prices],
        ),
        (
            &["daemon", "limits", "--max-concurrent", "7"],
            &[ListKind::Limits],
        ),
        (
            &["mcp", "add", "files", "--", "true"],
            &[ListKind::McpServers],
        ),
        (&["mcp", "rm", "files"], &[ListKind::McpServers]),
        (&["pricing", "rm", "m-1"], &[ListKind::Prices]),
        (
            &["agent", "rm", "second"],
            &[ListKind::Agents, ListKind::Rules],
        ),
    ];
    for (args, lists) in changes {
        cli.ok(args);
        for list in lists {
            assert_eq!(
                next(&mut watch).await,
                Some(Push::ListChanged(*list)),
                "after studio {args:?}"
            );
        }
    }
    // A key, read from stdin as a person pastes it.
    let dir = cli.data_dir();
    crate::secrets_at_rest::studio_ok(&dir, &["keys", "set", "openai"], "sk-watched\n");
    assert_eq!(
        next(&mut watch).await,
        Some(Push::ListChanged(ListKind::Keys))
    );
    crate::secrets_at_rest::studio_ok(&dir, &["keys", "rm", "openai"], "");
    assert_eq!(
        next(&mut watch).await,
        Some(Push::ListChanged(ListKind::Keys))
    );
    // Reads, and a change that was refused, push nothing.
    cli.ok(&["agent", "list"]);
    cli.ok(&["rules", "list"]);
    cli.fails(&["agent", "rm", "nobody"], 4);
    quiet(&mut watch).await;
}
