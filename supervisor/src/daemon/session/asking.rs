//! Asking about a tool call: the loop watchdog, then `Approvals`, without
//! waiting (a person may take minutes); the decision is recorded and told
//! to the worker.

use protocol::event::{BudgetKind, Decider, EventKind, StopReason};
use protocol::worker::ToWorker;
use ractor::ActorRef;

use super::{SessionMsg, SessionState};
use crate::daemon::approvals::{ApprovalsMsg, DecideRequest, Ruling};

impl SessionState {
    /// Records the request and has Approvals decide it, without waiting:
    /// a person may take minutes, and the session must stay responsive.
    pub(super) fn ask_approval(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        call_id: String,
        tool: String,
        arguments: String,
    ) {
        self.append(EventKind::ToolApprovalRequested {
            call_id: call_id.clone(),
        });
        if self.ending.stop.is_some() {
            let reason = "the session is stopping".to_owned();
            let ruling = Ruling {
                approved: false,
                by: Decider::RunPolicy,
                reason,
                remember: None,
            };
            return self.decided(call_id, ruling);
        }
        let call = (tool.clone(), arguments.clone());
        if self.watch.last_call.as_ref() == Some(&call) {
            self.watch.repeats += 1;
        } else {
            self.watch.last_call = Some(call);
            self.watch.repeats = 1;
        }
        let limit = self.shared.config.tool_loop_limit;
        if limit > 0 && self.watch.repeats >= limit {
            self.exceeded(
                BudgetKind::ToolLoop,
                f64::from(limit),
                f64::from(self.watch.repeats),
            );
            self.decided(
                call_id,
                Ruling {
                    approved: false,
                    by: Decider::RunPolicy,
                    reason: format!("the same call {limit} times in a row: stopped as a loop"),
                    remember: None,
                },
            );
            self.cancel(myself, StopReason::Budget);
            return;
        }
        let request = DecideRequest {
            session: self.id,
            agent: self.record.agent.name.clone(),
            call_id: call_id.clone(),
            tool,
            arguments,
            run_rules: self.setup.run_rules.clone(),
            plugin_rules: self.setup.plugin_rules.clone(),
            grants: self.setup.grants.clone(),
            policy: self.setup.ask_policy,
            asker: Some(myself.get_derived()),
        };
        let approvals = self.shared.approvals.clone();
        let session = myself.clone();
        tokio::spawn(async move {
            let asked = approvals
                .call(|reply| ApprovalsMsg::Decide(Box::new(request), reply), None)
                .await;
            if let Ok(ractor::rpc::CallResult::Success(ruling)) = asked {
                let _ = session.cast(SessionMsg::Decided { call_id, ruling });
            }
        });
    }

    /// Records a decision and tells the worker.
    pub(super) fn decided(&mut self, call_id: String, ruling: Ruling) {
        let event = if ruling.approved {
            EventKind::ToolApproved {
                call_id: call_id.clone(),
                by: ruling.by,
            }
        } else {
            EventKind::ToolDenied {
                call_id: call_id.clone(),
                by: ruling.by,
                reason: ruling.reason.clone(),
            }
        };
        self.append(event);
        if let Some(grant) = ruling.remember {
            self.setup.grants.push(grant);
        }
        self.send(ToWorker::ApprovalDecision {
            call_id,
            approved: ruling.approved,
            reason: ruling.reason,
        });
    }
}
