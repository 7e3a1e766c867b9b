//! Estimating what a session spent before (or without) the provider's word.
//!
//! Usage arrives with `llm.response.completed`. Until then, and forever for
//! a response cut short by a kill, cancel or crash, the tokens are estimated
//! from text: the context is what the provider last reported (its input
//! and output) plus every byte added since (user messages, streamed output,
//! tool results), and the output is what was streamed, at
//! [`BYTES_PER_TOKEN`]. A response cut short before any text came is not
//! counted: nothing shows the provider billed it.

use protocol::control::{Estimated, ModelPrice};
use protocol::event::{EventKind, Usage};
use serde::{Deserialize, Serialize};

use crate::pricing;

/// Bytes of text taken as one token: the usual rule of thumb for English
/// and code with the providers' tokenizers.
pub(crate) const BYTES_PER_TOKEN: u64 = 4;

/// A session's running estimate, kept in its record and updated with each
/// event in the same transaction.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Estimate {
    /// The model's price when the session was created (`None`: unpriced).
    pub(crate) price: Option<ModelPrice>,
    /// Context tokens as the provider last reported them.
    reported_context: u64,
    /// Bytes added to the context since that report.
    bytes_since: u64,
    /// The response streaming now.
    in_flight: Option<InFlight>,
    /// Responses cut short, estimated.
    cut_short: Usage,
}

/// A request whose usage has not arrived.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct InFlight {
    request_id: String,
    input_tokens: u64,
    output_bytes: u64,
}

impl InFlight {
    fn usage(&self) -> Usage {
        Usage {
            input_tokens: self.input_tokens,
            output_tokens: self.output_bytes.div_ceil(BYTES_PER_TOKEN),
            ..Usage::default()
        }
    }
}

impl Estimate {
    /// A session whose model costs `price`, whose context starts with a
    /// system prompt of `prompt_bytes`.
    pub(crate) fn new(price: Option<ModelPrice>, prompt_bytes: usize) -> Self {
        Estimate {
            price,
            bytes_since: prompt_bytes as u64,
            ..Estimate::default()
        }
    }

    /// Folds one recorded event in.
    pub(crate) fn apply(&mut self, kind: &EventKind) {
        match kind {
            EventKind::MessageUser { text } => self.grow(text),
            EventKind::ToolCompleted { output: text, .. }
            | EventKind::ToolError { message: text, .. } => self.grow(text),
            EventKind::LlmRequestStarted { request_id, .. } => {
                // A retry goes on with the same request.
                if self
                    .in_flight
                    .as_ref()
                    .is_some_and(|f| f.request_id == *request_id)
                {
                    return;
                }
                self.settle();
                self.in_flight = Some(InFlight {
                    request_id: request_id.clone(),
                    input_tokens: self.reported_context
                        + self.bytes_since.div_ceil(BYTES_PER_TOKEN),
                    output_bytes: 0,
                });
            }
            EventKind::LlmResponseChunk { request_id, text } => {
                if let Some(flight) = &mut self.in_flight
                    && flight.request_id == *request_id
                {
                    flight.output_bytes += text.len() as u64;
                }
                self.grow(text);
            }
            EventKind::LlmResponseCompleted { usage, .. } => {
                self.in_flight = None;
                self.reported_context = usage.input_tokens + usage.output_tokens;
                self.bytes_since = 0;
            }
            EventKind::LlmError {
                will_retry: false, ..
            } => self.settle(),
            other if other.is_terminal() => self.settle(),
            _ => {}
        }
    }

    fn grow(&mut self, text: &str) {
        self.bytes_since += text.len() as u64;
    }

    /// The response in flight will never report usage: keep its estimate
    /// if any text came.
    fn settle(&mut self) {
        if let Some(flight) = self.in_flight.take()
            && flight.output_bytes > 0
        {
            self.cut_short.add(&flight.usage());
        }
    }

