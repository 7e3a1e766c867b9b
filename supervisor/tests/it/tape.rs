//! `studio replay --tape` through the daemon: an unchanged run replayed
//! from its recording, for each of the four wire formats and the scripted
//! provider, records the same log (kinds and payloads; times, pids and
//! durations aside, and `llm.cost` at $0: nothing was billed) while the
//! provider server hears nothing and no tool runs; a changed system prompt
//! parts from the tape at its first step, then goes on live or stops; a
//! recording cut short by a crash plays as far as it goes and says so.

use std::time::Duration;

use protocol::SessionId;
use protocol::agent::{AgentConfig, ProviderKind, SafetyMode, ScriptPatch, ScriptedToolCall};
use protocol::control::{ControlRequest, ControlResponse, ReplaySpec, RunSpec};
use protocol::event::{Event, EventKind};
use protocol::tape::AfterTape;
use studio_client::Client;
use test_support::fake_provider::FakeProvider;

use crate::provider_round_trips::{agent, cases};
use crate::support::*;

/// The kinds and payloads a replay from the tape must record as the
/// original did: what says when, where or how long is left out.
fn played(events: &[Event]) -> Vec<EventKind> {
    events
        .iter()
        .filter(|e| {
            !matches!(
                e.kind,
                EventKind::RunStarted { .. }
                    | EventKind::SessionStarted { .. }
                    | EventKind::SessionContained { .. }
                    | EventKind::WorkerStats { .. }
            )
        })
        .map(|e| match &e.kind {
            EventKind::LlmCost {
                request_id,
                model,
                pricing_version,
                ..
            } => EventKind::LlmCost {
                request_id: request_id.clone(),
                model: model.clone(),
                usd: None,
                pricing_version: *pricing_version,
            },
            kind => kind.clone(),
        })
        .collect()
}

async fn replay(client: &Client, original: SessionId, spec: ReplaySpec) -> Vec<Event> {
    let answer = client
        .request(ControlRequest::Replay {
            session: original.to_string(),
            spec: Box::new(spec),
        })
        .await
        .unwrap();
    let ControlResponse::RunAccepted { session } = answer else {
        panic!("not accepted: {answer:?}");
    };
    follow_to_end(client, session, Duration::from_secs(30)).await
}

fn from_tape(then: AfterTape) -> ReplaySpec {
    ReplaySpec {
        tape: Some(then),
        ..ReplaySpec::default()
    }
}

fn diverged(events: &[Event]) -> Vec<(u32, String)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ReplayDiverged { step, what } => Some((*step, what.clone())),
            _ => None,
        })
        .collect()
}

fn costs(events: &[Event]) -> Vec<Option<f64>> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::LlmCost { usd, .. } => Some(*usd),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_run_replays_from_the_tape_to_the_same_log_for_every_wire_format() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    for case in cases() {
        let fake = FakeProvider::start(case.replies).await;
        let name = format!("agent-{}", case.provider);
        let base = format!("{}{}", fake.base, case.path);
        create_agent(&client, agent(&name, case.provider, case.model, base)).await;
        let original = run(&client, spec(&name, "What is the weather in Paris?")).await;
        let recorded = follow_to_end(&client, original, Duration::from_secs(30)).await;
        assert_eq!(fake.seen().len(), 2, "{}", case.provider);

        let replayed = replay(&client, original, from_tape(AfterTape::Live)).await;
        assert_log_is_whole(&replayed);
        assert_eq!(
            played(&replayed),
            played(&recorded),
            "{}: the replay's log differs",
            case.provider
        );
        assert!(diverged(&replayed).is_empty(), "{}", case.provider);
        assert_eq!(
            fake.seen().len(),
            2,
            "{}: the provider was asked again",
            case.provider
        );
        assert!(
            costs(&replayed).iter().all(|usd| *usd == Some(0.0)),
            "{}: a played response is billed: {:?}",
            case.provider,
            costs(&replayed)
        );
    }
}

/// The scripted provider too, with approved calls that write a file: the
/// replay records their results, but nothing runs again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_run_replays_from_the_tape_and_no_tool_runs_again() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    let workspace = tempfile::tempdir().unwrap();
    let mut coder = crate::support::agent("coder", 3, 0);
    coder.tools = vec!["fs".into()];
    coder.safety = SafetyMode::WorkspaceWrite;
    coder.workspace = Some(workspace.path().display().to_string());
    create_agent(&client, coder).await;
    let call = |name: &str, arguments: serde_json::Value| ScriptedToolCall {
        name: name.to_owned(),
        arguments: arguments.to_string(),
    };
    let script = ScriptPatch {
        tool_calls: Some(vec![
            call(
                "fs.write",
                serde_json::json!({"path": "notes.txt", "content": "buy milk\n"}),
            ),
            call("fs.read", serde_json::json!({"path": "notes.txt"})),
        ]),
        ..ScriptPatch::default()
    };
    let original = run(
        &client,
        RunSpec {
            script,
            approve: vec!["*".parse().unwrap()],
            ..spec("coder", "take a note")
        },
    )
    .await;
    let recorded = follow_to_end(&client, original, Duration::from_secs(30)).await;
    let notes = workspace.path().join("notes.txt");
    assert!(notes.exists());
    std::fs::remove_file(&notes).unwrap();

    let replayed = replay(&client, original, from_tape(AfterTape::Live)).await;
    assert_eq!(played(&replayed), played(&recorded));
    assert!(!notes.exists(), "a tool ran again");
    let read = replayed.iter().find_map(|e| match &e.kind {
        EventKind::ToolCompleted { output, .. } if output.contains("milk") => Some(output),
        _ => None,
    });
    assert!(read.is_some(), "the recorded result is played");
}

