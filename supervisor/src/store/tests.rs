//! Store tests on a real redb file in a temp dir.

use std::sync::{Arc, Mutex};

use protocol::agent::{AgentConfig, Budgets, Fault, Script};
use protocol::control::RunSpec;
use protocol::event::{Decider, Event, EventKind, ExitInfo, SessionStatus, StopReason, Usage};
use protocol::{SessionId, Timestamp};

use super::records::{
    Estimate, EventRecord, Record, RunRecord, SessionKind, SessionRecord, StoredKey,
};
use super::*;

pub(super) fn open(
    path: &Path,
) -> (
    Store,
    WriterThread,
    Vec<Interrupted>,
    Arc<Mutex<Vec<Event>>>,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink_seen = Arc::clone(&seen);
    let sink: CommitSink = Box::new(move |c: Committed| sink_seen.lock().unwrap().extend(c.events));
    let (store, writer, interrupted) = Store::open(path, sink).unwrap();
    (store, writer, interrupted, seen)
}

pub(super) fn record(id: SessionId) -> SessionRecord {
    SessionRecord {
        id,
        label: Some("l".into()),
        prompt: "p".into(),
        script: Script::default(),
        budgets: Budgets::default(),
        ..SessionRecord::new(
            SessionKind::Run,
            AgentConfig::scripted("a"),
            SessionStatus::Queued,
            Timestamp(1),
            None,
        )
    }
}

pub(super) fn event(session: SessionId, seq: u64, kind: EventKind) -> Event {
    Event {
        session,
        seq,
        at: Timestamp(seq),
        kind,
    }
}

pub(super) async fn create(store: &Store, id: SessionId) {
    store
        .create_session(record(id), None, Some(event(id, 1, EventKind::RunQueued)))
        .await
        .unwrap();
}

pub(super) fn close(store: Store, writer: WriterThread) {
    store.shutdown();
    drop(store);
    writer.join();
}

#[tokio::test]
async fn events_are_read_back_in_order_and_drive_the_status() {
    let dir = tempfile::tempdir().unwrap();
    let (store, writer, _, seen) = open(&dir.path().join("db"));
    let id = SessionId::new();
    create(&store, id).await;
    store
        .append(event(
            id,
            2,
            EventKind::SessionStarted {
                pid: 42,
                agent: "a".into(),
                provider: "scripted".into(),
                model: "m".into(),
            },
        ))
        .unwrap();
    store
        .append_acked(event(id, 3, EventKind::SessionCompleted))
        .unwrap()
        .await
        .unwrap();
    let events = store.events(id, 0, 100).await.unwrap();
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(store.events(id, 2, 100).await.unwrap().len(), 1);
    let stored = store.session(SessionLookup::Exact(id)).await.unwrap();
    assert_eq!(stored.status, SessionStatus::Completed);
    assert_eq!(stored.pid, Some(42));
    assert_eq!(stored.last_seq, 3);
    assert_eq!(stored.ended_at, Some(Timestamp(3)));
    assert_eq!(
        *seen.lock().unwrap(),
        events,
        "the sink saw exactly the committed events"
    );
    close(store, writer);
}

#[tokio::test]
async fn live_sessions_are_marked_interrupted_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (live, done) = (SessionId::new(), SessionId::new());
    {
        let (store, writer, _, _) = open(&path);
        create(&store, live).await;
        create(&store, done).await;
        store
            .append_acked(event(done, 2, EventKind::SessionCompleted))
            .unwrap()
            .await
            .unwrap();
        close(store, writer);
    }
    let (store, writer, interrupted, _) = open(&path);
    assert_eq!(
        interrupted,
        vec![Interrupted {
            session: live,
            pid: None
        }]
    );
    let events = store.events(live, 0, 10).await.unwrap();
    assert_eq!(events.last().unwrap().kind, EventKind::SessionInterrupted);
    assert_eq!(events.last().unwrap().seq, 2);
    assert_eq!(
        store
            .session(SessionLookup::Exact(live))
            .await
            .unwrap()
            .status,
        SessionStatus::Interrupted
    );
    close(store, writer);
}

#[tokio::test]
async fn agents_conflict_unless_replaced_and_missing_ones_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let (store, writer, _, _) = open(&dir.path().join("db"));
    store
        .put_agent(AgentConfig::scripted("a"), false)
        .await
        .unwrap();
    let err = store
        .put_agent(AgentConfig::scripted("a"), false)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    let mut changed = AgentConfig::scripted("a");
    changed.model = "other".into();
    store.put_agent(changed.clone(), true).await.unwrap();
    assert_eq!(store.agent("a".into()).await.unwrap(), changed);
    assert!(matches!(
        store.agent("b".into()).await,
        Err(StoreError::NotFound(_))
    ));
    store.remove_agent("a".into()).await.unwrap();
    assert!(store.agents().await.unwrap().is_empty());
    assert!(matches!(
        store.remove_agent("a".into()).await,
        Err(StoreError::NotFound(_))
    ));
    close(store, writer);
}

