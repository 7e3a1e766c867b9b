//! Event logs built for a test: a new session's events in order, as the
//! daemon would have recorded them.

use protocol::event::{Event, EventKind};
use protocol::{SessionId, Timestamp};

/// A new session's events: seqs from 1, one second apart.
pub fn log(kinds: Vec<EventKind>) -> Vec<Event> {
    let session = SessionId::new();
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, kind)| Event {
            session,
            seq: i as u64 + 1,
            at: Timestamp(i as u64 * 1_000_000),
            kind,
        })
        .collect()
}
