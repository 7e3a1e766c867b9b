//! The form that creates or edits an agent: every field of `AgentConfig` a
//! person sets by hand, with the model picked from the provider's live
//! list, and the approval rules for the agent (stored by the daemon apart
//! from the config: added and removed once the agent is saved, so Cancel
//! leaves them as they were).

use dioxus::prelude::*;
use protocol::agent::{BUILTIN_TOOLS, MAX_DESCRIPTION_CHARS, MAX_DISPLAY_NAME_CHARS};
use protocol::approval::{ApprovalRule, RuleDecision, RuleMatch};
use protocol::launch::Launcher;
use protocol::workspace::WorkspacePerRun;
use protocol::{AgentConfig, ProviderKind, SafetyMode};

use super::budgets::{BudgetDraft, BudgetInputs};
use super::caps::{CapsDraft, CapsInputs};
use super::sampling::{SamplingDraft, SamplingInputs};
use crate::commands::Commands;
use crate::connection::{Command, NewRule, RuleChanges};
use crate::fields::{TextArea, TextInput};
use crate::problems::{FieldProblem, FormProblems, Problems};
use crate::state::AppState;

const SAFETY_MODES: [SafetyMode; 3] = [
    SafetyMode::ReadOnly,
    SafetyMode::WorkspaceWrite,
    SafetyMode::Full,
];

/// What the form holds; `agent` builds the config from it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentDraft {
    /// What people call it ("Code Helper").
    pub display_name: String,
    /// Agent name, used in commands (empty: made from the display name).
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Provider.
    pub provider: ProviderKind,
    /// Model (required but for the scripted provider).
    pub model: String,
    /// Another address for the provider (OpenAI-compatible servers, Ollama).
    pub base_url: String,
    /// Send the provider's key to `base_url` though it is not the provider's host.
    pub send_key_to_base_url: bool,
    /// Whether its commands reach the network.
    pub network: bool,
    /// System prompt.
    pub system_prompt: String,
    /// Temperature, top-p, most output tokens (empty: the provider's).
    pub sampling: SamplingDraft,
    /// Built-in tools chosen.
    pub tools: Vec<String>,
    /// What the tools may do.
    pub safety: SafetyMode,
    /// The directory its tools work in (empty: a private one).
    pub workspace: String,
    /// Each run in a workspace of its own made from `workspace`.
    pub workspace_per_run: bool,
    /// The command that sets each run's workspace up (empty: none).
    pub setup: String,
    /// MCP servers, comma-separated.
    pub mcp_servers: String,
    /// Budgets (empty: none).
    pub budgets: BudgetDraft,
    /// Caps on all its sessions of a day (empty: none).
    pub daily_caps: CapsDraft,
    /// Where its sessions' workers run: `local`, `slurm`, `slurm:PART`
    /// (empty: the daemon's default).
    pub runs_on: String,
    /// Approval rules added and removed, made once the agent is saved.
    pub rules: RuleChanges,
}

const DECISIONS: [RuleDecision; 3] = [RuleDecision::Allow, RuleDecision::Ask, RuleDecision::Deny];

/// The form's row that adds one approval rule, as typed.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleDraft {
    /// `TOOL[:FIELD=GLOB]`, e.g. `shell:command=git *`.
    pub matches: String,
    /// `allow`, `ask` or `deny`.
    pub decision: String,
    /// Higher first (empty: 0).
    pub priority: String,
}

impl Default for RuleDraft {
    fn default() -> Self {
        Self {
            matches: String::new(),
            decision: RuleDecision::Allow.to_string(),
            priority: "0".into(),
        }
    }
}

impl RuleDraft {
    /// The rule this row describes, or what is wrong with it. (Globs are
    /// checked by the daemon, which refuses one that does not parse.)
    pub fn rule(&self) -> Result<(RuleMatch, RuleDecision, i32), String> {
        let text = self.matches.trim();
        if text.is_empty() {
            return Err("a rule needs a tool, e.g. shell or shell:command=git *".into());
        }
        let matches = text.parse::<RuleMatch>()?;
        let decision = DECISIONS
            .into_iter()
            .find(|d| d.as_str() == self.decision.trim())
            .ok_or_else(|| {
                format!(
                    "decision {:?}: expected allow, ask or deny",
                    self.decision.trim()
                )
            })?;
        let priority = self.priority.trim();
        let priority = if priority.is_empty() {
            0
        } else {
            priority
                .parse::<i32>()
                .map_err(|_| format!("priority: {priority:?} is not a whole number"))?
        };
        Ok((matches, decision, priority))
    }
}

