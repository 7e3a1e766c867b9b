//! Interactive sessions: turns on one live worker with `session.idle`
//! between them, tool calls asked of the watching clients (the first
//! answer wins, the others see it), resume on the recorded conversation,
//! and `studio chat` in a terminal.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use protocol::SessionId;
use protocol::agent::{AgentConfig, ProviderKind, SafetyMode, ScriptedToolCall};
use protocol::control::{ControlRequest, ControlResponse, ErrorKind, Push};
use protocol::event::{Decider, Event, EventKind, SessionStatus};
use serde_json::Value;
use studio_client::{Client, ClientError, Subscription};

use crate::support::*;
use test_support::fake_provider::{FakeProvider, Reply};

const WAIT: Duration = Duration::from_secs(20);

/// A scripted agent that writes `note.txt` in its workspace each turn.
fn writer(name: &str, workspace: &std::path::Path) -> AgentConfig {
    let mut agent = agent(name, 10, 30);
    agent.tools = vec!["fs".to_owned()];
    agent.safety = SafetyMode::WorkspaceWrite;
    agent.workspace = Some(workspace.display().to_string());
    agent.script.tool_calls = vec![ScriptedToolCall {
        name: "fs.write".to_owned(),
        arguments: r#"{"path":"note.txt","content":"written"}"#.to_owned(),
    }];
    agent
}

pub(crate) async fn open(client: &Client, request: ControlRequest) -> (SessionId, u64, bool) {
    match client.request(request).await.unwrap() {
        ControlResponse::ChatOpened {
            session,
            after_seq,
            resumed,
        } => (session, after_seq, resumed),
        other => panic!("unexpected {other:?}"),
    }
}

pub(crate) async fn follow(client: &Client, session: SessionId, after_seq: u64) -> Subscription {
    client
        .subscribe(ControlRequest::Follow { session, after_seq })
        .await
        .unwrap()
}

/// Reads `sub` until an event `wanted` accepts; returns it.
pub(crate) async fn until(sub: &mut Subscription, wanted: impl Fn(&EventKind) -> bool) -> Event {
    let found = async {
        while let Some(push) = sub.next().await {
            if let Push::Event(event) = push
                && wanted(&event.kind)
            {
                return event;
            }
        }
        panic!("the stream ended first");
    };
    tokio::time::timeout(WAIT, found).await.expect("timed out")
}

/// An OpenAI agent named `geo` ("Be brief.") at a fake provider's `base`.
pub(crate) fn geo(base: &str) -> AgentConfig {
    let mut agent = AgentConfig::scripted("geo");
    agent.provider = ProviderKind::OpenAi;
    agent.model = "gpt-4o-mini".to_owned();
    agent.base_url = Some(format!("{base}/v1"));
    agent.system_prompt = "Be brief.".to_owned();
    agent
}

/// A chat with `agent` in which each of `questions` was said and
/// answered, then ended: the session and each question's seq.
pub(crate) async fn chat_through(
    client: &Client,
    agent: &str,
    questions: &[&str],
) -> (SessionId, Vec<u64>) {
    let request = ControlRequest::ChatOpen {
        agent: agent.to_owned(),
    };
    let (session, ..) = open(client, request).await;
    let mut sees = follow(client, session, 0).await;
    until(&mut sees, idle).await;
    let mut said = Vec::new();
    for question in questions {
        say(client, session, question).await.unwrap();
        let message = until(&mut sees, |k| matches!(k, EventKind::MessageUser { .. })).await;
        said.push(message.seq);
        until(&mut sees, idle).await;
    }
    client
        .request(ControlRequest::ChatEnd { session })
        .await
        .unwrap();
    until(&mut sees, EventKind::is_terminal).await;
    (session, said)
}

pub(crate) fn idle(kind: &EventKind) -> bool {
    matches!(kind, EventKind::SessionIdle { .. })
}

fn pending(kind: &EventKind) -> Option<u64> {
    match kind {
        EventKind::ToolApprovalPending { approval, .. } => Some(*approval),
        _ => None,
    }
}

fn decided(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::ToolApproved { .. } | EventKind::ToolDenied { .. }
    )
}

