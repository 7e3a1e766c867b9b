//! The sessions the app knows, folded from the daemon's pushes and its
//! lists (asked for every few seconds), which race each other: a list
//! answered just after a change was committed may arrive before that
//! change's push, and a list taken just before may arrive after it. A
//! session's event count only grows, so of two summaries of one session
//! the one with more events is the newer; a stale one never replaces it.
//! Each change of status is handed to `notices` once, by whichever of the
//! two brings it first.

use std::collections::{HashMap, HashSet};

use protocol::control::SessionSummary;
use protocol::{SessionId, Timestamp};

use crate::notices::{Notice, notices};

/// Sessions by id, as `AppState::sessions` holds them.
pub type Sessions = HashMap<SessionId, SessionSummary>;

/// What was said already, so nothing is said twice.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Told {
    /// Groups whose end was said.
    pub groups: HashSet<SessionId>,
    /// The newest session of the first list: anything created later and
    /// first seen in a list began while the app was watching (its end is
    /// news); `None` before the first list.
    pub watching_since: Option<Timestamp>,
}

/// Folds in one pushed change; returns what it calls for.
pub fn fold_change(
    sessions: &mut Option<Sessions>,
    summary: SessionSummary,
    told: &mut Told,
) -> Vec<Notice> {
    let sessions = sessions.get_or_insert_with(HashMap::new);
    match sessions.get(&summary.id) {
        Some(known) if known.events > summary.events => Vec::new(),
        // A session first seen in a push began after the app was watching.
        _ => replace(sessions, summary, true, told),
    }
}

/// Folds in a list of sessions; returns what the changes it brings first
/// call for. A session it lacks is dropped (deleted, or past the list's
/// limit), unless it is newer than every listed one (pushed before the
/// list was answered).
pub fn fold_list(
    sessions: &mut Option<Sessions>,
    list: Vec<SessionSummary>,
    told: &mut Told,
) -> Vec<Notice> {
    let newest = list.iter().map(|s| s.created_at).max();
    let first = told.watching_since.is_none();
    let since = *told
        .watching_since
        .get_or_insert(newest.unwrap_or(Timestamp(0)));
    let known = sessions.get_or_insert_with(HashMap::new);
    let listed: HashSet<SessionId> = list.iter().map(|s| s.id).collect();
    known.retain(|id, s| listed.contains(id) || newest.is_some_and(|n| s.created_at > n));
    let mut said = Vec::new();
    for summary in list {
        match known.get(&summary.id) {
            Some(have) if have.events > summary.events => {}
            Some(_) => said.extend(replace(known, summary, true, told)),
            None => {
                let news = !first && summary.created_at > since;
                said.extend(replace(known, summary, news, told));
            }
        }
    }
    said
}

/// Puts `summary` in; when `news`, returns what its change calls for.
fn replace(
    sessions: &mut Sessions,
    summary: SessionSummary,
    news: bool,
    told: &mut Told,
) -> Vec<Notice> {
    let id = summary.id;
    let before = sessions.insert(id, summary);
    match sessions.get(&id) {
        Some(now) if news || before.is_some() => {
            notices(before.as_ref(), now, sessions, &mut told.groups)
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use protocol::event::SessionStatus;

    use super::*;

    fn run(created: u64, status: SessionStatus, events: u64, group: SessionId) -> SessionSummary {
        SessionSummary {
            status,
            events,
            batch: Some(group),
            interactive: false,
            ..test_support::sessions::summary(u128::from(created))
        }
    }

    fn with(summary: &SessionSummary, status: SessionStatus, events: u64) -> SessionSummary {
        SessionSummary {
            status,
            events,
            ..summary.clone()
        }
    }

    /// The race the app met: a list answered after the last run of a group
    /// ended arrives before that run's push.
    #[test]
    fn a_list_that_brings_an_end_before_its_push_says_it_once() {
        let group = SessionId::new();
        let mut sessions = None;
        let mut told = Told::default();
        assert!(fold_list(&mut sessions, Vec::new(), &mut told).is_empty());
        let first = run(10, SessionStatus::Running, 4, group);
        let second = run(11, SessionStatus::Running, 4, group);
        assert!(fold_change(&mut sessions, first.clone(), &mut told).is_empty());
        assert!(fold_change(&mut sessions, second.clone(), &mut told).is_empty());
        let first_done = with(&first, SessionStatus::Completed, 9);
        assert!(fold_change(&mut sessions, first_done.clone(), &mut told).is_empty());
        let second_done = with(&second, SessionStatus::Completed, 9);
        let said = fold_list(
            &mut sessions,
            vec![first_done.clone(), second_done.clone()],
            &mut told,
        );
        assert_eq!(said.len(), 1, "{said:?}");
        assert_eq!(said[0].title, "A group of 2 runs ended");
        assert!(fold_change(&mut sessions, second_done, &mut told).is_empty());
    }

    /// The other way round: a list taken before a push arrives after it.
    #[test]
    fn a_stale_list_never_takes_a_session_back() {
        let group = SessionId::new();
        let mut sessions = None;
        let mut told = Told::default();
        let started = run(10, SessionStatus::Running, 4, group);
        fold_list(&mut sessions, vec![started.clone()], &mut told);
        let done = with(&started, SessionStatus::Completed, 9);
        assert_eq!(fold_change(&mut sessions, done, &mut told).len(), 1);
        assert!(fold_list(&mut sessions, vec![started.clone()], &mut told).is_empty());
        let known = sessions.as_ref().and_then(|s| s.get(&started.id));
        assert_eq!(known.map(|s| s.status), Some(SessionStatus::Completed));
    }

    /// Sessions of the first list are history; one a later list brings
    /// that was created since began while the app watched.
    #[test]
    fn only_sessions_begun_while_watching_are_news_in_a_list() {
        let mut sessions = None;
        let mut told = Told::default();
        let old = run(10, SessionStatus::Completed, 9, SessionId::new());
        assert!(fold_list(&mut sessions, vec![old.clone()], &mut told).is_empty());
        let new = run(20, SessionStatus::Failed, 9, SessionId::new());
        let said = fold_list(&mut sessions, vec![new.clone(), old], &mut told);
        assert_eq!(said.len(), 1, "{said:?}");
        assert_eq!(said[0].title, "Run failed");
    }

    /// A list drops what it lacks, unless that was pushed after it was
    /// taken.
    #[test]
    fn a_list_drops_what_it_lacks_but_keeps_what_is_newer() {
        let mut sessions = None;
        let mut told = Told::default();
        let gone = run(10, SessionStatus::Completed, 9, SessionId::new());
        let kept = run(11, SessionStatus::Completed, 9, SessionId::new());
        fold_list(&mut sessions, vec![gone.clone(), kept.clone()], &mut told);
        let pushed = run(30, SessionStatus::Running, 2, SessionId::new());
        fold_change(&mut sessions, pushed.clone(), &mut told);
        fold_list(&mut sessions, vec![kept.clone()], &mut told);
        let mut ids: Vec<SessionId> = sessions.unwrap_or_default().into_keys().collect();
        ids.sort();
        let mut want = vec![kept.id, pushed.id];
        want.sort();
        assert_eq!(ids, want);
    }
}