#[tokio::test]
async fn sessions_list_newest_first_and_resolve_by_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let (store, writer, _, _) = open(&dir.path().join("db"));
    let first = SessionId::from_u128(0xaaaa_0000_0000_0000_0000_0000_0000_0001);
    let second = SessionId::from_u128(0xaaaa_0000_0000_0000_0000_0000_0000_0002);
    let third = SessionId::from_u128(0xbbbb_0000_0000_0000_0000_0000_0000_0001);
    for id in [first, second, third] {
        create(&store, id).await;
    }
    store
        .append_acked(event(second, 2, EventKind::SessionCompleted))
        .unwrap()
        .await
        .unwrap();
    let all: Vec<_> = store
        .sessions(true, 10)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(all, [third, second, first]);
    let live: Vec<_> = store
        .sessions(false, 10)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(live, [third, first]);
    let found = store
        .session(SessionLookup::parse("bbbb").unwrap())
        .await
        .unwrap();
    assert_eq!(found.id, third);
    let ambiguous = store
        .session(SessionLookup::parse("aaaa").unwrap())
        .await
        .unwrap_err();
    assert!(
        ambiguous.to_string().contains("several sessions"),
        "{ambiguous}"
    );
    close(store, writer);
}

#[tokio::test]
async fn a_database_from_a_newer_release_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = redb::Database::create(&path).unwrap();
        schema::migrate(&db).unwrap();
        schema::set_version(&db, SCHEMA_VERSION + 1).unwrap();
    }
    let err = Store::open(&path, Box::new(|_| {})).err().unwrap();
    assert!(err.to_string().contains("newer than this release"), "{err}");
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    std::fs::write(&path, b"this is not a redb file, but someone's notes").unwrap();
    let err = Store::open(&path, Box::new(|_| {})).err().unwrap();
    assert!(err.to_string().contains("cannot open database"), "{err}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"this is not a redb file, but someone's notes"
    );
}

