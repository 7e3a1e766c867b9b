//! `studio demo`: the main job on built-in defaults.
//!
//! Starts 40 scripted runs at once. Most answer normally; the rest hang,
//! spin, leak memory, panic, abort or exit, and are cancelled, killed or
//! contained by budgets. At the end it checks from the recorded events that
//! every well-behaved run got its full answer and that every session has a
//! gapless log with exactly one terminal event.

use std::time::Duration;

use clap::Args;
use protocol::agent::{AgentConfig, Budgets, Fault, Script, ScriptPatch};
use protocol::control::{ControlRequest, RunSpec};
use protocol::event::{Event, EventKind, SessionStatus};
use studio_client::Client;

use super::batch::{BatchItem, BatchOutcome, Fanout, note, progress_bar, run_batch};
use super::output::{print_json, table};
use super::{CliError, Ctx};

/// The demo agent's name.
const AGENT: &str = "demo";

#[derive(Args, Debug)]
pub(crate) struct DemoArgs {
    /// Runs in flight at once (the daemon queues beyond its own limit).
    #[arg(long, default_value_t = 40)]
    parallel: usize,
}

/// What the demo does to a run once it is running.
#[derive(Clone, Copy, Debug)]
enum Action {
    Cancel(Duration),
    Kill(Duration),
}

struct Scenario {
    name: &'static str,
    runs: usize,
    script: ScriptPatch,
    budgets: Budgets,
    action: Option<Action>,
    expect: SessionStatus,
}

fn faulty(fault: Fault) -> ScriptPatch {
    ScriptPatch {
        fault: Some(fault),
        fault_after_chunks: Some(5),
        ..ScriptPatch::default()
    }
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "answers normally",
            runs: 29,
            script: ScriptPatch::default(),
            budgets: Budgets::default(),
            action: None,
            expect: SessionStatus::Completed,
        },
        Scenario {
            name: "slow, cancelled by the user",
            runs: 1,
            script: ScriptPatch {
                chunks: Some(100),
                chunk_delay_ms: Some(100),
                ..ScriptPatch::default()
            },
            budgets: Budgets::default(),
            action: Some(Action::Cancel(Duration::from_millis(1500))),
            expect: SessionStatus::Cancelled,
        },
        Scenario {
            name: "hangs; 2s idle budget",
            runs: 2,
            script: faulty(Fault::Hang),
            budgets: Budgets {
                max_idle_secs: Some(2),
                ..Budgets::default()
            },
            action: None,
            expect: SessionStatus::Cancelled,
        },
        Scenario {
            name: "spins; killed by the user",
            runs: 2,
            script: faulty(Fault::Spin),
            budgets: Budgets::default(),
            action: Some(Action::Kill(Duration::from_millis(1500))),
            expect: SessionStatus::Killed,
        },
        Scenario {
            name: "leaks memory; 64 MiB budget",
            runs: 2,
            script: faulty(Fault::GrowMemory { mib_per_sec: 128 }),
            budgets: Budgets {
                max_memory_mib: Some(64),
                ..Budgets::default()
            },
            action: None,
            expect: SessionStatus::Killed,
        },
        Scenario {
            name: "panics",
            runs: 2,
            script: faulty(Fault::Panic),
            budgets: Budgets::default(),
            action: None,
            expect: SessionStatus::Crashed,
        },
        Scenario {
            name: "aborts",
            runs: 1,
            script: faulty(Fault::Abort),
            budgets: Budgets::default(),
            action: None,
            expect: SessionStatus::Crashed,
        },
        Scenario {
            name: "exits with code 3",
            runs: 1,
            script: faulty(Fault::Exit { code: 3 }),
            budgets: Budgets::default(),
            action: None,
            expect: SessionStatus::Crashed,
        },
    ]
}

fn demo_agent() -> AgentConfig {
    AgentConfig {
        system_prompt: "You are a demo agent. You answer from a script.".to_owned(),
        script: Script {
            chunks: 30,
            chunk_chars: 12,
            chunk_delay_ms: 40,
            ..Script::default()
        },
        ..AgentConfig::scripted(AGENT)
    }
}

/// Interleaves scenarios so misbehaving runs are spread among the others.
fn plan(scenarios: &[Scenario]) -> Vec<(usize, BatchItem)> {
    let mut normal = Vec::new();
    let mut odd = Vec::new();
    for (index, scenario) in scenarios.iter().enumerate() {
        for n in 0..scenario.runs {
            let label = format!("{} #{}", scenario.name, n + 1);
            let item = BatchItem {
                label: label.clone(),
                spec: RunSpec {
                    agent: AGENT.to_owned(),
                    prompt: format!("Demo run: {label}. Tell me about process isolation."),
                    label: Some(label),
                    script: scenario.script.clone(),
                    budgets: scenario.budgets.clone(),
                    ..RunSpec::default()
                },
            };
            if scenario.action.is_none() && scenario.expect == SessionStatus::Completed {
                normal.push((index, item));
            } else {
                odd.push((index, item));
            }
        }
    }
    let mut out = Vec::new();
    let mut odd = odd.into_iter();
    for (n, item) in normal.into_iter().enumerate() {
        out.push(item);
        if n % 3 == 1
            && let Some(o) = odd.next()
        {
            out.push(o);
        }
    }
    out.extend(odd);
    out
}

