//! An interactive session's events as a conversation for the chat view:
//! what the user said, what the model answered (streamed text as it
//! arrives), each tool call with where it stands (asking, approved,
//! running, done, failed, denied), and notices (a failed turn, the end or
//! resume of a life).

use protocol::Timestamp;
use protocol::event::{Event, EventKind};

/// Where a tool call stands.
#[derive(Clone, Debug, PartialEq)]
pub enum CallState {
    /// Waiting for a decision.
    Requested,
    /// Waiting for a person, as this inbox number.
    Asking(u64),
    /// Approved (by whom), not started yet.
    Approved(String),
    /// Running.
    Running,
    /// Returned this output.
    Done(String),
    /// Failed with this message.
    Failed(String),
    /// Denied: who decided and why, as shown.
    Denied(String),
}

/// One item of the conversation.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// The user's message.
    User(String),
    /// The model's answer; `streaming` until its request completed.
    Assistant {
        /// The text so far.
        text: String,
        /// More may come.
        streaming: bool,
    },
    /// A tool call.
    Tool {
        /// Call id.
        call_id: String,
        /// Tool name.
        tool: String,
        /// Arguments as JSON text.
        arguments: String,
        /// Where it stands.
        state: CallState,
    },
    /// Something the session said about itself.
    Notice(String),
    /// An MCP App view: a tool call's (`call_id` set, drawn next to it)
    /// or a plugin's panel (`call_id` `None`).
    View(Box<protocol::app_view::AppView>),
}

/// An item of the conversation and when it began (the event that
/// started it: the message, the first streamed chunk, the call).
#[derive(Clone, Debug, PartialEq)]
pub struct Said {
    /// When it began.
    pub at: Timestamp,
    /// What it is.
    pub item: Item,
}

/// The conversation in `events` (seq order).
pub fn items(events: &[Event]) -> Vec<Item> {
    timed_items(events)
        .into_iter()
        .map(|said| said.item)
        .collect()
}

/// The conversation in `events` (seq order), each item with when it
/// began.
pub fn timed_items(events: &[Event]) -> Vec<Said> {
    let mut items: Vec<Item> = Vec::new();
    let mut began: Vec<Timestamp> = Vec::new();
    // Calls a view asked for: their own views answer the view, not the chat.
    let mut view_calls: Vec<&str> = Vec::new();
    for event in events {
        match &event.kind {
            EventKind::AppCallAsked { call_id, tool, .. } => {
                view_calls.push(call_id);
                items.push(Item::Notice(format!("a view asks to call {tool}")));
            }
            EventKind::AppView(view)
                if view
                    .call_id
                    .as_deref()
                    .is_none_or(|id| !view_calls.contains(&id)) =>
            {
                items.push(Item::View(view.clone()));
            }
            EventKind::AppViewRefused { uri, reason, .. } => {
                items.push(Item::Notice(format!(
                    "the view {uri} is not shown: {reason}"
                )));
            }
            EventKind::MessageUser { text } => items.push(Item::User(text.clone())),
            EventKind::LlmResponseChunk { text, .. } => match items.last_mut() {
                Some(Item::Assistant {
                    text: so_far,
                    streaming: true,
                }) => so_far.push_str(text),
                _ => items.push(Item::Assistant {
                    text: text.clone(),
                    streaming: true,
                }),
            },
            EventKind::LlmResponseCompleted { .. } => {
                if let Some(Item::Assistant { streaming, .. }) = items.last_mut() {
                    *streaming = false;
                }
            }
            EventKind::MessageAssistant { text } => {
                // The whole answer: it replaces what streamed (a model that
                // streamed nothing still shows its answer).
                match items.last_mut() {
                    Some(Item::Assistant {
                        text: so_far,
                        streaming,
                    }) => {
                        so_far.clone_from(text);
                        *streaming = false;
                    }
                    _ => items.push(Item::Assistant {
                        text: text.clone(),
                        streaming: false,
                    }),
                }
            }
            EventKind::ToolRequested {
                call_id,
                tool,
                arguments,
            } => items.push(Item::Tool {
                call_id: call_id.clone(),
                tool: tool.clone(),
                arguments: arguments.clone(),
                state: CallState::Requested,
            }),
            EventKind::ToolApprovalPending {
                call_id, approval, ..
            } => set_state(&mut items, call_id, CallState::Asking(*approval)),
            EventKind::ToolApproved { call_id, by } => {
                set_state(&mut items, call_id, CallState::Approved(by.to_string()));
            }
            EventKind::ToolDenied {
                call_id,
                by,
                reason,
            } => set_state(
                &mut items,
                call_id,
                CallState::Denied(crate::format::denied(&by.to_string(), reason)),
            ),
            EventKind::ToolStarted { call_id, .. } | EventKind::ToolStartedLegacy { call_id } => {
                set_state(&mut items, call_id, CallState::Running)
            }
            EventKind::ToolCompleted {
                call_id, output, ..
            } => set_state(&mut items, call_id, CallState::Done(output.clone())),
            EventKind::ToolError { call_id, message } => {
                set_state(&mut items, call_id, CallState::Failed(message.clone()));
            }
            EventKind::SessionIdle { error: Some(error) } => {
                items.push(Item::Notice(format!("the turn failed: {error}")));
            }
            EventKind::SessionResumed { .. } => items.push(Item::Notice("resumed".into())),
            kind if kind.is_terminal() => {
                // Nobody can answer a call of an ended session any more.
                for item in &mut items {
                    if let Item::Tool { state, .. } = item
                        && matches!(state, CallState::Requested | CallState::Asking(_))
                    {
                        *state = CallState::Failed("not decided: the session ended".into());
                    }
                }
                items.push(Item::Notice(match kind {
                    EventKind::SessionInterrupted => {
                        "interrupted: the daemon stopped (Resume goes on from here)".to_owned()
                    }
                    _ => format!("ended: {}", kind.name()),
                }));
            }
            _ => {}
        }
        // Whatever this event started began at its time.
        began.resize(items.len(), event.at);
    }
    began
        .into_iter()
        .zip(items)
        .map(|(at, item)| Said { at, item })
        .collect()
}

