//! What sessions spent, summed by agent, model or day, from the session
//! records (each keeps its totals as its events are committed).

use std::collections::HashMap;

use protocol::Timestamp;
use protocol::caps::Spent;
use protocol::control::{SpendBy, SpendRow};
use redb::{ReadTransaction, ReadableTable};

use super::query::session_at;
use super::schema::SESSIONS;
use super::{Store, StoreError};

impl Store {
    /// What sessions created since `since` spent, summed `by` agent,
    /// model or day.
    pub(crate) async fn spend(
        &self,
        by: protocol::control::SpendBy,
        since: Option<Timestamp>,
    ) -> Result<Vec<protocol::control::SpendRow>, StoreError> {
        self.read(move |txn| spend(txn, by, since)).await
    }

    /// What the sessions of `agent` created from `from` up to `to` spent.
    pub(crate) async fn agent_spent(
        &self,
        agent: String,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<protocol::caps::Spent, StoreError> {
        self.read(move |txn| agent_spent(txn, &agent, from, to))
            .await
    }
}

/// Every session created at or after `since`, summed `by` agent, model or
/// day: most spent first, days newest first.
pub(crate) fn spend(
    txn: &ReadTransaction,
    by: SpendBy,
    since: Option<Timestamp>,
) -> Result<Vec<SpendRow>, StoreError> {
    let table = txn.open_table(SESSIONS)?;
    let mut rows: HashMap<String, SpendRow> = HashMap::new();
    for row in table.iter()? {
        let (key, value) = row?;
        // A record that does not decode was reported when the store opened.
        let Ok(record) = session_at(key.value(), value.value()) else {
            continue;
        };
        if since.is_some_and(|since| record.created_at < since) {
            continue;
        }
        let key = match by {
            SpendBy::Agent => record.agent.name.clone(),
            SpendBy::Model => record.agent.model.clone(),
            SpendBy::Day => day(record.created_at),
        };
        let sum = rows.entry(key.clone()).or_insert_with(|| SpendRow {
            key,
            sessions: 0,
            usage: Default::default(),
            cost_usd: 0.0,
            unpriced: 0,
        });
        sum.sessions += 1;
        if let Some(totals) = &record.totals {
            sum.usage.add(&totals.usage);
            sum.cost_usd += totals.cost_usd;
            sum.unpriced += totals.unpriced;
        }
    }
    let mut rows: Vec<SpendRow> = rows.into_values().collect();
    match by {
        SpendBy::Day => rows.sort_by(|a, b| b.key.cmp(&a.key)),
        SpendBy::Agent | SpendBy::Model => rows.sort_by(|a, b| {
            b.cost_usd
                .total_cmp(&a.cost_usd)
                .then_with(|| a.key.cmp(&b.key))
        }),
    }
    Ok(rows)
}

/// What the sessions of `agent` created from `from` up to `to` spent,
/// and how many there are: the seed of a daily cap. Session ids begin
/// with their creation time (UUIDv7), so only that stretch is read.
pub(crate) fn agent_spent(
    txn: &ReadTransaction,
    agent: &str,
    from: Timestamp,
    to: Timestamp,
) -> Result<Spent, StoreError> {
    let table = txn.open_table(SESSIONS)?;
    let mut spent = Spent::default();
    for row in table.range(id_floor(from)..id_floor(to))? {
        let (key, value) = row?;
        let Ok(record) = session_at(key.value(), value.value()) else {
            continue;
        };
        if record.agent.name != agent || record.created_at < from || record.created_at >= to {
            continue;
        }
        spent.runs = spent.runs.saturating_add(1);
        if let Some(totals) = &record.totals {
            spent.cost_usd += totals.cost_usd;
            spent.tokens = spent
                .tokens
                .saturating_add(totals.usage.input_tokens + totals.usage.output_tokens);
        }
    }
    Ok(spent)
}

/// The smallest UUIDv7 made at `at`: its first 48 bits are the Unix time
/// in milliseconds.
fn id_floor(at: Timestamp) -> u128 {
    u128::from(at.0 / 1000) << 80
}

/// The UTC day of `at`: `2026-12-04`.
pub(crate) fn day(at: Timestamp) -> String {
    at.to_string().chars().take(10).collect()
}
