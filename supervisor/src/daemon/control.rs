//! Serving one client connection on the control socket.
//!
//! Requests are read in order and each is handled on its own task, so a
//! slow one (a follow, a kill waiting for its terminal event) never blocks
//! the others. All frames to the client go through one writer task.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use interprocess::local_socket::tokio::Stream;
use protocol::ProviderKind;
use protocol::SessionId;
use protocol::codec::{read_frame, write_frame};
use protocol::control::{
    ClientFrame, ControlError, ControlRequest, ControlResponse, DaemonStatus, ErrorKind,
    ModelPrice, Push, ServerFrame, SessionSummary, Setup,
};
use protocol::event::Event;
use protocol::handshake::PeerRole;
use ractor::rpc::CallResult;
use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::PricingState;
use super::approvals::ApprovalsMsg;
use super::root::Handles;
use super::scheduler::LiveInfo;
use super::{
    BrokerItem, BrokerMsg, SchedulerMsg, Topic, chat, listener, mcp_servers, providers, runs,
};
use crate::auth;
use crate::pricing::CustomPrices;
use crate::store::{SessionKind, SessionLookup, SessionRecord, StoreError};

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
                    ControlRequest::Follow { .. } | ControlRequest::WatchSessions
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
        if write_frame(&mut writer, &frame).await.is_err() {
            return;
        }
        // Batch whatever else is ready into the same write.
        while let Ok(frame) = rx.try_recv() {
            if write_frame(&mut writer, &frame).await.is_err() {
                return;
            }
        }
        if writer.flush().await.is_err() {
            return;
        }
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
        ControlRequest::Unsubscribe { request_id } => {
            if let Some(task) = lock(&subscriptions).remove(&request_id) {
                task.abort();
            }
            Ok(ControlResponse::Ok)
        }
        other => answer(other, &handles).await,
    };
    let _ = outbox.send(ServerFrame::Response { id, result }).await;
}

/// The session a client named by full id or unique prefix.
pub(super) async fn find_session(
    store: &crate::store::Store,
    text: &str,
) -> Result<SessionRecord, ControlError> {
    let lookup =
        SessionLookup::parse(text).map_err(|m| ControlError::new(ErrorKind::Invalid, m))?;
    store.session(lookup).await.map_err(store_error)
}

pub(super) fn store_error(err: StoreError) -> ControlError {
    let kind = match &err {
        StoreError::NotFound(_) => ErrorKind::NotFound,
        StoreError::Conflict(_) => ErrorKind::Conflict,
        StoreError::Closed => ErrorKind::Unavailable,
        StoreError::NotSaved(_) => ErrorKind::Internal,
        _ => ErrorKind::Internal,
    };
    ControlError::new(kind, err.to_string())
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
    }))
}

