//! Runs whose workers are jobs of a Slurm cluster (`--on slurm`), when
//! the harness has one (`SLURM_CONF`, which `scripts/chaos` brings up):
//! the daemon then offers its TCP worker listener. During the storm, next
//! to its faults, a local run and clean Slurm runs of one spec, a Slurm
//! run whose job someone else cancels (`scancel`) and one whose worker
//! gets SIGKILL on its node; in the daemon-kill phase, Slurm runs that
//! stream when the daemon dies. At the end: each such session is whole and
//! names its job (`session.placed`), ends as its fault says (a clean one
//! records what the local run recorded), and no job of the round is left
//! in the queue, nor a process of its workers.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use protocol::control::{ControlRequest, ControlResponse, RunSpec};
use protocol::event::{Event, EventKind, StopReason};
use protocol::launch::Launcher;
use protocol::script::ScriptPatch;
use protocol::{SessionId, SessionStatus};
use supervisor::store::Snapshot;

use super::Round;
use crate::check::{self, Check};
use crate::inject::Ctx;
use crate::plan::{AGENTS, FaultKind};
use crate::reference::{describe_difference, normalise};
use crate::track::REQUEST_TIMEOUT;

/// How long a Slurm run has to start streaming (a job waits for the
/// scheduler's next pass first).
const STREAM_DEADLINE: Duration = Duration::from_secs(60);
/// How long the Slurm runs of the storm have to end.
const END_DEADLINE: Duration = Duration::from_secs(90);
/// How long a restarted daemon has to cancel the jobs its sessions left.
const JOBS_GONE_DEADLINE: Duration = Duration::from_secs(45);
/// Clean Slurm runs in the storm.
const CLEAN_RUNS: usize = 3;
/// Slurm runs streaming when the daemon is killed.
const KILL_RUNS: usize = 2;

/// What was done to one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// A local run of the clean spec: what the clean Slurm runs must record.
    LocalReference,
    /// Nothing: it must complete, as the local run did.
    Clean,
    /// Its job was cancelled from outside once it streamed.
    Scancel,
    /// Its worker got SIGKILL once it streamed.
    WorkerKill,
    /// It streamed when the daemon was SIGKILLed.
    DaemonKill,
}

/// The cluster, and the runs placed on it.
#[derive(Default)]
pub(super) struct SlurmRuns {
    /// The cluster's `SLURM_CONF`; `None`: no cluster, nothing runs there.
    conf: Option<String>,
    /// Where the daemon listens for workers that dial back.
    listen: String,
    /// Each run and what was done to it (shared with the storm's task).
    runs: Arc<Mutex<Vec<(SessionId, Fate)>>>,
}

impl SlurmRuns {
    /// The cluster `SLURM_CONF` names, if any, with a free port for the
    /// daemon's worker listener.
    pub(super) fn from_env() -> anyhow::Result<SlurmRuns> {
        let Some(conf) = std::env::var("SLURM_CONF").ok().filter(|c| !c.is_empty()) else {
            return Ok(SlurmRuns::default());
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        Ok(SlurmRuns {
            conf: Some(conf),
            listen: format!("127.0.0.1:{port}"),
            runs: Arc::default(),
        })
    }

    /// What the daemon's environment needs for Slurm runs.
    pub(super) fn daemon_env(&self) -> Vec<(String, String)> {
        match &self.conf {
            None => Vec::new(),
            Some(conf) => vec![
                ("SLURM_CONF".to_owned(), conf.clone()),
                ("STUDIO_WORKER_LISTEN".to_owned(), self.listen.clone()),
            ],
        }
    }

    /// The sessions placed (or meant to be placed) on the cluster.
    pub(super) fn sessions(&self) -> Vec<SessionId> {
        lock(&self.runs).iter().map(|(id, _)| *id).collect()
    }
}

fn lock(runs: &Mutex<Vec<(SessionId, Fate)>>) -> std::sync::MutexGuard<'_, Vec<(SessionId, Fate)>> {
    runs.lock().unwrap_or_else(|p| p.into_inner())
}

