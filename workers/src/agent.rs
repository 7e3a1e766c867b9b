//! The agent loop for real providers: ask the model, stream its answer,
//! have each tool call it asks for decided by the daemon, feed the results
//! back, and stop when it answers without calling a tool.
//!
//! Every step is an event: `llm.request.started`, `llm.response.chunk`s,
//! `llm.error` for each failed attempt (with whether a retry follows),
//! `llm.response.completed` with usage, `message.assistant`, and for tool
//! calls `tool.requested` then the tool's own events.

use std::time::Duration;

use protocol::event::EventKind;
use protocol::message::{ChatMessage, Role, ToolCall};
use protocol::sandbox::Confinement;
use protocol::worker::{FromWorker, StartTurn, TurnOutcome};
use tokio::sync::mpsc;

use crate::connection::Outbox;
use crate::provider::{self, Completion, Delta, Limits, ModelRequest, ProviderError};

use crate::{mcp, tools};

/// Most model calls in one turn (each tool round trip is one).
const MAX_ROUNDS: usize = 32;
/// Retries of one model call after a retryable failure.
const MAX_RETRIES: u32 = 3;
/// First pause between retries when the provider names none; doubles each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Longest pause between retries, whatever `retry-after` asks.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The daemon's answer to one approval request.
#[derive(Debug)]
pub struct Decision {
    /// The call decided.
    pub call_id: String,
    /// Whether it may run.
    pub approved: bool,
    /// Why not, if denied.
    pub reason: String,
}

/// Runs one turn against the agent's provider. `Err` only when the daemon
/// is gone; provider failures end the turn as [`TurnOutcome::Failed`].
pub async fn run(
    start: &StartTurn,
    hub: &mcp::Hub,
    decisions: &mut mpsc::UnboundedReceiver<Decision>,
    outbox: &Outbox,
) -> anyhow::Result<TurnOutcome> {
    let Some(endpoint) = &start.endpoint else {
        return Ok(failed(format!(
            "no endpoint was given for provider {}",
            start.agent.provider
        )));
    };
    let mut history = start.history.clone();
    history.push(ChatMessage::text(Role::User, start.input.clone()));
    let tools = Tools::for_turn(start, hub);
    converse(start, endpoint, history, &tools, decisions, outbox).await
}

/// The request the model would be sent next after `history`.
fn request<'r>(
    start: &'r StartTurn,
    history: &'r [ChatMessage],
    tools: &'r Tools<'_>,
) -> ModelRequest<'r> {
    ModelRequest {
        model: &start.agent.model,
        system: &start.agent.system_prompt,
        messages: history,
        tools: &tools.offered,
        sampling: start.agent.sampling,
    }
}

/// The parameters `llm.request.started` would record for the next request
/// after `history` (a replay from the tape compares them with the
/// recorded ones).
pub(crate) fn params_now(
    start: &StartTurn,
    endpoint: &protocol::worker::Endpoint,
    history: &[ChatMessage],
    tools: &Tools<'_>,
) -> String {
    provider::describe(
        start.agent.provider,
        endpoint,
        &request(start, history, tools),
    )
}

/// The agent loop from `history` (which ends with the user's message or a
/// tool's result): ask the model, run the calls it asks for, until it
/// answers without one.
pub(crate) async fn converse(
    start: &StartTurn,
    endpoint: &protocol::worker::Endpoint,
    mut history: Vec<ChatMessage>,
    tools: &Tools<'_>,
    decisions: &mut mpsc::UnboundedReceiver<Decision>,
    outbox: &Outbox,
) -> anyhow::Result<TurnOutcome> {
    for _ in 0..MAX_ROUNDS {
        let request_id = format!(
            "req-{}",
            1 + history.iter().filter(|m| m.role == Role::Assistant).count()
        );
        let request = request(start, &history, tools);
        let completion = match call_model(start, endpoint, &request, &request_id, outbox).await? {
            Ok(completion) => completion,
            Err(err) => return Ok(failed(err.to_string())),
        };
        history.push(ChatMessage {
            role: Role::Assistant,
            content: completion.text.clone(),
            tool_calls: completion.tool_calls.clone(),
            tool_call_id: None,
        });
        if completion.tool_calls.is_empty() {
            return Ok(TurnOutcome::Completed);
        }
        for call in &completion.tool_calls {
            let result = tool_call(call, tools, decisions, outbox).await?;
            history.push(ChatMessage {
                role: Role::Tool,
                content: result,
                tool_calls: Vec::new(),
                tool_call_id: Some(call.id.clone()),
            });
        }
    }
    Ok(failed(format!(
        "the model was still calling tools after {MAX_ROUNDS} rounds"
    )))
}

