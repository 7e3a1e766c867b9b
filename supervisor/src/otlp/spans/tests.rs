//! The spans of recorded runs, chats and crashes: nesting, attributes, ids.

use std::fmt::Write as _;

use protocol::event::{Decider, Event, EventKind, Usage};
use protocol::{SessionId, Timestamp};

use super::*;

fn session() -> SessionId {
    SessionId::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0001)
}

/// `kinds` as the events of [`session`], a millisecond apart.
fn events(kinds: Vec<EventKind>) -> Vec<Event> {
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, kind)| Event {
            session: session(),
            seq: i as u64 + 1,
            at: Timestamp(1_000_000 + i as u64 * 1000),
            kind,
        })
        .collect()
}

fn usage(input: u64, output: u64, cached: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: cached,
        cache_creation_tokens: 0,
        reasoning_tokens: 1,
    }
}

fn request(id: &str) -> EventKind {
    EventKind::LlmRequestStarted {
        request_id: id.into(),
        provider: "gemini".into(),
        model: "gemini-2.5-flash".into(),
        params: String::new(),
    }
}

fn completed(id: &str, usage: Usage, reason: &str) -> EventKind {
    EventKind::LlmResponseCompleted {
        request_id: id.into(),
        usage,
        finish_reason: reason.into(),
    }
}

fn facts() -> SessionFacts {
    SessionFacts {
        agent: "coder".into(),
        group: None,
        label: Some("attempt 2".into()),
    }
}

/// Each span on a line, its calls indented, attributes after it.
fn render(turns: &[Turn]) -> String {
    let mut out = String::new();
    for turn in turns {
        for span in &turn.spans {
            let indent = if span.parent.is_some() { "  " } else { "" };
            let micros = span.end.0 - span.start.0;
            let _ = writeln!(out, "{indent}{} ({micros} µs)", span.name);
            for (key, value) in &span.attributes {
                let _ = writeln!(out, "{indent}  {key} = {value:?}");
            }
            if let Some(error) = &span.error {
                let _ = writeln!(out, "{indent}  ! {error}");
            }
        }
    }
    out
}

#[test]
fn a_run_is_one_turn_with_its_model_and_tool_calls_under_it() {
    let run = events(vec![
        EventKind::MessageUser {
            text: "fix it".into(),
        },
        request("r1"),
        completed("r1", usage(100, 20, 60), "tool_calls"),
        EventKind::LlmCost {
            request_id: "r1".into(),
            model: "gemini-2.5-flash".into(),
            usd: Some(0.25),
            pricing_version: 1,
        },
        EventKind::ToolRequested {
            call_id: "c1".into(),
            tool: "shell".into(),
            arguments: "{}".into(),
        },
        EventKind::ToolApproved {
            call_id: "c1".into(),
            by: Decider::RunPolicy,
        },
        EventKind::ToolCompleted {
            call_id: "c1".into(),
            output: "ok".into(),
            truncated: false,
        },
        EventKind::ToolRequested {
            call_id: "c2".into(),
            tool: "files.write".into(),
            arguments: "{}".into(),
        },
        EventKind::ToolDenied {
            call_id: "c2".into(),
            by: Decider::User,
            reason: "no".into(),
        },
        request("r2"),
        completed("r2", usage(150, 5, 100), "stop"),
        EventKind::LlmCost {
            request_id: "r2".into(),
            model: "gemini-2.5-flash".into(),
            usd: Some(0.5),
            pricing_version: 1,
        },
        EventKind::MessageAssistant {
            text: "done".into(),
        },
        EventKind::SessionCompleted,
    ]);
    let turns = turns(session(), &facts(), &run);
    assert_eq!(turns.len(), 1);
    let spans = &turns[0].spans;
    let root = &spans[0];
    assert_eq!(root.role, SpanRole::Agent);
    assert_eq!(root.trace_id, session().as_u128());
    assert!(
        spans[1..]
            .iter()
            .all(|span| span.parent == Some(root.span_id))
    );
    let mut ids: Vec<u64> = spans.iter().map(|span| span.span_id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 5, "every span has its own id");
    insta::assert_snapshot!(render(&turns));
}

#[test]
fn a_chat_has_a_turn_per_message_and_a_running_turn_is_left_out() {
    let chat = events(vec![
        EventKind::MessageUser { text: "one".into() },
        request("r1"),
        completed("r1", usage(10, 1, 0), "stop"),
        EventKind::SessionIdle { error: None },
        EventKind::MessageUser { text: "two".into() },
        request("r2"),
        completed("r2", usage(20, 2, 0), "stop"),
        EventKind::SessionIdle { error: None },
        EventKind::MessageUser {
            text: "three".into(),
        },
        request("r3"),
    ]);
    let turns = turns(session(), &facts(), &chat);
    assert_eq!(turns.len(), 2);
    assert_eq!(turns[1].index, 1);
    assert_eq!(turns[1].ended_at, chat[7].at);
    let traces: Vec<u128> = turns
        .iter()
        .flat_map(|turn| &turn.spans)
        .map(|span| span.trace_id)
        .collect();
    assert!(traces.iter().all(|trace| *trace == session().as_u128()));
    let input = |turn: &Turn| {
        turn.spans[0]
            .attributes
            .iter()
            .find(|(key, _)| *key == "gen_ai.usage.input_tokens")
            .map(|(_, value)| value.clone())
    };
    assert_eq!(input(&turns[0]), Some(Value::Int(10)));
    assert_eq!(input(&turns[1]), Some(Value::Int(20)));
}

#[test]
fn a_crash_fails_the_turn_and_the_call_it_cut_short() {
    let crashed = events(vec![
        EventKind::MessageUser { text: "go".into() },
        EventKind::ToolRequested {
            call_id: "c1".into(),
            tool: "shell".into(),
            arguments: "{}".into(),
        },
        EventKind::SessionFailed {
            error: "worker lost".into(),
        },
    ]);
    let turns = turns(session(), &facts(), &crashed);
    let spans = &turns[0].spans;
    assert_eq!(spans[0].error.as_deref(), Some("worker lost"));
    assert_eq!(spans[1].end, crashed[2].at);
    assert_eq!(
        spans[1].error.as_deref(),
        Some("the turn ended before the call did")
    );
}

#[test]
fn span_ids_are_stable_and_differ_across_sessions() {
    let other = SessionId::from_u128(session().as_u128() + 1);
    assert_eq!(span_id(session(), 4), span_id(session(), 4));
    assert_ne!(span_id(session(), 4), span_id(other, 4));
    assert_ne!(span_id(session(), 4), span_id(session(), 5));
}
