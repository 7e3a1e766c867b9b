//! Deleting a session (the Inspector) or a group (its results table),
//! after saying what goes: the branches and replays going on from a
//! session go with it (the daemon's `Delete` takes them too), and a live
//! one is refused until it ends.

use std::collections::{HashMap, HashSet};

use dioxus::prelude::*;
use protocol::SessionId;
use protocol::control::SessionSummary;

use crate::commands::Commands;
use crate::connection::Command;
use crate::state::AppState;

/// What a Delete button deletes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteTarget {
    /// One session, and what goes on from it.
    Session(SessionId),
    /// A group: every run of it, and what goes on from them.
    Group(SessionId),
}

/// What deleting a target takes, as the app's sessions list knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Doomed {
    /// Sessions in all.
    pub sessions: usize,
    /// Of them, those not named but going on from one that is.
    pub descendants: usize,
    /// Of them, those still live.
    pub live: usize,
}

/// What deleting `target` takes from `sessions`.
pub fn doomed(sessions: &HashMap<SessionId, SessionSummary>, target: DeleteTarget) -> Doomed {
    let named: Vec<SessionId> = match target {
        DeleteTarget::Session(id) => vec![id],
        DeleteTarget::Group(group) => sessions
            .values()
            .filter(|s| s.batch == Some(group))
            .map(|s| s.id)
            .collect(),
    };
    let mut children: HashMap<SessionId, Vec<SessionId>> = HashMap::new();
    for s in sessions.values() {
        if let Some(parent) = s.parent {
            children.entry(parent).or_default().push(s.id);
        }
    }
    let mut seen: HashSet<SessionId> = HashSet::new();
    let mut stack = named.clone();
    while let Some(id) = stack.pop() {
        if seen.insert(id) {
            stack.extend(children.get(&id).into_iter().flatten().copied());
        }
    }
    let live = seen
        .iter()
        .filter_map(|id| sessions.get(id))
        .filter(|s| !s.status.is_terminal())
        .count();
    Doomed {
        sessions: seen.len(),
        descendants: seen.len().saturating_sub(named.len()),
        live,
    }
}

/// Delete…, then what it takes with Delete and Keep.
#[component]
pub fn DeleteButton(target: DeleteTarget) -> Element {
    let state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let mut asking = use_signal(|| false);
    let plan = state
        .read()
        .sessions
        .as_ref()
        .map(|all| doomed(all, target))
        .unwrap_or_default();
    let what = match target {
        DeleteTarget::Session(_) => "this session",
        DeleteTarget::Group(_) => "this group",
    };
    if plan.live > 0 {
        return rsx! {
            button { class: "delete", disabled: true,
                title: "{plan.live} of its sessions are live: end or cancel them first",
                "Delete…" }
        };
    }
    if !*asking.read() {
        return rsx! {
            button { class: "delete", onclick: move |_| asking.set(true), "Delete…" }
        };
    }
    let with = match plan.descendants {
        0 => String::new(),
        n => format!(", with {n} branch(es) or replay(s) going on from it"),
    };
    rsx! {
        span { class: "confirm-delete", role: "alert",
            "Delete {what}: {plan.sessions} session(s){with}, and all their events? This cannot be undone. "
            button { class: "delete confirm",
                onclick: move |_| {
                    asking.set(false);
                    commands.send(match target {
                        DeleteTarget::Session(id) => Command::Delete { ids: vec![id], groups: false },
                        DeleteTarget::Group(id) => Command::Delete { ids: vec![id], groups: true },
                    });
                },
                "Delete"
            }
            button { class: "keep", onclick: move |_| asking.set(false), "Keep" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::event::SessionStatus;

    fn session(n: u128, status: SessionStatus) -> SessionSummary {
        SessionSummary {
            status,
            parent: None,
            batch: None,
            ..test_support::sessions::summary(n)
        }
    }

    #[test]
    fn a_session_takes_what_goes_on_from_it_and_a_group_its_runs() {
        let id = SessionId::from_u128;
        let mut all: HashMap<SessionId, SessionSummary> = HashMap::new();
        for n in 1..=5 {
            all.insert(id(n), session(n, SessionStatus::Completed));
        }
        // 2 is a replay of 1, 3 a branch of 2; 4 and 5 a group (its id 4).
        all.get_mut(&id(2)).unwrap().parent = Some(id(1));
        all.get_mut(&id(3)).unwrap().parent = Some(id(2));
        all.get_mut(&id(4)).unwrap().batch = Some(id(4));
        all.get_mut(&id(5)).unwrap().batch = Some(id(4));
        assert_eq!(
            doomed(&all, DeleteTarget::Session(id(1))),
            Doomed {
                sessions: 3,
                descendants: 2,
                live: 0
            }
        );
        assert_eq!(doomed(&all, DeleteTarget::Group(id(4))).sessions, 2);
        all.get_mut(&id(3)).unwrap().status = SessionStatus::Running;
        assert_eq!(doomed(&all, DeleteTarget::Session(id(2))).live, 1);
    }
}
