//! Runs on a real single-host Slurm cluster (`scripts/slurm up`, which
//! `scripts/test` brings up; its `SLURM_CONF` in the environment): each
//! run's worker is one job that dials the daemon back over TLS. Runs
//! through Slurm record what local runs record; an agent can be made to
//! run there; kill and cancel leave no
//! job and no process; a job cancelled by someone else is the session
//! killed by the cluster; a job that stays pending ends its session; a
//! worker that pins another certificate, or brings another token, is
//! refused; a memory budget holds; a daemon killed and restarted leaves
//! no job; a node whose `slurmd` dies is the session lost.

use std::time::Duration;

use protocol::SessionId;
use protocol::control::RunSpec;
use protocol::event::{Event, EventKind, StopReason};
use protocol::launch::Launcher;

use crate::support::*;

/// The cluster's one node: tests share it, except the one that kills its
/// `slurmd`, which has it alone.
static NODE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// The cluster's configuration, from `scripts/slurm env`.
fn slurm_conf() -> String {
    std::env::var("SLURM_CONF").unwrap_or_else(|_| {
        panic!("no Slurm cluster: run `scripts/slurm up` and `eval \"$(scripts/slurm env)\"` (scripts/test does)")
    })
}

/// A free port of 127.0.0.1, for the daemon's worker listener.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A daemon that offers the worker listener on `port`, pending jobs given
/// 3 s.
async fn daemon(port: u16) -> TestDaemon {
    TestDaemon::start_with_env(
        16,
        vec![
            ("SLURM_CONF".into(), slurm_conf()),
            ("STUDIO_WORKER_LISTEN".into(), format!("127.0.0.1:{port}")),
            ("STUDIO_PENDING_LIMIT_SECS".into(), "3".into()),
        ],
    )
    .await
}

fn on_slurm(agent: &str, partition: Option<&str>) -> RunSpec {
    RunSpec {
        on: Some(Launcher::Slurm {
            partition: partition.map(str::to_owned),
        }),
        ..spec(agent, "hello from the cluster")
    }
}

/// `squeue`'s line for `job` (empty once it left the queue).
fn squeue(job: &str) -> String {
    let out = std::process::Command::new("squeue")
        .args(["-h", "-j", job, "-o", "%T"])
        .env("SLURM_CONF", slurm_conf())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The job a session was placed in.
fn job_of(events: &[Event]) -> String {
    events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::SessionPlaced { job, .. } => Some(job.clone()),
            _ => None,
        })
        .expect("session.placed")
}

/// Waits until `session` recorded an event `wanted` accepts.
async fn until_recorded(
    client: &studio_client::Client,
    session: SessionId,
    wanted: impl Fn(&EventKind) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !events(client, session)
        .await
        .iter()
        .any(|e| wanted(&e.kind))
    {
        assert!(tokio::time::Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A run of the agent `endless` (created by the caller) on Slurm in
/// `partition`, once it streams: its session and job.
async fn streaming(client: &studio_client::Client, partition: Option<&str>) -> (SessionId, String) {
    let session = run(client, on_slurm("endless", partition)).await;
    until_recorded(client, session, |kind| {
        matches!(kind, EventKind::LlmResponseChunk { .. })
    })
    .await;
    (session, job_of(&events(client, session).await))
}

/// Processes whose command line names `session` (its worker's).
fn processes_of(session: SessionId) -> Vec<u32> {
    let id = session.to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(&id))
        })
        .collect()
}

