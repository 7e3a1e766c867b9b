//! What each fault implies for a session's terminal event, and for the
//! events before it.

use protocol::Fault;
use protocol::Timestamp;
use protocol::event::{BudgetKind, Event, EventKind, StopReason};

use crate::plan::FaultKind;
use crate::track::Track;

/// Chunk events in `events`.
fn chunks(events: &[Event]) -> u64 {
    events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::LlmResponseChunk { .. }))
        .count() as u64
}

/// Whether the worker finished its turn (`message.assistant` is recorded).
fn turn_done(events: &[Event]) -> bool {
    events
        .iter()
        .any(|e| matches!(e.kind, EventKind::MessageAssistant { .. }))
}

/// A `budget.exceeded` for memory is recorded, over its limit.
fn memory_breach(events: &[Event]) -> Result<(), String> {
    let breach = events.iter().find_map(|e| match e.kind {
        EventKind::BudgetExceeded {
            budget: BudgetKind::Memory,
            limit,
            observed,
        } => Some((limit, observed)),
        _ => None,
    });
    match breach {
        Some((limit, observed)) if observed > limit => Ok(()),
        Some((limit, observed)) => Err(format!(
            "budget.exceeded says {observed} MiB is over the limit {limit}"
        )),
        None => Err("no budget.exceeded (memory) recorded".to_owned()),
    }
}

