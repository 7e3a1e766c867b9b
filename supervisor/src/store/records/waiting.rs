//! Which of a session's tool calls wait for a person, kept from the events
//! so a summary can say `waiting`, since when, and until when.

use protocol::Timestamp;
use protocol::control::Waiting;
use protocol::event::EventKind;
use serde::{Deserialize, Serialize};

/// Calls parked in the inbox: recorded `tool.approval.pending`, not yet
/// `tool.approved` or `tool.denied`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct WaitingCalls(Vec<WaitingCall>);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct WaitingCall {
    call_id: String,
    since: Timestamp,
    expires_at: Timestamp,
}

impl WaitingCalls {
    /// Folds one event recorded `at` in; returns whether the session went
    /// from waiting to not waiting or back.
    pub(crate) fn apply(&mut self, at: Timestamp, kind: &EventKind) -> bool {
        let was_waiting = !self.0.is_empty();
        match kind {
            EventKind::ToolApprovalPending {
                call_id,
                expires_at,
                ..
            } => self.0.push(WaitingCall {
                call_id: call_id.clone(),
                since: at,
                expires_at: *expires_at,
            }),
            EventKind::ToolApproved { call_id, .. } | EventKind::ToolDenied { call_id, .. } => {
                self.0.retain(|c| c.call_id != *call_id);
            }
            // Nothing waits once the session ends (or a life of it does).
            other if other.status_after().is_some() => self.0.clear(),
            _ => {}
        }
        let waiting = !self.0.is_empty();
        was_waiting != waiting
    }

    /// What a summary says, while any call waits.
    pub(crate) fn summary(&self) -> Option<Waiting> {
        Some(Waiting {
            calls: self.0.len() as u32,
            since: self.0.iter().map(|c| c.since).min()?,
            decided_by: self.0.iter().map(|c| c.expires_at).min()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use protocol::event::Decider;

    use super::*;

    fn pending(call: &str, expires: u64) -> EventKind {
        EventKind::ToolApprovalPending {
            call_id: call.into(),
            approval: 1,
            expires_at: Timestamp(expires),
        }
    }

    #[test]
    fn a_session_waits_while_any_call_does() {
        let mut calls = WaitingCalls::default();
        assert!(calls.apply(Timestamp(10), &pending("a", 500)));
        assert!(!calls.apply(Timestamp(20), &pending("b", 400)));
        assert_eq!(
            calls.summary(),
            Some(Waiting {
                calls: 2,
                since: Timestamp(10),
                decided_by: Timestamp(400),
            })
        );
        let approved = EventKind::ToolApproved {
            call_id: "b".into(),
            by: Decider::User,
        };
        assert!(!calls.apply(Timestamp(30), &approved));
        assert_eq!(calls.summary().map(|w| w.decided_by), Some(Timestamp(500)));
        let denied = EventKind::ToolDenied {
            call_id: "a".into(),
            by: Decider::Timeout,
            reason: "nobody answered".into(),
        };
        assert!(calls.apply(Timestamp(40), &denied));
        assert_eq!(calls.summary(), None);
    }

    #[test]
    fn the_end_of_a_session_ends_its_waits() {
        let mut calls = WaitingCalls::default();
        calls.apply(Timestamp(10), &pending("a", 500));
        assert!(calls.apply(Timestamp(20), &EventKind::SessionInterrupted));
        assert_eq!(calls.summary(), None);
    }
}
