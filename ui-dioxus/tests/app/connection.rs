//! The app's connection task against a real daemon: it starts the daemon
//! when none runs, fills the store, carries commands, shows the daemon's
//! refusals, and reconnects after the daemon restarts.

// A panic is how a test fails.

use std::path::PathBuf;
use std::time::Duration;

use crate::common::Daemon;
use protocol::approval::RuleDecision;
use protocol::control::RunSpec;
use protocol::control::{KeySource, SecretLocation};
use protocol::event::EventKind;
use protocol::layout::Layout;
use protocol::{AgentConfig, ProviderKind, Secret, SessionStatus};
use tokio::sync::mpsc;
use ui_dioxus::connection::{NewRule, RuleChanges};
use ui_dioxus::pages::{McpDraft, PriceDraft, RuleDraft};
use ui_dioxus::state::ImportOutcome;
use ui_dioxus::{AppState, Command, Target, Update};

/// The sessions an update tells about: a pushed change, or a refreshed
/// list (which also catches a change pushed before the app subscribed).
fn sessions_in(update: Update) -> Vec<protocol::control::SessionSummary> {
    match update {
        Update::SessionChanged(summary) => vec![*summary],
        Update::Sessions(list) => list,
        _ => Vec::new(),
    }
}

/// The app's connection task on `target`: where to send its commands, its
/// updates, and the task.
pub(crate) fn start_app(
    target: Target,
) -> (
    mpsc::UnboundedSender<Command>,
    mpsc::UnboundedReceiver<Update>,
    tokio::task::JoinHandle<()>,
) {
    let (commands_tx, commands_rx) = mpsc::unbounded_channel::<Command>();
    let commands = Box::pin(futures_util::stream::unfold(commands_rx, |mut rx| async {
        rx.recv().await.map(|command| (command, rx))
    }));
    let (updates_tx, updates) = mpsc::unbounded_channel();
    let task = tokio::spawn(ui_dioxus::connection::run(
        target,
        commands,
        move |update| {
            let _ = updates_tx.send(update);
        },
    ));
    (commands_tx, updates, task)
}

/// The next error the app would show.
async fn next_failure(updates: &mut mpsc::UnboundedReceiver<Update>) -> String {
    next(updates, |u| match u {
        Update::Failed(message) => Some(message),
        _ => None,
    })
    .await
}

/// Waits until the Inspector is sent an event of `session` that `wanted`
/// accepts, and returns it.
async fn until_event(
    updates: &mut mpsc::UnboundedReceiver<Update>,
    session: protocol::SessionId,
    wanted: impl Fn(&EventKind) -> bool,
) -> protocol::Event {
    next(updates, |u| match u {
        Update::Events(of, events) if of == session => events.into_iter().find(|e| wanted(&e.kind)),
        _ => None,
    })
    .await
}

