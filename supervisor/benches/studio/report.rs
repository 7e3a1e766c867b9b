//! BENCHMARKS.md.

use std::fmt::Write;

use crate::compare::CompareResult;
use crate::concurrency::{CHUNKS, ConcurrencyResult};
use crate::control::ControlResult;
use crate::harness::{mem_total, mib};
use crate::ingest::IngestResult;
use crate::queries::QueryResult;
use crate::slurm::SlurmResult;
use crate::spawn::SpawnResult;
use crate::stats::{Spread, ms};

/// Everything measured in one run.
pub(crate) struct Report {
    quick: bool,
    pub(crate) spawn: Option<SpawnResult>,
    pub(crate) concurrency: Vec<ConcurrencyResult>,
    pub(crate) ingest: Option<IngestResult>,
    pub(crate) control: Option<ControlResult>,
    pub(crate) queries: Option<QueryResult>,
    pub(crate) compare: Option<CompareResult>,
    pub(crate) slurm: Option<SlurmResult>,
}

fn ratio(a: f64, b: f64) -> String {
    if b == 0.0 {
        "-".to_owned()
    } else {
        format!("{:.2}×", a / b)
    }
}

fn spread_row(out: &mut String, what: &str, s: &Spread, goal: &str) {
    let _ = writeln!(
        out,
        "| {what} | {} | {} | {} | {goal} |",
        ms(s.p50),
        ms(s.p99),
        s.n
    );
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cores} cores ({cpu}), {:.1} GiB memory, Linux {}",
        mem_total() as f64 / (1u64 << 30) as f64,
        kernel.trim()
    )
}

fn commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

