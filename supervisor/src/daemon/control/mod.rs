//! Serving one client connection on the control socket.
//!
//! Requests are read in order and each is handled on its own task, so a
//! slow one (a follow, a kill waiting for its terminal event) never blocks
//! the others. All frames to the client go through one writer task.
//!
//! Layout: this module serves a connection and checks who may ask what;
//! `answer` dispatches one request to the actor or store that owns it;
//! `streams` holds the long-lived replies (follow a session, watch them all).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use interprocess::local_socket::tokio::Stream;
use protocol::SessionId;
use protocol::codec::{FrameError, read_frame, write_frame};
use protocol::control::{
    ClientFrame, ControlError, ControlRequest, ControlResponse, DaemonStatus, ErrorKind,
    ServerFrame, StoreStall,
};
use protocol::handshake::PeerRole;
use ractor::rpc::CallResult;
use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::root::Handles;
use super::{SchedulerMsg, listener};
use crate::auth;
use crate::store::{SessionLookup, SessionRecord};

mod agents;
mod answer;
mod approvals;
mod chat;
mod compare;
mod groups;
mod plugin_env;
mod pricing;
mod replay;
mod retention;
mod runs;
mod secrets;
mod sessions;
mod streams;
mod workspaces;

use answer::answer;
use streams::{follow, watch, watch_lists};

/// Frames queued for one client before its handlers wait.
const OUTBOX: usize = 1024;
/// Events read from the store per page while catching up a follower.
const PAGE: usize = 1000;
/// Items a subscriber may have pending before the Broker drops it.
const SUBSCRIBER_QUEUE: usize = 4096;

type Outbox = mpsc::Sender<ServerFrame>;

