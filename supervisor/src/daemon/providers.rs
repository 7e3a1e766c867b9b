//! Where each provider is and which key to use: resolved by the daemon and
//! handed to the worker only inside its start message.
//!
//! Keys come from the daemon's environment, under the names every peer tool
//! uses (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `GEMINI_API_KEY` or
//! `GOOGLE_API_KEY`); Ollama's host from `OLLAMA_HOST`. An agent's
//! `base_url` overrides the default address (OpenAI-compatible servers).

use protocol::agent::{AgentConfig, ProviderKind};
use protocol::control::{KeyInfo, KeySource, ProviderModels};
use protocol::worker::Endpoint;
use protocol::{Secret, Timestamp};

/// Default base URL of each provider.
pub(crate) fn default_base_url(provider: ProviderKind) -> Option<String> {
    Some(match provider {
        ProviderKind::Scripted => return None,
        ProviderKind::OpenAi => "https://api.openai.com/v1".to_owned(),
        ProviderKind::Anthropic => "https://api.anthropic.com".to_owned(),
        ProviderKind::Gemini => "https://generativelanguage.googleapis.com/v1beta".to_owned(),
        ProviderKind::Ollama => ollama_host(std::env::var("OLLAMA_HOST").ok()),
    })
}

/// `OLLAMA_HOST` as a URL: it may lack the scheme (`127.0.0.1:11434`).
fn ollama_host(value: Option<String>) -> String {
    match value.filter(|v| !v.trim().is_empty()) {
        None => "http://127.0.0.1:11434".to_owned(),
        Some(host) if host.contains("://") => host.trim_end_matches('/').to_owned(),
        Some(host) => format!("http://{}", host.trim_end_matches('/')),
    }
}

/// Environment variables holding a provider's key, in order of preference.
pub(crate) fn key_variables(provider: ProviderKind) -> &'static [&'static str] {
    match provider {
        ProviderKind::OpenAi => &["OPENAI_API_KEY"],
        ProviderKind::Anthropic => &["ANTHROPIC_API_KEY"],
        ProviderKind::Gemini => &["GEMINI_API_KEY", "GOOGLE_API_KEY"],
        ProviderKind::Scripted | ProviderKind::Ollama => &[],
    }
}

/// The key in the daemon's environment for `provider`, if any.
pub(crate) fn environment_key(provider: ProviderKind) -> Option<String> {
    key_variables(provider)
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

/// The endpoint a worker of `agent` talks to; `None` for the scripted
/// provider. A stored key wins over the environment. A key, wherever it
/// comes from, goes only to the provider's own host, or to the agent's
/// `base_url` when the agent opts in (`send_key_to_base_url`): an agent
/// file from someone else must not be able to collect your key.
pub(crate) fn endpoint(agent: &AgentConfig, stored_key: Option<Secret>) -> Option<Endpoint> {
    // An agent stored before base URLs were normalized, or a URL asked
    // for by `ModelList`, is normalized here; one that cannot be is used
    // as given, and fails at the provider with its own error.
    let base_url = match &agent.base_url {
        Some(url) => {
            protocol::base_url::normalize(agent.provider, url).unwrap_or_else(|_| url.clone())
        }
        None => default_base_url(agent.provider)?,
    };
    let api_key = if agent.key_may_go_to_base_url() {
        stored_key
            .map(|key| key.expose().to_owned())
            .or_else(|| environment_key(agent.provider))
    } else {
        tracing::info!(agent = %agent.name, %base_url, "not sending the provider's key to a base URL the agent did not opt in to");
        None
    };
    Some(Endpoint { base_url, api_key })
}

/// The models of `provider`, listed by a one-shot worker (only workers
/// talk to providers): its endpoint and key go to the job's stdin.
pub(crate) async fn list_models(
    worker_bin: &std::path::Path,
    provider: ProviderKind,
    endpoint: Option<Endpoint>,
) -> ProviderModels {
    let failed = |error: String| ProviderModels {
        provider,
        models: Vec::new(),
        error: Some(error),
    };
    let Some(endpoint) = endpoint else {
        return ProviderModels {
            provider,
            models: vec!["scripted-1".to_owned()],
            error: None,
        };
    };
    let input = match serde_json::to_vec(&endpoint) {
        Ok(input) => input,
        Err(err) => return failed(err.to_string()),
    };
    let args = ["list-models", "--provider", provider.as_str()];
    match super::worker_process::run_job(
        worker_bin,
        &args,
        &input,
        std::time::Duration::from_secs(30),
    )
    .await
    {
        Ok(stdout) => match serde_json::from_str::<Vec<String>>(&stdout) {
            Ok(models) => ProviderModels {
                provider,
                models,
                error: None,
            },
            Err(err) => failed(format!("unreadable model list: {err}")),
        },
        Err(error) => failed(error),
    }
}

/// Where each provider's key comes from (never the key).
pub(crate) fn key_sources(stored: &[(ProviderKind, Option<Timestamp>)]) -> Vec<KeyInfo> {
    stored
        .iter()
        .filter(|(provider, _)| !key_variables(*provider).is_empty())
        .map(|&(provider, stored_at)| KeyInfo {
            provider,
            source: match (stored_at, environment_key(provider)) {
                (Some(_), _) => KeySource::Stored,
                (None, Some(_)) => KeySource::Environment,
                (None, None) => KeySource::Missing,
            },
            stored_at,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_sources_cover_providers_that_take_keys() {
        let sources = key_sources(&[
            (ProviderKind::Scripted, None),
            (ProviderKind::Anthropic, Some(Timestamp(5))),
            (ProviderKind::Ollama, None),
        ]);
        assert_eq!(sources.len(), 1, "scripted and ollama take no key");
        assert_eq!(sources[0].source, KeySource::Stored);
    }

    #[test]
    fn ollama_hosts_become_urls() {
        assert_eq!(ollama_host(None), "http://127.0.0.1:11434");
        assert_eq!(
            ollama_host(Some("0.0.0.0:8080".into())),
            "http://0.0.0.0:8080"
        );
        assert_eq!(
            ollama_host(Some("https://o.example/".into())),
            "https://o.example"
        );
    }

    #[test]
    fn scripted_agents_need_no_endpoint_and_base_urls_override_defaults() {
        assert_eq!(endpoint(&AgentConfig::scripted("a"), None), None);
        let mut local = AgentConfig::scripted("local");
        local.provider = ProviderKind::OpenAi;
        local.base_url = Some("http://127.0.0.1:1234/v1".into());
        let elsewhere = endpoint(&local, Some(Secret::new("sk-stored"))).unwrap();
        assert_eq!(elsewhere.base_url, "http://127.0.0.1:1234/v1");
        assert_eq!(
            elsewhere.api_key, None,
            "a key goes to another host only if the agent opts in"
        );
        local.send_key_to_base_url = true;
        let trusted = endpoint(&local, Some(Secret::new("sk-stored"))).unwrap();
        assert_eq!(
            trusted.api_key.as_deref(),
            Some("sk-stored"),
            "a stored key wins"
        );
        local.base_url = Some("https://api.openai.com/v1".into());
        local.send_key_to_base_url = false;
        let own = endpoint(&local, Some(Secret::new("sk-stored"))).unwrap();
        assert_eq!(own.api_key.as_deref(), Some("sk-stored"));
    }
}
