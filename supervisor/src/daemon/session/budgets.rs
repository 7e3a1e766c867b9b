//! Budgets and figures: the live figures `ps` reads, sampling the memory
//! of every process of the session, the kernel's OOM kills, and the
//! memory, wall and idle budgets checked on each tick. Time a tool call
//! spends waiting for a person ([`PersonWait`]) counts against neither the
//! wall nor the idle budget: the agent is not working then.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use protocol::event::{BudgetKind, EventKind, StopReason};
use ractor::ActorRef;

use super::{Opening, SessionMsg, SessionState, Stop};
use crate::daemon::checks::{CommandRan, Judged, WorkerChecks};
use crate::daemon::worker_process;
use crate::daemon::worker_process::ProcStats;

/// The time the session's calls have waited for a person (in the
/// approvals inbox), which the wall and idle budgets leave out.
#[derive(Debug, Default)]
pub(crate) struct PersonWait {
    /// Calls waiting now.
    waiting: HashSet<String>,
    /// Since when at least one has waited.
    since: Option<Instant>,
    /// Waits that ended.
    total: Duration,
}

impl PersonWait {
    /// Call `call_id` waits for a person from now.
    pub(super) fn park(&mut self, call_id: String) {
        if self.waiting.is_empty() {
            self.since = Some(Instant::now());
        }
        self.waiting.insert(call_id);
    }

    /// Call `call_id` was decided (a no-op if it never waited).
    pub(super) fn settle(&mut self, call_id: &str) {
        if self.waiting.remove(call_id)
            && self.waiting.is_empty()
            && let Some(since) = self.since.take()
        {
            self.total += since.elapsed();
        }
    }

    /// Whether a call waits for a person now.
    pub(super) fn is_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// All the time spent waiting so far.
    pub(super) fn waited(&self) -> Duration {
        self.total + self.since.map_or(Duration::ZERO, |since| since.elapsed())
    }
}

/// Figures of a live session that `ps` reads without asking the actor.
#[derive(Debug, Default)]
pub(crate) struct LiveStats {
    pub(super) pid: AtomicU32,
    pub(super) rss_bytes: AtomicU64,
    pub(super) last_event_ms: AtomicU64,
    /// The last answer, kept only when the run's answer is checked.
    answer: std::sync::Mutex<Option<String>>,
    /// What its command checks and judges did (`check.command`,
    /// `check.judge`), in order.
    ran: std::sync::Mutex<WorkerChecks>,
    /// The cluster job its worker runs in, once submitted.
    pub(super) job: std::sync::OnceLock<String>,
    /// What a worker on another machine last said it uses (`Usage`):
    /// resident bytes and CPU milliseconds; 0 before it said.
    reported_rss: AtomicU64,
    reported_cpu_ms: AtomicU64,
}

impl LiveStats {
    /// Worker pid, if running.
    pub(crate) fn pid(&self) -> Option<u32> {
        Some(self.pid.load(Ordering::Relaxed)).filter(|p| *p != 0)
    }

    /// Keeps what a worker on another machine says it uses.
    pub(super) fn reported(&self, rss_bytes: u64, cpu_ms: u64) {
        self.reported_cpu_ms.store(cpu_ms, Ordering::Relaxed);
        self.reported_rss.store(rss_bytes, Ordering::Relaxed);
    }

    /// What a worker on another machine last said it uses, once it did.
    fn last_report(&self) -> Option<ProcStats> {
        let rss_bytes = self.reported_rss.load(Ordering::Relaxed);
        (rss_bytes != 0).then(|| ProcStats {
            rss_bytes,
            cpu_ms: self.reported_cpu_ms.load(Ordering::Relaxed),
        })
    }

    /// The cluster job its worker runs in, if any.
    pub(crate) fn job(&self) -> Option<String> {
        self.job.get().cloned()
    }

    /// Last sampled RSS, if any.
    pub(crate) fn rss_bytes(&self) -> Option<u64> {
        Some(self.rss_bytes.load(Ordering::Relaxed)).filter(|r| *r != 0)
    }

    /// Keep the last answer from now on (its checks need it).
    pub(super) fn keep_answer(&self) {
        *self.answer.lock().unwrap_or_else(|p| p.into_inner()) = Some(String::new());
    }

    /// A new answer: kept if asked for.
    pub(super) fn answered(&self, text: &str) {
        if let Some(kept) = self
            .answer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            text.clone_into(kept);
        }
    }

    /// A command check ran, or a judge said something.
    pub(super) fn ran(&self, kind: &EventKind) {
        let mut ran = self.ran.lock().unwrap_or_else(|p| p.into_inner());
        match kind {
            EventKind::CheckCommandRan {
                command,
                exit_code,
                output,
            } => ran.commands.push(CommandRan {
                command: command.clone(),
                exit_code: *exit_code,
                output: output.clone(),
            }),
            EventKind::CheckJudged {
                agent,
                score,
                reason,
                ..
            } => ran.judges.push(Judged {
                agent: agent.clone(),
                score: *score,
                reason: reason.clone(),
            }),
            _ => {}
        }
    }

    /// What the command checks and judges did.
    pub(super) fn checks_ran(&self) -> WorkerChecks {
        self.ran.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The last answer kept (empty if none, or none was kept).
    pub(super) fn last_answer(&self) -> String {
        self.answer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_default()
    }

    pub(crate) fn touch(&self) {
        self.last_event_ms.store(monotonic_ms(), Ordering::Relaxed);
    }

    pub(super) fn idle_for(&self) -> Duration {
        Duration::from_millis(
            monotonic_ms().saturating_sub(self.last_event_ms.load(Ordering::Relaxed)),
        )
    }
}

