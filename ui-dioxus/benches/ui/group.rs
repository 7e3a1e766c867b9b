//! `scripts/bench`, one big group: 500 runs started as one group from the
//! app (`Command::Run`), its results table open on the Runs page while they
//! run, against a group of 50 measured in the same run. Measured: the time
//! to fold each update into the store, a full render of the Runs page
//! (the group's line and its results table) every 100 ms, and how
//! long until the table's totals say every run completed.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use protocol::control::RunSpec;
use protocol::{SessionId, SessionStatus};
use ui_dioxus::state::Results;
use ui_dioxus::{AppState, Command, Page};

use super::{App, Figures, RENDER_EVERY, ms, quantile, ratio, render_page, us};

/// Runs of the group that may be live at once (the rest wait in the queue).
const PARALLEL: u32 = 32;

/// What one group measured.
pub struct GroupFigures {
    runs: usize,
    fold: Vec<Duration>,
    render: Vec<Duration>,
    /// From `Command::Run` until the results table's totals say every run
    /// completed.
    all_shown: Duration,
}

/// The agent each run of the groups uses: a short answer in 5 chunks.
pub const AGENT: &str = "grouped";

/// Starts `runs` runs as one group and follows it with its results table
/// open until the table says all of them completed.
pub async fn phase(app: &mut App, runs: usize) -> GroupFigures {
    let name = format!("group of {runs}");
    let spec = RunSpec {
        agent: AGENT.into(),
        prompt: format!("{name}: say something short"),
        ..RunSpec::default()
    };
    let started = Instant::now();
    app.commands
        .send(Command::Run {
            runs: vec![spec; runs],
            parallel: PARALLEL,
            name: name.clone(),
            caps: Default::default(),
            checks: Vec::new(),
        })
        .unwrap();
    app.state.page = Page::Runs;
    let mut figures = Figures::default();
    let mut render = Vec::new();
    let mut render_tick = tokio::time::interval(RENDER_EVERY);
    let mut asked_at_ended = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    loop {
        if let Some(group) = shown(&app.state)
            && group.summary.count(SessionStatus::Completed) as usize == runs
        {
            break;
        }
        tokio::select! {
            update = tokio::time::timeout_at(deadline, app.updates.recv()) => {
                let update = update.expect("the group did not end in time")
                    .expect("the connection task ended");
                app.fold(update, &mut figures);
            }
            _ = render_tick.tick() => {
                render.push(render_page(&app.state, Page::Runs));
                // Open the table once the group is known, and read it
                // again as runs end (as the page does).
                let Some(group) = group_of(&app.state, &name) else { continue };
                if app.state.results.as_ref().is_none_or(|r| r.group != group) {
                    app.state.results = Some(Results { group, shown: None });
                }
                let ended = ended(&app.state, group);
                if asked_at_ended != Some(ended) {
                    asked_at_ended = Some(ended);
                    app.commands.send(Command::Results(group)).unwrap();
                }
            }
        }
    }
    GroupFigures {
        runs,
        fold: figures.fold,
        render,
        all_shown: started.elapsed(),
    }
}

/// The results table's group, once read.
fn shown(state: &AppState) -> Option<&protocol::control::Group> {
    state.results.as_ref()?.shown.as_deref()
}

/// The group named `name`: its runs' `batch`, once one of them is listed.
fn group_of(state: &AppState, name: &str) -> Option<SessionId> {
    state
        .sessions
        .as_ref()?
        .values()
        .find(|s| s.title.starts_with(&format!("{name}:")))
        .and_then(|s| s.batch)
}

/// How many runs of `group` the store holds as ended.
fn ended(state: &AppState, group: SessionId) -> usize {
    state
        .sessions
        .iter()
        .flat_map(|s| s.values())
        .filter(|s| s.batch == Some(group) && s.status.is_terminal())
        .count()
}

/// The report's section.
pub fn section(baseline: &GroupFigures, big: &GroupFigures, quick: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n## 10. One big group\n");
    if quick {
        let _ = writeln!(
            out,
            "_Quick run (`--quick`): small sizes, figures not meaningful._\n"
        );
    }
    let _ = writeln!(
        out,
        "A group of {} runs started from the app (`Command::Run`, at most {PARALLEL} live at \
         once, each a short scripted answer) against a group of {}, measured in the same run \
         against the release daemon. While the runs go, the app's updates are folded into its \
         store and the whole Runs page is rendered every {} ms with the group's results table \
         open (a row per run, the first 100 drawn, read again as runs end, as the page does). Shown: from \
         `Command::Run` until the table's totals say every run completed.\n",
        big.runs,
        baseline.runs,
        RENDER_EVERY.as_millis()
    );
    let _ = writeln!(out, "| figure | baseline | big | big / baseline |");
    let _ = writeln!(out, "|---|---:|---:|---:|");
    let _ = writeln!(
        out,
        "| runs in the group | {} | {} | {} |",
        baseline.runs,
        big.runs,
        ratio(big.runs as f64, baseline.runs as f64)
    );
    let _ = writeln!(
        out,
        "| updates folded | {} | {} | {} |",
        baseline.fold.len(),
        big.fold.len(),
        ratio(big.fold.len() as f64, baseline.fold.len() as f64)
    );
    for (q, label) in [(0.5, "p50"), (0.99, "p99")] {
        let (b, s) = (quantile(&baseline.fold, q), quantile(&big.fold, q));
        let _ = writeln!(
            out,
            "| fold one update {label} | {} | {} | {} |",
            us(b),
            us(s),
            ratio(s.as_secs_f64(), b.as_secs_f64())
        );
    }
    for (q, label) in [(0.5, "p50"), (0.99, "p99")] {
        let (b, s) = (quantile(&baseline.render, q), quantile(&big.render, q));
        let _ = writeln!(
            out,
            "| render Runs page with the results table {label} | {} | {} | {} |",
            ms(b),
            ms(s),
            ratio(s.as_secs_f64(), b.as_secs_f64())
        );
    }
    let _ = writeln!(
        out,
        "| every run shown completed | {:.1} s | {:.1} s | {} |",
        baseline.all_shown.as_secs_f64(),
        big.all_shown.as_secs_f64(),
        ratio(
            big.all_shown.as_secs_f64(),
            baseline.all_shown.as_secs_f64()
        )
    );
    let frame = Duration::from_micros(16_667);
    let worst = quantile(&big.render, 0.99);
    let _ = writeln!(
        out,
        "\nGoal: with {} runs in one group and its table open, a full render of the Runs page \
         fits in one 60 Hz frame at p99 (16.7 ms): {} ({}).",
        big.runs,
        if worst <= frame { "met" } else { "not met" },
        ms(worst)
    );
    out
}
