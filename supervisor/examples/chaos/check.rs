//! The checks, what each one counts, and the violations they find.
//!
//! Per-session checks run after the round, on the database the stopped
//! daemon left behind (read through `supervisor::store::Snapshot`) and on
//! what the harness recorded while the round ran. Round-level checks (RSS,
//! bad frames, liveness, process scans) report through the same [`Tally`].

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use protocol::control::SessionSummary;
use protocol::event::{Event, EventKind};
use protocol::{SessionId, Timestamp};

use crate::plan::{FaultKind, Phase};
use crate::track::{StopKind, Track};
use crate::{expect, reference};

/// A property the suite checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Check {
    /// Every event a client was shown is in the database, unchanged.
    Acknowledged,
    /// Seqs gapless from 1, exactly one terminal event, last.
    Whole,
    /// The terminal event (and what precedes it) fits the fault.
    Terminal,
    /// Untouched runs record what the fault-free reference recorded.
    Reference,
    /// No process of a worker's group outlives its terminal event.
    Group,
    /// A cancel ends the session within the grace period plus
    /// [`CANCEL_SLACK`].
    CancelLatency,
    /// The daemon's RSS returns near where it started.
    Rss,
    /// Bad frames get a refusal or an error, and the daemon keeps serving.
    BadFrames,
    /// Follow streams and `Events` pages are gapless and in order.
    Streams,
    /// Sessions end, requests are answered, the daemon stops and restarts.
    Liveness,
    /// A gc cut short by a daemon SIGKILL leaves each session whole or gone.
    Gc,
    /// Every ended turn reached the OTLP receiver.
    Otlp,
    /// Runs in worktrees of their own keep them, and the repository is untouched.
    Workspaces,
    /// Slurm runs record what local runs record, end as their fault says,
    /// and leave no job and no process.
    Slurm,
}

impl Check {
    /// Every check, in report order.
    pub const ALL: [Check; 14] = [
        Check::Acknowledged,
        Check::Whole,
        Check::Terminal,
        Check::Reference,
        Check::Group,
        Check::CancelLatency,
        Check::Rss,
        Check::BadFrames,
        Check::Streams,
        Check::Liveness,
        Check::Gc,
        Check::Otlp,
        Check::Workspaces,
        Check::Slurm,
    ];

