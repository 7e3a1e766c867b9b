//! The two tasks on a worker's socket, and the meter that prices what the
//! worker reports.
//!
//! `read_worker` is the hot path: events go straight to the session's
//! [`Sequencer`] (not through the actor); `Done`, approval requests and
//! budget crossings go to the Session actor. The [`Meter`] counts model
//! turns at each new `llm.request.started` (the turns budget), and after
//! each `llm.response.completed` records `llm.cost` (priced by the daemon,
//! never the worker) and checks the token and cost budgets.

use std::sync::Arc;

use crate::daemon::listener::{LinkReader, LinkWriter};
use protocol::Timestamp;
use protocol::agent::Budgets;
use protocol::codec::{read_frame, write_frame};
use protocol::event::{BudgetKind, EventKind, Usage};
use protocol::worker::{FromWorker, ToWorker};
use ractor::ActorRef;
use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::sync::mpsc;

use super::{LiveStats, SessionMsg};
use crate::daemon::Shared;
use crate::daemon::sequencer::{AppendError, Sequencer};
use crate::daemon::spend_caps::SessionCaps;
use crate::pricing;

/// Prices responses and adds up what a session used.
pub(crate) struct Meter {
    shared: Arc<Shared>,
    model: String,
    budgets: Budgets,
    /// The caps over many sessions it counts towards.
    caps: SessionCaps,
    tokens: u64,
    usd: f64,
    /// Model requests so far (retries of one request count once).
    turns: u32,
    last_request: Option<String>,
    exceeded: bool,
    /// The worker plays a recorded turn (`studio replay --tape`) until it
    /// records `replay.diverged`: its responses cost nothing.
    taped: bool,
}

impl Meter {
    pub(crate) fn new(
        shared: Arc<Shared>,
        model: String,
        budgets: Budgets,
        caps: SessionCaps,
        taped: bool,
    ) -> Meter {
        Meter {
            shared,
            model,
            budgets,
            caps,
            tokens: 0,
            usd: 0.0,
            turns: 0,
            last_request: None,
            exceeded: false,
            taped,
        }
    }

    /// Counts a model request and says whether the turns budget is now crossed.
    fn started(&mut self, request_id: &str) -> Option<SessionMsg> {
        if self.last_request.as_deref() == Some(request_id) {
            return None;
        }
        self.last_request = Some(request_id.to_owned());
        self.turns += 1;
        if !self.exceeded
            && !self.taped
            && let Some(over) = self.shared.ledger.over(&self.caps)
        {
            // Another session spent the cap: this request is the last.
            self.exceeded = true;
            return Some(SessionMsg::Exceeded {
                budget: over.budget,
                limit: over.limit,
                observed: over.observed,
            });
        }
        let limit = self.budgets.max_turns?;
        if self.exceeded || self.turns <= limit {
            return None;
        }
        self.exceeded = true;
        Some(SessionMsg::Exceeded {
            budget: BudgetKind::Turns,
            limit: f64::from(limit),
            observed: f64::from(self.turns),
        })
    }

    /// Records the cost of one response (of the session's model, or of a
    /// judge's `judge_model`) and says whether a budget is now crossed.
    async fn completed(
        &mut self,
        request_id: String,
        judge_model: Option<String>,
        usage: Usage,
        sequencer: &Sequencer,
    ) -> Option<SessionMsg> {
        // A judge is always asked live, even in a replay from the tape.
        let taped = self.taped && judge_model.is_none();
        let model = judge_model.unwrap_or_else(|| self.model.clone());
        let (usd, pricing_version) = {
            let pricing = self.shared.pricing.read().await;
            let price = pricing::lookup(&pricing.table, &model);
            // A response played from the tape was not asked of the
            // provider: nothing was billed.
            let usd = if taped {
                Some(0.0)
            } else {
                price.map(|p| pricing::cost(&usage, &p))
            };
            (usd, pricing.table.version)
        };
        let cost = EventKind::LlmCost {
            request_id,
            model,
            usd,
            pricing_version,
        };
        if let Err(err) = sequencer.append(Timestamp::now(), cost) {
            tracing::debug!(%err, "cost not recorded");
        }
        if taped {
            return None;
        }
        let tokens = usage.input_tokens + usage.output_tokens;
        self.tokens += tokens;
        self.usd += usd.unwrap_or(0.0);
        let capped = self
            .shared
            .ledger
            .add_spend(&self.caps, usd.unwrap_or(0.0), tokens);
        if self.exceeded {
            return None;
        }
        let crossed = match (self.budgets.max_tokens, self.budgets.max_cost_usd) {
            (Some(limit), _) if self.tokens > limit => {
                Some((BudgetKind::Tokens, limit as f64, self.tokens as f64))
            }
            (_, Some(limit)) if self.usd > limit => Some((BudgetKind::Cost, limit, self.usd)),
            _ => capped.map(|c| (c.budget, c.limit, c.observed)),
        };
        let (budget, limit, observed) = crossed?;
        self.exceeded = true;
        Some(SessionMsg::Exceeded {
            budget,
            limit,
            observed,
        })
    }
}