/// Requests with one response.
async fn answer(
    request: ControlRequest,
    handles: &Handles,
) -> Result<ControlResponse, ControlError> {
    let shared = &handles.shared;
    let store = &shared.store;
    match request {
        ControlRequest::Ping => Ok(ControlResponse::Pong),
        ControlRequest::Status => status(handles).await,
        ControlRequest::Shutdown => {
            shared.stop_requested.notify_one();
            Ok(ControlResponse::Ok)
        }
        ControlRequest::AgentCreate { agent, replace } => {
            agent
                .validate()
                .map_err(|m| ControlError::new(ErrorKind::Invalid, m))?;
            check_agent_workspace(&agent, &shared.config.data_dir)?;
            store.put_agent(agent, replace).await.map_err(store_error)?;
            Ok(ControlResponse::Ok)
        }
        ControlRequest::AgentList => store
            .agents()
            .await
            .map(ControlResponse::Agents)
            .map_err(store_error),
        ControlRequest::AgentGet { name } => store
            .agent(name)
            .await
            .map(ControlResponse::Agent)
            .map_err(store_error),
        ControlRequest::AgentRemove { name } => {
            store.remove_agent(name).await.map_err(store_error)?;
            Ok(ControlResponse::Ok)
        }
        ControlRequest::Run(spec) => runs::start_run(spec, handles).await,
        ControlRequest::RunBatch { runs, parallel } => {
            runs::start_batch(runs, parallel, handles).await
        }
        ControlRequest::LimitsSet {
            max_concurrent_runs,
            max_live_chats,
        } => {
            runs::set_limits(max_concurrent_runs, max_live_chats, handles).await?;
            status(handles).await
        }
        ControlRequest::KeySet { provider, key } => {
            if providers::key_variables(provider).is_empty() {
                return Err(ControlError::new(
                    ErrorKind::Invalid,
                    format!("provider {provider} takes no key"),
                ));
            }
            if key.expose().trim().is_empty() {
                return Err(ControlError::new(ErrorKind::Invalid, "the key is empty"));
            }
            store.put_key(provider, key).await.map_err(store_error)?;
            Ok(ControlResponse::Ok)
        }
        ControlRequest::KeyRemove { provider } => {
            store.remove_key(provider).await.map_err(store_error)?;
            Ok(ControlResponse::Ok)
        }
        ControlRequest::RuleAdd {
            agent,
            matches,
            decision,
            priority,
        } => {
            let added = ask_approvals(handles, |reply| ApprovalsMsg::AddRule {
                agent,
                matches,
                decision,
                priority,
                reply,
            })
            .await?;
            added.map(ControlResponse::Rule)
        }
        ControlRequest::RuleList => ask_approvals(handles, ApprovalsMsg::Rules)
            .await
            .map(ControlResponse::Rules),
        ControlRequest::RuleRemove { id } => {
            ask_approvals(handles, |reply| ApprovalsMsg::RemoveRule { id, reply }).await??;
            Ok(ControlResponse::Ok)
        }
        ControlRequest::ApprovalList => ask_approvals(handles, ApprovalsMsg::List)
            .await
            .map(ControlResponse::Approvals),
        ControlRequest::ApprovalAnswer {
            id,
            approve,
            remember,
        } => {
            ask_approvals(handles, |reply| ApprovalsMsg::Answer {
                id,
                approve,
                remember,
                reply,
            })
            .await??;
            Ok(ControlResponse::Ok)
        }
        ControlRequest::McpAdd { server, replace } => {
            server
                .validate()
                .map_err(|m| ControlError::new(ErrorKind::Invalid, m))?;
            store
                .put_mcp_server(server, replace)
                .await
                .map_err(store_error)?;
            Ok(ControlResponse::Ok)
        }
        ControlRequest::McpList => store
            .mcp_servers()
            .await
            .map(ControlResponse::McpServers)
            .map_err(store_error),
        ControlRequest::McpRemove { name } => {
            store.remove_mcp_server(name).await.map_err(store_error)?;
            Ok(ControlResponse::Ok)
        }
        ControlRequest::McpTest { name } => {
            let servers = store.mcp_servers().await.map_err(store_error)?;
            let server = servers
                .into_iter()
                .find(|s| s.name == name)
                .ok_or_else(|| {
                    ControlError::new(ErrorKind::NotFound, format!("no MCP server named {name:?}"))
                })?;
            mcp_servers::test_mcp_server(&shared.config.worker_bin, &server)
                .await
                .map(ControlResponse::McpTools)
                .map_err(|m| {
                    ControlError::new(ErrorKind::Unavailable, format!("MCP server {name:?}: {m}"))
                })
        }
        ControlRequest::ModelList {
            provider,
            base_url,
            send_key,
        } => {
            let chosen: Vec<ProviderKind> =
                provider.map_or_else(|| ProviderKind::ALL.to_vec(), |p| vec![p]);
            let mut jobs = tokio::task::JoinSet::new();
            for (order, provider) in chosen.into_iter().enumerate() {
                let stored = store
                    .key(provider)
                    .await
                    .map_err(store_error)?
                    .map(|(key, _)| key);
                let mut agent = protocol::AgentConfig::scripted("models");
                agent.provider = provider;
                agent.base_url = base_url.clone();
                agent.send_key_to_base_url = send_key;
                let endpoint = providers::endpoint(&agent, stored);
                let bin = shared.config.worker_bin.clone();
                jobs.spawn(async move {
                    (
                        order,
                        providers::list_models(&bin, provider, endpoint).await,
                    )
                });
            }
            let mut listed = jobs.join_all().await;
            listed.sort_by_key(|(order, _)| *order);
            Ok(ControlResponse::Models(
                listed.into_iter().map(|(_, m)| m).collect(),
            ))
        }
        ControlRequest::PricingList => Ok(ControlResponse::Pricing(
            shared.pricing.read().await.table.clone(),
        )),
        ControlRequest::PricingSet { model, price } => {
            check_price(&model, &price)?;
            update_pricing(handles, |custom| {
                custom.prices.insert(model, price);
                Ok(())
            })
            .await
        }
        ControlRequest::PricingRemove { model } => {
            update_pricing(handles, |custom| match custom.prices.remove(&model) {
                Some(_) => Ok(()),
                None => Err(ControlError::new(
                    ErrorKind::NotFound,
                    format!("no custom price for {model:?}"),
                )),
            })
            .await
        }
        ControlRequest::KeyList => {
            let mut stored = Vec::new();
            for provider in ProviderKind::ALL {
                let at = store
                    .key(provider)
                    .await
                    .map_err(store_error)?
                    .map(|(_, at)| at);
                stored.push((provider, at));
            }
            Ok(ControlResponse::Keys(providers::key_sources(&stored)))
        }
        ControlRequest::SessionList { all, limit } => {
            let records = store
                .sessions(all, limit as usize)
                .await
                .map_err(store_error)?;
            let live = live_infos(handles).await;
            Ok(ControlResponse::Sessions(
                records
                    .iter()
                    .map(|r| with_live(r.summary(), &live))
                    .collect(),
            ))
        }
        ControlRequest::SessionGet { id } => {
            let record = find_session(store, &id).await?;
            let live = live_infos(handles).await;
            Ok(ControlResponse::Session(with_live(record.summary(), &live)))
        }
        ControlRequest::SessionSetup { id } => {
            let record = find_session(store, &id).await?;
            let run = match record.kind {
                SessionKind::Run => Some(store.run(record.id).await.map_err(store_error)?.spec),
                SessionKind::Chat => None,
            };
            let live = live_infos(handles).await;
            Ok(ControlResponse::Setup(Box::new(Setup {
                summary: with_live(record.summary(), &live),
                agent: record.agent,
                run,
            })))
        }
        ControlRequest::ChatOpen { agent } => chat::open(agent, handles).await,
        ControlRequest::ChatResume { session } => chat::resume(&session, handles).await,
        ControlRequest::RunReplay { session, agent } => {
            runs::replay_run(&session, agent, handles).await
        }
        ControlRequest::ChatBranch {
            session,
            at_seq,
            agent,
        } => chat::branch(&session, at_seq, agent, handles).await,
        ControlRequest::ChatSay { session, text } => {
            chat::deliver(session, Some(text), handles).await
        }
        ControlRequest::ChatEnd { session } => chat::deliver(session, None, handles).await,
        ControlRequest::Cancel { session } => stop(handles, session, false).await,
        ControlRequest::Kill { session } => stop(handles, session, true).await,
        ControlRequest::Events {
            session,
            after_seq,
            limit,
        } => {
            ensure_session(handles, session).await?;
            store
                .events(session, after_seq, limit as usize)
                .await
                .map(ControlResponse::Events)
                .map_err(store_error)
        }
        ControlRequest::Follow { .. }
        | ControlRequest::WatchSessions
        | ControlRequest::Unsubscribe { .. } => Err(ControlError::new(
            ErrorKind::Invalid,
            "not a single-response request",
        )),
        _ => Err(ControlError::new(
            ErrorKind::Invalid,
            "this daemon does not support that request",
        )),
    }
}