impl AgentDraft {
    /// A draft of `agent` as it is, for editing.
    pub fn of(agent: &AgentConfig) -> Self {
        let text = |n: Option<String>| n.unwrap_or_default();
        Self {
            display_name: agent.display_name.clone(),
            name: agent.name.clone(),
            description: agent.description.clone(),
            provider: agent.provider,
            model: agent.model.clone(),
            base_url: text(agent.base_url.clone()),
            send_key_to_base_url: agent.send_key_to_base_url,
            network: agent.sandbox.network == protocol::sandbox::Network::On,
            system_prompt: agent.system_prompt.clone(),
            sampling: SamplingDraft::of(&agent.sampling),
            tools: agent.tools.clone(),
            safety: agent.safety,
            workspace: text(agent.workspace.clone()),
            workspace_per_run: agent.workspace_per_run.is_some(),
            setup: text(
                agent
                    .workspace_per_run
                    .as_ref()
                    .and_then(|w| w.setup.clone()),
            ),
            mcp_servers: agent.mcp_servers.join(", "),
            budgets: BudgetDraft::of(&agent.budgets),
            daily_caps: CapsDraft::of(&agent.daily_caps),
            runs_on: agent
                .on
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            rules: RuleChanges::default(),
        }
    }

    /// The agent this draft describes, on top of `base`, or everything
    /// wrong with it, by field.
    pub fn check(&self, base: Option<&AgentConfig>) -> Result<AgentConfig, Problems> {
        let mut problems = Problems::default();
        problems.check("name", protocol::agent::validate_name(&self.short_name()));
        let display = self.display_name.trim();
        if display.chars().count() > MAX_DISPLAY_NAME_CHARS || display.chars().any(char::is_control)
        {
            problems.add(
                "display_name",
                format!("one line of at most {MAX_DISPLAY_NAME_CHARS} characters"),
            );
        }
        if self.model.trim().is_empty() && self.provider != ProviderKind::Scripted {
            problems.add("model", format!("pick a model for {}", self.provider));
        }
        if self.description.trim().chars().count() > MAX_DESCRIPTION_CHARS {
            problems.add(
                "description",
                format!("at most {MAX_DESCRIPTION_CHARS} characters"),
            );
        }
        let workspace = self.workspace.trim();
        if !workspace.is_empty() && !workspace.starts_with('/') {
            problems.add("workspace", "an absolute path, such as /home/me/project");
        }
        if let Err(why) = self.launcher() {
            problems.add("runs_on", why);
        }
        self.sampling.check(&mut problems);
        self.budgets.check(&mut problems);
        if !problems.is_empty() {
            return Err(problems);
        }
        // What is left (tools, sandbox, script) is the form's as a whole.
        self.agent(base).map_err(|why| {
            let mut problems = Problems::default();
            problems.add(Problems::FORM, why);
            problems
        })
    }

    /// Where its sessions run, as typed (`None`: the daemon's default).
    fn launcher(&self) -> Result<Option<Launcher>, String> {
        match self.runs_on.trim() {
            "" => Ok(None),
            text => text.parse().map(Some),
        }
    }

    /// The name it is saved under: the one typed, else one made from the
    /// display name ("Code Helper" is `code-helper`).
    pub fn short_name(&self) -> String {
        match (self.name.trim(), self.display_name.trim()) {
            ("", display) if !display.is_empty() => protocol::agent::name_from_display(display),
            (name, _) => name.to_owned(),
        }
    }

