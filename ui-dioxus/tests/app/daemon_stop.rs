//! A daemon stopped on purpose stays stopped: the open app says so, refuses
//! to act, and starts it only when the person asks (or reconnects to one
//! started elsewhere). A crashed daemon is started again (`connection`).

// A panic is how a test fails.

use std::time::Duration;

use protocol::layout::Layout;
use ui_dioxus::{Command, Target, Update};

use crate::common::Daemon;
use crate::connection::{next, start_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_daemon_is_started_again_only_when_asked() {
    let daemon = Daemon::new("sus");
    daemon.studio(&["agent", "create", "w"]);
    let layout = Layout::new(&daemon.dir);
    let target = Target {
        layout: layout.clone(),
        studio_bin: daemon.studio.clone(),
    };
    let (commands, mut updates, task) = start_app(target);
    let first = next(&mut updates, |u| match u {
        Update::Connected(status) => Some(status.pid),
        _ => None,
    })
    .await;

    daemon.studio(&["daemon", "stop"]);
    next(&mut updates, |u| (u == Update::Stopped).then_some(())).await;
    // Left stopped: a few seconds on, nothing listens and the app did not
    // connect anywhere.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !layout.control_socket().exists(),
        "the app restarted the daemon"
    );
    while let Ok(update) = updates.try_recv() {
        assert!(
            !matches!(update, Update::Connected(_)),
            "connected while stopped: {update:?}"
        );
    }
    // Acting while stopped says why nothing happens.
    commands
        .send(Command::Kill(protocol::SessionId::new()))
        .unwrap();
    let refusal = next(&mut updates, |u| match u {
        Update::Failed(message) => Some(message),
        _ => None,
    })
    .await;
    assert!(refusal.contains("the daemon is stopped"), "{refusal}");

    // Asked: it starts a new one and connects.
    commands.send(Command::StartDaemon).unwrap();
    let second = next(&mut updates, |u| match u {
        Update::Connected(status) => Some(status.pid),
        _ => None,
    })
    .await;
    assert_ne!(second, first);

    // Stopped again and started from the terminal: the app follows.
    daemon.studio(&["daemon", "stop"]);
    next(&mut updates, |u| (u == Update::Stopped).then_some(())).await;
    daemon.studio(&["daemon", "start"]);
    let third = next(&mut updates, |u| match u {
        Update::Connected(status) => Some(status.pid),
        _ => None,
    })
    .await;
    assert_ne!(third, second);
    task.abort();
}
