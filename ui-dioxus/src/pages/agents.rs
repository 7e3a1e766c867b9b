//! Agents: a card per agent with its provider, model, tools and last use,
//! the buttons that start it, and the form that creates one.

use dioxus::prelude::*;
use protocol::{AgentConfig, Timestamp};

use crate::commands::Commands;
use crate::connection::Command;
use crate::format;
use crate::pages::AgentForm;
use crate::pages::agent_files::{AgentImport, agent_export};
use crate::state::{AppState, ExportedFrom, Page};
use studio_client::agent_file::FileFormat;

/// The Agents page.
#[component]
pub fn AgentsPage() -> Element {
    let mut state = use_context::<Signal<AppState>>();
    let creating = state.read().creating_agent;
    let mut gallery = use_signal(|| false);
    let mut importing = use_signal(|| false);
    let read = state.read();
    let Some(agents) = &read.agents else {
        return rsx! { p { class: "empty", "Loading agents…" } };
    };
    let last_used = |name: &str| -> Option<Timestamp> {
        read.sessions
            .iter()
            .flat_map(|s| s.values())
            .filter(|s| s.agent == name)
            .map(|s| s.created_at)
            .max()
    };
    rsx! {
        div { class: "toolbar",
            button { onclick: move |_| state.write().creating_agent = true, "New agent" }
            button { class: "toggle", aria_expanded: "{gallery()}", onclick: move |_| gallery.toggle(), "Templates" }
            button { class: "toggle", aria_expanded: "{importing()}", onclick: move |_| importing.toggle(), "Import" }
        }
        if importing() {
            AgentImport { on_done: move |()| importing.set(false) }
        }
        if creating {
            AgentForm { editing: None, on_done: move |()| state.write().creating_agent = false }
        }
        if agents.is_empty() {
            p { class: "empty",
                "No agents yet. Start from a template below, create one here, or with "
                code { "studio template use code-reviewer" }
                "."
            }
        }
        if gallery() || agents.is_empty() {
            super::templates::TemplateGallery {}
        }
        div { class: "cards",
            for agent in agents.iter() {
                AgentCard { key: "{agent.name}", agent: agent.clone(), last_used: last_used(&agent.name), now: read.now }
            }
        }
    }
}

/// One agent.
#[component]
fn AgentCard(agent: AgentConfig, last_used: Option<Timestamp>, now: Timestamp) -> Element {
    let commands = use_context::<Commands>();
    let mut state = use_context::<Signal<AppState>>();
    let mut confirming = use_signal(|| false);
    let mut editing = use_signal(|| false);
    let name = agent.name.clone();
    let edited = agent.clone();
    let (run_name, chat_name, remove_name) = (name.clone(), name.clone(), name.clone());
    let exported_agent = agent.clone();
    let export = Callback::new(move |format: FileFormat| {
        let made = agent_export(&exported_agent, &state.read().settings.rules, format);
        let mut state = state.write();
        match made {
            Ok(exported) => {
                state.exported = Some(Box::new(exported));
                state.export_saved = None;
            }
            Err(why) => state
                .errors
                .push(format!("cannot export {}: {why}", exported_agent.name)),
        }
    });
    let saved = state
        .read()
        .exported
        .as_ref()
        .filter(|e| e.from == ExportedFrom::Agent(name.clone()))
        .and(state.read().export_saved.clone());
    rsx! {
        div { class: "card",
            h3 { "{agent.shown_name()}" }
            if !agent.display_name.is_empty() {
                p { class: "muted short-name", code { "{agent.name}" } }
            }
            if !agent.description.is_empty() {
                p { class: "description", "{agent.description}" }
            }
            p { "{agent.provider} · {agent.model}" }
            p { class: "muted",
                {format::count(agent.tools.len(), "tool", "tools")}
                " · "
                {format::count(agent.mcp_servers.len(), "MCP server", "MCP servers")}
                " · {agent.safety}"
            }
            p { class: "muted",
                match last_used {
                    // Relative, the exact time on hover.
                    Some(at) => rsx! { "last used " time { title: "{at}", "{format::ago(at, now)}" } },
                    None => rsx! { "never used" },
                }
            }
            if editing() {
                AgentForm { editing: Some(edited), on_done: move |()| editing.set(false) }
            }
            div { class: "buttons",
                button {
                    onclick: move |_| commands.send(Command::OpenChat(chat_name.clone())),
                    "Start session"
                }
                button {
                    onclick: move |_| {
                        let mut state = state.write();
                        state.run_agent = Some(run_name.clone());
                        state.runs_form_open = true;
                        state.page = Page::Runs;
                    },
                    "Run"
                }
                button { onclick: move |_| editing.toggle(), "Edit" }
                button { class: "export", onclick: move |_| export.call(FileFormat::Toml), "Export TOML" }
                button { class: "export", onclick: move |_| export.call(FileFormat::Json), "Export JSON" }
                if confirming() {
                    button { class: "danger",
                        onclick: move |_| {
                            commands.send(Command::RemoveAgent(remove_name.clone()));
                            confirming.set(false);
                        },
                        "Delete {name}?"
                    }
                    button { onclick: move |_| confirming.set(false), "Keep" }
                } else {
                    button { onclick: move |_| confirming.set(true), "Delete" }
                }
            }
            match saved {
                Some(Ok(place)) => rsx! { p { class: "muted saved", role: "status", "Saved: {place}" } },
                Some(Err(why)) => rsx! { p { class: "problem", role: "alert", "Not saved: {why}" } },
                None => rsx! {},
            }
        }
    }
}
