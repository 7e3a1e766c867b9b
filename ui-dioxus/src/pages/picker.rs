//! Finding a session and naming it: the Inspector's session picker (search
//! by title, agent, label or id, most recently active first, chosen with
//! the keyboard or the mouse) and the title a person can change.

use dioxus::prelude::*;
use protocol::SessionId;
use protocol::control::SessionSummary;

use crate::commands::Commands;
use crate::connection::Command;
use crate::fields::TextInput;
use crate::format;
use crate::pages::status::ShortId;
use crate::palette::step;
use crate::state::AppState;

/// Most sessions the picker lists at once.
const SHOWN: usize = 12;

/// The sessions whose title, agent, label or id (full or short) holds
/// every word of `query` (any case), most recently active first.
pub fn find_sessions<'a>(
    sessions: impl Iterator<Item = &'a SessionSummary>,
    query: &str,
    limit: usize,
) -> Vec<&'a SessionSummary> {
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    let mut found: Vec<&SessionSummary> = sessions
        .filter(|s| {
            let text = format!(
                "{} {} {} {}",
                s.title,
                s.agent,
                s.label.as_deref().unwrap_or_default(),
                s.id
            )
            .to_lowercase();
            words.iter().all(|word| text.contains(word.as_str()))
        })
        .collect();
    found.sort_unstable_by_key(|s| std::cmp::Reverse((s.last_activity, s.id)));
    found.truncate(limit);
    found
}

/// The session being inspected, by name, with its short id and a way to
/// rename it; and a search to inspect another.
#[component]
pub fn SessionPicker(current: Option<SessionId>) -> Element {
    let state = use_context::<Signal<AppState>>();
    let summary = current.and_then(|id| {
        state
            .read()
            .sessions
            .as_ref()
            .and_then(|all| all.get(&id).cloned())
    });
    rsx! {
        div { class: "picker",
            match (current, summary) {
                (_, Some(session)) => rsx! { TitleLine { key: "{session.id}", session } },
                (Some(id), None) => rsx! { h2 { class: "title", ShortId { id } } },
                (None, None) => rsx! {},
            }
            SessionSearch {}
        }
    }
}

/// A session's title, which a click on Rename (or on the title) makes a
/// field: Enter keeps the new title, Escape the old one, and an empty one
/// gives back the first message.
#[component]
fn TitleLine(session: SessionSummary) -> Element {
    let commands = use_context::<Commands>();
    let mut editing = use_signal(|| None::<String>);
    let id = session.id;
    let (class, word) = format::status(session.status);
    let name = format::session_name(&session);
    let title = session.title.clone();
    let edit = move |_| editing.set(Some(title.clone()));
    rsx! {
        div { class: "title-line",
            match editing() {
                Some(draft) => rsx! {
                    TextInput {
                        name: "title",
                        class: "title-field",
                        aria_label: "Title",
                        placeholder: "A title (empty: the first message)",
                        value: draft,
                        focus: true,
                        oninput: move |text| editing.set(Some(text)),
                        onkeydown: move |event: KeyboardEvent| match event.key() {
                            Key::Enter => {
                                if let Some(title) = editing() {
                                    commands.send(Command::Retitle { session: id, title });
                                }
                                editing.set(None);
                            }
                            Key::Escape => editing.set(None),
                            _ => {}
                        },
                    }
                    span { class: "muted", "Enter keeps it · Esc cancels" }
                },
                None => rsx! {
                    h2 { class: "title", title: "Click to rename", onclick: edit.clone(), "{name}" }
                    button { class: "small rename", title: "F2", onclick: edit, "Rename" }
                },
            }
            ShortId { id }
            span { class: "muted", "{session.agent}" }
            span { class, "{word}" }
            // Where it comes from: a branch's or a replay's origin.
            if let (Some(parent), Some(at)) = (session.parent, session.branched_at) {
                span { class: "muted lineage", "goes on from " ShortId { id: parent } " at #{at}" }
            }
            if let Some(label) = &session.label {
                span { class: "muted label", "{label}" }
            }
        }
    }
}