/// Refuses a confined agent whose own workspace or sandbox paths are the
/// data dir, inside it or above it (see `DataDir::check_workspace`); a
/// workspace that does not exist yet is checked again when a session
/// starts.
fn check_agent_workspace(
    agent: &protocol::agent::AgentConfig,
    data_dir: &crate::paths::DataDir,
) -> Result<(), ControlError> {
    if agent.safety == protocol::agent::SafetyMode::Full {
        return Ok(());
    }
    let refused = |err: std::io::Error| ControlError::new(ErrorKind::Invalid, err.to_string());
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    data_dir
        .check_sandbox_paths(&agent.sandbox, home.as_deref())
        .map_err(refused)?;
    let Some(dir) = &agent.workspace else {
        return Ok(());
    };
    match data_dir.check_workspace(std::path::Path::new(dir)) {
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => Err(refused(err)),
        _ => Ok(()),
    }
}

async fn ask_approvals<T: Send + 'static>(
    handles: &Handles,
    msg: impl FnOnce(ractor::RpcReplyPort<T>) -> ApprovalsMsg,
) -> Result<T, ControlError> {
    match handles.shared.approvals.call(msg, None).await {
        Ok(CallResult::Success(value)) => Ok(value),
        _ => Err(unavailable()),
    }
}

