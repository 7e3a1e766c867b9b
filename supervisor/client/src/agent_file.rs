//! An agent as a file people keep and share: its configuration, its own
//! approval rules, and, for a template, what a gallery shows (a title, a
//! description, a prompt to try, MCP servers it works well with). TOML or
//! JSON, with the same fields; `studio agent export` writes one, `studio
//! agent import` and `studio template use` read one. An exported agent is
//! a template without its `[template]` table.
//!
//! ```toml
//! format = 1
//!
//! [template]
//! title = "Code Reviewer"
//! description = "Reads a change and says what is wrong with it."
//! sample_prompt = "Review the last commit."
//!
//! [agent]
//! name = "code-reviewer"
//! provider = "openai"
//! model = "gpt-4.1-mini"
//! tools = ["shell"]
//!
//! [[rules]]
//! matches = "shell:command=git *"
//! decision = "allow"
//! priority = 10
//! ```

use protocol::AgentConfig;
use protocol::ProviderKind;
use protocol::SafetyMode;
use protocol::approval::{RuleDecision, RuleMatch};
use serde::{Deserialize, Serialize};

/// The version of the format this release writes and reads.
pub const FORMAT: u32 = 1;

/// The model an agent moved to the scripted provider gets.
pub const SCRIPTED_MODEL: &str = "scripted-1";

/// An agent as a file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentFile {
    /// The format's version ([`FORMAT`]); a newer one is refused.
    #[serde(default = "format_one")]
    pub format: u32,
    /// What a gallery shows; only in templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateInfo>,
    /// The agent.
    pub agent: AgentConfig,
    /// Its own approval rules (rules for every agent are not part of it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<FileRule>,
}

fn format_one() -> u32 {
    1
}

/// What a template says about itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateInfo {
    /// Its name in a gallery ("Code Reviewer").
    pub title: String,
    /// What the agent is for, in a sentence or two.
    pub description: String,
    /// A first prompt to try it with.
    pub sample_prompt: String,
    /// MCP servers it works well with (by the name people give them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggested_mcp: Vec<String>,
}

/// One approval rule of the agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRule {
    /// Which calls: `TOOL[:FIELD=GLOB]`, as `studio rules add` takes it.
    pub matches: String,
    /// What it decides.
    pub decision: RuleDecision,
    /// Higher first.
    #[serde(default)]
    pub priority: i32,
}

impl FileRule {
    /// The rule's match, parsed.
    pub fn rule_match(&self) -> Result<RuleMatch, String> {
        self.matches
            .parse()
            .map_err(|err| format!("rule {:?}: {err}", self.matches))
    }
}

/// How an agent file is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// TOML, for people.
    Toml,
    /// JSON, for tools.
    Json,
}

impl AgentFile {
    /// An agent and its rules, as `studio agent export` writes them.
    pub fn of(agent: AgentConfig, rules: Vec<FileRule>) -> AgentFile {
        AgentFile {
            format: FORMAT,
            template: None,
            agent,
            rules,
        }
    }

