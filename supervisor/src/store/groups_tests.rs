//! The groups table on a real redb file: a release before groups left
//! batches that the upgrade gives records; a group's runs are found among
//! sessions other clients started meanwhile; the preferred mark is kept.

use protocol::SessionId;
use protocol::event::EventKind;

use super::schema::{self, GROUPS};
use super::tests::{close, event, open, record};
use super::*;

async fn create_in(store: &Store, id: SessionId, group: Option<SessionId>, prompt: &str) {
    let record = SessionRecord {
        batch: group,
        prompt: prompt.into(),
        ..record(id)
    };
    store
        .create_session(record, None, Some(event(id, 1, EventKind::RunQueued)))
        .await
        .unwrap();
}

#[tokio::test]
async fn batches_of_an_older_release_become_groups_at_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let first = SessionId::new();
    let (alone, second, other_first, other_second) = (
        SessionId::new(),
        SessionId::new(),
        SessionId::new(),
        SessionId::new(),
    );
    {
        let (store, writer, _, _) = open(&path);
        create_in(&store, first, Some(first), "Write a haiku\nabout redb").await;
        create_in(&store, alone, None, "on its own").await;
        create_in(&store, second, Some(first), "Write a haiku").await;
        create_in(&store, other_first, Some(other_first), "Other").await;
        create_in(&store, other_second, Some(other_first), "Other").await;
        close(store, writer);
    }
    {
        // As schema 5 left it: no groups table.
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        assert!(txn.delete_table(GROUPS).unwrap());
        txn.commit().unwrap();
        schema::set_version(&db, 5).unwrap();
    }
    let (store, writer, _, _) = open(&path);
    let groups = store.groups(10).await.unwrap();
    let found: Vec<(SessionId, &str, u32, Vec<SessionId>)> = groups
        .iter()
        .map(|g| {
            let runs = g.runs.iter().map(|r| r.id).collect();
            (g.record.id, g.record.name.as_str(), g.record.runs, runs)
        })
        .collect();
    assert_eq!(
        found,
        [
            (other_first, "Other", 2, vec![other_first, other_second]),
            (first, "Write a haiku", 2, vec![first, second]),
        ]
    );
    close(store, writer);
}

#[tokio::test]
async fn a_groups_runs_are_found_among_other_sessions_and_its_mark_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (store, writer, _, _) = open(&path);
    let first = SessionId::new();
    store
        .put_group(GroupRecord {
            id: first,
            name: "attempts".into(),
            created_at: protocol::Timestamp(1),
            runs: 3,
            preferred: None,
            caps: Default::default(),
            checks: Vec::new(),
        })
        .await
        .unwrap();
    create_in(&store, first, Some(first), "p").await;
    let mut runs = vec![first];
    for n in 0..2 {
        // Another client's session between the group's runs.
        create_in(&store, SessionId::new(), None, "elsewhere").await;
        let run = SessionId::new();
        create_in(&store, run, Some(first), &format!("p{n}")).await;
        runs.push(run);
    }
    // A later session of no group is not read as one of its runs.
    create_in(&store, SessionId::new(), None, "after").await;
    let short = SessionLookup::parse(&first.short()).unwrap();
    let read = store.group(short.clone(), 1, 5, 10).await.unwrap();
    assert_eq!(read.runs.iter().map(|r| r.id).collect::<Vec<_>>(), runs);
    assert_eq!(read.answers.len(), 2, "the page from run 1 on");
    store.prefer(first, Some(runs[2])).await.unwrap();
    close(store, writer);

    let (store, writer, _, _) = open(&path);
    let read = store.group(short, 0, 0, 0).await.unwrap();
    assert_eq!(
        read.record.preferred,
        Some(runs[2]),
        "kept across a restart"
    );
    let missing = store.prefer(SessionId::new(), None).await.unwrap_err();
    assert!(missing.to_string().contains("no group"), "{missing}");
    close(store, writer);
}
