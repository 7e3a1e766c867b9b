//! A gc cut short by a daemon SIGKILL. Before the reference runs, a group
//! of fodder runs is started and ended; the daemon-kill phase then asks
//! for a gc of everything older than the fodder (the fodder alone) and
//! SIGKILLs the daemon a few milliseconds later. At the end of the round
//! each fodder session must be whole or gone, and nothing else gone.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use protocol::control::{ControlRequest, ControlResponse, RunSpec, SessionSummary};
use protocol::{SessionId, Timestamp};
use supervisor::store::Snapshot;

use super::Round;
use crate::check::{self, Check};
use crate::inject::Ctx;
use crate::plan::{AGENTS, FaultKind};
use crate::track::REQUEST_TIMEOUT;

/// Fodder runs, one group.
const FODDER_RUNS: usize = 24;
/// How long the fodder has to end.
const FODDER_DEADLINE: Duration = Duration::from_secs(30);
/// The pause after the fodder ended, so that a gc cutoff (whole seconds)
/// falls between it and every later session.
const FODDER_GAP: Duration = Duration::from_millis(1500);
/// Longest wait between asking for the gc and the SIGKILL.
const MAX_KILL_DELAY_MS: u64 = 150;

/// The fodder of a round: its sessions, and when the last one ended.
#[derive(Default)]
pub(super) struct Fodder {
    pub(super) sessions: HashSet<SessionId>,
    ended: Option<Timestamp>,
}

impl Round<'_> {
    /// Starts the fodder group and waits for every run of it to end.
    pub(super) async fn gc_fodder(&mut self, ctx: &Ctx) -> anyhow::Result<()> {
        let spec = RunSpec {
            agent: AGENTS[0].0.to_owned(),
            prompt: "gc fodder".to_owned(),
            ..RunSpec::default()
        };
        let request = ControlRequest::RunBatch {
            runs: vec![spec; FODDER_RUNS],
            parallel: FODDER_RUNS as u32,
            name: "gc fodder".to_owned(),
            caps: Default::default(),
            checks: Vec::new(),
        };
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, ctx.client(0).request(request))
            .await
            .context("the fodder batch got no answer")??;
        let ControlResponse::BatchAccepted { sessions } = answer else {
            anyhow::bail!("unexpected answer to the fodder batch: {answer:?}");
        };
        let deadline = Instant::now() + FODDER_DEADLINE;
        for session in &sessions {
            loop {
                let get = ControlRequest::SessionGet {
                    id: session.to_string(),
                };
                let summary: Option<SessionSummary> = match ctx.client(0).request(get).await {
                    Ok(ControlResponse::Session(summary)) => Some(summary),
                    _ => None,
                };
                if summary.is_some_and(|s| s.status.is_terminal()) {
                    break;
                }
                if Instant::now() > deadline {
                    anyhow::bail!("fodder run {session} did not end in time");
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        self.fodder.sessions = sessions.into_iter().collect();
        self.fodder.ended = Some(Timestamp::now());
        tokio::time::sleep(FODDER_GAP).await;
        Ok(())
    }

    /// Asks for a gc of the fodder and lets it run a few milliseconds;
    /// the caller SIGKILLs the daemon next.
    pub(super) async fn start_gc(&mut self, ctx: &Ctx) {
        let Some(ended) = self.fodder.ended else {
            return;
        };
        // Whole seconds since the fodder ended: the cutoff falls after it
        // and before anything started after the gap.
        let older_than_secs = Timestamp::now().since(ended).as_secs();
        let client = ctx.client(0).clone();
        tokio::spawn(async move {
            let _ = client
                .request(ControlRequest::Gc {
                    older_than_secs,
                    dry_run: false,
                })
                .await;
        });
        let delay = self.rng.range(0, MAX_KILL_DELAY_MS);
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }

    /// Every fodder session is whole or gone. The fault counts as injected
    /// when the gc removed at least one (else the SIGKILL came first).
    pub(super) fn check_fodder(&mut self, db: &Snapshot) -> anyhow::Result<()> {
        let summaries: Vec<SessionSummary> = db.sessions()?;
        if self.fodder.ended.is_none() {
            return Ok(());
        }
        let gone = self
            .fodder
            .sessions
            .iter()
            .filter(|id| !summaries.iter().any(|s| s.id == **id))
            .count();
        self.faults.record(FaultKind::GcKill, gone > 0);
        for id in self.fodder.sessions.clone() {
            let events = db.events(id)?;
            let summary = summaries.iter().find(|s| s.id == id);
            let result = match summary {
                None if events.is_empty() => Ok(()),
                None => Err(format!(
                    "fodder session deleted, but {} of its events are left",
                    events.len()
                )),
                Some(summary) => check::whole(summary, &events)
                    .map_err(|why| format!("fodder session left in part: {why}")),
            };
            self.tally.verify(Check::Gc, Some(id), result);
        }
        Ok(())
    }
}
