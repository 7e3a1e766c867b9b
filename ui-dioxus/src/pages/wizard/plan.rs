//! What the setup wizard's choices mean, apart from how they are drawn:
//! where models come from ([`Connection`]), how that is proved
//! ([`Connection::test`]), and the agent and first run it makes
//! ([`first_run`]).

use protocol::control::RunSpec;
use protocol::{ProviderKind, Secret};
use studio_client::agent_file::AgentFile;

use crate::connection::Command;
use crate::pages::templates::new_rules;

/// Where the first agent's model comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Source {
    /// A provider's key, pasted (proved by listing models with it).
    #[default]
    Key,
    /// Ollama on this machine or another, with no key (proved by reaching it).
    Ollama,
    /// The scripted provider: canned replies, no key, nothing to prove.
    Scripted,
}

impl Source {
    /// Every source, in the order shown.
    pub const ALL: [Source; 3] = [Source::Key, Source::Ollama, Source::Scripted];

    /// Its value in the form.
    pub fn value(self) -> &'static str {
        match self {
            Source::Key => "key",
            Source::Ollama => "ollama",
            Source::Scripted => "scripted",
        }
    }

    /// What the choice says.
    pub fn label(self) -> &'static str {
        match self {
            Source::Key => "Paste a provider's API key",
            Source::Ollama => "Ollama, with no key",
            Source::Scripted => "Try it without a key (scripted replies)",
        }
    }

    /// The source of a form value.
    pub fn from_value(value: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|s| s.value() == value)
    }
}

/// The providers a key can be pasted for.
pub const KEYED: [ProviderKind; 3] = [
    ProviderKind::OpenAi,
    ProviderKind::Anthropic,
    ProviderKind::Gemini,
];

/// What the first step chose.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Connection {
    /// Where models come from.
    pub source: Source,
    /// The provider a key is for (with [`Source::Key`]).
    pub provider: Option<ProviderKind>,
    /// A base URL as pasted (empty: the provider's own).
    pub base_url: String,
}

impl Connection {
    /// The provider the agent will use.
    pub fn provider(&self) -> ProviderKind {
        match self.source {
            Source::Key => self.provider.unwrap_or(ProviderKind::OpenAi),
            Source::Ollama => ProviderKind::Ollama,
            Source::Scripted => ProviderKind::Scripted,
        }
    }

    /// The pasted base URL, if one was.
    pub fn base_url(&self) -> Option<String> {
        let url = self.base_url.trim();
        (!url.is_empty()).then(|| url.to_owned())
    }

    /// Whether the key goes to the pasted base URL: the person typed both
    /// into the same form, and another host gets no key otherwise.
    pub fn send_key(&self) -> bool {
        self.source == Source::Key && self.base_url().is_some()
    }

    /// What proves the choice works: the key stored, then models listed
    /// with it; or Ollama reached. `None` for the scripted provider, or
    /// why it cannot be tried yet.
    pub fn test(&self, key: &str) -> Result<Option<Command>, String> {
        let provider = self.provider();
        let key = match self.source {
            Source::Scripted => return Ok(None),
            Source::Ollama => None,
            Source::Key => {
                let key = key.trim();
                if key.is_empty() {
                    return Err(format!("paste your {provider} API key first"));
                }
                Some(Secret::new(key.to_owned()))
            }
        };
        if let Some(url) = self.base_url() {
            protocol::base_url::normalize(provider, &url)?;
        }
        Ok(Some(Command::TestProvider {
            provider,
            key,
            base_url: self.base_url(),
            send_key: self.send_key(),
        }))
    }
}

