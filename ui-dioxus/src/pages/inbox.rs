//! The approvals inbox: every tool call waiting for a person, across
//! sessions, with Approve once, Always for this session, and Deny.

use dioxus::prelude::*;

use crate::commands::Commands;
use crate::connection::Command;
use crate::format;
use crate::pages::status::ShortId;
use crate::state::AppState;

/// Tool calls waiting for a person, across every session.
#[component]
pub fn ApprovalsInbox() -> Element {
    let state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let pending = state.read().approvals.clone();
    let now = state.read().now;
    if pending.is_empty() {
        return rsx! {};
    }
    rsx! {
        section { class: "inbox",
            h3 { "Waiting for you ({pending.len()})" }
            table {
                tbody {
                    for call in pending {
                        tr { key: "{call.id}",
                            td { "#{call.id}" }
                            td { ShortId { id: call.session } }
                            td { "{call.agent}" }
                            td { code { "{call.tool} {call.arguments}" } }
                            td { class: "muted",
                                "asked "
                                time { title: "{call.requested_at}", {format::ago(call.requested_at, now)} }
                                ", denied "
                                time { title: "{call.expires_at}", {format::until(call.expires_at, now)} }
                                " if unanswered"
                            }
                            td {
                                button {
                                    onclick: move |_| commands.send(Command::Answer { id: call.id, approve: true, remember: false }),
                                    "Approve once"
                                }
                                button {
                                    onclick: move |_| commands.send(Command::Answer { id: call.id, approve: true, remember: true }),
                                    "Always for this session"
                                }
                                button {
                                    onclick: move |_| commands.send(Command::Answer { id: call.id, approve: false, remember: false }),
                                    "Deny"
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
