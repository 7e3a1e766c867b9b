//! A session's log as steps: each user message, each model answer (the
//! text its request streamed, and how it ended) and each tool call (its
//! arguments, then the decision and result). Steps are what a comparison
//! aligns; the events between them (chunks, approvals asked, stats) belong
//! to the step they explain.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use protocol::control::{Step, StepKind};
use protocol::event::{Event, EventKind};

/// A step and what it is matched on.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Keyed {
    /// The step, its texts whole.
    pub(crate) step: Step,
    /// A hash of its kind, name, text and outcome: two steps with the same
    /// key are the same step.
    pub(crate) key: u64,
}

impl Keyed {
    fn new(step: Step) -> Keyed {
        let mut hasher = DefaultHasher::new();
        (step.kind as u8, &step.name, &step.text, &step.outcome).hash(&mut hasher);
        Keyed {
            key: hasher.finish(),
            step,
        }
    }
}

/// The steps of `events`, in the order they began.
pub(crate) fn steps<'a>(events: impl IntoIterator<Item = &'a Event>) -> Vec<Keyed> {
    let mut steps: Vec<Step> = Vec::new();
    // Where each open request's and call's step is.
    let mut requests: HashMap<&str, usize> = HashMap::new();
    let mut calls: HashMap<&str, usize> = HashMap::new();
    for event in events {
        match &event.kind {
            EventKind::MessageUser { text } => {
                begin(&mut steps, event, StepKind::User, "", text);
            }
            EventKind::LlmRequestStarted {
                request_id, model, ..
            } => {
                let at = begin(&mut steps, event, StepKind::Model, model, "");
                requests.insert(request_id, at);
            }
            EventKind::LlmResponseChunk { request_id, text } => {
                if let Some(&at) = requests.get(request_id.as_str()) {
                    steps[at].text.push_str(text);
                }
            }
            EventKind::LlmResponseCompleted {
                request_id,
                finish_reason,
                ..
            } => {
                if let Some(at) = requests.remove(request_id.as_str()) {
                    steps[at].outcome.clone_from(finish_reason);
                }
            }
            EventKind::LlmError {
                request_id,
                message,
                will_retry,
            } => {
                if let Some(&at) = requests.get(request_id.as_str()) {
                    let step = &mut steps[at];
                    if *will_retry {
                        // The attempt's text is gone; the retry streams anew.
                        step.text.clear();
                    } else {
                        step.outcome = format!("error: {message}");
                        requests.remove(request_id.as_str());
                    }
                }
            }
            EventKind::ToolRequested {
                call_id,
                tool,
                arguments,
            } => {
                let at = begin(&mut steps, event, StepKind::Tool, tool, arguments);
                calls.insert(call_id, at);
            }
            EventKind::ToolApproved { call_id, by } => {
                outcome(&mut steps, &calls, call_id, format!("approved {by}"));
            }
            EventKind::ToolDenied {
                call_id,
                by,
                reason,
            } => {
                outcome(
                    &mut steps,
                    &calls,
                    call_id,
                    format!("denied {by}: {reason}"),
                );
            }
            EventKind::ToolCompleted {
                call_id, output, ..
            } => {
                outcome(&mut steps, &calls, call_id, output.clone());
            }
            EventKind::ToolError { call_id, message } => {
                outcome(&mut steps, &calls, call_id, format!("error: {message}"));
            }
            _ => {}
        }
    }
    steps.into_iter().map(Keyed::new).collect()
}

/// Adds the step `event` begins; its index.
fn begin(steps: &mut Vec<Step>, event: &Event, kind: StepKind, name: &str, text: &str) -> usize {
    steps.push(Step {
        session: event.session,
        seq: event.seq,
        kind,
        name: name.to_owned(),
        text: text.to_owned(),
        outcome: String::new(),
        text_diff: Vec::new(),
        outcome_diff: Vec::new(),
    });
    steps.len() - 1
}

/// Adds a line to the outcome of `call_id`'s step.
fn outcome(steps: &mut [Step], calls: &HashMap<&str, usize>, call_id: &str, line: String) {
    if let Some(&at) = calls.get(call_id) {
        let outcome = &mut steps[at].outcome;
        if !outcome.is_empty() {
            outcome.push('\n');
        }
        outcome.push_str(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::event::Decider;
    use test_support::events::{chunk, log, request};

    #[test]
    fn a_log_reads_as_messages_answers_and_calls_with_their_outcomes() {
        let events = log(vec![
            EventKind::MessageUser { text: "hi".into() },
            request("r1"),
            chunk("r1", "lost"),
            EventKind::LlmError {
                request_id: "r1".into(),
                message: "503".into(),
                will_retry: true,
            },
            chunk("r1", "let me "),
            chunk("r1", "look"),
            EventKind::ToolRequested {
                call_id: "c1".into(),
                tool: "shell".into(),
                arguments: r#"{"command":"ls"}"#.into(),
            },
            EventKind::LlmResponseCompleted {
                request_id: "r1".into(),
                usage: protocol::event::Usage::default(),
                finish_reason: "tool_calls".into(),
            },
            EventKind::ToolApproved {
                call_id: "c1".into(),
                by: Decider::Rule { id: "r1".into() },
            },
            EventKind::ToolCompleted {
                call_id: "c1".into(),
                output: "a.txt".into(),
                truncated: false,
            },
            request("r2"),
            EventKind::LlmError {
                request_id: "r2".into(),
                message: "401".into(),
                will_retry: false,
            },
        ]);
        let steps = steps(&events);
        let seen: Vec<_> = steps
            .iter()
            .map(|k| {
                (
                    k.step.seq,
                    k.step.kind,
                    k.step.text.as_str(),
                    k.step.outcome.as_str(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (1, StepKind::User, "hi", ""),
                (2, StepKind::Model, "let me look", "tool_calls"),
                (
                    7,
                    StepKind::Tool,
                    r#"{"command":"ls"}"#,
                    "approved by rule r1\na.txt"
                ),
                (11, StepKind::Model, "", "error: 401"),
            ]
        );
        assert_eq!(steps[1].step.name, "gpt-4.1");
        assert_ne!(steps[1].key, steps[3].key);
        let again = super::steps(&events);
        assert_eq!(
            again.iter().map(|k| k.key).collect::<Vec<_>>(),
            steps.iter().map(|k| k.key).collect::<Vec<_>>(),
            "the same steps have the same keys"
        );
    }
}
