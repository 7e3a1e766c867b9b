//! `studio run AGENT --batch FILE.jsonl --parallel N`, and the engine the
//! demo shares: queue the runs as one batch (the daemon keeps N live),
//! watch them end, summarise.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use protocol::SessionId;
use protocol::caps::SpendCaps;
use protocol::control::{ControlRequest, ControlResponse, Push, RunSpec, SessionSummary};
use protocol::event::SessionStatus;
use studio_client::Client;
use studio_client::batch::parse_batch;
use tokio::signal::unix::{SignalKind, signal};

use super::CliError;
use super::output::{describe_end, duration, print_json, session_duration, table};

/// A run to make.
#[derive(Clone, Debug)]
pub(crate) struct BatchItem {
    pub(crate) label: String,
    pub(crate) spec: RunSpec,
}

/// How one run ended (the daemon queues a whole batch or none of it, so
/// every run has a session).
#[derive(Clone, Debug)]
pub(crate) struct BatchOutcome {
    /// Its session, as it ended.
    pub(crate) summary: SessionSummary,
    /// Why it did not complete, in words.
    pub(crate) detail: String,
}

/// Reads and checks every line before anything runs: a bad file starts nothing.
pub(crate) fn read_batch(path: &Path, default_agent: &str) -> Result<Vec<BatchItem>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::invalid(format!("cannot read {}: {e}", path.display())))?;
    let runs = parse_batch(&text, default_agent)
        .map_err(|e| CliError::invalid(format!("{}: {e}", path.display())))?;
    Ok(runs
        .into_iter()
        .map(|spec| BatchItem {
            label: spec.label.clone().unwrap_or_default(),
            spec,
        })
        .collect())
}

/// A progress bar on stderr, hidden for JSON output or when not a terminal.
pub(crate) fn progress_bar(len: u64, hidden: bool) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if hidden {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:32} {pos}/{len} {msg}")
    {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Prints a line above the progress bar, or on stderr when the bar is hidden.
pub(crate) fn note(progress: &ProgressBar, line: String) {
    if progress.is_hidden() {
        errln!("{line}");
    } else {
        progress.println(line);
    }
}

/// What to start as one group: its runs, how many live at once, its name.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fanout<'a> {
    pub(crate) items: &'a [BatchItem],
    pub(crate) parallel: usize,
    /// Empty: the daemon names it by its first prompt.
    pub(crate) name: &'a str,
    /// What its runs may spend together.
    pub(crate) caps: &'a SpendCaps,
    /// What each run's answer is checked for.
    pub(crate) checks: &'a [protocol::checks::Check],
}

/// Says how many runs start and the caps they start under: each capped
/// agent's standing today and the group's caps (on stderr).
pub(crate) async fn say_caps(client: &Client, fanout: Fanout<'_>) -> Result<(), CliError> {
    let mut agents: Vec<String> = fanout.items.iter().map(|i| i.spec.agent.clone()).collect();
    agents.sort();
    agents.dedup();
    let standings = super::caps::today(client, agents).await?;
    for line in studio_client::caps::lines(&standings, fanout.caps) {
        errln!("{line}");
    }
    Ok(())
}

/// Queues the runs as one group of which the daemon keeps at most
/// `parallel` live; their sessions, in order (the first names the group).
/// The daemon runs the group to its end whether or not the client stays.
pub(crate) async fn queue_batch(
    client: &Client,
    fanout: Fanout<'_>,
) -> Result<Vec<SessionId>, CliError> {
    let request = ControlRequest::RunBatch {
        runs: fanout.items.iter().map(|item| item.spec.clone()).collect(),
        parallel: u32::try_from(fanout.parallel).unwrap_or(u32::MAX),
        name: fanout.name.to_owned(),
        caps: fanout.caps.clone(),
        checks: fanout.checks.to_vec(),
    };
    match client.request(request).await? {
        ControlResponse::BatchAccepted { sessions } => Ok(sessions),
        other => Err(CliError::msg(format!(
            "unexpected answer to a batch: {other:?}"
        ))),
    }
}

