//! Paging through what a branch goes on from: its original's events up to
//! the branch point, a page at a time.

use protocol::SessionId;
use protocol::control::ControlRequest;

/// Events asked for at a time when loading what a branch goes on from.
const INHERITED_PAGE: u64 = 1000;

/// The request for the next page of `parent`'s events after `after`, up
/// to `at`.
pub(super) fn inherited_page(parent: SessionId, after: u64, at: u64) -> ControlRequest {
    ControlRequest::Events {
        session: parent,
        after_seq: after,
        limit: u32::try_from(at.saturating_sub(after).min(INHERITED_PAGE)).unwrap_or(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_branch_goes_on_from_is_asked_for_a_page_at_a_time_up_to_its_point() {
        let parent = SessionId::new();
        let limit = |after, at| match inherited_page(parent, after, at) {
            ControlRequest::Events {
                session,
                after_seq,
                limit,
            } => {
                assert_eq!((session, after_seq), (parent, after));
                limit
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(limit(0, 12), 12);
        assert_eq!(limit(0, 2500), 1000);
        assert_eq!(limit(2000, 2500), 500);
    }
}
