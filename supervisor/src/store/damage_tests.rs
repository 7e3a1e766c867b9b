//! A real file with bytes overwritten inside stored records: the store
//! still opens and serves the rest, `check` names the damage, `salvage`
//! copies every readable record.

use std::path::Path;

use protocol::SessionId;
use protocol::control::StoreReport;
use protocol::event::{EventKind, SessionStatus};

use super::records::DaemonLimits;
use super::tests::{close, create, event, open, record};
use super::*;

/// Overwrites every occurrence of `needle` in the file with 0xFF bytes
/// (not UTF-8, so the string holding it no longer decodes); returns how
/// many there were. redb is copy-on-write: older copies of a record may
/// sit in freed pages too.
fn overwrite(path: &Path, needle: &str) -> usize {
    let mut bytes = std::fs::read(path).unwrap();
    let needle = needle.as_bytes();
    let mut hits = 0;
    let mut at = 0;
    while let Some(found) = bytes[at..].windows(needle.len()).position(|w| w == needle) {
        let start = at + found;
        bytes[start..start + needle.len()].fill(0xff);
        hits += 1;
        at = start + needle.len();
    }
    std::fs::write(path, bytes).unwrap();
    hits
}

/// Three sessions: `bad_record`'s label and `bad_event`'s third event
/// hold the strings the tests overwrite; `good` is left alone.
async fn three_sessions(path: &Path) -> (SessionId, SessionId, SessionId) {
    let (store, writer, _, _) = open(path);
    let ids = (SessionId::new(), SessionId::new(), SessionId::new());
    let (bad_record, bad_event, good) = ids;
    for id in [bad_record, bad_event, good] {
        let mut record = record(id);
        if id == bad_record {
            record.label = Some("LABEL-TO-OVERWRITE".into());
        }
        store
            .create_session(record, None, Some(event(id, 1, EventKind::RunQueued)))
            .await
            .unwrap();
        let text = if id == bad_event {
            "EVENT-TO-OVERWRITE"
        } else {
            "fine"
        };
        for (seq, kind) in [
            (2, EventKind::MessageUser { text: "hi".into() }),
            (3, EventKind::MessageAssistant { text: text.into() }),
            (4, EventKind::SessionCompleted),
        ] {
            store
                .append_acked(event(id, seq, kind))
                .unwrap()
                .await
                .unwrap();
        }
    }
    close(store, writer);
    ids
}

/// Opens `path` and waits until every event has been decoded.
async fn open_scanned(path: &Path) -> (Store, WriterThread, Vec<Interrupted>) {
    let (store, writer, interrupted, _) = open(path);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !store.quarantine.scanned() {
        assert!(
            std::time::Instant::now() < deadline,
            "the events were never all decoded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    (store, writer, interrupted)
}

fn damaged_sessions(report: &StoreReport) -> Vec<(String, Option<SessionId>)> {
    report
        .damaged
        .iter()
        .map(|d| (d.table.clone(), d.session))
        .collect()
}

#[tokio::test]
async fn a_damaged_record_is_quarantined_and_everything_else_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (bad_record, bad_event, good) = three_sessions(&path).await;
    assert!(overwrite(&path, "LABEL-TO-OVERWRITE") >= 1);
    assert!(overwrite(&path, "EVENT-TO-OVERWRITE") >= 1);

    let (store, writer, _) = open_scanned(&path).await;
    let listed = store.sessions(true, 10).await.unwrap();
    let by_id = |id: SessionId| listed.iter().find(|s| s.id == id).unwrap().clone();
    assert_eq!(listed.len(), 3, "{listed:?}");
    let unreadable = by_id(bad_record);
    assert_eq!(unreadable.status, SessionStatus::Corrupt);
    assert!(
        unreadable
            .damage
            .as_deref()
            .unwrap()
            .contains("table sessions"),
        "{unreadable:?}"
    );
    let broken = by_id(bad_event);
    assert_eq!(broken.status, SessionStatus::Corrupt);
    let damage = broken.damage.clone().unwrap();
    assert!(
        damage.contains(&format!("{bad_event} #3")) && damage.contains("table events"),
        "{damage}"
    );
    assert_eq!(by_id(good).status, SessionStatus::Completed);
    assert_eq!(by_id(good).damage, None);

    assert_eq!(store.events(good, 0, 100).await.unwrap().len(), 4);
    // The readable events before the damage are served; the damaged one is
    // a clear error naming it.
    assert_eq!(store.events(bad_event, 0, 2).await.unwrap().len(), 2);
    let err = store.events(bad_event, 0, 100).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Damaged(d) if d.session == Some(bad_event) && d.key.ends_with("#3")),
        "{err}"
    );
    let err = store
        .session(SessionLookup::Exact(bad_record))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&bad_record.to_string()) && err.contains("daemon salvage"),
        "{err}"
    );
    // The store still writes.
    let id = SessionId::new();
    create(&store, id).await;
    let report = store.check().await.unwrap();
    assert_eq!(
        damaged_sessions(&report),
        [
            ("sessions".to_owned(), Some(bad_record)),
            ("events".to_owned(), Some(bad_event)),
        ]
    );
    close(store, writer);
}

