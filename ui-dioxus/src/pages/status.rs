//! A session's status as every page shows it, with the damage that made
//! it `corrupt` spelled out (what does not decode, and what to run).

use dioxus::prelude::*;
use protocol::SessionStatus;

use crate::format;

/// The status word, coloured; with the damage below it when a record of
/// the session does not decode.
#[component]
pub fn StatusCell(status: SessionStatus, damage: Option<String>) -> Element {
    let (class, word) = format::status(status);
    let title = damage.clone();
    rsx! {
        span { class, title, "{word}" }
        if let Some(damage) = damage {
            div { class: "damage", "{damage}" }
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
