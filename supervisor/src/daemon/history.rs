//! The conversation an interactive session has had, rebuilt from its
//! recorded events for the next turn (or for a resumed session's new
//! worker): the log is the only memory a session has. A branch's starts
//! with its ancestry's, each up to its branch point (`inherited`); its
//! "always allow" answers come back from it too (`grants`).
//!
//! It mirrors what the worker's agent loop (`workers/src/agent.rs`) kept
//! during each turn: user messages, the model's answers with the tool
//! calls they made, and one tool message answering each call, worded as the
//! model was told.

use protocol::SessionId;
use protocol::approval::RuleMatch;
use protocol::event::{Decider, Event, EventKind};
use protocol::message::{ChatMessage, Role, ToolCall};

use crate::store::{SessionLookup, Store, StoreError};

/// Most sessions a branch's ancestry is followed through (a guard against
/// a damaged database naming a loop of parents).
const MAX_ANCESTORS: usize = 1000;

/// What the model is told about a call whose turn ended before it had a
/// result (cancelled, crashed, daemon stopped): providers refuse a tool
/// call left unanswered.
const UNFINISHED: &str = "The tool call did not finish: the turn was interrupted.";

/// The conversation recorded in `events` (in seq order), in the shape a
/// worker sends to the model.
pub(crate) fn conversation(events: &[Event]) -> Vec<ChatMessage> {
    let mut history = Conversation::default();
    for event in events {
        history.fold(&event.kind);
    }
    history.finish()
}

/// The events a branch inherits: its original's up to the branch point,
/// preceded by the original's own inheritance, and so on up its ancestry
/// (nothing for a session that is not a branch). They never change, so a
/// session reads them once.
pub(crate) async fn inherited(
    store: &Store,
    session: SessionId,
    parent: Option<(SessionId, u64)>,
) -> Result<Vec<Event>, StoreError> {
    let mut ancestry = Vec::new();
    let mut next = parent;
    while let Some((id, at)) = next {
        if ancestry.len() == MAX_ANCESTORS {
            return Err(StoreError::Corrupt {
                what: "session",
                detail: format!("session {session} has more than {MAX_ANCESTORS} ancestors"),
            });
        }
        ancestry.push((id, at));
        next = store.session(SessionLookup::Exact(id)).await?.parent;
    }
    let mut inherited = Vec::new();
    for (id, at) in ancestry.into_iter().rev() {
        inherited.extend(events_through(store, id, at).await?);
    }
    Ok(inherited)
}

/// The events of `session` with seq 1 to `last`.
pub(crate) async fn events_through(
    store: &Store,
    session: SessionId,
    last: u64,
) -> Result<Vec<Event>, StoreError> {
    const PAGE: usize = 4096;
    let mut events = Vec::new();
    let mut after = 0;
    while after < last {
        let page = store.events(session, after, PAGE).await?;
        let Some(newest) = page.last() else { break };
        after = newest.seq;
        events.extend(page.into_iter().filter(|e| e.seq <= last));
    }
    Ok(events)
}

/// The "always allow" grants recorded in `events`: the tool of each call
/// a person approved for the rest of the session (`Decider::UserAlways`).
/// They hold in every later turn and life of the session.
pub(crate) fn grants(events: &[Event]) -> Vec<RuleMatch> {
    let mut requested = std::collections::HashMap::new();
    let mut grants: Vec<RuleMatch> = Vec::new();
    for event in events {
        match &event.kind {
            EventKind::ToolRequested { call_id, tool, .. } => {
                requested.insert(call_id.as_str(), tool.as_str());
            }
            EventKind::ToolApproved {
                call_id,
                by: Decider::UserAlways,
            } => {
                if let Some(tool) = requested.get(call_id.as_str()) {
                    let grant = RuleMatch {
                        tool: (*tool).to_owned(),
                        argument: None,
                    };
                    if !grants.contains(&grant) {
                        grants.push(grant);
                    }
                }
            }
            _ => {}
        }
    }
    grants
}

/// A conversation rebuilt event by event ([`conversation`] folds a whole
/// log), for a caller that needs it at many points of one log.
#[derive(Clone, Default)]
pub(crate) struct Conversation {
    messages: Vec<ChatMessage>,
    /// Index of the model answer the next tool calls belong to.
    answer: Option<usize>,
    /// Calls of that answer still waiting for their result.
    open_calls: Vec<String>,
    /// Calls a view asked for (`app.call`): the model never made them,
    /// so they are not part of its conversation.
    view_calls: Vec<String>,
}

