//! Approval rules and the approvals inbox, answered by the Approvals actor.

use protocol::approval::{RuleDecision, RuleMatch};
use protocol::control::{ControlError, ControlResponse};
use ractor::rpc::CallResult;

use super::{Handles, unavailable};
use crate::daemon::approvals::ApprovalsMsg;

pub(super) async fn rule_add(
    handles: &Handles,
    agent: Option<String>,
    matches: RuleMatch,
    decision: RuleDecision,
    priority: i32,
) -> Result<ControlResponse, ControlError> {
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

pub(super) async fn rule_list(handles: &Handles) -> Result<ControlResponse, ControlError> {
    ask_approvals(handles, ApprovalsMsg::Rules)
        .await
        .map(ControlResponse::Rules)
}

pub(super) async fn rule_remove(
    handles: &Handles,
    id: String,
) -> Result<ControlResponse, ControlError> {
    ask_approvals(handles, |reply| ApprovalsMsg::RemoveRule { id, reply }).await??;
    Ok(ControlResponse::Ok)
}

pub(super) async fn list(handles: &Handles) -> Result<ControlResponse, ControlError> {
    ask_approvals(handles, ApprovalsMsg::List)
        .await
        .map(ControlResponse::Approvals)
}

pub(super) async fn answer(
    handles: &Handles,
    id: u64,
    approve: bool,
    remember: bool,
) -> Result<ControlResponse, ControlError> {
    ask_approvals(handles, |reply| ApprovalsMsg::Answer {
        id,
        approve,
        remember,
        reply,
    })
    .await??;
    Ok(ControlResponse::Ok)
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