    /// Short name.
    pub fn label(self) -> &'static str {
        match self {
            Check::Acknowledged => "acknowledged events kept",
            Check::Whole => "logs whole",
            Check::Terminal => "terminal event fits the fault",
            Check::Reference => "matches the fault-free reference",
            Check::Group => "no process outlives its session",
            Check::CancelLatency => "cancel within grace + 300 ms",
            Check::Rss => "daemon RSS back within bound",
            Check::BadFrames => "bad frames refused, daemon serving",
            Check::Streams => "streams and pages gapless",
            Check::Liveness => "liveness",
            Check::Gc => "a gc cut short leaves sessions whole or gone",
            Check::Otlp => "every ended turn reached the OTLP receiver",
            Check::Workspaces => "worktree runs keep their workspaces, repository untouched",
            Check::Slurm => "Slurm runs: same log as local, end as their fault says, no job left",
        }
    }

    /// What one checked item is, for the table.
    pub fn unit(self) -> &'static str {
        match self {
            Check::Acknowledged => "events",
            Check::Whole
            | Check::Terminal
            | Check::Reference
            | Check::Streams
            | Check::Gc
            | Check::Otlp
            | Check::Workspaces
            | Check::Slurm => "sessions",
            Check::Group => "groups and scans",
            Check::CancelLatency => "cancels",
            Check::Rss => "daemons",
            Check::BadFrames => "connections",
            Check::Liveness => "waits",
        }
    }

    /// How the check works, for RELIABILITY.md.
    pub fn how(self) -> &'static str {
        match self {
            Check::Acknowledged => {
                "Every session is followed (`ControlRequest::Follow`) from the moment its run is accepted, and random sessions are paged with `ControlRequest::Events`; every event a client was shown is recorded. After the round the daemon is stopped and the database opened read-only (`supervisor::store::Snapshot`): each recorded event must be there, at its seq, identical (kind, payload and timestamp). Events shown just before a daemon SIGKILL must survive the restart."
            }
            Check::Whole => {
                "For every session in the database: seqs run 1..n without a gap, exactly one event is terminal and it is the last, and the session record agrees (status, event count). The database holds no session the harness did not start."
            }
            Check::Terminal => {
                "The terminal event must be the one the fault implies: SIGKILL by the harness gives `session.crashed` (signal 9), SIGSTOP then kill `session.killed`, SIGSTOP then cancel `session.cancelled {forced: true}`, panic `session.crashed` (code 101), abort `session.crashed` (signal 6), exit(N) `session.crashed` (code N), a malformed or oversized worker frame `session.crashed` naming the protocol error, a hang then cancel `session.cancelled {forced: true}`, a spin then kill `session.killed`, a memory breach `budget.exceeded` (memory, observed over limit) then `session.killed {reason: budget}`, a flood `session.completed` with every flooded chunk recorded, a cancellation flood `session.cancelled`; sessions live when the daemon was killed end with `session.interrupted`. Where the worker had already finished its turn before a harness fault could land (its `message.assistant` is recorded), `session.completed` is accepted too. For scripted crashes, exactly the chunks sent before the fault must be recorded."
            }
            Check::Reference => {
                "Each round first runs every distinct clean run spec once, before any fault. An untouched run of the same spec must record the same events (kinds and payloads) with `at` timestamps, `session.started.pid` and `run.started.queued_ms` ignored and `worker.stats` dropped. Runs of a clean spec that a fault touched (or that the daemon kill interrupted) must record a prefix of it before their terminal event."
            }
            Check::Group => {
                "When a terminal event is pushed, /proc is scanned for live (non-zombie) processes of that session: in the process group of the worker named by `session.started`, or in its PID namespace (both read when it started): there must be none. After the daemon is SIGKILLed, every process whose arguments name this daemon's worker socket must be gone within 1 s; after each round, none may remain, and every group of the round must be empty."
            }
            Check::CancelLatency => {
                "From the wall-clock time the daemon answered `ControlRequest::Cancel` (it answers once the cancel is under way, its grace period running; the harness's own queueing before the request reached it is not the daemon's latency) to the `at` of the terminal event must be at most the daemon's cancel grace period plus 300 ms (killing and reaping the worker while loaded; every escalation this guards against, waiting for the drain, the exit or the group, takes a second or more), for sessions where that cancel was the first stop request, the session was still live (its terminal event is later than the cancel) and the worker had not finished its turn before the cancel."
            }
            Check::Rss => {
                "The daemon's VmRSS is read when its incarnation starts its fault phase and again after all the sessions it served ended (after a 300 ms settle); the second must be at most the first + 16 MiB + 64 KiB per session served."
            }
            Check::BadFrames => {
                "Raw connections to control.sock and worker.sock send garbage, random bytes, a truncated hello then a half-close, an oversized length prefix, a wrong protocol version, a wrong token; on control.sock also a malformed, oversized or truncated frame after a good handshake. Each must get `HelloReply::Refused` (or, after the handshake, an error response) naming the problem, then see the connection closed; a `Ping` on the harness's own connection must then be answered. Once a round, another process opens connections with good handshakes until one is refused: the refusal must name the per-process cap, and `Ping` must be answered while they are held and after they close."
            }
            Check::Streams => {
                "Follow pushes of each session must arrive with seqs increasing by one and nothing after the terminal event; `Events` pages must start right after the requested seq and be gapless; answers to stop requests must be `Ok` or \"already ended\"."
            }
            Check::Gc => {
                "Before the reference runs, a group of 24 fodder runs is started and ended, then 1.5 s pass. In the daemon-kill phase the harness asks for `ControlRequest::Gc` of everything older than the fodder (the fodder alone) and SIGKILLs the daemon 0 to 150 ms later: before the gc, in the middle of its deletion or compaction, or after it. The fault counts as injected when the gc removed some of the fodder. In the database after the round each fodder session must be either gone with all its events or whole (as for \"logs whole\"), and every other session must be there (the other checks)."
            }
            Check::Otlp => {
                "Before any run the daemon is told (`ControlRequest::SetOtlp`, with a header) to send every turn that ends to an OTLP/HTTP receiver the harness runs, which answers one request in four with 503 while the round goes on; the daemon SIGKILL and the full disk strike meanwhile. At the end the receiver accepts everything, and the daemon must report nothing waiting and no error for 3 s in a row within 90 s (counted under liveness). Then every session in the database with an ended turn (`supervisor::otlp::turns`) must have its trace id (its session id) in a request body the receiver accepted, and every request must have carried the header."
            }
            Check::Workspaces => {
                "The round makes a git repository (one commit) and an agent with a workspace per run; in the daemon-kill phase a group of 6 of its runs, each writing two files from a `shell` call, starts just before the SIGKILL, so some end and some are interrupted. After the restart each run's patch is asked for (`ControlRequest::WorkspaceDiff`, which settles an interrupted run's worktree) and must come. In the database after the round each such session must be whole and name its workspace (`workspace.created`; only a run interrupted before it was made may lack one), which must still exist; a completed run must have recorded what it changed (`workspace.changed`, not empty). The repository's `HEAD`, index and files must be as they were, and every worktree git lists must belong to one of the runs."
            }
            Check::Slurm => {
                "With a Slurm cluster (`SLURM_CONF`; `scripts/chaos` brings a single-host one up, `scripts/slurm`), the daemon offers its TCP worker listener and, during the storm, runs one spec locally and 3 times on the cluster (`RunSpec::on`), and two long runs on the cluster: one whose job is cancelled from outside (`scancel`) and one whose worker gets SIGKILL, each once it streams; two more long Slurm runs stream when the daemon is SIGKILLed. Every one must end, and its job must leave the queue (after the restart too: the new daemon cancels what the killed one left). In the database after the round each such session must be whole and name its job (`session.placed`); a clean one must record what the local run recorded (placement and containment aside), the cancelled one `session.killed` (reason `cluster`), the killed worker's `session.crashed`, the daemon kill's `session.interrupted`; no job of the round may be queued and no worker process of it alive."
            }
            Check::Liveness => {
                "Every session must end within its phase's deadline; requests must be answered within 10 s (`Ping` also while the disk is full; a `Run` made while it is full may wait for space, and must be answered once the disk is freed); the daemon must restart after a SIGKILL, exit on `Shutdown` at the end of the round (the harness's connections still open, as clients' would be), and leave a database that opens read-only without repair."
            }
        }
    }
}

