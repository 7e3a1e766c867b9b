//! How sessions are named and found: titles (a person's, else the first
//! message) and short ids (the last 8 hex digits), on a real redb file.

use protocol::SessionId;
use protocol::event::EventKind;

use super::tests::{close, create, event, open};
use super::*;

#[tokio::test]
async fn a_session_is_titled_by_its_first_message_until_a_person_renames_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (store, writer, _, _) = open(&path);
    let id = SessionId::new();
    create(&store, id).await;
    for (seq, text) in [
        (2, "\n  Summarise the Q3 report \nin five bullets"),
        (3, "and Q4"),
    ] {
        let said = EventKind::MessageUser { text: text.into() };
        store
            .append_acked(event(id, seq, said))
            .unwrap()
            .await
            .unwrap();
    }
    let title = |store: &Store| {
        let store = store.clone();
        async move {
            let record = store.session(SessionLookup::Exact(id)).await.unwrap();
            store.summary(&record).title
        }
    };
    assert_eq!(title(&store).await, "Summarise the Q3 report");
    store.retitle(id, Some("Q3 digest".into())).await.unwrap();
    assert_eq!(title(&store).await, "Q3 digest");
    let missing = store.retitle(SessionId::new(), Some("x".into())).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
    close(store, writer);

    // The title is stored, and a later event keeps it.
    let (store, writer, _, _) = open(&path);
    assert_eq!(title(&store).await, "Q3 digest");
    store
        .append_acked(event(id, 4, EventKind::SessionCompleted))
        .unwrap()
        .await
        .unwrap();
    assert_eq!(title(&store).await, "Q3 digest");
    store.retitle(id, None).await.unwrap();
    assert_eq!(title(&store).await, "Summarise the Q3 report");
    close(store, writer);
}

#[tokio::test]
async fn a_short_id_finds_its_session_and_a_shared_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (store, writer, _, _) = open(&dir.path().join("db"));
    // Created in the same millisecond: the same leading digits.
    let one = SessionId::from_u128(0x0190_0000_0000_7000_8000_0000_1234_abcd);
    let two = SessionId::from_u128(0x0190_0000_0000_7000_8000_0000_5678_ef01);
    let twin = SessionId::from_u128(0x0190_0000_0001_7000_8000_0000_5678_ef01);
    for id in [one, two] {
        create(&store, id).await;
    }
    let found = |text: &str| {
        let store = store.clone();
        let lookup = SessionLookup::parse(text).unwrap();
        async move { store.session(lookup).await.map(|r| r.id) }
    };
    assert_eq!(found(&one.short()).await.unwrap(), one);
    assert_eq!(found(&two.short()).await.unwrap(), two);
    let prefix = found("0190-0000").await.unwrap_err();
    assert!(prefix.to_string().contains("several"), "{prefix}");
    create(&store, twin).await;
    let shared = found(&two.short()).await.unwrap_err();
    assert!(shared.to_string().contains("several sessions"), "{shared}");
    let none = found("deadbeef").await.unwrap_err();
    assert!(none.to_string().contains("starts or ends with"), "{none}");
    close(store, writer);
}