/// Checks the terminal event against the fault aimed at the session.
pub fn terminal(
    track: &Track,
    events: &[Event],
    last: &Event,
    killed_at: Option<Timestamp>,
) -> Result<(), String> {
    if let Some(at) = killed_at
        && last.at >= at
    {
        return match last.kind {
            EventKind::SessionInterrupted => Ok(()),
            _ => Err(format!(
                "was live when the daemon was killed, but ended with {}",
                last.kind.name()
            )),
        };
    }
    let plan = &track.plan;
    let after = u64::from(plan.spec.script.fault_after_chunks.unwrap_or(0));
    let exact_chunks = |events: &[Event]| -> Result<(), String> {
        let got = chunks(events);
        if got == after {
            Ok(())
        } else {
            Err(format!(
                "{got} chunks recorded, but the worker sent {after} before its fault"
            ))
        }
    };
    let done = turn_done(events);
    let kind = &last.kind;
    let fault = if plan.reference.is_some() && !track.action_landed() {
        None // a harness fault that never landed: untouched
    } else {
        plan.fault
    };
    let completed_ok = done && matches!(kind, EventKind::SessionCompleted);
    let crashed_with = |code: Option<i32>, signal: Option<i32>| match kind {
        EventKind::SessionCrashed { exit, .. } => {
            (code.is_none() || exit.code == code) && (signal.is_none() || exit.signal == signal)
        }
        _ => false,
    };
    let expect = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(format!("expected {what}, got {kind:?}"))
        }
    };
    match fault {
        None | Some(FaultKind::DiskFull) => expect(
            matches!(kind, EventKind::SessionCompleted),
            "session.completed",
        ),
        Some(FaultKind::Panic) => {
            expect(crashed_with(Some(101), None), "session.crashed (code 101)")?;
            exact_chunks(events)
        }
        Some(FaultKind::Abort) => {
            expect(crashed_with(None, Some(6)), "session.crashed (signal 6)")?;
            exact_chunks(events)
        }
        Some(FaultKind::Exit) => {
            let code = match plan.spec.script.fault {
                Some(Fault::Exit { code }) => code & 0xff,
                _ => 1,
            };
            expect(
                crashed_with(Some(code), None),
                &format!("session.crashed (code {code})"),
            )?;
            exact_chunks(events)
        }
        Some(FaultKind::Garbage) => {
            let ok = matches!(kind, EventKind::SessionCrashed { detail, .. } if detail.contains("malformed frame"));
            expect(ok, "session.crashed naming a malformed frame")?;
            exact_chunks(events)
        }
        Some(FaultKind::Oversized) => {
            let ok = matches!(kind, EventKind::SessionCrashed { detail, .. } if detail.contains("exceeds the limit"));
            expect(ok, "session.crashed naming the frame size limit")?;
            exact_chunks(events)
        }
        Some(FaultKind::Flood) => {
            expect(
                matches!(kind, EventKind::SessionCompleted),
                "session.completed",
            )?;
            let flooded = match plan.spec.script.fault {
                Some(Fault::Flood { events }) => events,
                _ => 0,
            };
            let expected = u64::from(plan.spec.script.chunks.unwrap_or(0)) + flooded;
            let got = chunks(events);
            if got == expected {
                Ok(())
            } else {
                Err(format!(
                    "{got} chunks recorded, expected {expected} (with the flood)"
                ))
            }
        }
        Some(FaultKind::MemoryBudget | FaultKind::ChildMemory) => {
            memory_breach(events)?;
            expect(
                matches!(
                    kind,
                    EventKind::SessionKilled {
                        reason: StopReason::Budget
                    }
                ),
                "session.killed {reason: budget}",
            )
        }
        Some(FaultKind::HangCancel) => {
            expect(
                matches!(
                    kind,
                    EventKind::SessionCancelled {
                        reason: StopReason::User,
                        forced: true
                    }
                ),
                "session.cancelled {forced: true}",
            )?;
            exact_chunks(events)
        }
        Some(FaultKind::SpinKill) => {
            expect(
                matches!(
                    kind,
                    EventKind::SessionKilled {
                        reason: StopReason::User
                    }
                ),
                "session.killed {reason: user}",
            )?;
            exact_chunks(events)
        }
        // Struck at runs of `round::slurm`, which checks them.
        Some(FaultKind::SlurmCancel | FaultKind::SlurmWorkerKill) => {
            Err("a Slurm fault on a tracked run".to_owned())
        }
        Some(FaultKind::SigKill) => expect(
            crashed_with(None, Some(9)) || completed_ok,
            "session.crashed (signal 9)",
        ),
        Some(FaultKind::StopKill) => expect(
            matches!(
                kind,
                EventKind::SessionKilled {
                    reason: StopReason::User
                }
            ) || completed_ok,
            "session.killed {reason: user}",
        ),
        Some(FaultKind::StopCancel) => expect(
            matches!(
                kind,
                EventKind::SessionCancelled {
                    reason: StopReason::User,
                    forced: true
                }
            ) || completed_ok,
            "session.cancelled {forced: true}",
        ),
        Some(FaultKind::CancelFlood) => expect(
            matches!(
                kind,
                EventKind::SessionCancelled {
                    reason: StopReason::User,
                    ..
                }
            ) || completed_ok,
            "session.cancelled {reason: user}",
        ),
        Some(FaultKind::Escape) => expect(
            matches!(
                kind,
                EventKind::SessionKilled {
                    reason: StopReason::User
                } | EventKind::SessionCancelled {
                    reason: StopReason::User,
                    ..
                }
            ),
            "session.killed or session.cancelled {reason: user}",
        ),
        Some(FaultKind::ForkBomb) => expect(
            matches!(
                kind,
                EventKind::SessionKilled {
                    reason: StopReason::User
                }
            ),
            "session.killed {reason: user}",
        ),
        Some(
            FaultKind::StopDaemonKill
            | FaultKind::HangDaemonKill
            | FaultKind::DaemonKill
            | FaultKind::ControlFrame
            | FaultKind::WorkerFrame
            | FaultKind::ConnectionFlood
            | FaultKind::GcKill
            | FaultKind::ReceiverRefuses
            | FaultKind::WorktreeKill
            | FaultKind::SlurmDaemonKill,
        ) => expect(
            matches!(kind, EventKind::SessionInterrupted),
            "session.interrupted (it cannot end before the daemon kill)",
        ),
    }
}
