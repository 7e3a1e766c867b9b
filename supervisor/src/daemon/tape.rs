//! Building the tape of a recorded turn (`studio replay --tape`): each
//! model response with its events, and each tool call with its decision,
//! events and what the model was told, in order, from the turn's user
//! message to its end. A step the recording does not hold whole (a
//! response cut short by a crash, a call that never ended) is left out,
//! and the tape says why it stops short.

use std::collections::HashMap;

use protocol::event::{Event, EventKind};
use protocol::message::ToolCall;
use protocol::tape::{
    AfterTape, FirstRequest, MAX_TAPE_BYTES, Tape, TapeResponse, TapeResult, TapeStep,
};

/// A step being read: complete once its end was recorded.
enum Reading {
    Model(Box<TapeResponse>, ModelEnd),
    Tool(Box<TapeResult>, bool),
}

/// How far a model response got.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ModelEnd {
    Streaming,
    Completed,
    Failed,
}

/// The tape of the turn whose user message is `turn` (its seq) in
/// `events` (the original's own events, in order).
pub(crate) fn build(events: &[Event], turn: u64, first: FirstRequest, then: AfterTape) -> Tape {
    let mut read: Vec<Reading> = Vec::new();
    let mut requests: HashMap<&str, usize> = HashMap::new();
    let mut calls: HashMap<&str, usize> = HashMap::new();
    let mut bytes = 0_usize;
    let mut cut = false;
    let mut ended_by: Option<&'static str> = None;
    for event in events.iter().filter(|e| e.seq > turn) {
        let kind = &event.kind;
        bytes += text_bytes(kind);
        if bytes > MAX_TAPE_BYTES {
            cut = true;
            break;
        }
        match kind {
            EventKind::MessageUser { .. } | EventKind::SessionIdle { .. } => break,
            kind if kind.is_terminal() => {
                ended_by = Some(kind.name());
                break;
            }
            EventKind::LlmRequestStarted {
                request_id,
                provider,
                model,
                params,
            } => {
                requests.insert(request_id, read.len());
                read.push(Reading::Model(
                    Box::new(TapeResponse {
                        provider: provider.clone(),
                        model: model.clone(),
                        params: params.clone(),
                        events: vec![kind.clone()],
                        text: String::new(),
                        tool_calls: Vec::new(),
                    }),
                    ModelEnd::Streaming,
                ));
            }
            EventKind::LlmResponseChunk { request_id, text } => {
                if let Some(Reading::Model(response, _)) = at(&mut read, &requests, request_id) {
                    response.events.push(kind.clone());
                    response.text.push_str(text);
                }
            }
            EventKind::LlmError {
                request_id,
                will_retry,
                ..
            } => {
                if let Some(Reading::Model(response, end)) = at(&mut read, &requests, request_id) {
                    response.events.push(kind.clone());
                    if *will_retry {
                        response.text.clear();
                    } else {
                        *end = ModelEnd::Failed;
                    }
                }
            }
            EventKind::LlmResponseCompleted { request_id, .. } => {
                if let Some(Reading::Model(response, end)) = at(&mut read, &requests, request_id) {
                    response.events.push(kind.clone());
                    *end = ModelEnd::Completed;
                }
            }
            EventKind::MessageAssistant { .. } => {
                if let Some(Reading::Model(response, ModelEnd::Completed)) = read.last_mut() {
                    response.events.push(kind.clone());
                }
            }
            EventKind::ToolRequested {
                call_id,
                tool,
                arguments,
            } => {
                let asked = read.iter_mut().rev().find_map(|step| match step {
                    Reading::Model(response, _) => Some(response),
                    Reading::Tool(..) => None,
                });
                if let Some(response) = asked {
                    response.tool_calls.push(ToolCall {
                        id: call_id.clone(),
                        name: tool.clone(),
                        arguments: arguments.clone(),
                    });
                }
                calls.insert(call_id, read.len());
                read.push(Reading::Tool(
                    Box::new(TapeResult {
                        call_id: call_id.clone(),
                        approved: false,
                        events: Vec::new(),
                        told: String::new(),
                    }),
                    false,
                ));
            }
            EventKind::ToolApproved { call_id, .. } => {
                if let Some(Reading::Tool(result, _)) = at(&mut read, &calls, call_id) {
                    result.approved = true;
                }
            }
            EventKind::ToolDenied {
                call_id, reason, ..
            } => {
                if let Some(Reading::Tool(result, done)) = at(&mut read, &calls, call_id) {
                    result.told = format!("The tool call was denied: {reason}");
                    *done = true;
                }
            }
            EventKind::ToolStarted { call_id, .. } | EventKind::ToolStartedLegacy { call_id } => {
                if let Some(Reading::Tool(result, _)) = at(&mut read, &calls, call_id) {
                    result.events.push(kind.clone());
                }
            }
            EventKind::ToolCompleted {
                call_id, output, ..
            } => {
                if let Some(Reading::Tool(result, done)) = at(&mut read, &calls, call_id) {
                    result.events.push(kind.clone());
                    result.told.clone_from(output);
                    *done = true;
                }
            }
            EventKind::ToolError { call_id, message } => {
                if let Some(Reading::Tool(result, done)) = at(&mut read, &calls, call_id) {
                    result.events.push(kind.clone());
                    result.told = format!("Error: {message}");
                    *done = true;
                }
            }
            _ => {}
        }
    }
    let mut steps = Vec::new();
    let mut short = None;
    for step in read {
        match step {
            Reading::Model(response, ModelEnd::Completed | ModelEnd::Failed) => {
                steps.push(TapeStep::Model(response));
            }
            Reading::Tool(result, true) => steps.push(TapeStep::Tool(result)),
            Reading::Model(..) => {
                short = Some("the recorded response was cut short");
                break;
            }
            Reading::Tool(..) => {
                short = Some("the recorded tool call never ended");
                break;
            }
        }
    }
    let answered = matches!(
        steps.last(),
        Some(TapeStep::Model(response)) if response.tool_calls.is_empty()
    );
    let why_short = if cut {
        format!(
            "the recording is longer than a tape holds ({MAX_TAPE_BYTES} bytes): it is cut here"
        )
    } else if let Some(short) = short.filter(|_| !answered) {
        match ended_by {
            Some(end) => format!("{short} ({end})"),
            None => short.to_owned(),
        }
    } else if answered {
        String::new()
    } else {
        match ended_by {
            Some(end) => format!("the recorded turn ends before an answer ({end})"),
            None => "the recorded turn ends before an answer".to_owned(),
        }
    };
    Tape {
        first,
        steps,
        whole: why_short.is_empty(),
        why_short,
        then,
    }
}

