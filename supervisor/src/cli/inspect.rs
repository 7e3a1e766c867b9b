//! `studio inspect ID`: what a session spent and did, from its events
//! (`studio_client::stats`, the same figures as the desktop app's stats bar).

use std::time::Duration;

use clap::Args;
use comfy_table::{Cell, CellAlignment};
use serde_json::json;
use studio_client::human::usd;
use studio_client::stats::{Stats, stats};

use super::output::{duration, print_json, session_json, table};
use super::{CliError, Ctx};

#[derive(Args, Debug)]
pub(crate) struct InspectArgs {
    /// The session (id or unique prefix).
    id: String,
}

pub(crate) async fn execute(args: InspectArgs, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let summary = super::sessions::summary(&client, &args.id).await?;
    let figures = stats(&client.all_events(summary.id, 0).await?);
    if ctx.json {
        print_json(&json!({ "session": session_json(&summary), "stats": figures }));
        return Ok(());
    }
    let mut title = format!(
        "session {}  {}  {}",
        summary.id,
        summary.agent,
        summary.status.as_str()
    );
    if let (Some(parent), Some(at)) = (summary.parent, summary.branched_at) {
        title.push_str(&format!("  (a branch of {parent} at event {at})"));
    }
    outln!("{title}");
    for (what, value) in lines(summary.events, &figures) {
        outln!("{what:<11}{value}");
    }
    if !figures.by_model.is_empty() {
        let mut models = table(&["PROVIDER", "MODEL", "REQUESTS", "IN", "OUT", "COST"]);
        for spend in &figures.by_model {
            let cost = match spend.unpriced {
                0 => usd(spend.cost_usd),
                n => format!("{} ({n} unpriced)", usd(spend.cost_usd)),
            };
            models.add_row(vec![
                Cell::new(&spend.provider),
                Cell::new(&spend.model),
                Cell::new(spend.requests).set_alignment(CellAlignment::Right),
                Cell::new(spend.input_tokens).set_alignment(CellAlignment::Right),
                Cell::new(spend.output_tokens).set_alignment(CellAlignment::Right),
                Cell::new(cost).set_alignment(CellAlignment::Right),
            ]);
        }
        outln!("\n{models}");
    }
    Ok(())
}

/// The figures as (label, value) lines.
fn lines(events: u64, figures: &Stats) -> Vec<(&'static str, String)> {
    let time = |micros: u64| duration(Duration::from_micros(micros));
    vec![
        (
            "events",
            format!(
                "{events} over {} ({} in models, {} in tools)",
                time(figures.span_micros),
                time(figures.llm_micros),
                time(figures.tool_micros)
            ),
        ),
        (
            "tokens",
            format!(
                "{} in ({} cached), {} out",
                figures.input_tokens, figures.cached_tokens, figures.output_tokens
            ),
        ),
        ("cost", usd(figures.cost_usd)),
        ("requests", figures.requests.to_string()),
        (
            "tool calls",
            format!(
                "{}: {} approved, {} denied",
                figures.tool_calls, figures.approved, figures.denied
            ),
        ),
        ("errors", figures.errors.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let text: Vec<String> = lines(40, &figures)
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
