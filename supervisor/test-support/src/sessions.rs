//! A session's summary for a test: every field set to something plain,
//! so a test names only the fields it is about (`..summary(n)`).

use protocol::control::SessionSummary;
use protocol::{SessionId, SessionStatus, Timestamp};

/// A completed headless run of agent `writer`, id `n`, created at `n` µs,
/// with nothing spent and nothing estimated.
pub fn summary(n: u128) -> SessionSummary {
    SessionSummary {
        id: SessionId::from_u128(n),
        agent: "writer".into(),
        label: None,
        title: String::new(),
        status: SessionStatus::Completed,
        pid: None,
        rss_bytes: None,
        events: 0,
        created_at: Timestamp(n as u64),
        started_at: None,
        ended_at: None,
        parent: None,
        branched_at: None,
        interactive: false,
        totals: None,
        estimated: Default::default(),
        waiting: None,
        batch: None,
        last_activity: Timestamp(n as u64),
        damage: None,
        job: None,
    }
}