fn set_state(items: &mut [Item], id: &str, next: CallState) {
    for item in items.iter_mut().rev() {
        if let Item::Tool { call_id, state, .. } = item
            && call_id == id
        {
            *state = next;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use protocol::Timestamp;
    use protocol::event::{Decider, Usage};

    use super::*;
    use test_support::events::log;

    fn chunk(text: &str) -> EventKind {
        EventKind::LlmResponseChunk {
            request_id: "r".into(),
            text: text.into(),
        }
    }

    fn completed() -> EventKind {
        EventKind::LlmResponseCompleted {
            request_id: "r".into(),
            usage: Usage::default(),
            finish_reason: "stop".into(),
        }
    }

    #[test]
    fn each_item_began_with_the_event_that_started_it() {
        // One second apart: idle 0s, said 1s, chunks 2s and 3s, completed
        // 4s, the answer 5s, ended 6s.
        let events = log(vec![
            EventKind::SessionIdle { error: None },
            EventKind::MessageUser { text: "hi".into() },
            chunk("hel"),
            chunk("lo"),
            completed(),
            EventKind::MessageAssistant {
                text: "hello".into(),
            },
            EventKind::SessionCompleted,
        ]);
        let began: Vec<(u64, &str)> = timed_items(&events)
            .iter()
            .map(|said| {
                let what = match &said.item {
                    Item::User(_) => "user",
                    Item::Assistant { .. } => "assistant",
                    Item::Notice(_) => "notice",
                    Item::Tool { .. } => "tool",
                    Item::View(_) => "view",
                };
                (said.at.0 / 1_000_000, what)
            })
            .collect();
        assert_eq!(began, [(1, "user"), (2, "assistant"), (6, "notice")]);
    }

    #[test]
    fn a_turn_reads_as_a_conversation_with_its_tool_call_asked_then_done() {
        let asked = log(vec![
            EventKind::SessionIdle { error: None },
            EventKind::MessageUser {
                text: "list files".into(),
            },
            completed(),
            EventKind::ToolRequested {
                call_id: "c1".into(),
                tool: "fs.list".into(),
                arguments: "{}".into(),
            },
            EventKind::ToolApprovalRequested {
                call_id: "c1".into(),
            },
            EventKind::ToolApprovalPending {
                call_id: "c1".into(),
                approval: 4,
                expires_at: Timestamp(9),
            },
        ]);
        let tool = |state: CallState| Item::Tool {
            call_id: "c1".into(),
            tool: "fs.list".into(),
            arguments: "{}".into(),
            state,
        };
        assert_eq!(
            items(&asked),
            [Item::User("list files".into()), tool(CallState::Asking(4))]
        );
        let mut done = asked.clone();
        done.extend(log(vec![
            EventKind::ToolApproved {
                call_id: "c1".into(),
                by: Decider::User,
            },
            EventKind::ToolStartedLegacy {
                call_id: "c1".into(),
            },
            EventKind::ToolCompleted {
                call_id: "c1".into(),
                output: "a.txt".into(),
                truncated: false,
            },
            chunk("There is "),
            chunk("a.txt"),
        ]));
        assert_eq!(
            items(&done)[1..],
            [
                tool(CallState::Done("a.txt".into())),
                Item::Assistant {
                    text: "There is a.txt".into(),
                    streaming: true
                }
            ]
        );
        done.extend(log(vec![
            completed(),
            EventKind::MessageAssistant {
                text: "There is a.txt".into(),
            },
            EventKind::SessionIdle {
                error: Some("boom".into()),
            },
            EventKind::SessionCompleted,
        ]));
        assert_eq!(
            items(&done)[2..],
            [
                Item::Assistant {
                    text: "There is a.txt".into(),
                    streaming: false
                },
                Item::Notice("the turn failed: boom".into()),
                Item::Notice("ended: session.completed".into()),
            ]
        );
    }

    #[test]
    fn a_call_still_asking_when_the_session_ends_is_no_longer_answerable() {
        let mut ended = log(vec![
            EventKind::ToolRequested {
                call_id: "c1".into(),
                tool: "shell".into(),
                arguments: "{}".into(),
            },
            EventKind::ToolApprovalPending {
                call_id: "c1".into(),
                approval: 4,
                expires_at: Timestamp(9),
            },
        ]);
        ended.extend(log(vec![EventKind::SessionInterrupted]));
        let shown = items(&ended);
        assert_eq!(
            shown[1],
            Item::Notice("interrupted: the daemon stopped (Resume goes on from here)".into())
        );
        let Item::Tool { state, .. } = &shown[0] else {
            panic!("{shown:?}");
        };
        assert_eq!(
            *state,
            CallState::Failed("not decided: the session ended".into())
        );
    }

    #[test]
    fn views_show_but_not_those_answering_a_views_own_call() {
        let view = |call_id: Option<&str>| {
            EventKind::AppView(Box::new(protocol::app_view::AppView {
                call_id: call_id.map(str::to_owned),
                server: "tracker".into(),
                uri: "ui://tracker/issues".into(),
                title: "Issues".into(),
                html: "<p></p>".into(),
                csp: protocol::app_view::AppCsp::default(),
                prefers_border: false,
                result: String::new(),
            }))
        };
        let items = items(&log(vec![
            view(None),
            view(Some("c1")),
            EventKind::AppCallAsked {
                call_id: "app-1".into(),
                tool: "tracker.list_issues".into(),
                uri: "ui://tracker/issues".into(),
            },
            view(Some("app-1")),
            EventKind::AppViewRefused {
                call_id: None,
                server: "tracker".into(),
                uri: "ui://tracker/big".into(),
                reason: "too large".into(),
            },
        ]));
        let shown: Vec<Option<&str>> = items
            .iter()
            .filter_map(|item| match item {
                Item::View(view) => Some(view.call_id.as_deref()),
                _ => None,
            })
            .collect();
        assert_eq!(shown, [None, Some("c1")]);
        assert!(items.contains(&Item::Notice(
            "a view asks to call tracker.list_issues".into()
        )));
        assert!(items.contains(&Item::Notice(
            "the view ui://tracker/big is not shown: too large".into()
        )));
    }
}
