//! Injecting faults into runs: signals to workers, stop requests and
//! cancellation floods (bad connections are in `attack`).
//!
//! Signals go through a pidfd opened on the pid from `session.started`,
//! after checking that the process's arguments still name the session: a
//! recycled pid is never signalled.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use protocol::control::{ControlError, ControlRequest, ControlResponse, ErrorKind};
use protocol::{SessionId, Timestamp};
use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open, pidfd_send_signal};
use studio_client::{Client, ClientError};
use supervisor::paths::DataDir;
use tokio::sync::watch;

use crate::check::{Check, Tally};
use crate::plan::{Action, ActionKind, FaultKind, Trigger};
use crate::procfs;
use crate::report::FaultCounts;
use crate::track::{ActionOutcome, REQUEST_TIMEOUT, StopKind, Track};

/// How long an action waits for its trigger.
const TRIGGER_TIMEOUT: Duration = Duration::from_secs(60);

/// What fault tasks of one daemon incarnation share.
pub struct Ctx {
    /// Connections to the daemon (requests are spread over them).
    pub clients: Vec<Client>,
    /// The daemon incarnation these connections reach.
    pub incarnation: u32,
    /// The data dir.
    pub dir: DataDir,
    /// The client token, for raw handshakes.
    pub token: String,
    /// Set to the time the disk was filled.
    pub filled: watch::Receiver<Option<Instant>>,
    tally: Mutex<Tally>,
    faults: Mutex<FaultCounts>,
}

impl Ctx {
    /// A context for daemon `incarnation` reached through `clients`.
    pub fn new(
        clients: Vec<Client>,
        incarnation: u32,
        dir: DataDir,
        filled: watch::Receiver<Option<Instant>>,
        round: u32,
    ) -> anyhow::Result<Ctx> {
        anyhow::ensure!(!clients.is_empty(), "no client connection");
        let token = std::fs::read_to_string(dir.client_token())?
            .trim()
            .to_owned();
        Ok(Ctx {
            clients,
            incarnation,
            dir,
            token,
            filled,
            tally: Mutex::new(Tally::new(round)),
            faults: Mutex::new(FaultCounts::default()),
        })
    }

    /// Connection number `i` (wrapping).
    pub fn client(&self, i: usize) -> &Client {
        &self.clients[i % self.clients.len()]
    }