fn check_price(model: &str, price: &ModelPrice) -> Result<(), ControlError> {
    if model.trim().is_empty() || model.len() > 128 {
        return Err(ControlError::new(
            ErrorKind::Invalid,
            "give a model name of 1 to 128 characters",
        ));
    }
    let fields = [
        price.input,
        price.output,
        price.cache_read,
        price.cache_write,
        price.reasoning,
    ];
    if fields.iter().any(|p| !p.is_finite() || *p < 0.0) {
        return Err(ControlError::new(
            ErrorKind::Invalid,
            "prices must be zero or more dollars per million tokens",
        ));
    }
    Ok(())
}

/// Changes the user's prices, stores them with the next pricing version,
/// and puts them in force.
async fn update_pricing(
    handles: &Handles,
    change: impl FnOnce(&mut CustomPrices) -> Result<(), ControlError>,
) -> Result<ControlResponse, ControlError> {
    let shared = &handles.shared;
    let mut state = shared.pricing.write().await;
    let mut custom = state.custom.clone();
    change(&mut custom)?;
    custom.version = state.table.version + 1;
    shared
        .store
        .put_pricing(&custom)
        .await
        .map_err(store_error)?;
    *state = PricingState::new(custom);
    Ok(ControlResponse::Pricing(state.table.clone()))
}

async fn ensure_session(
    handles: &Handles,
    session: SessionId,
) -> Result<SessionRecord, ControlError> {
    handles
        .shared
        .store
        .session(SessionLookup::Exact(session))
        .await
        .map_err(store_error)
}

async fn live_infos(handles: &Handles) -> HashMap<SessionId, LiveInfo> {
    call(handles, SchedulerMsg::Live)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|info| (info.session, info))
        .collect()
}

fn with_live(mut summary: SessionSummary, live: &HashMap<SessionId, LiveInfo>) -> SessionSummary {
    if let Some(info) = live.get(&summary.id) {
        summary.pid = info.pid.or(summary.pid);
        summary.rss_bytes = info.rss_bytes;
    }
    summary
}

async fn stop(
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

async fn subscribe(handles: &Handles, topic: Topic) -> Option<(u64, mpsc::Receiver<BrokerItem>)> {
    let id = handles
        .shared
        .next_subscription
        .fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = mpsc::channel(SUBSCRIBER_QUEUE);
    handles
        .shared
        .broker
        .cast(BrokerMsg::Subscribe { id, topic, tx })
        .ok()
        .map(|()| (id, rx))
}

/// Unsubscribes from the Broker when dropped (including on abort).
struct Subscription<'a> {
    id: u64,
    handles: &'a Handles,
}

impl Drop for Subscription<'_> {
    fn drop(&mut self) {
        let _ = self
            .handles
            .shared
            .broker
            .cast(BrokerMsg::Unsubscribe { id: self.id });
    }
}

