//! `Replay` through the daemon: a chat replayed as a run from its second
//! turn with another model and temperature sends the model exactly what
//! was said before that turn; a changed prompt replaces the turn's
//! message, and the chat's later turns are said again after it; the new
//! run names its origin; bad points are refused.

use std::time::Duration;

use protocol::agent::Sampling;
use protocol::control::{ControlRequest, ControlResponse, ErrorKind, ReplaySpec};
use protocol::event::EventKind;
use studio_client::ClientError;
use test_support::fake_provider::FakeProvider;

use crate::chat::{chat_through, conversation, follow, geo, idle, openai_text, say, until};
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_is_replayed_from_a_turn_with_a_changed_context() {
    let fake = FakeProvider::start(vec![
        openai_text("c1", "Paris."),
        openai_text("c2", "About 2 million."),
        openai_text("c3", "Roughly 2.1 million."),
        openai_text("c4", "Rome."),
        openai_text("c5", "About 2.8 million."),
    ])
    .await;
    let daemon =
        TestDaemon::start_with_env(4, vec![("OPENAI_API_KEY".into(), "sk-test".into())]).await;
    let client = daemon.client().await;
    create_agent(&client, geo(&fake.base)).await;

    // A chat of two turns, then ended.
    let questions = ["Capital of France?", "How many people live there?"];
    let (original, _) = chat_through(&client, "geo", &questions).await;
    let recorded = events(&client, original).await;
    let second_turn = recorded
        .iter()
        .filter(|e| matches!(e.kind, EventKind::MessageUser { .. }))
        .nth(1)
        .unwrap()
        .seq;
    // Any event of the second turn: its model request.
    let inside = recorded
        .iter()
        .find(|e| e.seq > second_turn && matches!(e.kind, EventKind::LlmRequestStarted { .. }))
        .unwrap()
        .seq;

    let replay = |spec: ReplaySpec| {
        let client = &client;
        async move {
            client
                .request(ControlRequest::Replay {
                    session: original.short(),
                    spec: Box::new(spec),
                })
                .await
        }
    };
    let accepted = |answer: Result<ControlResponse, ClientError>| match answer {
        Ok(ControlResponse::RunAccepted { session }) => session,
        other => panic!("not accepted: {other:?}"),
    };
    // From inside the second turn, with another model and temperature.
    let again = accepted(
        replay(ReplaySpec {
            at_seq: Some(inside),
            model: Some("gpt-4.1".into()),
            sampling: Sampling {
                temperature: Some(0.1),
                ..Sampling::default()
            },
            ..ReplaySpec::default()
        })
        .await,
    );
    let ran = follow_to_end(&client, again, Duration::from_secs(30)).await;
    assert_eq!(ran.last().unwrap().kind, EventKind::SessionCompleted);
    assert_eq!(answer(&ran).1.as_deref(), Some("Roughly 2.1 million."));
    let seen = fake.seen();
    let sent = &seen[2].body;
    assert_eq!(sent["model"], "gpt-4.1");
    assert_eq!(sent["temperature"], 0.1);
    let pair = |role: &str, text: &str| (role.to_owned(), text.to_owned());
    assert_eq!(
        conversation(sent),
        [
            pair("system", "Be brief."),
            pair("user", "Capital of France?"),
            pair("assistant", "Paris."),
            pair("user", "How many people live there?"),
        ]
    );
    // It names its origin: the point before the turn, and what changed.
    let described = summary(&client, again).await;
    assert!(!described.interactive, "a headless run");
    assert_eq!(
        (described.parent, described.branched_at),
        (Some(original), Some(second_turn - 1))
    );
    assert_eq!(
        described.label.as_deref(),
        Some(
            format!(
                "replay of {} from #{second_turn} (model gpt-4.1, temperature 0.1)",
                original.short()
            )
            .as_str()
        )
    );
    // Its own log starts as a run's, with the replayed message.
    let said: Vec<&str> = ran
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::MessageUser { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(said, ["How many people live there?"]);

    // The whole session with another first message: nothing before it,
    // and its later turn said again after it, on what the replay said.
    let fresh = accepted(
        replay(ReplaySpec {
            prompt: Some("Capital of Italy?".into()),
            ..ReplaySpec::default()
        })
        .await,
    );
    let ran = follow_to_end(&client, fresh, Duration::from_secs(30)).await;
    assert_eq!(ran.last().unwrap().kind, EventKind::SessionCompleted);
    assert_eq!(answer(&ran).1.as_deref(), Some("About 2.8 million."));
    assert_eq!(
        conversation(&fake.seen()[3].body),
        [
            pair("system", "Be brief."),
            pair("user", "Capital of Italy?")
        ]
    );
    assert_eq!(
        conversation(&fake.seen()[4].body),
        [
            pair("system", "Be brief."),
            pair("user", "Capital of Italy?"),
            pair("assistant", "Rome."),
            pair("user", "How many people live there?"),
        ]
    );
    let said: Vec<&str> = ran
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::MessageUser { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(said, ["Capital of Italy?", "How many people live there?"]);

    // Points that are not events of the session are refused, as are bad
    // changes; nothing is started.
    let refused = |answer: Result<ControlResponse, ClientError>| match answer {
        Err(ClientError::Daemon(err)) => (err.kind, err.message),
        other => panic!("expected a refusal, got {other:?}"),
    };
    let last = recorded.last().unwrap().seq;
    let (kind, message) = refused(
        replay(ReplaySpec {
            at_seq: Some(last + 1),
            ..ReplaySpec::default()
        })
        .await,
    );
    assert_eq!(kind, ErrorKind::Invalid);
    assert!(
        message.ends_with(&format!(
            "has events 1 to {last}: cannot replay from #{}",
            last + 1
        )),
        "{message}"
    );
    let (kind, message) = refused(
        replay(ReplaySpec {
            sampling: Sampling {
                top_p: Some(3.0),
                ..Sampling::default()
            },
            ..ReplaySpec::default()
        })
        .await,
    );
    assert_eq!(kind, ErrorKind::Invalid);
    assert!(message.contains("top_p 3 is out of range"), "{message}");
    let (kind, _) = refused(
        replay(ReplaySpec {
            agent: Some("nobody".into()),
            ..ReplaySpec::default()
        })
        .await,
    );
    assert_eq!(kind, ErrorKind::NotFound);
    assert_eq!(fake.seen().len(), 5, "no refused replay called the model");
}

/// A replay that goes on as a chat: its first message is the turn's (or
/// the one given), said as soon as its worker is up, after what came
/// before; then it takes a person's messages like any chat, and names its
/// origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_is_replayed_as_a_chat_that_goes_on() {
    let fake = FakeProvider::start(vec![
        openai_text("c1", "Paris."),
        openai_text("c2", "About 2 million."),
        openai_text("c3", "Some 2.1 million."),
        openai_text("c4", "About 500,000."),
    ])
    .await;
    let daemon =
        TestDaemon::start_with_env(4, vec![("OPENAI_API_KEY".into(), "sk-test".into())]).await;
    let client = daemon.client().await;
    create_agent(&client, geo(&fake.base)).await;
    let questions = ["Capital of France?", "How many people live there?"];
    let (original, said) = chat_through(&client, "geo", &questions).await;
    let second_turn = said[1];

    let answer = client
        .request(ControlRequest::Replay {
            session: original.to_string(),
            spec: Box::new(ReplaySpec {
                at_seq: Some(second_turn),
                model: Some("gpt-4.1".into()),
                as_chat: true,
                ..ReplaySpec::default()
            }),
        })
        .await
        .unwrap();
    let ControlResponse::ChatOpened {
        session: again,
        after_seq: 0,
        resumed: false,
    } = answer
    else {
        panic!("a chat is opened: {answer:?}");
    };
    let mut sees = follow(&client, again, 0).await;
    let said = until(&mut sees, |k| matches!(k, EventKind::MessageUser { .. })).await;
    assert_eq!(
        said.kind,
        EventKind::MessageUser {
            text: "How many people live there?".into()
        }
    );
    until(&mut sees, |k| {
        matches!(k, EventKind::MessageAssistant { .. })
    })
    .await;
    until(&mut sees, idle).await;
    let pair = |role: &str, text: &str| (role.to_owned(), text.to_owned());
    let sent = &fake.seen()[2].body;
    assert_eq!(sent["model"], "gpt-4.1");
    assert_eq!(
        conversation(sent),
        [
            pair("system", "Be brief."),
            pair("user", "Capital of France?"),
            pair("assistant", "Paris."),
            pair("user", "How many people live there?"),
        ]
    );

    // Its turn began as soon as its worker was up: no idle before it.
    let names: Vec<&str> = events(&client, again)
        .await
        .iter()
        .map(|e| e.kind.name())
        .collect::<Vec<_>>()
        .into_iter()
        .take_while(|name| *name != "message.user")
        .collect();
    assert!(!names.contains(&"session.idle"), "{names:?}");

    // It goes on as a chat, with the person's next message.
    say(&client, again, "And Lyon?").await.unwrap();
    until(&mut sees, idle).await;
    assert_eq!(
        conversation(&fake.seen()[3].body),
        [
            pair("system", "Be brief."),
            pair("user", "Capital of France?"),
            pair("assistant", "Paris."),
            pair("user", "How many people live there?"),
            pair("assistant", "Some 2.1 million."),
            pair("user", "And Lyon?"),
        ]
    );
    let described = summary(&client, again).await;
    assert!(described.interactive, "a chat");
    assert_eq!(
        (described.parent, described.branched_at),
        (Some(original), Some(second_turn - 1))
    );
    assert_eq!(
        described.label.as_deref(),
        Some(
            format!(
                "replay of {} from #{second_turn} (model gpt-4.1)",
                original.short()
            )
            .as_str()
        )
    );
}
