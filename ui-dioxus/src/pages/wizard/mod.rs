//! The setup wizard: shown by itself on a first run (no agent yet, and
//! never finished or skipped), or from Settings. Three steps: connect a
//! model (paste a key, proved by listing models with it; Ollama, proved
//! by reaching it; or the scripted provider), pick a template and name
//! the agent, then start a first run, which opens in the Inspector.
//! Skipping or finishing keeps it closed after a restart (the
//! preferences).

mod plan;

use dioxus::prelude::*;
use protocol::ProviderKind;
use studio_client::agent_file::AgentFile;
use studio_client::templates;

pub use plan::{Connection, KEYED, Source, first_run};

use crate::commands::Commands;
use crate::connection::Target;
use crate::fields::{TextArea, TextInput};
use crate::state::AppState;

/// The template the wizard starts on.
const FIRST_TEMPLATE: &str = "code-assistant";

/// Where the wizard is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Connect,
    Template,
    Run,
}

impl Step {
    const ALL: [Step; 3] = [Step::Connect, Step::Template, Step::Run];

    fn title(self) -> &'static str {
        match self {
            Step::Connect => "Connect a model",
            Step::Template => "Pick a template",
            Step::Run => "Run it",
        }
    }
}

/// Closes the wizard for good (until Settings opens it again).
fn close(mut state: Signal<AppState>, target: Option<&Target>) {
    {
        let mut state = state.write();
        state.wizard_open = false;
        state.wizard_done = true;
    }
    crate::preferences::save_from(state, target);
}

/// The wizard.
#[component]
pub fn Wizard() -> Element {
    let state = use_context::<Signal<AppState>>();
    let target = try_use_context::<Target>();
    let skip_target = target.clone();
    let mut step = use_signal(|| Step::Connect);
    let connection = use_signal(Connection::default);
    let model = use_signal(String::new);
    let template = use_signal(|| FIRST_TEMPLATE.to_owned());
    let name = use_signal(String::new);
    let now = step();
    rsx! {
        section { class: "wizard", aria_label: "Set up AI Studio",
            h2 { "Set up AI Studio" }
            p { class: "muted",
                "Connect a model, pick a template, watch a first run. Skip it at any time; Settings opens it again."
            }
            ol { class: "steps",
                for (n, each) in Step::ALL.into_iter().enumerate() {
                    li { class: if each == now { "active" } else { "" },
                        aria_current: if each == now { "step" } else { "false" },
                        "{n + 1}. {each.title()}"
                    }
                }
            }
            match now {
                Step::Connect => rsx! {
                    ConnectStep { connection, model, template, on_next: move |()| step.set(Step::Template) }
                },
                Step::Template => rsx! {
                    TemplateStep { template, name,
                        on_back: move |()| step.set(Step::Connect),
                        on_next: move |()| step.set(Step::Run) }
                },
                Step::Run => rsx! {
                    RunStep { connection, model, template, name,
                        on_back: move |()| step.set(Step::Template),
                        on_done: move |()| close(state, target.as_ref()) }
                },
            }
            div { class: "buttons",
                button { class: "skip", onclick: move |_| close(state, skip_target.as_ref()), "Skip setup" }
            }
        }
    }
}

/// The model the agent gets from `listed`: the one picked, else the
/// template's, else the first.
fn chosen_model(listed: &[String], picked: &str, template: &str) -> Option<String> {
    let template_model = templates::find(template).map(|file| file.agent.model);
    [Some(picked.to_owned()), template_model]
        .into_iter()
        .flatten()
        .find(|model| listed.contains(model))
        .or_else(|| listed.first().cloned())
}

