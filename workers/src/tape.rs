//! Playing a recorded turn (`studio replay --tape`): each model response
//! and each tool result is served from the tape instead of calling the
//! provider or running the tool, as long as the replay asks what the
//! original asked: the same system prompt, conversation and message at
//! the start, the same provider, model and parameters for each request,
//! each call decided the same way by the daemon (which still decides
//! every call: its events are recorded as in any run).
//!
//! Where the replay asks something else, or the recording ends, the
//! worker records `replay.diverged` (which step, and what differed) and
//! goes on live from there, or stops ([`AfterTape`]).

use std::collections::VecDeque;

use protocol::ProviderKind;
use protocol::event::EventKind;
use protocol::message::{ChatMessage, Role, ToolCall};
use protocol::tape::{AfterTape, Tape, TapeResponse, TapeStep, digest};
use protocol::worker::{StartTurn, TurnOutcome};
use tokio::sync::mpsc;

use crate::agent::{self, Decision, Tools};
use crate::connection::Outbox;
use crate::{mcp, scripted};

/// Where a replay stands while it plays.
struct Player<'a> {
    start: &'a StartTurn,
    tools: Tools<'a>,
    history: Vec<ChatMessage>,
    /// The calls of the last response not yet decided.
    pending: VecDeque<ToolCall>,
    /// Nothing was played yet.
    fresh: bool,
}

/// Plays `tape` for the turn `start`, then (past a divergence or the end
/// of the recording) goes on live or stops.
pub async fn play(
    start: &StartTurn,
    tape: &Tape,
    hub: &mcp::Hub,
    decisions: &mut mpsc::UnboundedReceiver<Decision>,
    outbox: &Outbox,
) -> anyhow::Result<TurnOutcome> {
    let mut history = start.history.clone();
    history.push(ChatMessage::text(Role::User, start.input.clone()));
    let mut player = Player {
        start,
        tools: Tools::for_turn(start, hub),
        history,
        pending: VecDeque::new(),
        fresh: true,
    };
    if let Some(what) = first_differs(start, tape) {
        return player.part(1, what, tape.then, decisions, outbox).await;
    }
    for (index, step) in tape.steps.iter().enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        match step {
            TapeStep::Model(response) => {
                if let Some(what) = player.request_differs(response) {
                    return player
                        .part(number, what, tape.then, decisions, outbox)
                        .await;
                }
                for event in &response.events {
                    outbox.event(event.clone()).await?;
                }
                player.fresh = false;
                if let Some(error) = failed(response) {
                    return Ok(TurnOutcome::Failed { error });
                }
                player.history.push(ChatMessage {
                    role: Role::Assistant,
                    content: response.text.clone(),
                    tool_calls: response.tool_calls.clone(),
                    tool_call_id: None,
                });
                player.pending = response.tool_calls.iter().cloned().collect();
            }
            TapeStep::Tool(result) => {
                let Some(call) = player.pending.pop_front() else {
                    let what = "the recording has a tool result no response asked for".to_owned();
                    return player
                        .part(number, what, tape.then, decisions, outbox)
                        .await;
                };
                let decision = agent::ask(&call, decisions, outbox).await?;
                if decision.approved != result.approved || call.id != result.call_id {
                    let (now, then) = if decision.approved {
                        ("approved", "denied")
                    } else {
                        ("denied", "approved")
                    };
                    let what = format!(
                        "the call of {} was {now}, where the recording has it {then}",
                        call.name
                    );
                    outbox
                        .event(EventKind::ReplayDiverged { step: number, what })
                        .await?;
                    if tape.then == AfterTape::Stop {
                        return Ok(TurnOutcome::Completed);
                    }
                    let told = agent::finish(&call, &decision, &player.tools, outbox).await?;
                    player.told(&call, told);
                    return player.live(decisions, outbox).await;
                }
                let told = if decision.approved {
                    for event in &result.events {
                        outbox.event(event.clone()).await?;
                    }
                    result.told.clone()
                } else {
                    agent::denied(&decision)
                };
                player.told(&call, told);
            }
        }
    }
    if tape.whole {
        return Ok(TurnOutcome::Completed);
    }
    let number = u32::try_from(tape.steps.len() + 1).unwrap_or(u32::MAX);
    let what = format!("the recording ends here: {}", tape.why_short);
    player
        .part(number, what, tape.then, decisions, outbox)
        .await
}