/// A changed system prompt parts from the tape at its first step: the
/// replay says so, then asks the provider (live) or stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_system_prompt_parts_from_the_tape_then_goes_live_or_stops() {
    let mut replies = cases().remove(0).replies;
    let live = cases().remove(0).replies;
    replies.extend(live);
    let fake = FakeProvider::start(replies).await;
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    let base = format!("{}/v1", fake.base);
    create_agent(
        &client,
        agent("geo", ProviderKind::OpenAi, "gpt-4o-mini", base),
    )
    .await;
    let original = run(&client, spec("geo", "What is the weather in Paris?")).await;
    follow_to_end(&client, original, Duration::from_secs(30)).await;
    assert_eq!(fake.seen().len(), 2);

    let changed = |then| ReplaySpec {
        system_prompt: Some("Answer in French.".into()),
        ..from_tape(then)
    };
    let stopped = replay(&client, original, changed(AfterTape::Stop)).await;
    assert_eq!(
        diverged(&stopped),
        [(
            1,
            "the system prompt differs from the recorded one".to_owned()
        )]
    );
    assert_eq!(stopped.last().unwrap().kind, EventKind::SessionCompleted);
    assert_eq!(fake.seen().len(), 2, "a stopped replay asks nothing");

    let went_on = replay(&client, original, changed(AfterTape::Live)).await;
    assert_eq!(diverged(&went_on).len(), 1);
    assert_eq!(went_on.last().unwrap().kind, EventKind::SessionCompleted);
    let seen = fake.seen();
    assert_eq!(
        seen.len(),
        4,
        "live from the first step: the whole round trip"
    );
    assert_eq!(seen[2].body["messages"][0]["content"], "Answer in French.");
    // Live responses are billed as any (the model has a price).
    let live_costs = costs(&went_on);
    assert_eq!(live_costs.len(), 2);
}

/// A recording cut short by a crash plays as far as it goes, then says
/// the recording ends there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_cut_short_plays_as_far_as_it_goes_and_says_so() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    let mut crashing: AgentConfig = crate::support::agent("crashing", 6, 0);
    crashing.script.fault = Some(protocol::Fault::Exit { code: 3 });
    crashing.script.fault_after_chunks = 2;
    create_agent(&client, crashing).await;
    let original = run(&client, spec("crashing", "go")).await;
    let recorded = follow_to_end(&client, original, Duration::from_secs(30)).await;
    assert!(matches!(
        recorded.last().unwrap().kind,
        EventKind::SessionCrashed { .. }
    ));

    let replayed = replay(&client, original, from_tape(AfterTape::Stop)).await;
    assert_eq!(
        diverged(&replayed),
        [(
            1,
            "the recording ends here: the recorded response was cut short (session.crashed)"
                .to_owned()
        )]
    );
    assert_eq!(replayed.last().unwrap().kind, EventKind::SessionCompleted);
    assert!(
        !replayed
            .iter()
            .any(|e| matches!(e.kind, EventKind::LlmResponseChunk { .. })),
        "nothing of the cut response is played"
    );
}

/// A chat of three turns replayed from the tape: every turn is played,
/// each with its recorded message, and the provider hears nothing. Its
/// system prompt changed at the second turn, the first stays inherited,
/// the second parts from the tape and the rest goes live: only what comes
/// after the change is asked of the provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_replays_every_turn_from_the_tape_and_pays_only_after_a_change() {
    use crate::chat::openai_text;
    let fake = FakeProvider::start(vec![
        openai_text("c1", "Paris."),
        openai_text("c2", "Rome."),
        openai_text("c3", "Madrid."),
        openai_text("c4", "Roma!"),
        openai_text("c5", "Madrid!"),
    ])
    .await;
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    create_agent(&client, crate::chat::geo(&fake.base)).await;
    let questions = ["Capital of France?", "Of Italy?", "Of Spain?"];
    let (original, turns) = crate::chat::chat_through(&client, "geo", &questions).await;
    let recorded = follow_to_end(&client, original, Duration::from_secs(30)).await;
    assert_eq!(fake.seen().len(), 3);

    // What a turn says and does, without the chat's own comings and goings.
    let turns_of = |events: &[Event]| -> Vec<EventKind> {
        played(events)
            .into_iter()
            .filter(|kind| {
                let name = kind.name();
                name.starts_with("message.")
                    || name.starts_with("llm.")
                    || name.starts_with("tool.")
            })
            .collect()
    };
    let replayed = replay(&client, original, from_tape(AfterTape::Live)).await;
    assert_eq!(turns_of(&replayed), turns_of(&recorded));
    assert!(diverged(&replayed).is_empty(), "{:?}", diverged(&replayed));
    assert_eq!(fake.seen().len(), 3, "the provider was asked again");

    let changed = replay(
        &client,
        original,
        ReplaySpec {
            at_seq: Some(turns[1]),
            system_prompt: Some("Answer as a tourist guide.".into()),
            ..from_tape(AfterTape::Live)
        },
    )
    .await;
    assert_eq!(changed.last().unwrap().kind, EventKind::SessionCompleted);
    let parted = diverged(&changed);
    assert_eq!(parted.len(), 2, "each live turn says so: {parted:?}");
    assert_eq!(
        parted[0],
        (
            1,
            "the system prompt differs from the recorded one".to_owned()
        )
    );
    let seen = fake.seen();
    assert_eq!(seen.len(), 5, "only the turns after the change were asked");
    assert_eq!(
        seen[3].body["messages"][0]["content"],
        "Answer as a tourist guide."
    );
    let said: Vec<String> = changed
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::MessageUser { text } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(said, ["Of Italy?", "Of Spain?"]);
}
