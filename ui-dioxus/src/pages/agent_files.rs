//! Agents as files in the app, as `studio agent export` and `studio agent
//! import` have them (`studio_client::agent_file`): a card's "Export TOML"
//! and "Export JSON" save the agent with its own rules (to the downloads
//! folder, or the browser's downloads); the Agents page's import form takes
//! a pasted file (or a template), says what the agent may do beyond
//! reading before anything is stored, then stores it and its rules.

use dioxus::prelude::*;
use protocol::AgentConfig;
use protocol::approval::ApprovalRule;
use studio_client::agent_file::{AgentFile, FileFormat, FileRule};

use crate::commands::Commands;
use crate::connection::{Command, RuleChanges};
use crate::fields::TextArea;
use crate::pages::templates::new_rules;
use crate::state::{AppState, Exported, ExportedFrom};

/// `agent` with the rules of `rules` that are its own, as a file.
pub fn agent_export(
    agent: &AgentConfig,
    rules: &[ApprovalRule],
    format: FileFormat,
) -> Result<Exported, String> {
    let own = rules
        .iter()
        .filter(|rule| rule.agent.as_deref() == Some(agent.name.as_str()))
        .map(|rule| FileRule {
            matches: rule.matches.to_string(),
            decision: rule.decision,
            priority: rule.priority,
        })
        .collect();
    let text = AgentFile::of(agent.clone(), own).write(format)?;
    let (extension, mime) = match format {
        FileFormat::Toml => ("toml", "application/toml"),
        FileFormat::Json => ("json", "application/json"),
    };
    Ok(Exported {
        from: ExportedFrom::Agent(agent.name.clone()),
        file_name: format!("agent-{}.{extension}", agent.name),
        mime,
        text,
    })
}

/// What importing `text` sends: its agent, stored (replacing one of that
/// name when `replace`, whose own rules in `rules` then go), and its
/// rules; or why not.
pub fn agent_import(text: &str, replace: bool, rules: &[ApprovalRule]) -> Result<Command, String> {
    let file = AgentFile::parse(text)?;
    let name = file.agent.name.clone();
    let remove = if replace {
        rules
            .iter()
            .filter(|rule| rule.agent.as_deref() == Some(name.as_str()))
            .map(|rule| rule.id.clone())
            .collect()
    } else {
        Vec::new()
    };
    Ok(Command::SaveAgent {
        rules: RuleChanges {
            add: new_rules(&file)?,
            remove,
        },
        agent: Box::new(file.agent),
        replace,
    })
}

/// The import form: paste a file, see what it may do, import it.
#[component]
pub fn AgentImport(on_done: EventHandler<()>) -> Element {
    let state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let mut text = use_signal(String::new);
    let mut replace = use_signal(|| false);
    let parsed = (!text.read().trim().is_empty()).then(|| AgentFile::parse(&text.read()));
    rsx! {
        div { class: "form agent-import",
            h3 { "Import an agent" }
            label {
                span { "An agent file (TOML or JSON), as " code { "studio agent export" } " writes it, or a template" }
                TextArea { name: "agent_import", autocomplete: "off", rows: 8,
                    value: text(), oninput: move |typed| text.set(typed) }
            }
            match &parsed {
                None => rsx! {},
                Some(Err(why)) => rsx! { p { class: "problem", role: "alert", "{why}" } },
                Some(Ok(file)) => {
                    let asks = file.asks_for();
                    rsx! {
                        div { class: "preview", role: "status",
                            p { "Agent " strong { "{file.agent.name}" } " on {file.agent.provider} · {file.agent.model}, with {file.rules.len()} rule(s)." }
                            if asks.is_empty() {
                                p { class: "asks", "It only reads." }
                            } else {
                                ul { class: "asks",
                                    for ask in asks {
                                        li { "It may {ask}" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            label { class: "check",
                input { r#type: "checkbox", name: "agent_import_replace", checked: replace(),
                    onchange: move |e| replace.set(e.checked()) }
                "Replace an agent of the same name, and its rules"
            }
            div { class: "buttons",
                button { r#type: "button", disabled: !matches!(parsed, Some(Ok(_))),
                    onclick: move |_| {
                        let rules = state.read().settings.rules.clone();
                        let asked = agent_import(&text.read(), replace(), &rules);
                        if let Ok(command) = asked {
                            commands.send(command);
                            text.set(String::new());
                            on_done.call(());
                        }
                    },
                    "Import"
                }
                button { r#type: "button", onclick: move |_| on_done.call(()), "Cancel" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::approval::RuleDecision;

    fn rule(id: &str, agent: Option<&str>, matches: &str) -> ApprovalRule {
        ApprovalRule {
            id: id.into(),
            agent: agent.map(Into::into),
            matches: matches.parse().unwrap(),
            decision: RuleDecision::Allow,
            priority: 5,
        }
    }

    #[test]
    fn an_exported_agent_imports_back_with_its_own_rules_only() {
        let mut agent = AgentConfig::scripted("rev");
        agent.tools = vec!["shell".into()];
        let rules = [
            rule("r1", Some("rev"), "shell:command=git *"),
            rule("r2", None, "fs.*"),
            rule("r3", Some("other"), "shell"),
        ];
        for format in [FileFormat::Toml, FileFormat::Json] {
            let exported = agent_export(&agent, &rules, format).unwrap();
            assert!(exported.file_name.starts_with("agent-rev."));
            assert_eq!(exported.from, ExportedFrom::Agent("rev".into()));
            let Ok(Command::SaveAgent {
                agent: back,
                replace,
                rules: changes,
            }) = agent_import(&exported.text, false, &rules)
            else {
                panic!("not imported");
            };
            assert_eq!(*back, agent);
            assert!(!replace);
            assert_eq!(changes.add.len(), 1);
            assert_eq!(changes.add[0].matches.to_string(), "shell:command=git *");
            assert!(changes.remove.is_empty());
            let Ok(Command::SaveAgent { rules: changes, .. }) =
                agent_import(&exported.text, true, &rules)
            else {
                panic!("not imported");
            };
            assert_eq!(changes.remove, ["r1"]);
        }
        assert!(agent_import("[agent]\nname = \"../x\"", false, &rules).is_err());
    }
}
