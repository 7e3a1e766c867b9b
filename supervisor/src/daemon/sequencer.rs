//! Assigns a session's seqs and hands its events to the store.
//!
//! Two producers append to a live session: the task reading the worker's
//! socket (the hot path) and the Session actor (budget, lifecycle and
//! terminal events). The sequencer serialises them under one short lock, so
//! seqs are gapless and reach the writer in order, and it refuses anything
//! after the terminal event: exactly one terminal event per session.

use std::sync::Mutex;

use protocol::event::{Event, EventKind};
use protocol::{SessionId, Timestamp};

use crate::store::{Store, StoreError};

/// Why an append was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AppendError {
    /// The session already has its terminal event.
    #[error("session already ended")]
    Ended,
    /// The store refused or is closed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One session's event counter; see the module docs.
pub(crate) struct Sequencer {
    session: SessionId,
    store: Store,
    state: Mutex<State>,
}

struct State {
    next: u64,
    ended: bool,
}

impl Sequencer {
    /// A sequencer whose next event gets `next_seq`.
    pub(crate) fn new(session: SessionId, store: Store, next_seq: u64) -> Self {
        Self {
            session,
            store,
            state: Mutex::new(State {
                next: next_seq,
                ended: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave State inconsistent
        // (two plain fields updated together), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a non-terminal event; returns its seq.
    pub(crate) fn append(&self, at: Timestamp, kind: EventKind) -> Result<u64, AppendError> {
        debug_assert!(
            !kind.is_terminal(),
            "terminal events go through append_terminal"
        );
        let mut state = self.lock();
        if state.ended {
            return Err(AppendError::Ended);
        }
        let seq = state.next;
        self.store.append(Event {
            session: self.session,
            seq,
            at,
            kind,
        })?;
        state.next += 1;
        Ok(seq)
    }

    /// Like [`Sequencer::append`], for a worker's events: waits for room
    /// in the store's backlog first, so a flooding worker is slowed down to
    /// the disk's pace instead of filling the daemon's memory.
    pub(crate) async fn append_from_worker(
        &self,
        at: Timestamp,
        kind: EventKind,
    ) -> Result<u64, AppendError> {
        let room = self.store.room().await?;
        let mut state = self.lock();
        if state.ended {
            return Err(AppendError::Ended);
        }
        let seq = state.next;
        self.store.append_in_room(
            Event {
                session: self.session,
                seq,
                at,
                kind,
            },
            room,
        )?;
        state.next += 1;
        Ok(seq)
    }

    /// Queues the terminal event now and closes the sequencer; the
    /// returned future resolves once the event is committed. Refused if
    /// the session already ended.
    pub(crate) fn end(
        &self,
        kind: EventKind,
    ) -> Result<impl Future<Output = Result<u64, AppendError>> + use<>, AppendError> {
        self.queue_acked(kind, true)
    }

    /// Queues a non-terminal event and waits until it (and so everything
    /// before it) is committed.
    pub(crate) async fn append_committed(&self, kind: EventKind) -> Result<u64, AppendError> {
        self.queue_acked(kind, false)?.await
    }

    fn queue_acked(
        &self,
        kind: EventKind,
        ends: bool,
    ) -> Result<impl Future<Output = Result<u64, AppendError>> + use<>, AppendError> {
        let mut state = self.lock();
        if state.ended {
            return Err(AppendError::Ended);
        }
        let seq = state.next;
        let event = Event {
            session: self.session,
            seq,
            at: Timestamp::now(),
            kind,
        };
        let pending = self.store.append_acked(event)?;
        state.next += 1;
        state.ended = ends;
        Ok(async move {
            pending.await?;
            Ok(seq)
        })
    }

    /// Queues the terminal event and waits until it is committed.
    pub(crate) async fn append_terminal(&self, kind: EventKind) -> Result<u64, AppendError> {
        self.end(kind)?.await
    }

    /// Whether the terminal event was queued.
    pub(crate) fn has_ended(&self) -> bool {
        self.lock().ended
    }
}
