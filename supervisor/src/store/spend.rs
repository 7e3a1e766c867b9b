//! What sessions spent, summed by agent, model or day, from the session
//! records (each keeps its totals as its events are committed).

use std::collections::HashMap;

use protocol::Timestamp;
use protocol::control::{SpendBy, SpendRow};
use redb::{ReadTransaction, ReadableTable};

use super::StoreError;
use super::query::session_at;
use super::schema::SESSIONS;

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

/// The UTC day of `at`: `2026-12-04`.
pub(crate) fn day(at: Timestamp) -> String {
    at.to_string().chars().take(10).collect()
}
