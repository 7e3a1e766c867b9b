//! Requests with one response: which area of the daemon answers each.
//! The areas are this folder's modules (agents, keys and MCP servers in
//! `secrets`, approvals, pricing, sessions, chat, runs).

use protocol::control::{ControlError, ControlRequest, ControlResponse, ErrorKind};

use super::{
    Handles, agents, approvals, chat, compare, groups, plugin_env, pricing, replay, retention,
    runs, secrets, sessions, status, workspaces,
};
use crate::daemon::{BrokerMsg, ChatInput, mcp_servers};

/// Requests with one response. After one that changed a list succeeds,
/// every `WatchLists` stream hears which.
pub(super) async fn answer(
    request: ControlRequest,
    handles: &Handles,
) -> Result<ControlResponse, ControlError> {
    let changes = request.changes();
    let answered = dispatch(request, handles).await;
    if answered.is_ok() {
        for list in changes {
            let _ = handles.shared.broker.cast(BrokerMsg::ListChanged(*list));
        }
    }
    answered
}

/// Which area answers `request`.
async fn dispatch(
    request: ControlRequest,
    handles: &Handles,
) -> Result<ControlResponse, ControlError> {
    let shared = &handles.shared;
    match request {
        ControlRequest::Ping => Ok(ControlResponse::Pong),
        ControlRequest::Status => status(handles).await,
        ControlRequest::Shutdown => {
            shared.stop_requested.notify_one();
            Ok(ControlResponse::Ok)
        }
        ControlRequest::AgentCreate { agent, replace } => {
            agents::create(handles, *agent, replace).await
        }
        ControlRequest::AgentList => agents::list(handles).await,
        ControlRequest::AgentGet { name } => agents::get(handles, name).await,
        ControlRequest::AgentRemove { name } => agents::remove(handles, name).await,
        ControlRequest::Run(spec) => runs::start_run(spec, handles).await,
        ControlRequest::RunBatch {
            runs,
            parallel,
            name,
            caps,
            checks,
        } => {
            let group = runs::NewGroup {
                name: &name,
                caps: &caps,
                checks: &checks,
            };
            runs::start_batch(runs, parallel, group, handles).await
        }
        ControlRequest::GroupList { limit } => groups::list(handles, limit).await,
        ControlRequest::GroupGet {
            id,
            from,
            limit,
            answer_chars,
        } => groups::get(handles, &id, from, limit, answer_chars).await,
        ControlRequest::Spend { by, since } => {
            Ok(ControlResponse::Spend(shared.store.spend(by, since).await?))
        }
        ControlRequest::CapsToday { agents } => runs::caps_today(agents, handles).await,
        ControlRequest::WorkspaceDiff { id, against } => {
            workspaces::diff(&id, against.as_deref(), handles).await
        }
        ControlRequest::Apply { id, dry_run } => workspaces::apply(&id, dry_run, handles).await,
        ControlRequest::Delete {
            ids,
            groups,
            dry_run,
        } => retention::delete(ids, groups, dry_run, handles).await,
        ControlRequest::Gc {
            older_than_secs,
            dry_run,
        } => retention::gc(older_than_secs, dry_run, handles).await,
        ControlRequest::GroupPrefer { group, run } => {
            groups::prefer(handles, &group, run.as_deref()).await
        }
        ControlRequest::Replay { session, spec } => replay::replay(&session, *spec, handles).await,
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
        ControlRequest::SetOtlp { url, headers } => secrets::otlp_set(handles, url, headers).await,
        ControlRequest::OtlpStatus => Ok(ControlResponse::Otlp(shared.otlp.status())),
        ControlRequest::PluginEnvSet {
            plugin,
            name,
            value,
        } => plugin_env::set(handles, &plugin, &name, value).await,
        ControlRequest::PluginEnvRemove { plugin, name } => {
            plugin_env::remove(handles, &plugin, name.as_deref()).await
        }
        ControlRequest::RuleAdd {
            agent,
            matches,
            decision,
            priority,
        } => approvals::rule_add(handles, agent, matches, decision, priority).await,
        ControlRequest::RuleList => approvals::rule_list(handles).await,
        ControlRequest::RuleRemove { id } => approvals::rule_remove(handles, id).await,
        ControlRequest::ApprovalList => approvals::list(handles).await,
        ControlRequest::ApprovalAnswer {
            id,
            approve,
            remember,
        } => approvals::answer(handles, id, approve, remember).await,
        ControlRequest::McpAdd { server, replace } => {
            secrets::mcp_add(handles, server, replace).await
        }
        ControlRequest::McpList => secrets::mcp_list(handles).await,
        ControlRequest::McpRemove { name } => secrets::mcp_remove(handles, name).await,
        ControlRequest::McpOAuthSet { server, tokens } => {
            secrets::mcp_oauth_set(handles, &server, tokens).await
        }
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
        } => pricing::models(handles, provider, base_url, send_key).await,
        ControlRequest::PricingList => pricing::list(handles).await,
        ControlRequest::PricingSet { model, price } => pricing::set(handles, model, price).await,
        ControlRequest::PricingRemove { model } => pricing::remove(handles, model).await,
        ControlRequest::SessionList { all, limit } => sessions::list(handles, all, limit).await,
        ControlRequest::SessionGet { id } => sessions::get(handles, &id).await,
        ControlRequest::SessionRetitle { id, title } => {
            sessions::retitle(handles, &id, &title).await
        }
        ControlRequest::SessionSetup { id } => sessions::setup(handles, &id).await,
        ControlRequest::Compare {
            sessions,
            window,
            max_rows,
        } => compare::answer(handles, &sessions, window, max_rows).await,
        ControlRequest::Events {
            session,
            after_seq,
            limit,
        } => sessions::events(handles, session, after_seq, limit).await,
        ControlRequest::Cancel { session } => sessions::stop(handles, session, false).await,
        ControlRequest::Kill { session } => sessions::stop(handles, session, true).await,
        ControlRequest::ChatOpen { agent } => chat::open(agent, handles).await,
        ControlRequest::ChatResume { session } => chat::resume(&session, handles).await,
        ControlRequest::ChatBranch {
            session,
            at_seq,
            agent,
        } => chat::branch(&session, at_seq, agent, handles).await,
        ControlRequest::ChatSay { session, text } => {
            chat::deliver(session, ChatInput::Say(text), handles).await
        }
        ControlRequest::ChatEnd { session } => {
            chat::deliver(session, ChatInput::End, handles).await
        }
        ControlRequest::AppToolCall {
            session,
            uri,
            server,
            tool,
            arguments,
        } => chat::app_call(session, uri, server, tool, arguments, handles).await,
        ControlRequest::StoreCheck => Ok(ControlResponse::StoreCheck(shared.store.check().await?)),
        ControlRequest::Follow { .. }
        | ControlRequest::WatchSessions
        | ControlRequest::WatchLists
        | ControlRequest::Unsubscribe { .. } => Err(ControlError::new(
            ErrorKind::Invalid,
            "not a single-response request",
        )),
    }
}
