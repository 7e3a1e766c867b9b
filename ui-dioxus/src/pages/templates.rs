//! The template gallery on the Agents page: a card for each template that
//! comes with AI Studio (`studio_client::templates`), from a gallery
//! source (`studio_client::gallery`) or an enabled plugin (saying which),
//! with what it may do
//! beyond reading, its prompt to try and its file to preview, and "Use",
//! which stores the agent and its rules as the agent form does.

use dioxus::prelude::*;
use protocol::ProviderKind;
use studio_client::agent_file::AgentFile;
use studio_client::gallery::{self, Origin, Template};

use crate::commands::Commands;
use crate::connection::{Command, NewRule, RuleChanges, Target};
use crate::fields::TextInput;

/// What "Use" sends: the template's agent under `name`, on the scripted
/// provider if `without_key`, with its rules; or why not.
pub fn use_template(mut file: AgentFile, name: &str, without_key: bool) -> Result<Command, String> {
    let name = name.trim();
    if !name.is_empty() {
        file.agent.name = name.to_owned();
    }
    if without_key {
        file.switch_provider(ProviderKind::Scripted, None)?;
    }
    file.check()?;
    let add = new_rules(&file)?;
    Ok(Command::SaveAgent {
        agent: Box::new(file.agent),
        replace: false,
        rules: RuleChanges {
            add,
            remove: Vec::new(),
        },
    })
}

/// The file's own rules, as the connection adds them.
pub fn new_rules(file: &AgentFile) -> Result<Vec<NewRule>, String> {
    file.rules
        .iter()
        .map(|rule| {
            Ok(NewRule {
                matches: rule.rule_match()?,
                decision: rule.decision,
                priority: rule.priority,
            })
        })
        .collect()
}

/// The gallery: the bundled templates, then those of each gallery source
/// (`studio template source add`), read once when it opens.
#[component]
pub fn TemplateGallery() -> Element {
    let target = try_use_context::<Target>();
    let (all, problems) = use_hook(move || {
        let (all, problems) = match target {
            Some(target) => studio_client::plugin::templates::all(&target.layout),
            None => (gallery::builtin(), Vec::new()),
        };
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        (all, problems)
    });
    rsx! {
        section { class: "gallery", aria_label: "Templates",
            h3 { "Templates" }
            p { class: "muted", "Start from an agent people often need; change anything afterwards. Add more with "
                code { "studio template source add URL" } "." }
            for problem in problems.iter() {
                p { class: "problem", role: "alert", "{problem}" }
            }
            div { class: "cards",
                for template in all {
                    TemplateCard { key: "{template.spelling()}", template }
                }
            }
        }
    }
}

/// One template.
#[component]
fn TemplateCard(template: Template) -> Element {
    let commands = use_context::<Commands>();
    let file = template.file.clone();
    let template_name = file.agent.name.clone();
    let mut name = use_signal(|| template_name.clone());
    let mut without_key = use_signal(|| false);
    let mut outcome = use_signal(|| None::<Result<String, String>>);
    let info = file.template.clone().unwrap_or_default();
    let asks = file.asks_for();
    let provider = format!("{} {}", file.agent.provider, file.agent.model);
    // A bundled template's fields are named by its name alone.
    let id = match &template.origin {
        Origin::BuiltIn => template_name.clone(),
        Origin::Source { name, .. } => format!("{name}_{template_name}"),
        Origin::Plugin { label, .. } => format!("{}_{template_name}", label.replace(':', "_")),
    };
    let field = format!("template_name_{id}");
    let key_box = format!("template_scripted_{id}");
    let from = match &template.origin {
        Origin::BuiltIn => None,
        origin => Some(origin.describe()),
    };
    rsx! {
        div { class: "card template", "data-template": "{template_name}", "data-source": template.origin.source_name(),
            h3 { "{info.title}" }
            p { "{info.description}" }
            p { class: "muted", "{provider}" }
            if let Some(from) = from {
                p { class: "muted origin", "From {from}" }
            }
            if asks.is_empty() {
                p { class: "asks", "Only reads." }
            } else {
                ul { class: "asks",
                    for ask in asks.iter() {
                        li { "May {ask}" }
                    }
                }
            }
            p { class: "sample", "Try: " q { "{info.sample_prompt}" } }
            details {
                summary { "Its file" }
                pre { "{template.text}" }
            }
            div { class: "use-template",
                TextInput { name: "{field}", value: name(), oninput: move |text| name.set(text) }
                label {
                    input { r#type: "checkbox", name: "{key_box}", checked: without_key(),
                        onchange: move |e| without_key.set(e.checked()) }
                    " without a key (scripted)"
                }
                button { r#type: "button",
                    onclick: move |_| {
                        match use_template(file.clone(), &name.read(), without_key()) {
                            Ok(command) => {
                                commands.send(command);
                                outcome.set(Some(Ok(format!("agent {} saved", name.read().trim()))));
                            }
                            Err(why) => outcome.set(Some(Err(why))),
                        }
                    },
                    "Use"
                }
            }
            match outcome.read().as_ref() {
                Some(Ok(done)) => rsx! { p { class: "muted", role: "status", "{done}" } },
                Some(Err(why)) => rsx! { p { class: "problem", role: "alert", "{why}" } },
                None => rsx! {},
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use studio_client::templates;

    #[test]
    fn use_sends_the_agent_under_its_new_name_with_its_rules() {
        let file = templates::find("code-reviewer").unwrap();
        let Ok(Command::SaveAgent {
            agent,
            replace,
            rules,
        }) = use_template(file.clone(), " rev ", true)
        else {
            panic!("not sent");
        };
        assert_eq!(agent.name, "rev");
        assert_eq!(agent.provider, ProviderKind::Scripted);
        assert!(!replace);
        assert_eq!(rules.add.len(), file.rules.len());
        let Ok(Command::SaveAgent { agent, .. }) = use_template(file.clone(), "", false) else {
            panic!("not sent");
        };
        assert_eq!(
            (agent.name.as_str(), agent.provider),
            ("code-reviewer", ProviderKind::OpenAi)
        );
        assert!(use_template(file, "../bad", false).is_err());
    }
}