/// What a run recorded, without what differs between any two runs or
/// between where they ran: times, pids, the job, how it was held.
fn comparable(events: &[Event]) -> Vec<EventKind> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::RunStarted { .. }
            | EventKind::SessionPlaced { .. }
            | EventKind::SessionContained { .. }
            | EventKind::WorkerStats { .. } => None,
            EventKind::SessionStarted {
                agent,
                provider,
                model,
                ..
            } => Some(EventKind::SessionStarted {
                pid: 0,
                agent: agent.clone(),
                provider: provider.clone(),
                model: model.clone(),
            }),
            other => Some(other.clone()),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_runs_through_slurm_record_what_a_local_run_records() {
    let _node = NODE.read().await;
    let daemon = daemon(free_port()).await;
    let client = daemon.client().await;
    create_agent(&client, agent("clustered", 4, 5)).await;
    let local = run(&client, spec("clustered", "hello from the cluster")).await;
    let local = follow_to_end(&client, local, Duration::from_secs(60)).await;
    assert_eq!(local.last().unwrap().kind, EventKind::SessionCompleted);

    let mut sessions = Vec::new();
    for _ in 0..50 {
        sessions.push(run(&client, on_slurm("clustered", None)).await);
    }
    let mut jobs = Vec::new();
    for session in sessions {
        let events = follow_to_end(&client, session, Duration::from_secs(180)).await;
        assert_log_is_whole(&events);
        assert_eq!(comparable(&events), comparable(&local), "session {session}");
        jobs.push(job_of(&events));
    }
    jobs.sort();
    jobs.dedup();
    assert_eq!(jobs.len(), 50, "one job each");
    for job in &jobs {
        assert_eq!(squeue(job), "", "job {job} left the queue");
    }
}