    /// The agent this draft describes, on top of `base` (the agent being
    /// edited, whose other fields are kept), or what is wrong with it.
    pub fn agent(&self, base: Option<&AgentConfig>) -> Result<AgentConfig, String> {
        let name = self.short_name();
        let mut agent = base
            .cloned()
            .unwrap_or_else(|| AgentConfig::scripted(name.clone()));
        agent.name = name;
        self.display_name.trim().clone_into(&mut agent.display_name);
        self.description.trim().clone_into(&mut agent.description);
        agent.provider = self.provider;
        let model = self.model.trim();
        if !model.is_empty() {
            agent.model = model.to_owned();
        } else if self.provider != ProviderKind::Scripted {
            return Err(format!("pick a model for {}", self.provider));
        }
        agent.base_url = Some(self.base_url.trim().to_owned()).filter(|u| !u.is_empty());
        agent.send_key_to_base_url = self.send_key_to_base_url && agent.base_url.is_some();
        agent.sandbox.network = if self.network {
            protocol::sandbox::Network::On
        } else {
            protocol::sandbox::Network::Off
        };
        agent.system_prompt = self.system_prompt.clone();
        agent.sampling = self.sampling.sampling()?;
        agent.tools = self.tools.clone();
        agent.safety = self.safety;
        agent.mcp_servers = self
            .mcp_servers
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        agent.workspace = Some(self.workspace.trim().to_owned()).filter(|w| !w.is_empty());
        agent.workspace_per_run = self.workspace_per_run.then(|| WorkspacePerRun {
            setup: Some(self.setup.trim().to_owned()).filter(|s| !s.is_empty()),
        });
        agent.budgets = self.budgets.budgets()?;
        agent.daily_caps = self.daily_caps.caps("daily cap")?;
        agent.on = self.launcher()?;
        agent.validate()?;
        Ok(agent)
    }
}

