//! One round: a fresh data dir and daemon, the phases of its plan, then the
//! checks on the database the stopped daemon leaves behind.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use protocol::Timestamp;
use protocol::agent::AgentConfig;
use protocol::control::{ControlRequest, ControlResponse};
use studio_client::Client;
use supervisor::paths::DataDir;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::check::{self, Check, Tally};
use crate::daemon::{Binaries, Daemon, Settings};
use crate::disk::Disk;
use crate::inject::{self, Ctx};
use crate::plan::{AGENTS, Phase, RoundPlan, RunPlan, SHELL_AGENT, SHELL_AGENT_PROCESSES};
use crate::procfs::{self, mib};
use crate::report::{FaultCounts, RoundResult, RssReading};
use crate::rng::Rng;
use crate::track::{FollowEnd, REQUEST_TIMEOUT, Track};

mod finish;
mod gc;
mod otlp;
mod phases;
mod slurm;
mod workspaces;

/// How long the storm's sessions have to end.
const STORM_DEADLINE: Duration = Duration::from_secs(90);
/// How long the reference runs have to end.
const REFERENCE_DEADLINE: Duration = Duration::from_secs(30);
/// How long sessions of a killed daemon have to show their terminal event
/// after the restart.
const RESTART_DEADLINE: Duration = Duration::from_secs(20);
/// How long the disk-full runs have to end once the disk is freed.
const DISK_DEADLINE: Duration = Duration::from_secs(25);
/// How long workers may outlive a SIGKILLed daemon.
const ORPHAN_GRACE: Duration = Duration::from_secs(1);
/// Pause before reading the daemon's RSS after its sessions ended.
const RSS_SETTLE: Duration = Duration::from_millis(300);
/// Fixed part of the RSS bound.
const RSS_SLACK: u64 = 16 * 1024 * 1024;
/// Per-session part of the RSS bound.
const RSS_PER_SESSION: u64 = 64 * 1024;
/// How long a full disk may take to make a commit fail.
const BITE_TIMEOUT: Duration = Duration::from_secs(5);
/// What the daemon logs when a commit fails (and is retried).
const COMMIT_FAILED: &str = "commit failed";
/// Client connections per daemon (requests and follows are spread over them).
const CONNECTIONS: usize = 3;

/// What a round needs from the command line.
#[derive(Clone, Debug)]
pub struct RoundConfig {
    /// The run's seed.
    pub seed: u64,
    /// This round's number (1-based).
    pub number: u32,
    /// Binaries under test.
    pub bins: Binaries,
    /// Daemon flags.
    pub settings: Settings,
    /// Size of the tmpfs data dir.
    pub tmpfs_mib: u64,
    /// Whether mounting a tmpfs may be tried.
    pub allow_mount: bool,
    /// Keep the temp dir even if every check passed.
    pub keep: bool,
    /// Keep the temp dir if a check failed.
    pub keep_failed: bool,
}

