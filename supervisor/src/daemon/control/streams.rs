//! The streams a client opens: `Follow` (a session's events, stored then
//! live, gapless), `WatchSessions` (status changes) and `WatchLists`
//! (which list changed), all fed by the Broker.

use std::ops::ControlFlow;
use std::sync::atomic::Ordering;

use protocol::SessionId;
use protocol::control::{ControlResponse, ListKind, Push, ServerFrame};
use protocol::event::Event;
use tokio::sync::mpsc;

use super::{Handles, Outbox, PAGE, SUBSCRIBER_QUEUE, ensure_session};
use crate::daemon::{BrokerItem, BrokerMsg, Topic};
use crate::store::StoreError;

async fn subscribe(handles: &Handles, topic: Topic) -> Option<(u64, mpsc::Receiver<BrokerItem>)> {
    let id = handles
        .shared
        .next_subscription
        .fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = mpsc::channel(SUBSCRIBER_QUEUE);
    handles
        .shared
        .broker
        .cast(BrokerMsg::Subscribe { id, topic, tx })
        .ok()
        .map(|()| (id, rx))
}

/// Unsubscribes from the Broker when dropped (including on abort).
struct Subscription<'a> {
    id: u64,
    handles: &'a Handles,
}

impl Drop for Subscription<'_> {
    fn drop(&mut self) {
        let _ = self
            .handles
            .shared
            .broker
            .cast(BrokerMsg::Unsubscribe { id: self.id });
    }
}

/// Streams a session's events: the recorded ones, then live ones, with no
/// gap and no repeat, until the terminal event. Subscribing before reading
/// the store guarantees every event is in one or the other; a subscriber
/// the Broker dropped for falling behind starts over from the store.
pub(super) async fn follow(
    id: u64,
    session: SessionId,
    after_seq: u64,
    handles: &Handles,
    outbox: &Outbox,
) {
    let follower = Follower { id, outbox };
    // A session with a damaged record is refused at once: its stream could
    // neither be whole nor end.
    let checked = ensure_session(handles, session).await.and_then(|_| {
        match handles.shared.store.damage(session) {
            Some(damage) => Err(StoreError::Damaged(damage).into()),
            None => Ok(()),
        }
    });
    if let Err(err) = checked {
        let _ = outbox
            .send(ServerFrame::Response {
                id,
                result: Err(err),
            })
            .await;
        return;
    }
    let subscribed = ServerFrame::Response {
        id,
        result: Ok(ControlResponse::Subscribed),
    };
    if outbox.send(subscribed).await.is_err() {
        return;
    }
    let mut last = after_seq;
    loop {
        let Some((sub_id, mut live)) = subscribe(handles, Topic::Session(session)).await else {
            return follower.end().await;
        };
        let _guard = Subscription {
            id: sub_id,
            handles,
        };
        loop {
            let page = match handles.shared.store.events(session, last, PAGE).await {
                Ok(page) => page,
                Err(err) => {
                    tracing::warn!(%err, "follow: cannot read events");
                    return follower.end().await;
                }
            };
            let full = page.len() == PAGE;
            let newest = page.last().map(|e| e.seq);
            for event in page {
                last = event.seq;
                // A terminal event with more after it ended an earlier life
                // of a resumed session: the stream goes on.
                let current = !full && Some(event.seq) == newest;
                if follower.deliver(event, current).await.is_break() {
                    return;
                }
            }
            if !full {
                break;
            }
        }
        // Asked to start after the session's end: nothing more will come.
        match ensure_session(handles, session).await {
            Ok(record) if !record.status.is_terminal() || last < record.last_seq => {}
            _ => return follower.end().await,
        }
        while let Some(item) = live.recv().await {
            let BrokerItem::Event(event) = item else {
                continue;
            };
            if event.seq <= last {
                continue;
            }
            if event.seq != last + 1 {
                break; // missed something: catch up from the store
            }
            last = event.seq;
            if follower.deliver(event, true).await.is_break() {
                return;
            }
        }
    }
}

/// Sends one follow stream's pushes.
struct Follower<'a> {
    id: u64,
    outbox: &'a Outbox,
}

impl Follower<'_> {
    /// Sends `event`; breaks after a terminal one that is the session's
    /// newest (`current`), followed by [`Push::End`], or when the client is gone.
    async fn deliver(&self, event: Event, current: bool) -> ControlFlow<()> {
        let terminal = current && event.kind.is_terminal();
        let push = ServerFrame::Push {
            id: self.id,
            push: Push::Event(event),
        };
        if self.outbox.send(push).await.is_err() {
            return ControlFlow::Break(());
        }
        if terminal {
            self.end().await;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    /// Ends the stream.
    async fn end(&self) {
        let end = ServerFrame::Push {
            id: self.id,
            push: Push::End,
        };
        let _ = self.outbox.send(end).await;
    }
}

/// Streams status changes of all sessions until unsubscribed.
pub(super) async fn watch(id: u64, handles: &Handles, outbox: &Outbox) {
    let push = |push: Push| outbox.send(ServerFrame::Push { id, push });
    if outbox
        .send(ServerFrame::Response {
            id,
            result: Ok(ControlResponse::Subscribed),
        })
        .await
        .is_err()
    {
        return;
    }
    loop {
        let Some((sub_id, mut live)) = subscribe(handles, Topic::AllSessions).await else {
            let _ = push(Push::End).await;
            return;
        };
        let _guard = Subscription {
            id: sub_id,
            handles,
        };
        while let Some(item) = live.recv().await {
            let pushed = match item {
                BrokerItem::Changed(summary) => push(Push::SessionChanged(*summary)).await,
                BrokerItem::Removed(sessions) => push(Push::SessionsRemoved(sessions)).await,
                BrokerItem::Event(_) | BrokerItem::ListChanged(_) => Ok(()),
            };
            if pushed.is_err() {
                return;
            }
        }
        // Dropped for falling behind: resubscribe. Changes in between are
        // lost; watchers re-list sessions when they need exact state.
    }
}

/// Streams which of the daemon's lists changed until unsubscribed. The
/// Broker has the subscription before `Subscribed` is sent, so a change
/// made after the client saw it is always pushed.
pub(super) async fn watch_lists(id: u64, handles: &Handles, outbox: &Outbox) {
    let push = |push: Push| outbox.send(ServerFrame::Push { id, push });
    let mut first = true;
    loop {
        let Some((sub_id, mut live)) = subscribe(handles, Topic::Lists).await else {
            let _ = push(Push::End).await;
            return;
        };
        let _guard = Subscription {
            id: sub_id,
            handles,
        };
        let sent = if first {
            first = false;
            let subscribed = ServerFrame::Response {
                id,
                result: Ok(ControlResponse::Subscribed),
            };
            outbox.send(subscribed).await.is_ok()
        } else {
            // Dropped for falling behind: any list may have changed meanwhile.
            let mut sent = true;
            for list in ListKind::ALL {
                sent = sent && push(Push::ListChanged(list)).await.is_ok();
            }
            sent
        };
        if !sent {
            return;
        }
        while let Some(item) = live.recv().await {
            if let BrokerItem::ListChanged(list) = item
                && push(Push::ListChanged(list)).await.is_err()
            {
                return;
            }
        }
    }
}
