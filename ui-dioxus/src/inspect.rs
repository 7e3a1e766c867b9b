//! What the Inspector computes from a session's events: the rows of its
//! timeline (filtered, searched, streamed chunks grouped) and a request's
//! streamed text assembled (its stats bar is `studio_client::stats`). Plain
//! functions, tested without a window.

use std::collections::HashSet;

use protocol::Timestamp;
use protocol::event::{Event, EventKind};

/// Quiet this long, a live session is marked as maybe stuck (a model's
/// first token or a long tool rarely takes longer).
pub const STALL_AFTER_MICROS: u64 = 2 * 60 * 1_000_000;

/// How long a live session whose last event came at `last` has been quiet
/// at `now`, once that is [`STALL_AFTER_MICROS`] or more.
pub fn stalled_for(last: Timestamp, now: Timestamp) -> Option<u64> {
    let quiet = now.0.saturating_sub(last.0);
    (quiet >= STALL_AFTER_MICROS).then_some(quiet)
}

/// How long a group row took, first event to last; `None` for one event.
pub fn took(events: &[Event], row: Row) -> Option<u64> {
    (row.last > row.first).then(|| {
        let first = events.get(row.first).map_or(0, |e| e.at.0);
        events
            .get(row.last)
            .map_or(0, |e| e.at.0)
            .saturating_sub(first)
    })
}

/// The filter chips, and the colour family of each event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `message.*`.
    Messages,
    /// `llm.*`.
    Llm,
    /// `tool.*` but approvals, and `mcp.*`.
    Tools,
    /// `tool.approval.*`, `tool.approved`, `tool.denied`.
    Approvals,
    /// Failures of any kind.
    Errors,
    /// Lifecycle, runs, budgets, stats (no chip).
    Lifecycle,
}

impl Kind {
    /// The chips, in order.
    pub const CHIPS: [Kind; 5] = [
        Kind::Messages,
        Kind::Llm,
        Kind::Tools,
        Kind::Approvals,
        Kind::Errors,
    ];

    /// The chip's label.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Messages => "Messages",
            Kind::Llm => "LLM",
            Kind::Tools => "Tools",
            Kind::Approvals => "Approvals",
            Kind::Errors => "Errors",
            Kind::Lifecycle => "Lifecycle",
        }
    }

    /// The CSS class of rows of this kind.
    pub fn class(self) -> &'static str {
        match self {
            Kind::Messages => "k-message",
            Kind::Llm => "k-llm",
            Kind::Tools => "k-tool",
            Kind::Approvals => "k-approval",
            Kind::Errors => "k-error",
            Kind::Lifecycle => "k-life",
        }
    }

    /// The kind of an event.
    pub fn of(kind: &EventKind) -> Kind {
        match kind {
            kind if kind.is_error() => Kind::Errors,
            EventKind::MessageUser { .. } | EventKind::MessageAssistant { .. } => Kind::Messages,
            EventKind::ToolApprovalRequested { .. }
            | EventKind::ToolApprovalPending { .. }
            | EventKind::ToolApproved { .. }
            | EventKind::ToolDenied { .. } => Kind::Approvals,
            other if other.name().starts_with("llm.") => Kind::Llm,
            other if other.name().starts_with("tool.") || other.name().starts_with("mcp.") => {
                Kind::Tools
            }
            _ => Kind::Lifecycle,
        }
    }
}

/// One timeline row: an event, or a group: the events of one model request
/// (started, chunks, completed, cost, errors) or of one tool call
/// (requested, approval, started, completed or failed) in a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    /// Index of its (first) event.
    pub first: usize,
    /// Index of its last event.
    pub last: usize,
    /// Events it stands for (more than one for a collapsed group).
    pub count: usize,
}

