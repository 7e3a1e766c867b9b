//! One misbehaving run never disturbs the others (issue test 1).

use std::time::Duration;

use protocol::SessionId;
use protocol::agent::{Budgets, Fault, ScriptPatch};
use protocol::control::{ControlRequest, RunSpec};
use protocol::event::{BudgetKind, EventKind, ExitInfo, StopReason};
use studio_client::Client;

use crate::support::*;

const CHUNKS: u32 = 40;

fn faulty(fault: Fault) -> ScriptPatch {
    ScriptPatch {
        fault: Some(fault),
        fault_after_chunks: Some(3),
        ..ScriptPatch::default()
    }
}

/// Polls until `chunks` response chunks of `session` are recorded: for a
/// run faulty after that many, the fault has struck (it strikes right after
/// they are flushed, before the worker reads anything else).
async fn wait_for_chunks(client: &Client, session: SessionId, chunks: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let recorded = events(client, session)
            .await
            .iter()
            .filter(|e| matches!(e.kind, EventKind::LlmResponseChunk { .. }))
            .count();
        if recorded >= chunks {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{session}: timed out waiting for {chunks} chunks"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_runs_where_five_misbehave_and_the_rest_finish_whole() {
    let daemon = TestDaemon::start(64).await;
    let client = daemon.client().await;
    create_agent(&client, agent("steady", CHUNKS, 25)).await;

    let mut normal = Vec::new();
    for n in 0..45 {
        normal.push(run(&client, spec("steady", &format!("run {n}"))).await);
    }
    let to_kill = run(&client, spec("steady", "to be killed")).await;
    let panics = run(
        &client,
        RunSpec {
            script: faulty(Fault::Panic),
            ..spec("steady", "panics")
        },
    )
    .await;
    let aborts = run(
        &client,
        RunSpec {
            script: faulty(Fault::Abort),
            ..spec("steady", "aborts")
        },
    )
    .await;
    let hangs = run(
        &client,
        RunSpec {
            script: faulty(Fault::Hang),
            ..spec("steady", "hangs")
        },
    )
    .await;
    let leaks = run(
        &client,
        RunSpec {
            script: faulty(Fault::GrowMemory { mib_per_sec: 200 }),
            budgets: Budgets {
                max_memory_mib: Some(48),
                ..Budgets::default()
            },
            ..spec("steady", "leaks")
        },
    )
    .await;

    // Mid-stream: kill one, cancel the hung one once it has stopped talking.
    wait_for(&client, to_kill, "a few chunks", |s| s.events >= 8).await;
    client
        .request(ControlRequest::Kill { session: to_kill })
        .await
        .unwrap();
    wait_for_chunks(&client, hangs, 3).await;
    client
        .request(ControlRequest::Cancel { session: hangs })
        .await
        .unwrap();

    let timeout = Duration::from_secs(60);
    for session in &normal {
        let events = follow_to_end(&client, *session, timeout).await;
        assert_log_is_whole(&events);
        assert_eq!(
            events.last().unwrap().kind,
            EventKind::SessionCompleted,
            "{session}"
        );
        let (streamed, message) = answer(&events);
        assert_eq!(
            streamed.chars().count(),
            (CHUNKS * 8) as usize,
            "{session}: full answer"
        );
        assert_eq!(message.as_deref(), Some(streamed.as_str()), "{session}");
    }

    let ended = |events: &[protocol::event::Event]| events.last().unwrap().kind.clone();
    let killed = follow_to_end(&client, to_kill, timeout).await;
    assert_log_is_whole(&killed);
    assert_eq!(
        ended(&killed),
        EventKind::SessionKilled {
            reason: StopReason::User
        }
    );

    let panicked = follow_to_end(&client, panics, timeout).await;
    assert_log_is_whole(&panicked);
    assert!(
        matches!(
            ended(&panicked),
            EventKind::SessionCrashed {
                exit: ExitInfo {
                    code: Some(101),
                    signal: None
                },
                ..
            }
        ),
        "{:?}",
        ended(&panicked)
    );
    // The crash says what the worker said as it died.
    let EventKind::SessionCrashed { detail, .. } = ended(&panicked) else {
        unreachable!("a crash, as checked above")
    };
    assert!(
        detail.contains("its last words on stderr:") && detail.contains("scripted fault: panic"),
        "{detail}"
    );

    let aborted = follow_to_end(&client, aborts, timeout).await;
    assert_log_is_whole(&aborted);
    assert!(
        matches!(
            ended(&aborted),
            EventKind::SessionCrashed {
                exit: ExitInfo {
                    code: None,
                    signal: Some(6)
                },
                ..
            }
        ),
        "{:?}",
        ended(&aborted)
    );

    let hung = follow_to_end(&client, hangs, timeout).await;
    assert_log_is_whole(&hung);
    assert_eq!(
        ended(&hung),
        EventKind::SessionCancelled {
            reason: StopReason::User,
            forced: true
        },
        "a hung worker ignores the cancel and is killed after the grace period"
    );

    let leaked = follow_to_end(&client, leaks, timeout).await;
    assert_log_is_whole(&leaked);
    let budget = leaked
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::BudgetExceeded {
                budget,
                limit,
                observed,
            } => Some((*budget, *limit, *observed)),
            _ => None,
        })
        .expect("budget.exceeded is recorded");
    assert_eq!(budget.0, BudgetKind::Memory);
    assert!(
        budget.2 > budget.1,
        "observed {} over limit {}",
        budget.2,
        budget.1
    );
    assert_eq!(
        ended(&leaked),
        EventKind::SessionKilled {
            reason: StopReason::Budget
        }
    );

    for events in [&killed, &panicked, &aborted, &hung, &leaked] {
        let names: Vec<&str> = events.iter().map(|e| e.kind.name()).collect();
        let pid = worker_pid(events).unwrap_or_else(|| panic!("the worker had started: {names:?}"));
        assert_eq!(
            group_members(pid),
            Vec::<u32>::new(),
            "process group {pid} is empty"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_beyond_the_limit_queue_and_a_queued_run_can_be_cancelled() {
    let daemon = TestDaemon::start(2).await;
    let client = daemon.client().await;
    create_agent(&client, agent("slow", 20, 50)).await;
    let first = run(&client, spec("slow", "1")).await;
    let second = run(&client, spec("slow", "2")).await;
    let third = run(&client, spec("slow", "3")).await;
    let queued = summary(&client, third).await;
    assert_eq!(queued.status, protocol::event::SessionStatus::Queued);
    client
        .request(ControlRequest::Cancel { session: third })
        .await
        .unwrap();
    let cancelled = follow_to_end(&client, third, Duration::from_secs(10)).await;
    assert_eq!(
        cancelled.iter().map(|e| e.kind.name()).collect::<Vec<_>>(),
        ["run.queued", "session.cancelled"],
        "a queued run never started a worker"
    );
    for session in [first, second] {
        let events = follow_to_end(&client, session, Duration::from_secs(30)).await;
        assert_eq!(events.last().unwrap().kind, EventKind::SessionCompleted);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cooperative_cancel_stops_the_worker_without_force() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    create_agent(&client, agent("slow", 200, 50)).await;
    let session = run(&client, spec("slow", "long answer")).await;
    wait_for(&client, session, "streaming", |s| s.events >= 7).await;
    client
        .request(ControlRequest::Cancel { session })
        .await
        .unwrap();
    let events = follow_to_end(&client, session, Duration::from_secs(10)).await;
    assert_log_is_whole(&events);
    assert_eq!(
        events.last().unwrap().kind,
        EventKind::SessionCancelled {
            reason: StopReason::User,
            forced: false
        }
    );
    let again = client
        .request(ControlRequest::Kill { session })
        .await
        .unwrap_err();
    assert!(again.to_string().contains("already ended"), "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wall_and_idle_budgets_cancel_the_session() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    create_agent(&client, agent("slow", 400, 50)).await;
    let walled = run(
        &client,
        RunSpec {
            budgets: Budgets {
                max_wall_secs: Some(1),
                ..Budgets::default()
            },
            ..spec("slow", "too long")
        },
    )
    .await;
    let idle = run(
        &client,
        RunSpec {
            script: faulty(Fault::Hang),
            budgets: Budgets {
                max_idle_secs: Some(1),
                ..Budgets::default()
            },
            ..spec("slow", "goes quiet")
        },
    )
    .await;
    for (session, budget, forced) in [
        (walled, BudgetKind::WallTime, false),
        (idle, BudgetKind::Idle, true),
    ] {
        let events = follow_to_end(&client, session, Duration::from_secs(20)).await;
        assert_log_is_whole(&events);
        // After the budget is exceeded, only what was already on its way
        // (chunks of the streaming answer), the figures and the end.
        let names: Vec<&str> = events.iter().map(|e| e.kind.name()).collect();
        let exceeded = names
            .iter()
            .position(|n| *n == "budget.exceeded")
            .unwrap_or_else(|| panic!("{names:?}"));
        assert!(
            names[exceeded + 1..].iter().all(|n| matches!(
                *n,
                "llm.response.chunk" | "worker.stats" | "session.cancelled"
            )),
            "{names:?}"
        );
        assert!(events.iter().any(
            |e| matches!(&e.kind, EventKind::BudgetExceeded { budget: b, .. } if *b == budget)
        ));
        assert_eq!(
            events.last().unwrap().kind,
            EventKind::SessionCancelled {
                reason: StopReason::Budget,
                forced
            }
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_keeps_its_own_parallelism_and_a_raised_limit_starts_queued_runs() {
    use protocol::control::ControlResponse;
    use protocol::event::SessionStatus;

    let daemon = TestDaemon::start(2).await;
    let client = daemon.client().await;
    // About 10 s per run: nothing below ends by itself while it is checked.
    create_agent(&client, agent("slow", 200, 50)).await;
    let batch = ControlRequest::RunBatch {
        runs: vec![spec("slow", "in a batch"); 3],
        parallel: 1,
        name: String::new(),
        caps: Default::default(),
        checks: Vec::new(),
    };
    let ControlResponse::BatchAccepted { sessions: batch } = client.request(batch).await.unwrap()
    else {
        panic!("no batch accepted");
    };
    assert_eq!(batch.len(), 3);
    // Queued after the batch, yet it takes the second slot at once: the
    // batch's waiting runs do not hold it up.
    let single = run(&client, spec("slow", "alone")).await;
    wait_for(&client, single, "the single run to start", |s| {
        s.status != SessionStatus::Queued
    })
    .await;
    let statuses = |sessions: Vec<protocol::control::SessionSummary>| {
        sessions.iter().map(|s| s.status).collect::<Vec<_>>()
    };
    let mut batch_now = Vec::new();
    for session in &batch {
        batch_now.push(summary(&client, *session).await);
    }
    assert_eq!(
        statuses(batch_now)
            .iter()
            .filter(|s| **s == SessionStatus::Queued)
            .count(),
        2,
        "one run of the batch at a time"
    );

    // A batch with one bad run queues none of its runs.
    let refused = client
        .request(ControlRequest::RunBatch {
            runs: vec![spec("slow", "fine"), spec("no-such-agent", "bad")],
            parallel: 2,
            name: String::new(),
            caps: Default::default(),
            checks: Vec::new(),
        })
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("run 2") && refused.contains("no run was queued"),
        "{refused}"
    );
    let ControlResponse::Sessions(all) = client
        .request(ControlRequest::SessionList {
            all: true,
            limit: 100,
        })
        .await
        .unwrap()
    else {
        panic!("no session list");
    };
    assert_eq!(all.len(), 4, "the refused batch left no session");

    // Both slots are taken: two more runs wait until the limit rises.
    let extra = [
        run(&client, spec("slow", "extra 1")).await,
        run(&client, spec("slow", "extra 2")).await,
    ];
    for session in extra {
        assert_eq!(
            summary(&client, session).await.status,
            SessionStatus::Queued
        );
    }
    let ControlResponse::Status(status) = client
        .request(ControlRequest::LimitsSet {
            max_concurrent_runs: Some(4),
            max_live_chats: None,
        })
        .await
        .unwrap()
    else {
        panic!("no status");
    };
    assert_eq!(status.max_concurrent_runs, 4);
    for session in extra {
        wait_for(&client, session, "the raised limit to start it", |s| {
            s.status != SessionStatus::Queued
        })
        .await;
    }
    assert!(
        !summary(&client, single).await.status.is_terminal(),
        "the extra runs started because the limit rose, not because a slot freed"
    );
    for session in batch.iter().chain(&extra).chain([&single]) {
        client
            .request(ControlRequest::Kill { session: *session })
            .await
            .unwrap();
    }
}