pub(crate) async fn execute(args: DemoArgs, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    client
        .request(ControlRequest::AgentCreate {
            agent: Box::new(demo_agent()),
            replace: true,
        })
        .await?;
    let scenarios = scenarios();
    let planned = plan(&scenarios);
    let items: Vec<BatchItem> = planned.iter().map(|(_, item)| item.clone()).collect();
    if !ctx.json {
        outln!(
            "AI Studio demo: {} runs of agent '{AGENT}', each in its own worker process.\n\
             Some will hang, spin, leak memory or crash; watch the others finish untouched.\n",
            items.len()
        );
    }
    let progress = progress_bar(items.len() as u64, ctx.json);
    let acted = std::sync::Mutex::new(std::collections::HashSet::new());
    let fanout = Fanout {
        items: &items,
        parallel: args.parallel.max(1),
        name: "demo",
        caps: &Default::default(),
        checks: &[],
    };
    let outcomes = run_batch(&client, fanout, &progress, |index, summary| {
        let scenario = &scenarios[planned[index].0];
        let (Some(action), SessionStatus::Running) = (scenario.action, summary.status) else {
            return;
        };
        if !acted
            .lock()
            .map(|mut a| a.insert(summary.id))
            .unwrap_or(false)
        {
            return;
        }
        let client = client.clone();
        let session = summary.id;
        let label = items[index].label.clone();
        let progress = progress.clone();
        tokio::spawn(async move {
            let (delay, request, verb) = match action {
                Action::Cancel(d) => (d, ControlRequest::Cancel { session }, "cancelling"),
                Action::Kill(d) => (d, ControlRequest::Kill { session }, "killing"),
            };
            tokio::time::sleep(delay).await;
            note(&progress, format!("  {verb} '{label}' ({session})"));
            if let Err(err) = client.request(request).await {
                note(&progress, format!("  could not stop '{label}': {err}"));
            }
        });
    })
    .await?;
    progress.finish_and_clear();
    let report = verify(&client, &scenarios, &planned, &outcomes).await?;
    report.print(ctx.json);
    if report.ok() {
        Ok(())
    } else {
        Err(CliError::msg("the demo did not go as expected (see above)"))
    }
}

/// How one scenario's runs ended.
struct ScenarioRow {
    name: &'static str,
    runs: usize,
    expect: SessionStatus,
    got: Vec<(SessionStatus, usize)>,
    ok: bool,
}

/// Per-scenario results and the log checks.
struct Report {
    rows: Vec<ScenarioRow>,
    complete_answers: usize,
    normal_runs: usize,
    log_problems: Vec<String>,
    sessions: usize,
    events: u64,
}

impl Report {
    fn ok(&self) -> bool {
        self.rows.iter().all(|r| r.ok)
            && self.log_problems.is_empty()
            && self.complete_answers == self.normal_runs
    }

    fn print(&self, json: bool) {
        if json {
            let rows: Vec<_> = self
                .rows
                .iter()
                .map(|row| {
                    serde_json::json!({
                        "scenario": row.name,
                        "runs": row.runs,
                        "expected": row.expect.as_str(),
                        "got": row.got.iter().map(|(s, n)| (s.as_str().to_owned(), *n)).collect::<std::collections::BTreeMap<_, _>>(),
                        "ok": row.ok,
                    })
                })
                .collect();
            print_json(&serde_json::json!({
                "ok": self.ok(),
                "scenarios": rows,
                "complete_answers": self.complete_answers,
                "normal_runs": self.normal_runs,
                "sessions_checked": self.sessions,
                "events_checked": self.events,
                "log_problems": self.log_problems,
            }));
            return;
        }
        let mut t = table(&["SCENARIO", "RUNS", "EXPECTED", "GOT", ""]);
        for row in &self.rows {
            let got: Vec<String> = row.got.iter().map(|(s, n)| format!("{n} {s}")).collect();
            t.add_row(vec![
                row.name.to_owned(),
                row.runs.to_string(),
                row.expect.to_string(),
                got.join(", "),
                if row.ok { "ok" } else { "UNEXPECTED" }.to_owned(),
            ]);
        }
        outln!("{t}\n");
        outln!(
            "{}/{} well-behaved runs completed with their full answer, streamed chunk by chunk.",
            self.complete_answers,
            self.normal_runs
        );
        outln!(
            "{} sessions, {} events checked: every log is gapless from seq 1 and ends in exactly one terminal event.",
            self.sessions,
            self.events
        );
        for problem in &self.log_problems {
            outln!("  problem: {problem}");
        }
        outln!("\nLook closer: `studio ps --all`, `studio events ID`.");
    }
}

