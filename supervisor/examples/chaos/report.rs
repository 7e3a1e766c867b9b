//! Counting faults and results across rounds, and rendering them: the
//! table printed at the end and the RELIABILITY.md written with `--out`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::check::{CANCEL_SLACK, Check, Tally};
use crate::plan::FaultKind;
use crate::procfs::{Machine, mib};

/// Injected and missed counts of one fault kind.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    /// Faults that struck.
    pub injected: u64,
    /// Faults aimed at a run that ended before they could strike.
    pub missed: u64,
}

/// Fault counts by kind.
#[derive(Clone, Debug, Default)]
pub struct FaultCounts(pub BTreeMap<FaultKind, Counts>);

impl FaultCounts {
    /// Counts one fault of `kind`, injected if `landed`, else missed.
    pub fn record(&mut self, kind: FaultKind, landed: bool) {
        let counts = self.0.entry(kind).or_default();
        if landed {
            counts.injected += 1;
        } else {
            counts.missed += 1;
        }
    }

    /// Adds `other` into these counts.
    pub fn merge(&mut self, other: &FaultCounts) {
        for (kind, counts) in &other.0 {
            let mine = self.0.entry(*kind).or_default();
            mine.injected += counts.injected;
            mine.missed += counts.missed;
        }
    }

    /// Faults injected, all kinds.
    pub fn injected(&self) -> u64 {
        self.0.values().map(|c| c.injected).sum()
    }
}

/// The daemon's RSS around one incarnation's fault phase.
#[derive(Clone, Debug)]
pub struct RssReading {
    /// The round.
    pub round: u32,
    /// Which daemon incarnation of the round.
    pub incarnation: u32,
    /// VmRSS when the phase started, bytes.
    pub start: u64,
    /// VmRSS after its sessions ended, bytes.
    pub end: u64,
    /// Sessions it served in the phase.
    pub sessions: u64,
    /// The bound `end` had to stay within.
    pub bound: u64,
}

/// What one round produced.
#[derive(Debug)]
pub struct RoundResult {
    /// The round's number.
    pub number: u32,
    /// Faults by kind.
    pub faults: FaultCounts,
    /// Checks and violations.
    pub tally: Tally,
    /// RSS readings.
    pub rss: Vec<RssReading>,
    /// What happened to the disk.
    pub disk: String,
    /// Wall time of the round.
    pub elapsed: Duration,
    /// The temp dir kept for inspection (daemon log, database copy).
    pub kept: Option<PathBuf>,
}

/// Everything the final report shows.
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// The rounds that ran.
    pub rounds: Vec<RoundResult>,
    /// Build profile of the binaries.
    pub profile: String,
    /// The machine.
    pub machine: Machine,
    /// The daemon's cancel grace period.
    pub grace: Duration,
    /// The daemon's concurrency limit.
    pub max_concurrent: u32,
    /// When the run started.
    pub started: SystemTime,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// The command that reproduces this run.
    pub command: String,
    /// Which code was tested (commit, and whether the tree had changes).
    pub code: String,
}

/// A markdown table with padded columns (readable as plain text too);
/// columns whose cells all start with a digit are right-aligned.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let right: Vec<bool> = (0..header.len())
        .map(|i| {
            i > 0
                && rows.iter().all(|row| {
                    row.get(i)
                        .is_some_and(|c| c.starts_with(|ch: char| ch.is_ascii_digit()))
                })
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let width = widths.get(i).copied().unwrap_or(0);
                if right.get(i).copied().unwrap_or(false) {
                    format!("{c:>width$}")
                } else {
                    format!("{c:<width$}")
                }
            })
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(header.iter().map(|h| (*h).to_owned()).collect());
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if right.get(i).copied().unwrap_or(false) {
                format!("{}:", "-".repeat(w + 1))
            } else {
                "-".repeat(w + 2)
            }
        })
        .collect();
    out.push_str(&format!("|{}|\n", rule.join("|")));
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    out
}

impl Report {
    /// Fault counts of all rounds.
    fn faults(&self) -> FaultCounts {
        let mut all = FaultCounts::default();
        for round in &self.rounds {
            all.merge(&round.faults);
        }
        all
    }

    /// Checks and violations of all rounds.
    fn tally(&self) -> Tally {
        let mut all = Tally::default();
        for round in &self.rounds {
            all.merge(round.tally.clone());
        }
        all
    }

    /// Number of violations.
    pub fn violation_count(&self) -> usize {
        self.rounds.iter().map(|r| r.tally.violations.len()).sum()
    }