/// What the last step sends: the template's agent named `name`, on the
/// chosen provider and `model`, with its rules, then a run of `prompt`.
pub fn first_run(
    mut file: AgentFile,
    name: &str,
    connection: &Connection,
    model: &str,
    prompt: &str,
) -> Result<Command, String> {
    let name = name.trim();
    if !name.is_empty() {
        file.agent.name = name.to_owned();
    }
    let provider = connection.provider();
    let model = (provider != ProviderKind::Scripted).then(|| model.to_owned());
    file.switch_provider(provider, model)?;
    file.agent.base_url = match provider {
        ProviderKind::Scripted => None,
        _ => connection.base_url(),
    };
    file.agent.send_key_to_base_url = connection.send_key();
    file.check()?;
    let prompt = prompt.trim();
    if prompt.is_empty() {
        return Err("write what the first run should do".to_owned());
    }
    let rules = new_rules(&file)?;
    let run = RunSpec {
        agent: file.agent.name.clone(),
        prompt: prompt.to_owned(),
        ..RunSpec::default()
    };
    Ok(Command::CreateAndRun {
        agent: Box::new(file.agent),
        rules,
        run: Box::new(run),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use studio_client::templates;

    fn keyed(base_url: &str) -> Connection {
        Connection {
            source: Source::Key,
            provider: Some(ProviderKind::Gemini),
            base_url: base_url.to_owned(),
        }
    }

    #[test]
    fn a_key_is_stored_then_proved_and_goes_to_a_pasted_host_only_when_typed_with_it() {
        assert!(keyed("").test("  ").unwrap_err().contains("gemini API key"));
        let Ok(Some(Command::TestProvider {
            provider,
            key,
            base_url,
            send_key,
        })) = keyed("").test(" AIza-key ")
        else {
            panic!("no test");
        };
        assert_eq!(provider, ProviderKind::Gemini);
        assert_eq!(key.unwrap().expose(), "AIza-key");
        assert_eq!((base_url, send_key), (None, false));
        let Ok(Some(Command::TestProvider { send_key, .. })) =
            keyed("https://generativelanguage.googleapis.com").test("k")
        else {
            panic!("no test");
        };
        assert!(send_key);
        assert!(keyed("https://x/v1beta?key=AIza").test("k").is_err());
        let ollama = Connection {
            source: Source::Ollama,
            ..Connection::default()
        };
        let Ok(Some(Command::TestProvider { key, provider, .. })) = ollama.test("ignored") else {
            panic!("no test");
        };
        assert_eq!((key, provider), (None, ProviderKind::Ollama));
        let scripted = Connection {
            source: Source::Scripted,
            ..Connection::default()
        };
        assert_eq!(scripted.test(""), Ok(None));
    }

    #[test]
    fn the_first_run_makes_the_templates_agent_on_the_chosen_provider_then_runs_it() {
        let reviewer = templates::find("code-reviewer").unwrap();
        let scripted = Connection {
            source: Source::Scripted,
            base_url: "ignored".into(),
            ..Connection::default()
        };
        let Ok(Command::CreateAndRun { agent, rules, run }) = first_run(
            reviewer.clone(),
            " my-reviewer ",
            &scripted,
            "",
            "Review HEAD",
        ) else {
            panic!("nothing sent");
        };
        assert_eq!(agent.name, "my-reviewer");
        assert_eq!(
            (agent.provider, agent.model.as_str(), agent.base_url),
            (ProviderKind::Scripted, "scripted-1", None)
        );
        assert_eq!(rules.len(), reviewer.rules.len());
        assert_eq!(
            (run.agent.as_str(), run.prompt.as_str()),
            ("my-reviewer", "Review HEAD")
        );

        let Ok(Command::CreateAndRun { agent, .. }) = first_run(
            reviewer.clone(),
            "",
            &keyed("https://generativelanguage.googleapis.com"),
            "gemini-2.5-flash",
            "go",
        ) else {
            panic!("nothing sent");
        };
        assert_eq!(agent.name, "code-reviewer");
        assert_eq!(agent.model, "gemini-2.5-flash");
        assert!(agent.send_key_to_base_url);

        assert!(first_run(reviewer.clone(), "", &keyed(""), "", "go").is_err());
        assert!(first_run(reviewer.clone(), "../x", &scripted, "", "go").is_err());
        assert!(first_run(reviewer, "ok", &scripted, "", "  ").is_err());
    }
}