/// Runs round `cfg.number`. Harness failures inside the round (a daemon
/// that will not restart, say) are reported as violations, not errors;
/// errors mean the round could not be set up at all.
pub async fn run(cfg: &RoundConfig) -> anyhow::Result<RoundResult> {
    let started = Instant::now();
    let mut rng = Rng::for_round(cfg.seed, cfg.number);
    let plan = RoundPlan::draw(cfg.number, &mut rng);
    // Drop order matters: the daemon (in `round`) dies before the tmpfs is
    // unmounted, and the temp dir goes last.
    let tmp = tempfile::Builder::new()
        .prefix("chaos")
        .tempdir_in("/tmp")
        .context("cannot create a temp dir")?;
    let root = tmp.path().join("d");
    let mut disk = Disk::prepare(&root, cfg.tmpfs_mib, cfg.allow_mount)
        .with_context(|| format!("cannot create {}", root.display()))?;
    let dir = DataDir::new(&root);
    let log = tmp.path().join("daemon.log");
    let (fill_tx, fill_rx) = watch::channel(None);
    let slurm = slurm::SlurmRuns::from_env().context("cannot pick the worker listener's port")?;
    let mut daemon = Daemon::new(cfg.bins.clone(), dir.clone(), log, cfg.settings);
    daemon.env = slurm.daemon_env();
    let mut round = Round {
        cfg,
        plan,
        rng,
        dir: dir.clone(),
        disk_real: disk.is_real(),
        daemon,
        registry: Arc::default(),
        kills: Vec::new(),
        tally: Tally::new(cfg.number),
        faults: FaultCounts::default(),
        rss: Vec::new(),
        disk_note: match &disk {
            Disk::Tmpfs(_) => format!("tmpfs of {} MiB", cfg.tmpfs_mib),
            Disk::Simulated(why) => format!("simulated ({why})"),
        },
        fill_tx,
        fill_rx,
        client: None,
        log_quoted: false,
        fodder: gc::Fodder::default(),
        otlp: otlp::Receiver::default(),
        worktrees: workspaces::WorktreeRuns::default(),
        slurm,
    };
    if let Err(err) = round.execute().await {
        round.tally.fail(
            Check::Liveness,
            None,
            format!(
                "round aborted: {err:#}; daemon log: {}",
                round.daemon.log_excerpt(&[], 5)
            ),
        );
    }
    let _ = round.daemon.kill9();
    let failed = !round.tally.violations.is_empty();
    if failed && (cfg.keep_failed || cfg.keep) && dir.database().exists() {
        let _ = std::fs::copy(dir.database(), tmp.path().join("studio.redb"));
    }
    let Round {
        tally,
        faults,
        rss,
        disk_note,
        ..
    } = round;
    let mut tally = tally;
    if let Disk::Tmpfs(mount) = &mut disk
        && let Err(err) = mount.unmount()
    {
        tally.fail(
            Check::Liveness,
            None,
            format!("cannot unmount the tmpfs: {err}"),
        );
    }
    drop(disk);
    let kept = if (failed && cfg.keep_failed) || cfg.keep {
        Some(tmp.keep())
    } else {
        drop(tmp);
        None
    };
    Ok(RoundResult {
        number: cfg.number,
        faults,
        tally,
        rss,
        disk: disk_note,
        elapsed: started.elapsed(),
        kept,
    })
}

/// A round in progress.
struct Round<'a> {
    cfg: &'a RoundConfig,
    plan: RoundPlan,
    /// For choices made while running (which session to poll, ...).
    rng: Rng,
    dir: DataDir,
    disk_real: bool,
    daemon: Daemon,
    /// Every session accepted this round.
    registry: Arc<Mutex<Vec<Arc<Track>>>>,
    /// Daemon SIGKILLs: incarnation and when.
    kills: Vec<(u32, Timestamp)>,
    tally: Tally,
    faults: FaultCounts,
    rss: Vec<RssReading>,
    disk_note: String,
    fill_tx: watch::Sender<Option<Instant>>,
    fill_rx: watch::Receiver<Option<Instant>>,
    /// The main connection to the running daemon.
    client: Option<Client>,
    /// Whether a violation already quoted the daemon's log.
    log_quoted: bool,
    /// The runs the daemon-kill phase's gc deletes.
    fodder: gc::Fodder,
    /// Where the daemon sends ended turns as traces.
    otlp: otlp::Receiver,
    /// The runs in worktrees of their own, live at the daemon kill.
    worktrees: workspaces::WorktreeRuns,
    /// The runs placed on a Slurm cluster, when there is one.
    slurm: slurm::SlurmRuns,
}

