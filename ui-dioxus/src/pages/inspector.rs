//! Inspector: one session's events as they were recorded, live while it runs.

use dioxus::prelude::*;

use crate::format;
use crate::state::AppState;

/// The Inspector page.
#[component]
pub fn InspectorPage() -> Element {
    let state = use_context::<Signal<AppState>>();
    let read = state.read();
    let Some((session, events)) = &read.inspected else {
        return rsx! {
            p { class: "empty", "Pick a session to inspect: the Inspect button in Runs or Sessions." }
        };
    };
    rsx! {
        h3 { "Session " code { "{session}" } " · {events.len()} events" }
        table { class: "events",
            tbody {
                for event in events.iter() {
                    tr { key: "{event.seq}",
                        td { class: "num", "{event.seq}" }
                        td { "{event.at}" }
                        td { "{event.kind.name()}" }
                        td { {format::event_detail(&event.kind)} }
                    }
                }
            }
        }
    }
}
