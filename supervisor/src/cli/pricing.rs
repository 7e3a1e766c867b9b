//! `studio pricing list|set|rm` and `studio cost ID`: the prices in force,
//! and what a session cost as recorded and at today's prices.

use clap::{Args, Subcommand};
use protocol::control::{ControlRequest, ControlResponse, ModelPrice, PricingTable};
use protocol::event::{Event, EventKind};
use studio_client::Client;
use supervisor::pricing;

use super::output::{print_json, table};
use super::sessions::resolve;
use super::{CliError, Ctx};

#[derive(Subcommand, Debug)]
pub(crate) enum PricingCommand {
    /// Show every priced model (USD per million tokens).
    List,
    /// Set a model's price (a name or a prefix of names); bumps the version.
    Set(SetArgs),
    /// Drop a custom price, back to the built-in one if any.
    Rm {
        /// The model as set.
        model: String,
    },
}

#[derive(Args, Debug)]
pub(crate) struct SetArgs {
    /// Model name or prefix (`gpt-4o` also prices `gpt-4o-2024-08-06`).
    model: String,
    /// Input tokens, USD per million.
    #[arg(long)]
    input: f64,
    /// Output tokens, USD per million.
    #[arg(long)]
    output: f64,
    /// Cached input read, USD per million [default: the input price].
    #[arg(long)]
    cache_read: Option<f64>,
    /// Cache writes, USD per million [default: the input price].
    #[arg(long)]
    cache_write: Option<f64>,
    /// Reasoning tokens, USD per million [default: the output price].
    #[arg(long)]
    reasoning: Option<f64>,
}

#[derive(Args, Debug)]
pub(crate) struct CostArgs {
    /// Session id (or its first hex digits).
    #[arg(required_unless_present = "by")]
    id: Option<String>,
    /// What every session spent instead, summed by agent, model or day.
    #[arg(long, value_enum, conflicts_with = "id")]
    by: Option<super::spend::By>,
    /// With --by: only sessions created in this last while (`7d`, `24h`).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, requires = "by")]
    since: Option<std::time::Duration>,
}

pub(crate) async fn execute(cmd: PricingCommand, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let request = match cmd {
        PricingCommand::List => ControlRequest::PricingList,
        PricingCommand::Set(args) => ControlRequest::PricingSet {
            model: args.model,
            price: ModelPrice {
                input: args.input,
                output: args.output,
                cache_read: args.cache_read.unwrap_or(args.input),
                cache_write: args.cache_write.unwrap_or(args.input),
                reasoning: args.reasoning.unwrap_or(args.output),
            },
        },
        PricingCommand::Rm { model } => ControlRequest::PricingRemove { model },
    };
    let table = pricing_table(&client, request).await?;
    if ctx.json {
        print_json(&serde_json::to_value(&table).map_err(|e| CliError::msg(e.to_string()))?);
        return Ok(());
    }
    let mut t = self::table(&[
        "MODEL",
        "INPUT",
        "OUTPUT",
        "CACHE READ",
        "CACHE WRITE",
        "REASONING",
        "",
    ]);
    for e in &table.entries {
        t.add_row(vec![
            e.model.clone(),
            format!("{:.3}", e.price.input),
            format!("{:.3}", e.price.output),
            format!("{:.3}", e.price.cache_read),
            format!("{:.3}", e.price.cache_write),
            format!("{:.3}", e.price.reasoning),
            if e.custom { "custom" } else { "" }.to_owned(),
        ]);
    }
    outln!(
        "{t}\npricing version {} (USD per million tokens)",
        table.version
    );
    Ok(())
}

async fn pricing_table(client: &Client, request: ControlRequest) -> Result<PricingTable, CliError> {
    match client.request(request).await? {
        ControlResponse::Pricing(table) => Ok(table),
        other => Err(CliError::msg(format!("unexpected answer: {other:?}"))),
    }
}

/// One priced response.
struct Line {
    request_id: String,
    model: String,
    tokens: u64,
    recorded: Option<f64>,
    version: u32,
    now: Option<f64>,
}

pub(crate) async fn cost(args: CostArgs, ctx: &Ctx) -> Result<(), CliError> {
    if let Some(by) = args.by {
        return super::spend::execute(by, args.since, ctx).await;
    }
    let Some(id) = args.id else {
        return Err(CliError::invalid("name a session, or sum them with --by"));
    };
    let client = ctx.client().await?;
    let session = resolve(&client, &id).await?;
    let table = pricing_table(&client, ControlRequest::PricingList).await?;
    let events = client.all_events(session, 0).await?;
    let lines = priced(&events, &table);
    let total = |f: fn(&Line) -> Option<f64>| lines.iter().filter_map(f).sum::<f64>();
    let (recorded, now) = (total(|l| l.recorded), total(|l| l.now));
    if ctx.json {
        let rows: Vec<_> = lines
            .iter()
            .map(|l| {
                serde_json::json!({
                    "request_id": l.request_id, "model": l.model, "tokens": l.tokens,
                    "usd": l.recorded, "pricing_version": l.version, "usd_now": l.now,
                })
            })
            .collect();
        print_json(&serde_json::json!({
            "session": session.to_string(), "responses": rows, "usd": recorded,
            "usd_now": now, "pricing_version_now": table.version,
        }));
        return Ok(());
    }
    let usd = |v: Option<f64>| v.map_or("unpriced".to_owned(), |v| format!("${v:.6}"));
    let mut t = self::table(&[
        "REQUEST",
        "MODEL",
        "TOKENS",
        "RECORDED",
        "VERSION",
        "AT TODAY'S PRICES",
    ]);
    for l in &lines {
        t.add_row(vec![
            l.request_id.clone(),
            l.model.clone(),
            l.tokens.to_string(),
            usd(l.recorded),
            l.version.to_string(),
            usd(l.now),
        ]);
    }
    outln!(
        "{t}\ntotal ${recorded:.6} as recorded, ${now:.6} at pricing version {}",
        table.version
    );
    Ok(())
}

/// Each `llm.cost` with its usage, priced again with `table`.
fn priced(events: &[Event], table: &PricingTable) -> Vec<Line> {
    let mut out = Vec::new();
    let mut last_usage = None;
    for event in events {
        match &event.kind {
            EventKind::LlmResponseCompleted { usage, .. } => last_usage = Some(*usage),
            EventKind::LlmCost {
                request_id,
                model,
                usd,
                pricing_version,
            } => {
                let usage = last_usage.take().unwrap_or_default();
                out.push(Line {
                    request_id: request_id.clone(),
                    model: model.clone(),
                    tokens: usage.input_tokens + usage.output_tokens,
                    recorded: *usd,
                    version: *pricing_version,
                    now: pricing::lookup(table, model).map(|p| pricing::cost(&usage, &p)),
                });
            }
            _ => {}
        }
    }
    out
}
