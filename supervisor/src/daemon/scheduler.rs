//! The Scheduler actor: queues runs and keeps at most N live at once.
//!
//! It is the parent of every Session actor. Its handlers cannot fail (no
//! `?`): in ractor an exiting parent takes its children with it. When a
//! Session actor ends in any way, the Scheduler makes sure the session has
//! a terminal event, frees the slot and starts the next queued run.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use protocol::approval::{AskPolicy, RuleMatch};
use protocol::control::{ControlError, ErrorKind};
use protocol::event::{EventKind, StopReason};
use protocol::{SessionId, Timestamp};
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use super::Shared;
use super::sequencer::Sequencer;
use super::session::{LiveStats, Opening, SessionActor, SessionArgs, SessionMsg, StopReply};
use super::spend_caps::{Crossing, SessionCaps};
use crate::store::{DaemonLimits, SessionRecord};

/// A run accepted and recorded (seq 1, `run.queued`) but not started.
pub(crate) struct QueuedRun {
    pub(crate) record: SessionRecord,
    pub(crate) sequencer: Arc<Sequencer>,
    pub(crate) queued_at: Instant,
    /// The run's `--approve` rules and ask policy.
    pub(crate) approve: Vec<RuleMatch>,
    pub(crate) ask: AskPolicy,
    /// A run, or an interactive session (which never waits in the queue).
    pub(crate) opening: Opening,
    /// Answered once the session's worker is spawned.
    pub(crate) opened: Option<StopReply>,
    /// The batch the run belongs to, which limits how many of its runs are
    /// live at once.
    pub(crate) batch: Option<BatchSlot>,
    /// The spend caps it is held to.
    pub(crate) caps: SessionCaps,
    /// What its answer is checked for before it completes (its group's).
    pub(crate) checks: std::sync::Arc<[protocol::checks::Check]>,
    /// A replay from the tape: the recorded turn its worker plays.
    pub(crate) tape: Option<Box<protocol::tape::Tape>>,
    /// A chat replayed as a run: the turns after the first.
    pub(crate) later: Vec<crate::daemon::session::LaterTurn>,
    /// Where its worker runs; `None`: the daemon's default.
    pub(crate) on: Option<protocol::launch::Launcher>,
}

/// A batch's id and how many of its runs may be live at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BatchSlot {
    pub(crate) id: u64,
    pub(crate) parallel: u32,
}

/// Live figures of one session, for `ps`.
#[derive(Clone, Debug)]
pub(crate) struct LiveInfo {
    pub(crate) session: SessionId,
    pub(crate) pid: Option<u32>,
    pub(crate) rss_bytes: Option<u64>,
    /// The cluster job its worker runs in.
    pub(crate) job: Option<String>,
}

/// Counts for `studio daemon status`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SchedulerCounts {
    pub(crate) live: u32,
    pub(crate) queued: u32,
    pub(crate) live_chats: u32,
    pub(crate) limits: DaemonLimits,
}

/// Messages to the Scheduler.
pub(crate) enum SchedulerMsg {
    /// Start the run now or when a slot frees up.
    Enqueue(Box<QueuedRun>),
    /// Start an interactive session now, outside the run limit but within
    /// the chat limit (a new chat over it is recorded as failed, a resume
    /// refused); if the session is live already, just answer that it is open.
    Open(Box<QueuedRun>),
    /// The user's message, a view's call or the end of a live
    /// interactive session.
    Chat {
        session: SessionId,
        say: ChatInput,
        reply: StopReply,
    },
    /// Cancel a queued or live session.
    Cancel(SessionId, StopReply),
    /// Kill a queued or live session.
    Kill(SessionId, StopReply),
    /// Live figures of every live session.
    Live(RpcReplyPort<Vec<LiveInfo>>),
    /// Counts.
    Counts(RpcReplyPort<SchedulerCounts>),
    /// New limits; queued runs start at once if the run limit rose.
    SetLimits(DaemonLimits, RpcReplyPort<()>),
    /// Interrupt everything and reply once every session has its terminal event.
    Shutdown(RpcReplyPort<()>),
}

/// What a person sends a live interactive session.
pub(crate) enum ChatInput {
    /// The next message.
    Say(String),
    /// A view's own tool call.
    App(Box<super::session::AppAsk>),
    /// The end.
    End,
}

/// The Scheduler actor (state in [`SchedulerState`]).
pub(crate) struct Scheduler;

