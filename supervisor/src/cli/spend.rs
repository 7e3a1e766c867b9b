//! `studio cost --by agent|model|day [--since 7d]`: what every session
//! spent, summed (the daemon sums its session records: `Spend`).

use std::time::Duration;

use clap::ValueEnum;
use comfy_table::{Cell, CellAlignment};
use protocol::Timestamp;
use protocol::control::{ControlRequest, ControlResponse, SpendBy};
use serde_json::json;
use studio_client::human::usd;

use super::output::{print_json, table};
use super::{CliError, Ctx};

/// What `--by` sums by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum By {
    /// Each agent.
    Agent,
    /// Each model.
    Model,
    /// Each UTC day a session was created.
    Day,
}

pub(crate) async fn execute(by: By, since: Option<Duration>, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let since =
        since.map(|ago| Timestamp(Timestamp::now().0.saturating_sub(ago.as_micros() as u64)));
    let (by, what) = match by {
        By::Agent => (SpendBy::Agent, "AGENT"),
        By::Model => (SpendBy::Model, "MODEL"),
        By::Day => (SpendBy::Day, "DAY"),
    };
    let rows = match client.request(ControlRequest::Spend { by, since }).await? {
        ControlResponse::Spend(rows) => rows,
        other => return Err(CliError::msg(format!("unexpected answer: {other:?}"))),
    };
    if ctx.json {
        let rows: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({
                    "key": r.key, "sessions": r.sessions, "usage": r.usage,
                    "cost_usd": r.cost_usd, "unpriced_responses": r.unpriced,
                })
            })
            .collect();
        print_json(&json!(rows));
        return Ok(());
    }
    if rows.is_empty() {
        outln!("no sessions yet");
        return Ok(());
    }
    let mut t = table(&[what, "SESSIONS", "TOKENS IN", "TOKENS OUT", "COST"]);
    let right = |text: String| Cell::new(text).set_alignment(CellAlignment::Right);
    for r in &rows {
        let cost = match r.unpriced {
            0 => usd(r.cost_usd),
            n => format!("{} (+{n} unpriced)", usd(r.cost_usd)),
        };
        t.add_row(vec![
            Cell::new(&r.key),
            right(r.sessions.to_string()),
            right(r.usage.input_tokens.to_string()),
            right(r.usage.output_tokens.to_string()),
            right(cost),
        ]);
    }
    let total: f64 = rows.iter().map(|r| r.cost_usd).sum();
    outln!("{t}\ntotal {}", usd(total));
    Ok(())
}