/// Queues the runs as one group, and waits for them all to end; `on_change` sees every
/// status change of the batch's sessions (index, summary). Ctrl-C cancels
/// every unfinished run, queued or live; a second Ctrl-C kills them.
pub(crate) async fn run_batch(
    client: &Client,
    fanout: Fanout<'_>,
    progress: &ProgressBar,
    mut on_change: impl FnMut(usize, &SessionSummary),
) -> Result<Vec<BatchOutcome>, CliError> {
    // Listen for Ctrl-C before anything is queued, so none goes unheard.
    let mut interrupt = signal(SignalKind::interrupt())
        .map_err(|e| CliError::msg(format!("cannot listen for Ctrl-C: {e}")))?;
    // Watch before queueing, so no change is missed.
    let mut watch = client.subscribe(ControlRequest::WatchSessions).await?;
    let sessions = queue_batch(client, fanout).await?;
    let items = fanout.items;
    let mut in_flight: HashMap<SessionId, usize> = sessions
        .iter()
        .enumerate()
        .map(|(index, session)| (*session, index))
        .collect();
    let mut outcomes: Vec<Option<BatchOutcome>> = vec![None; items.len()];
    let mut counts: HashMap<SessionStatus, usize> = HashMap::new();
    let mut live: HashSet<SessionId> = HashSet::new();
    let mut poll = tokio::time::interval(Duration::from_secs(2));
    let mut poll_cursor = 0;
    let mut interrupts = 0;
    while !in_flight.is_empty() {
        let changed: Vec<SessionSummary> = tokio::select! {
            push = watch.next() => match push {
                Some(Push::SessionChanged(summary)) => vec![summary],
                Some(_) => Vec::new(),
                None => return Err(CliError::msg("lost the connection to the daemon")),
            },
            _ = poll.tick() => {
                let due = next_to_poll(&sessions, &in_flight, &mut poll_cursor);
                poll_sessions(client, due).await
            }
            _ = interrupt.recv() => {
                interrupts += 1;
                let kill = interrupts > 1;
                let what = if kill { "killing" } else { "cancelling" };
                let again = if kill { "" } else { " (Ctrl-C again to kill)" };
                note(progress, format!("{what} the {} unfinished run(s){again}", in_flight.len()));
                stop_all(client, in_flight.keys().copied(), kill).await;
                Vec::new()
            }
        };
        for summary in changed {
            let Some(&index) = in_flight.get(&summary.id) else {
                continue;
            };
            on_change(index, &summary);
            if summary.status.is_terminal() {
                in_flight.remove(&summary.id);
                live.remove(&summary.id);
                *counts.entry(summary.status).or_default() += 1;
                outcomes[index] = Some(BatchOutcome {
                    summary,
                    detail: String::new(),
                });
                progress.inc(1);
            } else if summary.status != SessionStatus::Queued {
                live.insert(summary.id);
            }
        }
        progress.set_message(progress_message(live.len(), &counts));
    }
    let mut outcomes: Vec<BatchOutcome> = outcomes.into_iter().flatten().collect();
    for outcome in &mut outcomes {
        let summary = &outcome.summary;
        if summary.status != SessionStatus::Completed {
            outcome.detail = end_detail(client, summary.id, summary.events).await;
        }
    }
    Ok(outcomes)
}

/// Cancels (or kills) every session of `sessions` at once, queued or live;
/// a session that ended meanwhile is no error.
async fn stop_all(client: &Client, sessions: impl Iterator<Item = SessionId>, kill: bool) {
    let mut stops = tokio::task::JoinSet::new();
    for session in sessions {
        let client = client.clone();
        let request = if kill {
            ControlRequest::Kill { session }
        } else {
            ControlRequest::Cancel { session }
        };
        stops.spawn(async move { client.request(request).await });
    }
    while stops.join_next().await.is_some() {}
}

/// Most runs the safety-net poll asks about per tick, so that a batch of
/// thousands does not cost thousands of requests every 2 s.
const POLL_PER_TICK: usize = 64;

/// The next unfinished runs to poll, taking turns from `cursor` through
/// the batch, so every one is asked about in time.
fn next_to_poll(
    sessions: &[SessionId],
    in_flight: &HashMap<SessionId, usize>,
    cursor: &mut usize,
) -> Vec<SessionId> {
    let mut due = Vec::new();
    for _ in 0..sessions.len() {
        if due.len() == POLL_PER_TICK {
            break;
        }
        let session = sessions[*cursor];
        *cursor = (*cursor + 1) % sessions.len();
        if in_flight.contains_key(&session) {
            due.push(session);
        }
    }
    due
}

/// Safety net for missed pushes: asks for the state of `sessions`.
async fn poll_sessions(client: &Client, sessions: Vec<SessionId>) -> Vec<SessionSummary> {
    let mut out = Vec::new();
    for session in sessions {
        if let Ok(ControlResponse::Session(summary)) = client
            .request(ControlRequest::SessionGet {
                id: session.to_string(),
            })
            .await
        {
            out.push(summary);
        }
    }
    out
}

fn progress_message(running: usize, counts: &HashMap<SessionStatus, usize>) -> String {
    let mut parts = vec![format!("{running} running")];
    let mut ended: Vec<_> = counts.iter().collect();
    ended.sort_by_key(|(status, _)| status.as_str());
    parts.extend(ended.into_iter().map(|(status, n)| format!("{n} {status}")));
    parts.join(" · ")
}

