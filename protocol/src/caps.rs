//! Spend caps: limits over many sessions at once, enforced by the daemon.
//!
//! A [`crate::agent::Budgets`] limits one session; a [`SpendCaps`] limits
//! what all the sessions of an agent started on one UTC day spend
//! ([`crate::agent::AgentConfig::daily_caps`]), or all the runs of one
//! group (`RunBatch::caps`). A session over a cap is refused before it
//! starts; a live one that crosses it records `budget.exceeded` and is
//! cancelled.

use serde::{Deserialize, Serialize};

/// Limits on what many sessions spend together; each `None` is no limit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendCaps {
    /// US dollars, summed over the sessions' priced responses.
    #[serde(default)]
    pub max_cost_usd: Option<f64>,
    /// Input plus output tokens, summed over the sessions.
    #[serde(default)]
    pub max_tokens: Option<u64>,
    /// Sessions started (runs, and chats for an agent's day).
    #[serde(default)]
    pub max_runs: Option<u32>,
}

impl SpendCaps {
    /// Whether no cap is set.
    pub fn is_empty(&self) -> bool {
        self.max_cost_usd.is_none() && self.max_tokens.is_none() && self.max_runs.is_none()
    }

    /// Every cap set must be above zero, and the dollars a finite number
    /// (`NaN` would compare false against any spend and turn the cap off).
    pub fn validate(&self) -> Result<(), String> {
        if self.max_tokens == Some(0) || self.max_runs == Some(0) {
            return Err("a token or run cap must be at least 1 (leave it out for none)".to_owned());
        }
        match self.max_cost_usd {
            Some(usd) if !(usd.is_finite() && usd > 0.0) => Err(format!(
                "a cost cap must be a number of dollars above 0, not {usd}"
            )),
            _ => Ok(()),
        }
    }

    /// The caps in a few words: `$5.00, 200000 tokens, 50 runs`, or `-`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(usd) = self.max_cost_usd {
            parts.push(format!("${usd:.2}"));
        }
        if let Some(tokens) = self.max_tokens {
            parts.push(format!("{tokens} tokens"));
        }
        if let Some(runs) = self.max_runs {
            parts.push(format!("{runs} runs"));
        }
        if parts.is_empty() {
            "-".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// What sessions held to one cap have spent so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Spent {
    /// US dollars over their priced responses.
    pub cost_usd: f64,
    /// Input plus output tokens.
    pub tokens: u64,
    /// Sessions started.
    pub runs: u32,
}

/// Which cap: an agent's day, or a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CapScope {
    /// Every session of one agent created on one UTC day.
    AgentDay,
    /// Every run of one group.
    Group,
}

/// An agent's caps for today and what its sessions of today spent, for
/// showing before a group starts (`ControlRequest::CapsToday`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentDayStanding {
    /// The agent's name.
    pub agent: String,
    /// The UTC day: `2026-12-04`.
    pub day: String,
    /// Its daily caps (empty: none).
    pub caps: SpendCaps,
    /// What its sessions created that day spent so far.
    pub spent: Spent,
}

impl AgentDayStanding {
    /// Whether `runs` more sessions may start: `None`, or why not.
    pub fn refusal(&self, runs: u32) -> Option<String> {
        refusal(
            CapScope::AgentDay,
            &self.agent,
            &self.caps,
            &self.spent,
            runs,
        )
    }
}

/// Why `runs` more sessions may not start under `caps`, given what was
/// `spent`: `None` when they may. `who` names the agent or the group.
pub fn refusal(
    scope: CapScope,
    who: &str,
    caps: &SpendCaps,
    spent: &Spent,
    runs: u32,
) -> Option<String> {
    let whose = match scope {
        CapScope::AgentDay => format!("agent {who}'s daily cap"),
        CapScope::Group => format!("group {who}'s cap"),
    };
    let so_far = match scope {
        CapScope::AgentDay => "today",
        CapScope::Group => "in the group",
    };
    if let Some(max) = caps.max_runs
        && u64::from(spent.runs) + u64::from(runs) > u64::from(max)
    {
        return Some(format!(
            "{runs} more run(s) would pass {whose} of {max} runs ({} started {so_far})",
            spent.runs
        ));
    }
    if let Some(max) = caps.max_cost_usd
        && spent.cost_usd >= max
    {
        return Some(format!(
            "{whose} of ${max:.2} is spent (${:.4} {so_far})",
            spent.cost_usd
        ));
    }
    if let Some(max) = caps.max_tokens
        && spent.tokens >= max
    {
        return Some(format!(
            "{whose} of {max} tokens is used ({} {so_far})",
            spent.tokens
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_must_be_above_zero_and_finite() {
        assert!(SpendCaps::default().validate().is_ok());
        for usd in [f64::NAN, f64::INFINITY, -1.0, 0.0] {
            let caps = SpendCaps {
                max_cost_usd: Some(usd),
                ..SpendCaps::default()
            };
            assert!(caps.validate().is_err(), "{usd}");
        }
        let runs = SpendCaps {
            max_runs: Some(0),
            ..SpendCaps::default()
        };
        assert!(runs.validate().is_err());
    }

    #[test]
    fn a_cap_refuses_runs_past_it_and_spend_at_it() {
        let caps = SpendCaps {
            max_cost_usd: Some(1.0),
            max_tokens: Some(100),
            max_runs: Some(3),
        };
        let mut spent = Spent {
            cost_usd: 0.5,
            tokens: 10,
            runs: 1,
        };
        assert_eq!(refusal(CapScope::Group, "g", &caps, &spent, 2), None);
        let runs = refusal(CapScope::Group, "g", &caps, &spent, 3).unwrap_or_default();
        assert!(
            runs.contains("of 3 runs (1 started in the group)"),
            "{runs}"
        );
        spent.cost_usd = 1.0;
        let usd = refusal(CapScope::AgentDay, "a", &caps, &spent, 1).unwrap_or_default();
        assert!(
            usd.contains("agent a's daily cap of $1.00 is spent"),
            "{usd}"
        );
        spent.cost_usd = 0.0;
        spent.tokens = 100;
        let tokens = refusal(CapScope::AgentDay, "a", &caps, &spent, 1).unwrap_or_default();
        assert!(tokens.contains("100 tokens is used"), "{tokens}");
    }
}
