//! Google Gemini: `POST {base}/models/{model}:streamGenerateContent?alt=sse`
//! with the key in `x-goog-api-key` (never in the URL).
//!
//! Each server-sent event is a `GenerateContentResponse`: text and whole
//! `functionCall`s in `candidates[0].content.parts`, `finishReason` on the
//! last candidate, `usageMetadata` as it grows. The stream simply ends.

use protocol::event::Usage;
use protocol::message::{ChatMessage, Role};
use protocol::worker::Endpoint;
use serde_json::{Value, json};

use super::openai::schema;
use super::{Completion, Delta, Limits, ModelRequest, ProviderError, http};

const NAME: &str = "gemini";

pub(super) async fn complete(
    endpoint: &Endpoint,
    request: &ModelRequest<'_>,
    limits: Limits,
    on_delta: &mut (dyn FnMut(&Delta) + Send),
) -> Result<Completion, ProviderError> {
    let url = format!(
        "{}/models/{}:streamGenerateContent?alt=sse",
        endpoint.base_url.trim_end_matches('/'),
        request.model
    );
    let headers: Vec<(&str, &str)> = endpoint
        .api_key
        .iter()
        .map(|key| ("x-goog-api-key", key.as_str()))
        .collect();
    let response = http::post_json(NAME, &url, &headers, &body(request)).await?;
    let mut events = http::events(response);
    let mut completion = Completion::default();
    let mut calls = 0;
    let mut finished = false;
    while let Some(event) = http::next_within(NAME, &mut events, limits.idle).await? {
        let chunk: Value =
            serde_json::from_str(&event.data).map_err(|err| ProviderError::Malformed {
                provider: NAME,
                message: err.to_string(),
            })?;
        if let Some(error) = chunk.get("error") {
            return Err(ProviderError::InStream {
                provider: NAME,
                message: error["message"]
                    .as_str()
                    .unwrap_or("unknown error")
                    .to_owned(),
            });
        }
        for delta in parse_chunk(&chunk, &mut calls) {
            finished |= matches!(delta, Delta::Finish(_));
            on_delta(&delta);
            completion.apply(delta);
        }
    }
    if !finished {
        return Err(ProviderError::Truncated { provider: NAME });
    }
    if !completion.tool_calls.is_empty() && completion.finish_reason == "stop" {
        completion.finish_reason = "tool_calls".to_owned();
    }
    Ok(completion)
}

/// The request body.
pub(super) fn body(request: &ModelRequest<'_>) -> Value {
    let mut body = json!({ "contents": contents(request.messages) });
    if !request.system.is_empty() {
        body["systemInstruction"] = json!({ "parts": [{ "text": request.system }] });
    }
    if !request.tools.is_empty() {
        let declarations: Vec<Value> = request
            .tools
            .iter()
            .map(|t| json!({ "name": t.name, "description": t.description, "parameters": schema(&t.parameters) }))
            .collect();
        body["tools"] = json!([{ "functionDeclarations": declarations }]);
    }
    let generation = super::sampling_fields(
        &request.sampling,
        ["temperature", "topP", "maxOutputTokens"],
    );
    if !generation.is_empty() {
        body["generationConfig"] = Value::Object(generation);
    }
    body
}

/// Gemini's turns: `user` and `model`; tool calls are `functionCall` parts
/// and results `functionResponse` parts, which name the function (found
/// from the call they answer) rather than a call id.
fn contents(history: &[ChatMessage]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for message in history {
        match message.role {
            Role::User | Role::System => {
                out.push(json!({ "role": "user", "parts": [{ "text": message.content }] }))
            }
            Role::Assistant => {
                let mut parts = Vec::new();
                if !message.content.is_empty() {
                    parts.push(json!({ "text": message.content }));
                }
                for call in &message.tool_calls {
                    let args: Value =
                        serde_json::from_str(&call.arguments).unwrap_or_else(|_| json!({}));
                    parts.push(json!({ "functionCall": { "name": call.name, "args": args } }));
                }
                out.push(json!({ "role": "model", "parts": parts }));
            }
            Role::Tool => {
                let id = message.tool_call_id.as_deref().unwrap_or_default();
                let name = history
                    .iter()
                    .flat_map(|m| &m.tool_calls)
                    .find(|c| c.id == id)
                    .map_or("", |c| c.name.as_str());
                let part = json!({ "functionResponse": { "name": name, "response": { "result": message.content } } });
                let previous_is_responses = out.last().is_some_and(|m| {
                    m["role"] == "user" && m["parts"][0].get("functionResponse").is_some()
                });
                match out.last_mut().and_then(|m| m["parts"].as_array_mut()) {
                    Some(parts) if previous_is_responses => parts.push(part),
                    _ => out.push(json!({ "role": "user", "parts": [part] })),
                }
            }
        }
    }
    out
}

/// The deltas in one response chunk; `calls` counts function calls so far
/// (Gemini gives them no ids, so they are numbered).
pub(super) fn parse_chunk(chunk: &Value, calls: &mut usize) -> Vec<Delta> {
    let mut out = Vec::new();
    let candidate = &chunk["candidates"][0];
    for part in candidate["content"]["parts"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if part.get("thought").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        if let Some(text) = part.get("text").and_then(Value::as_str)
            && !text.is_empty()
        {
            out.push(Delta::Text(text.to_owned()));
        }
        if let Some(call) = part.get("functionCall") {
            let index = *calls;
            *calls += 1;
            let id = call
                .get("id")
                .and_then(Value::as_str)
                .map_or_else(|| format!("call_{}", index + 1), str::to_owned);
            out.push(Delta::ToolCallStart {
                index,
                id,
                name: call["name"].as_str().unwrap_or_default().to_owned(),
            });
            out.push(Delta::ToolCallArgs {
                index,
                fragment: call
                    .get("args")
                    .map_or_else(|| "{}".to_owned(), Value::to_string),
            });
        }
    }
    if let Some(reason) = candidate.get("finishReason").and_then(Value::as_str) {
        out.push(Delta::Finish(finish_reason(reason)));
    }
    if let Some(usage) = chunk.get("usageMetadata") {
        out.push(Delta::Usage(parse_usage(usage)));
    }
    out
}

/// `promptTokenCount` includes cached content; output is the candidates'
/// tokens plus the thinking ones, as OpenTelemetry counts output.
fn parse_usage(usage: &Value) -> Usage {
    let count = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
    let thoughts = count("thoughtsTokenCount");
    Usage {
        input_tokens: count("promptTokenCount"),
        output_tokens: count("candidatesTokenCount") + thoughts,
        cache_read_tokens: count("cachedContentTokenCount"),
        cache_creation_tokens: 0,
        reasoning_tokens: thoughts,
    }
}

fn finish_reason(reason: &str) -> String {
    match reason {
        "STOP" => "stop".to_owned(),
        "MAX_TOKENS" => "length".to_owned(),
        other => other.to_lowercase(),
    }
}
