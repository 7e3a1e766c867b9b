//! Groups: `GroupList` (each with its totals), `GroupGet` (a page of the
//! results table) and `GroupPrefer` (the preferred result).

use std::collections::HashMap;

use protocol::control::{
    ANSWER_EXCERPT_CHARS, ControlError, ControlResponse, ErrorKind, GROUP_PAGE_FULL_ANSWERS, Group,
    GroupRun, GroupSummary, MAX_ANSWER_CHARS, MAX_GROUP_PAGE, StatusCount,
};
use protocol::event::Usage;
use protocol::{SessionId, Timestamp};

use super::find_session;
use super::sessions::{live_infos, with_live};
use crate::daemon::root::Handles;
use crate::store::{GroupRead, GroupRecord, SessionLookup, SessionRecord};

pub(super) async fn list(handles: &Handles, limit: u32) -> Result<ControlResponse, ControlError> {
    let groups = handles.shared.store.groups(limit as usize).await?;
    let now = Timestamp::now();
    Ok(ControlResponse::Groups(
        groups
            .iter()
            .map(|g| summary(&g.record, &g.runs, now))
            .collect(),
    ))
}

pub(super) async fn get(
    handles: &Handles,
    id: &str,
    from: u32,
    limit: u32,
    answer_chars: u32,
) -> Result<ControlResponse, ControlError> {
    let answer_chars = answer_chars.min(MAX_ANSWER_CHARS);
    let most = if answer_chars > ANSWER_EXCERPT_CHARS {
        GROUP_PAGE_FULL_ANSWERS
    } else {
        MAX_GROUP_PAGE
    };
    let read = handles
        .shared
        .store
        .group(
            lookup(id)?,
            from as usize,
            limit.min(most) as usize,
            answer_chars as usize,
        )
        .await?;
    let live = live_infos(handles).await;
    let now = Timestamp::now();
    let GroupRead {
        record,
        runs,
        answers,
    } = read;
    let page = runs
        .iter()
        .skip(from as usize)
        .zip(answers)
        .map(|(run, answer)| GroupRun {
            summary: with_live(handles.shared.store.summary(run), &live),
            provider: run.agent.provider.as_str().to_owned(),
            model: run.agent.model.clone(),
            answer: answer.text,
            answer_cut: answer.cut,
            duration_micros: run
                .started_at
                .map(|start| run.ended_at.unwrap_or(now).0.saturating_sub(start.0)),
            checks: answer.checks,
            changes: answer.changes,
        })
        .collect();
    Ok(ControlResponse::Group(Box::new(Group {
        summary: summary(&record, &runs, now),
        from,
        runs: page,
    })))
}

pub(super) async fn prefer(
    handles: &Handles,
    group: &str,
    run: Option<&str>,
) -> Result<ControlResponse, ControlError> {
    let store = &handles.shared.store;
    let read = store.group(lookup(group)?, 0, 0, 0).await?;
    let preferred = match run {
        Some(run) => {
            let run = find_session(store, run).await?;
            if run.batch != Some(read.record.id) {
                return Err(ControlError::new(
                    ErrorKind::Invalid,
                    format!(
                        "run {} is not of group {}",
                        run.id.short(),
                        read.record.id.short()
                    ),
                ));
            }
            Some(run.id)
        }
        None => None,
    };
    store.prefer(read.record.id, preferred).await?;
    let record = GroupRecord {
        preferred,
        ..read.record
    };
    Ok(ControlResponse::Groups(vec![summary(
        &record,
        &read.runs,
        Timestamp::now(),
    )]))
}

fn lookup(id: &str) -> Result<SessionLookup, ControlError> {
    SessionLookup::parse(id).map_err(|m| {
        ControlError::new(
            ErrorKind::Invalid,
            m.replace("is not a session id", "is not a group id"),
        )
    })
}

/// A group's totals over its runs as they are at `now`.
fn summary(record: &GroupRecord, runs: &[SessionRecord], now: Timestamp) -> GroupSummary {
    let mut by_status: Vec<StatusCount> = Vec::new();
    let mut usage = Usage::default();
    let mut cost_usd = 0.0;
    let mut unpriced = 0;
    let mut first_start: Option<Timestamp> = None;
    let mut last_end = Timestamp(0);
    let mut unfinished = false;
    let mut seen: HashMap<protocol::event::SessionStatus, usize> = HashMap::new();
    for run in runs {
        let status = run.shown_status();
        match seen.get(&status) {
            Some(&at) => by_status[at].runs += 1,
            None => {
                seen.insert(status, by_status.len());
                by_status.push(StatusCount { status, runs: 1 });
            }
        }
        if let Some(totals) = &run.totals {
            usage.add(&totals.usage);
            cost_usd += totals.cost_usd;
            unpriced += totals.unpriced;
        }
        if let Some(start) = run.started_at {
            first_start = Some(first_start.map_or(start, |f| f.min(start)));
        }
        match run.ended_at {
            Some(end) if run.status.is_terminal() => last_end = last_end.max(end),
            _ => unfinished = true,
        }
    }
    let wall_micros = first_start.map_or(0, |start| {
        let end = if unfinished { now } else { last_end };
        end.0.saturating_sub(start.0)
    });
    GroupSummary {
        id: record.id,
        name: record.name.clone(),
        created_at: record.created_at,
        runs: u32::try_from(runs.len()).unwrap_or(u32::MAX),
        by_status,
        usage,
        cost_usd,
        unpriced,
        wall_micros,
        preferred: record.preferred,
        caps: record.caps.clone(),
        checks: record.checks.clone(),
    }
}

/// The record of a new group of `runs` runs named `name` (else by its
/// first prompt), its id its first run's.
pub(super) fn new_record(
    id: SessionId,
    name: &str,
    first_prompt: &str,
    runs: usize,
    caps: &protocol::caps::SpendCaps,
    checks: &[protocol::checks::Check],
) -> Result<GroupRecord, ControlError> {
    crate::daemon::checks::validate(checks)
        .map_err(|err| ControlError::new(ErrorKind::Invalid, err))?;
    caps.validate()
        .map_err(|err| ControlError::new(ErrorKind::Invalid, format!("group caps: {err}")))?;
    let name = name.trim();
    if name.chars().count() > protocol::control::MAX_GROUP_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(ControlError::new(
            ErrorKind::Invalid,
            format!(
                "a group name is at most {} characters, on one line",
                protocol::control::MAX_GROUP_NAME_CHARS
            ),
        ));
    }
    let name = if name.is_empty() {
        studio_client::human::first_line(first_prompt, crate::store::TITLE_CHARS)
    } else {
        name.to_owned()
    };
    Ok(GroupRecord {
        id,
        name,
        created_at: Timestamp::now(),
        runs: u32::try_from(runs).unwrap_or(u32::MAX),
        preferred: None,
        caps: caps.clone(),
        checks: checks.to_vec(),
    })
}