    /// The fault table, the check table and the totals.
    pub fn tables(&self) -> String {
        let faults = self.faults();
        let mut rows: Vec<Vec<String>> = FaultKind::ALL
            .iter()
            .filter_map(|kind| {
                let counts = faults.0.get(kind)?;
                let mut label = kind.label().to_owned();
                if *kind == FaultKind::DiskFull && self.disk_simulated() {
                    label.push_str(" (simulated)");
                }
                Some(vec![
                    label,
                    counts.injected.to_string(),
                    counts.missed.to_string(),
                ])
            })
            .collect();
        let missed: u64 = faults.0.values().map(|c| c.missed).sum();
        rows.push(vec![
            "**total**".to_owned(),
            faults.injected().to_string(),
            missed.to_string(),
        ]);
        let mut out = table(&["fault", "injected", "missed"], &rows);
        out.push_str(
            "\nMissed: aimed at a run that ended before the fault could strike; for the full \
             disk, no commit failed while it was full.\n\n",
        );
        let tally = self.tally();
        let rows: Vec<Vec<String>> = Check::ALL
            .iter()
            .map(|check| {
                let violations = tally
                    .violations
                    .iter()
                    .filter(|v| v.check == *check)
                    .count();
                vec![
                    check.label().to_owned(),
                    format!(
                        "{} {}",
                        tally.checked.get(check).copied().unwrap_or(0),
                        check.unit()
                    ),
                    violations.to_string(),
                ]
            })
            .collect();
        out.push_str(&table(&["check", "checked", "violations"], &rows));
        out.push('\n');
        let _ = writeln!(
            out,
            "Rounds: {} | faults injected: {} | sessions checked: {} | events checked: {} | violations: {}",
            self.rounds.len(),
            faults.injected(),
            tally.sessions,
            tally.events,
            tally.violations.len()
        );
        if let Some(latency) = latency_summary(&tally.cancel_latencies) {
            let _ = writeln!(
                out,
                "Cancel latency: {latency} (bound: grace {} ms + {} ms)",
                self.grace.as_millis(),
                CANCEL_SLACK.as_millis()
            );
        }
        if let Some(latency) = latency_summary(&tally.cancel_sent_latencies) {
            let _ = writeln!(
                out,
                "Cancel latency from when the harness sent it (not bound): {latency}"
            );
        }
        out
    }

    /// Whether some round simulated the full disk.
    fn disk_simulated(&self) -> bool {
        self.rounds.iter().any(|r| r.disk.starts_with("simulated"))
    }

    /// The RSS readings as a table.
    pub fn rss_table(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .rounds
            .iter()
            .flat_map(|r| &r.rss)
            .map(|r| {
                vec![
                    format!("round {} daemon #{}", r.round, r.incarnation),
                    mib(r.start),
                    mib(r.end),
                    r.sessions.to_string(),
                    mib(r.bound),
                ]
            })
            .collect();
        table(
            &["daemon", "RSS at start", "RSS after", "sessions", "bound"],
            &rows,
        )
    }

    /// One row per round: size, faults, violations, time, the disk.
    pub fn round_table(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .rounds
            .iter()
            .map(|r| {
                vec![
                    r.number.to_string(),
                    r.tally.sessions.to_string(),
                    r.tally.events.to_string(),
                    r.faults.injected().to_string(),
                    r.tally.violations.len().to_string(),
                    format!("{:.1} s", r.elapsed.as_secs_f64()),
                    r.disk.clone(),
                ]
            })
            .collect();
        table(
            &[
                "round",
                "sessions",
                "events",
                "faults",
                "violations",
                "time",
                "disk",
            ],
            &rows,
        )
    }

    /// The violations, each with how to reproduce its round (and, with
    /// `paths`, where the round's files were kept).
    pub fn violations(&self, paths: bool) -> String {
        let mut out = String::new();
        for round in &self.rounds {
            for v in &round.tally.violations {
                let session = v.session.map_or(String::new(), |s| format!(" [{s}]"));
                let _ = writeln!(
                    out,
                    "- round {} ({}){session}: {}\n  reproduce: scripts/chaos --seed {} --only-round {}",
                    v.round,
                    v.check.label(),
                    v.detail,
                    self.seed,
                    v.round
                );
            }
            if paths
                && !round.tally.violations.is_empty()
                && let Some(kept) = &round.kept
            {
                let _ = writeln!(
                    out,
                    "  round {} files (daemon.log, studio.redb): {}",
                    round.number,
                    kept.display()
                );
            }
        }
        out
    }

