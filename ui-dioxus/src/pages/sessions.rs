//! Sessions: the interactive sessions (`studio chat`), newest first, with
//! their last activity and the session each was branched from, and
//! the open one as a chat: streamed answers, tool calls inline with their
//! state, inline approval (once, always for the session, deny), a message
//! box, End and Resume.

use dioxus::prelude::*;
use protocol::Timestamp;
use protocol::control::SessionSummary;

use crate::app_views::{AppFrame, PanelView};
use crate::commands::Commands;
use crate::connection::Command;
use crate::conversation::{self, CallState, Item, Said};
use crate::fields::TextArea;
use crate::format;
use crate::pages::compare::{ComparePicked, CompareTick};
use crate::pages::status::{ShortId, StatusCell};
use crate::state::{AppState, Page};

/// The Sessions page.
#[component]
pub fn SessionsPage() -> Element {
    let state = use_context::<Signal<AppState>>();
    if state.read().sessions.is_none() {
        return rsx! { p { class: "empty", "Loading sessions…" } };
    }
    let sessions: Vec<SessionSummary> = state
        .read()
        .sessions_newest_first(true)
        .into_iter()
        .cloned()
        .collect();
    let open = state
        .read()
        .inspected
        .as_ref()
        .map(|(id, _)| *id)
        .and_then(|id| sessions.iter().find(|s| s.id == id).cloned());
    if sessions.is_empty() {
        return rsx! {
            p { class: "empty",
                "No interactive sessions yet. Start one from an agent card, or with "
                code { "studio chat AGENT" }
                "."
            }
        };
    }
    rsx! {
        div { class: "split",
            SessionList { sessions }
            match open {
                Some(session) => rsx! { ChatView { key: "{session.id}", session } },
                None => rsx! { p { class: "muted", "Open a session to chat." } },
            }
        }
    }
}

