//! What needs a person, said once: a session that starts waiting for an
//! approval, a chat that answered and waits for the next message, a run
//! that ended on its own, and a group whose last run ended (one summary
//! for the whole group, not one notice a run). `known_sessions` asks
//! [`notices`] for each session change the daemon pushes or lists; the
//! app shows them as desktop notifications (`notify`), unless turned off.

use std::collections::{HashMap, HashSet};

use protocol::SessionId;
use protocol::control::SessionSummary;
use protocol::event::SessionStatus;

use crate::format;

/// One notification.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Notice {
    /// Its first line.
    pub title: String,
    /// What it says under it.
    pub body: String,
}

/// The notices a change of one session from `before` (`None`: a session
/// not seen before) to `now` calls for, `sessions` holding every session
/// as it is now (to tell when a group's last run ended). `told_groups`
/// holds the groups already summed up; a group summed up now is added.
///
/// A session first seen in a push (not in the list the app started
/// from) began after the app was watching: its end is news too, even if
/// the push that brings it is its last.
pub fn notices(
    before: Option<&SessionSummary>,
    now: &SessionSummary,
    sessions: &HashMap<SessionId, SessionSummary>,
    told_groups: &mut HashSet<SessionId>,
) -> Vec<Notice> {
    let was = before.map(|b| b.status);
    if was == Some(now.status) {
        return Vec::new();
    }
    let name = format::session_name(now);
    match now.status {
        SessionStatus::Waiting => {
            let calls = now.waiting.map_or(1, |w| w.calls);
            vec![Notice {
                title: format!("{} needs your approval", now.agent),
                body: format!("{calls} tool call(s) wait in {name}"),
            }]
        }
        SessionStatus::Idle if now.interactive && was.is_some_and(|w| !w.is_terminal()) => {
            vec![Notice {
                title: format!("{} answered", now.agent),
                body: format!("{name} waits for your next message"),
            }]
        }
        status if status.is_terminal() && !now.interactive => {
            match now.batch.filter(|group| in_group(sessions, *group) > 1) {
                None => vec![Notice {
                    title: format!("Run {}", status.as_str()),
                    body: format!("{name} ({})", now.agent),
                }],
                Some(group) => group_ended(group, sessions, told_groups)
                    .into_iter()
                    .collect(),
            }
        }
        _ => Vec::new(),
    }
}

/// How many runs of `group` are listed.
fn in_group(sessions: &HashMap<SessionId, SessionSummary>, group: SessionId) -> usize {
    sessions.values().filter(|s| s.batch == Some(group)).count()
}