/// Finds a session to inspect: type any words of its title, agent, label
/// or id; ↑/↓ choose, Enter opens, Escape clears.
#[component]
fn SessionSearch() -> Element {
    let mut state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let mut query = use_signal(String::new);
    let mut open = use_signal(|| false);
    let mut selected = use_signal(|| 0_usize);
    let found: Vec<SessionSummary> = {
        let read = state.read();
        find_sessions(
            read.sessions.iter().flat_map(|s| s.values()),
            &query.read(),
            SHOWN,
        )
        .into_iter()
        .cloned()
        .collect()
    };
    let count = found.len();
    let current = selected().min(count.saturating_sub(1));
    let chosen = found.get(current).map(|s| s.id);
    let mut inspect = move |id: SessionId| {
        state.write().inspected = Some((id, Vec::new()));
        commands.send(Command::Inspect(id));
        query.set(String::new());
        open.set(false);
    };
    rsx! {
        div { class: "session-search",
            onfocusin: move |_| open.set(true),
            onfocusout: move |_| open.set(false),
            TextInput {
                name: "session",
                class: "search",
                aria_label: "Find a session",
                placeholder: "Find a session: title, agent, label or id",
                value: query(),
                oninput: move |text| {
                    query.set(text);
                    selected.set(0);
                    open.set(true);
                },
                onkeydown: move |event: KeyboardEvent| match event.key() {
                    Key::ArrowDown | Key::ArrowUp => {
                        event.prevent_default();
                        selected.set(step(selected(), count, event.key() == Key::ArrowDown));
                    }
                    Key::Enter => {
                        if let Some(id) = chosen {
                            inspect(id);
                        }
                    }
                    Key::Escape => {
                        query.set(String::new());
                        open.set(false);
                    }
                    _ => {}
                },
            }
            if open() {
                ul { class: "found", role: "listbox",
                    for (index, session) in found.into_iter().enumerate() {
                        li {
                            key: "{session.id}",
                            role: "option",
                            class: if index == current { "selected" },
                            aria_selected: index == current,
                            onmouseenter: move |_| selected.set(index),
                            // Before the field's blur closes the list.
                            onmousedown: move |_| inspect(session.id),
                            span { class: "name", {format::session_name(&session)} }
                            code { {session.id.short()} }
                            span { class: "muted", "{session.agent} · {session.status}" }
                        }
                    }
                    if count == 0 {
                        li { class: "empty", "No session matches “{query}”." }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use protocol::Timestamp;

    use super::*;

    fn session(title: &str, agent: &str, label: Option<&str>, active: u64) -> SessionSummary {
        SessionSummary {
            id: SessionId::new(),
            agent: agent.into(),
            label: label.map(Into::into),
            title: title.into(),
            last_activity: Timestamp(active),
            ..test_support::sessions::summary(1)
        }
    }

    #[test]
    fn sessions_are_found_by_any_words_of_title_agent_label_or_id_recent_first() {
        let old = session("Summarise the Q3 report", "writer", Some("line 4"), 10);
        let new = session("Fix the flaky test", "coder", None, 30);
        let mid = session("Summarise the Q4 report", "writer", None, 20);
        let all = [old.clone(), new.clone(), mid.clone()];
        let names = |query: &str| -> Vec<&str> {
            find_sessions(all.iter(), query, 10)
                .iter()
                .map(|s| s.title.as_str())
                .collect()
        };
        assert_eq!(
            names(""),
            [new.title.as_str(), &mid.title, &old.title],
            "most recently active first"
        );
        assert_eq!(names("summarise REPORT"), [mid.title.as_str(), &old.title]);
        assert_eq!(names("writer line"), [old.title.as_str()]);
        assert_eq!(names(&new.id.short()), [new.title.as_str()]);
        assert_eq!(names(&old.id.to_string()), [old.title.as_str()]);
        assert!(names("nothing like it").is_empty());
        assert_eq!(find_sessions(all.iter(), "", 2).len(), 2);
    }

    #[test]
    fn a_session_without_a_title_is_called_by_its_label_or_what_it_is() {
        let mut run = session("", "writer", Some("batch line 3"), 1);
        assert_eq!(format::session_name(&run), "batch line 3");
        run.label = None;
        assert_eq!(format::session_name(&run), "run of writer");
        run.title = "Draft the launch post".into();
        assert_eq!(format::session_name(&run), "Draft the launch post");
    }
}
