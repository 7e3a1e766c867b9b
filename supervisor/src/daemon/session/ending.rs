//! Ending: cancel (cooperative, then forced), kill, and the one terminal
//! event, recorded once the worker exited, nothing of the session is
//! left and its socket is drained.

use protocol::control::{ControlError, ErrorKind};
use protocol::event::{EventKind, StopReason};
use protocol::worker::{ToWorker, TurnOutcome};
use ractor::ActorRef;

use super::{EXIT_TIMEOUT, GROUP_EMPTY_TIMEOUT, Opening, Phase, SessionMsg, SessionState, Stop};
use crate::daemon::approvals::ApprovalsMsg;
use crate::daemon::sequencer::AppendError;
use crate::daemon::{containment, worker_process};

/// How long the worker's last stderr lines are waited for once it exited
/// (a process it left may hold the pipe open).
const STDERR_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

impl SessionState {
    pub(super) fn cancel(&mut self, myself: &ActorRef<SessionMsg>, reason: StopReason) {
        if self.ending.stop.is_some() || self.ending.done.is_some() {
            return;
        }
        if !self.is_connected() {
            // Nothing can be cancelled cooperatively before the worker is up.
            self.ending.stop = Some(Stop::Cancel {
                reason,
                forced: true,
            });
            self.kill_group();
            return;
        }
        self.ending.stop = Some(Stop::Cancel {
            reason,
            forced: false,
        });
        if self.chat.opening != Opening::Run && !self.chat.in_turn {
            // An idle interactive session has no turn to cancel: it just ends.
            self.ending.done = Some(TurnOutcome::Cancelled);
            self.send(ToWorker::Shutdown);
            drop(myself.send_after(EXIT_TIMEOUT, || SessionMsg::ExitTimeout));
            return;
        }
        self.send(ToWorker::Cancel);
        let grace = self.shared.config.cancel_grace;
        drop(myself.send_after(grace, || SessionMsg::GraceExpired));
    }

    /// Records a stronger stop request; a kill overrides a cancel.
    pub(super) fn request_stop(&mut self, stop: Stop) {
        match self.ending.stop {
            Some(Stop::Kill(_) | Stop::Interrupt) => {}
            _ => self.ending.stop = Some(stop),
        }
    }

    pub(super) fn kill_group(&self) {
        if let Some(processes) = &self.worker.processes {
            processes.kill();
        }
        if let Some(job) = &self.worker.job {
            job.kill();
        }
    }

    /// Records the terminal event once the process is gone and its socket
    /// drained, answers waiting clients, and stops the actor.
    pub(super) async fn finish_if_over(&mut self, myself: &ActorRef<SessionMsg>) {
        if self.phase == Phase::Finished || self.worker.exit.is_none() || !self.drained() {
            return;
        }
        self.phase = Phase::Finished;
        // The terminal event says nothing of the session is left running.
        if let Some(processes) = &self.worker.processes {
            processes.wait_empty(GROUP_EMPTY_TIMEOUT).await;
            // Nothing is left to use its commands' private temp dir; its
            // removal need not hold up the terminal event.
            tokio::spawn(containment::remove_private_tmp(self.id));
        }
        if let Some(job) = &self.worker.job {
            job.wait_gone(GROUP_EMPTY_TIMEOUT).await;
        }
        if let Some(stderr) = self.worker.stderr.take() {
            self.worker.last_stderr = stderr.last_lines(STDERR_WAIT).await;
        }
        if let Some(stats) = self.worker.stats {
            self.append(EventKind::WorkerStats {
                rss_bytes: stats.rss_bytes,
                peak_rss_bytes: self.worker.peak_rss,
                cpu_ms: stats.cpu_ms,
            });
        }
        self.record_changes().await;
        let terminal = self.terminal_event();
        if terminal == EventKind::SessionCompleted {
            self.record_checks();
        }
        let result = match self.sequencer.append_terminal(terminal).await {
            Ok(_) | Err(AppendError::Ended) => Ok(()),
            Err(err) => {
                tracing::error!(session = %self.id, %err, "cannot record the terminal event");
                Err(ControlError::new(ErrorKind::Internal, err.to_string()))
            }
        };
        for waiter in self.ending.waiters.drain(..) {
            let _ = waiter.send(result.clone());
        }
        let _ = self
            .shared
            .approvals
            .cast(ApprovalsMsg::SessionEnded(self.id));
        myself.stop(None);
    }

    /// The one terminal event that describes how this session ended.
    pub(super) fn terminal_event(&self) -> EventKind {
        if let Some(error) = &self.ending.failure {
            return EventKind::SessionFailed {
                error: error.clone(),
            };
        }
        match (self.ending.stop, &self.ending.done) {
            (Some(Stop::Kill(reason)), _) => EventKind::SessionKilled { reason },
            (Some(Stop::Interrupt), _) => EventKind::SessionInterrupted,
            (_, Some(TurnOutcome::Completed)) => EventKind::SessionCompleted,
            (_, Some(TurnOutcome::Failed { error })) => EventKind::SessionFailed {
                error: error.clone(),
            },
            (Some(Stop::Cancel { reason, .. }), Some(TurnOutcome::Cancelled)) => {
                EventKind::SessionCancelled {
                    reason,
                    forced: false,
                }
            }
            (
                Some(Stop::Cancel {
                    reason,
                    forced: true,
                }),
                None,
            ) => EventKind::SessionCancelled {
                reason,
                forced: true,
            },
            (None, Some(TurnOutcome::Cancelled)) => EventKind::SessionCancelled {
                reason: StopReason::User,
                forced: false,
            },
            (Some(Stop::Cancel { forced: false, .. }) | None, None) => {
                let exit = self.worker.exit.unwrap_or_default();
                let mut detail = format!("worker {}", worker_process::describe_exit(exit));
                if let Some(problem) = &self.ending.problem {
                    detail.push_str(": ");
                    detail.push_str(problem);
                }
                if !self.worker.last_stderr.is_empty() {
                    detail.push_str("\nits last words on stderr:\n");
                    detail.push_str(&self.worker.last_stderr.join("\n"));
                }
                EventKind::SessionCrashed { exit, detail }
            }
        }
    }
}