/// How a run ended, from its terminal event, on one line (a crash's
/// last words on stderr are in `studio events ID`).
async fn end_detail(client: &Client, session: SessionId, events: u64) -> String {
    let request = ControlRequest::Events {
        session,
        after_seq: events.saturating_sub(1),
        limit: 1,
    };
    match client.request(request).await {
        Ok(ControlResponse::Events(events)) => events
            .last()
            .map(|e| {
                let end = describe_end(&e.kind);
                end.lines().next().unwrap_or_default().to_owned()
            })
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// The summary table (or JSON document) and the totals line.
pub(crate) fn print_summary(items: &[BatchItem], outcomes: &[BatchOutcome], json: bool) {
    let mut totals: HashMap<&str, usize> = HashMap::new();
    for outcome in outcomes {
        *totals.entry(outcome.summary.status.as_str()).or_default() += 1;
    }
    if json {
        let runs: Vec<_> = items
            .iter()
            .zip(outcomes)
            .map(|(item, o)| {
                serde_json::json!({
                    "label": item.label,
                    "session": o.summary.id.to_string(),
                    "status": o.summary.status.as_str(),
                    "events": o.summary.events,
                    "duration_ms": session_duration(&o.summary).map(|d| d.as_millis() as u64),
                    "detail": o.detail,
                })
            })
            .collect();
        print_json(&serde_json::json!({ "runs": runs, "totals": totals }));
        return;
    }
    let mut t = table(&[
        "#", "LABEL", "SESSION", "STATUS", "EVENTS", "DURATION", "DETAIL",
    ]);
    for (index, (item, o)) in items.iter().zip(outcomes).enumerate() {
        t.add_row(vec![
            (index + 1).to_string(),
            item.label.clone(),
            o.summary.id.to_string(),
            o.summary.status.as_str().to_owned(),
            o.summary.events.to_string(),
            session_duration(&o.summary).map_or("-".to_owned(), duration),
            o.detail.clone(),
        ]);
    }
    outln!("{t}");
    let mut totals: Vec<_> = totals.into_iter().collect();
    totals.sort();
    let totals: Vec<String> = totals
        .iter()
        .map(|(status, n)| format!("{n} {status}"))
        .collect();
    outln!("{} runs: {}", outcomes.len(), totals.join(", "));
}

#[cfg(test)]
mod tests {
    use protocol::agent::Fault;

    use super::*;

    #[test]
    fn the_poll_takes_turns_through_the_unfinished_runs() {
        let sessions: Vec<SessionId> = (0..150).map(|_| SessionId::new()).collect();
        let mut in_flight: HashMap<SessionId, usize> = sessions
            .iter()
            .enumerate()
            .map(|(index, session)| (*session, index))
            .collect();
        // Every tenth run has ended: it is never asked about again.
        for ended in sessions.iter().step_by(10) {
            in_flight.remove(ended);
        }
        let mut cursor = 0;
        let mut asked = HashSet::new();
        for _ in 0..3 {
            let due = next_to_poll(&sessions, &in_flight, &mut cursor);
            assert!(due.len() <= POLL_PER_TICK, "{} at once", due.len());
            assert!(due.iter().all(|s| in_flight.contains_key(s)));
            asked.extend(due);
        }
        assert_eq!(
            asked.len(),
            in_flight.len(),
            "every unfinished run in 3 ticks"
        );
        assert!(next_to_poll(&sessions, &HashMap::new(), &mut cursor).is_empty());
    }

    #[test]
    fn batch_files_are_checked_whole_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.jsonl");
        std::fs::write(
            &path,
            "{\"prompt\":\"a\"}\n\n{\"prompt\":\"b\",\"fault\":\"panic\",\"label\":\"p\"}\n{\"promt\":\"c\"}\n{\"prompt\":\"d\",\"fault\":\"melt\"}\n",
        )
        .unwrap();
        let err = read_batch(&path, "agent").unwrap_err();
        assert_eq!(err.code, 2);
        assert!(err.message.contains("2 bad line(s)"), "{}", err.message);
        assert!(err.message.contains("b.jsonl: "), "{}", err.message);
        assert!(
            err.message.contains("line 4: unknown field `promt`"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("line 5: unknown fault"),
            "{}",
            err.message
        );
    }

    #[test]
    fn batch_lines_become_run_specs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.jsonl");
        std::fs::write(
            &path,
            "{\"prompt\":\"a\"}\n{\"prompt\":\"b\",\"agent\":\"other\",\"fault\":\"exit:3\",\"budgets\":{\"max_memory_mib\":64}}\n",
        )
        .unwrap();
        let items = read_batch(&path, "main").unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].label, "line 1");
        assert_eq!(items[0].spec.agent, "main");
        assert_eq!(items[1].spec.agent, "other");
        assert_eq!(items[1].spec.script.fault, Some(Fault::Exit { code: 3 }));
        assert_eq!(items[1].spec.budgets.max_memory_mib, Some(64));
    }
}