impl Round<'_> {
    /// Runs the phases; an error aborts the round (and is a violation).
    async fn execute(&mut self) -> anyhow::Result<()> {
        let ctx = self.start_daemon().await?;
        self.create_agents(&ctx).await?;
        self.start_otlp(&ctx).await?;
        self.create_worktree_agent(&ctx).await?;
        self.gc_fodder(&ctx).await?;
        self.reference(&ctx).await;
        let rss_start = self.daemon_rss();
        let before = self.tracks().len();
        self.storm(&ctx).await;
        let served = self.tracks().len() - before;
        self.check_rss(rss_start, served).await;
        let ctx = self.kill_phase(ctx).await?;
        let rss_start = self.daemon_rss();
        let before = self.tracks().len();
        self.disk_phase(&ctx).await?;
        let served = self.tracks().len() - before;
        self.check_rss(rss_start, served).await;
        self.absorb(&ctx);
        drop(ctx);
        self.drain_otlp().await;
        self.finish().await
    }

    /// Every session accepted so far.
    fn tracks(&self) -> Vec<Arc<Track>> {
        self.registry
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The sessions of `phase`.
    fn phase_tracks(&self, phase: Phase) -> Vec<Arc<Track>> {
        self.tracks()
            .into_iter()
            .filter(|t| t.plan.phase == phase)
            .collect()
    }

    /// Starts a daemon incarnation and connects to it.
    async fn start_daemon(&mut self) -> anyhow::Result<Arc<Ctx>> {
        let client = self.daemon.start().await?;
        let mut clients = vec![client.clone()];
        for _ in 1..CONNECTIONS {
            clients.push(Client::connect(&self.dir).await?);
        }
        self.client = Some(client);
        Ok(Arc::new(Ctx::new(
            clients,
            self.daemon.incarnation,
            self.dir.clone(),
            self.fill_rx.clone(),
            self.cfg.number,
        )?))
    }

    /// Moves what the fault tasks of `ctx` found into the round's tally.
    fn absorb(&mut self, ctx: &Ctx) {
        let tally = std::mem::replace(&mut *ctx.tally(), Tally::new(self.cfg.number));
        self.tally.merge(tally);
        let faults = std::mem::take(&mut *ctx.faults());
        self.faults.merge(&faults);
    }

    /// Creates the agents the run specs use.
    async fn create_agents(&mut self, ctx: &Ctx) -> anyhow::Result<()> {
        for (name, model, prompt) in AGENTS {
            let mut agent = AgentConfig::scripted(name);
            agent.model = model.to_owned();
            agent.system_prompt = prompt.to_owned();
            let request = ControlRequest::AgentCreate {
                agent: Box::new(agent),
                replace: true,
            };
            tokio::time::timeout(REQUEST_TIMEOUT, ctx.client(0).request(request))
                .await
                .context("AgentCreate got no answer")??;
        }
        // The agent whose commands try to escape, in their sandbox.
        let mut shell = AgentConfig::scripted(SHELL_AGENT);
        shell.tools = vec!["shell".to_owned()];
        shell.safety = protocol::SafetyMode::WorkspaceWrite;
        shell.sandbox.max_processes = Some(SHELL_AGENT_PROCESSES);
        let request = ControlRequest::AgentCreate {
            agent: Box::new(shell),
            replace: true,
        };
        tokio::time::timeout(REQUEST_TIMEOUT, ctx.client(0).request(request))
            .await
            .context("AgentCreate got no answer")??;
        Ok(())
    }

    /// Submits `plans`, each at its time after `start`; returns the tasks.
    fn submit(
        &self,
        ctx: &Arc<Ctx>,
        plans: Vec<RunPlan>,
        start: Instant,
    ) -> Vec<JoinHandle<Result<(), String>>> {
        plans
            .into_iter()
            .enumerate()
            .map(|(i, plan)| {
                let ctx = Arc::clone(ctx);
                let registry = Arc::clone(&self.registry);
                tokio::spawn(async move {
                    tokio::time::sleep_until((start + plan.submit_at).into()).await;
                    submit_one(&ctx, &registry, plan, i, REQUEST_TIMEOUT).await
                })
            })
            .collect()
    }

    /// Waits for submission tasks, failing Liveness for refused runs.
    async fn join_submits(&mut self, tasks: Vec<JoinHandle<Result<(), String>>>) {
        for task in tasks {
            let result = task
                .await
                .unwrap_or_else(|err| Err(format!("submit task failed: {err}")));
            self.tally.verify(Check::Liveness, None, result);
        }
    }

    /// Waits until every one of `tracks` has shown its terminal event,
    /// re-following streams broken by a daemon restart.
    async fn await_ended(&mut self, ctx: &Arc<Ctx>, tracks: &[Arc<Track>], within: Duration) {
        let deadline = Instant::now() + within;
        for (i, track) in tracks.iter().enumerate() {
            let mut breaks = 0;
            let result = loop {
                if track.progress().ended {
                    break Ok(());
                }
                if Instant::now() > deadline || breaks > 3 {
                    break Err(self.not_ended(track, within));
                }
                let Some((incarnation, handle)) = track.take_follow() else {
                    track.start_follow(ctx.client(i).clone(), ctx.incarnation);
                    continue;
                };
                match tokio::time::timeout_at(deadline.into(), handle).await {
                    Ok(Ok(FollowEnd::Terminal)) => break Ok(()),
                    Ok(Ok(FollowEnd::Broken(why))) => {
                        if incarnation == ctx.incarnation {
                            breaks += 1;
                            self.tally.fail(
                                Check::Streams,
                                Some(track.id),
                                format!("{}: follow {why}", check::describe(track)),
                            );
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        track.start_follow(ctx.client(i).clone(), ctx.incarnation);
                    }
                    Ok(Err(err)) => {
                        breaks += 1;
                        self.tally.fail(
                            Check::Liveness,
                            Some(track.id),
                            format!("follow task failed: {err}"),
                        );
                        track.start_follow(ctx.client(i).clone(), ctx.incarnation);
                    }
                    Err(_) => break Err(self.not_ended(track, within)),
                }
            };
            self.tally.verify(Check::Liveness, Some(track.id), result);
        }
    }

    /// Describes a session that did not end; the first such message of the
    /// round quotes the daemon's log.
    fn not_ended(&mut self, track: &Track, within: Duration) -> String {
        let last: Vec<&str> = {
            let seen = track.seen();
            seen.followed
                .iter()
                .rev()
                .take(4)
                .map(|e| e.kind.name())
                .collect()
        };
        let log = if std::mem::replace(&mut self.log_quoted, true) {
            String::new()
        } else {
            format!(
                "; daemon log:\n    {}",
                self.daemon
                    .log_excerpt(&["ERROR", "WARN"], 3)
                    .replace('\n', "\n    ")
            )
        };
        format!(
            "{} did not end within {} s (last events seen: {last:?}){log}",
            check::describe(track),
            within.as_secs(),
        )
    }

    /// The running daemon's VmRSS.
    fn daemon_rss(&self) -> Option<u64> {
        self.daemon.pid().and_then(procfs::vm_rss)
    }

    /// Checks the daemon's RSS against `start` after `sessions` sessions.
    async fn check_rss(&mut self, start: Option<u64>, sessions: usize) {
        tokio::time::sleep(RSS_SETTLE).await;
        let end = self.daemon_rss();
        let (Some(start), Some(end)) = (start, end) else {
            self.tally.fail(
                Check::Rss,
                None,
                "cannot read the daemon's VmRSS".to_owned(),
            );
            return;
        };
        let sessions = sessions as u64;
        let bound = start + RSS_SLACK + RSS_PER_SESSION * sessions;
        self.rss.push(RssReading {
            round: self.cfg.number,
            incarnation: self.daemon.incarnation,
            start,
            end,
            sessions,
            bound,
        });
        let result = if end <= bound {
            Ok(())
        } else {
            Err(format!(
                "daemon #{} RSS went from {} to {} after {sessions} sessions (bound {})",
                self.daemon.incarnation,
                mib(start),
                mib(end),
                mib(bound)
            ))
        };
        self.tally.verify(Check::Rss, None, result);
    }
}

/// Submits one run; on acceptance, tracks and follows it and starts its
/// action. Scripted faults count as injected once their run is accepted.
async fn submit_one(
    ctx: &Arc<Ctx>,
    registry: &Mutex<Vec<Arc<Track>>>,
    plan: RunPlan,
    i: usize,
    timeout: Duration,
) -> Result<(), String> {
    let client = ctx.client(i);
    let label = plan.spec.label.clone().unwrap_or_default();
    let answer = tokio::time::timeout(
        timeout,
        client.request(ControlRequest::Run(plan.spec.clone())),
    )
    .await;
    let session = match answer {
        Ok(Ok(ControlResponse::RunAccepted { session })) => session,
        Ok(Ok(other)) => return Err(format!("Run of {label} answered {other:?}")),
        Ok(Err(err)) => return Err(format!("Run of {label} failed: {err}")),
        Err(_) => {
            return Err(format!(
                "Run of {label} got no answer within {} s",
                timeout.as_secs()
            ));
        }
    };
    let track = Track::new(session, plan, ctx.incarnation);
    track.start_follow(client.clone(), ctx.incarnation);
    if track.plan.reference.is_none()
        && let Some(kind) = track.plan.fault
    {
        ctx.faults().record(kind, true);
    }
    if let Some(action) = track.plan.action {
        tokio::spawn(inject::run_action(
            Arc::clone(ctx),
            Arc::clone(&track),
            action,
        ));
    }
    registry
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(track);
    Ok(())
}