async fn verify(
    client: &Client,
    scenarios: &[Scenario],
    planned: &[(usize, BatchItem)],
    outcomes: &[BatchOutcome],
) -> Result<Report, CliError> {
    let mut report = Report {
        rows: Vec::new(),
        complete_answers: 0,
        normal_runs: 0,
        log_problems: Vec::new(),
        sessions: 0,
        events: 0,
    };
    for (index, scenario) in scenarios.iter().enumerate() {
        let mut got: Vec<(SessionStatus, usize)> = Vec::new();
        for ((s, _), outcome) in planned.iter().zip(outcomes) {
            if *s != index {
                continue;
            }
            let status = outcome.summary.status;
            match got.iter_mut().find(|(st, _)| *st == status) {
                Some((_, n)) => *n += 1,
                None => got.push((status, 1)),
            }
        }
        let ok = got.len() == 1 && got[0].0 == scenario.expect && got[0].1 == scenario.runs;
        report.rows.push(ScenarioRow {
            name: scenario.name,
            runs: scenario.runs,
            expect: scenario.expect,
            got,
            ok,
        });
    }
    let agent = demo_agent();
    for ((s, _), outcome) in planned.iter().zip(outcomes) {
        let session = outcome.summary.id;
        let events = client.all_events(session, 0).await?;
        report.sessions += 1;
        report.events += events.len() as u64;
        if let Err(problem) = check_log(&events) {
            report.log_problems.push(format!("{session}: {problem}"));
        }
        let scenario = &scenarios[*s];
        if scenario.expect == SessionStatus::Completed && scenario.action.is_none() {
            report.normal_runs += 1;
            let expected_len = (agent.script.chunks * agent.script.chunk_chars) as usize;
            if full_answer(&events).is_some_and(|answer| answer.chars().count() == expected_len) {
                report.complete_answers += 1;
            }
        }
    }
    Ok(report)
}

/// Seqs run 1..=n and exactly the last event is terminal.
fn check_log(events: &[Event]) -> Result<(), String> {
    for (index, event) in events.iter().enumerate() {
        if event.seq != index as u64 + 1 {
            return Err(format!(
                "seq {} where {} was expected",
                event.seq,
                index + 1
            ));
        }
    }
    let terminals = events.iter().filter(|e| e.kind.is_terminal()).count();
    if terminals != 1 || !events.last().is_some_and(|e| e.kind.is_terminal()) {
        return Err(format!("{terminals} terminal events, or not at the end"));
    }
    Ok(())
}

/// The answer, if the streamed chunks add up to the final message.
fn full_answer(events: &[Event]) -> Option<String> {
    let streamed: String = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::LlmResponseChunk { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let completed = events
        .iter()
        .any(|e| matches!(e.kind, EventKind::SessionCompleted));
    events.iter().find_map(|e| match &e.kind {
        EventKind::MessageAssistant { text } if completed && *text == streamed => {
            Some(text.clone())
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_has_forty_runs_with_misbehaving_ones_spread_out() {
        let scenarios = scenarios();
        let planned = plan(&scenarios);
        assert_eq!(planned.len(), 40);
        let first_odd = planned.iter().position(|(s, _)| *s != 0).unwrap();
        assert!(first_odd < 5, "misbehaving runs start early: {first_odd}");
        assert!(
            planned[35..].iter().any(|(s, _)| *s == 0),
            "well-behaved runs are spread to the end"
        );
    }

    #[test]
    fn a_log_with_a_gap_or_two_endings_is_reported() {
        let session = protocol::SessionId::from_u128(1);
        let event = |seq, kind| Event {
            session,
            seq,
            at: protocol::Timestamp(0),
            kind,
        };
        let good = vec![
            event(1, EventKind::RunQueued),
            event(2, EventKind::SessionCompleted),
        ];
        assert!(check_log(&good).is_ok());
        let gap = vec![
            event(1, EventKind::RunQueued),
            event(3, EventKind::SessionCompleted),
        ];
        assert!(check_log(&gap).unwrap_err().contains("seq 3"));
        let twice = vec![
            event(1, EventKind::SessionCompleted),
            event(2, EventKind::SessionCompleted),
        ];
        assert!(check_log(&twice).unwrap_err().contains("2 terminal"));
    }
}
