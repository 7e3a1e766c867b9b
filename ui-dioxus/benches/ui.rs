//! `scripts/bench`, desktop app section: does the app stay responsive while
//! 200 runs stream at once?
//!
//! The app's own connection task (`connection::run`) talks to a real daemon
//! (the release `studio`, real workers) and its updates are folded into an
//! `AppState` as the window does. Two phases run the same measurement: a
//! baseline of a few streaming runs, then many (200 in a full run), with
//! one run followed live in the Inspector in both. Measured in each:
//! updates folded per second and the time to fold one; the time to render
//! the whole Runs page and the Inspector from the state (dioxus-ssr: a full
//! render, an upper bound on the diff the window does per frame); and how
//! long a Kill takes to show (command sent until the store holds the
//! killed status). The section is appended to the report the supervisor
//! bench wrote (`--out`), with each figure's ratio to the baseline; then
//! `ui/scale.rs` renders the Runs page with 1,000 runs and the Inspector
//! on a 10,000-event session, and `ui/group.rs` follows a group of 500
//! runs with its results table open.

// A bench fails by panicking or returning an error.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(
    clippy::disallowed_methods,
    reason = "the benchmark starts the binaries it measures"
)]

#[path = "ui/desktop_keys.rs"]
mod desktop_keys;
#[path = "ui/group.rs"]
mod group;
#[path = "ui/keystrokes.rs"]
mod keystrokes;
#[path = "ui/scale.rs"]
mod scale;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use dioxus::prelude::*;
use protocol::SessionId;
use protocol::control::RunSpec;
use protocol::layout::Layout;
use tokio::sync::mpsc;
use ui_dioxus::{AppState, Command, Commands, Page, Shell, Target, Update};

/// Command-line options (the same as the supervisor bench's).
#[derive(Parser, Debug)]
struct Args {
    /// Small sizes: checks the harness, measures little.
    #[arg(long)]
    quick: bool,
    /// The repository root (cargo runs benches from the package directory).
    #[arg(long, default_value = "..")]
    root: PathBuf,
    /// The report to append to.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// Directory holding the `studio` and `studio-worker` binaries.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Sizes of one bench run.
#[derive(Clone, Copy)]
struct Sizes {
    baseline_runs: usize,
    loaded_runs: usize,
    /// How long each phase is measured.
    window: Duration,
    /// Runs killed during each window.
    kills: usize,
    /// Runs of the baseline group and of the big one.
    groups: (usize, usize),
}

const FULL: Sizes = Sizes {
    baseline_runs: 10,
    loaded_runs: 200,
    window: Duration::from_secs(10),
    kills: 8,
    groups: (50, 500),
};

const QUICK: Sizes = Sizes {
    baseline_runs: 4,
    loaded_runs: 24,
    window: Duration::from_secs(3),
    kills: 2,
    groups: (5, 20),
};

/// How often the pages are rendered during a window.
const RENDER_EVERY: Duration = Duration::from_millis(100);

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let sizes = if args.quick { QUICK } else { FULL };
    let studio = args.root.join(&args.bin_dir).join("studio");
    if !studio.is_file() {
        bail!(
            "{} not found: build it first (scripts/bench does)",
            studio.display()
        );
    }
    let tmp = tempfile::Builder::new().prefix("uib").tempdir_in("/tmp")?;
    let dir = tmp.path().join("d");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = runtime.block_on(measure(&studio, &dir, sizes));
    let typed = type_keys(&args.root, &studio, &dir, sizes, args.quick);
    let _ = std::process::Command::new(&studio)
        .arg("--data-dir")
        .arg(&dir)
        .args(["daemon", "stop"])
        .output();
    let (baseline, loaded, groups) = result?;
    eprintln!("bench: the app at scale");
    let scaled = scale::measure(args.quick);
    let mut section = render(sizes, &baseline, &loaded, args.quick);
    section.push_str(&scale::section(&scaled, args.quick));
    section.push_str(&keystrokes::section(typed, args.quick));
    section.push_str(&group::section(&groups.0, &groups.1, args.quick));
    let out = args.root.join(&args.out);
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&out)
        .and_then(|mut file| file.write_all(section.as_bytes()))
        .with_context(|| format!("cannot append to {}", out.display()))?;
    println!("{section}");
    eprintln!(
        "bench: appended the desktop app section to {}",
        out.display()
    );
    Ok(())
}

