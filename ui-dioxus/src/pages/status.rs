//! A session's id and status as every page shows them: the short id that
//! copies the full one on a click; the status with the damage that made it
//! `corrupt` spelled out (what does not decode, and what to run), and how
//! long a `waiting` one has waited for a person and until when.

use dioxus::prelude::*;
use protocol::control::SessionSummary;
use protocol::{SessionId, Timestamp};

/// A session's short id (its last 8 hex digits, which the CLI takes too);
/// a click copies the full id to the clipboard.
#[component]
pub fn ShortId(id: SessionId) -> Element {
    let mut copied = use_signal(|| false);
    let full = id.to_string();
    let title = if copied() {
        format!("{full} (copied)")
    } else {
        format!("{full} (click to copy)")
    };
    rsx! {
        button { class: if copied() { "id copied" } else { "id" }, title, "data-id": "{full}",
            onclick: move |event| {
                event.stop_propagation();
                copy_to_clipboard(&id.to_string());
                copied.set(true);
            },
            onmouseleave: move |_| copied.set(false),
            code { {id.short()} }
        }
    }
}

/// Puts `text` on the clipboard: the Clipboard API where the page may use
/// it, else a selected hidden field and the copy command.
fn copy_to_clipboard(text: &str) {
    let text = serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned());
    document::eval(&format!(
        "const text = {text};
         const fallback = () => {{
           const field = document.createElement('textarea');
           field.value = text; document.body.appendChild(field); field.select();
           document.execCommand('copy'); field.remove();
         }};
         if (navigator.clipboard && window.isSecureContext) {{
           navigator.clipboard.writeText(text).catch(fallback);
         }} else {{ fallback(); }}"
    ));
}

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
