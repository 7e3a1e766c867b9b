//! A recorded turn that a replay plays back (`studio replay --tape`):
//! each model response and each tool result as the original recorded
//! them, served instead of calling the provider or running the tool, as
//! long as the replay asks what the original asked.
//!
//! The daemon builds a [`Tape`] from the original's events; the worker
//! plays it and records `replay.diverged` where the replay asks something
//! else (another system prompt, message, model or parameters; a call
//! decided otherwise) or where the recording ends, then goes on live or
//! stops ([`AfterTape`]).

use serde::{Deserialize, Serialize};

use crate::event::EventKind;
use crate::message::{ChatMessage, ToolCall};

/// Most bytes of text a tape carries (it travels in one frame with the
/// conversation before the turn); a longer recording is cut and the
/// replay says so where it ends.
pub const MAX_TAPE_BYTES: usize = 6 * 1024 * 1024;

/// What a replay from the tape does past a divergence or the end of the
/// recording.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AfterTape {
    /// Goes on live: the provider is called, tools run.
    #[default]
    Live,
    /// Stops there: the session completes.
    Stop,
}

/// One recorded turn, from its user message to its end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tape {
    /// What the first request of the turn was built from.
    pub first: FirstRequest,
    /// The turn's model responses and tool results, in order.
    pub steps: Vec<TapeStep>,
    /// The recording holds the turn to its end; `false` when it stops
    /// short (a crash or kill mid-response, a turn that never ended, a
    /// tape cut at [`MAX_TAPE_BYTES`]), and `why_short` says why.
    pub whole: bool,
    /// Why the recording stops short.
    pub why_short: String,
    /// Past a divergence or the end.
    pub then: AfterTape,
}

/// What the original's first request of the turn was built from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FirstRequest {
    /// The system prompt.
    pub system: String,
    /// The conversation before the turn, as [`digest`] sums it up.
    pub history: u64,
    /// The turn's user message.
    pub input: String,
}

/// One recorded step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TapeStep {
    /// A model response.
    Model(Box<TapeResponse>),
    /// A tool call's decision and result.
    Tool(Box<TapeResult>),
}

/// A model response as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TapeResponse {
    /// `gen_ai.provider.name` of the request.
    pub provider: String,
    /// Its model.
    pub model: String,
    /// Its parameters, as `llm.request.started` recorded them.
    pub params: String,
    /// The events of the request, in order, `llm.request.started` first:
    /// chunks, errors, the completion, the assistant message.
    pub events: Vec<EventKind>,
    /// The answer's text.
    pub text: String,
    /// The calls it asked for.
    pub tool_calls: Vec<ToolCall>,
}

/// A tool call as recorded: whether it ran, what it recorded, what the
/// model was told.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TapeResult {
    /// The call.
    pub call_id: String,
    /// It was approved (and so ran).
    pub approved: bool,
    /// Its events after the decision: `tool.started` and its outcome.
    pub events: Vec<EventKind>,
    /// What the model was told of it.
    pub told: String,
}

/// A conversation summed up as a number, the same in the daemon and the
/// worker: 64-bit FNV-1a over its encoding on the wire.
pub fn digest(messages: &[ChatMessage]) -> u64 {
    let bytes =
        bincode::serde::encode_to_vec(messages, bincode::config::standard()).unwrap_or_default();
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Role;

    #[test]
    fn a_conversation_digest_changes_with_any_word() {
        let said = |text: &str| vec![ChatMessage::text(Role::User, text)];
        assert_eq!(digest(&said("hello")), digest(&said("hello")));
        assert_ne!(digest(&said("hello")), digest(&said("hello!")));
        assert_ne!(digest(&said("hello")), digest(&[]));
    }
}
