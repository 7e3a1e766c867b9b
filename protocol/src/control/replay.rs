//! What `studio replay` asks: run a recorded session again from one of
//! its turns, keeping the conversation before it, with the same or a
//! changed context.

use serde::{Deserialize, Serialize};

use crate::agent::{AgentConfig, ProviderKind, Sampling};

/// How a session is replayed. A turn starts at a user message (a run's
/// prompt, or a message said in a chat); replaying from an event runs its
/// turn again and keeps everything said before that turn; a chat's later
/// turns follow (not with `as_chat`: the person goes on instead).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplaySpec {
    /// Any event of the session: the turn it belongs to is run again (an
    /// event before the first turn means the first). `None`: the first
    /// turn, so the whole session.
    pub at_seq: Option<u64>,
    /// The user message of that turn instead of the recorded one.
    pub prompt: Option<String>,
    /// Another agent, by name, as it is now (`None`: the agent as the
    /// session had it).
    pub agent: Option<String>,
    /// Another provider.
    pub provider: Option<ProviderKind>,
    /// Another model.
    pub model: Option<String>,
    /// Another system prompt.
    pub system_prompt: Option<String>,
    /// Sampling values to change; each `None` keeps the agent's.
    pub sampling: Sampling,
    /// Go on as an interactive session (its first message is the turn's)
    /// instead of a headless run.
    pub as_chat: bool,
    /// Play the turn from the recording (`Some`), as far as the replay
    /// asks what the original asked, then go on live or stop; `None`:
    /// live from the start. A headless run only.
    pub tape: Option<crate::tape::AfterTape>,
}

impl ReplaySpec {
    /// `agent` with this spec's changes.
    pub fn changed(&self, mut agent: AgentConfig) -> AgentConfig {
        if let Some(provider) = self.provider {
            agent.provider = provider;
        }
        if let Some(model) = &self.model {
            agent.model.clone_from(model);
        }
        if let Some(prompt) = &self.system_prompt {
            agent.system_prompt.clone_from(prompt);
        }
        let sampling = &mut agent.sampling;
        sampling.temperature = self.sampling.temperature.or(sampling.temperature);
        sampling.top_p = self.sampling.top_p.or(sampling.top_p);
        sampling.max_output_tokens = self
            .sampling
            .max_output_tokens
            .or(sampling.max_output_tokens);
        agent
    }

    /// What it changes, in words, for the new session's label: `model
    /// gpt-4.1, system prompt` (empty when nothing changes).
    pub fn changes(&self) -> Vec<String> {
        let mut said = Vec::new();
        if let Some(agent) = &self.agent {
            said.push(format!("agent {agent}"));
        }
        if let Some(provider) = self.provider {
            said.push(format!("provider {provider}"));
        }
        if let Some(model) = &self.model {
            said.push(format!("model {model}"));
        }
        if self.system_prompt.is_some() {
            said.push("system prompt".to_owned());
        }
        if self.prompt.is_some() {
            said.push("prompt".to_owned());
        }
        if let Some(t) = self.sampling.temperature {
            said.push(format!("temperature {t}"));
        }
        if let Some(p) = self.sampling.top_p {
            said.push(format!("top-p {p}"));
        }
        if let Some(n) = self.sampling.max_output_tokens {
            said.push(format!("max output tokens {n}"));
        }
        match self.tape {
            Some(crate::tape::AfterTape::Live) => said.push("from the tape".to_owned()),
            Some(crate::tape::AfterTape::Stop) => {
                said.push("from the tape, stopping where it parts".to_owned());
            }
            None => {}
        }
        said
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_changes_only_what_it_names_and_says_what() {
        let mut agent = AgentConfig::scripted("a");
        agent.sampling.top_p = Some(0.5);
        agent.system_prompt = "Be brief.".into();
        let spec = ReplaySpec {
            model: Some("gpt-4.1".into()),
            provider: Some(ProviderKind::OpenAi),
            sampling: Sampling {
                temperature: Some(0.1),
                ..Sampling::default()
            },
            prompt: Some("again".into()),
            ..ReplaySpec::default()
        };
        let changed = spec.changed(agent.clone());
        assert_eq!(changed.model, "gpt-4.1");
        assert_eq!(changed.provider, ProviderKind::OpenAi);
        assert_eq!(changed.system_prompt, "Be brief.", "kept");
        assert_eq!(
            changed.sampling,
            Sampling {
                temperature: Some(0.1),
                top_p: Some(0.5),
                max_output_tokens: None,
            }
        );
        assert_eq!(
            spec.changes(),
            [
                "provider openai",
                "model gpt-4.1",
                "prompt",
                "temperature 0.1"
            ]
        );
        assert!(ReplaySpec::default().changes().is_empty());
        assert_eq!(ReplaySpec::default().changed(agent.clone()), agent);
    }
}