/// One value of every stored record type, fixed so its encoding is pinned.
fn fixture_records() -> Vec<(&'static str, Vec<u8>)> {
    let id = SessionId::from_u128(0x0195_0000_0000_7000_8000_0000_0000_0001);
    let agent = AgentConfig {
        system_prompt: "be brief".into(),
        tools: vec!["shell".into()],
        budgets: Budgets {
            max_memory_mib: Some(64),
            ..Budgets::default()
        },
        script: Script {
            fault: Some(Fault::GrowMemory { mib_per_sec: 8 }),
            ..Script::default()
        },
        ..AgentConfig::scripted("fixture")
    };
    let mut session = record(id);
    session.agent = agent.clone();
    session.parent = Some((SessionId::from_u128(7), 3));
    // Earlier releases kept no totals: their records decode to `None`.
    session.totals = None;
    // ... nor estimates.
    session.estimate = Estimate::default();
    let events = [
        EventKind::RunQueued,
        EventKind::SessionCrashed {
            exit: ExitInfo {
                code: None,
                signal: Some(6),
            },
            detail: "worker killed by signal 6 (SIGABRT)".into(),
        },
        EventKind::LlmResponseCompleted {
            request_id: "req-1".into(),
            usage: Usage {
                input_tokens: 10,
                output_tokens: 5,
                cache_read_tokens: 2,
                cache_creation_tokens: 1,
                reasoning_tokens: 3,
            },
            finish_reason: "stop".into(),
        },
        EventKind::ToolApproved {
            call_id: "c1".into(),
            by: Decider::Rule { id: "r1".into() },
        },
        EventKind::SessionCancelled {
            reason: StopReason::Budget,
            forced: true,
        },
    ];
    let mut out = vec![
        ("agent", agent.encode().unwrap()),
        ("session", session.encode().unwrap()),
        (
            "run",
            RunRecord {
                session: id,
                spec: RunSpec {
                    agent: "fixture".into(),
                    prompt: "hi".into(),
                    ..RunSpec::default()
                },
            }
            .encode()
            .unwrap(),
        ),
    ];
    for kind in events {
        out.push((
            "event",
            EventRecord {
                at: Timestamp(5),
                kind,
            }
            .encode()
            .unwrap(),
        ));
    }
    // Added with schema 2.
    let key = StoredKey {
        key: protocol::Secret::new("sk-fixture"),
        stored_at: Timestamp(77),
    };
    out.push(("key", key.encode().unwrap()));
    // Added with schema 3 and 4.
    let rule = protocol::approval::ApprovalRule {
        id: "r1".into(),
        agent: Some("fixture".into()),
        matches: "shell:command=git *".parse().unwrap(),
        decision: protocol::approval::RuleDecision::Allow,
        priority: 5,
    };
    out.push(("rule", rule.encode().unwrap()));
    let mcp = protocol::mcp::McpServerConfig {
        name: "everything".into(),
        transport: protocol::mcp::McpTransport::Stdio {
            command: "npx".into(),
            args: vec!["-y".into(), "server-everything".into()],
            env: vec![("TOKEN".into(), protocol::Secret::new("t0k"))],
        },
        startup_timeout_secs: 60,
        call_timeout_secs: 120,
    };
    out.push(("mcp", mcp.encode().unwrap()));
    // Added with interactive sessions.
    for kind in [
        EventKind::SessionIdle {
            error: Some("no key".into()),
        },
        EventKind::SessionResumed { pid: 4242 },
        EventKind::ToolApprovalPending {
            call_id: "c2".into(),
            approval: 7,
            expires_at: Timestamp(99),
        },
    ] {
        let event = EventRecord {
            at: Timestamp(6),
            kind,
        };
        out.push(("event", event.encode().unwrap()));
    }
    // Settings: the run limit, and the rule and approval numbers given out.
    let limits = DaemonLimits {
        max_concurrent_runs: 3,
        // Earlier releases had no chat limit: theirs decode to the default.
        ..DaemonLimits::default()
    };
    out.push(("limits", limits.encode().unwrap()));
    let counters = IdCounters {
        last_rule: 41,
        last_approval: 7,
    };
    out.push(("id_counters", counters.encode().unwrap()));
    // Events of protocol 13: a tool call's confinement, a session's containment.
    for kind in [
        EventKind::ToolStarted {
            call_id: "c2".into(),
            confinement: protocol::sandbox::Confinement {
                mode: protocol::SafetyMode::WorkspaceWrite,
                confined: true,
                writable: vec!["/ws".into()],
                network: protocol::sandbox::Network::Off,
                missing: Vec::new(),
            },
        },
        EventKind::SessionContained {
            containment: protocol::sandbox::SessionContainment {
                pid_namespace: true,
                cgroup: Some("cgroup v1".into()),
                missing: Vec::new(),
            },
        },
    ] {
        let event = EventRecord {
            at: Timestamp(9),
            kind,
        };
        out.push(("event", event.encode().unwrap()));
    }
    // Added with schema 6.
    let group = crate::store::GroupRecord {
        id,
        name: "haiku x3".into(),
        created_at: Timestamp(11),
        runs: 3,
        preferred: Some(id),
        // Earlier releases kept no caps or checks: theirs decode to none.
        caps: Default::default(),
        checks: Vec::new(),
    };
    out.push(("group", group.encode().unwrap()));
    // Added with OTLP export (protocol 24).
    let otlp = crate::store::records::OtlpExportSetting {
        url: Some("http://127.0.0.1:4318/v1/traces".into()),
        header_names: vec!["authorization".into()],
        sent_before: Timestamp(12),
    };
    out.push(("otlp_export", otlp.encode().unwrap()));
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Records as earlier releases wrote them must keep decoding to the same
/// values. Each `tests/fixtures/records-*.txt` holds one release's
/// encodings and is never edited: when a stored type changes shape, bump
/// its `Record::VERSION`, decode the old version (`records/old.rs`), and add
/// a fixture of the new encodings with `STUDIO_WRITE_FIXTURES=records-vN.txt`.
/// A line whose version is the current one must also encode identically,
/// which catches a shape change without a version bump.
#[test]
fn records_written_by_earlier_releases_still_decode() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let current = fixture_records();
    if let Some(name) = std::env::var_os("STUDIO_WRITE_FIXTURES") {
        let lines: Vec<String> = current
            .iter()
            .map(|(what, bytes)| format!("{what} {}", hex(bytes)))
            .collect();
        std::fs::write(fixtures.join(name), lines.join("\n") + "\n").unwrap();
    }
    let mut files: Vec<_> = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("records-")
        })
        .collect();
    files.sort();
    assert!(files.len() >= 2, "the v1 and v2 fixtures: {files:?}");
    for file in files {
        let stored = std::fs::read_to_string(&file).unwrap();
        for (line, (what, bytes)) in stored.lines().zip(&current) {
            let (kind, data) = line.split_once(' ').unwrap();
            assert_eq!(kind, *what, "{}", file.display());
            let old: Vec<u8> = (0..data.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&data[i..i + 2], 16).unwrap())
                .collect();
            let version_now = match *what {
                "agent" => {
                    assert_eq!(
                        AgentConfig::decode(&old).unwrap(),
                        AgentConfig::decode(bytes).unwrap()
                    );
                    AgentConfig::VERSION
                }
                "session" => {
                    assert_eq!(
                        SessionRecord::decode(&old).unwrap(),
                        SessionRecord::decode(bytes).unwrap()
                    );
                    SessionRecord::VERSION
                }
                "run" => {
                    assert_eq!(
                        RunRecord::decode(&old).unwrap(),
                        RunRecord::decode(bytes).unwrap()
                    );
                    RunRecord::VERSION
                }
                "key" => {
                    assert_eq!(
                        StoredKey::decode(&old).unwrap(),
                        StoredKey::decode(bytes).unwrap()
                    );
                    StoredKey::VERSION
                }
                "rule" => {
                    use protocol::approval::ApprovalRule;
                    assert_eq!(
                        ApprovalRule::decode(&old).unwrap(),
                        ApprovalRule::decode(bytes).unwrap()
                    );
                    ApprovalRule::VERSION
                }
                "limits" => {
                    assert_eq!(
                        DaemonLimits::decode(&old).unwrap(),
                        DaemonLimits::decode(bytes).unwrap()
                    );
                    DaemonLimits::VERSION
                }
                "id_counters" => {
                    assert_eq!(
                        IdCounters::decode(&old).unwrap(),
                        IdCounters::decode(bytes).unwrap()
                    );
                    IdCounters::VERSION
                }
                "group" => {
                    use crate::store::GroupRecord;
                    assert_eq!(
                        GroupRecord::decode(&old).unwrap(),
                        GroupRecord::decode(bytes).unwrap()
                    );
                    GroupRecord::VERSION
                }
                "otlp_export" => {
                    use crate::store::records::OtlpExportSetting;
                    assert_eq!(
                        OtlpExportSetting::decode(&old).unwrap(),
                        OtlpExportSetting::decode(bytes).unwrap()
                    );
                    OtlpExportSetting::VERSION
                }
                "mcp" => {
                    use protocol::mcp::McpServerConfig;
                    assert_eq!(
                        McpServerConfig::decode(&old).unwrap(),
                        McpServerConfig::decode(bytes).unwrap()
                    );
                    McpServerConfig::VERSION
                }
                _ => {
                    assert_eq!(
                        EventRecord::decode(&old).unwrap(),
                        EventRecord::decode(bytes).unwrap()
                    );
                    EventRecord::VERSION
                }
            };
            if old[0] == version_now {
                assert_eq!(
                    &old,
                    bytes,
                    "{} encodes differently without a version bump ({})",
                    what,
                    file.display()
                );
            }
        }
    }
}

