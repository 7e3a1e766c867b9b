//! Spend cap flags (an agent's `--daily-*`, a group's `--group-*`), and
//! asking for the caps a group starts under (said by
//! `studio_client::caps::lines`).

use clap::Args;
use protocol::caps::{AgentDayStanding, SpendCaps};
use protocol::control::{ControlRequest, ControlResponse};
use studio_client::Client;

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
