//! Anthropic Messages: `POST {base}/v1/messages` with `stream: true`,
//! `x-api-key` and `anthropic-version`.
//!
//! The stream is named server-sent events: `message_start` (usage so far),
//! `content_block_start` (a `text` or a `tool_use` block with its id and
//! name), `content_block_delta` (`text_delta`, or `input_json_delta`
//! fragments of a tool's arguments), `content_block_stop`,
//! `message_delta` (stop reason, output usage), `message_stop`; `ping`s in
//! between and `error` when the API fails mid-stream.

use std::collections::HashMap;

use protocol::event::Usage;
use protocol::message::{ChatMessage, Role};
use protocol::worker::Endpoint;
use serde_json::{Value, json};

use super::openai::schema;
use super::{Completion, Delta, Limits, ModelRequest, ProviderError, http};

const NAME: &str = "anthropic";
/// The API version this adapter speaks.
const VERSION: &str = "2023-06-01";
/// `max_tokens` is required by the API.
const MAX_TOKENS: u32 = 8192;

pub(super) async fn complete(
    endpoint: &Endpoint,
    request: &ModelRequest<'_>,
    limits: Limits,
    on_delta: &mut (dyn FnMut(&Delta) + Send),
) -> Result<Completion, ProviderError> {
    let url = format!("{}/v1/messages", endpoint.base_url.trim_end_matches('/'));
    let mut headers = vec![("anthropic-version", VERSION)];
    if let Some(key) = &endpoint.api_key {
        headers.push(("x-api-key", key.as_str()));
    }
    let response = http::post_json(NAME, &url, &headers, &body(request)).await?;
    let mut events = http::events(response);
    let mut completion = Completion::default();
    let mut stream = StreamState::default();
    while let Some(event) = http::next_within(NAME, &mut events, limits.idle).await? {
        let data: Value = match event.event.as_str() {
            "ping" => continue,
            _ => serde_json::from_str(&event.data).map_err(|err| ProviderError::Malformed {
                provider: NAME,
                message: format!("{err} in a {} event", event.event),
            })?,
        };
        match stream.parse(&data)? {
            Parsed::Deltas(deltas) => {
                for delta in deltas {
                    on_delta(&delta);
                    completion.apply(delta);
                }
            }
            Parsed::Stop => return Ok(completion),
        }
    }
    Err(ProviderError::Truncated { provider: NAME })
}

/// The request body.
pub(super) fn body(request: &ModelRequest<'_>) -> Value {
    let mut body = json!({
        "model": request.model,
        "max_tokens": MAX_TOKENS,
        "messages": messages(request.messages),
        "stream": true,
    });
    if !request.system.is_empty() {
        body["system"] = json!(request.system);
    }
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| json!({ "name": t.name, "description": t.description, "input_schema": schema(&t.parameters) }))
            .collect();
    }
    // The agent's maximum, if set, replaces the default one.
    for (name, value) in
        super::sampling_fields(&request.sampling, ["temperature", "top_p", "max_tokens"])
    {
        body[name] = value;
    }
    body
}

/// Anthropic's turns: tool calls are `tool_use` blocks of the assistant,
/// and results are `tool_result` blocks of the next user turn (consecutive
/// results share one turn). System messages in the history become user text.
fn messages(history: &[ChatMessage]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for message in history {
        match message.role {
            Role::User | Role::System => {
                out.push(json!({ "role": "user", "content": message.content }))
            }
            Role::Assistant => {
                let mut blocks = Vec::new();
                if !message.content.is_empty() {
                    blocks.push(json!({ "type": "text", "text": message.content }));
                }
                for call in &message.tool_calls {
                    let input: Value =
                        serde_json::from_str(&call.arguments).unwrap_or_else(|_| json!({}));
                    blocks.push(json!({ "type": "tool_use", "id": call.id, "name": call.name, "input": input }));
                }
                out.push(json!({ "role": "assistant", "content": blocks }));
            }
            Role::Tool => {
                let block = json!({
                    "type": "tool_result",
                    "tool_use_id": message.tool_call_id.clone().unwrap_or_default(),
                    "content": message.content,
                });
                let previous_is_results = out.last().is_some_and(|m| {
                    m["role"] == "user" && m["content"][0]["type"] == "tool_result"
                });
                match out.last_mut().and_then(|m| m["content"].as_array_mut()) {
                    Some(blocks) if previous_is_results => blocks.push(block),
                    _ => out.push(json!({ "role": "user", "content": [block] })),
                }
            }
        }
    }
    out
}