impl Report {
    pub(crate) fn new(quick: bool) -> Report {
        Report {
            quick,
            spawn: None,
            concurrency: Vec::new(),
            ingest: None,
            control: None,
            queries: None,
            compare: None,
            slurm: None,
        }
    }

    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Benchmarks\n");
        let _ = writeln!(
            out,
            "Measured by `scripts/bench{}` on {} at commit `{}`.\nMachine: {}.\n",
            if self.quick { " --quick" } else { "" },
            protocol::Timestamp::now(),
            commit(),
            machine()
        );
        if self.quick {
            let _ = writeln!(
                out,
                "**Quick mode: small sizes and few trials; these figures only show the harness works.**\n"
            );
        }
        let _ = writeln!(
            out,
            "Release builds of `studio` and `studio-worker`, a fresh daemon in a temp data dir per section, \
             driven over the control socket like any client, with the built-in scripted provider. \
             Latencies are nearest-rank p50/p99 over the trials shown. Bounds measured in the same run are \
             printed next to the figures they bound, as ratios, because these machines are noisy.\n"
        );
        self.render_spawn(&mut out);
        self.render_concurrency(&mut out);
        self.render_ingest(&mut out);
        self.render_control(&mut out);
        self.render_queries(&mut out);
        self.render_compare(&mut out);
        self.render_slurm(&mut out);
        out
    }

    fn render_slurm(&self, out: &mut String) {
        let Some(s) = &self.slurm else { return };
        let _ = writeln!(
            out,
            "\n## 6. Runs on Slurm
"
        );
        let _ = writeln!(
            out,
            "One daemon with its TCP worker listener, on the single-host cluster of `scripts/slurm` (slurmctld, \
             slurmd and munge on this machine). Each Slurm run is one job (`sbatch`, the scheduler, the job's \
             start, the worker's TLS dial-back); each local run a child of the daemon. Both kinds run in the same \
             daemon, one after the other.\n"
        );
        let _ = writeln!(
            out,
            "| launch: `Run` to `session.started` | p50 | p99 | n | |\n|---|---|---|---|---|"
        );
        spread_row(out, "local", &s.launch_local, "");
        spread_row(
            out,
            "Slurm",
            &s.launch_slurm,
            &format!(
                "Slurm / local = {} (p50)",
                ratio(
                    s.launch_slurm.p50.as_secs_f64(),
                    s.launch_local.p50.as_secs_f64()
                )
            ),
        );
        let _ = writeln!(
            out,
            "\n| {} runs at once | runs / s | ratio |\n|---|---|---|",
            s.batch
        );
        let _ = writeln!(out, "| local | {:.2} | |", s.throughput_local);
        let _ = writeln!(
            out,
            "| Slurm | {:.2} | Slurm / local = {} |",
            s.throughput_slurm,
            ratio(s.throughput_slurm, s.throughput_local)
        );
        let _ = writeln!(
            out,
            "\n| ingest: one worker flooding {} events | events / s | ratio |\n|---|---|---|",
            s.events
        );
        let _ = writeln!(out, "| local socket | {:.0} | |", s.ingest_local);
        let _ = writeln!(
            out,
            "| TCP + TLS (a Slurm job's worker) | {:.0} | remote / local = {} |\n",
            s.ingest_remote,
            ratio(s.ingest_remote, s.ingest_local)
        );
        let _ = writeln!(
            out,
            "This cluster starts a job's script 0.8 to 1 s after `sbatch` (with `sched_min_interval=0` \
             and `batch_sched_delay=0`), so launch latency measures Slurm more than AI Studio.\n"
        );
    }

    fn render_spawn(&self, out: &mut String) {
        let Some(s) = &self.spawn else { return };
        let _ = writeln!(out, "## 1. Spawn\n");
        let _ = writeln!(
            out,
            "Sequential runs of a one-chunk answer; each run ends before the next starts.\n"
        );
        let _ = writeln!(
            out,
            "| figure | p50 | p99 | trials | goal |\n|---|---|---|---|---|"
        );
        spread_row(
            out,
            "`Run` sent → `session.started` pushed to the client",
            &s.end_to_end,
            "p50 ≤ 5 ms",
        );
        spread_row(
            out,
            "`run.queued` → `session.started` (daemon timestamps)",
            &s.daemon_side,
            "",
        );
        spread_row(
            out,
            "the same, sessions not held (no PID namespace, no cgroup)",
            &s.unheld,
            "",
        );
        spread_row(
            out,
            "baseline: fork + exec + wait of `/bin/true`",
            &s.baseline,
            "",
        );
        let _ = writeln!(
            out,
            "| ratio, end to end / baseline | {} | {} | | |",
            ratio(s.end_to_end.p50.as_secs_f64(), s.baseline.p50.as_secs_f64()),
            ratio(s.end_to_end.p99.as_secs_f64(), s.baseline.p99.as_secs_f64())
        );
        let _ = writeln!(
            out,
            "| ratio, held / not held (what the namespace and cgroup cost) | {} | {} | | |\n",
            ratio(s.end_to_end.p50.as_secs_f64(), s.unheld.p50.as_secs_f64()),
            ratio(s.end_to_end.p99.as_secs_f64(), s.unheld.p99.as_secs_f64())
        );
        let _ = writeln!(
            out,
            "A `shell` call of `true`, `tool.started` → `tool.completed` (worker timestamps), in one run per mode:\n"
        );
        let _ = writeln!(
            out,
            "| figure | p50 | p99 | trials | goal |\n|---|---|---|---|---|"
        );
        spread_row(
            out,
            "`workspace-write`: in the sandbox (namespaces, own root, Landlock)",
            &s.sandboxed_call,
            "",
        );
        spread_row(out, "`full`: unconfined", &s.unconfined_call, "");
        let _ = writeln!(
            out,
            "| ratio, sandboxed / unconfined (what the sandbox costs) | {} | {} | | |\n",
            ratio(
                s.sandboxed_call.p50.as_secs_f64(),
                s.unconfined_call.p50.as_secs_f64()
            ),
            ratio(
                s.sandboxed_call.p99.as_secs_f64(),
                s.unconfined_call.p99.as_secs_f64()
            )
        );
        let _ = writeln!(
            out,
            "End to end includes two group commits (the run's `run.queued` is durable before `Run` is answered, \
             `session.started` before it is pushed), the worker's exec, connect and handshake.\n"
        );
    }

    fn render_concurrency(&self, out: &mut String) {
        if self.concurrency.is_empty() {
            return;
        }
        let _ = writeln!(out, "## 2. Concurrency\n");
        let _ = writeln!(
            out,
            "N runs submitted at once, each streaming a fixed {CHUNKS}-chunk answer with no delay; wall time until \
             all have ended. CPU is the daemon's plus its reaped workers' (utime+stime+cutime+cstime). \
             Worker memory is sampled from /proc (VmRSS, smaps_rollup Pss) while N slower runs \
             (50 ms per chunk) are all live; the MemAvailable drop is measured over the same window.\n"
        );
        let _ = writeln!(
            out,
            "| runs | wall | failures | CPU s / run | daemon peak RSS | worker RSS (median) | worker PSS (median) | MemAvailable drop / run |\n|---|---|---|---|---|---|---|---|"
        );
        for c in &self.concurrency {
            let _ = writeln!(
                out,
                "| {} | {:.2} s | {} | {:.4} | {} | {} | {} | {} |",
                c.runs,
                c.wall.as_secs_f64(),
                c.failures,
                c.cpu_per_run,
                mib(c.daemon_peak_rss),
                mib(c.worker_rss),
                mib(c.worker_pss),
                if c.mem_available_drop_per_run < 0 {
                    "~0".to_owned()
                } else {
                    mib(c.mem_available_drop_per_run as u64)
                },
            );
        }
        let _ = writeln!(
            out,
            "\nGoals: 50 runs well under 1.5 s in total; ≤ 8 MB per extra concurrent worker.\n"
        );
    }

    fn render_ingest(&self, out: &mut String) {
        let Some(i) = &self.ingest else { return };
        let _ = writeln!(out, "## 3. Durable ingest\n");
        let _ = writeln!(
            out,
            "{} workers flood {} chunk events in total through the daemon (sequencer, writer thread, group commit \
             with fsync); the rate counts committed events over the wall time from submit to the last terminal \
             event. The bounds: the same encoded records inserted straight into redb 1,000 per transaction, and \
             the same frames written and decoded over a local socket with nothing else.\n",
            i.workers, i.events
        );
        let _ = writeln!(out, "| path | events / s | ratio |\n|---|---|---|");
        let _ = writeln!(
            out,
            "| worker → committed record (end to end) | {:.0} | |",
            i.end_to_end
        );
        let _ = writeln!(
            out,
            "| raw redb, 1,000 per commit | {:.0} | end to end / raw redb = {} |",
            i.raw_redb,
            ratio(i.end_to_end, i.raw_redb)
        );
        let _ = writeln!(
            out,
            "| raw local-socket frame loop | {:.0} | end to end / raw socket = {} |\n",
            i.raw_socket,
            ratio(i.end_to_end, i.raw_socket)
        );
        let _ = writeln!(out, "Goal: end to end ≥ 50% of the raw redb batch bound.\n");
    }

    fn render_control(&self, out: &mut String) {
        let Some(c) = &self.control else { return };
        let _ = writeln!(out, "## 4. Control latency\n");
        let _ = writeln!(
            out,
            "A streaming run is stopped once its first chunk is recorded. Kill: `Kill` sent until its answer (the \
             daemon answers once the terminal event is committed) and the process group is empty in /proc. \
             Cancel: `Cancel` sent until the terminal event is pushed. Grace period: {} ms.\n",
            c.grace.as_millis()
        );
        let _ = writeln!(
            out,
            "| action | p50 | p99 | trials | goal |\n|---|---|---|---|---|"
        );
        spread_row(
            out,
            "kill → terminal recorded, group empty",
            &c.kill,
            "p99 ≤ 50 ms",
        );
        spread_row(out, "cancel, cooperative worker", &c.cancel_cooperative, "");
        spread_row(
            out,
            "cancel, worker in `hang` (forced after grace)",
            &c.cancel_hang,
            "≈ grace",
        );
        spread_row(
            out,
            "cancel, worker in `spin` (forced after grace)",
            &c.cancel_spin,
            "≈ grace",
        );
        let _ = writeln!(out);
    }

    fn render_queries(&self, out: &mut String) {
        let Some(q) = &self.queries else { return };
        let _ = writeln!(out, "## 5. Queries\n");
        let _ = writeln!(
            out,
            "Client round trips over the control socket. A session of {} events (made by a flooding worker); \
             {} sessions in the table (one live, the rest queued behind it).\n",
            q.session_events, q.sessions
        );
        let _ = writeln!(
            out,
            "| query | p50 | p99 | trials | |\n|---|---|---|---|---|"
        );
        spread_row(out, "page of 200 events at the start", &q.page_start, "");
        spread_row(out, "page of 200 events in the middle", &q.page_middle, "");
        spread_row(out, "page of 200 events at the end", &q.page_end, "");
        spread_row(
            out,
            &format!("list all {} sessions", q.sessions),
            &q.list_sessions,
            "",
        );
    }

    fn render_compare(&self, out: &mut String) {
        let Some(c) = &self.compare else { return };
        let _ = writeln!(out, "\n### Comparing two long sessions");
        let _ = writeln!(
            out,
            "\nTwo runs of {} and {} events (each a tool call after another, every 100th with other arguments), \
             {} rows once aligned: compared in the daemon, which answers 300 rows, next to reading both whole.\n",
            c.events[0], c.events[1], c.rows
        );
        let _ = writeln!(
            out,
            "| query | p50 | p99 | trials | |\n|---|---|---|---|---|"
        );
        spread_row(
            out,
            "read both sessions, every event",
            &c.read_both,
            "baseline",
        );
        let ratio = |s: &Spread| {
            format!(
                "{:.2}× reading",
                s.p50.as_secs_f64() / c.read_both.p50.as_secs_f64().max(1e-9)
            )
        };
        spread_row(
            out,
            "compare them: rows around the first divergence",
            &c.compare,
            &ratio(&c.compare),
        );
        spread_row(
            out,
            "compare them: the last 300 rows",
            &c.compare_end,
            &ratio(&c.compare_end),
        );
    }
}