/// Reads the worker's frames: events go straight to the sequencer, the
/// rest to the actor. Ends with [`SessionMsg::ReaderEnded`].
pub(crate) async fn read_worker(
    reader: LinkReader,
    sequencer: Arc<Sequencer>,
    live: Arc<LiveStats>,
    mut meter: Meter,
    actor: ActorRef<SessionMsg>,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let mut buf = Vec::new();
    let problem = loop {
        match read_frame::<_, FromWorker>(&mut reader, &mut buf).await {
            Ok(Some(FromWorker::Event { at, kind })) => {
                if !kind.may_come_from_worker() {
                    break Some(format!(
                        "protocol violation: a worker may not report {}",
                        kind.name()
                    ));
                }
                live.touch();
                let completed = match &kind {
                    EventKind::LlmResponseCompleted {
                        request_id, usage, ..
                    } => Some((request_id.clone(), None, *usage)),
                    // A judge's tokens, priced at its own model.
                    EventKind::CheckJudged {
                        agent,
                        model,
                        usage,
                        ..
                    } => Some((format!("judge:{agent}"), Some(model.clone()), *usage)),
                    _ => None,
                };
                match &kind {
                    EventKind::MessageAssistant { text } => live.answered(text),
                    EventKind::CheckCommandRan { .. } | EventKind::CheckJudged { .. } => {
                        live.ran(&kind);
                    }
                    _ => {}
                }
                let turn_crossed = match &kind {
                    EventKind::LlmRequestStarted { request_id, .. } => meter.started(request_id),
                    EventKind::ReplayDiverged { .. } => {
                        meter.taped = false;
                        let _ = actor.cast(SessionMsg::ReplayParted);
                        None
                    }
                    _ => None,
                };
                match sequencer.append_from_worker(at, kind).await {
                    Ok(_) | Err(AppendError::Ended) => {}
                    Err(AppendError::Store(err)) => {
                        break Some(format!("cannot record event: {err}"));
                    }
                }
                if let Some(crossed) = turn_crossed {
                    let _ = actor.cast(crossed);
                }
                if let Some((request_id, judge, usage)) = completed
                    && let Some(crossed) =
                        meter.completed(request_id, judge, usage, &sequencer).await
                {
                    let _ = actor.cast(crossed);
                }
            }
            Ok(Some(FromWorker::Done(outcome))) => {
                live.touch();
                let _ = actor.cast(SessionMsg::WorkerDone(outcome));
            }
            Ok(Some(FromWorker::ApprovalRequest {
                call_id,
                tool,
                arguments,
            })) => {
                live.touch();
                let _ = actor.cast(SessionMsg::ApprovalRequest {
                    call_id,
                    tool,
                    arguments,
                });
            }
            // Heard only from a worker on another machine: a local one's
            // use is read from /proc (`SessionState::sample`).
            Ok(Some(FromWorker::Usage { rss_bytes, cpu_ms })) => {
                live.reported(rss_bytes, cpu_ms);
            }
            Ok(None) => break None,
            // A remote worker gone without TLS's goodbye hung up, as a
            // local one closing its socket does.
            Err(protocol::codec::FrameError::Io(err))
                if err.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                break None;
            }
            Err(err) => break Some(format!("protocol error: {err}")),
        }
    };
    let _ = actor.cast(SessionMsg::ReaderEnded(problem));
}

/// Writes commands to the worker in order until the channel closes.
pub(crate) async fn write_worker(writer: LinkWriter, mut rx: mpsc::UnboundedReceiver<ToWorker>) {
    let mut writer = BufWriter::new(writer);
    while let Some(msg) = rx.recv().await {
        let shutdown = matches!(msg, ToWorker::Shutdown);
        if write_frame(&mut writer, &msg).await.is_err() || writer.flush().await.is_err() {
            return;
        }
        if shutdown {
            return;
        }
    }
}