fn failed(error: String) -> TurnOutcome {
    TurnOutcome::Failed { error }
}

/// One model call with its retries, recorded as events. The outer `Err`
/// means the daemon is gone; the inner one that the call failed for good.
async fn call_model(
    start: &StartTurn,
    endpoint: &protocol::worker::Endpoint,
    request: &ModelRequest<'_>,
    request_id: &str,
    outbox: &Outbox,
) -> anyhow::Result<Result<Completion, ProviderError>> {
    let kind = start.agent.provider;
    outbox
        .event(EventKind::LlmRequestStarted {
            request_id: request_id.to_owned(),
            provider: kind.as_str().to_owned(),
            model: request.model.to_owned(),
            params: provider::describe(kind, endpoint, request),
        })
        .await?;
    let mut attempt = 0;
    loop {
        let result = stream_once(kind, endpoint, request, request_id, outbox).await?;
        match result {
            Ok(completion) => {
                outbox
                    .event(EventKind::LlmResponseCompleted {
                        request_id: request_id.to_owned(),
                        usage: completion.usage,
                        finish_reason: completion.finish_reason.clone(),
                    })
                    .await?;
                if !completion.text.is_empty() {
                    outbox
                        .event(EventKind::MessageAssistant {
                            text: completion.text.clone(),
                        })
                        .await?;
                }
                return Ok(Ok(completion));
            }
            Err(err) => {
                let will_retry = err.retryable() && attempt < MAX_RETRIES;
                outbox
                    .event(EventKind::LlmError {
                        request_id: request_id.to_owned(),
                        message: err.to_string(),
                        will_retry,
                    })
                    .await?;
                if !will_retry {
                    return Ok(Err(err));
                }
                outbox.flush().await?;
                tokio::time::sleep(backoff(attempt, err.retry_after())).await;
                attempt += 1;
            }
        }
    }
}

/// How long to wait before retry number `attempt + 1`.
fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    retry_after
        .unwrap_or(FIRST_BACKOFF * 2u32.saturating_pow(attempt))
        .min(MAX_BACKOFF)
}

/// One attempt: streams text chunks as events while the response arrives.
async fn stream_once(
    kind: protocol::ProviderKind,
    endpoint: &protocol::worker::Endpoint,
    request: &ModelRequest<'_>,
    request_id: &str,
    outbox: &Outbox,
) -> anyhow::Result<Result<Completion, ProviderError>> {
    let (texts, mut received) = mpsc::unbounded_channel::<String>();
    let calling = async move {
        let mut on_delta = |delta: &Delta| {
            if let Delta::Text(text) = delta {
                let _ = texts.send(text.clone());
            }
        };
        provider::complete(kind, endpoint, request, Limits::default(), &mut on_delta).await
        // `texts` is dropped here, which ends `forwarding`.
    };
    let forwarding = async {
        while let Some(text) = received.recv().await {
            outbox
                .event(EventKind::LlmResponseChunk {
                    request_id: request_id.to_owned(),
                    text,
                })
                .await?;
        }
        anyhow::Ok(())
    };
    let (result, forwarded) = tokio::join!(calling, forwarding);
    forwarded?;
    Ok(result)
}

/// The tools of one turn: what the model is offered and where they run.
pub(crate) struct Tools<'a> {
    pub(crate) offered: Vec<protocol::worker::ToolSpec>,
    builtin: Vec<String>,
    /// `Err` says why built-in tools cannot run (e.g. no workspace).
    context: Result<tools::Context, String>,
    hub: &'a mcp::Hub,
}

impl<'a> Tools<'a> {
    /// The agent's built-in tools its safety mode allows, the tools of its
    /// connected MCP servers, and any extra tools the start message lists.
    pub(crate) fn for_turn(start: &StartTurn, hub: &'a mcp::Hub) -> Tools<'a> {
        let builtin = tools::offered(&start.agent);
        let names = builtin.iter().map(|t| t.name.clone()).collect();
        let mut offered = builtin;
        offered.extend(hub.offered());
        offered.extend(start.tools.iter().cloned());
        Tools {
            offered,
            builtin: names,
            context: tools::Context::for_turn(start),
            hub,
        }
    }

    /// The MCP servers' hub the tools of MCP servers go through.
    pub(crate) fn hub(&self) -> &'a mcp::Hub {
        self.hub
    }

    /// What a call of `name` may touch, for its `tool.started`.
    fn confinement(&self, name: &str) -> Confinement {
        if self.builtin.iter().any(|n| n == name) {
            return match &self.context {
                Ok(context) => context.confinement(name),
                Err(_) => Confinement::default(),
            };
        }
        self.hub.confinement(name)
    }