/// The one summary of `group`, once every run of it has ended.
fn group_ended(
    group: SessionId,
    sessions: &HashMap<SessionId, SessionSummary>,
    told_groups: &mut HashSet<SessionId>,
) -> Option<Notice> {
    let runs: Vec<&SessionSummary> = sessions
        .values()
        .filter(|s| s.batch == Some(group))
        .collect();
    if runs.iter().any(|r| !r.status.is_terminal()) || !told_groups.insert(group) {
        return None;
    }
    let mut by_status: Vec<(&'static str, usize)> = Vec::new();
    for run in &runs {
        let status = run.status.as_str();
        match by_status.iter_mut().find(|(s, _)| *s == status) {
            Some((_, n)) => *n += 1,
            None => by_status.push((status, 1)),
        }
    }
    by_status.sort();
    let counts: Vec<String> = by_status
        .iter()
        .map(|(status, n)| format!("{n} {status}"))
        .collect();
    let first = sessions
        .get(&group)
        .map_or_else(|| group.short(), format::session_name);
    Some(Notice {
        title: format!("A group of {} runs ended", runs.len()),
        body: format!("{first}: {}", counts.join(", ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Timestamp;
    use protocol::control::Waiting;

    fn session(
        status: SessionStatus,
        batch: Option<SessionId>,
        interactive: bool,
    ) -> SessionSummary {
        SessionSummary {
            id: SessionId::new(),
            agent: "writer".into(),
            label: None,
            title: "Summarise the report".into(),
            status,
            pid: None,
            rss_bytes: None,
            events: 3,
            created_at: Timestamp(1),
            started_at: None,
            ended_at: None,
            parent: None,
            branched_at: None,
            interactive,
            totals: None,
            estimated: Default::default(),
            waiting: None,
            batch,
            last_activity: Timestamp(1),
            damage: None,
            job: None,
        }
    }

    /// Applies `now` to `sessions` as the app does, returning its notices.
    fn change(
        sessions: &mut HashMap<SessionId, SessionSummary>,
        told: &mut HashSet<SessionId>,
        now: SessionSummary,
    ) -> Vec<Notice> {
        let before = sessions.insert(now.id, now.clone());
        notices(before.as_ref(), &now, sessions, told)
    }

    #[test]
    fn a_hundred_runs_of_a_group_end_with_one_summary() {
        let mut sessions = HashMap::new();
        let mut told = HashSet::new();
        let first = session(SessionStatus::Running, None, false);
        let group = first.id;
        let runs: Vec<SessionSummary> = std::iter::once(first)
            .chain((1..100).map(|_| session(SessionStatus::Running, None, false)))
            .map(|run| SessionSummary {
                batch: Some(group),
                ..run
            })
            .collect();
        for run in &runs {
            sessions.insert(run.id, run.clone());
        }
        let mut said = Vec::new();
        for (n, run) in runs.iter().enumerate() {
            let status = if n % 10 == 3 {
                SessionStatus::Failed
            } else {
                SessionStatus::Completed
            };
            said.extend(change(
                &mut sessions,
                &mut told,
                SessionSummary {
                    status,
                    ..run.clone()
                },
            ));
        }
        assert_eq!(
            said,
            [Notice {
                title: "A group of 100 runs ended".into(),
                body: "Summarise the report: 90 completed, 10 failed".into(),
            }]
        );
        // A late push of the same end says nothing again.
        let again = SessionSummary {
            status: SessionStatus::Killed,
            ..runs[5].clone()
        };
        assert!(change(&mut sessions, &mut told, again).is_empty());
    }

    #[test]
    fn waiting_an_answered_chat_and_a_lone_run_are_each_said_once() {
        let mut sessions = HashMap::new();
        let mut told = HashSet::new();
        let run = session(SessionStatus::Running, None, false);
        sessions.insert(run.id, run.clone());
        let waiting = SessionSummary {
            status: SessionStatus::Waiting,
            waiting: Some(Waiting {
                calls: 2,
                since: Timestamp(2),
                decided_by: Timestamp(9),
            }),
            ..run.clone()
        };
        let said = change(&mut sessions, &mut told, waiting.clone());
        assert_eq!(said[0].title, "writer needs your approval");
        assert_eq!(said[0].body, "2 tool call(s) wait in Summarise the report");
        assert!(change(&mut sessions, &mut told, waiting).is_empty(), "once");
        let ended = SessionSummary {
            status: SessionStatus::Completed,
            ..run
        };
        assert_eq!(
            change(&mut sessions, &mut told, ended)[0].title,
            "Run completed"
        );
        let chat = session(SessionStatus::Running, None, true);
        sessions.insert(chat.id, chat.clone());
        let idle = SessionSummary {
            status: SessionStatus::Idle,
            ..chat
        };
        assert_eq!(
            change(&mut sessions, &mut told, idle)[0].title,
            "writer answered"
        );
        // A run first pushed as it ended began after the app was watching:
        // its end is news (what was so when the app started came in the
        // list, which says nothing).
        let late = session(SessionStatus::Completed, None, false);
        assert_eq!(
            change(&mut sessions, &mut told, late)[0].title,
            "Run completed"
        );
    }
}