/// The timeline: events whose kind is among `chips` (all when empty) and
/// whose name or text contains `search` (any case), with the events of one
/// request or one tool call collapsed into one row, but for the groups
/// whose first event is in `expanded`.
pub fn rows(events: &[Event], chips: &[Kind], search: &str, expanded: &HashSet<usize>) -> Vec<Row> {
    let search = search.trim().to_lowercase();
    let mut rows: Vec<Row> = Vec::new();
    // The group being added to, and whether it is shown expanded.
    let mut current: Option<(Group<'_>, bool)> = None;
    for (index, event) in events.iter().enumerate() {
        if !chips.is_empty() && !chips.contains(&Kind::of(&event.kind)) {
            continue;
        }
        if !search.is_empty() && !matches_search(&event.kind, &search) {
            continue;
        }
        let group = group_of(&event.kind);
        let single = Row {
            first: index,
            last: index,
            count: 1,
        };
        match (&current, group) {
            (Some((open, expanded)), Some(this)) if *open == this => {
                if *expanded {
                    rows.push(single);
                } else if let Some(last) = rows.last_mut() {
                    last.last = index;
                    last.count += 1;
                }
            }
            _ => {
                rows.push(single);
                current = group.map(|g| (g, expanded.contains(&index)));
            }
        }
    }
    rows
}

/// What groups events: one model request, or one tool call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Group<'a> {
    Request(&'a str),
    Call(&'a str),
}

/// The request or tool call an event belongs to, if any.
pub(crate) fn group_of(kind: &EventKind) -> Option<Group<'_>> {
    match kind {
        EventKind::LlmRequestStarted { request_id, .. }
        | EventKind::LlmResponseChunk { request_id, .. }
        | EventKind::LlmResponseCompleted { request_id, .. }
        | EventKind::LlmError { request_id, .. }
        | EventKind::LlmCost { request_id, .. } => Some(Group::Request(request_id)),
        EventKind::ToolRequested { call_id, .. }
        | EventKind::ToolApprovalRequested { call_id }
        | EventKind::ToolApprovalPending { call_id, .. }
        | EventKind::ToolApproved { call_id, .. }
        | EventKind::ToolDenied { call_id, .. }
        | EventKind::ToolStarted { call_id, .. }
        | EventKind::ToolStartedLegacy { call_id }
        | EventKind::ToolCompleted { call_id, .. }
        | EventKind::ToolError { call_id, .. } => Some(Group::Call(call_id)),
        _ => None,
    }
}

fn matches_search(kind: &EventKind, lowercase: &str) -> bool {
    kind.name().contains(lowercase) || format!("{kind:?}").to_lowercase().contains(lowercase)
}

/// The text a request streamed, chunks in order.
pub fn streamed_text(events: &[Event], request: &str) -> String {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::LlmResponseChunk { request_id, text } if request_id == request => {
                Some(text.as_str())
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {

    use super::*;
    use test_support::events::sample;

    #[test]
    fn a_request_and_a_tool_call_are_one_row_each_until_expanded() {
        let events = sample();
        let shape = |expanded: &[usize]| -> Vec<(usize, usize)> {
            rows(&events, &[], "", &expanded.iter().copied().collect())
                .iter()
                .map(|r| (r.first, r.count))
                .collect()
        };
        assert_eq!(shape(&[]), [(0, 1), (1, 5), (6, 2), (8, 1), (9, 1)]);
        assert_eq!(
            shape(&[1]),
            [
                (0, 1),
                (1, 1),
                (2, 1),
                (3, 1),
                (4, 1),
                (5, 1),
                (6, 2),
                (8, 1),
                (9, 1)
            ]
        );
        assert_eq!(rows(&events, &[], "", &HashSet::new())[1].last, 5);
    }

    #[test]
    fn chips_and_search_filter_before_grouping() {
        let events = sample();
        let firsts = |chips: &[Kind], search: &str| -> Vec<usize> {
            rows(&events, chips, search, &HashSet::new())
                .iter()
                .map(|r| r.first)
                .collect()
        };
        assert_eq!(firsts(&[Kind::Approvals], ""), [7]);
        assert_eq!(firsts(&[Kind::Errors], ""), [9]);
        assert_eq!(firsts(&[Kind::Messages, Kind::Tools], ""), [0, 6]);
        assert_eq!(firsts(&[], "NOTES"), [0, 6], "search ignores case");
        assert_eq!(firsts(&[Kind::Tools], "notes"), [6]);
        assert_eq!(firsts(&[Kind::Llm], ""), [1, 8]);
    }

    #[test]
    fn a_request_s_streamed_text_is_its_chunks_in_order() {
        assert_eq!(streamed_text(&sample(), "req-1"), "Reading.");
    }

    #[test]
    fn a_group_row_says_how_long_it_took_and_a_quiet_session_is_stalled() {
        let events = test_support::events::log(vec![
            EventKind::RunQueued,
            EventKind::RunStarted { queued_ms: 1 },
            EventKind::SessionCompleted,
        ]);
        let one = Row {
            first: 1,
            last: 1,
            count: 1,
        };
        assert_eq!(took(&events, one), None);
        let group = Row {
            first: 0,
            last: 2,
            count: 3,
        };
        assert_eq!(took(&events, group), Some(2_000_000));
        let minute = 60 * 1_000_000;
        assert_eq!(stalled_for(Timestamp(0), Timestamp(minute)), None);
        assert_eq!(
            stalled_for(Timestamp(0), Timestamp(11 * minute)),
            Some(11 * minute)
        );
    }
}