struct LiveSession {
    session: SessionId,
    /// Interactive sessions do not count against the run limit.
    interactive: bool,
    /// The batch of a run started by `RunBatch`.
    batch: Option<u64>,
    actor: ActorRef<SessionMsg>,
    sequencer: Arc<Sequencer>,
    live: Arc<LiveStats>,
}

/// Queue and live sessions.
pub(crate) struct SchedulerState {
    shared: Arc<Shared>,
    queue: VecDeque<QueuedRun>,
    live: HashMap<ActorId, LiveSession>,
    by_session: HashMap<SessionId, ActorId>,
    /// Resumes of sessions whose ended life's actor is not gone yet: each
    /// starts once it is (the store already holds that life's end).
    resumes: HashMap<SessionId, QueuedRun>,
    shutting_down: Option<RpcReplyPort<()>>,
    /// Most headless runs and interactive sessions live at once.
    limits: DaemonLimits,
}

impl Actor for Scheduler {
    type Msg = SchedulerMsg;
    type State = SchedulerState;
    /// Shared daemon state and the limits to start with.
    type Arguments = (Arc<Shared>, DaemonLimits);

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        (shared, limits): (Arc<Shared>, DaemonLimits),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(SchedulerState {
            shared,
            queue: VecDeque::new(),
            live: HashMap::new(),
            by_session: HashMap::new(),
            resumes: HashMap::new(),
            shutting_down: None,
            limits: DaemonLimits {
                max_concurrent_runs: limits.max_concurrent_runs.max(1),
                max_live_chats: limits.max_live_chats.max(1),
            },
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SchedulerMsg::Enqueue(run) => {
                if state.shutting_down.is_some() {
                    end_queued(*run, EventKind::SessionInterrupted, None);
                } else {
                    state.queue.push_back(*run);
                    state.start_queued(&myself).await;
                }
            }
            SchedulerMsg::Open(mut run) => {
                if state.shutting_down.is_some() {
                    if let Some(opened) = run.opened.take() {
                        let _ = opened.send(Err(shutting_down()));
                    }
                } else if state.by_session.contains_key(&run.record.id) {
                    let session = run.record.id;
                    if run.opening == Opening::Resume && !state.resumes.contains_key(&session) {
                        // The life that ended is still winding down.
                        state.resumes.insert(session, *run);
                    } else if let Some(opened) = run.opened.take() {
                        // Live (or already being resumed): attach.
                        let _ = opened.send(Ok(()));
                    }
                } else if let Some(refusal) = state.over_chat_limit() {
                    refuse_open(*run, refusal);
                } else {
                    state.spawn_session(*run, &myself).await;
                }
            }
            SchedulerMsg::Chat {
                session,
                say,
                reply,
            } => match state
                .by_session
                .get(&session)
                .and_then(|id| state.live.get(id))
                // A life whose end is recorded takes no more input, even
                // while its actor winds down.
                .filter(|live| !live.sequencer.has_ended())
            {
                Some(live) => {
                    let msg = match say {
                        ChatInput::Say(text) => SessionMsg::Say(text, reply),
                        ChatInput::App(ask) => SessionMsg::AppCall(ask, reply),
                        ChatInput::End => SessionMsg::End(reply),
                    };
                    let _ = live.actor.cast(msg);
                }
                None => {
                    let _ = reply.send(Err(ControlError::new(
                        ErrorKind::Conflict,
                        format!(
                            "session {session} is not live (resume it with studio chat --session {session})"
                        ),
                    )));
                }
            },
            SchedulerMsg::Cancel(session, reply) => state.stop(session, false, reply),
            SchedulerMsg::Kill(session, reply) => state.stop(session, true, reply),
            SchedulerMsg::Live(reply) => {
                let infos = state
                    .live
                    .values()
                    .map(|s| LiveInfo {
                        session: s.session,
                        pid: s.live.pid(),
                        rss_bytes: s.live.rss_bytes(),
                        job: s.live.job(),
                    })
                    .collect();
                let _ = reply.send(infos);
            }
            SchedulerMsg::Counts(reply) => {
                let _ = reply.send(SchedulerCounts {
                    live: u32::try_from(state.live.len()).unwrap_or(u32::MAX),
                    queued: u32::try_from(state.queue.len()).unwrap_or(u32::MAX),
                    live_chats: state.live_chats(),
                    limits: state.limits,
                });
            }
            SchedulerMsg::SetLimits(limits, reply) => {
                state.limits = DaemonLimits {
                    max_concurrent_runs: limits.max_concurrent_runs.max(1),
                    max_live_chats: limits.max_live_chats.max(1),
                };
                state.start_queued(&myself).await;
                let _ = reply.send(());
            }
            SchedulerMsg::Shutdown(reply) => {
                for run in state.queue.drain(..) {
                    end_queued(run, EventKind::SessionInterrupted, None);
                }
                for session in state.live.values() {
                    let _ = session.actor.cast(SessionMsg::Interrupt);
                }
                if state.live.is_empty() {
                    let _ = reply.send(());
                } else {
                    state.shutting_down = Some(reply);
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, failure) = match event {
            SupervisionEvent::ActorTerminated(cell, _, _) => (cell, None),
            SupervisionEvent::ActorFailed(cell, err) => (cell, Some(err.to_string())),
            _ => return Ok(()),
        };
        let Some(ended) = state.live.remove(&cell.get_id()) else {
            return Ok(());
        };
        state.by_session.remove(&ended.session);
        if let Some(mut resume) = state.resumes.remove(&ended.session) {
            if state.shutting_down.is_some() {
                if let Some(opened) = resume.opened.take() {
                    let _ = opened.send(Err(shutting_down()));
                }
            } else {
                state.spawn_session(resume, &myself).await;
            }
        }
        if let Some(failure) = failure {
            tracing::error!(session = %ended.session, %failure, "session actor failed");
        }
        if !ended.sequencer.has_ended() {
            // The actor died before recording how the session ended (a bug
            // or a panic); its state's Drop has killed the process group.
            let kind = EventKind::SessionFailed {
                error: "internal error: the session's supervisor stopped unexpectedly".to_owned(),
            };
            if let Err(err) = ended.sequencer.end(kind) {
                tracing::error!(%err, "cannot record the terminal event");
            }
        }
        if state.live.is_empty()
            && let Some(reply) = state.shutting_down.take()
        {
            let _ = reply.send(());
        }
        state.start_queued(&myself).await;
        Ok(())
    }
}

impl SchedulerState {
    /// Interactive sessions with a live worker.
    fn live_chats(&self) -> u32 {
        let chats = self.live.values().filter(|s| s.interactive).count();
        u32::try_from(chats).unwrap_or(u32::MAX)
    }

    /// Why one more interactive session may not start now, if it may not.
    fn over_chat_limit(&self) -> Option<ControlError> {
        let max = self.limits.max_live_chats;
        (self.live_chats() >= max).then(|| {
            ControlError::new(
                ErrorKind::Conflict,
                format!(
                    "{max} interactive sessions are live, the most allowed: end one, or raise the limit with `studio daemon limits --max-chats N`"
                ),
            )
        })
    }

    /// Starts queued runs, oldest first, while the limit allows; a run
    /// whose batch has all its slots live waits without holding up others.
    async fn start_queued(&mut self, myself: &ActorRef<SchedulerMsg>) {
        let max = self.limits.max_concurrent_runs.max(1) as usize;
        while self.shutting_down.is_none()
            && self.live.values().filter(|s| !s.interactive).count() < max
        {
            let Some(run) = self.startable().and_then(|index| self.queue.remove(index)) else {
                return;
            };
            if let Some((why, crossing)) = self.shared.ledger.refusal_to_start(&run.caps) {
                end_over_cap(run, &why, crossing);
                continue;
            }
            self.spawn_session(run, myself).await;
        }
    }

    /// The oldest queued run whose batch (if any) is below its parallelism.
    fn startable(&self) -> Option<usize> {
        let mut live_per_batch: HashMap<u64, u32> = HashMap::new();
        for batch in self.live.values().filter_map(|s| s.batch) {
            *live_per_batch.entry(batch).or_default() += 1;
        }
        self.queue.iter().position(|run| match run.batch {
            None => true,
            Some(slot) => live_per_batch.get(&slot.id).copied().unwrap_or(0) < slot.parallel,
        })
    }

    async fn spawn_session(&mut self, run: QueuedRun, myself: &ActorRef<SchedulerMsg>) {
        let session = run.record.id;
        let live = Arc::new(LiveStats::default());
        let interactive = run.opening != Opening::Run;
        let batch = run.batch.map(|slot| slot.id);
        let args = SessionArgs {
            record: run.record,
            sequencer: Arc::clone(&run.sequencer),
            live: Arc::clone(&live),
            shared: Arc::clone(&self.shared),
            queued_for: run.queued_at.elapsed(),
            approve: run.approve,
            ask: run.ask,
            opening: run.opening,
            opened: run.opened,
            tape: run.tape,
            later: run.later,
            caps: run.caps,
            checks: run.checks,
            on: run.on,
        };
        match Actor::spawn_linked(None, SessionActor, args, myself.get_cell()).await {
            Ok((actor, _)) => {
                let id = actor.get_id();
                self.by_session.insert(session, id);
                self.live.insert(
                    id,
                    LiveSession {
                        session,
                        interactive,
                        batch,
                        actor,
                        sequencer: run.sequencer,
                        live,
                    },
                );
            }
            Err(err) => {
                tracing::error!(%session, %err, "cannot start session actor");
                let kind = EventKind::SessionFailed {
                    error: format!("internal error: cannot start the session: {err}"),
                };
                if let Err(err) = run.sequencer.end(kind) {
                    tracing::error!(%session, %err, "cannot record the terminal event");
                }
            }
        }
    }

    fn stop(&mut self, session: SessionId, kill: bool, reply: StopReply) {
        let reason = StopReason::User;
        if let Some(live) = self
            .by_session
            .get(&session)
            .and_then(|id| self.live.get(id))
        {
            let msg = if kill {
                SessionMsg::Kill(reason, Some(reply))
            } else {
                SessionMsg::Cancel(reason, Some(reply))
            };
            let _ = live.actor.cast(msg);
            return;
        }
        if let Some(pos) = self.queue.iter().position(|r| r.record.id == session) {
            if let Some(run) = self.queue.remove(pos) {
                let kind = if kill {
                    EventKind::SessionKilled { reason }
                } else {
                    EventKind::SessionCancelled {
                        reason,
                        forced: false,
                    }
                };
                end_queued(run, kind, Some(reply));
            }
            return;
        }
        let _ = reply.send(Err(ControlError::new(
            ErrorKind::Conflict,
            format!("session {session} is not running"),
        )));
    }
}

fn shutting_down() -> ControlError {
    ControlError::new(ErrorKind::Unavailable, "the daemon is shutting down")
}

/// Ends a run that never left the queue. The terminal event is queued to
/// the store before this returns; the reply waits for its commit.
/// Refuses to open `run` over the chat limit: a new chat records its end
/// (`session.failed` saying why) before the client hears; a resume stays
/// as it ended.
fn refuse_open(mut run: QueuedRun, refusal: ControlError) {
    let opened = run.opened.take();
    if run.opening == Opening::Resume {
        if let Some(opened) = opened {
            let _ = opened.send(Err(refusal));
        }
        return;
    }
    let error = refusal.message.clone();
    let pending = run.sequencer.end(EventKind::SessionFailed { error });
    tokio::spawn(async move {
        if let Ok(pending) = pending {
            let _ = pending.await;
        }
        if let Some(opened) = opened {
            let _ = opened.send(Err(refusal));
        }
    });
}

/// Ends a queued run whose agent's day or group spent its cap while it
/// waited: `budget.exceeded` saying which, then `session.cancelled`.
fn end_over_cap(run: QueuedRun, why: &str, crossing: Crossing) {
    tracing::info!(session = %run.record.id, why, "a queued run is over a spend cap");
    let exceeded = EventKind::BudgetExceeded {
        budget: crossing.budget,
        limit: crossing.limit,
        observed: crossing.observed,
    };
    if let Err(err) = run.sequencer.append(Timestamp::now(), exceeded) {
        tracing::error!(session = %run.record.id, %err, "cannot record budget.exceeded");
    }
    let cancelled = EventKind::SessionCancelled {
        reason: StopReason::Budget,
        forced: false,
    };
    end_queued(run, cancelled, None);
}

fn end_queued(run: QueuedRun, kind: EventKind, reply: Option<StopReply>) {
    let pending = run.sequencer.end(kind);
    tokio::spawn(async move {
        let result = match pending {
            Ok(pending) => pending.await.map(|_| ()),
            Err(err) => Err(err),
        }
        .map_err(|err| ControlError::new(ErrorKind::Internal, err.to_string()));
        if let Some(reply) = reply {
            let _ = reply.send(result);
        }
    });
}
