//! The command palette (Ctrl/Cmd+K): every action by name, found by typing
//! a few words: go to a page, start a session with an agent, run an agent,
//! open a session by id.

use dioxus::prelude::*;
use protocol::SessionId;

use crate::commands::Commands;
use crate::connection::Command;
use crate::fields::TextInput;
use crate::state::{AppState, Page};

/// Entries shown at most.
const SHOWN: usize = 12;

/// What an entry does.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Show a page.
    Go(Page),
    /// Open the new-agent form.
    NewAgent,
    /// Open an interactive session with an agent.
    StartSession(String),
    /// Open the run form with an agent.
    Run(String),
    /// Inspect a session.
    Open(SessionId),
}

/// One line of the palette.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// What it says.
    pub label: String,
    /// What it does.
    pub action: Action,
}

/// Every entry for the current state: pages, then agents, then sessions
/// (newest first).
pub fn entries(state: &AppState) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Page::ALL
        .into_iter()
        .map(|page| Entry {
            label: format!("Go to {}", page.title()),
            action: Action::Go(page),
        })
        .collect();
    entries.push(Entry {
        label: "New agent".to_owned(),
        action: Action::NewAgent,
    });
    for agent in state.agents.iter().flatten() {
        entries.push(Entry {
            label: format!("Start session with {}", agent.name),
            action: Action::StartSession(agent.name.clone()),
        });
        entries.push(Entry {
            label: format!("Run {}", agent.name),
            action: Action::Run(agent.name.clone()),
        });
    }
    for interactive in [true, false] {
        for session in state.sessions_newest_first(interactive) {
            entries.push(Entry {
                label: format!(
                    "Open session {} ({}, {})",
                    session.id,
                    session.agent,
                    format!("{:?}", session.status).to_lowercase()
                ),
                action: Action::Open(session.id),
            });
        }
    }
    entries
}

/// The entries whose label holds every word of `query` (any case), in order.
pub fn matching(entries: &[Entry], query: &str) -> Vec<Entry> {
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    entries
        .iter()
        .filter(|entry| {
            let label = entry.label.to_lowercase();
            words.iter().all(|word| label.contains(word.as_str()))
        })
        .take(SHOWN)
        .cloned()
        .collect()
}

/// Does what `action` says.
pub fn run(action: Action, mut state: Signal<AppState>, commands: Commands) {
    match action {
        Action::Go(page) => state.write().page = page,
        Action::NewAgent => {
            let mut state = state.write();
            state.creating_agent = true;
            state.page = Page::Agents;
        }
        Action::StartSession(agent) => commands.send(Command::OpenChat(agent)),
        Action::Run(agent) => {
            let mut state = state.write();
            state.run_agent = Some(agent);
            state.page = Page::Runs;
        }
        Action::Open(session) => {
            {
                let mut state = state.write();
                state.inspected = Some((session, Vec::new()));
                state.page = Page::Inspector;
            }
            commands.send(Command::Inspect(session));
        }
    }
}

/// The palette itself; `on_close` hides it.
#[component]
pub fn Palette(on_close: EventHandler<()>) -> Element {
    let state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let mut query = use_signal(String::new);
    let shown = matching(&entries(&state.read()), &query.read());
    let first = shown.first().map(|e| e.action.clone());
    rsx! {
        div { class: "palette-backdrop", onclick: move |_| on_close.call(()),
            div { class: "palette", role: "dialog",
                onclick: move |event| event.stop_propagation(),
                TextInput {
                    name: "palette",
                    placeholder: "Go to a page, start a session, run an agent, open a session…",
                    value: query(),
                    focus: true,
                    oninput: move |text| query.set(text),
                    onkeydown: move |event: KeyboardEvent| match event.key() {
                        Key::Enter => {
                            if let Some(action) = first.clone() {
                                run(action, state, commands);
                                on_close.call(());
                            }
                        }
                        Key::Escape => on_close.call(()),
                        _ => {}
                    },
                }
                ul {
                    for entry in shown {
                        li {
                            onclick: move |_| {
                                run(entry.action.clone(), state, commands);
                                on_close.call(());
                            },
                            "{entry.label}"
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use protocol::control::SessionSummary;
    use protocol::{AgentConfig, SessionStatus, Timestamp};

    use super::*;

    #[test]
    fn typed_words_find_pages_agents_and_sessions() {
        let session = SessionId::new();
        let state = AppState {
            agents: Some(vec![AgentConfig::scripted("writer")]),
            sessions: Some(
                [(
                    session,
                    SessionSummary {
                        id: session,
                        agent: "writer".into(),
                        label: None,
                        status: SessionStatus::Completed,
                        pid: None,
                        rss_bytes: None,
                        events: 3,
                        created_at: Timestamp(1),
                        started_at: None,
                        ended_at: None,
                        parent: None,
                        branched_at: None,
                        interactive: false,
                        totals: None,
                        last_activity: Timestamp(1),
                        damage: None,
                    },
                )]
                .into(),
            ),
            ..AppState::default()
        };
        let all = entries(&state);
        let labels = |query: &str| -> Vec<String> {
            matching(&all, query).into_iter().map(|e| e.label).collect()
        };
        assert_eq!(labels("go insp"), ["Go to Inspector"]);
        assert_eq!(labels("START writer"), ["Start session with writer"]);
        let prefix = &session.to_string()[..8];
        assert_eq!(
            matching(&all, prefix).first().map(|e| e.action.clone()),
            Some(Action::Open(session))
        );
        assert_eq!(matching(&all, "").len(), SHOWN.min(all.len()));
        assert!(labels("nothing like this").is_empty());
    }
}
