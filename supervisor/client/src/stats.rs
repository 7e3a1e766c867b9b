//! What a session spent and did, summed over its recorded events: tokens
//! (cached too), cost by provider and model, requests, tool calls and
//! their approvals, errors, and the time spent in all, in models and in
//! tools. One function over the log, shared by the desktop app's stats bar
//! and `studio inspect`.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use protocol::event::{Event, EventKind};

use crate::human::{duration, usd};

/// What a session spent and did, summed over its events: the Inspector's
/// stats bar and `studio inspect`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Input tokens (including cached).
    pub input_tokens: u64,
    /// Output tokens (including reasoning).
    pub output_tokens: u64,
    /// Input tokens read from the cache.
    pub cached_tokens: u64,
    /// Cost recorded, US dollars.
    pub cost_usd: f64,
    /// Requests, tokens and cost per provider and model, in order of first use.
    pub by_model: Vec<ModelSpend>,
    /// Model requests.
    pub requests: u64,
    /// Tool calls asked for.
    pub tool_calls: u64,
    /// Calls approved.
    pub approved: u64,
    /// Calls denied.
    pub denied: u64,
    /// Errors of any kind.
    pub errors: u64,
    /// From the first event to the last, microseconds.
    pub span_micros: u64,
    /// Spent waiting for models: each request from its start to its
    /// completion or last error, microseconds.
    pub llm_micros: u64,
    /// Spent running tools: each call from `tool.started` to its outcome,
    /// microseconds.
    pub tool_micros: u64,
}

/// What one model of one provider was asked and cost.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelSpend {
    /// `gen_ai.provider.name` (`?` when the request was not recorded).
    pub provider: String,
    /// The model.
    pub model: String,
    /// Requests made.
    pub requests: u64,
    /// Input tokens (including cached).
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cost recorded, US dollars.
    pub cost_usd: f64,
    /// Responses with no price.
    pub unpriced: u64,
}

/// The row of `by_model` for this provider and model, added if new.
fn spend_row(by_model: &mut Vec<ModelSpend>, provider: &str, model: &str) -> usize {
    if let Some(row) = by_model
        .iter()
        .position(|m| m.provider == provider && m.model == model)
    {
        return row;
    }
    by_model.push(ModelSpend {
        provider: provider.to_owned(),
        model: model.to_owned(),
        ..ModelSpend::default()
    });
    by_model.len() - 1
}

impl Stats {
    /// The figures as (label, value) lines, as `studio inspect` and a
    /// Markdown transcript show them; `events` is the session's count.
    pub fn lines(&self, events: u64) -> Vec<(&'static str, String)> {
        let time = |micros: u64| duration(Duration::from_micros(micros));
        vec![
            (
                "events",
                format!(
                    "{events} over {} ({} in models, {} in tools)",
                    time(self.span_micros),
                    time(self.llm_micros),
                    time(self.tool_micros)
                ),
            ),
            (
                "tokens",
                format!(
                    "{} in ({} cached), {} out",
                    self.input_tokens, self.cached_tokens, self.output_tokens
                ),
            ),
            ("cost", usd(self.cost_usd)),
            ("requests", self.requests.to_string()),
            (
                "tool calls",
                format!(
                    "{}: {} approved, {} denied",
                    self.tool_calls, self.approved, self.denied
                ),
            ),
            ("errors", self.errors.to_string()),
        ]
    }
}

