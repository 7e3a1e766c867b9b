//! `scripts/bench`, the app at scale: the Runs page with 1,000 runs and the
//! Inspector (its timeline window and waterfall) on a 10,000-event
//! session, each against a baseline a tenth its size measured in the same
//! run. The states are made here, as the daemon would send them: what is
//! measured is the app's own work, a full dioxus-ssr render of the page.

use std::fmt::Write as _;
use std::time::Duration;

use protocol::control::{Estimated, SessionSummary, SessionTotals};
use protocol::event::{Decider, Event, EventKind, Usage};
use protocol::{SessionId, SessionStatus, Timestamp};
use ui_dioxus::{AppState, Page};

use super::{ms, quantile, ratio, render_page};

/// Renders of each page measured.
const RENDERS: usize = 40;

/// What was measured: (baseline, scaled) render times of each page.
pub struct Scale {
    runs: (usize, usize),
    events: (usize, usize),
    render_runs: (Vec<Duration>, Vec<Duration>),
    render_inspector: (Vec<Duration>, Vec<Duration>),
}

/// Measures both pages at both sizes (`quick`: a tenth of them).
pub fn measure(quick: bool) -> Scale {
    let scale = if quick { 10 } else { 1 };
    let runs = (100 / scale, 1000 / scale);
    let events = (1000 / scale, 10_000 / scale);
    let now = Timestamp::now();
    let timed = |state: &AppState, page: Page| -> Vec<Duration> {
        (0..RENDERS).map(|_| render_page(state, page)).collect()
    };
    let runs_state = |n| state_with(n, 0, now);
    let inspector_state = |n| state_with(10, n, now);
    Scale {
        runs,
        events,
        render_runs: (
            timed(&runs_state(runs.0), Page::Runs),
            timed(&runs_state(runs.1), Page::Runs),
        ),
        render_inspector: (
            timed(&inspector_state(events.0), Page::Inspector),
            timed(&inspector_state(events.1), Page::Inspector),
        ),
    }
}

/// `runs` runs (a tenth of them alone, the rest in batches of 50, of
/// every status), and a live session of `events` events inspected.
fn state_with(runs: usize, events: usize, now: Timestamp) -> AppState {
    let statuses = [
        SessionStatus::Running,
        SessionStatus::Completed,
        SessionStatus::Queued,
        SessionStatus::Failed,
        SessionStatus::Waiting,
        SessionStatus::Killed,
    ];
    let mut sessions: Vec<SessionSummary> = (0..runs)
        .map(|n| {
            let batch = (n >= runs / 10).then(|| SessionId::from_u128(1 + (n / 50) as u128));
            summary(n, statuses[n % statuses.len()], batch, now)
        })
        .collect();
    let inspected = summary(runs, SessionStatus::Running, None, now);
    let id = inspected.id;
    sessions.push(inspected);
    AppState {
        sessions: Some(sessions.into_iter().map(|s| (s.id, s)).collect()),
        inspected: Some((id, session_events(id, events, now))),
        now,
        ..AppState::default()
    }
}

fn summary(
    n: usize,
    status: SessionStatus,
    batch: Option<SessionId>,
    now: Timestamp,
) -> SessionSummary {
    let live = !status.is_terminal();
    let started = Timestamp(now.0.saturating_sub(60_000_000 + n as u64 * 1000));
    SessionSummary {
        id: SessionId::from_u128(1_000_000 + n as u128),
        agent: format!("agent-{}", n % 7),
        label: Some(format!("line {n}")),
        title: format!("Summarise report number {n} in five bullets"),
        status,
        pid: live.then_some(1000 + n as u32),
        rss_bytes: live.then_some(5_000_000),
        events: 40,
        created_at: started,
        started_at: Some(started),
        ended_at: (!live).then_some(now),
        parent: None,
        branched_at: None,
        interactive: false,
        totals: Some(SessionTotals {
            usage: Usage {
                input_tokens: 1200,
                output_tokens: 300,
                ..Usage::default()
            },
            cost_usd: 0.01,
            unpriced: 0,
        }),
        estimated: if live {
            Estimated {
                usage: Usage {
                    output_tokens: 40,
                    ..Usage::default()
                },
                cost_usd: 0.001,
                unpriced: false,
            }
        } else {
            Estimated::default()
        },
        waiting: None,
        batch,
        last_activity: now,
        damage: None,
        job: None,
    }
}

