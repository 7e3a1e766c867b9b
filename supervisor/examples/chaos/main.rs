//! `scripts/chaos`: AI Studio's chaos suite.
//!
//! Each round starts the real `studio` daemon (the binaries in `--bin-dir`)
//! on a fresh data dir, a small tmpfs when the machine allows mounting one,
//! and drives it through the control socket like any client, with many
//! concurrent scripted runs. Faults strike at times drawn from the seed:
//! worker SIGKILL, SIGSTOP then kill or cancel, scripted panics, aborts,
//! exits, hangs, spins, floods and protocol violations, memory-budget
//! breaches, cancellation floods, daemon SIGKILL and restart, bad frames on
//! both sockets, a full disk, and, with a Slurm cluster (`SLURM_CONF`),
//! runs on it whose job is cancelled from outside, whose worker is killed
//! on its node, or that stream when the daemon dies.
//!
//! After each round the daemon is stopped and the checks run on what it
//! left behind, the database (read-only, `supervisor::store::Snapshot`)
//! and /proc, against what the harness recorded while it ran: every event a
//! client was shown is stored; logs are whole; terminal events fit the
//! faults; untouched runs match a fault-free reference; no worker process
//! outlives its session; cancels end sessions within the grace period plus
//! 100 ms; the daemon's RSS comes back. The run prints a table of faults and
//! checks, lists every violation with the command that replays its round,
//! exits 1 if there was any (2 if the harness itself failed), and with
//! `--out` writes the report (RELIABILITY.md).
//!
//! Modules: `plan` (a round drawn from the seed, via the SplitMix64 of
//! `rng`), `round` (running one), `daemon` (the process), `track` (what the
//! harness saw of each session), `inject` and `attack` (the faults), `disk` (tmpfs and
//! filler), `check`, `expect` and `reference` (the checks), `procfs`,
//! `report`.

// Prints only its own reports, no text from a model or a tool.
#![allow(clippy::disallowed_macros)]
#![allow(
    clippy::disallowed_methods,
    reason = "the chaos suite starts the binaries it attacks, as a person would"
)]

mod attack;
mod check;
mod daemon;
mod disk;
mod expect;
mod flood;
mod inject;
mod plan;
mod procfs;
mod reference;
mod report;
mod rng;
mod round;
mod track;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use clap::Parser;

use crate::daemon::{Binaries, Settings};
use crate::report::Report;
use crate::round::RoundConfig;

/// Temp dirs of failed rounds kept for inspection (all with `--keep`).
const MAX_KEPT: usize = 10;

/// Command-line options.
#[derive(Parser, Debug)]
#[command(
    name = "chaos",
    about = "Runs the daemon under injected faults and checks that nothing acknowledged is lost"
)]
struct Args {
    /// Rounds to run; each has a fresh data dir and daemon.
    #[arg(long, default_value_t = 1)]
    rounds: u32,
    /// Seed of every random choice [default: drawn from the clock, printed].
    #[arg(long)]
    seed: Option<u64>,
    /// Run only this round of the seed's plan (to replay a violation).
    #[arg(long, value_name = "N")]
    only_round: Option<u32>,
    /// Directory holding the `studio` and `studio-worker` binaries.
    #[arg(long, value_name = "DIR")]
    bin_dir: PathBuf,
    /// Also write the report to this file (e.g. RELIABILITY.md).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The daemon's `--max-concurrent`.
    #[arg(long, default_value_t = 24)]
    max_concurrent: u32,
    /// The daemon's `--cancel-grace-ms`.
    #[arg(long, default_value_t = 500)]
    cancel_grace_ms: u64,
    /// Size of the tmpfs data dir, MiB.
    #[arg(long, default_value_t = 128)]
    tmpfs_mib: u64,
    /// Do not try to mount a tmpfs: simulate the full disk.
    #[arg(long)]
    no_tmpfs: bool,
    /// Keep every round's temp dir (daemon log; database copy on failure);
    /// without it, those of the first 10 failed rounds are kept.
    #[arg(long)]
    keep: bool,
    /// Build profile of the binaries, for the report.
    #[arg(long, default_value = "release")]
    profile: String,
}