#[tokio::test]
async fn check_and_salvage_read_the_file_and_the_copy_has_every_readable_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (bad_record, bad_event, good) = three_sessions(&path).await;
    overwrite(&path, "LABEL-TO-OVERWRITE");
    overwrite(&path, "EVENT-TO-OVERWRITE");
    let before = std::fs::read(&path).unwrap();

    let report = check(&path, &|_, _| {}).unwrap();
    assert_eq!(
        damaged_sessions(&report),
        [
            ("sessions".to_owned(), Some(bad_record)),
            ("events".to_owned(), Some(bad_event)),
        ]
    );
    // 3 sessions and 12 events.
    assert_eq!(report.records(), 15, "{report:?}");

    let out = dir.path().join("salvaged");
    let salvaged = salvage(&path, &out, &|_, _| {}).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the old file is untouched"
    );
    // The unreadable session's 4 events go with it; one event of the other.
    assert_eq!(salvaged.copied(), 15 - 1 - 4 - 1);
    let left: Vec<_> = salvaged.left_out.iter().map(|d| d.key.clone()).collect();
    assert_eq!(
        left,
        [
            bad_record.to_string(),
            format!("{bad_record} #1..#4 (4 events)"),
            format!("{bad_event} #3"),
        ]
    );
    let tables: Vec<(&str, u64, u64)> = salvaged
        .tables
        .iter()
        .map(|t| (t.name.as_str(), t.records, t.damaged))
        .filter(|t| t.1 + t.2 > 0)
        .collect();
    assert_eq!(tables, [("sessions", 2, 1), ("events", 7, 5)]);
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&out).unwrap().permissions())
            & 0o777,
        0o600
    );
    let err = salvage(&path, &out, &|_, _| {}).unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");

    let clean = check(&out, &|_, _| {}).unwrap();
    assert!(clean.damaged.is_empty(), "{clean:?}");
    let (store, writer, _, _) = open(&out);
    // Every table is there, even those with nothing to copy.
    assert_eq!(store.limits().await.unwrap(), DaemonLimits::default());
    assert!(store.rules().await.unwrap().is_empty());
    let ids: Vec<_> = store
        .sessions(true, 10)
        .await
        .unwrap()
        .iter()
        .map(|s| (s.id, s.status))
        .collect();
    assert!(ids.contains(&(good, SessionStatus::Completed)), "{ids:?}");
    assert!(
        ids.contains(&(bad_event, SessionStatus::Completed)),
        "{ids:?}"
    );
    assert_eq!(ids.len(), 2);
    let events = store.events(good, 0, 100).await.unwrap();
    assert_eq!(events.len(), 4);
    assert_eq!(
        events[2].kind,
        EventKind::MessageAssistant {
            text: "fine".into()
        }
    );
    let seqs: Vec<u64> = store
        .events(bad_event, 0, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, [1, 2, 4]);
    close(store, writer);

    let kept = replace_with_salvaged(&path, &out).unwrap();
    assert_eq!(std::fs::read(&kept).unwrap(), before);
    assert!(!out.exists());
    assert!(check(&path, &|_, _| {}).unwrap().damaged.is_empty());
}

#[tokio::test]
async fn a_damaged_setting_falls_back_to_its_default_and_a_live_session_is_still_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let live = SessionId::new();
    {
        let (store, writer, _, _) = open(&path);
        store
            .put_limits(&DaemonLimits {
                max_concurrent_runs: 77,
                max_live_chats: 5,
            })
            .await
            .unwrap();
        let mut record = record(live);
        record.label = Some("LIVE-LABEL".into());
        create(&store, live).await;
        // A second, live session whose record will not decode.
        let unreadable = SessionId::new();
        record.id = unreadable;
        store.create_session(record, None, None).await.unwrap();
        close(store, writer);
    }
    // The second session's record no longer decodes, and the limits are
    // of a version this release does not know.
    overwrite(&path, "LIVE-LABEL");
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(schema::SETTINGS)
            .unwrap()
            .insert(schema::LIMITS, [9u8, 1, 2].as_slice())
            .unwrap();
        txn.commit().unwrap();
    }
    let (store, writer, interrupted) = open_scanned(&path).await;
    assert_eq!(store.limits().await.unwrap(), DaemonLimits::default());
    let sessions: Vec<SessionId> = interrupted.iter().map(|i| i.session).collect();
    assert_eq!(sessions, [live], "the readable live session is interrupted");
    let report = store.check().await.unwrap();
    let tables: Vec<&str> = report.damaged.iter().map(|d| d.table.as_str()).collect();
    assert_eq!(tables, ["sessions", "settings"], "{report:?}");
    close(store, writer);
}