/// The step a request or call id was read into.
fn at<'r>(
    read: &'r mut [Reading],
    index: &HashMap<&str, usize>,
    id: &str,
) -> Option<&'r mut Reading> {
    index.get(id).and_then(|&i| read.get_mut(i))
}

/// The bytes of text an event carries into the tape (a chunk's text and a
/// tool's output twice: in the event, and in the answer or what the model
/// is told).
fn text_bytes(kind: &EventKind) -> usize {
    match kind {
        EventKind::LlmResponseChunk { text, .. } => 2 * text.len(),
        EventKind::MessageAssistant { text } => text.len(),
        EventKind::ToolCompleted { output, .. } => 2 * output.len(),
        EventKind::ToolRequested { arguments, .. } => arguments.len(),
        EventKind::LlmRequestStarted { params, .. } => params.len(),
        _ => 64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::event::{Decider, Usage};
    use test_support::events::{chunk, log, request};

    fn first() -> FirstRequest {
        FirstRequest {
            system: String::new(),
            history: 0,
            input: "hi".into(),
        }
    }

    fn completed(id: &str) -> EventKind {
        EventKind::LlmResponseCompleted {
            request_id: id.into(),
            usage: Usage::default(),
            finish_reason: "stop".into(),
        }
    }

    #[test]
    fn a_turn_is_taped_response_by_response_and_call_by_call() {
        let events = log(vec![
            EventKind::RunQueued,
            EventKind::MessageUser { text: "hi".into() },
            request("req-1"),
            completed("req-1"),
            EventKind::ToolRequested {
                call_id: "c1".into(),
                tool: "clock".into(),
                arguments: "{}".into(),
            },
            EventKind::ToolApprovalRequested {
                call_id: "c1".into(),
            },
            EventKind::ToolApproved {
                call_id: "c1".into(),
                by: Decider::RunPolicy,
            },
            EventKind::ToolCompleted {
                call_id: "c1".into(),
                output: "noon".into(),
                truncated: false,
            },
            request("req-2"),
            chunk("req-2", "It is "),
            chunk("req-2", "noon."),
            completed("req-2"),
            EventKind::MessageAssistant {
                text: "It is noon.".into(),
            },
            EventKind::SessionCompleted,
        ]);
        let tape = build(&events, 2, first(), AfterTape::Live);
        assert!(tape.whole, "{}", tape.why_short);
        assert_eq!(tape.steps.len(), 3);
        let TapeStep::Model(asked) = &tape.steps[0] else {
            panic!("a response first");
        };
        assert_eq!(asked.tool_calls.len(), 1);
        assert_eq!(asked.events.len(), 2);
        let TapeStep::Tool(ran) = &tape.steps[1] else {
            panic!("then the call");
        };
        assert!(ran.approved);
        assert_eq!(ran.told, "noon");
        assert_eq!(ran.events.len(), 1, "only what the worker records");
        let TapeStep::Model(answer) = &tape.steps[2] else {
            panic!("then the answer");
        };
        assert_eq!(answer.text, "It is noon.");
        assert_eq!(answer.events.len(), 5);
    }

    #[test]
    fn a_response_cut_short_is_left_out_and_said() {
        let events = log(vec![
            EventKind::MessageUser { text: "hi".into() },
            request("req-1"),
            chunk("req-1", "It is"),
            EventKind::SessionCrashed {
                exit: protocol::event::ExitInfo::default(),
                detail: String::new(),
            },
        ]);
        let tape = build(&events, 1, first(), AfterTape::Stop);
        assert!(!tape.whole);
        assert!(tape.steps.is_empty());
        assert_eq!(
            tape.why_short,
            "the recorded response was cut short (session.crashed)"
        );
    }
}