#[tokio::test]
async fn a_session_keeps_the_sum_of_its_tokens_and_costs_and_its_last_activity() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let id = SessionId::new();
    {
        let (store, writer, _, _) = open(&path);
        create(&store, id).await;
        let usage = |input, output| Usage {
            input_tokens: input,
            output_tokens: output,
            ..Default::default()
        };
        let completed = |request: &str, usage| EventKind::LlmResponseCompleted {
            request_id: request.into(),
            usage,
            finish_reason: "stop".into(),
        };
        let cost = |request: &str, usd| EventKind::LlmCost {
            request_id: request.into(),
            model: "m".into(),
            usd,
            pricing_version: 1,
        };
        let kinds = [
            completed("r1", usage(100, 20)),
            cost("r1", Some(0.25)),
            completed("r2", usage(50, 5)),
            cost("r2", None),
            EventKind::SessionCompleted,
        ];
        for (seq, kind) in (2..).zip(kinds) {
            store
                .append_acked(event(id, seq, kind))
                .unwrap()
                .await
                .unwrap();
        }
        close(store, writer);
    }
    let sessions = Snapshot::open(&path).unwrap().sessions().unwrap();
    let totals = sessions[0].totals.clone().unwrap();
    assert_eq!(
        (totals.usage.input_tokens, totals.usage.output_tokens),
        (150, 25)
    );
    assert!((totals.cost_usd - 0.25).abs() < 1e-12, "{totals:?}");
    assert_eq!(totals.unpriced, 1);
    // The last of the 6 events (seq 6, recorded at 6 in this test's clock).
    assert_eq!(sessions[0].last_activity, Timestamp(6));
}

#[tokio::test]
async fn a_snapshot_reads_what_a_closed_store_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let id = SessionId::new();
    {
        let (store, writer, _, _) = open(&path);
        create(&store, id).await;
        store
            .append_acked(event(id, 2, EventKind::SessionCompleted))
            .unwrap()
            .await
            .unwrap();
        close(store, writer);
    }
    let snapshot = Snapshot::open(&path).unwrap();
    let sessions = snapshot.sessions().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].id, id);
    assert_eq!(sessions[0].status, SessionStatus::Completed);
    let names: Vec<&str> = snapshot
        .events(id)
        .unwrap()
        .iter()
        .map(|e| e.kind.name())
        .collect();
    assert_eq!(names, ["run.queued", "session.completed"]);
}