    /// What is estimated now: responses cut short and the one in flight.
    pub(crate) fn estimated(&self) -> Estimated {
        let mut usage = self.cut_short;
        if let Some(flight) = &self.in_flight {
            usage.add(&flight.usage());
        }
        Estimated {
            usage,
            cost_usd: self
                .price
                .map_or(0.0, |price| pricing::cost(&usage, &price)),
            unpriced: self.price.is_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(id: &str) -> EventKind {
        EventKind::LlmRequestStarted {
            request_id: id.into(),
            provider: "openai".into(),
            model: "gpt-4o".into(),
            params: String::new(),
        }
    }

    fn chunk(id: &str, text: &str) -> EventKind {
        EventKind::LlmResponseChunk {
            request_id: id.into(),
            text: text.into(),
        }
    }

    const PRICE: ModelPrice = ModelPrice {
        input: 1.0,
        output: 10.0,
        cache_read: 0.0,
        cache_write: 0.0,
        reasoning: 10.0,
    };

    #[test]
    fn a_streaming_response_counts_its_context_and_what_it_streamed() {
        let mut estimate = Estimate::new(Some(PRICE), 40);
        estimate.apply(&EventKind::MessageUser {
            text: "x".repeat(60),
        });
        estimate.apply(&started("r1"));
        estimate.apply(&chunk("r1", "hello "));
        estimate.apply(&chunk("r1", "world, again"));
        let now = estimate.estimated();
        // (40 + 60) / 4 in; 18 bytes out is 5 tokens.
        assert_eq!((now.usage.input_tokens, now.usage.output_tokens), (25, 5));
        assert!(
            (now.cost_usd - (25.0 + 50.0) / 1e6).abs() < 1e-12,
            "{now:?}"
        );
        assert!(!now.unpriced);
    }

    #[test]
    fn reported_usage_replaces_the_estimate_and_becomes_the_next_context() {
        let mut estimate = Estimate::new(None, 400);
        estimate.apply(&started("r1"));
        estimate.apply(&chunk("r1", "abcd"));
        estimate.apply(&EventKind::LlmResponseCompleted {
            request_id: "r1".into(),
            usage: Usage {
                input_tokens: 120,
                output_tokens: 30,
                ..Usage::default()
            },
            finish_reason: "tool_calls".into(),
        });
        assert!(estimate.estimated().is_empty());
        estimate.apply(&EventKind::ToolCompleted {
            call_id: "c".into(),
            output: "y".repeat(80),
            truncated: false,
        });
        estimate.apply(&started("r2"));
        let now = estimate.estimated();
        assert_eq!(now.usage.input_tokens, 150 + 20);
        assert!(now.unpriced);
    }

    #[test]
    fn a_response_cut_short_stays_estimated_unless_nothing_came() {
        let mut estimate = Estimate::new(Some(PRICE), 8);
        estimate.apply(&started("r1"));
        estimate.apply(&chunk("r1", "partial answ"));
        estimate.apply(&EventKind::SessionKilled {
            reason: protocol::event::StopReason::User,
        });
        let after = estimate.estimated();
        assert_eq!(
            (after.usage.input_tokens, after.usage.output_tokens),
            (2, 3)
        );

        let mut silent = Estimate::new(Some(PRICE), 8);
        silent.apply(&started("r1"));
        silent.apply(&EventKind::LlmError {
            request_id: "r1".into(),
            message: "HTTP 500".into(),
            will_retry: false,
        });
        assert!(silent.estimated().is_empty());
    }

    #[test]
    fn a_retry_is_one_response() {
        let mut estimate = Estimate::new(None, 0);
        estimate.apply(&started("r1"));
        estimate.apply(&chunk("r1", "abcdefgh"));
        estimate.apply(&EventKind::LlmError {
            request_id: "r1".into(),
            message: "stream broke".into(),
            will_retry: true,
        });
        estimate.apply(&started("r1"));
        estimate.apply(&chunk("r1", "abcd"));
        assert_eq!(estimate.estimated().usage.output_tokens, 3);
    }
}