/// Serves one client until it disconnects or sends a malformed frame.
pub(crate) async fn serve(stream: Stream, handles: Handles) {
    let Some(greeting) = listener::greet(&stream, false).await else {
        return;
    };
    if !matches!(greeting.role, PeerRole::Client)
        || !auth::token_matches(&greeting.token, &handles.shared.client_token)
    {
        listener::refuse(&stream, "invalid client token").await;
        return;
    }
    if listener::accept(&stream).await.is_err() {
        return;
    }
    // Decided once: the peer's process does not change.
    let session_peer = super::containment::session_peer(greeting.peer_pid);
    let stream = Arc::new(stream);
    let (outbox, rx) = mpsc::channel(OUTBOX);
    let writer = tokio::spawn(write_frames(Arc::clone(&stream), rx));
    let subscriptions: Arc<Mutex<HashMap<u64, AbortHandle>>> = Arc::default();
    let mut reader = BufReader::new(&*stream);
    let mut buf = Vec::new();
    loop {
        match read_frame::<_, ClientFrame>(&mut reader, &mut buf).await {
            Ok(Some(frame)) => {
                if let Some(why) = session_peer.as_deref()
                    && !frame.request.only_reads()
                {
                    tracing::warn!(why, "refused a request from inside a session");
                    let _ = outbox
                        .send(ServerFrame::Response {
                            id: frame.id,
                            result: Err(forbidden(why)),
                        })
                        .await;
                    continue;
                }
                let streams = matches!(
                    frame.request,
                    ControlRequest::Follow { .. }
                        | ControlRequest::WatchSessions
                        | ControlRequest::WatchLists
                );
                let task = tokio::spawn(handle(
                    frame.id,
                    frame.request,
                    handles.clone(),
                    outbox.clone(),
                    Arc::clone(&subscriptions),
                ));
                if streams {
                    // Streams end on Unsubscribe or when the connection does;
                    // other requests always run to their response.
                    lock(&subscriptions).insert(frame.id, task.abort_handle());
                }
            }
            Ok(None) => break,
            Err(err) => {
                tracing::info!(%err, "closing client connection after a bad frame");
                let error =
                    ControlError::new(ErrorKind::Invalid, format!("{err}; closing the connection"));
                let _ = outbox
                    .send(ServerFrame::Response {
                        id: 0,
                        result: Err(error),
                    })
                    .await;
                break;
            }
        }
    }
    for (_, task) in lock(&subscriptions).drain() {
        task.abort();
    }
    drop(outbox);
    let _ = writer.await;
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn write_frames(stream: Arc<Stream>, mut rx: mpsc::Receiver<ServerFrame>) {
    let mut writer = BufWriter::new(&*stream);
    while let Some(frame) = rx.recv().await {
        if write_or_refuse(&mut writer, frame).await.is_err() {
            return;
        }
        // Batch whatever else is ready into the same write.
        while let Ok(frame) = rx.try_recv() {
            if write_or_refuse(&mut writer, frame).await.is_err() {
                return;
            }
        }
        if writer.flush().await.is_err() {
            return;
        }
    }
}

/// Writes `frame`; an answer too large for one frame (nothing of it was
/// written) becomes an error answer saying so, and the connection goes on.
async fn write_or_refuse(
    writer: &mut BufWriter<&Stream>,
    frame: ServerFrame,
) -> Result<(), FrameError> {
    match write_frame(writer, &frame).await {
        Err(FrameError::TooLarge { len, max }) => {
            let ServerFrame::Response { id, .. } = frame else {
                return Err(FrameError::TooLarge { len, max });
            };
            let refusal = ServerFrame::Response {
                id,
                result: Err(ControlError::new(
                    ErrorKind::TooLarge,
                    format!(
                        "the answer is too large ({len} bytes; one frame holds at most {max}): ask for less"
                    ),
                )),
            };
            write_frame(writer, &refusal).await
        }
        other => other,
    }
}

async fn handle(
    id: u64,
    request: ControlRequest,
    handles: Handles,
    outbox: Outbox,
    subscriptions: Arc<Mutex<HashMap<u64, AbortHandle>>>,
) {
    let result = match request {
        ControlRequest::Follow { session, after_seq } => {
            follow(id, session, after_seq, &handles, &outbox).await;
            lock(&subscriptions).remove(&id);
            return;
        }
        ControlRequest::WatchSessions => {
            watch(id, &handles, &outbox).await;
            lock(&subscriptions).remove(&id);
            return;
        }
        ControlRequest::WatchLists => {
            watch_lists(id, &handles, &outbox).await;
            lock(&subscriptions).remove(&id);
            return;
        }
        ControlRequest::Unsubscribe { request_id } => {
            if let Some(task) = lock(&subscriptions).remove(&request_id) {
                task.abort();
            }
            Ok(ControlResponse::Ok)
        }
        other => answer_unless_stalled(other, handles).await,
    };
    let _ = outbox.send(ServerFrame::Response { id, result }).await;
}

/// How long a request may wait on a store that cannot write before the
/// client is told so.
const STALL_WAIT: Duration = Duration::from_secs(5);

/// Answers `request`, or, when it is still waiting after [`STALL_WAIT`]
/// while the store cannot commit, says so. The request itself goes on
/// (what it queued lands once the store writes again): only the waiting
/// stops.
async fn answer_unless_stalled(
    request: ControlRequest,
    handles: Handles,
) -> Result<ControlResponse, ControlError> {
    let store = handles.shared.store.clone();
    let mut answering = tokio::spawn(async move { answer(request, &handles).await });
    loop {
        match tokio::time::timeout(STALL_WAIT, &mut answering).await {
            Ok(joined) => {
                return joined.unwrap_or_else(|err| {
                    Err(ControlError::new(
                        ErrorKind::Internal,
                        format!("the request failed: {err}"),
                    ))
                });
            }
            Err(_) => {
                if let Some(stall) = store.stall() {
                    let stall = StoreStall {
                        since: stall.since,
                        error: stall.error,
                    };
                    return Err(ControlError::new(
                        ErrorKind::Unavailable,
                        format!(
                            "{stall}: this request was not confirmed; it may still take effect \
                             once the store can write again (nothing recorded is lost)"
                        ),
                    ));
                }
            }
        }
    }
}

/// The session a client named by full id or unique prefix.
pub(super) async fn find_session(
    store: &crate::store::Store,
    text: &str,
) -> Result<SessionRecord, ControlError> {
    let lookup =
        SessionLookup::parse(text).map_err(|m| ControlError::new(ErrorKind::Invalid, m))?;
    store.session(lookup).await.map_err(ControlError::from)
}

/// The refusal of a request that only a person may make.
fn forbidden(why: &str) -> ControlError {
    ControlError::new(
        ErrorKind::Forbidden,
        format!(
            "refused: this connection comes from inside a session ({why}); only a person may change agents, rules, approvals, keys, MCP servers, limits or sessions"
        ),
    )
}

pub(super) fn unavailable() -> ControlError {
    ControlError::new(ErrorKind::Unavailable, "the daemon is shutting down")
}

pub(super) async fn call<T: Send + 'static>(
    handles: &Handles,
    msg: impl FnOnce(ractor::RpcReplyPort<T>) -> SchedulerMsg,
) -> Result<T, ControlError> {
    match handles.scheduler.call(msg, None).await {
        Ok(CallResult::Success(value)) => Ok(value),
        _ => Err(unavailable()),
    }
}

/// The daemon's figures and limits.
async fn status(handles: &Handles) -> Result<ControlResponse, ControlError> {
    let counts = call(handles, SchedulerMsg::Counts).await?;
    let shared = &handles.shared;
    Ok(ControlResponse::Status(DaemonStatus {
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        data_dir: shared.config.data_dir.root().display().to_string(),
        started_at: shared.started_at,
        live_sessions: counts.live,
        queued_runs: counts.queued,
        max_concurrent_runs: counts.limits.max_concurrent_runs,
        live_chats: counts.live_chats,
        max_live_chats: counts.limits.max_live_chats,
        containment: super::containment::describe(&shared.cgroups, shared.sandbox_support),
        store_stalled: shared.store.stall().map(|stall| StoreStall {
            since: stall.since,
            error: stall.error,
        }),
    }))
}

pub(super) async fn ensure_session(
    handles: &Handles,
    session: SessionId,
) -> Result<SessionRecord, ControlError> {
    handles
        .shared
        .store
        .session(SessionLookup::Exact(session))
        .await
        .map_err(ControlError::from)
}
