//! A session whose worker runs as a cluster job (`Launcher::Slurm`): the
//! daemon expects a remote worker with the session's token, submits the
//! job (`slurm::submit`), records `session.placed` with its id, and
//! watches it until it leaves the queue (`Shared::jobs`, the daemon's
//! one `slurm::queue::JobWatcher`). How the job
//! ended says why the worker did, where the worker could not: a job
//! cancelled by anyone else (`scancel` by an admin, a preemption) is the
//! session killed by the cluster, a failed node is the worker lost.

use protocol::event::{BudgetKind, EventKind, StopReason};
use protocol::launch::Launcher;
use ractor::ActorRef;

use super::{SessionMsg, SessionState, Stop};
use crate::daemon::slurm::queue::JobEnd;
use crate::daemon::slurm::{self, Submission};

impl SessionState {
    /// Submits the worker as a Slurm job in `partition`, presenting
    /// `token` when it dials back; `false` when it could not (the session
    /// then ends with `session.failed`).
    pub(super) async fn start_on_slurm(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        token: String,
        partition: Option<String>,
    ) -> bool {
        let Some(offered) = self.shared.remote.get() else {
            let why = "a Slurm job's worker dials the daemon back: start the daemon with --worker-listen HOST:PORT";
            self.fail_to_start(myself, why.to_owned()).await;
            return false;
        };
        let workdir = self.record.agent.workspace.clone().unwrap_or_default();
        let budgets = &self.record.budgets;
        let submission = Submission {
            session: self.id,
            agent: &self.record.agent.name,
            partition: partition.as_deref(),
            worker_bin: &self.shared.config.worker_bin,
            address: &offered.address,
            fingerprint: &offered.fingerprint,
            token: &token,
            memory_mib: budgets.max_memory_mib,
            wall_secs: budgets.max_wall_secs,
            workdir: std::path::Path::new(&workdir),
        };
        // Expected before the job can run, so only its worker is taken.
        self.shared
            .workers
            .expect_remote(self.id, token.clone(), myself.get_derived());
        let job = match slurm::submit(&submission).await {
            Ok(job) => job,
            Err(err) => {
                self.shared.workers.forget(self.id);
                self.fail_to_start(myself, err.to_string()).await;
                return false;
            }
        };
        tracing::info!(session = %self.id, job = job.id, "worker submitted to Slurm");
        self.append(EventKind::SessionPlaced {
            launcher: Launcher::Slurm { partition },
            job: job.id.clone(),
        });
        let actor = myself.clone();
        let id = job.id.clone();
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let end = shared.jobs.watch(id).await;
            let _ = actor.cast(SessionMsg::JobEnded(Box::new(end)));
        });
        let _ = self.live.job.set(job.id.clone());
        self.worker.job = Some(job);
        // It may wait in the queue first; past the limit the session
        // ends, and the job with it.
        self.worker.connect_within = self.shared.config.pending_limit;
        true
    }

    /// The session's job left the queue: what that says of the session,
    /// then the worker's exit as the job's script ended.
    pub(super) fn job_ended(&mut self, myself: &ActorRef<SessionMsg>, end: JobEnd) {
        tracing::info!(session = %self.id, state = end.state, reason = end.reason, "the session's job ended");
        let ours = self.worker.job.as_ref().is_some_and(slurm::Job::killed);
        match end.state.as_str() {
            // Not asked by the daemon: someone else's `scancel`.
            "CANCELLED" | "PREEMPTED" if !ours && self.ending.stop.is_none() => {
                self.request_stop(Stop::Kill(StopReason::Cluster));
            }
            "NODE_FAIL" | "BOOT_FAIL" => {
                self.ending.problem = Some(format!(
                    "its node failed (Slurm: {}, {})",
                    end.state, end.reason
                ));
            }
            // Its `--mem` (the budget with headroom) caught it first.
            "OUT_OF_MEMORY" if self.ending.stop.is_none() => {
                if let Some(limit) = self.record.budgets.max_memory_mib {
                    let peak = self.worker.peak_rss as f64 / (1024.0 * 1024.0);
                    self.exceeded(BudgetKind::Memory, limit as f64, peak.max(limit as f64));
                    self.request_stop(Stop::Kill(StopReason::Budget));
                } else {
                    self.ending.problem = Some("Slurm ended its job: OUT_OF_MEMORY".to_owned());
                }
            }
            "TIMEOUT" | "OUT_OF_MEMORY" | "DEADLINE" => {
                self.ending.problem = Some(format!("Slurm ended its job: {}", end.state));
            }
            _ => {}
        }
        let _ = myself.cast(SessionMsg::Exited(end.exit));
    }
}
