//! The Approvals actor: decides every tool call, parks the ones a person
//! must answer, and owns the approval rules.
//!
//! A session asks with [`ApprovalsMsg::Decide`]; the reply comes at once
//! when a rule or the run's policy decides, or later when a person answers
//! (`studio approve|deny`), the wait times out, or the session ends (the
//! reply port is dropped). The first answer wins.

use std::collections::BTreeMap;
use std::time::Duration;

use protocol::approval::{ApprovalRule, AskPolicy, PendingApproval, RuleDecision, RuleMatch};
use protocol::control::{ControlError, ErrorKind};
use protocol::event::Decider;
use protocol::{SessionId, Timestamp};
use ractor::{Actor, ActorProcessingErr, ActorRef, DerivedActorRef, RpcReplyPort};

use super::rules::{self, Call};
use crate::store::{IdCounters, Store};

/// The outcome of one tool call's approval.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Ruling {
    pub(crate) approved: bool,
    pub(crate) by: Decider,
    /// Why, in words for the model when denied.
    pub(crate) reason: String,
    /// A person said "always allow" this tool for the session.
    pub(crate) remember: Option<RuleMatch>,
}

/// A call to decide.
pub(crate) struct DecideRequest {
    pub(crate) session: SessionId,
    pub(crate) agent: String,
    pub(crate) call_id: String,
    pub(crate) tool: String,
    pub(crate) arguments: String,
    pub(crate) run_rules: Vec<RuleMatch>,
    /// The rules the session's plugins bring (for their own tools only).
    pub(crate) plugin_rules: Vec<ApprovalRule>,
    pub(crate) grants: Vec<RuleMatch>,
    pub(crate) policy: AskPolicy,
    /// Told when the call is parked for a person, so it can record
    /// `tool.approval.pending` before anyone can answer.
    pub(crate) asker: Option<DerivedActorRef<Parked>>,
}

/// A call was parked for a person to answer: what the asking session is
/// told (through [`DecideRequest::asker`]) before anyone can answer.
#[derive(Debug)]
pub(crate) struct Parked {
    /// The call.
    pub(crate) call_id: String,
    /// Its number in the approvals inbox.
    pub(crate) approval: u64,
    /// When it is denied unanswered.
    pub(crate) expires_at: Timestamp,
}

/// Messages to the Approvals actor.
pub(crate) enum ApprovalsMsg {
    Decide(Box<DecideRequest>, RpcReplyPort<Ruling>),
    Answer {
        id: u64,
        approve: bool,
        remember: bool,
        reply: RpcReplyPort<Result<(), ControlError>>,
    },
    List(RpcReplyPort<Vec<PendingApproval>>),
    Expire(u64),
    SessionEnded(SessionId),
    AddRule {
        agent: Option<String>,
        matches: RuleMatch,
        decision: RuleDecision,
        priority: i32,
        reply: RpcReplyPort<Result<ApprovalRule, ControlError>>,
    },
    Rules(RpcReplyPort<Vec<ApprovalRule>>),
    RemoveRule {
        id: String,
        reply: RpcReplyPort<Result<(), ControlError>>,
    },
}

/// The Approvals actor.
pub(crate) struct Approvals;

/// Rules and waiting calls.
pub(crate) struct ApprovalsState {
    store: Store,
    rules: Vec<ApprovalRule>,
    /// The last rule and approval numbers given out: never given again,
    /// even by the next daemon.
    counters: IdCounters,
    pending: BTreeMap<u64, Waiting>,
}

struct Waiting {
    info: PendingApproval,
    reply: RpcReplyPort<Ruling>,
}

impl Actor for Approvals {
    type Msg = ApprovalsMsg;
    type State = ApprovalsState;
    type Arguments = (Store, Vec<ApprovalRule>);

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        (store, rules): (Store, Vec<ApprovalRule>),
    ) -> Result<Self::State, ActorProcessingErr> {
        let mut counters = store.id_counters().await?;
        // Databases from before `IdCounters` was stored know only their rules.
        counters.last_rule = rules
            .iter()
            .filter_map(rule_number)
            .chain([counters.last_rule])
            .max()
            .unwrap_or(0);
        Ok(ApprovalsState {
            store,
            rules,
            counters,
            pending: BTreeMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ApprovalsMsg::Decide(request, reply) => state.decide(&myself, *request, reply),
            ApprovalsMsg::Answer {
                id,
                approve,
                remember,
                reply,
            } => {
                let result = match state.pending.remove(&id) {
                    Some(waiting) => {
                        let remember = (approve && remember).then(|| RuleMatch {
                            tool: waiting.info.tool.clone(),
                            argument: None,
                        });
                        let reason = if approve {
                            String::new()
                        } else {
                            "denied by the user".to_owned()
                        };
                        let by = match remember {
                            Some(_) => Decider::UserAlways,
                            None => Decider::User,
                        };
                        let _ = waiting.reply.send(Ruling {
                            approved: approve,
                            by,
                            reason,
                            remember,
                        });
                        Ok(())
                    }
                    None => Err(ControlError::new(
                        ErrorKind::NotFound,
                        format!(
                            "no tool call #{id} is waiting (already decided, or its session ended)"
                        ),
                    )),
                };
                let _ = reply.send(result);
            }
            ApprovalsMsg::List(reply) => {
                let _ = reply.send(state.pending.values().map(|w| w.info.clone()).collect());
            }
            ApprovalsMsg::Expire(id) => {
                if let Some(waiting) = state.pending.remove(&id) {
                    let _ = waiting.reply.send(Ruling {
                        approved: false,
                        by: Decider::Timeout,
                        reason: "nobody answered in time".to_owned(),
                        remember: None,
                    });
                }
            }
            ApprovalsMsg::SessionEnded(session) => {
                // Dropping the reply ports tells nobody: the session is gone.
                state.pending.retain(|_, w| w.info.session != session);
            }
            ApprovalsMsg::AddRule {
                agent,
                matches,
                decision,
                priority,
                reply,
            } => {
                let result = state.add_rule(agent, matches, decision, priority).await;
                let _ = reply.send(result);
            }
            ApprovalsMsg::Rules(reply) => {
                let _ = reply.send(state.rules.clone());
            }
            ApprovalsMsg::RemoveRule { id, reply } => {
                let result = match state.store.remove_rule(id.clone()).await {
                    Ok(()) => {
                        state.rules.retain(|r| r.id != id);
                        Ok(())
                    }
                    Err(err) => Err(ControlError::from(err)),
                };
                let _ = reply.send(result);
            }
        }
        Ok(())
    }
}

