//! What the Inspector does with the whole session it shows: compare it
//! with the session it goes on from (a branch, a replay), and export it as
//! a Markdown transcript or as the JSON lines `studio export` writes
//! (saved by [`crate::saving`]), or delete it (`pages::deleting`).

use dioxus::prelude::*;
use protocol::SessionId;

use super::deleting::{DeleteButton, DeleteTarget};
use crate::commands::Commands;
use crate::connection::{Command, ExportFormat};
use crate::state::{AppState, ExportedFrom};

/// Compare with its origin, and Export.
#[component]
pub fn SessionActions(session: SessionId) -> Element {
    let state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let parent = state
        .read()
        .sessions
        .as_ref()
        .and_then(|all| all.get(&session))
        .and_then(|s| s.parent);
    let saved = state
        .read()
        .exported
        .as_ref()
        .filter(|e| e.from == ExportedFrom::Session(session))
        .and(state.read().export_saved.clone());
    let export = move |format| commands.send(Command::Export { session, format });
    rsx! {
        div { class: "session-actions",
            if let Some(parent) = parent {
                button { class: "compare-origin",
                    title: "this session and the one it goes on from, side by side",
                    onclick: move |_| commands.compare(state, vec![parent, session]),
                    "Compare with its origin"
                }
            }
            button { class: "export-md", title: "a transcript for people: messages, tool calls with their decisions and results, errors, figures",
                onclick: move |_| export(ExportFormat::Markdown), "Export Markdown" }
            button { class: "export-jsonl", title: "every event as JSON lines, as studio export writes them",
                onclick: move |_| export(ExportFormat::JsonLines), "Export JSON lines" }
            DeleteButton { target: DeleteTarget::Session(session) }
            match saved {
                Some(Ok(place)) => rsx! { span { class: "muted export-saved", role: "status", "Saved: {place}" } },
                Some(Err(why)) => rsx! { span { class: "problem", role: "status", "Not saved: {why}" } },
                None => rsx! {},
            }
        }
    }
}
