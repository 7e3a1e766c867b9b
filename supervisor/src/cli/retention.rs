//! `studio rm ID...` (sessions, or groups with `--group`) and `studio gc
//! --older-than 30d`: each says first what will go (branches and replays
//! of a deleted session go with it) and asks, unless `--yes`; `--dry-run`
//! only says.

use std::io::IsTerminal;
use std::time::Duration;

use clap::Args;
use protocol::control::{ControlRequest, ControlResponse, DeleteReport};
use serde_json::json;
use studio_client::Client;
use studio_client::human::bytes;

use super::output::{agreed, print_json};
use super::{CliError, Ctx};

#[derive(Args, Debug)]
pub(crate) struct RmArgs {
    /// Sessions (ids, short ids or prefixes); with --group, groups.
    #[arg(required = true, value_name = "ID")]
    ids: Vec<String>,
    /// The ids name groups: each goes with all its runs.
    #[arg(long)]
    group: bool,
    #[command(flatten)]
    confirm: Confirm,
}

#[derive(Args, Debug)]
pub(crate) struct GcArgs {
    /// Delete sessions that ended longer ago than this (`30d`, `12h`).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    older_than: Duration,
    #[command(flatten)]
    confirm: Confirm,
}

/// Asking before deleting.
#[derive(Args, Debug)]
struct Confirm {
    /// Only say what would be deleted.
    #[arg(long)]
    dry_run: bool,
    /// Delete without asking.
    #[arg(long, short)]
    yes: bool,
}

pub(crate) async fn rm(args: RmArgs, ctx: &Ctx) -> Result<(), CliError> {
    let request = |dry_run| ControlRequest::Delete {
        ids: args.ids.clone(),
        groups: args.group,
        dry_run,
    };
    carry_out(request, &args.confirm, ctx).await
}

pub(crate) async fn gc(args: GcArgs, ctx: &Ctx) -> Result<(), CliError> {
    let older_than_secs = args.older_than.as_secs();
    let request = |dry_run| ControlRequest::Gc {
        older_than_secs,
        dry_run,
    };
    carry_out(request, &args.confirm, ctx).await
}

/// Says what `request` would delete, asks (unless told not to), deletes.
async fn carry_out(
    request: impl Fn(bool) -> ControlRequest,
    confirm: &Confirm,
    ctx: &Ctx,
) -> Result<(), CliError> {
    let client = ctx.client().await?;
    if !confirm.yes {
        let plan = ask(&client, request(true)).await?;
        if confirm.dry_run || plan.sessions.is_empty() && plan.groups.is_empty() {
            return say(&plan, ctx);
        }
        if ctx.json || !std::io::stdin().is_terminal() {
            return Err(CliError::invalid(format!(
                "{}: add --yes to delete without asking (or --dry-run)",
                what(&plan)
            )));
        }
        errln!("{}", what(&plan));
        if !agreed("Delete?")? {
            return Err(CliError::msg("nothing was deleted"));
        }
    }
    let done = ask(&client, request(confirm.dry_run)).await?;
    say(&done, ctx)
}

async fn ask(client: &Client, request: ControlRequest) -> Result<DeleteReport, CliError> {
    match client.request(request).await? {
        ControlResponse::Deleted(report) => Ok(report),
        other => Err(CliError::msg(format!("unexpected answer: {other:?}"))),
    }
}

/// `Deletes 3 sessions (1 going on from them), 2 groups, 412 events`.
fn what(plan: &DeleteReport) -> String {
    let verb = if plan.dry_run {
        "Would delete"
    } else {
        "Deletes"
    };
    let descendants = match plan.descendants {
        0 => String::new(),
        n => format!(" ({n} of them branches or replays of the ones named)"),
    };
    format!(
        "{verb} {} session(s){descendants}, {} group(s), {} event(s){}",
        plan.sessions.len(),
        plan.groups.len(),
        plan.events,
        workspaces(plan)
    )
}

/// `, and 2 runs' own workspaces`, when there are any.
fn workspaces(report: &DeleteReport) -> String {
    match report.workspaces {
        0 => String::new(),
        n => format!(", and {n} run workspace(s) with their branches"),
    }
}

/// Reads a yes from the terminal.
fn say(report: &DeleteReport, ctx: &Ctx) -> Result<(), CliError> {
    if ctx.json {
        print_json(&json!({
            "dry_run": report.dry_run,
            "sessions": report.sessions.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "descendants": report.descendants,
            "groups": report.groups.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "events": report.events,
            "workspaces": report.workspaces,
            "bytes_before": report.bytes_before,
            "bytes_after": report.bytes_after,
        }));
        return Ok(());
    }
    if report.sessions.is_empty() && report.groups.is_empty() {
        outln!("nothing to delete");
        return Ok(());
    }
    let verb = if report.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    outln!(
        "{verb} {} session(s), {} group(s), {} event(s){}",
        report.sessions.len(),
        report.groups.len(),
        report.events,
        workspaces(report)
    );
    if report.dry_run {
        for session in &report.sessions {
            outln!("  {session}");
        }
    } else {
        outln!(
            "database {} -> {}",
            bytes(report.bytes_before),
            bytes(report.bytes_after)
        );
    }
    Ok(())
}
