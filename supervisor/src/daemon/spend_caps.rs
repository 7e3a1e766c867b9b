//! Spend caps over many sessions: an agent's day and a group
//! ([`protocol::caps::SpendCaps`]), counted in memory by the [`Ledger`].
//!
//! The ledger holds a running [`Spent`] per scope: an agent's UTC day
//! (every session of the agent created that day, as `studio cost --by day`
//! counts it) and a group (its runs). A scope is seeded from the store the
//! first time a session held to its caps is admitted, then every session
//! in it adds its runs and spend as they happen, so checking a cap never
//! reads the store. A session is refused at admission when its scope
//! would pass a cap ([`Ledger::admit`]); a live one that crosses a cap
//! hears it from [`Ledger::add_spend`] or, when another session crossed
//! it, from [`Ledger::over`] on its next tick.
//!
//! Seeding races with sessions that are not held to any cap (their agent
//! had none): one response of such a session may be counted twice, which
//! errs towards refusing.

use std::collections::HashMap;
use std::sync::Mutex;

use protocol::caps::{CapScope, SpendCaps, Spent, refusal};
use protocol::event::BudgetKind;
use protocol::{SessionId, Timestamp};

use crate::store::{Store, StoreError};

/// Microseconds in a day.
const DAY_MICROS: u64 = 86_400 * 1_000_000;

/// The UTC day `at` falls on, counted from the Unix epoch.
pub(crate) fn day_of(at: Timestamp) -> u64 {
    at.0 / DAY_MICROS
}

/// The first moment of day `day`.
pub(crate) fn day_start(day: u64) -> Timestamp {
    Timestamp(day.saturating_mul(DAY_MICROS))
}

/// What a cap is counted over.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Scope {
    AgentDay { agent: String, day: u64 },
    Group(SessionId),
}

/// The caps one session is held to, and where its spend counts.
#[derive(Clone, Debug, Default)]
pub(crate) struct SessionCaps {
    /// Its agent's name.
    agent: String,
    /// The UTC day it was created.
    day: u64,
    /// Its agent's daily caps, as they were when it was created.
    daily: SpendCaps,
    /// Its group, the group's name, and the group's caps.
    group: Option<(SessionId, String, SpendCaps)>,
}

impl SessionCaps {
    /// A session of `agent` (with its `daily` caps) created `at`.
    pub(crate) fn new(agent: &str, daily: &SpendCaps, at: Timestamp) -> SessionCaps {
        SessionCaps {
            agent: agent.to_owned(),
            day: day_of(at),
            daily: daily.clone(),
            group: None,
        }
    }

    /// The same, as a run of group `id` called `name` with `caps`.
    pub(crate) fn in_group(mut self, id: SessionId, name: &str, caps: &SpendCaps) -> SessionCaps {
        self.group = Some((id, name.to_owned(), caps.clone()));
        self
    }

    /// Whether any cap holds the session.
    pub(crate) fn any(&self) -> bool {
        !self.daily.is_empty() || self.group.as_ref().is_some_and(|(_, _, c)| !c.is_empty())
    }

    fn agent_day(&self) -> Scope {
        Scope::AgentDay {
            agent: self.agent.clone(),
            day: self.day,
        }
    }
}

/// A cap crossed: which, its limit and what was spent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Crossing {
    pub(crate) budget: BudgetKind,
    pub(crate) limit: f64,
    pub(crate) observed: f64,
}

impl Crossing {
    /// In words: `the agent's daily cap of $1.00 is spent ($1.2000)`.
    pub(crate) fn describe(&self) -> String {
        let (whose, dollars) = match self.budget {
            BudgetKind::DailyCost => ("the agent's daily", true),
            BudgetKind::GroupCost => ("the group's", true),
            BudgetKind::GroupTokens => ("the group's", false),
            _ => ("the agent's daily", false),
        };
        if dollars {
            format!(
                "{whose} cap of ${:.2} is spent (${:.4})",
                self.limit, self.observed
            )
        } else {
            format!(
                "{whose} cap of {} tokens is used ({})",
                self.limit, self.observed
            )
        }
    }
}

/// Sessions to admit at once: per agent, how many and under which caps,
/// and the group they start (with its caps), if any.
pub(crate) struct Admission<'a> {
    /// `(agent, its daily caps, runs of it)`.
    pub(crate) agents: Vec<(&'a str, &'a SpendCaps, u32)>,
    /// `(group id, its name, its caps)`.
    pub(crate) group: Option<(SessionId, &'a str, &'a SpendCaps)>,
    /// When they are created.
    pub(crate) at: Timestamp,
}

