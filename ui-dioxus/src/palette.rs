//! The command palette (Ctrl/Cmd+K): every action by name, found by typing
//! a few words: go to a page, start a session with an agent, run an agent,
//! open a session by id, export or compare the inspected session, compare
//! the ticked ones. Keyboard first: it opens focused, ↑/↓ choose,
//! Enter runs, Escape closes; each entry shows its own shortcut if it has
//! one, and a query that finds nothing says so.

use dioxus::prelude::*;
use protocol::SessionId;

use crate::commands::Commands;
use crate::connection::{Command, ExportFormat};
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
    /// Export a session.
    Export(SessionId, ExportFormat),
    /// Put sessions side by side.
    Compare(Vec<SessionId>),
}

/// One line of the palette.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// What it says.
    pub label: String,
    /// Its own shortcut, if it has one (`Ctrl+3`).
    pub shortcut: Option<String>,
    /// What it does.
    pub action: Action,
}

/// Every entry for the current state: pages, then agents, then sessions
/// (newest first).
pub fn entries(state: &AppState) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Page::ALL
        .into_iter()
        .enumerate()
        .map(|(index, page)| Entry {
            label: format!("Go to {}", page.title()),
            shortcut: Some(format!("Ctrl+{}", index + 1)),
            action: Action::Go(page),
        })
        .collect();
    entries.push(Entry {
        label: "New agent".to_owned(),
        shortcut: None,
        action: Action::NewAgent,
    });
    for agent in state.agents.iter().flatten() {
        entries.push(Entry {
            label: format!("Start session with {}", agent.name),
            shortcut: None,
            action: Action::StartSession(agent.name.clone()),
        });
        entries.push(Entry {
            label: format!("Run {}", agent.name),
            shortcut: None,
            action: Action::Run(agent.name.clone()),
        });
    }
    entries.extend(session_entries(state));
    for interactive in [true, false] {
        for session in state.sessions_newest_first(interactive) {
            entries.push(Entry {
                label: format!(
                    "Open {} · {} ({}, {}) {}",
                    crate::format::session_name(session),
                    session.id.short(),
                    session.agent,
                    session.status,
                    session.id
                ),
                shortcut: None,
                action: Action::Open(session.id),
            });
        }
    }
    entries
}

/// What can be done with the inspected session and the ticked ones.
fn session_entries(state: &AppState) -> Vec<Entry> {
    let mut entries = Vec::new();
    let entry = |label: String, action| Entry {
        label,
        shortcut: None,
        action,
    };
    let picked = &state.compare.picked;
    if picked.len() >= 2 {
        let label = format!("Compare the {} ticked sessions", picked.len());
        entries.push(entry(label, Action::Compare(picked.clone())));
    }
    let Some((session, _)) = &state.inspected else {
        return entries;
    };
    let short = session.short();
    let parent = state
        .sessions
        .as_ref()
        .and_then(|all| all.get(session))
        .and_then(|s| s.parent);
    if let Some(parent) = parent {
        let label = format!("Compare {short} with its origin {}", parent.short());
        entries.push(entry(label, Action::Compare(vec![parent, *session])));
    }
    for (format, what) in [
        (ExportFormat::Markdown, "as Markdown"),
        (ExportFormat::JsonLines, "as JSON lines"),
    ] {
        let label = format!("Export {short} {what}");
        entries.push(entry(label, Action::Export(*session, format)));
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
            state.runs_form_open = true;
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
        Action::Export(session, format) => commands.send(Command::Export { session, format }),
        Action::Compare(sessions) => commands.compare(state, sessions),
    }
}

/// Where ↑ or ↓ moves the selection among `count` entries (wrapping).
pub fn step(selected: usize, count: usize, down: bool) -> usize {
    match (count, down) {
        (0, _) => 0,
        (_, true) => (selected + 1) % count,
        (_, false) => selected.checked_sub(1).unwrap_or(count - 1),
    }
}

/// The palette itself; `on_close` hides it.
#[component]
pub fn Palette(on_close: EventHandler<()>) -> Element {
    let state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let mut query = use_signal(String::new);
    let mut selected = use_signal(|| 0_usize);
    let shown = matching(&entries(&state.read()), &query.read());
    let count = shown.len();
    let current = selected().min(count.saturating_sub(1));
    let chosen = shown.get(current).map(|e| e.action.clone());
    rsx! {
        div { class: "palette-backdrop", onclick: move |_| on_close.call(()),
            div { class: "palette", role: "dialog", aria_label: "Commands",
                onclick: move |event| event.stop_propagation(),
                TextInput {
                    name: "palette",
                    placeholder: "Go to a page, start a session, run an agent, open a session…",
                    value: query(),
                    focus: true,
                    oninput: move |text| {
                        query.set(text);
                        selected.set(0);
                    },
                    onkeydown: move |event: KeyboardEvent| match event.key() {
                        Key::ArrowDown | Key::ArrowUp => {
                            event.prevent_default();
                            selected.set(step(selected(), count, event.key() == Key::ArrowDown));
                        }
                        Key::Enter => {
                            if let Some(action) = chosen.clone() {
                                run(action, state, commands);
                                on_close.call(());
                            }
                        }
                        Key::Escape => on_close.call(()),
                        _ => {}
                    },
                }
                ul { role: "listbox",
                    for (index, entry) in shown.into_iter().enumerate() {
                        li {
                            key: "{entry.label}",
                            role: "option",
                            class: if index == current { "selected" },
                            aria_selected: index == current,
                            onmouseenter: move |_| selected.set(index),
                            onclick: move |_| {
                                run(entry.action.clone(), state, commands);
                                on_close.call(());
                            },
                            "{entry.label}"
                            if let Some(keys) = &entry.shortcut {
                                kbd { "{keys}" }
                            }
                        }
                    }
                    if count == 0 {
                        li { class: "empty", "Nothing matches “{query}”: try a page, an agent's name or a session id." }
                    }
                }
                p { class: "palette-hints muted",
                    kbd { "↑" } kbd { "↓" } " choose · " kbd { "Enter" } " run · " kbd { "Esc" } " close"
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use protocol::AgentConfig;
    use protocol::control::SessionSummary;

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
                        title: "Draft the launch post".into(),
                        events: 3,
                        ..test_support::sessions::summary(1)
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
        let go = matching(&all, "go to runs");
        assert_eq!(go[0].shortcut.as_deref(), Some("Ctrl+3"));
        assert_eq!(labels("new"), ["New agent"]);
    }

    #[test]
    fn arrows_wrap_around_the_shown_entries() {
        assert_eq!(step(0, 3, true), 1);
        assert_eq!(step(2, 3, true), 0);
        assert_eq!(step(0, 3, false), 2);
        assert_eq!(step(1, 3, false), 0);
        assert_eq!(step(0, 0, true), 0);
        assert_eq!(step(0, 0, false), 0);
    }
}
