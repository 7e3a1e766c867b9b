//! The fault-free reference: logs normalised so that two runs of the same
//! spec compare equal.
//!
//! What legitimately varies between two runs is dropped or zeroed: every
//! `at` timestamp (only kinds are kept), `session.started.pid`,
//! `run.started.queued_ms`, and `worker.stats` (removed: whether the daemon
//! sampled the worker, and what it read, depends on timing).

use protocol::event::{Event, EventKind};

use crate::track::Track;

/// The kinds of `events`, without what varies from run to run.
pub fn normalise(events: &[Event]) -> Vec<EventKind> {
    events
        .iter()
        .filter_map(|event| match &event.kind {
            EventKind::WorkerStats { .. } => None,
            EventKind::SessionStarted {
                agent,
                provider,
                model,
                ..
            } => Some(EventKind::SessionStarted {
                pid: 0,
                agent: agent.clone(),
                provider: provider.clone(),
                model: model.clone(),
            }),
            EventKind::RunStarted { .. } => Some(EventKind::RunStarted { queued_ms: 0 }),
            other => Some(other.clone()),
        })
        .collect()
}

/// Where `log` first departs from `reference`, for a violation message.
pub fn describe_difference(log: &[EventKind], reference: &[EventKind]) -> String {
    let same = log
        .iter()
        .zip(reference)
        .take_while(|(a, b)| a == b)
        .count();
    let show = |kind: Option<&EventKind>| {
        kind.map_or("(nothing)".to_owned(), |k| {
            let text = format!("{k:?}");
            if text.len() > 160 {
                let cut = (0..=160)
                    .rev()
                    .find(|i| text.is_char_boundary(*i))
                    .unwrap_or(0);
                format!("{}...", &text[..cut])
            } else {
                text
            }
        })
    };
    format!(
        "{} of {} events agree; then the run has {} where the reference has {}",
        same,
        reference.len(),
        show(log.get(same)),
        show(reference.get(same))
    )
}

/// Untouched: identical to the reference; touched: a prefix of it.
pub fn compare(track: &Track, events: &[Event], reference: &[EventKind]) -> Result<(), String> {
    let log = normalise(events);
    let untouched = track.plan.fault.is_none() || !track.action_landed();
    let interrupted = matches!(
        events.last().map(|e| &e.kind),
        Some(EventKind::SessionInterrupted)
    );
    if untouched && !interrupted {
        if log == reference {
            return Ok(());
        }
        return Err(format!(
            "differs from the fault-free reference: {}",
            describe_difference(&log, reference)
        ));
    }
    let body = &log[..log.len().saturating_sub(1)];
    if reference.starts_with(body) {
        Ok(())
    } else {
        Err(format!(
            "before its terminal event it is not a prefix of the fault-free reference: {}",
            describe_difference(body, reference)
        ))
    }
}
