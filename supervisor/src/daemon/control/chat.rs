//! Control requests of interactive sessions (`studio chat`): open one,
//! resume or attach to one, branch one (or a run) into a new one, say
//! something, end it.
//!
//! An interactive session's worker lives across turns and the session goes
//! `session.idle` between them. Ending it (or its idle timeout) records
//! `session.completed`; resuming an ended one starts a new worker on the
//! recorded conversation (`session.resumed`), so the session's log holds
//! one terminal event per life. Tool calls no rule decides wait for a
//! person (`tool.approval.pending`), answered by any client with
//! `ApprovalAnswer`: the first answer wins.

use std::sync::Arc;
use std::time::Instant;

use protocol::agent::AgentConfig;
use protocol::approval::AskPolicy;
use protocol::control::{ControlError, ControlResponse, ErrorKind};
use protocol::event::SessionStatus;
use protocol::{SessionId, Timestamp};
use ractor::rpc::CallResult;

use super::{find_session, unavailable};
use crate::daemon::root::Handles;
use crate::daemon::session::AppAsk;
use crate::daemon::session::Opening;
use crate::daemon::spend_caps::{Admission, SessionCaps};
use crate::daemon::{ChatInput, QueuedRun, SchedulerMsg, Sequencer};
use crate::store::{SessionKind, SessionRecord};

/// How long a tool call of an interactive session waits for its person.
pub(crate) const CHAT_APPROVAL_WAIT_SECS: u32 = 60 * 60;

/// Opens a new interactive session with `agent`.
pub(crate) async fn open(
    agent: String,
    handles: &Handles,
) -> Result<ControlResponse, ControlError> {
    let shared = &handles.shared;
    let agent = shared.store.agent(agent).await?;
    // An agent stored before a check existed is checked again here.
    check(&agent)?;
    let record = new_record(agent, handles).await;
    open_new(record, handles).await
}

/// The record of a new interactive session with `agent`, priced at its
/// model's price now.
pub(super) async fn new_record(agent: AgentConfig, handles: &Handles) -> SessionRecord {
    let price = handles.shared.price_of(&agent.model).await;
    SessionRecord::new(
        SessionKind::Chat,
        agent,
        SessionStatus::Starting,
        Timestamp::now(),
        price,
    )
}

/// Refuses an agent whose budgets or script cannot run.
pub(super) fn check(agent: &AgentConfig) -> Result<(), ControlError> {
    agent
        .budgets
        .validate()
        .and_then(|()| agent.script.validate())
        .map_err(|m| ControlError::new(ErrorKind::Invalid, m))
}

/// Records a new interactive session and starts its worker.
pub(super) async fn open_new(
    record: SessionRecord,
    handles: &Handles,
) -> Result<ControlResponse, ControlError> {
    let id = record.id;
    super::runs::admit_one(&record.agent, handles).await?;
    handles
        .shared
        .store
        .create_session(record.clone(), None, None)
        .await?;
    start(record, Opening::Chat, handles).await?;
    Ok(ControlResponse::ChatOpened {
        session: id,
        after_seq: 0,
        resumed: false,
    })
}

/// Attaches to a live interactive session, or resumes an ended one.
pub(crate) async fn resume(
    session: &str,
    handles: &Handles,
) -> Result<ControlResponse, ControlError> {
    let record = find_session(&handles.shared.store, session).await?;
    if record.kind != SessionKind::Chat {
        return Err(ControlError::new(
            ErrorKind::Invalid,
            format!(
                "session {} is a headless run; only interactive sessions (studio chat) can be resumed",
                record.id
            ),
        ));
    }
    let (session, after_seq) = (record.id, record.last_seq);
    let resumed = record.status.is_terminal();
    if resumed {
        // A resumed chat counts with the day it was created.
        let admission = Admission {
            agents: vec![(&record.agent.name, &record.agent.daily_caps, 0)],
            group: None,
            at: record.created_at,
        };
        super::runs::admit(&admission, handles).await?;
        start(record, Opening::Resume, handles).await?;
    }
    Ok(ControlResponse::ChatOpened {
        session,
        after_seq,
        resumed,
    })
}

/// Branches `session` at `at_seq` (its last event by default) into a new
/// interactive session, with `agent` or the original's agent as it was.
/// The branch records only its own events; its conversation starts with
/// the original's up to the branch point (`SessionRecord::parent`).
pub(crate) async fn branch(
    session: &str,
    at_seq: Option<u64>,
    agent: Option<String>,
    handles: &Handles,
) -> Result<ControlResponse, ControlError> {
    let invalid = |message: String| ControlError::new(ErrorKind::Invalid, message);
    let store = &handles.shared.store;
    let original = find_session(store, session).await?;
    let at = at_seq.unwrap_or(original.last_seq);
    if at == 0 || at > original.last_seq {
        return Err(invalid(format!(
            "session {} has events 1 to {}: cannot branch at {at}",
            original.id, original.last_seq
        )));
    }
    let agent = match agent {
        Some(name) => store.agent(name).await?,
        None => original.agent.clone(),
    };
    check(&agent)?;
    let mut record = new_record(agent, handles).await;
    record.parent = Some((original.id, at));
    open_new(record, handles).await
}

/// Hands the user's message, a view's call or the end to a live session.
pub(crate) async fn deliver(
    session: SessionId,
    say: ChatInput,
    handles: &Handles,
) -> Result<ControlResponse, ControlError> {
    let asked = handles
        .scheduler
        .call(
            |reply| SchedulerMsg::Chat {
                session,
                say,
                reply,
            },
            None,
        )
        .await;
    match asked {
        Ok(CallResult::Success(result)) => result.map(|()| ControlResponse::Ok),
        _ => Err(unavailable()),
    }
}

/// Starts a view's own tool call on a live chat (see
/// `session::app_calls`); answers with the id its events will carry.
pub(crate) async fn app_call(
    session: SessionId,
    uri: String,
    server: String,
    tool: String,
    arguments: String,
    handles: &Handles,
) -> Result<ControlResponse, ControlError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)
        .map_err(|err| ControlError::new(ErrorKind::Internal, format!("no randomness: {err}")))?;
    let call_id = format!("app-{}", u64::from_le_bytes(bytes));
    let ask = AppAsk {
        call_id: call_id.clone(),
        uri,
        server,
        tool,
        arguments,
    };
    deliver(session, ChatInput::App(Box::new(ask)), handles).await?;
    Ok(ControlResponse::AppCallStarted { call_id })
}

/// Starts the session's worker now and waits until it is spawned.
async fn start(
    record: SessionRecord,
    opening: Opening,
    handles: &Handles,
) -> Result<(), ControlError> {
    let caps = SessionCaps::new(
        &record.agent.name,
        &record.agent.daily_caps,
        record.created_at,
    );
    let sequencer = Arc::new(Sequencer::new(
        record.id,
        handles.shared.store.clone(),
        record.last_seq + 1,
    ));
    let asked = handles
        .scheduler
        .call(
            |reply| {
                SchedulerMsg::Open(Box::new(QueuedRun {
                    record,
                    sequencer,
                    queued_at: Instant::now(),
                    approve: Vec::new(),
                    ask: AskPolicy::Wait {
                        secs: CHAT_APPROVAL_WAIT_SECS,
                    },
                    opening,
                    opened: Some(reply),
                    batch: None,
                    caps,
                    checks: Default::default(),
                    tape: None,
                    later: Vec::new(),
                    on: None,
                }))
            },
            None,
        )
        .await;
    match asked {
        Ok(CallResult::Success(result)) => result,
        _ => Err(unavailable()),
    }
}
