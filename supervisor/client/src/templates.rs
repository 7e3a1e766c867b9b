//! The templates that come with AI Studio: agent files
//! ([`crate::agent_file`]) for the agents people start with, built into
//! the binary from `supervisor/client/templates/`. The CLI (`studio
//! template`) and the app's gallery show the same ones.

use crate::agent_file::AgentFile;

/// Each bundled template: its name (the agent's) and its text.
const BUILTIN: [(&str, &str); 5] = [
    (
        "code-assistant",
        include_str!("../templates/code-assistant.toml"),
    ),
    (
        "code-reviewer",
        include_str!("../templates/code-reviewer.toml"),
    ),
    (
        "research-bot",
        include_str!("../templates/research-bot.toml"),
    ),
    (
        "data-analyst",
        include_str!("../templates/data-analyst.toml"),
    ),
    ("writer", include_str!("../templates/writer.toml")),
];

/// The bundled templates, in gallery order. One that does not parse is
/// left out (the tests make sure none is).
pub fn builtin() -> Vec<AgentFile> {
    BUILTIN
        .iter()
        .filter_map(|(_, text)| AgentFile::parse(text).ok())
        .collect()
}

/// The bundled template named `name` (its agent's name).
pub fn find(name: &str) -> Option<AgentFile> {
    BUILTIN
        .iter()
        .find(|(each, _)| *each == name)
        .and_then(|(_, text)| AgentFile::parse(text).ok())
}

/// The text of the bundled template named `name`, as shipped.
pub fn text(name: &str) -> Option<&'static str> {
    BUILTIN
        .iter()
        .find(|(each, _)| *each == name)
        .map(|(_, text)| *text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_template_parses_and_is_named_as_its_agent() {
        for (name, text) in BUILTIN {
            let file = AgentFile::parse(text).unwrap_or_else(|err| panic!("{name}: {err}"));
            assert_eq!(file.agent.name, name);
            let info = file.template.as_ref().expect("a template table");
            assert!(
                !info.title.is_empty() && !info.sample_prompt.is_empty(),
                "{name}"
            );
            assert!(!file.agent.system_prompt.is_empty(), "{name}");
        }
        assert_eq!(builtin().len(), BUILTIN.len());
        assert!(find("code-reviewer").is_some() && find("nope").is_none());
    }
}