/// The next update `wanted` accepts. On a timeout, the last updates seen
/// are in the panic message.
pub(crate) async fn next<T>(
    updates: &mut mpsc::UnboundedReceiver<Update>,
    mut wanted: impl FnMut(Update) -> Option<T>,
) -> T {
    let mut seen = std::collections::VecDeque::new();
    let found = async {
        while let Some(update) = updates.recv().await {
            let mut line = format!("{update:?}");
            line.truncate(200);
            seen.push_back(line);
            if seen.len() > 40 {
                seen.pop_front();
            }
            if let Some(found) = wanted(update) {
                return found;
            }
        }
        panic!("the connection task ended");
    };
    // Generous: the whole test binary (two browsers, a window, streaming
    // runs) may be loading a two-core machine.
    match tokio::time::timeout(Duration::from_secs(90), found).await {
        Ok(found) => found,
        Err(_) => panic!(
            "timed out waiting for an update; the last ones:\n{}",
            seen.iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_starts_the_daemon_acts_through_it_and_reconnects_after_a_restart() {
    let daemon = Daemon::new("suc");
    let dir = daemon.dir.clone();
    let target = Target {
        layout: Layout::new(&dir),
        studio_bin: daemon.studio.clone(),
    };
    let (commands_tx, mut updates, task) = start_app(target);

    // No daemon ran: the app started one and shows its (empty) state. The
    // answers to the requests made at connect come in any order.
    let (mut status, mut agents) = (None, None);
    next(&mut updates, |u| {
        match u {
            Update::Connected(s) => status = Some(s),
            Update::Agents(a) => agents = Some(a),
            _ => {}
        }
        (status.is_some() && agents.is_some()).then_some(())
    })
    .await;
    let (status, agents) = (status.unwrap(), agents.unwrap());
    assert_eq!(PathBuf::from(&status.data_dir), dir);
    assert!(agents.is_empty());

    // A run started elsewhere is pushed; Kill from the app ends it.
    daemon.studio(&[
        "agent",
        "create",
        "slow",
        "--chunks",
        "600",
        "--chunk-delay-ms",
        "100",
    ]);
    let out = daemon.studio(&["run", "slow", "--prompt", "hi", "--detach"]);
    let session: protocol::SessionId = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    next(&mut updates, |u| {
        sessions_in(u)
            .iter()
            .any(|s| s.id == session && s.status == SessionStatus::Running)
            .then_some(())
    })
    .await;
    commands_tx.send(Command::Kill(session)).unwrap();
    next(&mut updates, |u| {
        sessions_in(u)
            .iter()
            .any(|s| s.id == session && s.status == SessionStatus::Killed)
            .then_some(())
    })
    .await;

    // The app cannot act past the daemon: answering a call that is not
    // waiting is refused, and the refusal is shown.
    commands_tx
        .send(Command::Answer {
            id: 999,
            approve: true,
            remember: false,
        })
        .unwrap();
    let refusal = next_failure(&mut updates).await;
    assert!(
        refusal.contains("no tool call #999 is waiting"),
        "{refusal}"
    );
    commands_tx.send(Command::Cancel(session)).unwrap();
    let refusal = next_failure(&mut updates).await;
    assert!(refusal.contains("already ended"), "{refusal}");

    // The forms' commands: create an agent with a rule, start three runs
    // of it, open a chat with it (inspected at once), delete it.
    let mut agent = AgentConfig::scripted("made-in-app");
    agent.script.chunks = 2;
    let (matches, decision, priority) = RuleDraft {
        matches: "fs.read:path=docs/*".into(),
        decision: "deny".into(),
        priority: "3".into(),
    }
    .rule()
    .unwrap();
    commands_tx
        .send(Command::SaveAgent {
            agent: Box::new(agent.clone()),
            replace: false,
            rules: RuleChanges {
                add: vec![NewRule {
                    matches,
                    decision,
                    priority,
                }],
                remove: Vec::new(),
            },
        })
        .unwrap();
    next(&mut updates, |u| match u {
        Update::Agents(agents) if agents.iter().any(|a| a.name == "made-in-app") => Some(()),
        _ => None,
    })
    .await;
    // The pending rule reached the daemon, for that agent, once it was stored.
    let rule = next(&mut updates, |u| match u {
        Update::Rules(rules) => rules.into_iter().next(),
        _ => None,
    })
    .await;
    assert_eq!(rule.agent.as_deref(), Some("made-in-app"));
    assert_eq!(rule.matches.to_string(), "fs.read:path=docs/*");
    assert_eq!((rule.decision, rule.priority), (RuleDecision::Deny, 3));
    // Creating it again is refused, and its rule changes are not made but
    // named in the refusal.
    let shell_allow = || NewRule {
        matches: "shell".parse().unwrap(),
        decision: RuleDecision::Allow,
        priority: 0,
    };
    commands_tx
        .send(Command::SaveAgent {
            agent: Box::new(agent.clone()),
            replace: false,
            rules: RuleChanges {
                add: vec![shell_allow()],
                remove: vec![rule.id.clone()],
            },
        })
        .unwrap();
    let refusal = next_failure(&mut updates).await;
    assert!(
        refusal.contains("agent \"made-in-app\" exists")
            && refusal.contains(&format!(
                "its rule for made-in-app was not added: shell allow; its rule {} was not removed",
                rule.id
            )),
        "{refusal}"
    );
    // Saving an edit makes them: the first rule goes, the new one comes
    // (and only once: the refused save added nothing).
    commands_tx
        .send(Command::SaveAgent {
            agent: Box::new(agent),
            replace: true,
            rules: RuleChanges {
                add: vec![shell_allow()],
                remove: vec![rule.id.clone()],
            },
        })
        .unwrap();
    let rules = next(&mut updates, |u| match u {
        Update::Rules(rules) if rules.iter().all(|r| r.id != rule.id) && !rules.is_empty() => {
            Some(rules)
        }
        _ => None,
    })
    .await;
    let [shell] = rules.as_slice() else {
        panic!("one rule after the edit, not {rules:?}");
    };
    assert_eq!(
        (
            shell.agent.as_deref(),
            shell.matches.to_string(),
            shell.decision
        ),
        (Some("made-in-app"), "shell".to_owned(), RuleDecision::Allow)
    );
    commands_tx
        .send(Command::RemoveRule(shell.id.clone()))
        .unwrap();
    // (Each change lists the rules again, so lists with the shell rule may
    // still come first.)
    next(&mut updates, |u| match u {
        Update::Rules(rules) if rules.is_empty() => Some(()),
        _ => None,
    })
    .await;
    let spec = RunSpec {
        agent: "made-in-app".into(),
        prompt: "from the form".into(),
        ..RunSpec::default()
    };
    // Three runs, one at a time: the daemon never has two of them live.
    commands_tx
        .send(Command::Run {
            runs: vec![spec; 3],
            parallel: 1,
            name: "three from the form".into(),
            caps: Default::default(),
            checks: Vec::new(),
        })
        .unwrap();
    let mut completed = std::collections::HashSet::new();
    let mut live = std::collections::HashSet::new();
    let mut most_live = 0;
    let mut totals = Vec::new();
    next(&mut updates, |u| {
        for s in sessions_in(u) {
            if s.agent != "made-in-app" {
                continue;
            }
            if s.status.is_terminal() || s.status == SessionStatus::Queued {
                live.remove(&s.id);
            } else {
                live.insert(s.id);
            }
            most_live = most_live.max(live.len());
            if s.status == SessionStatus::Completed && completed.insert(s.id) {
                totals.push(s.totals.clone());
            }
        }
        (completed.len() == 3).then_some(())
    })
    .await;
    assert_eq!(
        most_live, 1,
        "a batch of parallelism 1 ran runs side by side"
    );
    for t in &totals {
        let t = t.as_ref().expect("a new session keeps totals");
        assert!(t.usage.output_tokens > 0, "{t:?}");
    }
    // They are one group, named as asked; its first run names it. Its
    // results table comes back with every run's answer, and a run marked
    // preferred comes back marked.
    let group = *completed.iter().min().unwrap();
    commands_tx.send(Command::Results(group)).unwrap();
    let results = next(&mut updates, |u| match u {
        Update::Results(group) => Some(group.clone()),
        _ => None,
    })
    .await;
    assert_eq!(results.summary.name, "three from the form");
    assert_eq!(results.summary.count(SessionStatus::Completed), 3);
    assert_eq!(results.runs.len(), 3);
    assert!(
        results.runs.iter().all(|r| !r.answer.is_empty()),
        "{results:?}"
    );
    let pick = results.runs[2].summary.id;
    commands_tx
        .send(Command::Prefer {
            group,
            run: Some(pick),
        })
        .unwrap();
    next(&mut updates, |u| match u {
        Update::Results(group) if group.summary.preferred == Some(pick) => Some(()),
        _ => None,
    })
    .await;
    // One of them again ("Run again"): a new run, labelled as a replay,
    // that completes.
    let first = *completed.iter().next().unwrap();
    commands_tx
        .send(Command::Replay {
            session: first,
            spec: Box::default(),
            inspect: false,
        })
        .unwrap();
    let replayed = next(&mut updates, |u| {
        sessions_in(u).into_iter().find(|s| {
            s.status == SessionStatus::Completed
                && s.label.as_deref().is_some_and(|label| {
                    label.starts_with(&format!("replay of {} from #", first.short()))
                })
        })
    })
    .await;
    assert!(!completed.contains(&replayed.id));
    assert_eq!(replayed.agent, "made-in-app");
    // A request too large for one message is refused before it is sent,
    // and the connection stays up.
    let huge = RunSpec {
        agent: "made-in-app".into(),
        prompt: "x".repeat(17 << 20),
        ..RunSpec::default()
    };
    commands_tx
        .send(Command::Run {
            runs: vec![huge],
            parallel: 1,
            name: String::new(),
            caps: Default::default(),
            checks: Vec::new(),
        })
        .unwrap();
    let refusal = next(&mut updates, |u| match u {
        Update::Failed(message) => Some(message),
        Update::Disconnected(reason) => panic!("the connection broke: {reason}"),
        _ => None,
    })
    .await;
    assert!(
        refusal.starts_with("not sent: the request takes"),
        "{refusal}"
    );
    // What sessions spent, each way, and each agent's caps today (the
    // answers come in any order).
    commands_tx.send(Command::Spend).unwrap();
    let (mut today, mut by_day) = (None, None);
    while today.is_none() || by_day.is_none() {
        let answer = next(&mut updates, |u| match u {
            Update::CapsToday(answer) => Some(Ok(answer)),
            Update::Spend(protocol::control::SpendBy::Day, rows) => Some(Err(rows)),
            Update::Disconnected(reason) => panic!("the connection broke: {reason}"),
            _ => None,
        })
        .await;
        match answer {
            Ok(answer) => today = Some(answer),
            Err(rows) => by_day = Some(rows),
        }
    }
    let (today, by_day) = (today.unwrap(), by_day.unwrap());
    let made = today
        .iter()
        .find(|s| s.agent == "made-in-app")
        .unwrap_or_else(|| panic!("{today:?}"));
    assert!(made.spent.runs >= 1, "{made:?}");
    assert_eq!(by_day.len(), 1, "{by_day:?}");
    assert!(by_day[0].sessions >= made.spent.runs, "{by_day:?}");
    // Deleting the replay: every watcher hears it is gone.
    commands_tx
        .send(Command::Delete {
            ids: vec![replayed.id],
            groups: false,
        })
        .unwrap();
    let gone = next(&mut updates, |u| match u {
        Update::Removed(gone) => Some(gone),
        Update::Failed(why) => panic!("{why}"),
        _ => None,
    })
    .await;
    assert_eq!(gone, vec![replayed.id]);
    // The daemon's limits, changed from Settings, come back in its status;
    // setting one leaves the other as it was.
    commands_tx
        .send(Command::SetLimits {
            max_concurrent_runs: Some(3),
            max_live_chats: None,
        })
        .unwrap();
    next(&mut updates, |u| match u {
        Update::Connected(status) if status.max_concurrent_runs == 3 => Some(()),
        Update::Disconnected(reason) => panic!("the connection broke: {reason}"),
        _ => None,
    })
    .await;
    commands_tx
        .send(Command::SetLimits {
            max_concurrent_runs: None,
            max_live_chats: Some(7),
        })
        .unwrap();
    next(&mut updates, |u| match u {
        Update::Connected(status) if status.max_live_chats == 7 => {
            assert_eq!(status.max_concurrent_runs, 3);
            Some(())
        }
        Update::Disconnected(reason) => panic!("the connection broke: {reason}"),
        _ => None,
    })
    .await;
    commands_tx
        .send(Command::SetLimits {
            max_concurrent_runs: Some(0),
            max_live_chats: None,
        })
        .unwrap();
    let refusal = next_failure(&mut updates).await;
    assert!(refusal.contains("from 1 to 1024"), "{refusal}");
    commands_tx
        .send(Command::OpenChat("made-in-app".into()))
        .unwrap();
    let chat = next(&mut updates, |u| match u {
        Update::Opened(session) => Some(session),
        _ => None,
    })
    .await;
    let opened = until_event(&mut updates, chat, |kind| {
        matches!(*kind, EventKind::SessionIdle { .. })
    })
    .await;
    commands_tx
        .send(Command::Say {
            session: chat,
            text: "hello there".into(),
        })
        .unwrap();
    let idle = next(&mut updates, |u| match u {
        Update::Events(of, events) if of == chat => events
            .into_iter()
            .find(|e| matches!(e.kind, EventKind::SessionIdle { .. }) && e.seq > opened.seq),
        _ => None,
    })
    .await;
    // Branched after that turn: a new chat is opened (and inspected), one whose
    // summary names the original; a point past the end is refused.
    commands_tx
        .send(Command::Branch {
            session: chat,
            at_seq: idle.seq,
            agent: None,
        })
        .unwrap();
    let branch = next(&mut updates, |u| match u {
        Update::Opened(session) => Some(session),
        _ => None,
    })
    .await;
    assert_ne!(branch, chat);
    next(&mut updates, |u| {
        sessions_in(u)
            .into_iter()
            .find(|s| s.id == branch && s.parent == Some(chat) && s.branched_at == Some(idle.seq))
    })
    .await;
    // What the branch goes on from: what was said in the original up to
    // the branch point.
    commands_tx
        .send(Command::Inherit {
            branch,
            parent: chat,
            at: idle.seq,
        })
        .unwrap();
    let inherited = next(&mut updates, |u| match u {
        Update::Inherited(of, events) if of == branch => Some(events),
        _ => None,
    })
    .await;
    let said: Vec<&str> = inherited.iter().map(|e| e.kind.name()).collect();
    assert_eq!(said, ["message.user", "message.assistant"]);
    assert_eq!(
        inherited[0].kind,
        EventKind::MessageUser {
            text: "hello there".into()
        }
    );
    assert!(
        inherited
            .iter()
            .all(|e| e.session == chat && e.seq < idle.seq)
    );
    commands_tx
        .send(Command::Branch {
            session: chat,
            at_seq: 999,
            agent: None,
        })
        .unwrap();
    let refusal = next_failure(&mut updates).await;
    assert!(refusal.contains("cannot branch at 999"), "{refusal}");
    commands_tx
        .send(Command::RemoveAgent("made-in-app".into()))
        .unwrap();
    next(&mut updates, |u| match u {
        Update::Agents(agents) if agents.iter().all(|a| a.name != "made-in-app") => Some(()),
        _ => None,
    })
    .await;

    // Settings: a key is stored (and only its source comes back), a rule
    // added and removed, an unknown MCP server's test fails visibly.
    commands_tx
        .send(Command::SetKey {
            provider: ProviderKind::OpenAi,
            key: Secret::new("sk-ui-test-secret"),
        })
        .unwrap();
    let keys = next(&mut updates, |u| match u {
        Update::Keys(keys)
            if keys
                .iter()
                .any(|k| k.provider == ProviderKind::OpenAi && k.source == KeySource::Stored) =>
        {
            Some(keys)
        }
        _ => None,
    })
    .await;
    assert!(!format!("{keys:?}").contains("sk-ui-test-secret"));
    // Then where it lives (no session bus here: the secrets file, and why).
    let secrets = next(&mut updates, |u| match u {
        Update::Secrets(secrets) if secrets.secrets.iter().any(|s| s.name == "key/openai") => {
            Some(secrets)
        }
        _ => None,
    })
    .await;
    assert_eq!(secrets.store, SecretLocation::File);
    assert!(secrets.keyring_unavailable.is_some(), "{secrets:?}");
    assert!(!format!("{secrets:?}").contains("sk-ui-test-secret"));
    commands_tx
        .send(Command::AddRule {
            agent: None,
            matches: "fs.*".parse().unwrap(),
            decision: RuleDecision::Allow,
            priority: 0,
        })
        .unwrap();
    let rule = next(&mut updates, |u| match u {
        Update::Rules(rules) => rules.into_iter().find(|r| r.matches.to_string() == "fs.*"),
        _ => None,
    })
    .await;
    commands_tx.send(Command::RemoveRule(rule.id)).unwrap();
    next(&mut updates, |u| match u {
        Update::Rules(rules) if rules.is_empty() => Some(()),
        _ => None,
    })
    .await;
    commands_tx.send(Command::TestMcp("nope".into())).unwrap();
    let tested = next(&mut updates, |u| match u {
        Update::McpTested(name, result) if name == "nope" => Some(result),
        _ => None,
    })
    .await;
    assert!(tested.is_err(), "{tested:?}");

    // The daemon stops: the app says so, and starts the next one when
    // asked (`daemon_stop` has the rest of that story).
    let first_pid = status.pid;
    daemon.studio(&["daemon", "stop"]);
    next(&mut updates, |u| (u == Update::Stopped).then_some(())).await;
    commands_tx.send(Command::StartDaemon).unwrap();
    let again = next(&mut updates, |u| match u {
        Update::Connected(status) if status.pid != first_pid => Some(status),
        _ => None,
    })
    .await;
    assert_ne!(again.pid, status.pid, "a new daemon");

    // The Inspector follows a live run when the daemon dies (kill -9): the
    // app starts the next daemon, which records the run as interrupted,
    // and the Inspector follows the run again and shows it.
    let mut slow = AgentConfig::scripted("slow-in-app");
    slow.script.chunks = 400;
    slow.script.chunk_delay_ms = 50;
    slow.system_prompt = "Take your time, and say so.".into();
    commands_tx
        .send(Command::SaveAgent {
            agent: Box::new(slow),
            replace: false,
            rules: RuleChanges::default(),
        })
        .unwrap();
    next(&mut updates, |u| match u {
        Update::Agents(agents) if agents.iter().any(|a| a.name == "slow-in-app") => Some(()),
        _ => None,
    })
    .await;
    let run = RunSpec {
        agent: "slow-in-app".into(),
        prompt: "take your time".into(),
        ..RunSpec::default()
    };
    commands_tx
        .send(Command::Run {
            runs: vec![run],
            parallel: 1,
            name: String::new(),
            caps: Default::default(),
            checks: Vec::new(),
        })
        .unwrap();
    let live = next(&mut updates, |u| {
        sessions_in(u)
            .into_iter()
            .find(|s| s.agent == "slow-in-app" && s.status == SessionStatus::Running)
            .map(|s| s.id)
    })
    .await;
    commands_tx.send(Command::Inspect(live)).unwrap();
    // Inspecting asks for its setup: the system prompt its requests were sent.
    let prompt = next(&mut updates, |u| match u {
        Update::Setup(setup) if setup.summary.id == live => Some(setup.agent.system_prompt),
        _ => None,
    })
    .await;
    assert_eq!(prompt, "Take your time, and say so.");
    until_event(&mut updates, live, |kind| {
        matches!(*kind, EventKind::LlmResponseChunk { .. })
    })
    .await;
    let killed = std::process::Command::new("kill")
        .args(["-9", &again.pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // The new daemon connects, and the Inspector is sent the run's end,
    // in any order. (The status is refreshed every 2 s: one of the killed
    // daemon's may still be on its way.)
    let (mut third, mut interrupted) = (None, false);
    next(&mut updates, |u| {
        match u {
            Update::Connected(status) if status.pid != again.pid => third = Some(status),
            Update::Events(of, events) if of == live => {
                interrupted |= events
                    .iter()
                    .any(|e| e.kind == EventKind::SessionInterrupted);
            }
            _ => {}
        }
        (third.is_some() && interrupted).then_some(())
    })
    .await;
    assert_ne!(
        third.unwrap().pid,
        again.pid,
        "the app started a new daemon"
    );
    task.abort();
    daemon.studio(&["daemon", "stop"]);
}

/// Folds updates into `state` until `done` holds.
pub(crate) async fn settle(
    updates: &mut mpsc::UnboundedReceiver<Update>,
    state: &mut AppState,
    mut done: impl FnMut(&AppState) -> bool,
) {
    let settled = async {
        while !done(state) {
            let update = updates.recv().await.expect("the connection task ended");
            state.apply(update);
        }
    };
    if tokio::time::timeout(Duration::from_secs(30), settled)
        .await
        .is_err()
    {
        panic!("timed out; the state is {state:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_add_and_import_mcp_servers_and_set_and_reset_prices_keeping_no_secret() {
    let daemon = Daemon::new("sus");
    let target = Target {
        layout: Layout::new(&daemon.dir),
        studio_bin: daemon.studio.clone(),
    };
    let (commands_tx, mut updates, task) = start_app(target);
    let mut state = AppState::default();
    settle(&mut updates, &mut state, |s| s.settings.pricing.is_some()).await;
    let version = state.settings.pricing.as_ref().map(|t| t.version);

    // The add form's draft, with an environment secret, becomes a server.
    let draft = McpDraft {
        name: "files".into(),
        command: "npx".into(),
        args: "-y @modelcontextprotocol/server-filesystem /tmp".into(),
        secrets: "API_TOKEN=tok-ui-secret-added".into(),
        ..McpDraft::default()
    };
    commands_tx
        .send(Command::AddMcp {
            server: Box::new(draft.config().unwrap()),
            replace: false,
        })
        .unwrap();
    settle(&mut updates, &mut state, |s| !s.settings.mcp.is_empty()).await;
    assert_eq!(
        state.settings.mcp[0].transport,
        "npx -y @modelcontextprotocol/server-filesystem /tmp (env: API_TOKEN)"
    );
    assert_eq!(state.settings.mcp[0].startup_timeout_secs, 60);

    // An import: one good entry, one unusable, one the daemon refuses
    // (that name exists): each is reported by name, the good one listed.
    let entries = studio_client::mcp_import::parse_mcp_servers_json(
        r#"{"mcpServers": {
            "github": {"command": "npx", "args": ["-y", "server-github"], "env": {"GITHUB_TOKEN": "tok-ui-secret-imported"}},
            "legacy": {"type": "sse", "url": "http://127.0.0.1:9/sse"},
            "files": {"command": "node", "env": {"API_TOKEN": "tok-ui-secret-replaced"}}
        }}"#,
    )
    .unwrap();
    commands_tx
        .send(Command::ImportMcp {
            entries,
            replace: false,
        })
        .unwrap();
    settle(&mut updates, &mut state, |s| {
        s.settings.mcp_import.len() == 3
            && s.settings
                .mcp_import
                .iter()
                .all(|(_, outcome)| *outcome != ImportOutcome::Pending)
            && s.settings.mcp.len() == 2
    })
    .await;
    let outcome = |name: &str| {
        state
            .settings
            .mcp_import
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, outcome)| outcome.clone())
            .unwrap()
    };
    assert_eq!(outcome("github"), ImportOutcome::Added);
    assert!(
        matches!(outcome("legacy"), ImportOutcome::Skipped(why) if why.contains("SSE")),
        "{:?}",
        outcome("legacy")
    );
    assert!(
        matches!(outcome("files"), ImportOutcome::Skipped(why) if why.contains("MCP server \"files\" exists")),
        "{:?}",
        outcome("files")
    );
    let listed: Vec<(&str, &str)> = state
        .settings
        .mcp
        .iter()
        .map(|m| (m.name.as_str(), m.transport.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            (
                "files",
                "npx -y @modelcontextprotocol/server-filesystem /tmp (env: API_TOKEN)"
            ),
            ("github", "npx -y server-github (env: GITHUB_TOKEN)"),
        ],
        "the refused entry did not replace the server"
    );
    assert!(
        state.errors.is_empty(),
        "refusals are in the report: {:?}",
        state.errors
    );

    // A price with the form's defaults, then Reset.
    let (model, price) = PriceDraft {
        model: "ui-test-model".into(),
        input: "2".into(),
        output: "8".into(),
        ..PriceDraft::default()
    }
    .price()
    .unwrap();
    commands_tx
        .send(Command::SetPrice { model, price })
        .unwrap();
    let custom = |s: &AppState| {
        s.settings
            .pricing
            .iter()
            .flat_map(|t| &t.entries)
            .find(|e| e.model == "ui-test-model")
            .cloned()
    };
    settle(&mut updates, &mut state, |s| custom(s).is_some()).await;
    let entry = custom(&state).unwrap();
    assert!(entry.custom);
    assert_eq!(
        (
            entry.price.cache_read,
            entry.price.cache_write,
            entry.price.reasoning
        ),
        (2.0, 2.0, 8.0)
    );
    let set_version = state.settings.pricing.as_ref().map(|t| t.version);
    assert!(set_version > version, "{set_version:?} after {version:?}");
    commands_tx
        .send(Command::ResetPrice("ui-test-model".into()))
        .unwrap();
    settle(&mut updates, &mut state, |s| custom(s).is_none()).await;
    assert!(state.settings.pricing.as_ref().map(|t| t.version) > set_version);
    // Resetting it again is refused, and the refusal is shown.
    commands_tx
        .send(Command::ResetPrice("ui-test-model".into()))
        .unwrap();
    settle(&mut updates, &mut state, |s| !s.errors.is_empty()).await;
    assert!(
        state.errors[0].contains("no custom price for \"ui-test-model\""),
        "{:?}",
        state.errors
    );

    let everything = format!("{state:?}");
    assert!(
        !everything.contains("tok-ui-secret"),
        "a secret reached the store: {everything}"
    );
    task.abort();
}
