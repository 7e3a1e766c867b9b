//! `kill -9` of the daemon loses nothing it acknowledged (issue test 2),
//! and a restart is not turned away by what the killed daemon left.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use protocol::control::{ControlRequest, ControlResponse};
use protocol::event::{EventKind, SessionStatus};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_daemon_takes_its_workers_and_a_restart_marks_their_sessions_interrupted() {
    let mut daemon = TestDaemon::start(32).await;
    let client = daemon.client().await;
    create_agent(&client, agent("long", 400, 50)).await;
    let mut sessions = Vec::new();
    for n in 0..20 {
        sessions.push(run(&client, spec("long", &format!("run {n}"))).await);
    }
    for session in &sessions {
        wait_for(&client, *session, "streaming", |s| s.events >= 6).await;
    }
    // What clients were shown is acknowledged: committed before it was shown.
    let mut acknowledged = HashMap::new();
    let mut pids = Vec::new();
    for session in &sessions {
        let seen = events(&client, *session).await;
        pids.push(worker_pid(&seen).expect("worker started"));
        acknowledged.insert(*session, seen);
    }
    drop(client);

    daemon.kill9();
    let deadline = Instant::now() + Duration::from_secs(1);
    while pids
        .iter()
        .any(|pid| alive(*pid) || !group_members(*pid).is_empty())
    {
        assert!(
            Instant::now() < deadline,
            "workers outlived the daemon by a second: {:?}",
            pids.iter().filter(|p| alive(**p)).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    daemon.restart().await;
    let client = daemon.client().await;
    for session in &sessions {
        let now = events(&client, *session).await;
        let before = &acknowledged[session];
        assert!(
            now.len() > before.len(),
            "{session}: the interrupted event was added"
        );
        assert_eq!(
            &now[..before.len()],
            &before[..],
            "{session}: every acknowledged event is still there"
        );
        assert_log_is_whole(&now);
        assert_eq!(now.last().unwrap().kind, EventKind::SessionInterrupted);
        assert_eq!(
            summary(&client, *session).await.status,
            SessionStatus::Interrupted
        );
    }
    let ControlResponse::Sessions(live) = client
        .request(ControlRequest::SessionList {
            all: false,
            limit: 100,
        })
        .await
        .unwrap()
    else {
        panic!("expected sessions");
    };
    assert!(live.is_empty(), "nothing is left live: {live:?}");

    // The restarted daemon works normally.
    create_agent(&client, agent("quick", 3, 0)).await;
    let fresh = run(&client, spec("quick", "after the restart")).await;
    let events = follow_to_end(&client, fresh, Duration::from_secs(20)).await;
    assert_eq!(events.last().unwrap().kind, EventKind::SessionCompleted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_records_live_sessions_as_interrupted() {
    let mut daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    create_agent(&client, agent("long", 400, 50)).await;
    let session = run(&client, spec("long", "interrupted")).await;
    wait_for(&client, session, "streaming", |s| s.events >= 6).await;
    let pid = worker_pid(&events(&client, session).await).unwrap();
    client.request(ControlRequest::Shutdown).await.unwrap();
    let status = tokio::task::spawn_blocking(move || daemon.child.wait().map(|s| (s, daemon)))
        .await
        .unwrap()
        .unwrap();
    assert!(status.0.success(), "the daemon exits cleanly: {}", status.0);
    let mut daemon = status.1;
    assert!(!alive(pid) && group_members(pid).is_empty());
    // The database was closed cleanly although a client was still connected:
    // it opens read-only, which it would not if it needed a repair.
    let snapshot = supervisor::store::Snapshot::open(&daemon.dir.database()).unwrap();
    assert_eq!(
        snapshot.events(session).unwrap().last().unwrap().kind,
        EventKind::SessionInterrupted
    );
    drop(snapshot);
    drop(client);
    assert!(
        !daemon.dir.control_socket().exists(),
        "sockets are removed on a clean stop"
    );
    daemon.restart().await;
    let client = daemon.client().await;
    let log = events(&client, session).await;
    assert_log_is_whole(&log);
    assert_eq!(log.last().unwrap().kind, EventKind::SessionInterrupted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_waits_out_a_lock_a_dying_child_holds_but_not_a_live_daemon() {
    let mut daemon = TestDaemon::start(4).await;
    // A second daemon on a data dir whose daemon is alive is refused,
    // naming it.
    let mut second = daemon.spawn_another();
    let status = second.wait().unwrap();
    assert!(!status.success());
    let said = format!(
        "already running for {} (pid {})",
        daemon.dir.root().display(),
        daemon.child.id()
    );
    assert!(daemon.log().contains(&said), "{}", daemon.log());
    // Killed while starting a process, a daemon leaves that child holding
    // a copy of the lock until it executes: for a moment, the lock is held
    // by no daemon.
    daemon.kill9();
    let held = std::fs::OpenOptions::new()
        .write(true)
        .open(daemon.dir.lock_file())
        .unwrap();
    rustix::fs::flock(&held, rustix::fs::FlockOperation::NonBlockingLockExclusive).unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(held);
    });
    daemon.restart().await;
    release.join().unwrap();
    let client = daemon.client().await;
    assert!(client.request(ControlRequest::AgentList).await.is_ok());
}