/// Streams a session's events: the recorded ones, then live ones, with no
/// gap and no repeat, until the terminal event. Subscribing before reading
/// the store guarantees every event is in one or the other; a subscriber
/// the Broker dropped for falling behind starts over from the store.
async fn follow(id: u64, session: SessionId, after_seq: u64, handles: &Handles, outbox: &Outbox) {
    let follower = Follower { id, outbox };
    if let Err(err) = ensure_session(handles, session).await {
        let _ = outbox
            .send(ServerFrame::Response {
                id,
                result: Err(err),
            })
            .await;
        return;
    }
    let subscribed = ServerFrame::Response {
        id,
        result: Ok(ControlResponse::Subscribed),
    };
    if outbox.send(subscribed).await.is_err() {
        return;
    }
    let mut last = after_seq;
    loop {
        let Some((sub_id, mut live)) = subscribe(handles, Topic::Session(session)).await else {
            return follower.end().await;
        };
        let _guard = Subscription {
            id: sub_id,
            handles,
        };
        loop {
            let page = match handles.shared.store.events(session, last, PAGE).await {
                Ok(page) => page,
                Err(err) => {
                    tracing::warn!(%err, "follow: cannot read events");
                    return follower.end().await;
                }
            };
            let full = page.len() == PAGE;
            let newest = page.last().map(|e| e.seq);
            for event in page {
                last = event.seq;
                // A terminal event with more after it ended an earlier life
                // of a resumed session: the stream goes on.
                let current = !full && Some(event.seq) == newest;
                if follower.deliver(event, current).await.is_break() {
                    return;
                }
            }
            if !full {
                break;
            }
        }
        // Asked to start after the session's end: nothing more will come.
        match ensure_session(handles, session).await {
            Ok(record) if !record.status.is_terminal() || last < record.last_seq => {}
            _ => return follower.end().await,
        }
        while let Some(item) = live.recv().await {
            let BrokerItem::Event(event) = item else {
                continue;
            };
            if event.seq <= last {
                continue;
            }
            if event.seq != last + 1 {
                break; // missed something: catch up from the store
            }
            last = event.seq;
            if follower.deliver(event, true).await.is_break() {
                return;
            }
        }
    }
}

/// Sends one follow stream's pushes.
struct Follower<'a> {
    id: u64,
    outbox: &'a Outbox,
}

impl Follower<'_> {
    /// Sends `event`; breaks after a terminal one that is the session's
    /// newest (`current`), followed by [`Push::End`], or when the client is gone.
    async fn deliver(&self, event: Event, current: bool) -> ControlFlow<()> {
        let terminal = current && event.kind.is_terminal();
        let push = ServerFrame::Push {
            id: self.id,
            push: Push::Event(event),
        };
        if self.outbox.send(push).await.is_err() {
            return ControlFlow::Break(());
        }
        if terminal {
            self.end().await;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    /// Ends the stream.
    async fn end(&self) {
        let end = ServerFrame::Push {
            id: self.id,
            push: Push::End,
        };
        let _ = self.outbox.send(end).await;
    }
}

/// Streams status changes of all sessions until unsubscribed.
async fn watch(id: u64, handles: &Handles, outbox: &Outbox) {
    let push = |push: Push| outbox.send(ServerFrame::Push { id, push });
    if outbox
        .send(ServerFrame::Response {
            id,
            result: Ok(ControlResponse::Subscribed),
        })
        .await
        .is_err()
    {
        return;
    }
    loop {
        let Some((sub_id, mut live)) = subscribe(handles, Topic::AllSessions).await else {
            let _ = push(Push::End).await;
            return;
        };
        let _guard = Subscription {
            id: sub_id,
            handles,
        };
        while let Some(item) = live.recv().await {
            if let BrokerItem::Changed(summary) = item
                && push(Push::SessionChanged(summary)).await.is_err()
            {
                return;
            }
        }
        // Dropped for falling behind: resubscribe. Changes in between are
        // lost; watchers re-list sessions when they need exact state.
    }
}
