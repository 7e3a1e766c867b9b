//! `scripts/bench`: measures AI Studio end to end and writes BENCHMARKS.md.
//!
//! Every figure comes from the release binaries (`studio` daemon,
//! `studio-worker`) in a temp data dir, driven through the control socket
//! like any client. Where a figure has a natural bound (spawning a trivial
//! process, a raw redb insert loop, a raw socket frame loop) the bound is
//! measured in the same run and the ratio printed, because these machines
//! are noisy. Latencies are medians and p99s of repeated trials.
//!
//! Modules: `harness` (daemon, client and /proc helpers), `stats`, one
//! module per section, `report` (the markdown).
//!
//! `--quick` shrinks every section so CI can check that the harness runs.

// Prints only its own reports, no text from a model or a tool.
#![allow(clippy::disallowed_macros)]
#![allow(
    clippy::disallowed_methods,
    reason = "the benchmarks start the binaries they measure, as a person would"
)]

mod compare;
mod concurrency;
mod control;
mod harness;
mod ingest;
mod queries;
mod report;
mod slurm;
mod spawn;
mod stats;

use std::path::PathBuf;

use clap::Parser;

/// Command-line options.
#[derive(Parser, Debug)]
struct Args {
    /// Small sizes and few trials: checks the harness, measures little.
    #[arg(long)]
    quick: bool,
    /// The repository root; relative paths are taken from there (cargo
    /// runs benches from the package directory).
    #[arg(long, default_value = "..")]
    root: PathBuf,
    /// Where to write the report.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// Directory holding the `studio` and `studio-worker` binaries to measure.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Run only this section (spawn, concurrency, ingest, control,
    /// queries, compare, slurm); the report holds just it.
    #[arg(long, value_name = "SECTION")]
    only: Option<String>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Sizes of every section.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sizes {
    pub(crate) spawn_runs: usize,
    pub(crate) concurrency: &'static [usize],
    pub(crate) ingest_workers: usize,
    pub(crate) ingest_events_per_worker: u64,
    pub(crate) control_trials: usize,
    pub(crate) big_session_events: u64,
    pub(crate) many_sessions: usize,
    pub(crate) query_trials: usize,
    /// Tool calls in each of the two compared sessions (three events each).
    pub(crate) compare_calls: usize,
    /// Sequential runs per launcher, local and Slurm.
    pub(crate) slurm_runs: usize,
}

const FULL: Sizes = Sizes {
    spawn_runs: 200,
    concurrency: &[50, 200, 500],
    ingest_workers: 4,
    ingest_events_per_worker: 250_000,
    control_trials: 40,
    big_session_events: 1_000_000,
    many_sessions: 10_000,
    query_trials: 50,
    compare_calls: 33_000,
    slurm_runs: 30,
};

const QUICK: Sizes = Sizes {
    spawn_runs: 20,
    concurrency: &[10, 50],
    ingest_workers: 2,
    ingest_events_per_worker: 20_000,
    control_trials: 5,
    big_session_events: 50_000,
    many_sessions: 500,
    query_trials: 10,
    compare_calls: 300,
    slurm_runs: 4,
};

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let sizes = if args.quick { QUICK } else { FULL };
    let bins = harness::Binaries::in_dir(
        &args.root.join(&args.bin_dir),
        "build with `cargo build --release --bins`",
    )
    .map_err(anyhow::Error::msg)?;
    let out = args.root.join(&args.out);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        let mut report = report::Report::new(args.quick);
        let run = |section: &str| {
            let wanted = args.only.as_deref().is_none_or(|only| only == section);
            if wanted {
                eprintln!("bench: {section}");
            }
            wanted
        };
        if run("spawn") {
            report.spawn = Some(spawn::measure(&bins, sizes).await?);
        }
        if run("concurrency") {
            report.concurrency = concurrency::measure(&bins, sizes).await?;
        }
        if run("ingest") {
            report.ingest = Some(ingest::measure(&bins, sizes).await?);
        }
        if run("control") {
            report.control = Some(control::measure(&bins, sizes).await?);
        }
        if run("queries") {
            report.queries = Some(queries::measure(&bins, sizes).await?);
        }
        if run("compare") {
            report.compare = Some(compare::measure(&bins, sizes).await?);
        }
        if run("slurm") {
            report.slurm = Some(slurm::measure(&bins, sizes).await?);
        }
        anyhow::Ok(report)
    })?;
    let text = report.render();
    std::fs::write(&out, &text)?;
    println!("{text}");
    eprintln!("bench: wrote {}", out.display());
    Ok(())
}