    /// RELIABILITY.md.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let date = humantime::format_rfc3339_seconds(self.started);
        let _ = writeln!(out, "# Reliability\n");
        let _ = writeln!(
            out,
            "Written by `scripts/chaos` (the chaos suite, `supervisor/examples/chaos/`). It runs the \
             daemon in a temp data dir with many concurrent scripted runs, injects faults at \
             random times drawn from a seed, and checks after every round, from the database and \
             /proc alone, that nothing acknowledged was lost and every session ended the way its \
             fault implies. Regenerate this file with:\n"
        );
        let _ = writeln!(out, "```sh\n{}\n```\n", self.command);
        let _ = writeln!(out, "## Last run\n");
        let _ = writeln!(out, "- Date: {date}");
        let _ = writeln!(
            out,
            "- Machine: {} logical cores ({}), {:.1} GiB memory, Linux {}",
            self.machine.cores,
            self.machine.cpu,
            self.machine.memory as f64 / (1024.0 * 1024.0 * 1024.0),
            self.machine.kernel
        );
        let _ = writeln!(out, "- Code: {}, {} build", self.code, self.profile);
        let _ = writeln!(
            out,
            "- Seed: {}, rounds: {}, wall time: {:.0} s",
            self.seed,
            self.rounds.len(),
            self.elapsed.as_secs_f64()
        );
        let _ = writeln!(
            out,
            "- Daemon: `--max-concurrent {}`, `--cancel-grace-ms {}`",
            self.max_concurrent,
            self.grace.as_millis()
        );
        let _ = writeln!(out, "\n{}", self.tables());
        let count = self.violation_count();
        if count == 0 {
            let _ = writeln!(out, "No violations.\n");
        } else {
            let _ = writeln!(out, "### Violations\n\n{}", self.violations(false));
        }
        let _ = writeln!(out, "### Rounds\n\n{}", self.round_table());
        let _ = writeln!(out, "### Daemon RSS\n\n{}", self.rss_table());
        let _ = writeln!(out, "## What a round does\n");
        let _ = writeln!(
            out,
            "Each round mounts a 128 MiB tmpfs as a fresh data dir (or, without the privilege to \
             mount, uses a plain directory and simulates the full disk, saying so above), starts \
             `studio daemon run` on it and:\n\n\
             1. **Reference**: runs each distinct clean run spec once (short runs, a fixed Unicode \
             answer, two long runs) before any fault.\n\
             2. **Storm**: 30-40 concurrent runs, about half clean and untouched, the others with \
             scripted worker faults (panic, abort, exit, hang then cancel, spin then kill, event \
             flood, malformed and oversized frames, memory growth past a budget) or harness faults \
             on clean long runs (SIGKILL, SIGSTOP then kill, SIGSTOP then cancel, a cancellation \
             flood); meanwhile raw connections send bad frames to both sockets and random sessions \
             are paged with `Events`.\n\
             3. **Daemon kill**: long runs (one hung, one stopped with SIGSTOP), `Events` requests, \
             then SIGKILL of the daemon, a check that its workers die with it, and a restart.\n\
             4. **Disk full**: runs stream, a file fills the tmpfs until ENOSPC, the harness waits \
             (up to 5 s) for the daemon to log a failed commit (redb first reuses free pages of \
             its file; if no commit fails the fault counts as missed), `Run` (which may wait for space) \
             and `Ping` are tried while it is full, a worker may be SIGKILLed or a run cancelled, then the file is \
             deleted and every run must finish.\n\
             5. The daemon is stopped with `Shutdown` and the checks below run on its database.\n\n\
             Timings (submission, fault times, the kill and the fill) come from the seed through a \
             SplitMix64 generator; `--only-round N` replays one round's plan. What the processes \
             do in that time is up to the machine, so a replay is the same plan, not the same \
             interleaving."
        );
        let _ = writeln!(out, "\n## How each check works\n");
        for check in Check::ALL {
            let _ = writeln!(out, "- **{}**: {}", check.label(), check.how());
        }
        out
    }
}

/// "n cancels, median X ms, max Y ms".
fn latency_summary(latencies: &[Duration]) -> Option<String> {
    if latencies.is_empty() {
        return None;
    }
    let mut sorted = latencies.to_vec();
    sorted.sort();
    let median = sorted[sorted.len() / 2];
    let max = sorted[sorted.len() - 1];
    Some(format!(
        "{} cancels checked, median {} ms, max {} ms",
        sorted.len(),
        median.as_millis(),
        max.as_millis()
    ))
}