/// A session's log of `count` events: turns of a request (20 chunks) then
/// a tool call that waits for a person, over the last hour.
fn session_events(session: SessionId, count: usize, now: Timestamp) -> Vec<Event> {
    let start = now.0.saturating_sub(3_600_000_000);
    let step = 3_600_000_000 / count.max(1) as u64;
    let mut kinds = Vec::with_capacity(count);
    let mut turn = 0;
    while kinds.len() < count {
        let request_id = format!("req-{turn}");
        let call_id = format!("call-{turn}");
        kinds.push(EventKind::LlmRequestStarted {
            request_id: request_id.clone(),
            provider: "openai".into(),
            model: "gpt-4o".into(),
            params: "{}".into(),
        });
        for _ in 0..20 {
            kinds.push(EventKind::LlmResponseChunk {
                request_id: request_id.clone(),
                text: "some streamed words ".into(),
            });
        }
        kinds.push(EventKind::LlmResponseCompleted {
            request_id,
            usage: Usage::default(),
            finish_reason: "tool_calls".into(),
        });
        kinds.push(EventKind::ToolRequested {
            call_id: call_id.clone(),
            tool: "shell".into(),
            arguments: r#"{"command":"ls"}"#.into(),
        });
        kinds.push(EventKind::ToolApprovalPending {
            call_id: call_id.clone(),
            approval: turn,
            expires_at: now,
        });
        kinds.push(EventKind::ToolApproved {
            call_id: call_id.clone(),
            by: Decider::User,
        });
        kinds.push(EventKind::ToolCompleted {
            call_id,
            output: "a.txt\nb.txt".into(),
            truncated: false,
        });
        turn += 1;
    }
    kinds.truncate(count);
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, kind)| Event {
            session,
            seq: i as u64 + 1,
            at: Timestamp(start + i as u64 * step),
            kind,
        })
        .collect()
}

/// The markdown section.
pub fn section(scale: &Scale, quick: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n## 8. The app at scale\n");
    if quick {
        let _ = writeln!(
            out,
            "_Quick run (`--quick`): a tenth of the sizes, figures not meaningful._\n"
        );
    }
    let _ = writeln!(
        out,
        "Full dioxus-ssr renders of the page from a store made as the daemon would fill it \
         ({RENDERS} each): the Runs page with {} runs (a tenth alone, the rest in batches of \
         50, of every status) against {}; the Inspector on a live session of {} events \
         (its timeline draws the rows in view, its waterfall the latest bars) against {}. \
         16.7 ms is one frame at 60 Hz.\n",
        scale.runs.1, scale.runs.0, scale.events.1, scale.events.0
    );
    let _ = writeln!(out, "| figure | baseline | scaled | scaled / baseline |");
    let _ = writeln!(out, "|---|---:|---:|---:|");
    let rows = [
        ("render Runs page", &scale.render_runs),
        ("render Inspector with waterfall", &scale.render_inspector),
    ];
    for (name, (base, scaled)) in rows {
        for (q, label) in [(0.5, "p50"), (0.99, "p99")] {
            let (b, s) = (quantile(base, q), quantile(scaled, q));
            let _ = writeln!(
                out,
                "| {name} {label} | {} | {} | {} |",
                ms(b),
                ms(s),
                ratio(s.as_secs_f64(), b.as_secs_f64())
            );
        }
    }
    let frame = Duration::from_micros(16_667);
    let worst = quantile(&scale.render_runs.1, 0.99).max(quantile(&scale.render_inspector.1, 0.99));
    let _ = writeln!(
        out,
        "\nGoal: with {} runs, and on a {}-event session, a full render fits in one 60 Hz \
         frame at p99 (16.7 ms): {} ({}).",
        scale.runs.1,
        scale.events.1,
        if worst <= frame { "met" } else { "not met" },
        ms(worst)
    );
    out
}
