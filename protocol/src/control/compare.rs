//! What `studio compare` answers: two to four sessions side by side, their
//! steps aligned, the first divergence marked, texts diffed word by word,
//! and their figures.
//!
//! The daemon aligns the sessions (it holds the events, so nothing but the
//! rows asked for crosses the socket) and sends a window of the rows: a
//! 100,000-event session is never sent whole.

use serde::{Deserialize, Serialize};

use super::SessionSummary;
use crate::ids::SessionId;

/// Fewest sessions a comparison takes.
pub const MIN_COMPARED: usize = 2;

/// Most sessions a comparison takes.
pub const MAX_COMPARED: usize = 4;

/// Most rows one answer carries.
pub const MAX_COMPARE_ROWS: u32 = 2000;

/// Longest text of a step in an answer, in characters (the figures count
/// all of it).
pub const COMPARE_TEXT_CHARS: usize = 4000;

/// Which rows of the alignment an answer carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RowWindow {
    /// From this row (0 is the first).
    From(u64),
    /// Rows around the first divergence (from the start when there is
    /// none), so the answer opens where the sessions part.
    AroundDivergence,
}

/// The sessions compared and their aligned steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Each session with its figures, in the order asked; the first is the
    /// one the others are measured against (deltas, diffs).
    pub sessions: Vec<Compared>,
    /// The index of the first row where the sessions differ; `None` when
    /// every step is the same in all of them.
    pub first_divergence: Option<u64>,
    /// Rows in the whole alignment.
    pub total_rows: u64,
    /// The index of `rows[0]` in the alignment.
    pub from_row: u64,
    /// A window of the alignment.
    pub rows: Vec<Row>,
    /// The alignment gave up looking for the best match on these long,
    /// very different sessions and paired what was left in order.
    pub approximate: bool,
}

/// One session of a comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Compared {
    /// Its summary (id, agent, title, status, lineage).
    pub summary: SessionSummary,
    /// What it spent and did.
    pub figures: Figures,
    /// How its checks came out (`check.result`), empty when it had none.
    pub checks: Vec<crate::checks::CheckOutcome>,
    /// What it changed in its own workspace (`workspace.changed`), when
    /// it had one.
    pub changes: Option<crate::workspace::Changes>,
}

/// The figures a comparison sets side by side.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Input tokens (including cached).
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens read from the provider's cache.
    pub cached_tokens: u64,
    /// Cost recorded, US dollars.
    pub cost_usd: f64,
    /// From its first event to its last, milliseconds.
    pub wall_ms: u64,
    /// Waiting for models, milliseconds.
    pub model_ms: u64,
    /// Running tools, milliseconds.
    pub tool_ms: u64,
    /// Model requests.
    pub requests: u64,
    /// Tool calls asked for.
    pub tool_calls: u64,
    /// Calls approved (by a rule, a policy or a person).
    pub approved: u64,
    /// Calls denied.
    pub denied: u64,
    /// Error events.
    pub errors: u64,
    /// Characters of its last answer.
    pub answer_chars: u64,
    /// Steps (user messages, model answers, tool calls).
    pub steps: u64,
}

/// One row of the alignment: a cell per session, in the sessions' order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The step each session took here; `None` where a session has no
    /// step to match (it did something the others did not, or ended).
    pub cells: Vec<Option<Step>>,
    /// Every session took this same step.
    pub same: bool,
}

/// What a step is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepKind {
    /// A user message (a run's prompt, a chat message).
    User,
    /// A model's answer: its text, and the calls it asked for.
    Model,
    /// A tool call: its arguments, decision and result.
    Tool,
}

/// One step of one session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The session whose event begins it: this one, or for a step it
    /// inherited as a branch or replay, the one it goes on from.
    pub session: SessionId,
    /// The seq of that event.
    pub seq: u64,
    /// What it is.
    pub kind: StepKind,
    /// The model, or the tool's name; empty for a user message.
    pub name: String,
    /// The message, the answer's text, or the call's arguments (at most
    /// [`COMPARE_TEXT_CHARS`]).
    pub text: String,
    /// A call's decision and result, or an answer's error (at most
    /// [`COMPARE_TEXT_CHARS`]).
    pub outcome: String,
    /// `text` against the first session's cell in this row, word by word;
    /// empty when there is nothing to set it against, or it is the same.
    pub text_diff: Vec<Span>,
    /// `outcome` against the first session's, the same way.
    pub outcome_diff: Vec<Span>,
}

/// A piece of a word diff.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// Whether the words are in both, only the first session's, or only
    /// this one's.
    pub change: Change,
    /// The words, with the spaces between them.
    pub text: String,
}

/// How a span of a word diff differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    /// In both.
    Same,
    /// Only in the first session's text.
    Removed,
    /// Only in this session's.
    Added,
}

impl Figures {
    /// `self` minus `base`, for each figure a delta means something, in
    /// the order a table shows them: name, this value, the delta.
    pub fn deltas(&self, base: &Figures) -> Vec<(&'static str, f64, f64)> {
        let n = |v: u64| v as f64;
        let pairs = [
            ("input tokens", n(self.input_tokens), n(base.input_tokens)),
            (
                "output tokens",
                n(self.output_tokens),
                n(base.output_tokens),
            ),
            (
                "cached tokens",
                n(self.cached_tokens),
                n(base.cached_tokens),
            ),
            ("cost usd", self.cost_usd, base.cost_usd),
            ("wall ms", n(self.wall_ms), n(base.wall_ms)),
            ("model ms", n(self.model_ms), n(base.model_ms)),
            ("tool ms", n(self.tool_ms), n(base.tool_ms)),
            ("requests", n(self.requests), n(base.requests)),
            ("tool calls", n(self.tool_calls), n(base.tool_calls)),
            ("approved", n(self.approved), n(base.approved)),
            ("denied", n(self.denied), n(base.denied)),
            ("errors", n(self.errors), n(base.errors)),
            ("answer chars", n(self.answer_chars), n(base.answer_chars)),
            ("steps", n(self.steps), n(base.steps)),
        ];
        pairs
            .into_iter()
            .map(|(name, value, base)| (name, value, value - base))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_are_this_minus_the_base() {
        let base = Figures {
            output_tokens: 10,
            cost_usd: 0.5,
            ..Figures::default()
        };
        let this = Figures {
            output_tokens: 4,
            cost_usd: 0.75,
            ..Figures::default()
        };
        let deltas = this.deltas(&base);
        let of = |name| {
            deltas
                .iter()
                .find(|(n, ..)| *n == name)
                .map(|(_, v, d)| (*v, *d))
        };
        assert_eq!(of("output tokens"), Some((4.0, -6.0)));
        assert_eq!(of("cost usd"), Some((0.75, 0.25)));
        assert_eq!(of("errors"), Some((0.0, 0.0)));
    }
}
