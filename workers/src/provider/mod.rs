//! Talking to LLM providers: one request/response shape for the agent loop,
//! one adapter per wire format.
//!
//! An adapter turns a [`ModelRequest`] into the provider's HTTP request and
//! the provider's stream into [`Delta`]s; [`Completion`] assembles them.
//! Every failure is a [`ProviderError`] that says whether a retry may help
//! and how long the provider asked to wait. Retrying is the caller's job
//! (`agent::call_model`), so each attempt is recorded.

mod anthropic;
mod gemini;
pub mod http;
mod ollama;
mod openai;

use std::time::Duration;

use protocol::agent::{ProviderKind, Sampling};
use protocol::event::Usage;
use protocol::message::{ChatMessage, ToolCall};
use protocol::worker::{Endpoint, ToolSpec};
use serde_json::Value;

/// What the model is asked.
#[derive(Clone, Copy, Debug)]
pub struct ModelRequest<'a> {
    /// Model name as the provider spells it.
    pub model: &'a str,
    /// System prompt (may be empty).
    pub system: &'a str,
    /// The conversation, oldest first.
    pub messages: &'a [ChatMessage],
    /// Tools the model may call.
    pub tools: &'a [ToolSpec],
    /// Temperature, top-p and the most tokens the answer may hold.
    pub sampling: Sampling,
}

/// The sampling parameters set, each under the name a provider gives it
/// (temperature, top-p, most output tokens, in that order).
fn sampling_fields(sampling: &Sampling, names: [&str; 3]) -> serde_json::Map<String, Value> {
    let [temperature, top_p, max_output_tokens] = names;
    let mut fields = serde_json::Map::new();
    if let Some(t) = sampling.temperature {
        fields.insert(temperature.to_owned(), Value::from(t));
    }
    if let Some(p) = sampling.top_p {
        fields.insert(top_p.to_owned(), Value::from(p));
    }
    if let Some(max) = sampling.max_output_tokens {
        fields.insert(max_output_tokens.to_owned(), Value::from(max));
    }
    fields
}

/// One piece of a streamed response.
#[derive(Clone, Debug, PartialEq)]
pub enum Delta {
    /// Answer text.
    Text(String),
    /// A tool call begins (its id and name arrive first).
    ToolCallStart {
        /// Position of the call in the response.
        index: usize,
        /// Provider's call id.
        id: String,
        /// Tool name.
        name: String,
    },
    /// More of a tool call's JSON arguments.
    ToolCallArgs {
        /// Position of the call in the response.
        index: usize,
        /// The next fragment.
        fragment: String,
    },
    /// Token counts (may arrive more than once; the last one wins per field).
    Usage(Usage),
    /// Why the model stopped.
    Finish(String),
}

/// A whole response.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Completion {
    /// The answer text.
    pub text: String,
    /// Tool calls, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Token counts.
    pub usage: Usage,
    /// Normalised finish reason (`stop`, `length`, `tool_calls`, ...).
    pub finish_reason: String,
}

impl Completion {
    /// Folds one delta in.
    pub fn apply(&mut self, delta: Delta) {
        match delta {
            Delta::Text(text) => self.text.push_str(&text),
            Delta::ToolCallStart { index, id, name } => {
                let call = self.call_at(index);
                if !id.is_empty() {
                    call.id = id;
                }
                if !name.is_empty() {
                    call.name = name;
                }
            }
            Delta::ToolCallArgs { index, fragment } => {
                self.call_at(index).arguments.push_str(&fragment)
            }
            Delta::Usage(usage) => self.usage = merge_usage(self.usage, usage),
            Delta::Finish(reason) => self.finish_reason = reason,
        }
    }

    fn call_at(&mut self, index: usize) -> &mut ToolCall {
        while self.tool_calls.len() <= index {
            self.tool_calls.push(ToolCall {
                id: String::new(),
                name: String::new(),
                arguments: String::new(),
            });
        }
        &mut self.tool_calls[index]
    }
}