impl Conversation {
    /// Takes in the next event.
    pub(crate) fn fold(&mut self, kind: &EventKind) {
        match kind {
            EventKind::MessageUser { text } => {
                self.close_calls();
                self.messages
                    .push(ChatMessage::text(Role::User, text.clone()));
            }
            EventKind::LlmResponseCompleted { .. } => {
                self.close_calls();
                self.start_answer();
            }
            EventKind::MessageAssistant { text } => match self.answer {
                Some(i) if self.messages[i].content.is_empty() => {
                    self.messages[i].content.clone_from(text);
                }
                _ => {
                    self.close_calls();
                    self.start_answer();
                    if let Some(i) = self.answer {
                        self.messages[i].content.clone_from(text);
                    }
                }
            },
            EventKind::AppCallAsked { call_id, .. } => self.view_calls.push(call_id.clone()),
            EventKind::ToolRequested { call_id, .. } if self.view_calls.contains(call_id) => {}
            EventKind::ToolRequested {
                call_id,
                tool,
                arguments,
            } => {
                let i = match self.answer {
                    Some(i) => i,
                    None => self.start_answer(),
                };
                self.messages[i].tool_calls.push(ToolCall {
                    id: call_id.clone(),
                    name: tool.clone(),
                    arguments: arguments.clone(),
                });
                self.open_calls.push(call_id.clone());
            }
            EventKind::ToolCompleted {
                call_id, output, ..
            } => self.result(call_id, output.clone()),
            EventKind::ToolError { call_id, message } => {
                self.result(call_id, format!("Error: {message}"));
            }
            EventKind::ToolDenied {
                call_id, reason, ..
            } => self.result(call_id, format!("The tool call was denied: {reason}")),
            // A new life of the session: the old turn is over.
            EventKind::SessionResumed { .. } => self.close_calls(),
            _ => {}
        }
    }

    fn start_answer(&mut self) -> usize {
        self.messages.push(ChatMessage::text(Role::Assistant, ""));
        let i = self.messages.len() - 1;
        self.answer = Some(i);
        i
    }

    /// The result of an open call; one that is not open is ignored (its
    /// result was already given).
    fn result(&mut self, call_id: &str, content: String) {
        let Some(pos) = self.open_calls.iter().position(|c| c == call_id) else {
            return;
        };
        self.open_calls.remove(pos);
        self.messages.push(ChatMessage {
            role: Role::Tool,
            content,
            tool_calls: Vec::new(),
            tool_call_id: Some(call_id.to_owned()),
        });
    }

    /// Answers every call left open, and ends the current model answer.
    fn close_calls(&mut self) {
        for call_id in std::mem::take(&mut self.open_calls) {
            self.messages.push(ChatMessage {
                role: Role::Tool,
                content: UNFINISHED.to_owned(),
                tool_calls: Vec::new(),
                tool_call_id: Some(call_id),
            });
        }
        self.answer = None;
    }

    /// The messages so far, as [`conversation`] would give them.
    pub(crate) fn so_far(&self) -> Vec<ChatMessage> {
        self.clone().finish()
    }

    fn finish(mut self) -> Vec<ChatMessage> {
        self.close_calls();
        // An answer with neither text nor calls (an empty completion) says
        // nothing; providers refuse empty assistant messages.
        self.messages.retain(|m| {
            m.role != Role::Assistant || !m.content.is_empty() || !m.tool_calls.is_empty()
        });
        self.messages
    }
}

#[cfg(test)]
mod tests {
    use protocol::event::Decider;
    use protocol::{SessionId, Timestamp};

    use super::*;