/// Step one: where models come from, and the proof that it works.
#[component]
fn ConnectStep(
    connection: Signal<Connection>,
    model: Signal<String>,
    template: Signal<String>,
    on_next: EventHandler<()>,
) -> Element {
    let mut state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let mut key = use_signal(String::new);
    let mut tested = use_signal(|| false);
    let mut problem = use_signal(|| None::<String>);
    let chosen = connection.read().clone();
    let provider = chosen.provider();
    let listed = if tested() {
        state.read().models.get(&provider).cloned()
    } else {
        None
    };
    let picked = match &listed {
        Some(Ok(models)) => chosen_model(models, &model.read(), &template.read()),
        _ => None,
    };
    let ready = chosen.source == Source::Scripted || picked.is_some();
    let placeholder = match chosen.source {
        Source::Ollama => "optional: http://127.0.0.1:11434 or host:port".to_owned(),
        _ => format!("optional: another address for {provider}, as you would paste it"),
    };
    rsx! {
        fieldset { class: "sources",
            legend { "Where your agents' models come from" }
            for source in Source::ALL {
                label { class: "choice",
                    input { r#type: "radio", name: "wizard_source", value: source.value(),
                        checked: source == chosen.source,
                        onchange: move |e| {
                            if let Some(next) = Source::from_value(&e.value()) {
                                connection.write().source = next;
                                tested.set(false);
                                problem.set(None);
                            }
                        },
                    }
                    " {source.label()}"
                }
            }
        }
        if chosen.source == Source::Key {
            div { class: "form inline",
                select { name: "wizard_provider", value: "{provider}",
                    onchange: move |e| {
                        if let Ok(next) = e.value().parse() {
                            connection.write().provider = Some(next);
                            tested.set(false);
                        }
                    },
                    for each in KEYED {
                        option { value: "{each}", selected: each == provider, "{each}" }
                    }
                }
                TextInput { name: "wizard_key", r#type: "password", autocomplete: "off", placeholder: "API key",
                    value: key(), oninput: move |text| key.set(text) }
            }
        }
        if chosen.source != Source::Scripted {
            div { class: "form",
                label { "Base URL"
                    TextInput { name: "wizard_base_url", autocomplete: "off", placeholder: "{placeholder}",
                        value: chosen.base_url.clone(),
                        oninput: move |text| {
                            connection.write().base_url = text;
                            tested.set(false);
                        } }
                }
                button { class: "test",
                    onclick: move |_| {
                        let asked = connection.read().test(&key.read());
                        match asked {
                        Ok(Some(command)) => {
                            state.write().models.remove(&provider);
                            commands.send(command);
                            // Stored now: never shown again.
                            key.set(String::new());
                            tested.set(true);
                            problem.set(None);
                        }
                        Ok(None) => {}
                        Err(why) => problem.set(Some(why)),
                        }
                    },
                    if chosen.source == Source::Ollama { "Reach Ollama" } else { "Test the key" }
                }
            }
        } else {
            p { class: "muted", "The scripted provider answers from a script: nothing leaves this machine and nothing is spent. Add a key later in Settings." }
        }
        match listed {
            _ if !tested() => rsx! {},
            None => rsx! { p { class: "muted", role: "status", "Testing…" } },
            Some(Err(why)) => rsx! {
                p { class: "problem", role: "alert", "It does not work yet: {why}" }
            },
            Some(Ok(models)) if models.is_empty() => rsx! {
                p { class: "problem", role: "alert",
                    "{provider} answered but offers no model"
                    if provider == ProviderKind::Ollama { ": pull one first (" code { "ollama pull llama3.2" } ")" }
                    "."
                }
            },
            Some(Ok(models)) => {
                let offered = crate::format::count(models.len(), "model", "models");
                rsx! {
                    p { class: "works", role: "status", "It works: {provider} offers {offered}." }
                    label { "Model "
                        select { name: "wizard_model", value: picked.clone().unwrap_or_default(),
                            onchange: move |e| model.set(e.value()),
                            for each in models.iter() {
                                option { value: "{each}", selected: Some(each) == picked.as_ref(), "{each}" }
                            }
                        }
                    }
                }
            }
        }
        if let Some(why) = problem() {
            p { class: "problem", role: "alert", "{why}" }
        }
        div { class: "buttons",
            button { class: "next", disabled: !ready,
                onclick: move |_| {
                    if let Some(picked) = picked.clone() {
                        model.set(picked);
                    }
                    on_next.call(());
                },
                "Next"
            }
        }
    }
}