pub(super) fn monotonic_ms() -> u64 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl SessionState {
    /// Samples the memory of every process of the session and the
    /// worker's CPU time (as a worker on another machine reports them).
    pub(super) fn sample(&mut self) {
        let stats = match (&self.worker.processes, self.live.pid()) {
            (Some(processes), Some(pid)) => {
                worker_process::proc_stats(pid).map(|worker| ProcStats {
                    rss_bytes: processes.rss_bytes().max(worker.rss_bytes),
                    cpu_ms: worker.cpu_ms,
                })
            }
            // A worker on another machine says what it uses.
            (None, _) if self.worker.job.is_some() => self.live.last_report(),
            _ => None,
        };
        if let Some(stats) = stats {
            self.live
                .rss_bytes
                .store(stats.rss_bytes, Ordering::Relaxed);
            self.worker.peak_rss = self.worker.peak_rss.max(stats.rss_bytes);
            self.worker.stats = Some(stats);
        }
    }

    /// Whether the kernel killed a process of the session for memory: its
    /// cgroup's cap is the memory budget's backstop. Records the budget as
    /// exceeded and kills the session.
    pub(super) fn check_oom(&mut self) -> bool {
        let Some(processes) = &self.worker.processes else {
            return false;
        };
        let Some(limit) = self.record.budgets.max_memory_mib else {
            return false;
        };
        // A turn that finished is not undone by a child the kernel killed.
        if self.ending.stop.is_some() || self.ending.done.is_some() || processes.oom_kills() == 0 {
            return false;
        }
        let peak = processes.peak_bytes().unwrap_or(self.worker.peak_rss);
        let observed = peak.max(self.worker.peak_rss) as f64 / (1024.0 * 1024.0);
        self.exceeded(BudgetKind::Memory, limit as f64, observed);
        self.request_stop(Stop::Kill(StopReason::Budget));
        self.kill_group();
        true
    }

    pub(super) fn tick(&mut self, myself: &ActorRef<SessionMsg>) {
        if self.worker.exit.is_some() {
            return;
        }
        self.sample();
        if self.ending.stop.is_some() || self.ending.done.is_some() || self.check_oom() {
            return;
        }
        // Its agent's day or its group spent a cap (maybe through another
        // session): a run, or a chat in a turn, stops; an idle chat's next
        // turn is refused instead.
        let working = self.chat.opening == Opening::Run || self.chat.in_turn;
        if working && let Some(over) = self.shared.ledger.over(&self.caps) {
            self.exceeded(over.budget, over.limit, over.observed);
            return self.cancel(myself, StopReason::Budget);
        }
        let budgets = self.record.budgets.clone();
        if let (Some(limit), Some(stats)) = (budgets.max_memory_mib, self.worker.stats) {
            let used_mib = stats.rss_bytes as f64 / (1024.0 * 1024.0);
            if used_mib > limit as f64 {
                self.exceeded(BudgetKind::Memory, limit as f64, used_mib);
                self.request_stop(Stop::Kill(StopReason::Budget));
                self.kill_group();
                return;
            }
        }
        if let Some(limit) = budgets.max_wall_secs {
            let used = self
                .started
                .elapsed()
                .saturating_sub(self.person.waited())
                .as_secs_f64();
            if used > limit as f64 {
                self.exceeded(BudgetKind::WallTime, limit as f64, used);
                return self.cancel(myself, StopReason::Budget);
            }
        }
        // An idle interactive session waits for a person, not for the model.
        let waiting_for_user =
            (self.chat.opening != Opening::Run && !self.chat.in_turn) || self.person.is_waiting();
        if let Some(limit) = budgets.max_idle_secs.filter(|_| !waiting_for_user) {
            let idle = self.live.idle_for().as_secs_f64();
            if idle > limit as f64 {
                self.exceeded(BudgetKind::Idle, limit as f64, idle);
                self.cancel(myself, StopReason::Budget);
            }
        }
    }

    pub(super) fn exceeded(&self, budget: BudgetKind, limit: f64, observed: f64) {
        tracing::info!(session = %self.id, ?budget, limit, observed, "budget exceeded");
        self.append(EventKind::BudgetExceeded {
            budget,
            limit,
            observed,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_a_person_add_up_and_overlapping_ones_count_once() {
        let mut person = PersonWait::default();
        assert!(!person.is_waiting());
        assert_eq!(person.waited(), Duration::ZERO);
        person.park("a".into());
        person.park("b".into());
        std::thread::sleep(Duration::from_millis(30));
        person.settle("a");
        assert!(person.is_waiting(), "b still waits");
        person.settle("b");
        let once = person.waited();
        assert!(once >= Duration::from_millis(30), "{once:?}");
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(
            person.waited(),
            once,
            "no call waits: the clock is not paused"
        );
        person.settle("never parked");
        assert_eq!(person.waited(), once);
    }
}
