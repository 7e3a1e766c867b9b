//! Spend caps in words: the caps a group starts under, as `studio run`
//! says them before it starts and the app's run form shows them.

use protocol::caps::{AgentDayStanding, SpendCaps};

use crate::human::usd;

/// The lines saying which caps a group starts under: each capped agent's
/// standing today, and the group's own caps. None when nothing is capped.
pub fn lines(standings: &[AgentDayStanding], group: &SpendCaps) -> Vec<String> {
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
pub fn standing(s: &AgentDayStanding) -> String {
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