/// Step two: which template, under which name.
#[component]
fn TemplateStep(
    template: Signal<String>,
    name: Signal<String>,
    on_back: EventHandler<()>,
    on_next: EventHandler<()>,
) -> Element {
    let all = templates::builtin();
    let current = template.read().clone();
    rsx! {
        fieldset { class: "templates",
            legend { "What your first agent does" }
            for file in all {
                TemplateChoice { key: "{file.agent.name}", checked: file.agent.name == current, file, template }
            }
        }
        label { "Its name "
            TextInput { name: "wizard_agent_name", autocomplete: "off", placeholder: "{current}",
                value: name(), oninput: move |text| name.set(text) }
        }
        div { class: "buttons",
            button { onclick: move |_| on_back.call(()), "Back" }
            button { class: "next", onclick: move |_| on_next.call(()), "Next" }
        }
    }
}

/// One template to choose, with what it may do.
#[component]
fn TemplateChoice(file: AgentFile, checked: bool, template: Signal<String>) -> Element {
    let info = file.template.clone().unwrap_or_default();
    let value = file.agent.name.clone();
    let asks = file.asks_for();
    rsx! {
        label { class: "choice template",
            input { r#type: "radio", name: "wizard_template", value: "{value}", checked,
                onchange: move |e| template.set(e.value()) }
            strong { " {info.title}" }
            span { class: "muted", " {info.description}" }
            if asks.is_empty() {
                span { class: "asks", " Only reads." }
            } else {
                span { class: "asks", " May {asks.join(\"; may \")}." }
            }
        }
    }
}

/// Step three: what the first run does, then the agent is made and run.
#[component]
fn RunStep(
    connection: Signal<Connection>,
    model: Signal<String>,
    template: Signal<String>,
    name: Signal<String>,
    on_back: EventHandler<()>,
    on_done: EventHandler<()>,
) -> Element {
    let commands = use_context::<Commands>();
    let file = templates::find(&template.read()).or_else(|| templates::find(FIRST_TEMPLATE));
    let sample = file
        .as_ref()
        .and_then(|f| f.template.as_ref())
        .map(|t| t.sample_prompt.clone())
        .unwrap_or_default();
    let mut prompt = use_signal(|| sample.clone());
    let mut problem = use_signal(|| None::<String>);
    let provider = connection.read().provider();
    let shown_name = match name.read().trim() {
        "" => template.read().clone(),
        typed => typed.to_owned(),
    };
    let shown_model = match provider {
        ProviderKind::Scripted => "scripted replies".to_owned(),
        _ => model.read().clone(),
    };
    rsx! {
        p { "Agent " strong { "{shown_name}" } " on {provider} · {shown_model}." }
        label { "Its first task"
            TextArea { name: "wizard_prompt", rows: 3, value: prompt(), oninput: move |text| prompt.set(text) }
        }
        if let Some(why) = problem() {
            p { class: "problem", role: "alert", "{why}" }
        }
        div { class: "buttons",
            button { onclick: move |_| on_back.call(()), "Back" }
            button { class: "next primary",
                onclick: move |_| {
                    let Some(file) = file.clone() else {
                        problem.set(Some("no template to start from".to_owned()));
                        return;
                    };
                    match first_run(file, &name.read(), &connection.read(), &model.read(), &prompt.read()) {
                        Ok(command) => {
                            commands.send(command);
                            on_done.call(());
                        }
                        Err(why) => problem.set(Some(why)),
                    }
                },
                "Create it and run"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_is_the_one_picked_else_the_templates_else_the_first_listed() {
        let listed = vec!["a".to_owned(), "gpt-4.1-mini".to_owned()];
        assert_eq!(
            chosen_model(&listed, "a", "code-assistant").as_deref(),
            Some("a")
        );
        assert_eq!(
            chosen_model(&listed, "gone", "code-assistant").as_deref(),
            Some("gpt-4.1-mini")
        );
        assert_eq!(chosen_model(&listed[..1], "", "nope").as_deref(), Some("a"));
        assert_eq!(chosen_model(&[], "a", "code-assistant"), None);
    }
}
