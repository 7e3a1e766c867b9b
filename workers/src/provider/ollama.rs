//! Ollama's native chat API: `POST {host}/api/chat` with `stream: true`.
//!
//! The answer is newline-delimited JSON: one object per line with
//! `message.content` text (and whole `message.tool_calls`), the last with
//! `done: true`, `done_reason` and the counts `prompt_eval_count` and
//! `eval_count`. An `{"error": ...}` line reports a failure mid-stream.

use futures_util::StreamExt;
use protocol::event::Usage;
use protocol::message::{ChatMessage, Role};
use protocol::worker::Endpoint;
use serde_json::{Value, json};
use tokio_util::codec::{FramedRead, LinesCodec};
use tokio_util::io::StreamReader;

use super::openai::schema;
use super::{Completion, Delta, Limits, ModelRequest, ProviderError, http};

const NAME: &str = "ollama";
/// Longest line accepted from the stream.
const MAX_LINE: usize = 4 * 1024 * 1024;

pub(super) async fn complete(
    endpoint: &Endpoint,
    request: &ModelRequest<'_>,
    limits: Limits,
    on_delta: &mut (dyn FnMut(&Delta) + Send),
) -> Result<Completion, ProviderError> {
    let url = format!("{}/api/chat", endpoint.base_url.trim_end_matches('/'));
    let response = http::post_json(NAME, &url, &[], &body(request)).await?;
    let bytes = response
        .bytes_stream()
        .map(|chunk| chunk.map_err(std::io::Error::other));
    let lines = FramedRead::new(
        StreamReader::new(bytes),
        LinesCodec::new_with_max_length(MAX_LINE),
    );
    let mut lines = Box::pin(lines.map(|line| line.map_err(|err| err.to_string())));
    let mut completion = Completion::default();
    let mut calls = 0;
    while let Some(line) = http::next_within(NAME, &mut lines, limits.idle).await? {
        if line.trim().is_empty() {
            continue;
        }
        let chunk: Value = serde_json::from_str(&line).map_err(|err| ProviderError::Malformed {
            provider: NAME,
            message: err.to_string(),
        })?;
        if let Some(error) = chunk.get("error") {
            return Err(ProviderError::InStream {
                provider: NAME,
                message: error
                    .as_str()
                    .map_or_else(|| error.to_string(), str::to_owned),
            });
        }
        let done = chunk["done"].as_bool() == Some(true);
        for delta in parse_chunk(&chunk, &mut calls) {
            on_delta(&delta);
            completion.apply(delta);
        }
        if done {
            if !completion.tool_calls.is_empty() {
                completion.finish_reason = "tool_calls".to_owned();
            }
            return Ok(completion);
        }
    }
    Err(ProviderError::Truncated { provider: NAME })
}

/// The request body.
pub(super) fn body(request: &ModelRequest<'_>) -> Value {
    let mut messages = Vec::new();
    if !request.system.is_empty() {
        messages.push(json!({ "role": "system", "content": request.system }));
    }
    for message in request.messages {
        messages.push(match message.role {
            Role::System => json!({ "role": "system", "content": message.content }),
            Role::User => json!({ "role": "user", "content": message.content }),
            Role::Assistant => {
                let calls: Vec<Value> = message
                    .tool_calls
                    .iter()
                    .map(|c| {
                        let args: Value =
                            serde_json::from_str(&c.arguments).unwrap_or_else(|_| json!({}));
                        json!({ "function": { "name": c.name, "arguments": args } })
                    })
                    .collect();
                let mut m = json!({ "role": "assistant", "content": message.content });
                if !calls.is_empty() {
                    m["tool_calls"] = json!(calls);
                }
                m
            }
            Role::Tool => {
                let name = tool_name(request.messages, message);
                json!({ "role": "tool", "content": message.content, "tool_name": name })
            }
        });
    }
    let mut body = json!({ "model": request.model, "messages": messages, "stream": true });
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| json!({ "type": "function", "function": { "name": t.name, "description": t.description, "parameters": schema(&t.parameters) } }))
            .collect();
    }
    let options =
        super::sampling_fields(&request.sampling, ["temperature", "top_p", "num_predict"]);
    if !options.is_empty() {
        body["options"] = Value::Object(options);
    }
    body
}

/// The name of the function a tool result answers.
fn tool_name<'a>(history: &'a [ChatMessage], result: &ChatMessage) -> &'a str {
    let id = result.tool_call_id.as_deref().unwrap_or_default();
    history
        .iter()
        .flat_map(|m| &m.tool_calls)
        .find(|c| c.id == id)
        .map_or("", |c| c.name.as_str())
}

/// The deltas in one line; tool calls come whole and without ids, so they
/// are numbered.
pub(super) fn parse_chunk(chunk: &Value, calls: &mut usize) -> Vec<Delta> {
    let mut out = Vec::new();
    let message = &chunk["message"];
    if let Some(text) = message["content"].as_str()
        && !text.is_empty()
    {
        out.push(Delta::Text(text.to_owned()));
    }
    for call in message["tool_calls"].as_array().into_iter().flatten() {
        let index = *calls;
        *calls += 1;
        out.push(Delta::ToolCallStart {
            index,
            id: format!("call_{}", index + 1),
            name: call["function"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        });
        let args = &call["function"]["arguments"];
        out.push(Delta::ToolCallArgs {
            index,
            fragment: match args {
                Value::String(s) => s.clone(),
                Value::Null => "{}".to_owned(),
                other => other.to_string(),
            },
        });
    }
    if chunk["done"].as_bool() == Some(true) {
        let count = |key: &str| chunk.get(key).and_then(Value::as_u64).unwrap_or(0);
        out.push(Delta::Usage(Usage {
            input_tokens: count("prompt_eval_count"),
            output_tokens: count("eval_count"),
            ..Usage::default()
        }));
        out.push(Delta::Finish(
            chunk["done_reason"].as_str().unwrap_or("stop").to_owned(),
        ));
    }
    out
}