/// Later reports replace earlier ones field by field (providers send
/// partial usage at the start and the rest at the end).
fn merge_usage(old: Usage, new: Usage) -> Usage {
    let pick = |a: u64, b: u64| if b > 0 { b } else { a };
    Usage {
        input_tokens: pick(old.input_tokens, new.input_tokens),
        output_tokens: pick(old.output_tokens, new.output_tokens),
        cache_read_tokens: pick(old.cache_read_tokens, new.cache_read_tokens),
        cache_creation_tokens: pick(old.cache_creation_tokens, new.cache_creation_tokens),
        reasoning_tokens: pick(old.reasoning_tokens, new.reasoning_tokens),
    }
}

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// The provider answered with an error status.
    #[error("{provider} answered {status}: {message}")]
    Status {
        /// Provider name.
        provider: &'static str,
        /// HTTP status code.
        status: u16,
        /// The provider's own error message.
        message: String,
        /// How long the provider asked us to wait (`retry-after`).
        retry_after: Option<Duration>,
    },
    /// No connection, or it broke.
    #[error("connection to {provider} failed: {message}")]
    Connection {
        /// Provider name.
        provider: &'static str,
        /// What happened.
        message: String,
    },
    /// The stream stopped sending.
    #[error("{provider} sent nothing for {}s; giving up on the response", .idle.as_secs())]
    Stalled {
        /// Provider name.
        provider: &'static str,
        /// How long it was silent.
        idle: Duration,
    },
    /// The stream ended before the response was complete.
    #[error("{provider} closed the stream before the response was complete")]
    Truncated {
        /// Provider name.
        provider: &'static str,
    },
    /// The provider reported an error inside the stream.
    #[error("{provider} reported an error mid-stream: {message}")]
    InStream {
        /// Provider name.
        provider: &'static str,
        /// The provider's message.
        message: String,
    },
    /// The provider sent something we cannot read.
    #[error("cannot read {provider}'s response: {message}")]
    Malformed {
        /// Provider name.
        provider: &'static str,
        /// What was wrong.
        message: String,
    },
    /// The request cannot be made (no key, bad URL, unsupported provider).
    #[error("{0}")]
    Setup(String),
}

impl ProviderError {
    /// Whether trying again may succeed: 429, 5xx and broken connections.
    pub fn retryable(&self) -> bool {
        match self {
            ProviderError::Status { status, .. } => *status == 429 || *status >= 500,
            ProviderError::Connection { .. }
            | ProviderError::Stalled { .. }
            | ProviderError::Truncated { .. }
            | ProviderError::InStream { .. } => true,
            ProviderError::Malformed { .. } | ProviderError::Setup(_) => false,
        }
    }

    /// The wait the provider asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Limits of one request.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Longest silence in a stream before it counts as stalled.
    pub idle: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            idle: Duration::from_secs(90),
        }
    }
}

/// Sends `request` to the provider and streams the response into
/// `on_delta`; returns the assembled completion. One attempt, no retry.
///
/// Tool names are namespaced with dots (`fs.read`, `github.create_issue`),
/// which providers refuse in function names: they travel as `fs__read`
/// and are mapped back in the completion.
pub async fn complete(
    provider: ProviderKind,
    endpoint: &Endpoint,
    request: &ModelRequest<'_>,
    limits: Limits,
    on_delta: &mut (dyn FnMut(&Delta) + Send),
) -> Result<Completion, ProviderError> {
    let tools: Vec<ToolSpec> = request
        .tools
        .iter()
        .map(|t| ToolSpec {
            name: wire_name(&t.name),
            ..t.clone()
        })
        .collect();
    let messages: Vec<ChatMessage> = request
        .messages
        .iter()
        .map(|m| ChatMessage {
            tool_calls: m
                .tool_calls
                .iter()
                .map(|c| ToolCall {
                    name: wire_name(&c.name),
                    ..c.clone()
                })
                .collect(),
            ..m.clone()
        })
        .collect();
    let wired = ModelRequest {
        tools: &tools,
        messages: &messages,
        ..*request
    };
    let mut completion = match provider {
        ProviderKind::OpenAi => openai::complete(endpoint, &wired, limits, on_delta).await,
        ProviderKind::Anthropic => anthropic::complete(endpoint, &wired, limits, on_delta).await,
        ProviderKind::Gemini => gemini::complete(endpoint, &wired, limits, on_delta).await,
        ProviderKind::Ollama => ollama::complete(endpoint, &wired, limits, on_delta).await,
        ProviderKind::Scripted => Err(ProviderError::Setup(
            "the scripted provider does not speak HTTP".to_owned(),
        )),
    }?;
    for call in &mut completion.tool_calls {
        if let Some(tool) = request
            .tools
            .iter()
            .find(|t| wire_name(&t.name) == call.name)
        {
            call.name.clone_from(&tool.name);
        }
    }
    Ok(completion)
}

