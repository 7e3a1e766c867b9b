//! Event logs built for a test: a new session's events in order, as the
//! daemon would have recorded them.

use protocol::event::{Decider, Event, EventKind, Usage};
use protocol::{SessionId, Timestamp};

/// A new session's events: seqs from 1, one second apart.
pub fn log(kinds: Vec<EventKind>) -> Vec<Event> {
    let session = SessionId::new();
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, kind)| Event {
            session,
            seq: i as u64 + 1,
            at: Timestamp(i as u64 * 1_000_000),
            kind,
        })
        .collect()
}

/// `llm.request.started` for request `id` (openai, gpt-4.1, no parameters).
pub fn request(id: &str) -> EventKind {
    EventKind::LlmRequestStarted {
        request_id: id.into(),
        provider: "openai".into(),
        model: "gpt-4.1".into(),
        params: "{}".into(),
    }
}

/// A streamed chunk of request `request`.
pub fn chunk(request: &str, text: &str) -> EventKind {
    EventKind::LlmResponseChunk {
        request_id: request.into(),
        text: text.into(),
    }
}

/// A short session with a bit of everything: a user message, one model
/// request streamed in two chunks with its usage and cost, a denied tool
/// call, a chunk of a second request and a failed tool call.
pub fn sample() -> Vec<Event> {
    log(vec![
        EventKind::MessageUser {
            text: "Read the notes".into(),
        },
        EventKind::LlmRequestStarted {
            request_id: "req-1".into(),
            provider: "openai".into(),
            model: "gpt-4o-mini".into(),
            params: "{}".into(),
        },
        chunk("req-1", "Read"),
        chunk("req-1", "ing."),
        EventKind::LlmResponseCompleted {
            request_id: "req-1".into(),
            usage: Usage {
                input_tokens: 100,
                output_tokens: 20,
                cache_read_tokens: 40,
                ..Usage::default()
            },
            finish_reason: "tool_calls".into(),
        },
        EventKind::LlmCost {
            request_id: "req-1".into(),
            model: "gpt-4o-mini".into(),
            usd: Some(0.25),
            pricing_version: 1,
        },
        EventKind::ToolRequested {
            call_id: "c1".into(),
            tool: "fs.read".into(),
            arguments: r#"{"path":"notes.md"}"#.into(),
        },
        EventKind::ToolDenied {
            call_id: "c1".into(),
            by: Decider::RunPolicy,
            reason: "no".into(),
        },
        chunk("req-2", "Sorry"),
        EventKind::ToolError {
            call_id: "c2".into(),
            message: "ENOENT".into(),
        },
    ])
}