impl ApprovalsState {
    fn decide(
        &mut self,
        myself: &ActorRef<ApprovalsMsg>,
        request: DecideRequest,
        reply: RpcReplyPort<Ruling>,
    ) {
        let call = Call {
            agent: &request.agent,
            tool: &request.tool,
            arguments: &request.arguments,
        };
        let with_plugins: Vec<ApprovalRule>;
        let stored: &[ApprovalRule] = if request.plugin_rules.is_empty() {
            &self.rules
        } else {
            with_plugins = self
                .rules
                .iter()
                .chain(&request.plugin_rules)
                .cloned()
                .collect();
            &with_plugins
        };
        let verdict = rules::evaluate(stored, &request.run_rules, &request.grants, &call);
        let ruling = |approved: bool, by: Decider, reason: String| Ruling {
            approved,
            by,
            reason,
            remember: None,
        };
        match verdict {
            Some(rules::Verdict {
                decision: RuleDecision::Allow,
                rule,
            }) => {
                let _ = reply.send(ruling(true, Decider::Rule { id: rule }, String::new()));
            }
            Some(rules::Verdict {
                decision: RuleDecision::Deny,
                rule,
            }) => {
                let reason = format!("denied by approval rule {rule}");
                let _ = reply.send(ruling(false, Decider::Rule { id: rule }, reason));
            }
            // Ask, or no rule: the run's policy.
            _ => match request.policy {
                AskPolicy::Deny => {
                    let reason = "no rule allows this tool, and this run denies what it would have to ask about".to_owned();
                    let _ = reply.send(ruling(false, Decider::RunPolicy, reason));
                }
                AskPolicy::Allow => {
                    let _ = reply.send(ruling(true, Decider::RunPolicy, String::new()));
                }
                AskPolicy::Wait { secs } => self.park(myself, request, secs, reply),
            },
        }
    }

    fn park(
        &mut self,
        myself: &ActorRef<ApprovalsMsg>,
        request: DecideRequest,
        secs: u32,
        reply: RpcReplyPort<Ruling>,
    ) {
        self.counters.last_approval += 1;
        let id = self.counters.last_approval;
        // Queued before the session records `tool.approval.pending`, so
        // the number is stored whenever that event is.
        if let Err(err) = self.store.queue_id_counters(self.counters) {
            tracing::warn!(%err, "cannot record the approval number");
        }
        let now = Timestamp::now();
        let wait = Duration::from_secs(u64::from(secs));
        let expires_at = Timestamp(now.0 + u64::try_from(wait.as_micros()).unwrap_or(u64::MAX));
        if let Some(asker) = &request.asker {
            let _ = asker.send_message(Parked {
                call_id: request.call_id.clone(),
                approval: id,
                expires_at,
            });
        }
        let info = PendingApproval {
            id,
            session: request.session,
            agent: request.agent,
            call_id: request.call_id,
            tool: request.tool,
            arguments: request.arguments,
            requested_at: now,
            expires_at,
        };
        self.pending.insert(id, Waiting { info, reply });
        drop(myself.send_after(wait, move || ApprovalsMsg::Expire(id)));
    }

    async fn add_rule(
        &mut self,
        agent: Option<String>,
        matches: RuleMatch,
        decision: RuleDecision,
        priority: i32,
    ) -> Result<ApprovalRule, ControlError> {
        rules::check(&matches).map_err(|m| ControlError::new(ErrorKind::Invalid, m))?;
        let next = self.counters.last_rule + 1;
        // Recorded before the rule: a crash in between skips a number
        // rather than giving one out twice.
        let counters = IdCounters {
            last_rule: next,
            ..self.counters
        };
        self.store.put_id_counters(counters).await?;
        self.counters = counters;
        let rule = ApprovalRule {
            id: format!("r{next}"),
            agent,
            matches,
            decision,
            priority,
        };
        self.store.put_rule(rule.clone()).await?;
        self.rules.push(rule.clone());
        self.rules
            .sort_by_key(|r| rule_number(r).unwrap_or(u64::MAX));
        Ok(rule)
    }
}

/// The number in a rule's id, `r{number}`.
fn rule_number(rule: &ApprovalRule) -> Option<u64> {
    rule.id.strip_prefix('r')?.parse().ok()
}