/// `studio --data-dir DIR ARGS`, which must succeed.
fn studio(studio: &Path, dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = std::process::Command::new(studio)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()?;
    if !out.status.success() {
        bail!(
            "studio {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// The app's side of the connection: its command sender, its updates, and
/// the store they are folded into.
struct App {
    commands: mpsc::UnboundedSender<Command>,
    updates: mpsc::UnboundedReceiver<Update>,
    state: AppState,
}

impl App {
    /// Folds one update, timed.
    fn fold(&mut self, update: Update, figures: &mut Figures) {
        let started = Instant::now();
        self.state.apply(update);
        figures.fold.push(started.elapsed());
    }

    /// Folds updates until `done` holds for the store.
    async fn fold_until(&mut self, what: &str, done: impl Fn(&AppState) -> bool) {
        let mut ignored = Figures::default();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while !done(&self.state) {
            match tokio::time::timeout_at(deadline, self.updates.recv()).await {
                Ok(Some(update)) => self.fold(update, &mut ignored),
                Ok(None) => panic!("the connection task ended"),
                Err(_) => panic!("timed out waiting for {what}"),
            }
        }
    }
}

/// The streaming phases' figures, then the two groups'.
type Measured = (Figures, Figures, (group::GroupFigures, group::GroupFigures));

async fn measure(studio_bin: &Path, dir: &Path, sizes: Sizes) -> anyhow::Result<Measured> {
    // Each run streams for about 40 s, longer than a window.
    studio(
        studio_bin,
        dir,
        &[
            "agent",
            "create",
            "streamer",
            "--chunks",
            "800",
            "--chunk-delay-ms",
            "50",
        ],
    )?;
    studio(
        studio_bin,
        dir,
        &["daemon", "limits", "--max-concurrent", "1024"],
    )?;
    let (commands, commands_rx) = mpsc::unbounded_channel::<Command>();
    let (updates_tx, updates) = mpsc::unbounded_channel::<Update>();
    let target = Target {
        layout: Layout::new(dir),
        studio_bin: studio_bin.to_owned(),
    };
    let command_stream = Box::pin(futures_util::stream::unfold(commands_rx, |mut rx| async {
        rx.recv().await.map(|command| (command, rx))
    }));
    let connection = tokio::spawn(ui_dioxus::connection::run(
        target,
        command_stream,
        move |update| {
            let _ = updates_tx.send(update);
        },
    ));
    let mut app = App {
        commands,
        updates,
        state: AppState::default(),
    };
    app.fold_until("the connection", |s| {
        matches!(s.link, ui_dioxus::state::Link::Up(_)) && s.sessions.is_some()
    })
    .await;
    eprintln!("bench: desktop app, {} streaming runs", sizes.baseline_runs);
    let baseline = phase(&mut app, "baseline", sizes.baseline_runs, sizes).await;
    eprintln!("bench: desktop app, {} streaming runs", sizes.loaded_runs);
    let loaded = phase(&mut app, "loaded", sizes.loaded_runs, sizes).await;
    studio(
        studio_bin,
        dir,
        &[
            "agent",
            "create",
            group::AGENT,
            "--chunks",
            "5",
            "--chunk-delay-ms",
            "10",
        ],
    )?;
    eprintln!("bench: a group of {} runs", sizes.groups.0);
    let small = group::phase(&mut app, sizes.groups.0).await;
    eprintln!("bench: a group of {} runs", sizes.groups.1);
    let big = group::phase(&mut app, sizes.groups.1).await;
    connection.abort();
    Ok((baseline, loaded, (small, big)))
}

/// What one phase measured.
#[derive(Default)]
struct Figures {
    fold: Vec<Duration>,
    render_runs: Vec<Duration>,
    render_inspector: Vec<Duration>,
    kill_shown: Vec<Duration>,
    /// Runs streaming when the window opened.
    live_at_start: usize,
    /// Events of the inspected session when the window closed.
    inspected_events: usize,
    window: Duration,
}

async fn phase(app: &mut App, name: &str, runs: usize, sizes: Sizes) -> Figures {
    let spec = RunSpec {
        agent: "streamer".into(),
        prompt: format!("{name} run"),
        label: Some(name.to_owned()),
        ..RunSpec::default()
    };
    app.commands
        .send(Command::Run {
            runs: vec![spec; runs],
            parallel: u32::MAX,
            name: name.to_owned(),
            caps: Default::default(),
            checks: Vec::new(),
        })
        .unwrap();
    let ours = |state: &AppState| -> Vec<SessionId> {
        state
            .sessions
            .iter()
            .flat_map(|s| s.values())
            .filter(|s| s.label.as_deref() == Some(name))
            .filter(|s| s.status == protocol::SessionStatus::Running)
            .map(|s| s.id)
            .collect()
    };
    app.fold_until("the runs to stream", |s| ours(s).len() == runs)
        .await;
    let live = ours(&app.state);
    let inspected = live[0];
    app.state.page = Page::Inspector;
    app.state.inspected = Some((inspected, Vec::new()));
    app.commands.send(Command::Inspect(inspected)).unwrap();
    let mut to_kill: Vec<SessionId> = live[1..].iter().copied().take(sizes.kills).collect();

    let mut figures = Figures {
        live_at_start: live.len(),
        window: sizes.window,
        ..Figures::default()
    };
    let started = Instant::now();
    let mut render_tick = tokio::time::interval(RENDER_EVERY);
    let kill_every = sizes.window / (sizes.kills as u32 + 1);
    let mut kill_tick =
        tokio::time::interval_at(tokio::time::Instant::now() + kill_every, kill_every);
    let mut killing: Option<(SessionId, Instant)> = None;
    while started.elapsed() < sizes.window {
        tokio::select! {
            update = app.updates.recv() => {
                let update = update.expect("the connection task ended");
                app.fold(update, &mut figures);
                if let Some((session, sent)) = killing
                    && app.state.sessions.as_ref().and_then(|s| s.get(&session))
                        .is_some_and(|s| s.status == protocol::SessionStatus::Killed)
                {
                    figures.kill_shown.push(sent.elapsed());
                    killing = None;
                }
            }
            _ = render_tick.tick() => {
                figures.render_runs.push(render_page(&app.state, Page::Runs));
                figures.render_inspector.push(render_page(&app.state, Page::Inspector));
            }
            _ = kill_tick.tick(), if killing.is_none() && !to_kill.is_empty() => {
                let session = to_kill.remove(0);
                app.commands.send(Command::Kill(session)).unwrap();
                killing = Some((session, Instant::now()));
            }
        }
    }
    figures.inspected_events = app
        .state
        .inspected
        .as_ref()
        .map_or(0, |(_, events)| events.len());
    // End this phase's runs before the next one starts.
    let remaining: HashSet<SessionId> = ours(&app.state).into_iter().collect();
    for session in &remaining {
        app.commands.send(Command::Kill(*session)).unwrap();
    }
    app.fold_until("the phase's runs to end", |s| ours(s).is_empty())
        .await;
    figures
}

#[derive(Props, Clone, PartialEq)]
struct RootProps {
    state: AppState,
}

#[allow(non_snake_case)]
fn Root(props: RootProps) -> Element {
    use_context_provider(|| Signal::new(props.state.clone()));
    use_context_provider(|| Commands(Callback::new(|_| {})));
    rsx! { Shell {} }
}

/// Renders the whole app on `page` from `state`, timed.
fn render_page(state: &AppState, page: Page) -> Duration {
    let mut state = state.clone();
    state.page = page;
    let started = Instant::now();
    let mut dom = VirtualDom::new_with_props(Root, RootProps { state });
    dom.rebuild_in_place();
    let html = dioxus_ssr::render(&dom);
    let took = started.elapsed();
    assert!(html.len() > 1000, "the {page:?} page rendered nothing");
    took
}

/// The `q` quantile of `samples` (nearest rank), zero when empty.
fn quantile(samples: &[Duration], q: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn ratio(loaded: f64, baseline: f64) -> String {
    if baseline > 0.0 {
        format!("{:.2}x", loaded / baseline)
    } else {
        "-".to_owned()
    }
}

/// The short hash of HEAD, or `unknown`.
fn commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Keys typed in both views, each at the baseline load and then loaded.
fn type_keys(
    root: &Path,
    studio: &Path,
    dir: &Path,
    sizes: Sizes,
    quick: bool,
) -> keystrokes::Typed {
    let keys = if quick { 8 } else { 40 };
    if let Err(err) = keystrokes::create_load_agent(studio, dir) {
        let why = || Err(anyhow::anyhow!("cannot create the load agent: {err:#}"));
        return keystrokes::Typed {
            browser: why(),
            desktop: why(),
        };
    }
    let phases = |measure: &dyn Fn() -> anyhow::Result<Vec<Duration>>| {
        Ok((
            keystrokes::under_load(studio, dir, sizes.baseline_runs, measure)?,
            keystrokes::under_load(studio, dir, sizes.loaded_runs, measure)?,
        ))
    };
    let browser = if keystrokes::browser_available(root) {
        eprintln!("bench: keys typed in the browser view");
        phases(&|| keystrokes::in_browser(root, studio, dir, keys))
    } else {
        Err(anyhow::anyhow!(
            "node and playwright-core are not installed (scripts/setup installs them)"
        ))
    };
    let desktop = if desktop_keys::available() {
        eprintln!("bench: keys typed in the desktop window");
        phases(&|| desktop_keys::in_window(studio, dir, keys))
    } else {
        Err(anyhow::anyhow!(
            "Xvfb and xdotool are not installed (scripts/setup installs them)"
        ))
    };
    keystrokes::Typed { browser, desktop }
}

/// The markdown section.
fn render(sizes: Sizes, baseline: &Figures, loaded: &Figures, quick: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n## 7. Desktop app under load\n");
    let _ = writeln!(
        out,
        "Measured by `ui-dioxus/benches/ui.rs` on {} at commit `{}`.\n",
        protocol::Timestamp::now(),
        commit()
    );
    if quick {
        let _ = writeln!(
            out,
            "_Quick run (`--quick`): small sizes, figures not meaningful._\n"
        );
    }
    let _ = writeln!(
        out,
        "The app's connection task against the release daemon, its updates folded into the \
         app's store as the window does, with one run followed live in the Inspector. \
         Baseline: {} streaming runs; loaded: {} (each streams 20 chunks a second). \
         Renders are full dioxus-ssr renders of the whole page from the store every \
         {} ms (an upper bound on the diff the window does per frame; 16.7 ms is one \
         frame at 60 Hz). Kill shown: `Command::Kill` sent until the store holds the \
         killed status. Each window lasts {} s.\n",
        sizes.baseline_runs,
        sizes.loaded_runs,
        RENDER_EVERY.as_millis(),
        sizes.window.as_secs()
    );
    let _ = writeln!(out, "| figure | baseline | loaded | loaded / baseline |");
    let _ = writeln!(out, "|---|---:|---:|---:|");
    let row = |out: &mut String, name: &str, b: String, l: String, r: String| {
        let _ = writeln!(out, "| {name} | {b} | {l} | {r} |");
    };
    row(
        &mut out,
        "runs streaming",
        baseline.live_at_start.to_string(),
        loaded.live_at_start.to_string(),
        ratio(loaded.live_at_start as f64, baseline.live_at_start as f64),
    );
    let rate = |f: &Figures| f.fold.len() as f64 / f.window.as_secs_f64();
    row(
        &mut out,
        "updates folded per second",
        format!("{:.0}", rate(baseline)),
        format!("{:.0}", rate(loaded)),
        ratio(rate(loaded), rate(baseline)),
    );
    for (name, pick, unit) in [
        (
            "fold one update p50",
            (|f: &Figures| quantile(&f.fold, 0.5)) as fn(&Figures) -> Duration,
            us as fn(Duration) -> String,
        ),
        ("fold one update p99", |f| quantile(&f.fold, 0.99), us),
        (
            "render Runs page p50",
            |f| quantile(&f.render_runs, 0.5),
            ms,
        ),
        (
            "render Runs page p99",
            |f| quantile(&f.render_runs, 0.99),
            ms,
        ),
        (
            "render Inspector p50",
            |f| quantile(&f.render_inspector, 0.5),
            ms,
        ),
        (
            "render Inspector p99",
            |f| quantile(&f.render_inspector, 0.99),
            ms,
        ),
        ("Kill shown p50", |f| quantile(&f.kill_shown, 0.5), ms),
        ("Kill shown p99", |f| quantile(&f.kill_shown, 0.99), ms),
    ] {
        let (b, l) = (pick(baseline), pick(loaded));
        row(
            &mut out,
            name,
            unit(b),
            unit(l),
            ratio(l.as_secs_f64(), b.as_secs_f64()),
        );
    }
    row(
        &mut out,
        "kills measured",
        baseline.kill_shown.len().to_string(),
        loaded.kill_shown.len().to_string(),
        String::new(),
    );
    row(
        &mut out,
        "events of the inspected run",
        baseline.inspected_events.to_string(),
        loaded.inspected_events.to_string(),
        String::new(),
    );
    let worst = quantile(&loaded.render_runs, 0.99).max(quantile(&loaded.render_inspector, 0.99));
    let frame = Duration::from_micros(16_667);
    let _ = writeln!(
        out,
        "\nGoal: with {} runs streaming, a full render of either page fits in one 60 Hz \
         frame at p99 (16.7 ms): {} ({}).",
        loaded.live_at_start,
        if worst <= frame { "met" } else { "not met" },
        ms(worst)
    );
    out
}
