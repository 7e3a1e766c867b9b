//! Sessions: the interactive sessions (`studio chat`), newest first.

use dioxus::prelude::*;

use crate::app::Commands;
use crate::connection::Command;
use crate::format;
use crate::pages::runs::ApprovalsInbox;
use crate::state::{AppState, Page};

/// The Sessions page.
#[component]
pub fn SessionsPage() -> Element {
    let mut state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    if state.read().sessions.is_none() {
        return rsx! { p { class: "empty", "Loading sessions…" } };
    }
    let sessions: Vec<_> = state
        .read()
        .sessions_newest_first(true)
        .into_iter()
        .cloned()
        .collect();
    if sessions.is_empty() {
        return rsx! {
            p { class: "empty",
                "No interactive sessions yet. Start one with "
                code { "studio chat AGENT" }
                "."
            }
        };
    }
    rsx! {
        ApprovalsInbox {}
        table {
            thead { tr { th { "id" } th { "agent" } th { "status" } th { "events" } th { "started" } th {} } }
            tbody {
                for session in sessions {
                    tr { key: "{session.id}",
                        td { code { "{session.id}" } }
                        td { "{session.agent}" }
                        td { span { class: format::status(session.status).0, "{format::status(session.status).1}" } }
                        td { class: "num", "{session.events}" }
                        td { {session.started_at.map(|t| t.to_string()).unwrap_or_default()} }
                        td {
                            button {
                                onclick: move |_| {
                                    state.write().inspected = Some((session.id, Vec::new()));
                                    state.write().page = Page::Inspector;
                                    commands.send(Command::Inspect(session.id));
                                },
                                "Inspect"
                            }
                        }
                    }
                }
            }
        }
    }
}