    /// Runs an approved call of one of these tools.
    async fn run(
        &self,
        call: &ToolCall,
        outbox: &Outbox,
    ) -> anyhow::Result<Result<tools::Output, String>> {
        if self.builtin.contains(&call.name) {
            return Ok(match &self.context {
                Ok(context) => tools::run(&call.name, &call.arguments, context).await,
                Err(why) => Err(why.clone()),
            });
        }
        if self.hub.owns(&call.name) {
            return self
                .hub
                .call(&call.id, &call.name, &call.arguments, outbox)
                .await;
        }
        Ok(Err(format!("there is no tool named {:?}", call.name)))
    }
}

/// Runs a view's own tool call, a turn of its own: asked, run and
/// recorded like a model's call (and so through the same rules and
/// approvals), with nobody to tell the result to but the view. Only a
/// tool of a live MCP server: a view never reaches the built-in tools.
pub(crate) async fn app_call(
    start: &StartTurn,
    call: &protocol::app_view::AppCall,
    hub: &mcp::Hub,
    decisions: &mut mpsc::UnboundedReceiver<Decision>,
    outbox: &Outbox,
) -> anyhow::Result<TurnOutcome> {
    if !hub.owns(&call.tool) {
        return Ok(TurnOutcome::Failed {
            error: format!(
                "a view asked for {:?}, which no live MCP server has",
                call.tool
            ),
        });
    }
    let tools = Tools::for_turn(start, hub);
    let call = ToolCall {
        id: call.call_id.clone(),
        name: call.tool.clone(),
        arguments: call.arguments.clone(),
    };
    tool_call(&call, &tools, decisions, outbox).await?;
    Ok(TurnOutcome::Completed)
}

/// Asks the daemon about one tool call, runs it if approved, and returns
/// what the model is told.
pub(crate) async fn tool_call(
    call: &ToolCall,
    tools: &Tools<'_>,
    decisions: &mut mpsc::UnboundedReceiver<Decision>,
    outbox: &Outbox,
) -> anyhow::Result<String> {
    let decision = ask(call, decisions, outbox).await?;
    finish(call, &decision, tools, outbox).await
}

/// Records the call and waits for the daemon's decision on it.
pub(crate) async fn ask(
    call: &ToolCall,
    decisions: &mut mpsc::UnboundedReceiver<Decision>,
    outbox: &Outbox,
) -> anyhow::Result<Decision> {
    outbox
        .event(EventKind::ToolRequested {
            call_id: call.id.clone(),
            tool: call.name.clone(),
            arguments: call.arguments.clone(),
        })
        .await?;
    outbox
        .send(FromWorker::ApprovalRequest {
            call_id: call.id.clone(),
            tool: call.name.clone(),
            arguments: call.arguments.clone(),
        })
        .await?;
    outbox.flush().await?;
    loop {
        let Some(decision) = decisions.recv().await else {
            anyhow::bail!("the daemon is gone");
        };
        if decision.call_id == call.id {
            return Ok(decision);
        }
        tracing::warn!(
            call_id = decision.call_id,
            "decision for another call ignored"
        );
    }
}

/// What the model is told of a denied call.
pub(crate) fn denied(decision: &Decision) -> String {
    format!("The tool call was denied: {}", decision.reason)
}

/// Runs a decided call if it was approved; what the model is told.
pub(crate) async fn finish(
    call: &ToolCall,
    decision: &Decision,
    tools: &Tools<'_>,
    outbox: &Outbox,
) -> anyhow::Result<String> {
    if !decision.approved {
        return Ok(denied(decision));
    }
    outbox
        .event(EventKind::ToolStarted {
            call_id: call.id.clone(),
            confinement: tools.confinement(&call.name),
        })
        .await?;
    let result = tools.run(call, outbox).await?;
    match result {
        Ok(output) => {
            outbox
                .event(EventKind::ToolCompleted {
                    call_id: call.id.clone(),
                    output: output.text.clone(),
                    truncated: output.truncated,
                })
                .await?;
            Ok(output.text)
        }
        Err(message) => {
            outbox
                .event(EventKind::ToolError {
                    call_id: call.id.clone(),
                    message: message.clone(),
                })
                .await?;
            Ok(format!("Error: {message}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_honours_retry_after_within_a_cap() {
        assert_eq!(backoff(0, None), Duration::from_millis(500));
        assert_eq!(backoff(2, None), Duration::from_secs(2));
        assert_eq!(
            backoff(0, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(backoff(0, Some(Duration::from_secs(3600))), MAX_BACKOFF);
    }
}