/// A failed check.
#[derive(Clone, Debug)]
pub struct Violation {
    /// The round it happened in.
    pub round: u32,
    /// The check.
    pub check: Check,
    /// The session concerned, if one.
    pub session: Option<SessionId>,
    /// What was wrong.
    pub detail: String,
}

/// Counts of checked items and the violations found.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Items checked, by check.
    pub checked: BTreeMap<Check, u64>,
    /// Violations.
    pub violations: Vec<Violation>,
    /// Sessions read from databases.
    pub sessions: u64,
    /// Events read from databases.
    pub events: u64,
    /// Observed cancel latencies, from the daemon's acknowledgement.
    pub cancel_latencies: Vec<Duration>,
    /// The same cancels' latencies from when the harness sent them (its
    /// own queueing included), reported beside them.
    pub cancel_sent_latencies: Vec<Duration>,
    /// The round violations are attributed to.
    pub round: u32,
}

impl Tally {
    /// An empty tally for round `round`.
    pub fn new(round: u32) -> Tally {
        Tally {
            round,
            ..Tally::default()
        }
    }

    /// Counts `n` items of `check` as checked.
    pub fn count(&mut self, check: Check, n: u64) {
        *self.checked.entry(check).or_default() += n;
    }

    /// Counts one item of `check`, failing it with `detail` if `result` is `Err`.
    pub fn verify(&mut self, check: Check, session: Option<SessionId>, result: Result<(), String>) {
        self.count(check, 1);
        if let Err(detail) = result {
            self.violations.push(Violation {
                round: self.round,
                check,
                session,
                detail,
            });
        }
    }

    /// Counts and fails one item of `check`.
    pub fn fail(&mut self, check: Check, session: Option<SessionId>, detail: impl Into<String>) {
        self.verify(check, session, Err(detail.into()));
    }

