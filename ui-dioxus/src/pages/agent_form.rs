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
    /// Model (required but for the scripted provider).
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
    /// A draft of `agent` as it is, for editing.
    pub fn of(agent: &AgentConfig) -> Self {
        let text = |n: Option<String>| n.unwrap_or_default();
        Self {
            name: agent.name.clone(),
            provider: agent.provider,
            model: agent.model.clone(),
            base_url: text(agent.base_url.clone()),
            system_prompt: agent.system_prompt.clone(),
            tools: agent.tools.clone(),
            safety: agent.safety,
            mcp_servers: agent.mcp_servers.join(", "),
            max_cost_usd: text(agent.budgets.max_cost_usd.map(|n| n.to_string())),
            max_wall_secs: text(agent.budgets.max_wall_secs.map(|n| n.to_string())),
        }
    }

    /// The agent this draft describes, on top of `base` (the agent being
    /// edited, whose other fields are kept), or what is wrong with it.
    pub fn agent(&self, base: Option<&AgentConfig>) -> Result<AgentConfig, String> {
        let mut agent = base
            .cloned()
            .unwrap_or_else(|| AgentConfig::scripted(self.name.trim()));
        agent.name = self.name.trim().to_owned();
        agent.provider = self.provider;
        let model = self.model.trim();
        if !model.is_empty() {
            agent.model = model.to_owned();
        } else if self.provider != ProviderKind::Scripted {
            return Err(format!("pick a model for {}", self.provider));
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

/// An optional number typed into a form: empty is `None`, anything else must parse.
pub(super) fn number<T: std::str::FromStr>(text: &str, what: &str) -> Result<Option<T>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| format!("{what}: {text:?} is not a number"))
}

/// The agent form: a new agent, or `editing` one (its name fixed, its
/// other fields kept). `on_done` is called after the agent was sent (or
/// the form was cancelled).
#[component]
pub fn AgentForm(editing: Option<AgentConfig>, on_done: EventHandler<()>) -> Element {
    let commands = use_context::<Commands>();
    let state = use_context::<Signal<AppState>>();
    let base = editing.clone();
    let mut draft = use_signal(move || base.as_ref().map(AgentDraft::of).unwrap_or_default());
    let mut problem = use_signal(|| None::<String>);
    use_hook(move || commands.send(Command::ListModels(draft.peek().provider)));
    let replace = editing.is_some();
    let provider = draft.read().provider;
    let models = state.read().models.get(&provider).cloned();
    rsx! {
        div { class: "form",
            h3 { if replace { "Edit agent" } else { "New agent" } }
            label { "Name"
                input { name: "name", value: "{draft.read().name}", disabled: replace,
                    oninput: move |e| draft.write().name = e.value() }
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
                    placeholder: "pick from the list, or type one",
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
                    onclick: move |_| match draft.read().agent(editing.as_ref()) {
                        Ok(agent) => {
                            commands.send(Command::SaveAgent { agent: Box::new(agent), replace });
                            on_done.call(());
                        }
                        Err(why) => problem.set(Some(why)),
                    },
                    if replace { "Save" } else { "Create" }
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
        let agent = draft.agent(None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(agent.name, "coder");
        assert_eq!(agent.mcp_servers, ["everything", "files"]);
        assert_eq!(agent.budgets.max_cost_usd, Some(0.5));
        assert_eq!(agent.budgets.max_wall_secs, None);
        let bad = AgentDraft {
            max_wall_secs: "soon".into(),
            ..draft.clone()
        };
        assert_eq!(
            bad.agent(None).err().as_deref(),
            Some("max wall seconds: \"soon\" is not a number")
        );
        let modelless = AgentDraft {
            model: " ".into(),
            ..draft.clone()
        };
        assert_eq!(
            modelless.agent(None).err().as_deref(),
            Some("pick a model for openai")
        );
        let unnamed = AgentDraft {
            name: String::new(),
            ..draft
        };
        assert!(unnamed.agent(None).is_err());
    }

    #[test]
    fn editing_changes_the_form_fields_and_keeps_the_rest() {
        let mut existing = AgentConfig::scripted("coder");
        existing.workspace = Some("/srv/code".into());
        existing.budgets.max_idle_secs = Some(30);
        existing.script.chunks = 7;
        existing.mcp_servers = vec!["a".into(), "b".into()];
        let mut draft = AgentDraft::of(&existing);
        assert_eq!(draft.mcp_servers, "a, b");
        draft.system_prompt = "Be terse.".into();
        let edited = draft
            .agent(Some(&existing))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(edited.system_prompt, "Be terse.");
        assert_eq!(edited.workspace.as_deref(), Some("/srv/code"));
        assert_eq!(edited.budgets.max_idle_secs, Some(30));
        assert_eq!(edited.script.chunks, 7);
        assert_eq!(edited.mcp_servers, ["a", "b"]);
    }
}
