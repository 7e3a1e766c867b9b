//! Starting headless runs: one (`Run`), many with
//! their own parallelism (`RunBatch`), and the limit of live runs
//! (`LimitsSet`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use protocol::agent::AgentConfig;
use protocol::caps::{AgentDayStanding, SpendCaps};
use protocol::control::MAX_BATCH_RUNS;
use protocol::control::{
    ControlError, ControlResponse, ErrorKind, MAX_CONCURRENT_RUNS, MAX_LIVE_CHATS, RunSpec,
};
use protocol::event::{Event, EventKind, SessionStatus};
use protocol::tape::Tape;
use protocol::{SessionId, Timestamp};

use super::{call, groups, unavailable};
use crate::daemon::root::Handles;
use crate::daemon::scheduler::BatchSlot;
use crate::daemon::session::{LaterTurn, Opening};
use crate::daemon::spend_caps::{self, Admission, Refused, SessionCaps};
use crate::daemon::{QueuedRun, SchedulerMsg, Sequencer};
use crate::store::{DaemonLimits, GroupRecord, RunRecord, SessionKind, SessionRecord};

/// Records a run (its session and `run.queued` at seq 1) and queues it.
pub(super) async fn start_run(
    spec: RunSpec,
    handles: &Handles,
) -> Result<ControlResponse, ControlError> {
    let agent = handles.shared.store.agent(spec.agent.clone()).await?;
    check(&spec, &agent)?;
    admit_one(&agent, handles).await?;
    let session = queue(
        spec,
        agent,
        None,
        Origin::default(),
        SessionId::new(),
        handles,
    )
    .await?;
    Ok(ControlResponse::RunAccepted { session })
}

/// What a batch says of the group it makes.
pub(super) struct NewGroup<'a> {
    /// Its name (empty: its first run's prompt).
    pub(super) name: &'a str,
    /// What its runs may spend together.
    pub(super) caps: &'a SpendCaps,
    /// What each run's answer is checked for.
    pub(super) checks: &'a [protocol::checks::Check],
}

/// Checks every run of a batch, then records and queues them all under one
/// [`BatchSlot`]: a bad run queues none.
pub(super) async fn start_batch(
    runs: Vec<RunSpec>,
    parallel: u32,
    new_group: NewGroup<'_>,
    handles: &Handles,
) -> Result<ControlResponse, ControlError> {
    let NewGroup { name, caps, checks } = new_group;
    let invalid = |message: String| ControlError::new(ErrorKind::Invalid, message);
    if runs.is_empty() {
        return Err(invalid("a batch needs at least one run".to_owned()));
    }
    if runs.len() > MAX_BATCH_RUNS {
        return Err(invalid(format!(
            "a batch of {} runs is too large (at most {MAX_BATCH_RUNS})",
            runs.len()
        )));
    }
    let mut agents: HashMap<String, AgentConfig> = HashMap::new();
    for (index, spec) in runs.iter().enumerate() {
        let in_run = |err: ControlError| {
            let label = spec.label.as_deref().unwrap_or("");
            ControlError::new(
                err.kind,
                format!(
                    "run {} {label}: {}; no run was queued",
                    index + 1,
                    err.message
                ),
            )
        };
        if !agents.contains_key(&spec.agent) {
            let agent = handles
                .shared
                .store
                .agent(spec.agent.clone())
                .await
                .map_err(|e| in_run(ControlError::from(e)))?;
            agents.insert(spec.agent.clone(), agent);
        }
        check(spec, &agents[&spec.agent]).map_err(in_run)?;
    }
    let judges = checks.iter().chain(runs.iter().flat_map(|r| &r.checks));
    let mut judges: Vec<&str> = judges.filter_map(protocol::checks::Check::judge).collect();
    judges.dedup();
    for judge in judges {
        if let Err(err) = handles.shared.store.agent(judge.to_owned()).await {
            let err = ControlError::from(err);
            return Err(ControlError::new(
                err.kind,
                format!("judge: {}; no run was queued", err.message),
            ));
        }
    }
    let slot = BatchSlot {
        id: handles.shared.next_batch.fetch_add(1, Ordering::Relaxed),
        parallel: parallel.max(1),
    };
    let total = runs.len();
    let mut sessions = Vec::with_capacity(total);
    // Its first run names the group: kept with each run.
    let first = SessionId::new();
    let group = groups::new_record(first, name, &runs[0].prompt, total, caps, checks)?;
    let mut per_agent: Vec<(&str, &SpendCaps, u32)> = Vec::new();
    for spec in &runs {
        match per_agent
            .iter_mut()
            .find(|(agent, _, _)| *agent == spec.agent)
        {
            Some((_, _, count)) => *count += 1,
            None => per_agent.push((&spec.agent, &agents[&spec.agent].daily_caps, 1)),
        }
    }
    admit(
        &Admission {
            agents: per_agent,
            group: Some((first, &group.name, &group.caps)),
            at: Timestamp::now(),
        },
        handles,
    )
    .await?;
    handles.shared.store.put_group(group.clone()).await?;
    for spec in runs {
        let agent = agents[&spec.agent].clone();
        let id = if sessions.is_empty() {
            first
        } else {
            SessionId::new()
        };
        match queue(
            spec,
            agent,
            Some((slot, &group)),
            Origin::default(),
            id,
            handles,
        )
        .await
        {
            Ok(session) => sessions.push(session),
            Err(err) => {
                return Err(ControlError::new(
                    err.kind,
                    format!(
                        "{} (after {} of {total} runs were queued)",
                        err.message,
                        sessions.len()
                    ),
                ));
            }
        }
    }
    Ok(ControlResponse::BatchAccepted { sessions })
}