/// What one stream event means.
pub(super) enum Parsed {
    Deltas(Vec<Delta>),
    Stop,
}

/// Maps content-block indexes to tool-call positions.
#[derive(Default)]
pub(super) struct StreamState {
    tool_index: HashMap<u64, usize>,
}

impl StreamState {
    pub(super) fn parse(&mut self, data: &Value) -> Result<Parsed, ProviderError> {
        let block = data.get("index").and_then(Value::as_u64).unwrap_or(0);
        let deltas = match data["type"].as_str().unwrap_or_default() {
            "message_start" => vec![Delta::Usage(usage(&data["message"]["usage"]))],
            "content_block_start" => {
                let content = &data["content_block"];
                match content["type"].as_str() {
                    Some("tool_use") => {
                        let index = self.tool_index.len();
                        self.tool_index.insert(block, index);
                        vec![Delta::ToolCallStart {
                            index,
                            id: content["id"].as_str().unwrap_or_default().to_owned(),
                            name: content["name"].as_str().unwrap_or_default().to_owned(),
                        }]
                    }
                    _ => text(content["text"].as_str()),
                }
            }
            "content_block_delta" => {
                let delta = &data["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => text(delta["text"].as_str()),
                    Some("input_json_delta") => {
                        match (self.tool_index.get(&block), delta["partial_json"].as_str()) {
                            (Some(&index), Some(fragment)) if !fragment.is_empty() => {
                                vec![Delta::ToolCallArgs {
                                    index,
                                    fragment: fragment.to_owned(),
                                }]
                            }
                            _ => Vec::new(),
                        }
                    }
                    _ => Vec::new(), // thinking, signatures: not shown
                }
            }
            "message_delta" => {
                let mut out = vec![Delta::Usage(usage(&data["usage"]))];
                if let Some(reason) = data["delta"]["stop_reason"].as_str() {
                    out.push(Delta::Finish(finish_reason(reason)));
                }
                out
            }
            "message_stop" => return Ok(Parsed::Stop),
            "error" => {
                return Err(ProviderError::InStream {
                    provider: NAME,
                    message: data["error"]["message"]
                        .as_str()
                        .unwrap_or("unknown error")
                        .to_owned(),
                });
            }
            _ => Vec::new(),
        };
        Ok(Parsed::Deltas(deltas))
    }
}

fn text(text: Option<&str>) -> Vec<Delta> {
    match text {
        Some(t) if !t.is_empty() => vec![Delta::Text(t.to_owned())],
        _ => Vec::new(),
    }
}

/// Anthropic counts cached input apart from `input_tokens`; OpenTelemetry's
/// input count includes it, so the three are added (and also kept apart).
fn usage(usage: &Value) -> Usage {
    let count = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
    let cache_read = count("cache_read_input_tokens");
    let cache_creation = count("cache_creation_input_tokens");
    Usage {
        input_tokens: count("input_tokens") + cache_read + cache_creation,
        output_tokens: count("output_tokens"),
        cache_read_tokens: cache_read,
        cache_creation_tokens: cache_creation,
        reasoning_tokens: 0,
    }
}

fn finish_reason(reason: &str) -> String {
    match reason {
        "end_turn" | "stop_sequence" => "stop",
        "tool_use" => "tool_calls",
        "max_tokens" => "length",
        other => other,
    }
    .to_owned()
}
