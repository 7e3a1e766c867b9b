//! Runs: every headless run live (status, events, tokens, cost, memory,
//! duration), with Cancel and Kill, and the approvals inbox shared by all
//! of them.

use dioxus::prelude::*;
use protocol::control::SessionSummary;
use protocol::{SessionStatus, Timestamp};

use crate::commands::Commands;
use crate::connection::Command;
use crate::format;
use crate::pages::RunForm;
use crate::pages::status::{ShortId, StatusCell};
use crate::state::{AppState, Page};

/// The Runs page.
#[component]
pub fn RunsPage() -> Element {
    let state = use_context::<Signal<AppState>>();
    let read = state.read();
    if read.sessions.is_none() {
        return rsx! { p { class: "empty", "Loading runs…" } };
    }
    let runs: Vec<SessionSummary> = read
        .sessions_newest_first(false)
        .into_iter()
        .cloned()
        .collect();
    let queued = runs
        .iter()
        .filter(|r| r.status == SessionStatus::Queued)
        .count();
    let live = runs
        .iter()
        .filter(|r| !r.status.is_terminal() && r.status != SessionStatus::Queued)
        .count();
    let failed = runs
        .iter()
        .filter(|r| {
            matches!(
                r.status,
                SessionStatus::Failed | SessionStatus::Crashed | SessionStatus::Killed
            )
        })
        .count();
    let now = read.now;
    let has_agents = read.agents.as_ref().is_some_and(|a| !a.is_empty());
    rsx! {
        ApprovalsInbox {}
        if has_agents {
            RunForm {}
        }
        if runs.is_empty() {
            p { class: "empty",
                "No runs yet. Start one with "
                code { "studio run AGENT --prompt TEXT" }
                "."
            }
        } else {
            p { class: "counts",
                span { "{runs.len()} runs" }
                span { "{live} live" }
                span { "{queued} queued" }
                span { "{failed} failed, crashed or killed" }
            }
            table {
                thead {
                    tr {
                        th { "id" } th { "run" } th { "agent" } th { "status" }
                        th { "events" } th { "tokens" } th { "cost" } th { "memory" } th { "duration" } th {}
                    }
                }
                tbody {
                    for run in runs {
                        RunRow { key: "{run.id}", run, now }
                    }
                }
            }
        }
    }
}

/// Why a figure starts with `≈`.
const ESTIMATE_HINT: &str = "≈ estimated from the text sent and streamed, for responses whose usage has not arrived (or never will: cut short)";

/// One run.
#[component]
fn RunRow(run: SessionSummary, now: Timestamp) -> Element {
    let commands = use_context::<Commands>();
    let mut state = use_context::<Signal<AppState>>();
    let id = run.id;
    let live = !run.status.is_terminal();
    let spent_hint = (!run.estimated.is_empty()).then_some(ESTIMATE_HINT);
    rsx! {
        tr {
            td { ShortId { id } }
            td { class: "name",
                {format::session_name(&run)}
                if let Some(label) = run.label.clone().filter(|l| *l != format::session_name(&run)) {
                    div { class: "muted", "{label}" }
                }
            }
            td { "{run.agent}" }
            td { StatusCell { session: run.clone(), now } }
            td { class: "num", "{run.events}" }
            td { class: "num", title: spent_hint, {format::session_tokens(&run)} }
            td { class: "num", title: spent_hint, {format::session_cost(&run)} }
            td { class: "num", {run.rss_bytes.map(format::bytes).unwrap_or_default()} }
            td { class: "num", {format::elapsed(run.started_at, run.ended_at, now)} }
            td {
                if live {
                    button { onclick: move |_| commands.send(Command::Cancel(id)), "Cancel" }
                    button { onclick: move |_| commands.send(Command::Kill(id)), "Kill" }
                }
                button {
                    onclick: move |_| {
                        state.write().inspected = Some((id, Vec::new()));
                        state.write().page = Page::Inspector;
                        commands.send(Command::Inspect(id));
                    },
                    "Inspect"
                }
                if !live {
                    button { title: "start it again, as it was started",
                        onclick: move |_| commands.send(Command::Replay(id)), "Run again" }
                }
            }
        }
    }
}

/// Tool calls waiting for a person, across every session.
#[component]
pub fn ApprovalsInbox() -> Element {
    let state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let pending = state.read().approvals.clone();
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
                            td { code { "{call.session}" } }
                            td { "{call.agent}" }
                            td { code { "{call.tool} {call.arguments}" } }
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