/// Sums up a session's events.
pub fn stats(events: &[Event]) -> Stats {
    let mut stats = Stats::default();
    // Per request: its row in `by_model` and when it started.
    let mut requests: HashMap<&str, (usize, u64)> = HashMap::new();
    let mut tools_started: HashMap<&str, u64> = HashMap::new();
    for event in events {
        match &event.kind {
            EventKind::LlmRequestStarted {
                request_id,
                provider,
                model,
                ..
            } => {
                stats.requests += 1;
                let row = spend_row(&mut stats.by_model, provider, model);
                stats.by_model[row].requests += 1;
                requests.insert(request_id, (row, event.at.0));
            }
            EventKind::LlmResponseCompleted {
                request_id, usage, ..
            } => {
                stats.input_tokens += usage.input_tokens;
                stats.output_tokens += usage.output_tokens;
                stats.cached_tokens += usage.cache_read_tokens;
                if let Some(&(row, started)) = requests.get(request_id.as_str()) {
                    stats.by_model[row].input_tokens += usage.input_tokens;
                    stats.by_model[row].output_tokens += usage.output_tokens;
                    stats.llm_micros += event.at.0.saturating_sub(started);
                }
            }
            // A judge's one request (`check.judge`), after the run's turn.
            EventKind::CheckJudged {
                provider,
                model,
                usage,
                ..
            } => {
                stats.requests += 1;
                stats.input_tokens += usage.input_tokens;
                stats.output_tokens += usage.output_tokens;
                stats.cached_tokens += usage.cache_read_tokens;
                let row = spend_row(&mut stats.by_model, provider, model);
                stats.by_model[row].requests += 1;
                stats.by_model[row].input_tokens += usage.input_tokens;
                stats.by_model[row].output_tokens += usage.output_tokens;
            }
            EventKind::LlmError {
                request_id,
                will_retry: false,
                ..
            } => {
                if let Some(&(_, started)) = requests.get(request_id.as_str()) {
                    stats.llm_micros += event.at.0.saturating_sub(started);
                }
            }
            EventKind::LlmCost {
                request_id,
                model,
                usd,
                ..
            } => {
                stats.cost_usd += usd.unwrap_or(0.0);
                let row = match requests.get(request_id.as_str()) {
                    Some(&(row, _)) => row,
                    // A judge's: the row its `check.judge` made.
                    None => match stats.by_model.iter().position(|m| m.model == *model) {
                        Some(row) => row,
                        None => spend_row(&mut stats.by_model, "?", model),
                    },
                };
                match usd {
                    Some(usd) => stats.by_model[row].cost_usd += usd,
                    None => stats.by_model[row].unpriced += 1,
                }
            }
            EventKind::ToolStarted { call_id, .. } | EventKind::ToolStartedLegacy { call_id } => {
                tools_started.insert(call_id, event.at.0);
            }
            EventKind::ToolCompleted { call_id, .. } | EventKind::ToolError { call_id, .. } => {
                if let Some(started) = tools_started.remove(call_id.as_str()) {
                    stats.tool_micros += event.at.0.saturating_sub(started);
                }
            }
            EventKind::ToolRequested { .. } => stats.tool_calls += 1,
            EventKind::ToolApproved { .. } => stats.approved += 1,
            EventKind::ToolDenied { .. } => stats.denied += 1,
            _ => {}
        }
        if event.kind.is_error() {
            stats.errors += 1;
        }
    }
    if let (Some(first), Some(last)) = (events.first(), events.last()) {
        stats.span_micros = last.at.0.saturating_sub(first.at.0);
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_support::events::sample;

    #[test]
    fn the_figures_add_up_the_session() {
        let stats = stats(&sample());
        assert_eq!(
            stats,
            Stats {
                input_tokens: 100,
                output_tokens: 20,
                cached_tokens: 40,
                cost_usd: 0.25,
                by_model: vec![ModelSpend {
                    provider: "openai".into(),
                    model: "gpt-4o-mini".into(),
                    requests: 1,
                    input_tokens: 100,
                    output_tokens: 20,
                    cost_usd: 0.25,
                    unpriced: 0,
                }],
                requests: 1,
                tool_calls: 1,
                approved: 0,
                denied: 1,
                errors: 1,
                span_micros: 9_000_000,
                // From the request (second 1) to its completion (second 4).
                llm_micros: 3_000_000,
                tool_micros: 0,
            }
        );
    }

    #[test]
    fn a_judges_tokens_and_cost_count_under_its_own_model() {
        let mut events = sample();
        let at = |n: u64| protocol::Timestamp(20_000_000 + n);
        let judged = protocol::event::EventKind::CheckJudged {
            agent: "critic".into(),
            provider: "anthropic".into(),
            model: "claude-sonnet".into(),
            score: Some(8),
            reason: "8".into(),
            usage: protocol::event::Usage {
                input_tokens: 300,
                output_tokens: 5,
                ..Default::default()
            },
        };
        let cost = protocol::event::EventKind::LlmCost {
            request_id: "judge:critic".into(),
            model: "claude-sonnet".into(),
            usd: Some(0.5),
            pricing_version: 1,
        };
        for (n, kind) in [judged, cost].into_iter().enumerate() {
            events.push(protocol::Event {
                session: events[0].session,
                seq: events.len() as u64 + 1,
                at: at(n as u64),
                kind,
            });
        }
        let stats = stats(&events);
        assert_eq!((stats.input_tokens, stats.requests), (400, 2));
        assert_eq!(stats.cost_usd, 0.75);
        let judge = &stats.by_model[1];
        assert_eq!(
            (judge.provider.as_str(), judge.model.as_str()),
            ("anthropic", "claude-sonnet")
        );
        assert_eq!(
            (judge.requests, judge.input_tokens, judge.cost_usd),
            (1, 300, 0.5)
        );
    }

    #[test]
    fn the_figures_read_as_lines() {
        let figures = Stats {
            input_tokens: 1200,
            output_tokens: 300,
            cached_tokens: 200,
            cost_usd: 0.0125,
            requests: 2,
            tool_calls: 3,
            approved: 2,
            denied: 1,
            errors: 1,
            span_micros: 12_500_000,
            llm_micros: 8_000_000,
            tool_micros: 1_250_000,
            ..Stats::default()
        };
        let text: Vec<String> = figures
            .lines(40)
            .into_iter()
            .map(|(what, value)| format!("{what}: {value}"))
            .collect();
        assert_eq!(
            text,
            [
                "events: 40 over 12.5s (8.0s in models, 1.2s in tools)",
                "tokens: 1200 in (200 cached), 300 out",
                "cost: $0.0125",
                "requests: 2",
                "tool calls: 3: 2 approved, 1 denied",
                "errors: 1",
            ]
        );
    }
}
