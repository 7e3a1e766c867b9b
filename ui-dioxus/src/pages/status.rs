//! A session's status as every page shows it, with the damage that made
//! it `corrupt` spelled out (what does not decode, and what to run), and
//! how long a `waiting` one has waited for a person and until when.

use dioxus::prelude::*;
use protocol::Timestamp;
use protocol::control::SessionSummary;

use crate::format;

/// The status word, coloured; below it, the damage when a record of the
/// session does not decode, or the wait when a call waits for a person.
#[component]
pub fn StatusCell(session: SessionSummary, now: Timestamp) -> Element {
    let (class, word) = format::status(session.status);
    let title = session.damage.clone();
    rsx! {
        span { class, title, "{word}" }
        if let Some(damage) = session.damage {
            div { class: "damage", "{damage}" }
        }
        if let Some(waiting) = session.waiting {
            div { class: "muted waited",
                {format::count(waiting.calls as usize, "call", "calls")}
                " for "
                time { title: "{waiting.since}", {format::duration(now.0.saturating_sub(waiting.since.0))} }
                ", denied "
                time { title: "{waiting.decided_by}", {format::until(waiting.decided_by, now)} }
                " if unanswered"
            }
        }
    }
}

/// Why a session is marked corrupt, and what to do about it.
#[component]
pub fn DamageNote(damage: String) -> Element {
    rsx! {
        p { class: "damage-note", role: "note",
            strong { "Part of this session's stored data is damaged: " }
            "{damage}. "
            code { "studio daemon check" }
            " lists every damaged record; "
            code { "studio daemon salvage" }
            " copies every readable one to a new file."
        }
    }
}