/// What differs at the start of the turn from what the original's first
/// request was built from.
fn first_differs(start: &StartTurn, tape: &Tape) -> Option<String> {
    let first = &tape.first;
    if start.agent.system_prompt != first.system {
        Some("the system prompt differs from the recorded one".to_owned())
    } else if start.input != first.input {
        Some(format!(
            "the user message differs from the recorded one, {:?}",
            first.input
        ))
    } else if digest(&start.history) != first.history {
        Some("the conversation before the turn differs from the recorded one".to_owned())
    } else {
        None
    }
}

/// The final error a recorded response ended with, if it failed.
fn failed(response: &TapeResponse) -> Option<String> {
    match response.events.last() {
        Some(EventKind::LlmError {
            message,
            will_retry: false,
            ..
        }) => Some(message.clone()),
        _ => None,
    }
}

impl Player<'_> {
    /// What the next request would differ in from the recorded one.
    fn request_differs(&self, recorded: &TapeResponse) -> Option<String> {
        let start = self.start;
        let provider = start.agent.provider;
        let params = match (&start.endpoint, provider) {
            (_, ProviderKind::Scripted) => scripted::params(&start.script),
            (Some(endpoint), _) => agent::params_now(start, endpoint, &self.history, &self.tools),
            (None, _) => String::new(),
        };
        let provider = if provider == ProviderKind::Scripted {
            scripted::PROVIDER
        } else {
            provider.as_str()
        };
        if provider != recorded.provider {
            Some(format!(
                "provider {provider}, where the recording has {}",
                recorded.provider
            ))
        } else if start.agent.model != recorded.model {
            Some(format!(
                "model {}, where the recording has {}",
                start.agent.model, recorded.model
            ))
        } else if params != recorded.params {
            Some(format!(
                "the request's parameters {params}, where the recording has {}",
                recorded.params
            ))
        } else {
            None
        }
    }

    /// Adds what the model is told of `call`.
    fn told(&mut self, call: &ToolCall, told: String) {
        self.history.push(ChatMessage {
            role: Role::Tool,
            content: told,
            tool_calls: Vec::new(),
            tool_call_id: Some(call.id.clone()),
        });
    }

    /// Records where the replay parts from the tape, then stops or goes
    /// on live.
    async fn part(
        mut self,
        step: u32,
        what: String,
        then: AfterTape,
        decisions: &mut mpsc::UnboundedReceiver<Decision>,
        outbox: &Outbox,
    ) -> anyhow::Result<TurnOutcome> {
        outbox
            .event(EventKind::ReplayDiverged { step, what })
            .await?;
        match then {
            AfterTape::Stop => Ok(TurnOutcome::Completed),
            AfterTape::Live => {
                self.pending.clear();
                self.live(decisions, outbox).await
            }
        }
    }

    /// Goes on live: the calls still to decide, then the model.
    async fn live(
        mut self,
        decisions: &mut mpsc::UnboundedReceiver<Decision>,
        outbox: &Outbox,
    ) -> anyhow::Result<TurnOutcome> {
        while let Some(call) = self.pending.pop_front() {
            let told = agent::tool_call(&call, &self.tools, decisions, outbox).await?;
            self.told(&call, told);
        }
        let start = self.start;
        if start.agent.provider == ProviderKind::Scripted {
            if self.fresh {
                let hub = self.tools.hub();
                scripted::run(start, hub, decisions, outbox).await?;
            } else {
                let number = scripted::request_number(&self.history);
                scripted::answer_request(start, number, outbox).await?;
            }
            return Ok(TurnOutcome::Completed);
        }
        let Some(endpoint) = &start.endpoint else {
            return Ok(TurnOutcome::Failed {
                error: format!(
                    "no endpoint was given for provider {}",
                    start.agent.provider
                ),
            });
        };
        agent::converse(
            start,
            endpoint,
            self.history,
            &self.tools,
            decisions,
            outbox,
        )
        .await
    }
}