pub(crate) async fn say(
    client: &Client,
    session: SessionId,
    text: &str,
) -> Result<(), ClientError> {
    let request = ControlRequest::ChatSay {
        session,
        text: text.to_owned(),
    };
    client.request(request).await.map(|_| ())
}

async fn answer(
    client: &Client,
    id: u64,
    approve: bool,
    remember: bool,
) -> Result<(), ClientError> {
    let request = ControlRequest::ApprovalAnswer {
        id,
        approve,
        remember,
    };
    client.request(request).await.map(|_| ())
}

fn error_kind(result: Result<(), ClientError>) -> ErrorKind {
    match result {
        Err(ClientError::Daemon(err)) => err.kind,
        other => panic!("expected an error from the daemon, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_of_a_chat_are_asked_the_first_answer_wins_and_a_resumed_chat_goes_on() {
    let daemon = TestDaemon::start(4).await;
    let alice = daemon.client().await;
    let bob = daemon.client().await;
    let workspace = daemon.tmp.path().join("work");
    std::fs::create_dir_all(&workspace).unwrap();
    create_agent(&alice, writer("writer", &workspace)).await;

    let (session, after_seq, resumed) = open(
        &alice,
        ControlRequest::ChatOpen {
            agent: "writer".to_owned(),
        },
    )
    .await;
    assert_eq!((after_seq, resumed), (0, false));
    let mut alice_sees = follow(&alice, session, 0).await;
    let mut bob_sees = follow(&bob, session, 0).await;
    until(&mut alice_sees, idle).await;

    // Turn 1: both watchers are asked; Alice answers first, Bob too late.
    say(&alice, session, "write the note").await.unwrap();
    let approval = pending(&until(&mut alice_sees, |k| pending(k).is_some()).await.kind);
    let seen_by_bob = pending(&until(&mut bob_sees, |k| pending(k).is_some()).await.kind);
    assert_eq!(approval, seen_by_bob);
    let approval = approval.unwrap();
    assert!(
        matches!(
            error_kind(say(&bob, session, "me too").await),
            ErrorKind::Conflict
        ),
        "one turn at a time"
    );
    answer(&alice, approval, true, true).await.unwrap();
    assert_eq!(
        error_kind(answer(&bob, approval, false, false).await),
        ErrorKind::NotFound
    );
    for sees in [&mut alice_sees, &mut bob_sees] {
        let decision = until(sees, decided).await;
        assert!(
            matches!(
                &decision.kind,
                EventKind::ToolApproved {
                    by: Decider::UserAlways,
                    ..
                }
            ),
            "{decision:?}"
        );
        until(sees, idle).await;
    }
    assert_eq!(
        std::fs::read_to_string(workspace.join("note.txt")).unwrap(),
        "written"
    );

    // Turn 2 (said by Bob): "always allow" holds for the rest of the session.
    let granted = |decision: &Event| {
        matches!(
            &decision.kind,
            EventKind::ToolApproved { by: Decider::Rule { id }, .. } if id == "session:fs.write"
        )
    };
    say(&bob, session, "again").await.unwrap();
    let decision = until(&mut alice_sees, decided).await;
    assert!(granted(&decision), "{decision:?}");
    until(&mut alice_sees, idle).await;

    // End, then resume: a new worker on the same log, where the grant
    // still holds.
    alice
        .request(ControlRequest::ChatEnd { session })
        .await
        .unwrap();
    let ended = until(&mut alice_sees, EventKind::is_terminal).await;
    assert_eq!(ended.kind, EventKind::SessionCompleted);
    assert!(
        matches!(
            error_kind(say(&alice, session, "hello?").await),
            ErrorKind::Conflict
        ),
        "an ended chat takes no input until resumed"
    );
    let prefix = session.to_string()[..8].to_owned();
    let (resumed_id, after_seq, resumed) =
        open(&bob, ControlRequest::ChatResume { session: prefix }).await;
    assert_eq!((resumed_id, after_seq, resumed), (session, ended.seq, true));
    let mut bob_sees = follow(&bob, session, after_seq).await;
    let first = until(&mut bob_sees, |_| true).await;
    assert!(
        matches!(first.kind, EventKind::SessionResumed { .. }),
        "{first:?}"
    );
    until(&mut bob_sees, idle).await;
    say(&bob, session, "once more").await.unwrap();
    let decision = until(&mut bob_sees, |k| decided(k) || pending(k).is_some()).await;
    assert!(
        granted(&decision),
        "asked again after the resume: {decision:?}"
    );
    until(&mut bob_sees, idle).await;
    bob.request(ControlRequest::ChatEnd { session })
        .await
        .unwrap();
    until(&mut bob_sees, EventKind::is_terminal).await;

    // One log, gapless, one terminal event per life.
    let log = events(&alice, session).await;
    let seqs: Vec<u64> = log.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=log.len() as u64).collect::<Vec<_>>());
    let lives: Vec<&str> = log
        .iter()
        .filter(|e| {
            e.kind.is_terminal()
                || matches!(
                    e.kind,
                    EventKind::SessionStarted { .. } | EventKind::SessionResumed { .. }
                )
        })
        .map(|e| e.kind.name())
        .collect();
    assert_eq!(
        lives,
        [
            "session.started",
            "session.completed",
            "session.resumed",
            "session.completed"
        ]
    );
    let users: Vec<&str> = log
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::MessageUser { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(users, ["write the note", "again", "once more"]);
}

pub(crate) fn openai_text(id: &str, text: &str) -> Reply {
    let chunk = serde_json::json!({
        "id": id, "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]
    });
    let end = serde_json::json!({
        "id": id, "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    });
    Reply::sse(format!("data: {chunk}\n\ndata: {end}\n\ndata: [DONE]\n\n"))
}

/// `(role, content)` of each message a request sent.
pub(crate) fn conversation(body: &Value) -> Vec<(String, String)> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap_or_default().to_owned(),
                m["content"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_turn_and_a_resumed_worker_send_the_model_the_whole_recorded_conversation() {
    let fake = FakeProvider::start(vec![
        openai_text("c1", "Paris."),
        openai_text("c2", "About 2 million."),
        openai_text("c3", "Yes, the Seine."),
    ])
    .await;
    let daemon =
        TestDaemon::start_with_env(4, vec![("OPENAI_API_KEY".into(), "sk-test".into())]).await;
    let base = fake.base.clone();
    let client = daemon.client().await;
    let mut agent = AgentConfig::scripted("geo");
    agent.provider = ProviderKind::OpenAi;
    agent.model = "gpt-4o-mini".to_owned();
    agent.base_url = Some(format!("{base}/v1"));
    agent.system_prompt = "Be brief.".to_owned();
    create_agent(&client, agent).await;

    let (session, ..) = open(
        &client,
        ControlRequest::ChatOpen {
            agent: "geo".to_owned(),
        },
    )
    .await;
    let mut sees = follow(&client, session, 0).await;
    until(&mut sees, idle).await;
    for question in ["Capital of France?", "How many people live there?"] {
        say(&client, session, question).await.unwrap();
        until(&mut sees, idle).await;
    }
    client
        .request(ControlRequest::ChatEnd { session })
        .await
        .unwrap();
    until(&mut sees, EventKind::is_terminal).await;
    open(
        &client,
        ControlRequest::ChatResume {
            session: session.to_string(),
        },
    )
    .await;
    let mut sees = follow(&client, session, 0).await;
    until(&mut sees, |k| matches!(k, EventKind::SessionResumed { .. })).await;
    until(&mut sees, idle).await;
    say(&client, session, "Is there a river?").await.unwrap();
    until(&mut sees, idle).await;

    // A failed turn is told in its session.idle, and the chat goes on.
    fake.push(Reply::error(
        400,
        r#"{"error":{"message":"This model's maximum context length was exceeded.","type":"invalid_request_error"}}"#,
    ));
    say(&client, session, "Tell me everything.").await.unwrap();
    let failed = until(&mut sees, idle).await;
    match &failed.kind {
        EventKind::SessionIdle { error: Some(error) } => {
            assert!(error.contains("maximum context length"), "{error}");
        }
        other => panic!("expected a failed turn, got {other:?}"),
    }
    assert_eq!(summary(&client, session).await.status, SessionStatus::Idle);

    let seen = fake.seen();
    assert_eq!(seen.len(), 4);
    let pair = |role: &str, text: &str| (role.to_owned(), text.to_owned());
    assert_eq!(
        conversation(&seen[2].body),
        [
            pair("system", "Be brief."),
            pair("user", "Capital of France?"),
            pair("assistant", "Paris."),
            pair("user", "How many people live there?"),
            pair("assistant", "About 2 million."),
            pair("user", "Is there a river?"),
        ]
    );
    assert_eq!(conversation(&seen[1].body).len(), 4);
}

/// Resumed the moment it ended (while its old worker is still being
/// reaped), a chat starts a new life every time rather than answering as
/// if it were still live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_resumed_the_moment_it_ends_starts_a_new_life_every_time() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    create_agent(&client, agent("quick", 2, 0)).await;
    let (session, ..) = open(
        &client,
        ControlRequest::ChatOpen {
            agent: "quick".to_owned(),
        },
    )
    .await;
    let mut sees = follow(&client, session, 0).await;
    until(&mut sees, idle).await;
    for life in 1..=15 {
        client
            .request(ControlRequest::ChatEnd { session })
            .await
            .unwrap();
        let ended = until(&mut sees, EventKind::is_terminal).await;
        let (_, after_seq, resumed) = open(
            &client,
            ControlRequest::ChatResume {
                session: session.to_string(),
            },
        )
        .await;
        assert!(resumed, "life {life}: answered as if still live");
        assert_eq!(after_seq, ended.seq);
        sees = follow(&client, session, after_seq).await;
        let first = until(&mut sees, |_| true).await;
        assert!(
            matches!(first.kind, EventKind::SessionResumed { .. }),
            "life {life}: {first:?}"
        );
        until(&mut sees, idle).await;
    }
}

/// A branch goes on from the original's conversation up to its branch
/// point (with another agent if asked), a branch of a branch inherits the
/// whole line, and the original is left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_branch_goes_on_from_its_point_and_leaves_the_original_alone() {
    let fake = FakeProvider::start(vec![
        openai_text("c1", "Paris."),
        openai_text("c2", "About 2 million."),
        openai_text("c3", "Marseille."),
        openai_text("c4", "Lyon."),
    ])
    .await;
    let daemon =
        TestDaemon::start_with_env(4, vec![("OPENAI_API_KEY".into(), "sk-test".into())]).await;
    let base = fake.base.clone();
    let client = daemon.client().await;
    let geo = |name: &str, model: &str| {
        let mut agent = AgentConfig::scripted(name);
        agent.provider = ProviderKind::OpenAi;
        agent.model = model.to_owned();
        agent.base_url = Some(format!("{base}/v1"));
        agent.system_prompt = "Be brief.".to_owned();
        agent
    };
    create_agent(&client, geo("geo", "gpt-4o-mini")).await;
    create_agent(&client, geo("geo-large", "gpt-4.1")).await;

    let (original, ..) = open(
        &client,
        ControlRequest::ChatOpen {
            agent: "geo".to_owned(),
        },
    )
    .await;
    let mut sees = follow(&client, original, 0).await;
    until(&mut sees, idle).await;
    say(&client, original, "Capital of France?").await.unwrap();
    let first_turn = until(&mut sees, idle).await.seq;
    say(&client, original, "How many people live there?")
        .await
        .unwrap();
    until(&mut sees, idle).await;
    client
        .request(ControlRequest::ChatEnd { session: original })
        .await
        .unwrap();
    until(&mut sees, EventKind::is_terminal).await;
    let before = events(&client, original).await;

    // Refused: no such point, session or agent.
    let branch = |session: String, at_seq, agent: Option<&str>| ControlRequest::ChatBranch {
        session,
        at_seq,
        agent: agent.map(str::to_owned),
    };
    let refused = |request| async {
        match client.request(request).await {
            Err(ClientError::Daemon(err)) => err.kind,
            other => panic!("expected a refusal, got {other:?}"),
        }
    };
    let id = original.to_string();
    assert_eq!(
        refused(branch(id.clone(), Some(0), None)).await,
        ErrorKind::Invalid
    );
    let past_the_end = Some(before.len() as u64 + 1);
    assert_eq!(
        refused(branch(id.clone(), past_the_end, None)).await,
        ErrorKind::Invalid
    );
    assert_eq!(
        refused(branch("ffffffff".into(), None, None)).await,
        ErrorKind::NotFound
    );
    assert_eq!(
        refused(branch(id.clone(), None, Some("nobody"))).await,
        ErrorKind::NotFound
    );
    // Branched after the first answer, with a larger model.
    let (second, after_seq, resumed) = open(
        &client,
        branch(id[..8].to_owned(), Some(first_turn), Some("geo-large")),
    )
    .await;
    assert_eq!((after_seq, resumed), (0, false));
    let mut sees = follow(&client, second, 0).await;
    until(&mut sees, idle).await;
    say(&client, second, "And the second city?").await.unwrap();
    until(&mut sees, idle).await;
    let described = summary(&client, second).await;
    assert_eq!(
        (described.parent, described.branched_at),
        (Some(original), Some(first_turn))
    );
    assert_eq!(described.agent, "geo-large");
    assert!(described.interactive);

    // A branch of the branch, at its end, with the agent it had.
    let (third, ..) = open(&client, branch(second.to_string(), None, None)).await;
    let mut sees = follow(&client, third, 0).await;
    until(&mut sees, idle).await;
    say(&client, third, "And the third?").await.unwrap();
    until(&mut sees, idle).await;

    let seen = fake.seen();
    assert_eq!(seen.len(), 4);
    let pair = |role: &str, text: &str| (role.to_owned(), text.to_owned());
    assert_eq!(seen[2].body["model"], "gpt-4.1");
    assert_eq!(
        conversation(&seen[2].body),
        [
            pair("system", "Be brief."),
            pair("user", "Capital of France?"),
            pair("assistant", "Paris."),
            pair("user", "And the second city?"),
        ]
    );
    assert_eq!(seen[3].body["model"], "gpt-4.1");
    assert_eq!(
        conversation(&seen[3].body),
        [
            pair("system", "Be brief."),
            pair("user", "Capital of France?"),
            pair("assistant", "Paris."),
            pair("user", "And the second city?"),
            pair("assistant", "Marseille."),
            pair("user", "And the third?"),
        ]
    );
    // Each branch records only its own events; the original is untouched.
    assert_eq!(events(&client, original).await, before);
    let own = events(&client, third).await;
    assert!(
        matches!(own[0].kind, EventKind::SessionStarted { .. }),
        "{:?}",
        own[0]
    );
    assert_eq!(summary(&client, third).await.parent, Some(second));
    // Its setup carries what it inherited, as the model was sent it before
    // the branch's own message (the Inspector shows it as the input).
    let client = &client;
    let setup_of = |id: SessionId| async move {
        match client
            .request(ControlRequest::SessionSetup { id: id.to_string() })
            .await
            .unwrap()
        {
            protocol::control::ControlResponse::Setup(setup) => setup,
            other => panic!("not a setup: {other:?}"),
        }
    };
    assert!(
        setup_of(original).await.inherited.is_empty(),
        "not a branch"
    );
    let setup = setup_of(third).await;
    let inherited: Vec<(String, String)> = setup
        .inherited
        .iter()
        .map(|m| (format!("{:?}", m.role).to_lowercase(), m.content.clone()))
        .collect();
    assert_eq!(inherited, conversation(&seen[3].body)[1..5]);
    assert_eq!(setup.inherited_left_out, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn studio_chat_asks_inline_in_the_terminal_and_resumes_with_the_transcript() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    let workspace = daemon.tmp.path().join("work");
    std::fs::create_dir_all(&workspace).unwrap();
    create_agent(&client, writer("writer", &workspace)).await;

    let chat = |args: &[&str], input: &str| {
        let mut child = Command::new(studio_bin())
            .arg("--data-dir")
            .arg(daemon.dir.root())
            .arg("chat")
            .args(args)
            .env_remove("STUDIO_DATA_DIR")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(out.status.success(), "{}\n{stdout}\n{stderr}", out.status);
        (stdout, stderr)
    };

    // Typed ahead: the message, then "maybe" (not an answer), then "y".
    let (stdout, stderr) = tokio::task::block_in_place(|| chat(&["writer"], "hello\nmaybe\ny\n"));
    assert!(
        stdout.contains(r#"? allow fs.write {"path":"note.txt","content":"written"}"#),
        "{stdout}"
    );
    assert!(stdout.contains("approved by the user"), "{stdout}");
    assert!(stdout.contains("✓ wrote 7 bytes to note.txt"), "{stdout}");
    assert!(stderr.contains("answer y (once), n (deny)"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(workspace.join("note.txt")).unwrap(),
        "written"
    );
    let session = stderr
        .split_whitespace()
        .nth(1)
        .and_then(|id| id.parse::<SessionId>().ok())
        .unwrap_or_else(|| panic!("no session id in {stderr}"));
    let log = events(&client, session).await;
    assert_eq!(log.last().unwrap().kind, EventKind::SessionCompleted);

    let id = session.to_string();
    let (stdout, stderr) =
        tokio::task::block_in_place(|| chat(&["--session", &id[..8]], "and now?\nn\n"));
    assert!(stderr.contains("resumed"), "{stderr}");
    assert!(
        stdout.starts_with("you> hello\n"),
        "transcript first: {stdout}"
    );
    assert!(stdout.contains("denied by the user"), "{stdout}");
    let log = events(&client, session).await;
    let denied = log
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::ToolDenied {
                    by: Decider::User,
                    ..
                }
            )
        })
        .count();
    assert_eq!(denied, 1);
    assert_eq!(log.last().unwrap().kind, EventKind::SessionCompleted);

    // A branch at the end of the first life: its transcript is the
    // original's up to there, and "and now?" is not part of it.
    let first_life = log
        .iter()
        .find(|e| e.kind == EventKind::SessionCompleted)
        .unwrap()
        .seq
        .to_string();
    let (stdout, stderr) = tokio::task::block_in_place(|| {
        chat(
            &["--branch", &id[..8], "--at", &first_life],
            "another way\nn\n",
        )
    });
    assert!(
        stderr.contains(&format!("a branch of {session} at event {first_life}")),
        "{stderr}"
    );
    assert!(stdout.starts_with("you> hello\n"), "{stdout}");
    assert!(!stdout.contains("and now?"), "{stdout}");
    assert!(stdout.contains("denied by the user"), "{stdout}");
    assert_eq!(
        events(&client, session).await,
        log,
        "the original is untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_chat_ends_when_cancelled_or_forgotten_and_its_worker_is_gone() {
    let daemon =
        TestDaemon::start_with_env(4, vec![("STUDIO_CHAT_IDLE_SECS".into(), "1".into())]).await;
    let client = daemon.client().await;
    create_agent(&client, agent("idler", 2, 0)).await;
    let chat = ControlRequest::ChatOpen {
        agent: "idler".to_owned(),
    };

    let (cancelled, ..) = open(&client, chat.clone()).await;
    let mut sees = follow(&client, cancelled, 0).await;
    until(&mut sees, idle).await;
    client
        .request(ControlRequest::Cancel { session: cancelled })
        .await
        .unwrap();
    let end = until(&mut sees, EventKind::is_terminal).await;
    assert!(
        matches!(end.kind, EventKind::SessionCancelled { forced: false, .. }),
        "an idle chat has no turn to force: {end:?}"
    );

    let (forgotten, ..) = open(&client, chat).await;
    let mut sees = follow(&client, forgotten, 0).await;
    let started = until(&mut sees, |k| matches!(k, EventKind::SessionStarted { .. })).await;
    let end = until(&mut sees, EventKind::is_terminal).await;
    assert_eq!(end.kind, EventKind::SessionCompleted);
    for log in [
        events(&client, cancelled).await,
        events(&client, forgotten).await,
    ] {
        assert_log_is_whole(&log);
        let pid = worker_pid(&log).unwrap();
        assert!(group_is_empty(pid), "worker group {pid} is gone");
    }
    let idle_for = end.at.0.saturating_sub(started.at.0);
    assert!(
        idle_for >= 1_000_000,
        "ended after {idle_for} µs, before the idle timeout"
    );
}