/// The agent form: a new agent, or `editing` one (its name fixed, its
/// other fields kept). `on_done` is called after the agent was sent (or
/// the form was cancelled). `start` is the draft the form opens with (by
/// default the agent being edited as it is, or a fresh one).
#[component]
pub fn AgentForm(
    editing: Option<AgentConfig>,
    on_done: EventHandler<()>,
    start: Option<AgentDraft>,
) -> Element {
    let commands = use_context::<Commands>();
    let state = use_context::<Signal<AppState>>();
    let base = editing.clone();
    let mut draft = use_signal(move || {
        start.unwrap_or_else(|| base.as_ref().map(AgentDraft::of).unwrap_or_default())
    });
    let editing_name = editing.as_ref().map(|a| a.name.clone());
    let mut problems = use_signal(Problems::default);
    use_hook(move || commands.send(Command::ListModels(draft.peek().provider)));
    let replace = editing.is_some();
    let provider = draft.read().provider;
    let models = state.read().models.get(&provider).cloned();
    let edited = editing.clone();
    let submit = use_callback(move |()| match draft.read().check(edited.as_ref()) {
        Ok(agent) => {
            problems.set(Problems::default());
            let rules = draft.read().rules.clone();
            commands.send(Command::SaveAgent {
                agent: Box::new(agent),
                replace,
                rules,
            });
            on_done.call(());
        }
        Err(found) => problems.set(found),
    });
    let shown = problems.read().clone();
    // A new agent's name is made from its display name unless typed.
    let name_placeholder = match draft.read().display_name.trim() {
        "" => "used in commands: code-helper".to_owned(),
        display => format!(
            "{} (from the display name)",
            protocol::agent::name_from_display(display)
        ),
    };
    rsx! {
        div { class: "form",
            // Ctrl+Enter saves from any field.
            onkeydown: move |event: KeyboardEvent| {
                if event.key() == Key::Enter && event.modifiers().ctrl() {
                    submit.call(());
                }
            },
            h3 { if replace { "Edit agent" } else { "New agent" } }
            label { "Name"
                TextInput { name: "name", value: draft.read().name.clone(), disabled: replace, focus: !replace,
                    placeholder: "{name_placeholder}",
                    oninput: move |text| draft.write().name = text }
                FieldProblem { problems: shown.clone(), field: "name" }
            }
            label { "Display name"
                TextInput { name: "display_name", value: draft.read().display_name.clone(),
                    placeholder: "what people call it: Code Helper",
                    oninput: move |text| draft.write().display_name = text }
                FieldProblem { problems: shown.clone(), field: "display_name" }
            }
            label { "Description"
                TextInput { name: "description", value: draft.read().description.clone(),
                    placeholder: "what it is for, in a sentence",
                    oninput: move |text| draft.write().description = text }
                FieldProblem { problems: shown.clone(), field: "description" }
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
                TextInput { name: "model", list: "models", value: draft.read().model.clone(),
                    placeholder: "pick from the list, or type one",
                    oninput: move |text| draft.write().model = text }
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
                FieldProblem { problems: shown.clone(), field: "model" }
            }
            label { "Base URL"
                TextInput { name: "base_url", value: draft.read().base_url.clone(), placeholder: "the provider's own",
                    oninput: move |text| draft.write().base_url = text }
            }
            if !draft.read().base_url.trim().is_empty() {
                label { class: "check",
                    input { r#type: "checkbox", name: "send_key_to_base_url",
                        checked: draft.read().send_key_to_base_url,
                        onchange: move |e| draft.write().send_key_to_base_url = e.checked() }
                    "Send the provider's key to this address (it is not the provider's own host)"
                }
            }
            label { "System prompt"
                TextArea { name: "system_prompt", value: draft.read().system_prompt.clone(),
                    oninput: move |text| draft.write().system_prompt = text }
            }
            SamplingInputs { draft: draft.read().sampling.clone(), problems: shown.clone(),
                on_change: move |sampling| draft.write().sampling = sampling }
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
                label { class: "check",
                    input { r#type: "checkbox", name: "network",
                        checked: draft.read().network,
                        onchange: move |e| draft.write().network = e.checked() }
                    "Commands reach the network"
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
            fieldset { legend { "Workspace" }
                label { "Directory"
                    TextInput { name: "workspace", value: draft.read().workspace.clone(),
                        placeholder: "a private one", oninput: move |text| draft.write().workspace = text }
                    FieldProblem { problems: shown.clone(), field: "workspace" }
                }
                label { class: "check",
                    input { r#type: "checkbox", name: "workspace_per_run",
                        checked: draft.read().workspace_per_run,
                        onchange: move |e| draft.write().workspace_per_run = e.checked() }
                    "Each run works in a copy of its own (a git worktree in a repository)"
                }
                if draft.read().workspace_per_run {
                    label { "Setup command"
                        TextInput { name: "setup", value: draft.read().setup.clone(),
                            placeholder: "none (npm ci, cargo fetch, ...)",
                            oninput: move |text| draft.write().setup = text }
                    }
                }
            }
            label { "Runs on"
                TextInput { name: "runs_on", value: draft.read().runs_on.clone(),
                    placeholder: "the daemon's default (local, slurm, slurm:PARTITION)",
                    oninput: move |text| draft.write().runs_on = text }
                FieldProblem { problems: shown.clone(), field: "runs_on" }
            }
            label { "MCP servers"
                TextInput { name: "mcp_servers", value: draft.read().mcp_servers.clone(), placeholder: "names, comma-separated",
                    oninput: move |text| draft.write().mcp_servers = text }
            }
            BudgetInputs { draft: draft.read().budgets.clone(), empty: "none", problems: shown.clone(),
                on_change: move |budgets| draft.write().budgets = budgets }
            CapsInputs { draft: draft.read().daily_caps.clone(), prefix: "daily", label: "Daily cap",
                on_change: move |caps| draft.write().daily_caps = caps }
            AgentRules { agent: editing_name, draft }
            // Where its key goes, what runs unconfined: said before Save.
            for notice in draft.read().agent(editing.as_ref()).map(|a| a.notices()).unwrap_or_default() {
                p { class: "notice", "{notice}" }
            }
            FormProblems { problems: shown }
            div { class: "buttons",
                button {
                    r#type: "button",
                    title: "Ctrl+Enter",
                    onclick: move |_| submit.call(()),
                    if replace { "Save" } else { "Create" }
                }
                button { r#type: "button", onclick: move |_| on_done.call(()), "Cancel" }
            }
        }
    }
}

/// The form's "Rules for this agent": the daemon's rules for `agent` (the
/// one being edited) and the `draft`'s changes to them (rules to add,
/// stored ones to remove: made on Save), the row that adds one, and how
/// many global rules also apply.
#[component]
fn AgentRules(agent: Option<String>, draft: Signal<AgentDraft>) -> Element {
    let mut draft = draft;
    let state = use_context::<Signal<AppState>>();
    let mut row = use_signal(RuleDraft::default);
    let mut problem = use_signal(|| None::<String>);
    let (stored, global) = {
        let read = state.read();
        let rules = &read.settings.rules;
        let stored: Vec<_> = rules
            .iter()
            .filter(|r| agent.is_some() && r.agent == agent)
            .cloned()
            .collect();
        (stored, rules.iter().filter(|r| r.agent.is_none()).count())
    };
    let changes = draft.read().rules.clone();
    let none = stored.is_empty() && changes.add.is_empty();
    let globals = match global {
        0 => "No global rules (for every agent); Settings adds them.".to_owned(),
        1 => "1 global rule (for every agent) also applies; Settings lists it.".to_owned(),
        n => format!("{n} global rules (for every agent) also apply; Settings lists them."),
    };
    let add = move |_: Event<MouseData>| {
        // Read first: the row is written below.
        let parsed = row.read().rule();
        match parsed {
            Ok((matches, decision, priority)) => {
                draft.write().rules.add.push(NewRule {
                    matches,
                    decision,
                    priority,
                });
                row.set(RuleDraft::default());
                problem.set(None);
            }
            Err(why) => problem.set(Some(why)),
        }
    };
    rsx! {
        fieldset { class: "rules",
            legend { "Rules for this agent" }
            p { class: "muted",
                if agent.is_some() {
                    "Rules are added and removed when you save."
                } else {
                    "Added once the agent is created."
                }
            }
            if none {
                p { class: "muted", "No rules for this agent." }
            } else {
                table {
                    tbody {
                        for rule in stored {
                            StoredRule { key: "{rule.id}", rule, draft }
                        }
                        for (i, rule) in changes.add.into_iter().enumerate() {
                            tr { key: "new-{i}", class: "adding",
                                td { code { "{rule.matches}" } }
                                td { "{rule.decision}" }
                                td { "priority {rule.priority}" }
                                td { class: "muted", "added on save" }
                                td {
                                    button { r#type: "button",
                                        onclick: move |_| { draft.write().rules.add.remove(i); },
                                        "Remove"
                                    }
                                }
                            }
                        }
                    }
                }
            }
            div { class: "rule-add",
                TextInput { name: "rule_match", placeholder: "TOOL[:FIELD=GLOB], e.g. shell:command=git *",
                    value: row.read().matches.clone(), oninput: move |text| row.write().matches = text }
                select { name: "rule_decision", value: "{row.read().decision}",
                    onchange: move |e| row.write().decision = e.value(),
                    for decision in DECISIONS {
                        option { value: "{decision}", selected: decision.as_str() == row.read().decision, "{decision}" }
                    }
                }
                TextInput { name: "rule_priority", r#type: "number", title: "priority: higher first",
                    value: row.read().priority.clone(), oninput: move |text| row.write().priority = text }
                button { r#type: "button", onclick: add, "Add rule" }
            }
            if let Some(why) = problem.read().as_ref() {
                p { class: "problem", role: "alert", "{why}" }
            }
            p { class: "muted", "{globals}" }
        }
    }
}

/// One of the agent's stored rules: Remove marks it to go on Save, Keep
/// takes that back.
#[component]
fn StoredRule(rule: ApprovalRule, draft: Signal<AgentDraft>) -> Element {
    let mut draft = draft;
    let removing = draft.read().rules.remove.contains(&rule.id);
    let id = rule.id.clone();
    let toggle = move |_| {
        let remove = &mut draft.write().rules.remove;
        match remove.iter().position(|r| *r == id) {
            Some(at) => {
                remove.remove(at);
            }
            None => remove.push(id.clone()),
        }
    };
    rsx! {
        tr { class: if removing { "removing" },
            td { code { "{rule.matches}" } }
            td { "{rule.decision}" }
            td { "priority {rule.priority}" }
            td { class: "muted", if removing { "removed on save" } else { "{rule.id}" } }
            td {
                button { r#type: "button", onclick: toggle,
                    if removing { "Keep" } else { "Remove" }
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "agent_form_tests.rs"]
mod tests;