    /// Checks found by the fault tasks.
    pub fn tally(&self) -> MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Faults injected by the fault tasks.
    pub fn faults(&self) -> MutexGuard<'_, FaultCounts> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Sends `signal` to the worker of `track`; returns when it was sent.
fn signal_worker(track: &Track, signal: Signal) -> Result<Timestamp, String> {
    let progress = track.progress();
    if progress.ended {
        return Err("the session had already ended".to_owned());
    }
    let pid = progress.pid.ok_or("no worker pid seen yet")?;
    let raw = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or("invalid pid")?;
    let fd = pidfd_open(raw, PidfdFlags::empty())
        .map_err(|err| format!("worker {pid} is gone ({err})"))?;
    if !procfs::has_arg(pid, &track.id.to_string()) {
        return Err(format!("pid {pid} is no longer this session's worker"));
    }
    let at = Timestamp::now();
    pidfd_send_signal(&fd, signal).map_err(|err| format!("signal to {pid} failed: {err}"))?;
    Ok(at)
}

/// Whether an error answer to a stop request just means "already ended".
fn already_ended(err: &ClientError) -> bool {
    matches!(
        err,
        ClientError::Daemon(ControlError {
            kind: ErrorKind::Conflict,
            ..
        })
    )
}

/// Sends a `Cancel` or `Kill` for `track`, noting when; returns when it
/// was sent. Unexpected answers are recorded on the track.
pub async fn stop_request(client: &Client, track: &Track, kind: StopKind) -> Timestamp {
    let at = track.note_stop(kind);
    let request = match kind {
        StopKind::Cancel => ControlRequest::Cancel { session: track.id },
        StopKind::Kill => ControlRequest::Kill { session: track.id },
    };
    let answer = tokio::time::timeout(REQUEST_TIMEOUT, client.request(request)).await;
    let problem = match answer {
        Ok(Ok(ControlResponse::Ok)) => {
            if kind == StopKind::Cancel {
                track.note_cancel_acknowledged();
            }
            None
        }
        Ok(Ok(other)) => Some(format!("{kind:?} answered {other:?}")),
        Ok(Err(err)) if already_ended(&err) => None,
        Ok(Err(err)) => Some(format!("{kind:?} failed: {err}")),
        Err(_) => Some(format!("{kind:?} got no answer within 10s")),
    };
    if let Some(problem) = problem {
        track.seen().bad_answers.push(problem);
    }
    at
}

/// Waits for `action`'s trigger, then strikes; records the outcome on the
/// track and, for harness faults on clean runs, in the fault counts.
pub async fn run_action(ctx: Arc<Ctx>, track: Arc<Track>, action: Action) {
    let outcome = strike(&ctx, &track, action).await;
    let landed = matches!(outcome, ActionOutcome::Landed(_));
    track.set_action(outcome);
    if track.plan.reference.is_some()
        && let Some(kind) = track.plan.fault
    {
        ctx.faults().record(kind, landed);
    }
}

/// Waits for the trigger of `action`, then carries it out.
async fn strike(ctx: &Ctx, track: &Track, action: Action) -> ActionOutcome {
    match action.trigger {
        Trigger::Chunks { chunks, delay } => {
            let progress = track
                .wait_for(TRIGGER_TIMEOUT, |p| p.chunks >= chunks || p.ended)
                .await;
            if progress.chunks < chunks {
                return ActionOutcome::Missed(format!(
                    "the run ended after {} chunks, before chunk {chunks}",
                    progress.chunks
                ));
            }
            tokio::time::sleep(delay).await;
        }
        Trigger::AfterFill { delay } => {
            let mut filled = ctx.filled.clone();
            let waited = tokio::time::timeout(TRIGGER_TIMEOUT, async {
                filled
                    .wait_for(Option::is_some)
                    .await
                    .ok()
                    .and_then(|at| *at)
            })
            .await;
            let Ok(Some(at)) = waited else {
                return ActionOutcome::Missed("the disk was never filled".to_owned());
            };
            tokio::time::sleep_until((at + delay).into()).await;
        }
    }
    if track.progress().ended {
        return ActionOutcome::Missed("the run ended before the fault struck".to_owned());
    }
    let client = ctx.client(0);
    let stop_then = |signal_at: Timestamp| ActionOutcome::Landed(signal_at);
    match action.kind {
        ActionKind::SigKill => match signal_worker(track, Signal::KILL) {
            Ok(at) => ActionOutcome::Landed(at),
            Err(why) => ActionOutcome::Missed(why),
        },
        ActionKind::StopOnly => match signal_worker(track, Signal::STOP) {
            Ok(at) => ActionOutcome::Landed(at),
            Err(why) => ActionOutcome::Missed(why),
        },
        ActionKind::StopThenKill | ActionKind::StopThenCancel => {
            let at = match signal_worker(track, Signal::STOP) {
                Ok(at) => at,
                Err(why) => return ActionOutcome::Missed(why),
            };
            tokio::time::sleep(action.pause).await;
            let kind = if action.kind == ActionKind::StopThenKill {
                StopKind::Kill
            } else {
                StopKind::Cancel
            };
            stop_request(client, track, kind).await;
            stop_then(at)
        }
        ActionKind::Cancel => {
            ActionOutcome::Landed(stop_request(client, track, StopKind::Cancel).await)
        }
        ActionKind::Kill => {
            ActionOutcome::Landed(stop_request(client, track, StopKind::Kill).await)
        }
    }
}

/// Sends `copies` concurrent `Cancel`s to every target, one to each of
/// `ended` (expecting "already ended") and one to an unknown session
/// (expecting "not found").
pub async fn cancel_flood(
    ctx: Arc<Ctx>,
    targets: Vec<Arc<Track>>,
    ended: Vec<SessionId>,
    copies: u32,
) {
    let mut tasks = Vec::new();
    for (i, track) in targets.into_iter().enumerate() {
        let at = track.note_stop(StopKind::Cancel);
        track.set_action(ActionOutcome::Landed(at));
        for copy in 0..copies {
            let ctx = Arc::clone(&ctx);
            let track = Arc::clone(&track);
            tasks.push(tokio::spawn(async move {
                stop_request(ctx.client(i + copy as usize), &track, StopKind::Cancel).await;
            }));
        }
    }
    let unknown = SessionId::new();
    let mut others: Vec<(SessionId, ErrorKind)> = ended
        .into_iter()
        .map(|s| (s, ErrorKind::Conflict))
        .collect();
    others.push((unknown, ErrorKind::NotFound));
    for (i, (session, expected)) in others.into_iter().enumerate() {
        let ctx = Arc::clone(&ctx);
        tasks.push(tokio::spawn(async move {
            let request = ControlRequest::Cancel { session };
            let answer =
                tokio::time::timeout(REQUEST_TIMEOUT, ctx.client(i).request(request)).await;
            let result = match answer {
                Ok(Err(ClientError::Daemon(err))) if err.kind == expected => Ok(()),
                Ok(other) => Err(format!(
                    "Cancel of {session} should fail with {expected:?}, got {other:?}"
                )),
                Err(_) => Err(format!("Cancel of {session} got no answer within 10s")),
            };
            ctx.tally().verify(Check::Streams, Some(session), result);
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    ctx.faults().record(FaultKind::CancelFlood, true);
}