    fn events(kinds: Vec<EventKind>) -> Vec<Event> {
        let session = SessionId::new();
        kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| Event {
                session,
                seq: i as u64 + 1,
                at: Timestamp(0),
                kind,
            })
            .collect()
    }

    #[test]
    fn a_call_a_view_asked_for_is_not_the_models() {
        let history = conversation(&events(vec![
            user("list them"),
            completed(),
            EventKind::MessageAssistant {
                text: "here".into(),
            },
            EventKind::SessionIdle { error: None },
            EventKind::AppCallAsked {
                call_id: "app-1".into(),
                tool: "tracker.create_issue".into(),
                uri: "ui://tracker/issues".into(),
            },
            EventKind::ToolRequested {
                call_id: "app-1".into(),
                tool: "tracker.create_issue".into(),
                arguments: "{}".into(),
            },
            EventKind::ToolCompleted {
                call_id: "app-1".into(),
                output: "created #1".into(),
                truncated: false,
            },
            user("and now?"),
        ]));
        let roles: Vec<Role> = history.iter().map(|m| m.role).collect();
        assert_eq!(roles, [Role::User, Role::Assistant, Role::User]);
        assert!(history.iter().all(|m| m.tool_calls.is_empty()));
    }

    fn user(text: &str) -> EventKind {
        EventKind::MessageUser { text: text.into() }
    }

    fn completed() -> EventKind {
        EventKind::LlmResponseCompleted {
            request_id: "r".into(),
            usage: protocol::event::Usage::default(),
            finish_reason: "stop".into(),
        }
    }

    fn said(text: &str) -> EventKind {
        EventKind::MessageAssistant { text: text.into() }
    }

    fn requested(id: &str, tool: &str) -> EventKind {
        EventKind::ToolRequested {
            call_id: id.into(),
            tool: tool.into(),
            arguments: "{}".into(),
        }
    }

    fn summary(history: &[ChatMessage]) -> Vec<String> {
        history
            .iter()
            .map(|m| {
                let calls: Vec<&str> = m.tool_calls.iter().map(|c| c.id.as_str()).collect();
                format!(
                    "{:?} {:?} {calls:?} {:?}",
                    m.role, m.content, m.tool_call_id
                )
            })
            .collect()
    }

    #[test]
    fn turns_with_tool_calls_come_back_as_the_model_saw_them() {
        let log = events(vec![
            EventKind::SessionIdle { error: None },
            user("read both"),
            EventKind::LlmRequestStarted {
                request_id: "r".into(),
                provider: "openai".into(),
                model: "m".into(),
                params: "{}".into(),
            },
            completed(),
            said("Reading."),
            requested("c1", "fs.read"),
            EventKind::ToolApproved {
                call_id: "c1".into(),
                by: Decider::User,
            },
            EventKind::ToolCompleted {
                call_id: "c1".into(),
                output: "one".into(),
                truncated: false,
            },
            requested("c2", "shell"),
            EventKind::ToolDenied {
                call_id: "c2".into(),
                by: Decider::RunPolicy,
                reason: "no".into(),
            },
            completed(),
            said("Done."),
            EventKind::SessionIdle { error: None },
            user("thanks"),
            completed(),
            said("You're welcome."),
        ]);
        assert_eq!(
            summary(&conversation(&log)),
            [
                r#"User "read both" [] None"#,
                r#"Assistant "Reading." ["c1", "c2"] None"#,
                r#"Tool "one" [] Some("c1")"#,
                r#"Tool "The tool call was denied: no" [] Some("c2")"#,
                r#"Assistant "Done." [] None"#,
                r#"User "thanks" [] None"#,
                r#"Assistant "You're welcome." [] None"#,
            ]
        );
    }

    #[test]
    fn calls_cut_off_by_the_end_of_a_life_are_answered() {
        let log = events(vec![
            user("go"),
            completed(),
            requested("c1", "shell"),
            EventKind::SessionCancelled {
                reason: protocol::event::StopReason::User,
                forced: false,
            },
            EventKind::SessionResumed { pid: 9 },
            user("again"),
            // A tool error after the fact changes nothing.
            EventKind::ToolError {
                call_id: "c1".into(),
                message: "late".into(),
            },
        ]);
        let history = conversation(&log);
        assert_eq!(
            summary(&history),
            [
                r#"User "go" [] None"#,
                r#"Assistant "" ["c1"] None"#,
                format!(r#"Tool "{UNFINISHED}" [] Some("c1")"#).as_str(),
                r#"User "again" [] None"#,
            ]
        );
    }

    #[test]
    fn scripted_answers_without_completion_events_still_count() {
        let log = events(vec![user("hi"), said("hello"), completed()]);
        assert_eq!(
            summary(&conversation(&log)),
            [r#"User "hi" [] None"#, r#"Assistant "hello" [] None"#]
        );
    }

    #[test]
    fn grants_are_the_tools_a_person_approved_for_the_rest_of_the_session() {
        let requested = |call_id: &str, tool: &str| EventKind::ToolRequested {
            call_id: call_id.into(),
            tool: tool.into(),
            arguments: "{}".into(),
        };
        let approved = |call_id: &str, by| EventKind::ToolApproved {
            call_id: call_id.into(),
            by,
        };
        let log = events(vec![
            requested("c1", "fs.write"),
            approved("c1", Decider::UserAlways),
            requested("c2", "shell"),
            approved("c2", Decider::User),
            requested("c3", "fs.write"),
            approved(
                "c3",
                Decider::Rule {
                    id: "session:fs.write".into(),
                },
            ),
            EventKind::SessionResumed { pid: 9 },
            requested("c4", "web.fetch"),
            approved("c4", Decider::UserAlways),
            requested("c5", "fs.write"),
            approved("c5", Decider::UserAlways),
            // A decision for a call never requested grants nothing.
            approved("c9", Decider::UserAlways),
        ]);
        let tools: Vec<String> = grants(&log).into_iter().map(|g| g.to_string()).collect();
        assert_eq!(tools, ["fs.write", "web.fetch"]);
    }
}
