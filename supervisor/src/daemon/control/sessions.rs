//! Session requests: list, get, retitle, setup (with what a branch
//! inherits) and events (with live figures from
//! the Scheduler), and cancel or kill.

use std::collections::HashMap;

use protocol::SessionId;
use protocol::control::{
    ControlError, ControlResponse, ErrorKind, MAX_TITLE_CHARS, SETUP_INHERITED_MESSAGES,
    SETUP_TEXT_CHARS, SessionSummary, Setup,
};
use protocol::message::ChatMessage;
use ractor::rpc::CallResult;

use super::{Handles, call, ensure_session, find_session, unavailable};
use crate::daemon::scheduler::LiveInfo;
use crate::daemon::{SchedulerMsg, history};
use crate::store::{SessionKind, SessionRecord};

pub(super) async fn list(
    handles: &Handles,
    all: bool,
    limit: u32,
) -> Result<ControlResponse, ControlError> {
    let summaries = handles.shared.store.sessions(all, limit as usize).await?;
    let live = live_infos(handles).await;
    Ok(ControlResponse::Sessions(
        summaries.into_iter().map(|s| with_live(s, &live)).collect(),
    ))
}

pub(super) async fn get(handles: &Handles, id: &str) -> Result<ControlResponse, ControlError> {
    let store = &handles.shared.store;
    let record = find_session(store, id).await?;
    let live = live_infos(handles).await;
    Ok(ControlResponse::Session(with_live(
        store.summary(&record),
        &live,
    )))
}

/// Gives a session a title, or its first message back as title (empty).
pub(super) async fn retitle(
    handles: &Handles,
    id: &str,
    title: &str,
) -> Result<ControlResponse, ControlError> {
    let title = title.trim();
    if title.chars().count() > MAX_TITLE_CHARS || title.chars().any(char::is_control) {
        return Err(ControlError::new(
            ErrorKind::Invalid,
            format!("a title is one line of at most {MAX_TITLE_CHARS} characters"),
        ));
    }
    let store = &handles.shared.store;
    let record = find_session(store, id).await?;
    let title = (!title.is_empty()).then(|| title.to_owned());
    store.retitle(record.id, title).await?;
    get(handles, &record.id.to_string()).await
}

pub(super) async fn setup(handles: &Handles, id: &str) -> Result<ControlResponse, ControlError> {
    let store = &handles.shared.store;
    let record = find_session(store, id).await?;
    let run = match record.kind {
        SessionKind::Run => Some(store.run(record.id).await?.spec),
        SessionKind::Chat => None,
    };
    let live = live_infos(handles).await;
    let ancestry = history::inherited(store, record.id, record.parent).await?;
    let (inherited, inherited_left_out) = bounded(history::conversation(&ancestry));
    Ok(ControlResponse::Setup(Box::new(Setup {
        summary: with_live(store.summary(&record), &live),
        agent: record.agent,
        run,
        inherited,
        inherited_left_out,
    })))
}

/// The latest [`SETUP_INHERITED_MESSAGES`] of `messages`, each text cut
/// at [`SETUP_TEXT_CHARS`], and how many older ones were left out.
fn bounded(mut messages: Vec<ChatMessage>) -> (Vec<ChatMessage>, u32) {
    let left_out = messages.len().saturating_sub(SETUP_INHERITED_MESSAGES);
    messages.drain(..left_out);
    for message in &mut messages {
        cut(&mut message.content);
        for call in &mut message.tool_calls {
            cut(&mut call.arguments);
        }
    }
    (messages, u32::try_from(left_out).unwrap_or(u32::MAX))
}

/// `text` cut at [`SETUP_TEXT_CHARS`] characters, ending in `…` if cut.
fn cut(text: &mut String) {
    if let Some((at, _)) = text.char_indices().nth(SETUP_TEXT_CHARS) {
        text.truncate(at);
        text.push('…');
    }
}

pub(super) async fn events(
    handles: &Handles,
    session: SessionId,
    after_seq: u64,
    limit: u32,
) -> Result<ControlResponse, ControlError> {
    ensure_session(handles, session).await?;
    let events = handles
        .shared
        .store
        .events(session, after_seq, limit as usize)
        .await?;
    Ok(ControlResponse::Events(events))
}

pub(super) async fn live_infos(handles: &Handles) -> HashMap<SessionId, LiveInfo> {
    call(handles, SchedulerMsg::Live)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|info| (info.session, info))
        .collect()
}

pub(super) fn with_live(
    mut summary: SessionSummary,
    live: &HashMap<SessionId, LiveInfo>,
) -> SessionSummary {
    if let Some(info) = live.get(&summary.id) {
        summary.pid = info.pid.or(summary.pid);
        summary.rss_bytes = info.rss_bytes;
        summary.job.clone_from(&info.job);
    }
    summary
}

pub(super) async fn stop(
    handles: &Handles,
    session: SessionId,
    kill: bool,
) -> Result<ControlResponse, ControlError> {
    let already_ended = |record: &SessionRecord| {
        ControlError::new(
            ErrorKind::Conflict,
            format!("session {session} already ended ({})", record.status),
        )
    };
    let record = ensure_session(handles, session).await?;
    if record.status.is_terminal() {
        return Err(already_ended(&record));
    }
    let asked = handles
        .scheduler
        .call(
            |reply| {
                if kill {
                    SchedulerMsg::Kill(session, reply)
                } else {
                    SchedulerMsg::Cancel(session, reply)
                }
            },
            None,
        )
        .await;
    match asked {
        Ok(CallResult::Success(result)) => result.map(|()| ControlResponse::Ok),
        // The reply was dropped: the session actor stopped before it read the
        // request, because the session ended meanwhile (or the daemon stops).
        _ => match ensure_session(handles, session).await? {
            record if record.status.is_terminal() => Err(already_ended(&record)),
            _ => Err(unavailable()),
        },
    }
}

#[cfg(test)]
mod tests {
    use protocol::message::{Role, ToolCall};

    use super::*;

    #[test]
    fn a_setup_carries_the_latest_inherited_messages_with_long_texts_cut() {
        let mut messages: Vec<ChatMessage> = (0..SETUP_INHERITED_MESSAGES + 3)
            .map(|n| ChatMessage::text(Role::User, format!("message {n}")))
            .collect();
        let last = messages.len() - 1;
        messages[last].content = "é".repeat(SETUP_TEXT_CHARS + 5);
        messages[last].tool_calls.push(ToolCall {
            id: "c".into(),
            name: "fs.write".into(),
            arguments: "x".repeat(SETUP_TEXT_CHARS),
        });
        let (kept, left_out) = bounded(messages);
        assert_eq!(left_out, 3);
        assert_eq!(kept.len(), SETUP_INHERITED_MESSAGES);
        assert_eq!(kept[0].content, "message 3", "the oldest are left out");
        let cut_text = &kept[SETUP_INHERITED_MESSAGES - 1].content;
        assert_eq!(cut_text.chars().count(), SETUP_TEXT_CHARS + 1);
        assert!(cut_text.ends_with("é…"), "cut on a character boundary");
        let arguments = &kept[SETUP_INHERITED_MESSAGES - 1].tool_calls[0].arguments;
        assert_eq!(
            arguments.len(),
            SETUP_TEXT_CHARS,
            "exactly at the limit: kept whole"
        );
    }
}
