//! Requests with one response: what each does, and the checks and
//! lookups they share.

use std::collections::HashMap;

use protocol::control::{
    ControlError, ControlRequest, ControlResponse, ErrorKind, ModelPrice, SessionSummary, Setup,
};
use protocol::{ProviderKind, SessionId};
use ractor::rpc::CallResult;

use super::{Handles, call, ensure_session, find_session, secrets, status, unavailable};
use super::{chat, runs};
use crate::daemon::approvals::ApprovalsMsg;
use crate::daemon::scheduler::LiveInfo;
use crate::daemon::{PricingState, SchedulerMsg, mcp_servers, providers};
use crate::pricing::CustomPrices;
use crate::store::{SessionKind, SessionRecord};

/// Requests with one response.
pub(super) async fn answer(
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
            store.put_agent(agent, replace).await?;
            Ok(ControlResponse::Ok)
        }
        ControlRequest::AgentList => store
            .agents()
            .await
            .map(ControlResponse::Agents)
            .map_err(ControlError::from),
        ControlRequest::AgentGet { name } => store
            .agent(name)
            .await
            .map(ControlResponse::Agent)
            .map_err(ControlError::from),
        ControlRequest::AgentRemove { name } => {
            store.remove_agent(name).await?;
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
        ControlRequest::KeySet { provider, key } => secrets::key_set(handles, provider, key).await,
        ControlRequest::KeyRemove { provider } => secrets::key_remove(handles, provider).await,
        ControlRequest::KeyList => Ok(secrets::key_list(handles).await),
        ControlRequest::SecretList => Ok(secrets::secret_list(handles).await),
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
            secrets::mcp_add(handles, server, replace).await
        }
        ControlRequest::McpList => secrets::mcp_list(handles).await,
        ControlRequest::McpRemove { name } => secrets::mcp_remove(handles, name).await,
        ControlRequest::McpTest { name } => {
            let server = secrets::mcp_server(handles, &name).await?;
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
                let stored = shared.secrets.key(provider).await;
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
        ControlRequest::SessionList { all, limit } => {
            let summaries = store.sessions(all, limit as usize).await?;
            let live = live_infos(handles).await;
            Ok(ControlResponse::Sessions(
                summaries.into_iter().map(|s| with_live(s, &live)).collect(),
            ))
        }
        ControlRequest::SessionGet { id } => {
            let record = find_session(store, &id).await?;
            let live = live_infos(handles).await;
            Ok(ControlResponse::Session(with_live(
                store.summary(&record),
                &live,
            )))
        }
        ControlRequest::SessionSetup { id } => {
            let record = find_session(store, &id).await?;
            let run = match record.kind {
                SessionKind::Run => Some(store.run(record.id).await?.spec),
                SessionKind::Chat => None,
            };
            let live = live_infos(handles).await;
            Ok(ControlResponse::Setup(Box::new(Setup {
                summary: with_live(store.summary(&record), &live),
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
                .map_err(ControlError::from)
        }
        ControlRequest::StoreCheck => store
            .check()
            .await
            .map(ControlResponse::StoreCheck)
            .map_err(ControlError::from),
        ControlRequest::Follow { .. }
        | ControlRequest::WatchSessions
        | ControlRequest::Unsubscribe { .. } => Err(ControlError::new(
            ErrorKind::Invalid,
            "not a single-response request",
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
    shared.store.put_pricing(&custom).await?;
    *state = PricingState::new(custom);
    Ok(ControlResponse::Pricing(state.table.clone()))
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
