//! The Inspector's waterfall: each model request, tool call and wait for
//! a person as a bar on the session's time axis, so what overlapped and
//! where the time went shows at a glance. [`spans`] is plain and tested;
//! [`Waterfall`] draws them.

use std::collections::HashMap;

use dioxus::prelude::*;
use protocol::Timestamp;
use protocol::event::{Event, EventKind};

use crate::format;
use crate::inspect::{Group, group_of};

/// Most bars drawn: the latest ones (the list says how many are left out).
pub const MAX_BARS: usize = 400;

/// What a bar stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanKind {
    /// A model request, first event to last (retries included).
    Request,
    /// A tool call, asked to done.
    Call,
    /// A call parked for a person, until answered or timed out.
    Wait,
}

impl SpanKind {
    fn class(self) -> &'static str {
        match self {
            SpanKind::Request => "bar k-llm",
            SpanKind::Call => "bar k-tool",
            SpanKind::Wait => "bar k-approval",
        }
    }
}

/// One bar: what, its first event's index, and when (micros from the
/// session's first event); `open` while it has not ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    /// What it stands for.
    pub kind: SpanKind,
    /// Its name: the model, the tool, or whose approval.
    pub label: String,
    /// Index of its first event (selected on a click).
    pub first: usize,
    /// Start, in microseconds after the first event.
    pub start: u64,
    /// End, likewise (`now` for one still open).
    pub end: u64,
    /// Not ended yet.
    pub open: bool,
}

/// The bars of `events`, in the order they began; one not ended runs to
/// `now` (for a live session) or to the last event.
pub fn spans(events: &[Event], now: Option<Timestamp>) -> Vec<Span> {
    let Some(first) = events.first() else {
        return Vec::new();
    };
    let origin = first.at.0;
    let last = events.last().map_or(origin, |e| e.at.0);
    let until = now.map_or(last, |now| now.0.max(last));
    let mut out: Vec<Span> = Vec::new();
    // Open spans by their group id and kind, as indices into `out` (the
    // ids borrowed from the log: nothing is allocated per event).
    let mut open: HashMap<(&str, u8), usize> = HashMap::new();
    for (index, event) in events.iter().enumerate() {
        let at = event.at.0.saturating_sub(origin);
        let Some(group) = group_of(&event.kind) else {
            continue;
        };
        let (id, kind) = match group {
            Group::Request(id) => (id, SpanKind::Request),
            Group::Call(id) => (id, SpanKind::Call),
        };
        let mut begin = |kind: SpanKind, label: String, open: &mut HashMap<_, _>| {
            open.insert((id, kind as u8), out.len());
            out.push(Span {
                kind,
                label,
                first: index,
                start: at,
                end: until.saturating_sub(origin),
                open: true,
            });
        };
        match &event.kind {
            EventKind::LlmRequestStarted { model, .. } if !open.contains_key(&(id, kind as u8)) => {
                begin(SpanKind::Request, model.clone(), &mut open);
            }
            EventKind::ToolRequested { tool, .. } => begin(SpanKind::Call, tool.clone(), &mut open),
            EventKind::ToolApprovalPending { approval, .. } => {
                begin(SpanKind::Wait, format!("a person (#{approval})"), &mut open);
            }
            _ => {}
        }
        let ends_wait = matches!(
            event.kind,
            EventKind::ToolApproved { .. } | EventKind::ToolDenied { .. }
        );
        let ends_group = matches!(
            event.kind,
            EventKind::LlmResponseCompleted { .. }
                | EventKind::LlmError {
                    will_retry: false,
                    ..
                }
                | EventKind::ToolCompleted { .. }
                | EventKind::ToolError { .. }
                | EventKind::ToolDenied { .. }
        );
        let mut close = |kind: SpanKind| {
            if let Some(at_index) = open.remove(&(id, kind as u8))
                && let Some(span) = out.get_mut(at_index)
            {
                span.end = at;
                span.open = false;
            }
        };
        if ends_wait {
            close(SpanKind::Wait);
        }
        if ends_group {
            close(kind);
        }
    }
    out
}

/// The waterfall of the inspected session; a click on a bar selects its
/// first event.
#[component]
pub fn Waterfall(spans: Vec<Span>, on_select: EventHandler<usize>) -> Element {
    if spans.is_empty() {
        return rsx! {};
    }
    let total = spans.iter().map(|s| s.end).max().unwrap_or(0).max(1);
    let left_out = spans.len().saturating_sub(MAX_BARS);
    let shown = &spans[left_out..];
    rsx! {
        details { class: "waterfall", open: true,
            summary { "Waterfall: {format::count(spans.len(), \"span\", \"spans\")} over {format::duration(total)}" }
            if left_out > 0 {
                p { class: "muted", "The first {left_out} are left out; the latest {MAX_BARS} are drawn." }
            }
            div { class: "bars",
                for span in shown.iter().cloned() {
                    div { key: "{span.first}-{span.kind as u8}", class: "lane",
                        onclick: move |_| on_select.call(span.first),
                        span { class: "what", title: "{span.label}", "{span.label}" }
                        span { class: "track",
                            span {
                                class: if span.open { "{span.kind.class()} open" } else { "{span.kind.class()}" },
                                style: "left: {percent(span.start, total)}%; width: {percent(span.end - span.start, total).max(0.3)}%",
                                title: "+{format::duration(span.start)} for {format::duration(span.end - span.start)}",
                            }
                        }
                        span { class: "len", {format::duration(span.end - span.start)} }
                    }
                }
            }
        }
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    (part as f64 * 100.0 / whole as f64).clamp(0.0, 100.0)
}

#[cfg(test)]
mod tests {
    use protocol::event::Decider;
    use test_support::events::{chunk, log};

    use super::*;

    #[test]
    fn requests_calls_and_waits_become_bars_and_an_open_one_runs_to_now() {
        let events = log(vec![
            EventKind::LlmRequestStarted {
                request_id: "q1".into(),
                provider: "openai".into(),
                model: "gpt-4o".into(),
                params: "{}".into(),
            },
            chunk("q1", "hi"),
            EventKind::LlmResponseCompleted {
                request_id: "q1".into(),
                usage: Default::default(),
                finish_reason: "tool_calls".into(),
            },
            EventKind::ToolRequested {
                call_id: "c1".into(),
                tool: "shell".into(),
                arguments: "{}".into(),
            },
            EventKind::ToolApprovalPending {
                call_id: "c1".into(),
                approval: 3,
                expires_at: Timestamp(0),
            },
            EventKind::ToolApproved {
                call_id: "c1".into(),
                by: Decider::User,
            },
            EventKind::ToolCompleted {
                call_id: "c1".into(),
                output: "ok".into(),
                truncated: false,
            },
            EventKind::ToolRequested {
                call_id: "c2".into(),
                tool: "fs.read".into(),
                arguments: "{}".into(),
            },
        ]);
        let s = 1_000_000;
        let drawn = spans(&events, Some(Timestamp(10 * s)));
        let summary: Vec<(SpanKind, String, u64, u64, bool)> = drawn
            .iter()
            .map(|b| (b.kind, b.label.clone(), b.start / s, b.end / s, b.open))
            .collect();
        assert_eq!(
            summary,
            [
                (SpanKind::Request, "gpt-4o".into(), 0, 2, false),
                (SpanKind::Call, "shell".into(), 3, 6, false),
                (SpanKind::Wait, "a person (#3)".into(), 4, 5, false),
                (SpanKind::Call, "fs.read".into(), 7, 10, true),
            ]
        );
        // An ended session's open bar stops at its last event.
        assert_eq!(spans(&events, None)[3].end / s, 7);
    }
}
