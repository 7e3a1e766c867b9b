//! The form that creates an agent: every field of `AgentConfig` a person
//! sets by hand, with the model picked from the provider's live list.

use dioxus::prelude::*;
use protocol::agent::BUILTIN_TOOLS;
use protocol::{AgentConfig, ProviderKind, SafetyMode};

use crate::app::Commands;
use crate::connection::Command;
use crate::state::AppState;

const SAFETY_MODES: [SafetyMode; 3] = [
    SafetyMode::ReadOnly,
    SafetyMode::WorkspaceWrite,
    SafetyMode::Full,
];

/// What the form holds; `agent` builds the config from it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentDraft {
    /// Agent name.
    pub name: String,
    /// Provider.
    pub provider: ProviderKind,
    /// Model (empty: the provider's default).
    pub model: String,
    /// Another address for the provider (OpenAI-compatible servers, Ollama).
    pub base_url: String,
    /// System prompt.
    pub system_prompt: String,
    /// Built-in tools chosen.
    pub tools: Vec<String>,
    /// What the tools may do.
    pub safety: SafetyMode,
    /// MCP servers, comma-separated.
    pub mcp_servers: String,
    /// Budget: US dollars per session (empty: none).
    pub max_cost_usd: String,
    /// Budget: wall-clock seconds per session (empty: none).
    pub max_wall_secs: String,
}

impl AgentDraft {
    /// The agent this draft describes, or what is wrong with it.
    pub fn agent(&self) -> Result<AgentConfig, String> {
        let mut agent = AgentConfig::scripted(self.name.trim());
        agent.provider = self.provider;
        if !self.model.trim().is_empty() {
            agent.model = self.model.trim().to_owned();
        }
        agent.base_url = Some(self.base_url.trim().to_owned()).filter(|u| !u.is_empty());
        agent.system_prompt = self.system_prompt.clone();
        agent.tools = self.tools.clone();
        agent.safety = self.safety;
        agent.mcp_servers = self
            .mcp_servers
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        agent.budgets.max_cost_usd = number(&self.max_cost_usd, "max cost")?;
        agent.budgets.max_wall_secs = number(&self.max_wall_secs, "max wall seconds")?;
        agent.validate()?;
        Ok(agent)
    }
}

fn number<T: std::str::FromStr>(text: &str, what: &str) -> Result<Option<T>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| format!("{what}: {text:?} is not a number"))
}

/// The agent form. `on_done` is called after the agent was sent (or the
/// form was cancelled).
#[component]
pub fn AgentForm(on_done: EventHandler<()>) -> Element {
    let commands = use_context::<Commands>();
    let state = use_context::<Signal<AppState>>();
    let mut draft = use_signal(AgentDraft::default);
    let mut problem = use_signal(|| None::<String>);
    use_hook(move || commands.send(Command::ListModels(ProviderKind::default())));
    let provider = draft.read().provider;
    let models = state.read().models.get(&provider).cloned();
    rsx! {
        div { class: "form",
            h3 { "New agent" }
            label { "Name"
                input { name: "name", value: "{draft.read().name}", oninput: move |e| draft.write().name = e.value() }
            }
            label { "Provider"
                select { name: "provider", value: "{provider}",
                    onchange: move |e| {
                        if let Ok(next) = e.value().parse::<ProviderKind>() {
                            draft.write().provider = next;
                            commands.send(Command::ListModels(next));
                        }
                    },
                    for each in ProviderKind::ALL {
                        option { value: "{each}", selected: each == provider, "{each}" }
                    }
                }
            }
            label { "Model"
                input { name: "model", list: "models", value: "{draft.read().model}",
                    placeholder: "the provider's default",
                    oninput: move |e| draft.write().model = e.value() }
                datalist { id: "models",
                    if let Some(Ok(list)) = &models {
                        for model in list.iter() {
                            option { value: "{model}" }
                        }
                    }
                }
                if let Some(Err(why)) = &models {
                    span { class: "muted", "models unavailable: {why}" }
                }
            }
            label { "Base URL"
                input { name: "base_url", value: "{draft.read().base_url}", placeholder: "the provider's own",
                    oninput: move |e| draft.write().base_url = e.value() }
            }
            label { "System prompt"
                textarea { name: "system_prompt", value: "{draft.read().system_prompt}",
                    oninput: move |e| draft.write().system_prompt = e.value() }
            }
            fieldset { legend { "Tools" }
                for tool in BUILTIN_TOOLS {
                    label { class: "check",
                        input { r#type: "checkbox", name: "tool-{tool}",
                            checked: draft.read().tools.iter().any(|t| t == tool),
                            onchange: move |e| {
                                let mut draft = draft.write();
                                draft.tools.retain(|t| t != tool);
                                if e.checked() {
                                    draft.tools.push(tool.to_owned());
                                }
                            }
                        }
                        "{tool}"
                    }
                }
                select { name: "safety", value: "{draft.read().safety}",
                    onchange: move |e| {
                        if let Ok(mode) = e.value().parse() {
                            draft.write().safety = mode;
                        }
                    },
                    for mode in SAFETY_MODES {
                        option { value: "{mode}", selected: mode == draft.read().safety, "{mode}" }
                    }
                }
            }
            label { "MCP servers"
                input { name: "mcp_servers", value: "{draft.read().mcp_servers}", placeholder: "names, comma-separated",
                    oninput: move |e| draft.write().mcp_servers = e.value() }
            }
            label { "Max cost (USD)"
                input { name: "max_cost_usd", value: "{draft.read().max_cost_usd}",
                    oninput: move |e| draft.write().max_cost_usd = e.value() }
            }
            label { "Max wall time (s)"
                input { name: "max_wall_secs", value: "{draft.read().max_wall_secs}",
                    oninput: move |e| draft.write().max_wall_secs = e.value() }
            }
            if let Some(why) = problem.read().as_ref() {
                p { class: "problem", role: "alert", "{why}" }
            }
            div { class: "buttons",
                button {
                    r#type: "button",
                    onclick: move |_| match draft.read().agent() {
                        Ok(agent) => {
                            commands.send(Command::CreateAgent(Box::new(agent)));
                            on_done.call(());
                        }
                        Err(why) => problem.set(Some(why)),
                    },
                    "Create"
                }
                button { r#type: "button", onclick: move |_| on_done.call(()), "Cancel" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_becomes_the_agent_it_describes_or_says_why_not() {
        let draft = AgentDraft {
            name: " coder ".into(),
            provider: ProviderKind::OpenAi,
            model: "gpt-4o-mini".into(),
            tools: vec!["fs".into()],
            safety: SafetyMode::WorkspaceWrite,
            mcp_servers: "everything, , files".into(),
            max_cost_usd: "0.5".into(),
            ..AgentDraft::default()
        };
        let agent = draft.agent().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(agent.name, "coder");
        assert_eq!(agent.mcp_servers, ["everything", "files"]);
        assert_eq!(agent.budgets.max_cost_usd, Some(0.5));
        assert_eq!(agent.budgets.max_wall_secs, None);
        let bad = AgentDraft {
            max_wall_secs: "soon".into(),
            ..draft.clone()
        };
        assert_eq!(
            bad.agent().err().as_deref(),
            Some("max wall seconds: \"soon\" is not a number")
        );
        let unnamed = AgentDraft {
            name: String::new(),
            ..draft
        };
        assert!(unnamed.agent().is_err());
    }
}