/// Running totals per scope (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    spent: Mutex<HashMap<Scope, Spent>>,
}

/// Why an admission was refused: a cap, or the store could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refused {
    #[error("{0}")]
    OverCap(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Ledger {
    fn spent(&self) -> std::sync::MutexGuard<'_, HashMap<Scope, Spent>> {
        self.spent.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Seeds agent `agent`'s day `day` from the store, unless it is counted
    /// already.
    async fn seed(&self, store: &Store, agent: &str, day: u64) -> Result<(), StoreError> {
        let scope = Scope::AgentDay {
            agent: agent.to_owned(),
            day,
        };
        if self.spent().contains_key(&scope) {
            return Ok(());
        }
        let seed = store
            .agent_spent(agent.to_owned(), day_start(day), day_start(day + 1))
            .await?;
        self.spent().entry(scope).or_insert(seed);
        Ok(())
    }

    /// What agent `agent`'s sessions created on `day` spent: from the
    /// ledger, seeded from the store when it is not counted yet.
    pub(crate) async fn agent_day(
        &self,
        store: &Store,
        agent: &str,
        day: u64,
    ) -> Result<Spent, StoreError> {
        self.seed(store, agent, day).await?;
        let scope = Scope::AgentDay {
            agent: agent.to_owned(),
            day,
        };
        Ok(self.spent().get(&scope).copied().unwrap_or_default())
    }

    /// Admits the sessions of `admission` and counts them, or refuses them
    /// all, saying which cap they would pass. A group is counted from here
    /// on (it is new).
    pub(crate) async fn admit(
        &self,
        store: &Store,
        admission: &Admission<'_>,
    ) -> Result<(), Refused> {
        let day = day_of(admission.at);
        for (agent, daily, _) in &admission.agents {
            if !daily.is_empty() {
                self.seed(store, agent, day).await?;
            }
        }
        let mut spent = self.spent();
        for (agent, daily, runs) in &admission.agents {
            let scope = Scope::AgentDay {
                agent: (*agent).to_owned(),
                day,
            };
            let so_far = spent.get(&scope).copied().unwrap_or_default();
            if let Some(why) = refusal(CapScope::AgentDay, agent, daily, &so_far, *runs) {
                return Err(Refused::OverCap(why));
            }
        }
        let total: u32 = admission.agents.iter().map(|(_, _, runs)| runs).sum();
        if let Some((_, name, caps)) = admission.group
            && let Some(why) = refusal(CapScope::Group, name, caps, &Spent::default(), total)
        {
            return Err(Refused::OverCap(why));
        }
        for (agent, _, runs) in &admission.agents {
            let scope = Scope::AgentDay {
                agent: (*agent).to_owned(),
                day,
            };
            if let Some(so_far) = spent.get_mut(&scope) {
                so_far.runs = so_far.runs.saturating_add(*runs);
            }
        }
        // Only a capped group is counted: nothing is checked against
        // the others.
        if let Some((id, _, caps)) = admission.group
            && !caps.is_empty()
        {
            spent.insert(
                Scope::Group(id),
                Spent {
                    runs: total,
                    ..Spent::default()
                },
            );
        }
        Ok(())
    }

    /// Adds a response's dollars and tokens to the session's scopes and
    /// says which cap, if any, is now passed.
    pub(crate) fn add_spend(&self, caps: &SessionCaps, usd: f64, tokens: u64) -> Option<Crossing> {
        let mut spent = self.spent();
        let mut scopes = vec![caps.agent_day()];
        if let Some((id, _, _)) = &caps.group {
            scopes.push(Scope::Group(*id));
        }
        for scope in scopes {
            if let Some(so_far) = spent.get_mut(&scope) {
                so_far.cost_usd += usd;
                so_far.tokens = so_far.tokens.saturating_add(tokens);
            }
        }
        crossing(&spent, caps)
    }

    /// Which cap of the session is passed now, if any.
    pub(crate) fn over(&self, caps: &SessionCaps) -> Option<Crossing> {
        if !caps.any() {
            return None;
        }
        crossing(&self.spent(), caps)
    }

    /// Why a run that waited in the queue may not start now: its group's
    /// or its agent's day's dollars or tokens are spent.
    pub(crate) fn refusal_to_start(&self, caps: &SessionCaps) -> Option<(String, Crossing)> {
        let crossing = self.over(caps)?;
        let spent = self.spent();
        let why = match (&caps.group, crossing.budget) {
            (Some((id, name, group)), BudgetKind::GroupCost | BudgetKind::GroupTokens) => {
                let so_far = spent.get(&Scope::Group(*id)).copied().unwrap_or_default();
                refusal(CapScope::Group, name, group, &so_far, 0)
            }
            _ => {
                let so_far = spent.get(&caps.agent_day()).copied().unwrap_or_default();
                refusal(CapScope::AgentDay, &caps.agent, &caps.daily, &so_far, 0)
            }
        };
        Some((
            why.unwrap_or_else(|| "a spend cap is reached".to_owned()),
            crossing,
        ))
    }
}

/// The first cap of `caps` that `spent` is at or past (dollars and tokens;
/// runs are counted at admission).
fn crossing(spent: &HashMap<Scope, Spent>, caps: &SessionCaps) -> Option<Crossing> {
    let mut held = vec![(
        caps.agent_day(),
        &caps.daily,
        BudgetKind::DailyCost,
        BudgetKind::DailyTokens,
    )];
    if let Some((id, _, group)) = &caps.group {
        held.push((
            Scope::Group(*id),
            group,
            BudgetKind::GroupCost,
            BudgetKind::GroupTokens,
        ));
    }
    held.into_iter().find_map(|(scope, cap, cost, tokens)| {
        let so_far = spent.get(&scope)?;
        if let Some(limit) = cap.max_cost_usd
            && so_far.cost_usd >= limit
        {
            return Some(Crossing {
                budget: cost,
                limit,
                observed: so_far.cost_usd,
            });
        }
        let limit = cap.max_tokens?;
        (so_far.tokens >= limit).then_some(Crossing {
            budget: tokens,
            limit: limit as f64,
            observed: so_far.tokens as f64,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger_with(scope: Scope, spent: Spent) -> Ledger {
        let ledger = Ledger::default();
        ledger.spent().insert(scope, spent);
        ledger
    }

    #[test]
    fn spend_past_a_daily_cap_is_a_crossing_for_every_session_of_the_day() {
        let at = Timestamp(1_780_000_000_000_000);
        let caps = SpendCaps {
            max_cost_usd: Some(1.0),
            ..SpendCaps::default()
        };
        let ledger = ledger_with(
            Scope::AgentDay {
                agent: "a".into(),
                day: day_of(at),
            },
            Spent::default(),
        );
        let one = SessionCaps::new("a", &caps, at);
        let other = SessionCaps::new("a", &caps, at);
        assert_eq!(ledger.add_spend(&one, 0.6, 10), None);
        let crossed = ledger.add_spend(&one, 0.6, 10).expect("crossed");
        assert_eq!(crossed.budget, BudgetKind::DailyCost);
        assert!((crossed.observed - 1.2).abs() < 1e-9);
        assert_eq!(
            ledger.over(&other).map(|c| c.budget),
            Some(BudgetKind::DailyCost)
        );
        let tomorrow = SessionCaps::new("a", &caps, Timestamp(at.0 + DAY_MICROS));
        assert_eq!(
            ledger.over(&tomorrow),
            None,
            "a new day starts from nothing"
        );
    }

    #[test]
    fn a_group_cap_counts_only_its_runs() {
        let at = Timestamp(1_780_000_000_000_000);
        let group = SessionId::from_u128(9);
        let caps = SpendCaps {
            max_tokens: Some(100),
            ..SpendCaps::default()
        };
        let ledger = ledger_with(Scope::Group(group), Spent::default());
        let run = SessionCaps::new("a", &SpendCaps::default(), at).in_group(group, "g", &caps);
        let alone = SessionCaps::new("a", &SpendCaps::default(), at);
        assert_eq!(ledger.add_spend(&alone, 1.0, 500), None);
        assert_eq!(ledger.add_spend(&run, 0.0, 60), None);
        let crossed = ledger.add_spend(&run, 0.0, 60).expect("crossed");
        assert_eq!(crossed.budget, BudgetKind::GroupTokens);
        let (why, _) = ledger.refusal_to_start(&run).expect("refused");
        assert!(
            why.contains("group g's cap of 100 tokens is used (120"),
            "{why}"
        );
    }
}