/// An agent made with `studio agent create --on slurm` runs on the
/// cluster unless a run says otherwise (`--on local`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_made_to_run_on_slurm_runs_there_unless_a_run_says_local() {
    let _node = NODE.read().await;
    let daemon = daemon(free_port()).await;
    let client = daemon.client().await;
    let created = std::process::Command::new(studio_bin())
        .arg("--data-dir")
        .arg(daemon.dir.root())
        .args([
            "agent", "create", "pinned", "--on", "slurm", "--chunks", "3",
        ])
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let shown = std::process::Command::new(studio_bin())
        .arg("--data-dir")
        .arg(daemon.dir.root())
        .args(["--json", "agent", "show", "pinned"])
        .output()
        .unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["on"], "slurm");

    let placed = run(&client, spec("pinned", "hello from the cluster")).await;
    let placed = follow_to_end(&client, placed, Duration::from_secs(60)).await;
    assert_eq!(placed.last().unwrap().kind, EventKind::SessionCompleted);
    let job = job_of(&placed);
    assert_eq!(squeue(&job), "", "job {job} left the queue");

    let here = RunSpec {
        on: Some(Launcher::Local),
        ..spec("pinned", "hello from the cluster")
    };
    let here = run(&client, here).await;
    let here = follow_to_end(&client, here, Duration::from_secs(60)).await;
    assert_eq!(here.last().unwrap().kind, EventKind::SessionCompleted);
    assert!(
        !here
            .iter()
            .any(|e| matches!(e.kind, EventKind::SessionPlaced { .. })),
        "a run said local, yet it was placed"
    );
    assert_eq!(comparable(&here), comparable(&placed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_and_cancel_of_a_slurm_run_leave_no_job_and_no_process() {
    let _node = NODE.read().await;
    let daemon = daemon(free_port()).await;
    let client = daemon.client().await;
    create_agent(&client, agent("endless", 1_000_000, 10)).await;
    for kill in [true, false] {
        let (session, job) = streaming(&client, Some("studio")).await;
        assert!(
            squeue(&job).starts_with("RUNNING"),
            "{job}: {}",
            squeue(&job)
        );
        let request = if kill {
            protocol::control::ControlRequest::Kill { session }
        } else {
            protocol::control::ControlRequest::Cancel { session }
        };
        client.request(request).await.unwrap();
        let ended = follow_to_end(&client, session, Duration::from_secs(30)).await;
        let terminal = &ended.last().unwrap().kind;
        if kill {
            assert_eq!(
                *terminal,
                EventKind::SessionKilled {
                    reason: StopReason::User
                }
            );
        } else {
            assert!(
                matches!(terminal, EventKind::SessionCancelled { .. }),
                "{terminal:?}"
            );
        }
        assert_eq!(squeue(&job), "", "the job left the queue");
        assert_eq!(processes_of(session), Vec::<u32>::new(), "no process left");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_cancelled_by_someone_else_is_the_session_killed_by_the_cluster() {
    let _node = NODE.read().await;
    let daemon = daemon(free_port()).await;
    let client = daemon.client().await;
    create_agent(&client, agent("endless", 1_000_000, 10)).await;
    let (session, job) = streaming(&client, None).await;
    let scancel = std::process::Command::new("scancel")
        .arg(&job)
        .env("SLURM_CONF", slurm_conf())
        .status()
        .unwrap();
    assert!(scancel.success());
    let ended = follow_to_end(&client, session, Duration::from_secs(30)).await;
    assert_eq!(
        ended.last().unwrap().kind,
        EventKind::SessionKilled {
            reason: StopReason::Cluster
        }
    );
    assert_eq!(processes_of(session), Vec::<u32>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_stays_pending_ends_its_session_and_leaves_the_queue() {
    let _node = NODE.read().await;
    let daemon = daemon(free_port()).await;
    let client = daemon.client().await;
    create_agent(&client, agent("waiting", 1, 0)).await;
    // The `held` partition is down: nothing there ever starts.
    let session = run(&client, on_slurm("waiting", Some("held"))).await;
    let ended = follow_to_end(&client, session, Duration::from_secs(30)).await;
    let job = job_of(&ended);
    match &ended.last().unwrap().kind {
        EventKind::SessionCrashed { detail, .. } => {
            assert!(detail.contains("did not connect within 3s"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(squeue(&job), "", "the pending job was cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_pins_another_certificate_or_brings_another_token_is_refused() {
    let _node = NODE.read().await;
    let port = free_port();
    let daemon = daemon(port).await;
    let client = daemon.client().await;
    create_agent(&client, agent("waiting", 1, 0)).await;
    // A session that expects its remote worker (its job never starts).
    let session = run(&client, on_slurm("waiting", Some("held"))).await;
    until_recorded(&client, session, |kind| {
        matches!(kind, EventKind::SessionPlaced { .. })
    })
    .await;
    let cert = std::fs::read(daemon.dir.root().join("worker-tls/cert.der")).unwrap();
    let fingerprint: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&cert)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let dial = |token: &str, fingerprint: &str| {
        use std::io::Write;
        let mut worker = std::process::Command::new(worker_bin())
            .args(["--dial", &format!("127.0.0.1:{port}"), "--session"])
            .arg(session.to_string())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(worker.stdin.take().unwrap(), "{token}\n{fingerprint}").unwrap();
        let out = worker.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let other = "0".repeat(64);
    let (code, said) = dial(&"1".repeat(64), &other);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("not the one pinned"), "{said}");
    let (code, said) = dial(&"1".repeat(64), &fingerprint);
    assert_eq!(code, Some(3), "{said}");
    assert!(said.contains("invalid worker token"), "{said}");
    // Plain TCP, no TLS: nothing is read from it.
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::io::Write::write_all(&mut plain, b"hello\n").unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = std::io::Read::read_to_end(&mut plain, &mut answer);
    assert!(!String::from_utf8_lossy(&answer).contains("Accepted"));
    let ended = follow_to_end(&client, session, Duration::from_secs(30)).await;
    assert!(
        matches!(ended.last().unwrap().kind, EventKind::SessionCrashed { .. }),
        "the session never got a worker"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_budget_holds_on_a_slurm_run_from_what_its_worker_reports() {
    let _node = NODE.read().await;
    use protocol::agent::{Budgets, Fault, ScriptPatch};
    use protocol::event::BudgetKind;
    let daemon = daemon(free_port()).await;
    let client = daemon.client().await;
    create_agent(&client, agent("hog", 1_000, 10)).await;
    let session = run(
        &client,
        RunSpec {
            script: ScriptPatch {
                fault: Some(Fault::GrowMemory { mib_per_sec: 40 }),
                fault_after_chunks: Some(3),
                ..ScriptPatch::default()
            },
            budgets: Budgets {
                max_memory_mib: Some(64),
                ..Budgets::default()
            },
            ..on_slurm("hog", None)
        },
    )
    .await;
    let ended = follow_to_end(&client, session, Duration::from_secs(60)).await;
    let exceeded = ended
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::BudgetExceeded {
                budget, observed, ..
            } => Some((*budget, *observed)),
            _ => None,
        })
        .expect("budget.exceeded");
    assert_eq!(exceeded.0, BudgetKind::Memory);
    assert!(exceeded.1 > 64.0, "{exceeded:?}");
    assert_eq!(
        ended.last().unwrap().kind,
        EventKind::SessionKilled {
            reason: StopReason::Budget
        }
    );
    assert_eq!(squeue(&job_of(&ended)), "");
    // The worker's own reports gave the session its figures.
    assert!(ended.iter().any(|e| matches!(
        e.kind,
        EventKind::WorkerStats { rss_bytes, .. } if rss_bytes > 64 << 20
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_killed_with_slurm_runs_live_leaves_no_job_once_restarted() {
    let _node = NODE.read().await;
    let mut daemon = daemon(free_port()).await;
    let client = daemon.client().await;
    create_agent(&client, agent("endless", 1_000_000, 10)).await;
    let pending = run(&client, on_slurm("endless", Some("held"))).await;
    let (running, _) = streaming(&client, None).await;
    until_recorded(&client, pending, |kind| {
        matches!(kind, EventKind::SessionPlaced { .. })
    })
    .await;
    let jobs = [
        job_of(&events(&client, running).await),
        job_of(&events(&client, pending).await),
    ];
    drop(client);
    daemon.kill9();
    // The pending job outlives the daemon; nothing else would end it.
    assert_eq!(squeue(&jobs[1]), "PENDING");

    daemon.restart().await;
    let client = daemon.client().await;
    for session in [running, pending] {
        let ended = events(&client, session).await;
        assert_eq!(
            ended.last().unwrap().kind,
            EventKind::SessionInterrupted,
            "{session}"
        );
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while jobs.iter().any(|job| !squeue(job).is_empty()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "jobs left: {jobs:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(processes_of(running), Vec::<u32>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_node_dies_is_recorded_as_lost() {
    let _node = NODE.write().await;
    let conf = slurm_conf();
    let dir = std::path::Path::new(&conf).parent().unwrap().to_owned();
    let node = std::fs::read_to_string(&conf)
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("NodeName=")?
                .split_whitespace()
                .next()
                .map(str::to_owned)
        })
        .unwrap();
    let daemon = daemon(free_port()).await;
    let client = daemon.client().await;
    create_agent(&client, agent("endless", 1_000_000, 10)).await;
    let (session, _) = streaming(&client, None).await;
    let slurmd: i32 = std::fs::read_to_string(dir.join("slurmd.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &slurmd.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // Slurm gives up on the node after SlurmdTimeout (10 s).
    let ended = follow_to_end(&client, session, Duration::from_secs(90)).await;
    let restarted = std::process::Command::new("slurmd")
        .args(["-f", &conf, "-N", &node])
        .status()
        .unwrap();
    assert!(restarted.success());
    match &ended.last().unwrap().kind {
        EventKind::SessionCrashed { detail, .. } => {
            assert!(detail.contains("its node failed"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    // The node takes jobs again before the next test.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let state = std::process::Command::new("sinfo")
            .args(["-h", "-n", &node, "-o", "%T"])
            .env("SLURM_CONF", &conf)
            .output()
            .unwrap();
        let state = String::from_utf8_lossy(&state.stdout).trim().to_owned();
        if state.starts_with("idle") || state.starts_with("mixed") || state.starts_with("alloc") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "node is {state}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
