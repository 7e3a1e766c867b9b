//! The Broker actor: fans committed events and status changes out to
//! subscribed clients, and which of the daemon's lists changed.
//!
//! It only ever sees committed data (the store's writer hands it each
//! commit), so whatever a client is shown is already durable. Each
//! subscriber has a bounded queue; one that falls behind is dropped rather
//! than slowing everyone down, and resubscribes from the store (see
//! `control::follow`).

use std::collections::HashMap;

use protocol::SessionId;
use protocol::control::{ListKind, SessionSummary};
use protocol::event::Event;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::mpsc;

use crate::store::Committed;

/// Items a subscriber receives.
#[derive(Clone, Debug)]
pub(crate) enum BrokerItem {
    /// A committed event of the followed session.
    Event(Event),
    /// A session's status changed.
    Changed(Box<SessionSummary>),
    /// Sessions were deleted.
    Removed(Vec<SessionId>),
    /// One of the daemon's lists changed.
    ListChanged(ListKind),
}

/// What a subscriber wants.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Topic {
    /// Every event of one session.
    Session(SessionId),
    /// Status changes of all sessions.
    AllSessions,
    /// Changes of the daemon's lists (agents, keys, rules...).
    Lists,
}

/// Messages to the Broker.
pub(crate) enum BrokerMsg {
    /// A commit from the store.
    Committed(Committed),
    /// Start sending `topic` to `tx` under subscription `id`.
    Subscribe {
        id: u64,
        topic: Topic,
        tx: mpsc::Sender<BrokerItem>,
    },
    /// Stop subscription `id`.
    Unsubscribe { id: u64 },
    /// A request changed one of the daemon's lists.
    ListChanged(ListKind),
}

/// The Broker actor (state in [`BrokerState`]).
pub(crate) struct Broker;

/// Subscribers by topic.
#[derive(Default)]
pub(crate) struct BrokerState {
    by_session: HashMap<SessionId, Vec<(u64, mpsc::Sender<BrokerItem>)>>,
    watchers: Vec<(u64, mpsc::Sender<BrokerItem>)>,
    list_watchers: Vec<(u64, mpsc::Sender<BrokerItem>)>,
}

impl Actor for Broker {
    type Msg = BrokerMsg;
    type State = BrokerState;
    type Arguments = ();

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        _args: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(BrokerState::default())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            BrokerMsg::Committed(committed) => state.publish(committed),
            BrokerMsg::Subscribe { id, topic, tx } => match topic {
                Topic::Session(session) => {
                    state.by_session.entry(session).or_default().push((id, tx))
                }
                Topic::AllSessions => state.watchers.push((id, tx)),
                Topic::Lists => state.list_watchers.push((id, tx)),
            },
            BrokerMsg::Unsubscribe { id } => state.remove(id),
            BrokerMsg::ListChanged(list) => {
                send_all(&mut state.list_watchers, || BrokerItem::ListChanged(list));
            }
        }
        Ok(())
    }
}

impl BrokerState {
    fn publish(&mut self, committed: Committed) {
        for event in committed.events {
            let session = event.session;
            let terminal = event.kind.is_terminal();
            if let Some(subs) = self.by_session.get_mut(&session) {
                send_all(subs, || BrokerItem::Event(event.clone()));
                if terminal || subs.is_empty() {
                    // Followers stop at the terminal event; nothing follows it.
                    self.by_session.remove(&session);
                }
            }
        }
        for summary in committed.changed {
            send_all(&mut self.watchers, || {
                BrokerItem::Changed(Box::new(summary.clone()))
            });
        }
        if !committed.removed.is_empty() {
            send_all(&mut self.watchers, || {
                BrokerItem::Removed(committed.removed.clone())
            });
        }
    }

    fn remove(&mut self, id: u64) {
        self.watchers.retain(|(sub, _)| *sub != id);
        self.list_watchers.retain(|(sub, _)| *sub != id);
        self.by_session.retain(|_, subs| {
            subs.retain(|(sub, _)| *sub != id);
            !subs.is_empty()
        });
    }
}

/// Offers an item to each subscriber; drops those that are full or gone.
fn send_all(subs: &mut Vec<(u64, mpsc::Sender<BrokerItem>)>, item: impl Fn() -> BrokerItem) {
    subs.retain(|(id, tx)| match tx.try_send(item()) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            tracing::debug!(subscriber = id, "subscriber fell behind; dropped");
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    });
}