    /// Reads a file's text: JSON when it begins with `{`, else TOML; every
    /// part checked (the agent, each rule, the format's version).
    pub fn parse(text: &str) -> Result<AgentFile, String> {
        let file: AgentFile = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|err| err.to_string())?
        } else {
            toml::from_str(text).map_err(|err| err.to_string())?
        };
        file.check()?;
        Ok(file)
    }

    /// Moves the agent to `provider` with `model`; the scripted provider
    /// needs none ([`SCRIPTED_MODEL`]), any other does.
    pub fn switch_provider(
        &mut self,
        provider: ProviderKind,
        model: Option<String>,
    ) -> Result<(), String> {
        let model = match (provider, model) {
            (_, Some(model)) if !model.trim().is_empty() => model.trim().to_owned(),
            (ProviderKind::Scripted, _) => SCRIPTED_MODEL.to_owned(),
            (_, _) => return Err(format!("{provider} needs a model too")),
        };
        self.agent.provider = provider;
        self.agent.model = model;
        Ok(())
    }

    /// Checks what [`AgentFile::parse`] checks.
    pub fn check(&self) -> Result<(), String> {
        if self.format > FORMAT {
            return Err(format!(
                "format {} is newer than this release reads ({FORMAT})",
                self.format
            ));
        }
        self.agent.validate()?;
        if let Some(url) = &self.agent.base_url {
            protocol::base_url::normalize(self.agent.provider, url)?;
        }
        for rule in &self.rules {
            rule.rule_match()?;
        }
        if let Some(template) = &self.template
            && template.title.trim().is_empty()
        {
            return Err("a template needs a title".to_owned());
        }
        Ok(())
    }

    /// The file's text.
    pub fn write(&self, format: FileFormat) -> Result<String, String> {
        match format {
            FileFormat::Toml => toml::to_string_pretty(self).map_err(|err| err.to_string()),
            FileFormat::Json => serde_json::to_string_pretty(self)
                .map(|text| text + "\n")
                .map_err(|err| err.to_string()),
        }
    }

    /// What the agent may do beyond reading, each a phrase after "may"
    /// ("use the tools shell, fs"), said before it is used: its tools, MCP
    /// servers, a safety mode beyond read-only, rules that allow calls
    /// without asking.
    pub fn asks_for(&self) -> Vec<String> {
        let agent = &self.agent;
        let mut asks = Vec::new();
        if !agent.tools.is_empty() {
            asks.push(format!("use the tools {}", agent.tools.join(", ")));
        }
        if !agent.mcp_servers.is_empty() {
            asks.push(format!(
                "use the MCP servers {}",
                agent.mcp_servers.join(", ")
            ));
        }
        if agent.safety != SafetyMode::ReadOnly {
            asks.push(format!("work in safety mode {}", agent.safety));
        }
        let allowed: Vec<&str> = self
            .rules
            .iter()
            .filter(|rule| rule.decision == RuleDecision::Allow)
            .map(|rule| rule.matches.as_str())
            .collect();
        if !allowed.is_empty() {
            asks.push(format!("run without asking: {}", allowed.join(", ")));
        }
        asks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reviewer() -> AgentFile {
        let mut agent = AgentConfig::scripted("reviewer");
        agent.tools = vec!["shell".into()];
        let mut file = AgentFile::of(
            agent,
            vec![FileRule {
                matches: "shell:command=git *".into(),
                decision: RuleDecision::Allow,
                priority: 10,
            }],
        );
        file.template = Some(TemplateInfo {
            title: "Code Reviewer".into(),
            description: "Reviews.".into(),
            sample_prompt: "Review HEAD.".into(),
            suggested_mcp: vec!["github".into()],
        });
        file
    }

    #[test]
    fn a_file_reads_back_the_same_as_toml_and_as_json() {
        let file = reviewer();
        for format in [FileFormat::Toml, FileFormat::Json] {
            let text = file.write(format).unwrap();
            assert_eq!(AgentFile::parse(&text).unwrap(), file, "{text}");
        }
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let toml = reviewer().write(FileFormat::Toml).unwrap();
        let newer = toml.replace("format = 1", "format = 2");
        assert!(AgentFile::parse(&newer).unwrap_err().contains("newer"));
        let bad_rule = toml.replace("shell:command=git *", "shell:command");
        assert!(AgentFile::parse(&bad_rule).unwrap_err().contains("rule"));
        let bad_name = toml.replace("name = \"reviewer\"", "name = \"../x\"");
        assert!(AgentFile::parse(&bad_name).is_err());
        let keyed = toml.replace(
            "[agent]\n",
            "[agent]\nbase_url = \"https://example.com/v1?key=SECRET\"\n",
        );
        let err = AgentFile::parse(&keyed).unwrap_err();
        assert!(err.contains("query") && !err.contains("SECRET"), "{err}");
        let unknown = format!("{toml}\nsurprise = true\n");
        assert!(AgentFile::parse(&unknown).unwrap_err().contains("surprise"));
        assert!(AgentFile::parse("{").is_err());
    }

    #[test]
    fn switching_provider_needs_a_model_unless_scripted() {
        let mut file = reviewer();
        file.switch_provider(ProviderKind::Scripted, None).unwrap();
        assert_eq!(file.agent.model, SCRIPTED_MODEL);
        let err = file.switch_provider(ProviderKind::OpenAi, Some(" ".into()));
        assert_eq!(err.unwrap_err(), "openai needs a model too");
        assert_eq!(file.agent.provider, ProviderKind::Scripted);
        file.switch_provider(ProviderKind::Ollama, Some("llama3.2".into()))
            .unwrap();
        assert_eq!(
            (file.agent.provider, file.agent.model.as_str()),
            (ProviderKind::Ollama, "llama3.2")
        );
    }

    #[test]
    fn what_an_agent_asks_for_is_said() {
        let asks = reviewer().asks_for();
        assert_eq!(
            asks,
            [
                "use the tools shell",
                "run without asking: shell:command=git *"
            ]
        );
        let quiet = AgentFile::of(AgentConfig::scripted("quiet"), Vec::new());
        assert!(quiet.asks_for().is_empty());
    }
}
