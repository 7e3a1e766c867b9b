//! Spend cap flags (an agent's `--daily-*`, a group's `--group-*`), and the
//! caps a group starts under, said before it starts.

use clap::Args;
use protocol::caps::{AgentDayStanding, SpendCaps};
use protocol::control::{ControlRequest, ControlResponse};
use studio_client::Client;
use studio_client::human::usd;

use super::CliError;

/// A cost budget: a finite number of dollars above zero (`NaN` would turn
/// the budget off).
pub(crate) fn positive_dollars(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(usd) if usd.is_finite() && usd > 0.0 => Ok(usd),
        _ => Err(format!("{text:?} is not a number of dollars above 0")),
    }
}

/// An agent's daily caps: what all its sessions of one UTC day may spend.
#[derive(Args, Debug, Default, Clone)]
pub(crate) struct DailyCapArgs {
    /// Daily cap: US dollars over all the agent's sessions of a UTC day.
    #[arg(long, value_name = "USD", value_parser = positive_dollars)]
    pub(crate) daily_usd: Option<f64>,
    /// Daily cap: tokens over all the agent's sessions of a UTC day.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) daily_tokens: Option<u64>,
    /// Daily cap: sessions (runs and chats) the agent starts in a UTC day.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) daily_runs: Option<u32>,
}

impl DailyCapArgs {
    /// The caps given, each `None` left as `current` has it.
    pub(crate) fn over(&self, current: &SpendCaps) -> SpendCaps {
        SpendCaps {
            max_cost_usd: self.daily_usd.or(current.max_cost_usd),
            max_tokens: self.daily_tokens.or(current.max_tokens),
            max_runs: self.daily_runs.or(current.max_runs),
        }
    }
}

/// A group's caps: what all its runs may spend together.
#[derive(Args, Debug, Default, Clone)]
pub(crate) struct GroupCapArgs {
    /// Group cap: US dollars over all the group's runs (past it, live
    /// runs are cancelled and queued ones do not start).
    #[arg(long, value_name = "USD", value_parser = positive_dollars)]
    pub(crate) group_usd: Option<f64>,
    /// Group cap: tokens over all the group's runs.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) group_tokens: Option<u64>,
    /// Group cap: most runs the group may hold (a bigger one is refused).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) group_runs: Option<u32>,
}

impl GroupCapArgs {
    /// The caps given.
    pub(crate) fn caps(&self) -> SpendCaps {
        SpendCaps {
            max_cost_usd: self.group_usd,
            max_tokens: self.group_tokens,
            max_runs: self.group_runs,
        }
    }

    /// Whether any is given.
    pub(crate) fn any(&self) -> bool {
        !self.caps().is_empty()
    }
}

/// Each agent's daily caps and what its sessions of today spent.
pub(crate) async fn today(
    client: &Client,
    agents: Vec<String>,
) -> Result<Vec<AgentDayStanding>, CliError> {
    match client.request(ControlRequest::CapsToday { agents }).await? {
        ControlResponse::CapsToday(standings) => Ok(standings),
        other => Err(CliError::msg(format!("unexpected answer: {other:?}"))),
    }
}

/// The lines saying which caps a group starts under: each capped agent's
/// standing today, and the group's own caps. None when nothing is capped.
pub(crate) fn lines(standings: &[AgentDayStanding], group: &SpendCaps) -> Vec<String> {
    let mut lines: Vec<String> = standings
        .iter()
        .filter(|s| !s.caps.is_empty())
        .map(standing)
        .collect();
    if !group.is_empty() {
        lines.push(format!("group cap: {}", group.summary()));
    }
    lines
}

/// `agent a cap today: $0.4200 of $5.0000, 1200 of 100000 tokens, 3 of 50 runs`.
pub(crate) fn standing(s: &AgentDayStanding) -> String {
    let mut parts = Vec::new();
    if let Some(max) = s.caps.max_cost_usd {
        parts.push(format!("{} of {}", usd(s.spent.cost_usd), usd(max)));
    }
    if let Some(max) = s.caps.max_tokens {
        parts.push(format!("{} of {max} tokens", s.spent.tokens));
    }
    if let Some(max) = s.caps.max_runs {
        parts.push(format!("{} of {max} runs", s.spent.runs));
    }
    format!("agent {} cap today: {}", s.agent, parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::caps::Spent;

    #[test]
    fn only_capped_agents_and_a_capped_group_are_said() {
        let capped = AgentDayStanding {
            agent: "a".into(),
            day: "2026-12-04".into(),
            caps: SpendCaps {
                max_cost_usd: Some(5.0),
                max_runs: Some(50),
                ..SpendCaps::default()
            },
            spent: Spent {
                cost_usd: 0.42,
                tokens: 10,
                runs: 3,
            },
        };
        let free = AgentDayStanding {
            agent: "b".into(),
            caps: SpendCaps::default(),
            ..capped.clone()
        };
        let group = SpendCaps {
            max_tokens: Some(1000),
            ..SpendCaps::default()
        };
        assert_eq!(
            lines(&[capped, free.clone()], &group),
            vec![
                "agent a cap today: $0.4200 of $5.0000, 3 of 50 runs".to_owned(),
                "group cap: 1000 tokens".to_owned(),
            ]
        );
        assert!(lines(&[free], &SpendCaps::default()).is_empty());
    }
}