fn main() -> ExitCode {
    if std::env::var_os(flood::FLOOD_SOCKET).is_some() {
        return flood::child();
    }
    let args = Args::parse();
    match run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("chaos: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// A seed from the clock, for runs without `--seed`.
fn clock_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    rng::Rng::new(nanos as u64 ^ u64::from(std::process::id())).next_u64() % 1_000_000
}

/// Runs the rounds and reports; returns the exit code.
fn run(args: Args) -> anyhow::Result<ExitCode> {
    let bins = Binaries::in_dir(
        &args.bin_dir,
        "build with `cargo build --bins` (scripts/chaos does)",
    )
    .map_err(anyhow::Error::msg)?;
    let seed = args.seed.unwrap_or_else(clock_seed);
    let numbers: Vec<u32> = match args.only_round {
        Some(n) => vec![n.max(1)],
        None => (1..=args.rounds.max(1)).collect(),
    };
    let settings = Settings {
        max_concurrent: args.max_concurrent.max(1),
        cancel_grace: Duration::from_millis(args.cancel_grace_ms),
    };
    let machine = procfs::Machine::read();
    eprintln!(
        "chaos: seed {seed}, {} round(s), {} binaries in {}, {} cores",
        numbers.len(),
        args.profile,
        args.bin_dir.display(),
        machine.cores
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let started = SystemTime::now();
    let clock = Instant::now();
    let total = numbers.len();
    let rounds = runtime.block_on(async {
        let work = async {
            let mut results: Vec<report::RoundResult> = Vec::new();
            for (i, number) in numbers.into_iter().enumerate() {
                let kept = results.iter().filter(|r| r.kept.is_some()).count();
                let cfg = RoundConfig {
                    seed,
                    number,
                    bins: bins.clone(),
                    settings,
                    tmpfs_mib: args.tmpfs_mib,
                    allow_mount: !args.no_tmpfs,
                    keep: args.keep,
                    keep_failed: kept < MAX_KEPT,
                };
                let result = round::run(&cfg).await?;
                eprintln!("{}", progress_line(&result, i + 1, total));
                results.push(result);
            }
            anyhow::Ok(results)
        };
        // On SIGINT or SIGTERM the round is dropped: its daemon is killed,
        // its tmpfs unmounted and its temp dir removed.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            results = work => results,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
            _ = term.recv() => Err(anyhow::anyhow!("terminated")),
        }
    })?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    let command = reproduce_command(&args, seed);
    let report = Report {
        seed,
        rounds,
        profile: args.profile.clone(),
        machine,
        grace: settings.cancel_grace,
        max_concurrent: settings.max_concurrent,
        started,
        elapsed: clock.elapsed(),
        command,
        code: code_version(),
    };
    println!("{}", report.tables());
    println!("{}", report.rss_table());
    let violations = report.violation_count();
    if violations > 0 {
        println!("Violations (seed {seed}):\n{}", report.violations(true));
    }
    if let Some(out) = &args.out {
        std::fs::write(out, report.markdown())
            .with_context(|| format!("cannot write {}", out.display()))?;
        eprintln!("chaos: wrote {}", out.display());
    }
    eprintln!(
        "chaos: {} in {:.0} s",
        if violations == 0 {
            "no violations".to_owned()
        } else {
            format!("{violations} violation(s)")
        },
        clock.elapsed().as_secs_f64()
    );
    Ok(if violations == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One line per finished round, on stderr.
fn progress_line(result: &report::RoundResult, i: usize, total: usize) -> String {
    let rss: Vec<String> = result
        .rss
        .iter()
        .map(|r| {
            format!(
                "#{} {} -> {}",
                r.incarnation,
                procfs::mib(r.start),
                procfs::mib(r.end)
            )
        })
        .collect();
    format!(
        "chaos: round {} ({i}/{total}): {} sessions, {} events, {} faults, {} violations, {:.1} s; daemon RSS {}; disk: {}",
        result.number,
        result.tally.sessions,
        result.tally.events,
        result.faults.injected(),
        result.tally.violations.len(),
        result.elapsed.as_secs_f64(),
        rss.join(", "),
        result.disk
    )
}

/// "commit 4d6e2ff" (plus "with uncommitted changes"), from git if it is
/// there.
fn code_version() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(commit) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("commit {commit} with uncommitted changes")
            } else {
                format!("commit {commit}")
            }
        }
        None => "unknown commit".to_owned(),
    }
}

/// The `scripts/chaos` command that reruns this run.
fn reproduce_command(args: &Args, seed: u64) -> String {
    let mut command = String::from("scripts/chaos");
    if args.profile == "debug" {
        command.push_str(" --debug");
    }
    match args.only_round {
        Some(n) => command.push_str(&format!(" --only-round {n}")),
        None => command.push_str(&format!(" --rounds {}", args.rounds)),
    }
    command.push_str(&format!(" --seed {seed}"));
    if let Some(out) = &args.out {
        command.push_str(&format!(" --out {}", out.display()));
    }
    command
}
