//! MCP servers on the Settings page: the list (test, remove), the form
//! that adds one and the import of an `mcpServers` document
//! ([`forms`]), over the add form's draft ([`draft`]).
//!
//! Environment variables and headers are secrets: typed into the form,
//! sent once with the server, then cleared; the store only ever holds
//! their names ([`crate::state::McpSummary`]).

mod draft;
mod forms;

use dioxus::prelude::*;

pub use draft::{McpDraft, McpKind};
pub use forms::{McpAddForm, McpImportForm, import_problem};

use crate::commands::Commands;
use crate::connection::Command;
use crate::state::AppState;

/// MCP servers: test or forget one, add one, import a document.
#[component]
pub(super) fn McpServers() -> Element {
    let state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let servers = state.read().settings.mcp.clone();
    let tests = state.read().settings.mcp_tests.clone();
    let places: Vec<Option<&str>> = servers
        .iter()
        .map(|server| {
            super::secrets::place(
                state.read().settings.secrets.as_ref(),
                &format!("mcp/{}", server.name),
            )
        })
        .collect();
    rsx! {
        section { id: "settings-mcp",
            h3 { "MCP servers" }
            if servers.is_empty() {
                p { class: "muted", "None yet: add one below, or import a Claude Desktop, Cursor or VS Code configuration." }
            }
            table {
                tbody {
                    for (server, place) in servers.into_iter().zip(places) {
                        tr { key: "{server.name}",
                            td { "{server.name}" }
                            td { code { "{server.transport}" } }
                            td { class: "muted", {place.map(|place| format!("secrets {place}")).unwrap_or_default()} }
                            td { class: "muted", "{server.startup_timeout_secs} s / {server.call_timeout_secs} s" }
                            td {
                                match tests.get(&server.name) {
                                    Some(Ok(tools)) => format!("ok: {} tools", tools.len()),
                                    Some(Err(why)) => format!("failed: {why}"),
                                    None => String::new(),
                                }
                            }
                            td {
                                button { r#type: "button", onclick: { let name = server.name.clone(); move |_| commands.send(Command::TestMcp(name.clone())) }, "Test" }
                                button { r#type: "button", onclick: { let name = server.name.clone(); move |_| commands.send(Command::RemoveMcp(name.clone())) }, "Remove" }
                            }
                        }
                    }
                }
            }
            McpAddForm {}
            McpImportForm {}
        }
    }
}