/// A run of the first agent, `chunks` chunks of 20 ms, where `on` says.
fn spec(chunks: u32, on: Launcher) -> RunSpec {
    RunSpec {
        agent: AGENTS[0].0.to_owned(),
        prompt: "answer from the cluster".to_owned(),
        script: ScriptPatch {
            chunks: Some(chunks),
            chunk_delay_ms: Some(20),
            ..ScriptPatch::default()
        },
        on: Some(on),
        ..RunSpec::default()
    }
}

fn on_slurm() -> Launcher {
    Launcher::Slurm { partition: None }
}

/// Starts a run; its session.
async fn start(ctx: &Ctx, spec: RunSpec) -> anyhow::Result<SessionId> {
    let answer = tokio::time::timeout(
        REQUEST_TIMEOUT,
        ctx.client(1).request(ControlRequest::Run(spec)),
    )
    .await
    .context("a Slurm run got no answer")??;
    match answer {
        ControlResponse::RunAccepted { session } => Ok(session),
        other => anyhow::bail!("unexpected answer to a Slurm run: {other:?}"),
    }
}

/// The events `session` recorded so far.
async fn events(ctx: &Ctx, session: SessionId) -> anyhow::Result<Vec<Event>> {
    let page = ControlRequest::Events {
        session,
        after_seq: 0,
        limit: 10_000,
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, ctx.client(2).request(page)).await?? {
        ControlResponse::Events(events) => Ok(events),
        other => anyhow::bail!("unexpected answer to Events: {other:?}"),
    }
}