    /// Adds `other` into this tally.
    pub fn merge(&mut self, other: Tally) {
        for (check, n) in other.checked {
            self.count(check, n);
        }
        self.violations.extend(other.violations);
        self.sessions += other.sessions;
        self.events += other.events;
        self.cancel_latencies.extend(other.cancel_latencies);
        self.cancel_sent_latencies
            .extend(other.cancel_sent_latencies);
    }
}

/// What the per-session checks need besides the session.
pub struct Context<'a> {
    /// Normalised reference logs by clean spec index.
    pub references: &'a HashMap<usize, Vec<EventKind>>,
    /// Daemon SIGKILLs: the incarnation killed and when.
    pub kills: &'a [(u32, Timestamp)],
    /// The daemon's cancel grace period.
    pub grace: Duration,
}

/// Runs every per-session check on `track`, whose database log is `events`.
pub fn check_session(
    tally: &mut Tally,
    ctx: &Context<'_>,
    track: &Track,
    summary: Option<&SessionSummary>,
    events: &[Event],
) {
    let id = Some(track.id);
    let Some(summary) = summary else {
        tally.fail(
            Check::Whole,
            id,
            format!("accepted run {} is not in the database", describe(track)),
        );
        return;
    };
    tally.verify(Check::Whole, id, whole(summary, events));
    let seen = track.seen();
    let mut acked = 0;
    for event in seen.followed.iter().chain(&seen.polled) {
        acked += 1;
        let stored = usize::try_from(event.seq)
            .ok()
            .and_then(|s| s.checked_sub(1))
            .and_then(|i| events.get(i));
        if stored != Some(event) {
            tally.fail(
                Check::Acknowledged,
                id,
                format!(
                    "{}: acknowledged event seq {} ({}) is {} in the database",
                    describe(track),
                    event.seq,
                    event.kind.name(),
                    stored.map_or("missing".to_owned(), |s| format!("different ({s:?})"))
                ),
            );
            acked -= 1;
        }
    }
    tally.count(Check::Acknowledged, acked);
    let streams = if seen.stream_problems.is_empty() && seen.bad_answers.is_empty() {
        Ok(())
    } else {
        let mut all = seen.stream_problems.clone();
        all.extend(seen.bad_answers.iter().cloned());
        Err(format!("{}: {}", describe(track), all.join("; ")))
    };
    tally.verify(Check::Streams, id, streams);
    if !seen.leftovers.is_empty() {
        tally.fail(
            Check::Group,
            id,
            format!(
                "{}: processes {:?} of the session ({:?}) were alive when the terminal event was pushed",
                describe(track),
                seen.leftovers
                    .iter()
                    .map(|pid| format!(
                        "{pid}: {}",
                        supervisor::procfs::cmdline(*pid)
                            .map(|a| a.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect::<Vec<_>>().join(" "))
                            .unwrap_or_default()
                    ))
                    .collect::<Vec<_>>(),
                seen.mark
            ),
        );
    } else if worker_pid(events).is_some() {
        tally.count(Check::Group, 1);
    }
    let first_stop = seen.first_stop;
    let cancel_acknowledged = seen.cancel_acknowledged;
    drop(seen);
    let Some(last) = events.last() else {
        return;
    };
    let killed_at = ctx
        .kills
        .iter()
        .find(|(incarnation, _)| *incarnation == track.incarnation)
        .map(|(_, at)| *at);
    let outcome = expect::terminal(track, events, last, killed_at)
        .map_err(|why| format!("{}: {why}; log: {}", describe(track), names(events)));
    tally.verify(Check::Terminal, id, outcome);
    if let Some(k) = track.plan.reference
        && let Some(reference) = ctx.references.get(&k)
        && track.plan.phase != Phase::Reference
    {
        let result = reference::compare(track, events, reference)
            .map_err(|why| format!("{}: {why}", describe(track)));
        tally.verify(Check::Reference, id, result);
    }
    if let Some((StopKind::Cancel, sent)) = first_stop
        && let Some(acknowledged) = cancel_acknowledged
        && let Some(latency) = cancel_latency(events, last, sent, acknowledged)
    {
        tally.cancel_latencies.push(latency);
        tally.cancel_sent_latencies.push(last.at.since(sent));
        let bound = ctx.grace + CANCEL_SLACK;
        let result = if latency <= bound {
            Ok(())
        } else {
            Err(format!(
                "{}: cancel took {} ms to reach {} (bound {} ms)",
                describe(track),
                latency.as_millis(),
                last.kind.name(),
                bound.as_millis()
            ))
        };
        tally.verify(Check::CancelLatency, id, result);
    }
}

