//! OpenAI Chat Completions, and every server that speaks it (LM Studio,
//! vLLM, llama.cpp server, OpenRouter): `POST {base}/chat/completions`
//! with `stream: true` and `stream_options.include_usage`.
//!
//! The stream is server-sent events of `chat.completion.chunk` objects:
//! text in `choices[0].delta.content`; tool calls in
//! `choices[0].delta.tool_calls[]`, whose id and name come in the first
//! fragment of each `index` and the arguments in later ones; a last chunk
//! with empty `choices` and `usage`; then `data: [DONE]`.

use protocol::event::Usage;
use protocol::message::{ChatMessage, Role};
use protocol::worker::Endpoint;
use serde_json::{Value, json};

use super::{Completion, Delta, Limits, ModelRequest, ProviderError, http};

const NAME: &str = "openai";

pub(super) async fn complete(
    endpoint: &Endpoint,
    request: &ModelRequest<'_>,
    limits: Limits,
    on_delta: &mut (dyn FnMut(&Delta) + Send),
) -> Result<Completion, ProviderError> {
    let url = format!(
        "{}/chat/completions",
        endpoint.base_url.trim_end_matches('/')
    );
    let bearer = endpoint.api_key.as_ref().map(|key| format!("Bearer {key}"));
    let headers: Vec<(&str, &str)> = bearer
        .iter()
        .map(|b| ("authorization", b.as_str()))
        .collect();
    let response = http::post_json(NAME, &url, &headers, &body(request)).await?;
    let mut events = http::events(response);
    let mut completion = Completion::default();
    while let Some(event) = http::next_within(NAME, &mut events, limits.idle).await? {
        if event.data.trim() == "[DONE]" {
            return Ok(completion);
        }
        let chunk: Value =
            serde_json::from_str(&event.data).map_err(|err| ProviderError::Malformed {
                provider: NAME,
                message: format!("{err} in {:?}", clip(&event.data)),
            })?;
        if let Some(error) = chunk.get("error") {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| error.to_string(), str::to_owned);
            return Err(ProviderError::InStream {
                provider: NAME,
                message,
            });
        }
        for delta in parse_chunk(&chunk) {
            on_delta(&delta);
            completion.apply(delta);
        }
    }
    Err(ProviderError::Truncated { provider: NAME })
}

fn clip(text: &str) -> String {
    text.chars().take(200).collect()
}

/// The request body.
pub(super) fn body(request: &ModelRequest<'_>) -> Value {
    let mut messages = Vec::new();
    if !request.system.is_empty() {
        messages.push(json!({ "role": "system", "content": request.system }));
    }
    messages.extend(request.messages.iter().map(message));
    let mut body = json!({
        "model": request.model,
        "messages": messages,
        "stream": true,
        "stream_options": { "include_usage": true },
    });
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": schema(&tool.parameters),
                    }
                })
            })
            .collect();
    }
    for (name, value) in super::sampling_fields(
        &request.sampling,
        ["temperature", "top_p", "max_completion_tokens"],
    ) {
        body[name] = value;
    }
    body
}

/// A tool's JSON Schema text as JSON (an empty object schema if unreadable).
pub(super) fn schema(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| json!({ "type": "object", "properties": {} }))
}

fn message(message: &ChatMessage) -> Value {
    match message.role {
        Role::System => json!({ "role": "system", "content": message.content }),
        Role::User => json!({ "role": "user", "content": message.content }),
        Role::Assistant if message.tool_calls.is_empty() => {
            json!({ "role": "assistant", "content": message.content })
        }
        Role::Assistant => json!({
            "role": "assistant",
            "content": if message.content.is_empty() { Value::Null } else { json!(message.content) },
            "tool_calls": message.tool_calls.iter().map(|call| json!({
                "id": call.id,
                "type": "function",
                "function": { "name": call.name, "arguments": call.arguments },
            })).collect::<Vec<_>>(),
        }),
        Role::Tool => json!({
            "role": "tool",
            "tool_call_id": message.tool_call_id.clone().unwrap_or_default(),
            "content": message.content,
        }),
    }
}

/// The deltas in one `chat.completion.chunk`.
pub(super) fn parse_chunk(chunk: &Value) -> Vec<Delta> {
    let mut out = Vec::new();
    if let Some(choice) = chunk.pointer("/choices/0") {
        let delta = &choice["delta"];
        if let Some(text) = delta.get("content").and_then(Value::as_str)
            && !text.is_empty()
        {
            out.push(Delta::Text(text.to_owned()));
        }
        for call in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = call.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
            let id = call.get("id").and_then(Value::as_str);
            let name = call.pointer("/function/name").and_then(Value::as_str);
            if id.is_some() || name.is_some() {
                out.push(Delta::ToolCallStart {
                    index,
                    id: id.unwrap_or_default().to_owned(),
                    name: name.unwrap_or_default().to_owned(),
                });
            }
            if let Some(fragment) = call.pointer("/function/arguments").and_then(Value::as_str)
                && !fragment.is_empty()
            {
                out.push(Delta::ToolCallArgs {
                    index,
                    fragment: fragment.to_owned(),
                });
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            out.push(Delta::Finish(reason.to_owned()));
        }
    }
    if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
        out.push(Delta::Usage(parse_usage(usage)));
    }
    out
}

/// OpenAI's usage: `prompt_tokens` already includes the cached ones and
/// `completion_tokens` the reasoning ones, as OpenTelemetry counts them.
pub(super) fn parse_usage(usage: &Value) -> Usage {
    let count = |path: &str| usage.pointer(path).and_then(Value::as_u64).unwrap_or(0);
    Usage {
        input_tokens: count("/prompt_tokens"),
        output_tokens: count("/completion_tokens"),
        cache_read_tokens: count("/prompt_tokens_details/cached_tokens"),
        cache_creation_tokens: 0,
        reasoning_tokens: count("/completion_tokens_details/reasoning_tokens"),
    }
}