/// Waits until `session` streams; returns its job.
async fn streaming(ctx: &Ctx, session: SessionId) -> anyhow::Result<String> {
    let deadline = Instant::now() + STREAM_DEADLINE;
    loop {
        let events = events(ctx, session).await?;
        let chunk = events
            .iter()
            .any(|e| matches!(e.kind, EventKind::LlmResponseChunk { .. }));
        if let (true, Some(job)) = (chunk, job_of(&events)) {
            return Ok(job);
        }
        if let Some(last) = events.last().filter(|e| e.kind.is_terminal()) {
            anyhow::bail!("it ended before it streamed: {}", last.kind.name());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "it did not stream within {} s: {}",
            STREAM_DEADLINE.as_secs(),
            check::names(&events)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every one of `sessions` ended.
async fn ended(ctx: &Ctx, sessions: &[SessionId], within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    for id in sessions {
        loop {
            let get = ControlRequest::SessionGet { id: id.to_string() };
            if let Ok(Ok(ControlResponse::Session(s))) =
                tokio::time::timeout(REQUEST_TIMEOUT, ctx.client(0).request(get)).await
                && s.status.is_terminal()
            {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "Slurm run {id} did not end within {} s",
                    within.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// The job `events` name.
fn job_of(events: &[Event]) -> Option<String> {
    events.iter().find_map(|e| match &e.kind {
        EventKind::SessionPlaced { job, .. } => Some(job.clone()),
        _ => None,
    })
}

/// Runs a Slurm command of the cluster `conf` names; its stdout.
fn slurm(conf: &str, program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .env("SLURM_CONF", conf)
        .output()
        .map_err(|err| format!("cannot run {program}: {err}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// SIGKILL to the worker of `session` (found by its arguments: it runs
/// under Slurm's step daemon, not as the daemon's child).
fn kill_worker(session: SessionId) -> Result<(), String> {
    let pids = workers_of(session);
    let pid = *pids.first().ok_or("no worker process of the session")?;
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid).map_err(|e| e.to_string())?)
        .ok_or("invalid pid")?;
    rustix::process::kill_process(pid, rustix::process::Signal::KILL)
        .map_err(|err| format!("SIGKILL to {pid:?}: {err}"))
}

/// Live `studio-worker` processes of `session`.
fn workers_of(session: SessionId) -> Vec<u32> {
    let id = session.to_string();
    supervisor::procfs::pids()
        .into_iter()
        .filter(|pid| supervisor::procfs::is_alive(*pid))
        .filter(|pid| {
            supervisor::procfs::cmdline(*pid).is_some_and(|args| {
                args.first()
                    .is_some_and(|bin| String::from_utf8_lossy(bin).ends_with("studio-worker"))
                    && args.iter().any(|a| a.as_slice() == id.as_bytes())
            })
        })
        .collect()
}

impl Round<'_> {
    /// The storm's Slurm runs, as a task beside its other faults: the
    /// runs, a job cancelled from outside, a worker killed on its node.
    pub(super) fn slurm_storm(&self, ctx: &Arc<Ctx>) -> Option<tokio::task::JoinHandle<()>> {
        let conf = self.slurm.conf.clone()?;
        let runs = Arc::clone(&self.slurm.runs);
        let ctx = Arc::clone(ctx);
        Some(tokio::spawn(async move {
            let result = storm(&ctx, &conf, &runs).await;
            ctx.tally()
                .verify(Check::Slurm, None, result.map_err(|err| format!("{err:#}")));
        }))
    }

    /// Starts the Slurm runs the daemon kill finds streaming.
    pub(super) async fn start_slurm_kill_runs(&mut self, ctx: &Ctx) {
        if self.slurm.conf.is_none() {
            return;
        }
        let mut started = Vec::new();
        for _ in 0..KILL_RUNS {
            match start(ctx, spec(2_000, on_slurm())).await {
                Ok(id) => {
                    lock(&self.slurm.runs).push((id, Fate::DaemonKill));
                    started.push(id);
                }
                Err(err) => self.tally.fail(Check::Slurm, None, format!("{err:#}")),
            }
        }
        for id in started {
            let result = streaming(ctx, id).await.map(|_| ());
            self.tally
                .verify(Check::Slurm, Some(id), result.map_err(|e| format!("{e:#}")));
        }
    }

    /// After the restart: the killed daemon's Slurm runs ended, and their
    /// jobs left the queue (the restarted daemon cancels them).
    pub(super) async fn await_slurm_kill_runs(&mut self, ctx: &Ctx) {
        let Some(conf) = self.slurm.conf.clone() else {
            return;
        };
        let killed: Vec<SessionId> = lock(&self.slurm.runs)
            .iter()
            .filter(|(_, fate)| *fate == Fate::DaemonKill)
            .map(|(id, _)| *id)
            .collect();
        let result = ended(ctx, &killed, END_DEADLINE).await;
        self.tally.verify(Check::Liveness, None, result);
        let result = jobs_gone(&conf, &killed, JOBS_GONE_DEADLINE).await;
        self.faults
            .record(FaultKind::SlurmDaemonKill, !killed.is_empty());
        self.tally.verify(Check::Slurm, None, result);
    }

    /// The checks on the database, the queue and /proc.
    pub(super) fn check_slurm(&mut self, db: &Snapshot) -> anyhow::Result<()> {
        let Some(conf) = self.slurm.conf.clone() else {
            return Ok(());
        };
        let runs = lock(&self.slurm.runs).clone();
        let summaries = db.sessions()?;
        let mut reference = None;
        for (id, fate) in &runs {
            if *fate == Fate::LocalReference {
                reference = Some(slurm_normalise(&db.events(*id)?));
            }
        }
        for (id, fate) in &runs {
            let events = db.events(*id)?;
            let result = match summaries.iter().find(|s| s.id == *id) {
                None => Err("a Slurm run is missing from the database".to_owned()),
                Some(summary) => check::whole(summary, &events)
                    .and_then(|()| ended_as(*fate, summary.status, &events, reference.as_deref())),
            };
            self.tally.verify(Check::Slurm, Some(*id), result);
            let left = workers_of(*id);
            let result = if left.is_empty() {
                Ok(())
            } else {
                Err(format!("worker processes {left:?} outlive the round"))
            };
            self.tally.verify(Check::Group, Some(*id), result);
        }
        let ids: Vec<SessionId> = runs.iter().map(|(id, _)| *id).collect();
        let queue = queued(&conf, &ids);
        let result = match queue {
            Ok(left) if left.is_empty() => Ok(()),
            Ok(left) => Err(format!("jobs of the round are still queued: {left:?}")),
            Err(err) => Err(err),
        };
        self.tally.verify(Check::Slurm, None, result);
        Ok(())
    }
}

/// The storm's runs: a local reference and clean Slurm runs of one spec,
/// then a job cancelled from outside and a worker killed, each once it
/// streams; every one must end.
async fn storm(ctx: &Ctx, conf: &str, runs: &Mutex<Vec<(SessionId, Fate)>>) -> anyhow::Result<()> {
    let mut all = Vec::new();
    let mut add = |id: SessionId, fate: Fate| {
        lock(runs).push((id, fate));
        all.push(id);
    };
    add(
        start(ctx, spec(6, Launcher::Local)).await?,
        Fate::LocalReference,
    );
    for _ in 0..CLEAN_RUNS {
        add(start(ctx, spec(6, on_slurm())).await?, Fate::Clean);
    }
    let cancelled = start(ctx, spec(2_000, on_slurm())).await?;
    add(cancelled, Fate::Scancel);
    let killed = start(ctx, spec(2_000, on_slurm())).await?;
    add(killed, Fate::WorkerKill);
    let job = streaming(ctx, cancelled)
        .await
        .context("the run to scancel")?;
    let landed = slurm(conf, "scancel", &[&job]);
    ctx.faults().record(FaultKind::SlurmCancel, landed.is_ok());
    ctx.tally()
        .verify(Check::Slurm, Some(cancelled), landed.map(|_| ()));
    streaming(ctx, killed)
        .await
        .context("the run whose worker is killed")?;
    let landed = kill_worker(killed);
    ctx.faults()
        .record(FaultKind::SlurmWorkerKill, landed.is_ok());
    ctx.tally().verify(Check::Slurm, Some(killed), landed);
    ended(ctx, &all, END_DEADLINE)
        .await
        .map_err(anyhow::Error::msg)?;
    jobs_gone(conf, &all, JOBS_GONE_DEADLINE)
        .await
        .map_err(anyhow::Error::msg)
}

/// The jobs of `sessions` still in the queue, by name.
fn queued(conf: &str, sessions: &[SessionId]) -> Result<Vec<String>, String> {
    let names = slurm(conf, "squeue", &["-h", "-o", "%j %i %T"])?;
    Ok(names
        .lines()
        .filter(|line| {
            sessions
                .iter()
                .any(|id| line.starts_with(&format!("studio-{id} ")))
        })
        .map(str::to_owned)
        .collect())
}

/// Waits until no job of `sessions` is queued.
async fn jobs_gone(conf: &str, sessions: &[SessionId], within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    loop {
        let left = queued(conf, sessions)?;
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "jobs still queued {} s after their sessions ended: {left:?}",
                within.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A log without what differs between a local run and a Slurm run of the
/// same spec (the placement, the containment).
fn slurm_normalise(events: &[Event]) -> Vec<EventKind> {
    normalise(events)
        .into_iter()
        .filter(|kind| {
            !matches!(
                kind,
                EventKind::SessionPlaced { .. } | EventKind::SessionContained { .. }
            )
        })
        .collect()
}

/// Whether a run of `fate` ended as it must.
fn ended_as(
    fate: Fate,
    status: SessionStatus,
    events: &[Event],
    reference: Option<&[EventKind]>,
) -> Result<(), String> {
    let last = events.last().map(|e| &e.kind);
    if fate != Fate::LocalReference && job_of(events).is_none() {
        return Err(format!("no session.placed: {}", check::names(events)));
    }
    match fate {
        Fate::LocalReference => match status {
            SessionStatus::Completed => Ok(()),
            other => Err(format!("the local reference run ended {other}")),
        },
        Fate::Clean => {
            let reference = reference.ok_or("no local reference run")?;
            let log = slurm_normalise(events);
            if log == reference {
                Ok(())
            } else {
                Err(format!(
                    "differs from the local run of its spec: {}",
                    describe_difference(&log, reference)
                ))
            }
        }
        Fate::Scancel => match last {
            Some(EventKind::SessionKilled {
                reason: StopReason::Cluster,
            }) => Ok(()),
            _ => Err(format!(
                "want session.killed {{reason: cluster}}: {}",
                check::names(events)
            )),
        },
        Fate::WorkerKill => match last {
            Some(EventKind::SessionCrashed { .. }) => Ok(()),
            _ => Err(format!("want session.crashed: {}", check::names(events))),
        },
        Fate::DaemonKill => match last {
            Some(EventKind::SessionInterrupted) => Ok(()),
            _ => Err(format!(
                "want session.interrupted: {}",
                check::names(events)
            )),
        },
    }
}