/// What a forced cancel may take beyond the grace period, counted from the
/// daemon's acknowledgement: killing and reaping the worker. Unloaded it is
/// about 25 ms. Counted from when the harness sent it, loaded CI rounds
/// (Slurm jobs handshaking, floods) reached 344 ms, the harness's own
/// queueing included; what the check guards against (a cancel left to the
/// drain, exit or group timeouts) takes a second or more.
pub const CANCEL_SLACK: Duration = Duration::from_millis(300);

/// "storm run r1-spec5 (worker SIGKILL) 0193..." for messages.
pub fn describe(track: &Track) -> String {
    let fault = track.plan.fault.map_or("untouched", FaultKind::label);
    format!(
        "{} run {} ({fault}) {}",
        track.plan.phase.name(),
        track.plan.spec.label.as_deref().unwrap_or("-"),
        track.id
    )
}

/// The event names of a log, compressed: `llm.response.chunk x12`.
pub fn names(events: &[Event]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut run: Option<(&str, usize)> = None;
    for event in events {
        let name = event.kind.name();
        match &mut run {
            Some((current, n)) if *current == name => *n += 1,
            _ => {
                if let Some((current, n)) = run.take() {
                    out.push(if n > 1 {
                        format!("{current} x{n}")
                    } else {
                        current.to_owned()
                    });
                }
                run = Some((name, 1));
            }
        }
    }
    if let Some((current, n)) = run {
        out.push(if n > 1 {
            format!("{current} x{n}")
        } else {
            current.to_owned()
        });
    }
    out.join(", ")
}

/// The worker pid from `session.started`.
fn worker_pid(events: &[Event]) -> Option<u32> {
    events.iter().find_map(|e| match e.kind {
        EventKind::SessionStarted { pid, .. } => Some(pid),
        _ => None,
    })
}

/// Seqs 1..n, one terminal event, last; the record agrees.
pub fn whole(summary: &SessionSummary, events: &[Event]) -> Result<(), String> {
    for (i, event) in events.iter().enumerate() {
        if event.seq != i as u64 + 1 {
            return Err(format!(
                "seq {} at position {} (seqs must run 1..n): {}",
                event.seq,
                i + 1,
                names(events)
            ));
        }
    }
    let terminals = events.iter().filter(|e| e.kind.is_terminal()).count();
    let last_terminal = events.last().is_some_and(|e| e.kind.is_terminal());
    if terminals != 1 || !last_terminal {
        return Err(format!(
            "{terminals} terminal events, last is {}: {}",
            events.last().map_or("nothing", |e| e.kind.name()),
            names(events)
        ));
    }
    let status = events.last().and_then(|e| e.kind.status_after());
    if Some(summary.status) != status || summary.events != events.len() as u64 {
        return Err(format!(
            "session record says {} with {} events, the log has {} events ending in {}",
            summary.status,
            summary.events,
            events.len(),
            events.last().map_or("nothing", |e| e.kind.name())
        ));
    }
    Ok(())
}

/// The cancel latency to check, from the daemon's acknowledgement, if the
/// check applies: the session was live when the cancel was sent and its
/// worker had not finished the turn.
fn cancel_latency(
    events: &[Event],
    last: &Event,
    sent: Timestamp,
    acknowledged: Timestamp,
) -> Option<Duration> {
    if matches!(last.kind, EventKind::SessionInterrupted) || last.at <= sent {
        return None;
    }
    let finished_before = events
        .iter()
        .any(|e| matches!(e.kind, EventKind::MessageAssistant { .. }) && e.at <= sent);
    if finished_before {
        return None;
    }
    Some(last.at.since(acknowledged))
}
