//! The phases of a round: reference runs, the storm, the daemon kill and
//! the full disk.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use protocol::Timestamp;
use protocol::control::{ControlRequest, ControlResponse};
use tokio::task::JoinHandle;

use super::{
    BITE_TIMEOUT, COMMIT_FAILED, CONNECTIONS, DISK_DEADLINE, ORPHAN_GRACE, REFERENCE_DEADLINE,
    RESTART_DEADLINE, Round, STORM_DEADLINE, submit_one,
};
use crate::check::Check;
use crate::disk;
use crate::inject::{self, Ctx};
use crate::plan::{FaultKind, Phase, RunPlan};
use crate::procfs::{self, mib};
use crate::track::{self, REQUEST_TIMEOUT, Track};

impl Round<'_> {
    /// Runs every clean spec once, before any fault.
    pub(super) async fn reference(&mut self, ctx: &Arc<Ctx>) {
        let plans: Vec<RunPlan> = self
            .plan
            .clean_specs
            .iter()
            .enumerate()
            .map(|(k, spec)| RunPlan {
                phase: Phase::Reference,
                spec: spec.clone(),
                reference: Some(k),
                fault: None,
                action: None,
                flood_target: false,
                submit_at: Duration::ZERO,
            })
            .collect();
        let tasks = self.submit(ctx, plans, Instant::now());
        self.join_submits(tasks).await;
        let tracks = self.phase_tracks(Phase::Reference);
        self.await_ended(ctx, &tracks, REFERENCE_DEADLINE).await;
    }

    /// The storm: runs, their faults, the flood, bad frames and polls.
    pub(super) async fn storm(&mut self, ctx: &Arc<Ctx>) {
        let start = Instant::now();
        let plans = self.plan.storm.clone();
        let targets = plans.iter().filter(|p| p.flood_target).count();
        let tasks = self.submit(ctx, plans, start);
        let mut side: Vec<JoinHandle<()>> = Vec::new();
        side.extend(self.slurm_storm(ctx));
        {
            let ctx = Arc::clone(ctx);
            let registry = Arc::clone(&self.registry);
            let flood = self.plan.flood.clone();
            side.push(tokio::spawn(async move {
                tokio::time::sleep_until((start + flood.at).into()).await;
                let deadline = Instant::now() + REQUEST_TIMEOUT;
                let (targets, ended) = loop {
                    let all = registry.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    let found: Vec<Arc<Track>> = all
                        .iter()
                        .filter(|t| t.plan.flood_target)
                        .cloned()
                        .collect();
                    if found.len() >= targets || Instant::now() > deadline {
                        let ended = all
                            .iter()
                            .filter(|t| t.progress().ended)
                            .take(2)
                            .map(|t| t.id)
                            .collect();
                        break (found, ended);
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                };
                inject::cancel_flood(ctx, targets, ended, flood.copies).await;
            }));
        }
        for (at, socket, attack) in self.plan.attacks.clone() {
            let ctx = Arc::clone(ctx);
            side.push(tokio::spawn(async move {
                tokio::time::sleep_until((start + at).into()).await;
                crate::attack::attack(ctx, socket, attack).await;
            }));
        }
        {
            let ctx = Arc::clone(ctx);
            let at = self.plan.connection_flood;
            side.push(tokio::spawn(async move {
                tokio::time::sleep_until((start + at).into()).await;
                crate::flood::connection_flood(ctx).await;
            }));
        }
        for at in self.plan.polls.clone() {
            let ctx = Arc::clone(ctx);
            let registry = Arc::clone(&self.registry);
            let mut rng = self.rng.fork();
            side.push(tokio::spawn(async move {
                tokio::time::sleep_until((start + at).into()).await;
                let live: Vec<Arc<Track>> = registry
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .filter(|t| t.plan.phase == Phase::Storm && !t.progress().ended)
                    .cloned()
                    .collect();
                let Some(track) = rng.pick(&live) else {
                    return;
                };
                let after = rng.range(0, track.progress().last_seq);
                let limit = rng.range_u32(1, 50);
                let client = ctx.client(rng.range_usize(0, CONNECTIONS));
                let result = track::poll_events(client, track, after, limit)
                    .await
                    .map(|_| ());
                ctx.tally().verify(Check::Liveness, Some(track.id), result);
            }));
        }
        self.join_submits(tasks).await;
        for task in side {
            let _ = task.await;
        }
        let tracks = self.phase_tracks(Phase::Storm);
        self.await_ended(ctx, &tracks, STORM_DEADLINE).await;
        self.absorb(ctx);
    }

    /// Runs the daemon-kill phase on `ctx`'s daemon; returns the context of
    /// the restarted one.
    pub(super) async fn kill_phase(&mut self, ctx: Arc<Ctx>) -> anyhow::Result<Arc<Ctx>> {
        // Slurm runs stream when the daemon dies.
        self.start_slurm_kill_runs(&ctx).await;
        let start = Instant::now();
        let tasks = self.submit(&ctx, self.plan.kill_runs.clone(), start);
        self.join_submits(tasks).await;
        tokio::time::sleep_until((start + self.plan.kill_after).into()).await;
        // What Events shows just before the kill is acknowledged too.
        for (i, track) in self.phase_tracks(Phase::DaemonKill).iter().enumerate() {
            let result = track::poll_events(ctx.client(i), track, 0, 10_000)
                .await
                .map(|_| ());
            self.tally.verify(Check::Liveness, Some(track.id), result);
        }
        // Runs in worktrees of their own are live when the daemon dies.
        self.start_worktree_runs(&ctx).await?;
        // A gc of the fodder is under way when the daemon dies.
        self.start_gc(&ctx).await;
        let killed_at = Timestamp::now();
        self.daemon.kill9()?;
        self.kills.push((ctx.incarnation, killed_at));
        self.faults.record(FaultKind::DaemonKill, true);
        self.absorb(&ctx);
        drop(ctx);
        self.check_orphans().await;
        let ctx = self.start_daemon().await.context("restart after SIGKILL")?;
        let unfinished: Vec<Arc<Track>> = self
            .tracks()
            .into_iter()
            .filter(|t| !t.progress().ended)
            .collect();
        self.await_ended(&ctx, &unfinished, RESTART_DEADLINE).await;
        self.diff_worktree_runs(&ctx).await;
        self.await_slurm_kill_runs(&ctx).await;
        Ok(ctx)
    }

    /// After a daemon SIGKILL its workers must die with it.
    async fn check_orphans(&mut self) {
        let socket = self.dir.worker_socket();
        let deadline = Instant::now() + ORPHAN_GRACE;
        let result = loop {
            let left = procfs::workers_of(&socket);
            if left.is_empty() {
                break Ok(());
            }
            if Instant::now() > deadline {
                break Err(format!(
                    "workers outlived the SIGKILLed daemon by {} ms: {left:?}",
                    ORPHAN_GRACE.as_millis()
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        self.tally.verify(Check::Group, None, result);
    }

    /// Runs stream while the disk is full, then after it is freed.
    pub(super) async fn disk_phase(&mut self, ctx: &Arc<Ctx>) -> anyhow::Result<()> {
        let start = Instant::now();
        let tasks = self.submit(ctx, self.plan.disk_runs.clone(), start);
        self.join_submits(tasks).await;
        for track in self.phase_tracks(Phase::DiskFull) {
            track
                .wait_for(Duration::from_secs(20), |p| p.chunks >= 2 || p.ended)
                .await;
        }
        let mark = self.daemon.log_mark();
        let filler = if self.disk_real {
            let root = self.dir.root().to_owned();
            Some(
                tokio::task::spawn_blocking(move || disk::fill(&root))
                    .await?
                    .context("cannot fill the tmpfs")?,
            )
        } else {
            None
        };
        let filled_at = Instant::now();
        self.fill_tx.send_replace(Some(filled_at));
        // redb reuses free pages of its file first: the fault lands when a
        // commit fails, which the daemon logs.
        let bit = match filler {
            Some(_) => self.first_failed_commit(mark).await,
            None => Some(Duration::ZERO),
        };
        self.faults.record(FaultKind::DiskFull, bit.is_some());
        let runs = self.while_full(ctx).await;
        tokio::time::sleep(self.plan.hold_full).await;
        let filled_bytes = filler.as_ref().map_or(0, |f| f.bytes);
        if let Some(filler) = filler {
            filler.release().context("cannot delete the filler file")?;
        }
        let held = filled_at.elapsed();
        let refused = self.join_while_full(runs).await;
        let tracks = self.phase_tracks(Phase::DiskFull);
        self.await_ended(ctx, &tracks, DISK_DEADLINE).await;
        let log = self.daemon.log_since(mark);
        let failed_commits = log.lines().filter(|l| l.contains(COMMIT_FAILED)).count();
        self.disk_note = if self.disk_real {
            let bite = bit.map_or_else(
                || format!("no commit failed within {} s", BITE_TIMEOUT.as_secs()),
                |after| format!("first commit failed after {:.1} s", after.as_secs_f64()),
            );
            format!(
                "tmpfs of {} MiB, filled with {} and held full {:.1} s; {bite}; {failed_commits} failed commits in all; {refused} of {} runs made while full refused",
                self.cfg.tmpfs_mib,
                mib(filled_bytes),
                held.as_secs_f64(),
                self.plan.runs_while_full
            )
        } else {
            format!(
                "{}: runs streamed for {:.1} s without disk pressure",
                self.disk_note,
                self.plan.hold_full.as_secs_f64()
            )
        };
        Ok(())
    }

    /// Waits (up to [`BITE_TIMEOUT`]) until the daemon logs a failed
    /// commit after `mark`; returns how long that took.
    async fn first_failed_commit(&self, mark: u64) -> Option<Duration> {
        let start = Instant::now();
        while start.elapsed() < BITE_TIMEOUT {
            if self.daemon.log_since(mark).contains(COMMIT_FAILED) {
                return Some(start.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// While the disk is full: starts `Run`s in the background (they may
    /// stall until the disk is freed, or be refused) and checks that `Ping`
    /// is answered. Returns the run tasks.
    async fn while_full(&mut self, ctx: &Arc<Ctx>) -> Vec<JoinHandle<Result<(), String>>> {
        let mut tasks = Vec::new();
        for n in 0..self.plan.runs_while_full {
            let mut plan = RunPlan {
                phase: Phase::DiskFull,
                spec: self.plan.clean_specs[0].clone(),
                reference: Some(0),
                fault: None,
                action: None,
                flood_target: false,
                submit_at: Duration::ZERO,
            };
            plan.spec.label = Some(format!("while-full-{n}"));
            let ctx = Arc::clone(ctx);
            let registry = Arc::clone(&self.registry);
            let timeout = self.plan.hold_full + DISK_DEADLINE;
            tasks.push(tokio::spawn(async move {
                submit_one(&ctx, &registry, plan, n as usize, timeout).await
            }));
        }
        let ping =
            tokio::time::timeout(REQUEST_TIMEOUT, ctx.client(1).request(ControlRequest::Ping))
                .await;
        let result = match ping {
            Ok(Ok(ControlResponse::Pong)) => Ok(()),
            other => Err(format!("Ping while the disk was full: {other:?}")),
        };
        self.tally.verify(Check::Liveness, None, result);
        tasks
    }

    /// Joins the runs started while the disk was full: each must have been
    /// answered (accepted, or refused as not saved). Returns how many were
    /// refused.
    async fn join_while_full(&mut self, tasks: Vec<JoinHandle<Result<(), String>>>) -> u32 {
        let mut refused = 0;
        for task in tasks {
            match task.await {
                Ok(Ok(())) => self.tally.count(Check::Liveness, 1),
                Ok(Err(err)) if err.contains("no answer") => self.tally.fail(
                    Check::Liveness,
                    None,
                    format!("a Run made while the disk was full: {err}"),
                ),
                Ok(Err(_)) => {
                    refused += 1;
                    self.tally.count(Check::Liveness, 1);
                }
                Err(err) => {
                    self.tally
                        .fail(Check::Liveness, None, format!("run task failed: {err}"));
                }
            }
        }
        refused
    }
}