/// Counts the sessions of `admission` against their caps, or refuses
/// them all with the cap they would pass ([`ErrorKind::OverCap`]).
pub(super) async fn admit(
    admission: &Admission<'_>,
    handles: &Handles,
) -> Result<(), ControlError> {
    let shared = &handles.shared;
    match shared.ledger.admit(&shared.store, admission).await {
        Ok(()) => Ok(()),
        Err(Refused::OverCap(why)) => Err(ControlError::new(
            ErrorKind::OverCap,
            format!("{why}: nothing was started"),
        )),
        Err(Refused::Store(err)) => Err(err.into()),
    }
}

/// Admits one new session of `agent` under its daily caps.
pub(super) async fn admit_one(agent: &AgentConfig, handles: &Handles) -> Result<(), ControlError> {
    let admission = Admission {
        agents: vec![(&agent.name, &agent.daily_caps, 1)],
        group: None,
        at: Timestamp::now(),
    };
    admit(&admission, handles).await
}

/// Each agent's daily caps and what its sessions of today spent (every
/// agent when `agents` is empty; one that does not exist is left out).
pub(super) async fn caps_today(
    agents: Vec<String>,
    handles: &Handles,
) -> Result<ControlResponse, ControlError> {
    let store = &handles.shared.store;
    let configs = if agents.is_empty() {
        store.agents().await?
    } else {
        let mut configs = Vec::with_capacity(agents.len());
        for name in agents {
            // One that does not exist has no caps; starting it says so.
            match store.agent(name).await {
                Ok(agent) => configs.push(agent),
                Err(crate::store::StoreError::NotFound(_)) => {}
                Err(err) => return Err(err.into()),
            }
        }
        configs
    };
    let now = Timestamp::now();
    let today = spend_caps::day_of(now);
    let mut standings = Vec::with_capacity(configs.len());
    for agent in configs {
        let spent = handles
            .shared
            .ledger
            .agent_day(store, &agent.name, today)
            .await?;
        standings.push(AgentDayStanding {
            agent: agent.name,
            day: crate::store::day(now),
            caps: agent.daily_caps,
            spent,
        });
    }
    Ok(ControlResponse::CapsToday(standings))
}

/// Stores the new limits (those given; the others stay), then applies them.
pub(super) async fn set_limits(
    max_concurrent_runs: Option<u32>,
    max_live_chats: Option<u32>,
    handles: &Handles,
) -> Result<(), ControlError> {
    let out_of_range = |what: &str, max: u32| {
        ControlError::new(
            ErrorKind::Invalid,
            format!("{what} must be from 1 to {max}"),
        )
    };
    if max_concurrent_runs.is_some_and(|n| !(1..=MAX_CONCURRENT_RUNS).contains(&n)) {
        return Err(out_of_range("max concurrent runs", MAX_CONCURRENT_RUNS));
    }
    if max_live_chats.is_some_and(|n| !(1..=MAX_LIVE_CHATS).contains(&n)) {
        return Err(out_of_range("max live chats", MAX_LIVE_CHATS));
    }
    let current = call(handles, SchedulerMsg::Counts).await?.limits;
    let limits = DaemonLimits {
        max_concurrent_runs: max_concurrent_runs.unwrap_or(current.max_concurrent_runs),
        max_live_chats: max_live_chats.unwrap_or(current.max_live_chats),
    };
    handles.shared.store.put_limits(&limits).await?;
    call(handles, |reply| SchedulerMsg::SetLimits(limits, reply)).await
}

