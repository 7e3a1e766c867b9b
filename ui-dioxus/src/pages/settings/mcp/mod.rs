//! MCP servers on the Settings page: the list (test, remove, sign in to
//! or out of an HTTP server that asks for OAuth), the form
//! that adds one and the import of an `mcpServers` document
//! ([`forms`]), over the add form's draft ([`draft`]); what a sign-in
//! shows ([`sign_in`]).
//!
//! Environment variables and headers are secrets: typed into the form,
//! sent once with the server, then cleared; the store only ever holds
//! their names ([`crate::state::McpSummary`]).

mod draft;
mod forms;
mod sign_in;

use dioxus::prelude::*;

pub use draft::{McpDraft, McpKind};
pub use forms::{McpAddForm, McpImportForm, import_problem};
pub(super) use sign_in::PluginSignIn;
use sign_in::sign_in_note;

use crate::commands::Commands;
use crate::connection::Command;
use crate::state::{AppState, SignIn};

/// MCP servers: test or forget one, add one, import a document.
#[component]
pub(super) fn McpServers() -> Element {
    let state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let servers = state.read().settings.mcp.clone();
    let tests = state.read().settings.mcp_tests.clone();
    let sign_ins = state.read().settings.mcp_sign_ins.clone();
    let signed_in: Vec<bool> = servers
        .iter()
        .map(|server| {
            super::secrets::place(
                state.read().settings.secrets.as_ref(),
                &format!("mcp-oauth/{}", server.name),
            )
            .is_some()
        })
        .collect();
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
                    for ((server, place), signed_in) in servers.into_iter().zip(places).zip(signed_in) {
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
                            td { class: "sign-in",
                                {sign_in_note(server.http, signed_in, sign_ins.get(&server.name))}
                                if let Some(SignIn::Waiting(Some(url))) = sign_ins.get(&server.name) {
                                    " "
                                    a { href: "{url}", target: "_blank", rel: "noopener noreferrer", "open the sign-in page" }
                                }
                            }
                            td {
                                button { r#type: "button", onclick: { let name = server.name.clone(); move |_| commands.send(Command::TestMcp(name.clone())) }, "Test" }
                                if server.http {
                                    button { r#type: "button", disabled: matches!(sign_ins.get(&server.name), Some(SignIn::Waiting(_))), onclick: { let name = server.name.clone(); move |_| commands.send(Command::SignInMcp(name.clone())) }, "Sign in" }
                                }
                                if signed_in {
                                    button { r#type: "button", onclick: { let name = server.name.clone(); move |_| commands.send(Command::SignOutMcp(name.clone())) }, "Sign out" }
                                }
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
