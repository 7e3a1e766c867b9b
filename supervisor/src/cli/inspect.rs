//! `studio inspect ID`: what a session spent and did, from its events
//! (`studio_client::stats`, the same figures as the desktop app's stats bar).

use clap::Args;
use comfy_table::{Cell, CellAlignment};
use serde_json::json;
use studio_client::human::usd;
use studio_client::stats::stats;

use super::output::{print_json, session_json, table};
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
    for (what, value) in figures.lines(summary.events) {
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