/// A run's checks: its group's, then its own (a batch line's).
fn run_checks(
    group: Option<&GroupRecord>,
    spec: &RunSpec,
) -> std::sync::Arc<[protocol::checks::Check]> {
    let mut checks = group.map_or_else(Vec::new, |g| g.checks.clone());
    checks.extend(spec.checks.iter().cloned());
    checks.into()
}

/// The run's budgets and its script, as patched, must make sense.
pub(super) fn check(spec: &RunSpec, agent: &AgentConfig) -> Result<(), ControlError> {
    let invalid = |m| ControlError::new(ErrorKind::Invalid, m);
    // The agent's own are checked too: one stored before this check
    // existed may hold a NaN.
    spec.budgets.validate().map_err(invalid)?;
    crate::daemon::checks::validate(&spec.checks).map_err(invalid)?;
    agent
        .budgets
        .overridden_by(&spec.budgets)
        .validate()
        .map_err(invalid)?;
    if let Some(model) = &spec.model
        && (model.trim().is_empty() || model.len() > 200 || model.chars().any(char::is_control))
    {
        return Err(invalid(format!(
            "{model:?} is not a model name: give one like gpt-4.1-mini"
        )));
    }
    agent
        .script
        .patched(&spec.script)
        .validate()
        .map_err(invalid)
}

/// Where a run comes from: the session and point it goes on from, and
/// for a replay from the tape, the recorded turn it plays.
#[derive(Default)]
pub(super) struct Origin {
    pub(super) parent: Option<(SessionId, u64)>,
    pub(super) tape: Option<Box<Tape>>,
    /// A chat replayed as a run: the turns after the first.
    pub(super) later: Vec<LaterTurn>,
}

/// Records and queues run `id`; in a group, under its batch's slot and
/// with the group's id as its `batch`; a replay with the `parent` it goes
/// on from. The spec's `model` replaces the agent's.
pub(super) async fn queue(
    spec: RunSpec,
    mut agent: AgentConfig,
    batch: Option<(BatchSlot, &GroupRecord)>,
    origin: Origin,
    id: SessionId,
    handles: &Handles,
) -> Result<SessionId, ControlError> {
    let Origin {
        parent,
        tape,
        later,
    } = origin;
    let shared = &handles.shared;
    let now = Timestamp::now();
    if let Some(model) = &spec.model {
        agent.model.clone_from(model);
    }
    let price = shared.price_of(&agent.model).await;
    let mut caps = SessionCaps::new(&agent.name, &agent.daily_caps, now);
    if let Some((_, group)) = batch {
        caps = caps.in_group(group.id, &group.name, &group.caps);
    }
    let record = SessionRecord {
        budgets: agent.budgets.overridden_by(&spec.budgets),
        script: agent.script.patched(&spec.script),
        label: spec.label.clone(),
        prompt: spec.prompt.clone(),
        id,
        batch: batch.map(|(_, group)| group.id),
        parent,
        ..SessionRecord::new(SessionKind::Run, agent, SessionStatus::Queued, now, price)
    };
    let first = Event {
        session: id,
        seq: 1,
        at: now,
        kind: EventKind::RunQueued,
    };
    let queued_at = Instant::now();
    shared
        .store
        .create_session(
            record.clone(),
            Some(RunRecord {
                session: id,
                spec: spec.clone(),
            }),
            Some(first),
        )
        .await?;
    let sequencer = Arc::new(Sequencer::new(id, shared.store.clone(), 2));
    let checks = run_checks(batch.map(|(_, group)| group), &spec);
    let run = QueuedRun {
        record,
        sequencer,
        queued_at,
        approve: spec.approve,
        ask: spec.ask,
        opening: Opening::Run,
        opened: None,
        batch: batch.map(|(slot, _)| slot),
        caps,
        checks,
        tape,
        later,
        on: spec.on,
    };
    if handles
        .scheduler
        .cast(SchedulerMsg::Enqueue(Box::new(run)))
        .is_err()
    {
        return Err(unavailable());
    }
    Ok(id)
}