/// The sessions, each with Open and Inspect.
#[component]
fn SessionList(sessions: Vec<SessionSummary>) -> Element {
    let mut state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let now = state.read().now;
    rsx! {
        div { class: "session-list",
        ComparePicked {}
        table {
            thead { tr { th { "id" } th { "title" } th { "agent" } th { "status" } th { "events" } th { "last activity" } th { "branched from" } th {} } }
            tbody {
                for session in sessions {
                    tr { key: "{session.id}",
                        td { CompareTick { id: session.id } ShortId { id: session.id } }
                        td { class: "name", {format::session_name(&session)} }
                        td { "{session.agent}" }
                        td { StatusCell { session: session.clone(), now } }
                        td { class: "num", "{session.events}" }
                        td { class: "num", time { title: "{session.last_activity}", {format::ago(session.last_activity, now)} } }
                        td {
                            if let Some(parent) = session.parent {
                                ShortId { id: parent }
                                if let Some(at) = session.branched_at {
                                    span { class: "muted", " at #{at}" }
                                }
                            }
                        }
                        td {
                            button {
                                onclick: move |_| {
                                    state.write().inspected = Some((session.id, Vec::new()));
                                    commands.send(Command::Inspect(session.id));
                                },
                                "Open"
                            }
                            button {
                                onclick: move |_| {
                                    let mut state = state.write();
                                    state.inspected = Some((session.id, Vec::new()));
                                    state.page = Page::Inspector;
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
}

/// The open session as a chat.
#[component]
fn ChatView(session: SessionSummary) -> Element {
    let mut state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let mut draft = use_signal(String::new);
    let items = state
        .read()
        .inspected
        .as_ref()
        .map(|(_, events)| conversation::timed_items(events))
        .unwrap_or_default();
    let id = session.id;
    // A branch: what it goes on from is loaded once per branch shown.
    let branch = session.parent.zip(session.branched_at);
    use_effect(use_reactive((&id, &branch), move |(id, branch)| {
        let Some((parent, at)) = branch else { return };
        let loaded = state.peek().inherited.as_ref().map(|(open, _)| *open);
        if loaded != Some(id) {
            state.write().inherited = Some((id, Vec::new()));
            commands.send(Command::Inherit {
                branch: id,
                parent,
                at,
            });
        }
    }));
    let inherited: Vec<Said> = state
        .read()
        .inherited
        .as_ref()
        .filter(|(open, _)| *open == id)
        .map(|(_, events)| conversation::timed_items(events))
        .unwrap_or_default()
        .into_iter()
        .filter(|said| matches!(said.item, Item::User(_) | Item::Assistant { .. }))
        .collect();
    // The calls' arguments, for their views' tool-input; the plugins'
    // panels (the newest of each), drawn above the conversation.
    let inputs: std::collections::HashMap<String, String> = items
        .iter()
        .filter_map(|said| match &said.item {
            Item::Tool {
                call_id, arguments, ..
            } => Some((call_id.clone(), arguments.clone())),
            _ => None,
        })
        .collect();
    let mut panels: Vec<Box<protocol::app_view::AppView>> = Vec::new();
    for said in &items {
        if let Item::View(view) = &said.item
            && view.call_id.is_none()
        {
            panels.retain(|p| (&p.server, &p.uri) != (&view.server, &view.uri));
            panels.push(view.clone());
        }
    }
    let now = state.read().now;
    let idle = session.status == protocol::SessionStatus::Idle;
    let ended = session.status.is_terminal();
    let mut send = move || {
        let text = draft.read().trim().to_owned();
        if !text.is_empty() {
            commands.send(Command::Say { session: id, text });
            draft.set(String::new());
            // Back to the box (after a click on Send), for the next message.
            document::eval("document.querySelector('.chat textarea[name=message]')?.focus()");
        }
    };
    rsx! {
        div { class: "chat",
            h3 { "{session.agent} " span { class: format::status(session.status).0, "{format::status(session.status).1}" } }
            if let (Some(parent), Some(at)) = (session.parent, session.branched_at) {
                p { class: "muted branched",
                    "Goes on from the conversation of {parent} up to event #{at}. "
                    button { r#type: "button",
                        onclick: move |_| {
                            let mut state = state.write();
                            state.inspected = Some((parent, Vec::new()));
                            state.page = Page::Inspector;
                            commands.send(Command::Inspect(parent));
                        },
                        "Inspect it"
                    }
                }
            }
            if !panels.is_empty() {
                div { class: "panels",
                    for panel in panels {
                        PanelView { key: "{panel.server}-{panel.uri}", session: id, view: panel }
                    }
                }
            }
            div { class: "messages",
                if !inherited.is_empty() {
                    div { class: "inherited",
                        for (index, said) in inherited.into_iter().enumerate() {
                            ChatItem { key: "inherited-{index}", item: said.item, at: said.at, ago: format::ago(said.at, now) }
                        }
                    }
                }
                for (index, said) in items.into_iter().enumerate() {
                    if let Item::View(view) = said.item {
                        if let Some(call_id) = view.call_id.clone() {
                            AppFrame {
                                key: "view-{call_id}",
                                session: id,
                                frame: "call-{call_id}",
                                input: inputs.get(&call_id).cloned(),
                                view,
                                closing: false,
                                on_closed: |()| {},
                            }
                        }
                    } else {
                        ChatItem { key: "{index}", item: said.item, at: said.at, ago: format::ago(said.at, now) }
                    }
                }
            }
            if ended {
                div { class: "buttons",
                    button { onclick: move |_| commands.send(Command::ResumeChat(id)), "Resume" }
                }
            } else {
                div { class: "composer",
                    TextArea {
                        name: "message",
                        placeholder: if idle { "Message (Ctrl+Enter sends)" } else { "The agent is working…" },
                        value: draft(),
                        focus: true,
                        oninput: move |text| draft.set(text),
                        onkeydown: move |event: KeyboardEvent| {
                            if event.key() == Key::Enter && event.modifiers().ctrl() {
                                send();
                            }
                        },
                    }
                    div { class: "buttons",
                        button { disabled: !idle, onclick: move |_| send(), "Send" }
                        button { onclick: move |_| commands.send(Command::EndChat(id)), "End" }
                    }
                }
            }
        }
    }
}

/// One item of the chat, with how long ago it began (the exact time on
/// hover). Given the text rather than the clock, it is drawn again only
/// when that text changes.
#[component]
fn ChatItem(item: Item, at: Timestamp, ago: String) -> Element {
    let commands = use_context::<Commands>();
    let when = rsx! { time { class: "when", title: "{at}", "{ago}" } };
    match item {
        Item::User(text) => {
            rsx! { div { class: "msg user", span { class: "text", "{text}" } {when} } }
        }
        Item::Assistant { text, streaming } => rsx! {
            div { class: if streaming { "msg assistant streaming" } else { "msg assistant" },
                span { class: "text", "{text}" }
                {when}
            }
        },
        Item::Notice(text) => rsx! { div { class: "msg notice", "{text} " {when} } },
        // Drawn by the chat itself, in their frames.
        Item::View(_) => rsx! {},
        Item::Tool {
            tool,
            arguments,
            state,
            ..
        } => {
            let (class, status) = match &state {
                CallState::Requested => ("tool waiting", "deciding…".to_owned()),
                CallState::Asking(_) => ("tool asking", "waiting for you".to_owned()),
                CallState::Approved(by) => ("tool running", format!("approved {by}")),
                CallState::Running => ("tool running", "running".to_owned()),
                CallState::Done(output) => ("tool done", format!("✓ {}", format::one_line(output))),
                CallState::Failed(message) => {
                    ("tool failed", format!("✗ {}", format::one_line(message)))
                }
                CallState::Denied(why) => ("tool failed", why.clone()),
            };
            rsx! {
                div { class: "msg {class}",
                    code { "{tool} {format::one_line(&arguments)}" }
                    span { class: "call-status", " {status}" }
                    {when}
                    if let CallState::Asking(id) = state {
                        div { class: "buttons",
                            button { onclick: move |_| commands.send(Command::Answer { id, approve: true, remember: false }), "Approve once" }
                            button { onclick: move |_| commands.send(Command::Answer { id, approve: true, remember: true }), "Always for this session" }
                            button { onclick: move |_| commands.send(Command::Answer { id, approve: false, remember: false }), "Deny" }
                        }
                    }
                }
            }
        }
    }
}
