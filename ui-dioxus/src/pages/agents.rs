//! Agents: a card per agent with its provider, model, tools and last use.

use dioxus::prelude::*;
use protocol::Timestamp;

use crate::format;
use crate::state::AppState;

/// The Agents page.
#[component]
pub fn AgentsPage() -> Element {
    let state = use_context::<Signal<AppState>>();
    let state = state.read();
    let Some(agents) = &state.agents else {
        return rsx! { p { class: "empty", "Loading agents…" } };
    };
    if agents.is_empty() {
        return rsx! {
            p { class: "empty",
                "No agents yet. Create one with "
                code { "studio agent create NAME --provider openai --model gpt-4o-mini" }
                "."
            }
        };
    }
    let last_used = |name: &str| -> Option<Timestamp> {
        state
            .sessions
            .iter()
            .flat_map(|s| s.values())
            .filter(|s| s.agent == name)
            .map(|s| s.created_at)
            .max()
    };
    rsx! {
        div { class: "cards",
            for agent in agents.iter() {
                div { class: "card", key: "{agent.name}",
                    h3 { "{agent.name}" }
                    p { "{agent.provider} · {agent.model}" }
                    p { class: "muted",
                        {format::count(agent.tools.len(), "tool", "tools")}
                        " · "
                        {format::count(agent.mcp_servers.len(), "MCP server", "MCP servers")}
                        " · {agent.safety}"
                    }
                    p { class: "muted",
                        match last_used(&agent.name) {
                            Some(at) => format!("last used {at}"),
                            None => "never used".to_owned(),
                        }
                    }
                }
            }
        }
    }
}