/// A tool name as providers accept it (`[a-zA-Z0-9_-]`): dots become `__`.
pub(crate) fn wire_name(name: &str) -> String {
    name.replace('.', "__")
}

/// The models `provider` offers at `endpoint`, sorted, from its own list
/// endpoint (`/models`, `/v1/models`, Gemini's `models`, Ollama's `/api/tags`).
pub async fn list_models(
    provider: ProviderKind,
    endpoint: &Endpoint,
) -> Result<Vec<String>, ProviderError> {
    let base = endpoint.base_url.trim_end_matches('/');
    let key = endpoint.api_key.as_deref();
    let (name, url, headers, list, field): (&'static str, String, Vec<(&str, String)>, &str, &str) =
        match provider {
            ProviderKind::OpenAi => (
                "openai",
                format!("{base}/models"),
                key.map(|k| ("authorization", format!("Bearer {k}")))
                    .into_iter()
                    .collect(),
                "/data",
                "id",
            ),
            ProviderKind::Anthropic => (
                "anthropic",
                format!("{base}/v1/models?limit=1000"),
                [("anthropic-version", "2023-06-01".to_owned())]
                    .into_iter()
                    .chain(key.map(|k| ("x-api-key", k.to_owned())))
                    .collect(),
                "/data",
                "id",
            ),
            ProviderKind::Gemini => (
                "gemini",
                format!("{base}/models?pageSize=1000"),
                key.map(|k| ("x-goog-api-key", k.to_owned()))
                    .into_iter()
                    .collect(),
                "/models",
                "name",
            ),
            ProviderKind::Ollama => (
                "ollama",
                format!("{base}/api/tags"),
                Vec::new(),
                "/models",
                "name",
            ),
            ProviderKind::Scripted => return Ok(vec!["scripted-1".to_owned()]),
        };
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let answer = http::get_json(name, &url, &headers).await?;
    let items = answer
        .pointer(list)
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| ProviderError::Malformed {
            provider: name,
            message: format!("no {list} list in the answer"),
        })?;
    let mut models: Vec<String> = items
        .iter()
        .filter(|m| {
            // Gemini lists embedding models too; keep those that chat.
            m.get("supportedGenerationMethods")
                .and_then(serde_json::Value::as_array)
                .is_none_or(|methods| methods.iter().any(|x| x == "generateContent"))
        })
        .filter_map(|m| m.get(field)?.as_str())
        .map(|id| id.strip_prefix("models/").unwrap_or(id).to_owned())
        .collect();
    models.sort();
    Ok(models)
}

/// The request parameters recorded in `llm.request.started` (no secret).
pub fn describe(provider: ProviderKind, endpoint: &Endpoint, request: &ModelRequest<'_>) -> String {
    let mut described = serde_json::json!({
        "base_url": endpoint.base_url,
        "model": request.model,
        "messages": request.messages.len(),
        "tools": request.tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        "stream": true,
        "provider": provider.as_str(),
    });
    // The sampling parameters set, by the names the agent gives them.
    for (name, value) in sampling_fields(
        &request.sampling,
        ["temperature", "top_p", "max_output_tokens"],
    ) {
        described[name] = value;
    }
    described.to_string()
}

#[cfg(test)]
mod tests;
