//! A session as JSON lines (`studio export`, the Inspector's Export): a
//! first line saying what it was set up with, then one line per event,
//! as `studio events --json` prints them. Nothing secret is in either:
//! keys and MCP servers' settings are never part of a session.

use std::time::Duration;

use protocol::Timestamp;
use protocol::control::{SessionSummary, Setup};
use protocol::event::Event;
use serde_json::{Value, json};

/// What the first line's `export` field holds.
pub const FORMAT: &str = "ai-studio.session";

/// The format's version, in the first line's `version`.
pub const FORMAT_VERSION: u32 = 1;

/// The first line: the format, the summary, the agent as it was, a run's
/// spec.
pub fn header(setup: &Setup) -> Value {
    json!({
        "export": FORMAT,
        "version": FORMAT_VERSION,
        "session": session_json(&setup.summary),
        "agent": setup.agent,
        "run": setup.run,
    })
}

/// The whole export as text, one JSON value a line.
pub fn jsonl(setup: &Setup, events: &[Event]) -> String {
    let mut out = header(setup).to_string();
    out.push('\n');
    for event in events {
        out.push_str(&event_json(event).to_string());
        out.push('\n');
    }
    out
}

/// How long a session has run (so far, if live).
pub fn session_duration(s: &SessionSummary) -> Option<Duration> {
    let start = s.started_at?;
    Some(s.ended_at.unwrap_or_else(Timestamp::now).since(start))
}

/// A session summary as JSON.
pub fn session_json(s: &SessionSummary) -> Value {
    json!({
        "id": s.id.to_string(),
        "agent": s.agent,
        "label": s.label,
        "short_id": s.id.short(),
        "title": s.title,
        "status": s.status.as_str(),
        "interactive": s.interactive,
        "pid": s.pid,
        "rss_bytes": s.rss_bytes,
        "events": s.events,
        "created_at": s.created_at.to_string(),
        "started_at": s.started_at.map(|t| t.to_string()),
        "ended_at": s.ended_at.map(|t| t.to_string()),
        "duration_ms": session_duration(s).map(|d| d.as_millis() as u64),
        "parent": s.parent.map(|p| p.to_string()),
        "batch": s.batch.map(|b| b.to_string()),
        "branched_at": s.branched_at,
        "last_activity": s.last_activity.to_string(),
        "usage": s.totals.as_ref().map(|t| &t.usage),
        "cost_usd": s.totals.as_ref().map(|t| t.cost_usd),
        "unpriced_responses": s.totals.as_ref().map(|t| t.unpriced),
        "estimated": s.estimated,
        "waiting": s.waiting.map(|w| serde_json::json!({
            "calls": w.calls,
            "since": w.since.to_string(),
            "decided_by": w.decided_by.to_string(),
        })),
        "damage": s.damage,
    })
}

/// One event as a JSON object: session, seq, at, name, data.
pub fn event_json(event: &Event) -> Value {
    json!({
        "session": event.session.to_string(),
        "seq": event.seq,
        "at": event.at.to_string(),
        "name": event.kind.name(),
        "data": crate::event_fields::fields(&event.kind),
    })
}
