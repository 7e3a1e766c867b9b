//! `studio groups` (each group with its totals), `studio group ID` (its
//! results table; `--prefer RUN` marks the preferred result), and reading a
//! whole group page by page, which `wait --group` and `export --group` share.

use clap::Args;
use comfy_table::{Cell, CellAlignment};
use protocol::control::{
    ANSWER_EXCERPT_CHARS, ControlRequest, ControlResponse, GROUP_PAGE_FULL_ANSWERS, GroupRun,
    GroupSummary, MAX_GROUP_PAGE,
};
use serde_json::{Value, json};
use studio_client::Client;
use studio_client::human::{first_line, usd};
use studio_client::results::{
    any_changes, any_checks, changes_cell, checks_cell, pass_rates, run_json, status_counts,
};

use super::output::{duration, print_json, session_duration, table};
use super::{CliError, Ctx};

#[derive(Args, Debug)]
pub(crate) struct GroupsArgs {
    /// At most this many groups, newest first.
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

#[derive(Args, Debug)]
pub(crate) struct GroupArgs {
    /// The group (its id, short id or prefix: its first run's).
    id: String,
    /// Mark this run (id, short id or prefix) as the group's preferred result.
    #[arg(long, value_name = "RUN", conflicts_with = "no_prefer")]
    prefer: Option<String>,
    /// Take the preferred mark away.
    #[arg(long)]
    no_prefer: bool,
}

pub(crate) async fn list(args: GroupsArgs, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let groups = match client
        .request(ControlRequest::GroupList { limit: args.limit })
        .await?
    {
        ControlResponse::Groups(groups) => groups,
        other => return Err(unexpected(&other)),
    };
    if ctx.json {
        print_json(&Value::Array(groups.iter().map(group_json).collect()));
        return Ok(());
    }
    if groups.is_empty() {
        outln!("no groups yet: start one with `studio run AGENT --prompt P --attempts 3`");
        return Ok(());
    }
    let mut t = table(&["GROUP", "NAME", "RUNS", "STATUS", "TOKENS", "COST", "WALL"]);
    for g in &groups {
        t.add_row(vec![
            Cell::new(g.id.short()),
            Cell::new(first_line(&g.name, 40)),
            Cell::new(g.runs).set_alignment(CellAlignment::Right),
            Cell::new(status_counts(g)),
            Cell::new(format!(
                "{} in / {} out",
                g.usage.input_tokens, g.usage.output_tokens
            ))
            .set_alignment(CellAlignment::Right),
            Cell::new(usd(g.cost_usd)).set_alignment(CellAlignment::Right),
            Cell::new(duration(std::time::Duration::from_micros(g.wall_micros)))
                .set_alignment(CellAlignment::Right),
        ]);
    }
    outln!("{t}");
    Ok(())
}

pub(crate) async fn show(args: GroupArgs, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    if args.prefer.is_some() || args.no_prefer {
        let request = ControlRequest::GroupPrefer {
            group: args.id.clone(),
            run: args.prefer.clone(),
        };
        match client.request(request).await? {
            ControlResponse::Groups(_) => {}
            other => return Err(unexpected(&other)),
        }
    }
    let (group, runs) = whole(&client, &args.id, ANSWER_EXCERPT_CHARS).await?;
    if ctx.json {
        print_json(&results_json(&group, &runs));
        return Ok(());
    }
    print_results(&group, &runs);
    Ok(())
}

/// The group's totals line, then its results table.
pub(crate) fn print_results(group: &GroupSummary, runs: &[GroupRun]) {
    outln!(
        "group {}  {}  {} runs: {}  {}  {} in / {} out  {}",
        group.id.short(),
        first_line(&group.name, 60),
        group.runs,
        status_counts(group),
        usd(group.cost_usd),
        group.usage.input_tokens,
        group.usage.output_tokens,
        duration(std::time::Duration::from_micros(group.wall_micros)),
    );
    if !group.caps.is_empty() {
        outln!("cap: {}", group.caps.summary());
    }
    let checked = any_checks(group, runs);
    let mut header = vec!["", "RUN", "LABEL", "AGENT", "MODEL", "STATUS", "ANSWER"];
    if checked {
        header.push("CHECKS");
    }
    let changed = any_changes(runs);
    if changed {
        header.push("CHANGES");
    }
    header.extend(["TOKENS", "COST", "TIME"]);
    let mut t = table(&header);
    for run in runs {
        let s = &run.summary;
        let usage = s.totals.as_ref().map(|t| &t.usage);
        let mut row = vec![
            Cell::new(if group.preferred == Some(s.id) {
                "★"
            } else {
                ""
            }),
            Cell::new(s.id.short()),
            Cell::new(s.label.as_deref().unwrap_or("")),
            Cell::new(&s.agent),
            Cell::new(&run.model),
            Cell::new(s.status.as_str()),
            Cell::new(first_line(&run.answer, 48)),
        ];
        if checked {
            row.push(Cell::new(checks_cell(group, run)).set_alignment(CellAlignment::Right));
        }
        if changed {
            row.push(Cell::new(changes_cell(run)));
        }
        row.extend([
            Cell::new(usage.map_or_else(String::new, |u| {
                format!("{}/{}", u.input_tokens, u.output_tokens)
            }))
            .set_alignment(CellAlignment::Right),
            Cell::new(
                s.totals
                    .as_ref()
                    .map_or_else(String::new, |t| usd(t.cost_usd)),
            )
            .set_alignment(CellAlignment::Right),
            Cell::new(session_duration(s).map_or_else(String::new, duration))
                .set_alignment(CellAlignment::Right),
        ]);
        t.add_row(row);
    }
    outln!("{t}");
    let rates = pass_rates(group, runs);
    if !rates.is_empty() {
        if !group.checks.is_empty() {
            let names: Vec<String> = group.checks.iter().map(|c| c.name()).collect();
            outln!("checks: {}", names.join(", "));
        }
        let mut t = table(&["AGENT · MODEL", "PASSED EVERY CHECK", "COST"]);
        for rate in &rates {
            t.add_row(vec![
                Cell::new(&rate.key),
                Cell::new(format!(
                    "{} ({} of {})",
                    rate.rate(),
                    rate.passed,
                    rate.checked
                ))
                .set_alignment(CellAlignment::Right),
                Cell::new(usd(rate.cost_usd)).set_alignment(CellAlignment::Right),
            ]);
        }
        outln!("{t}");
    }
}

/// The group `id` with all its runs, each answer cut to `answer_chars`,
/// read page by page.
pub(crate) async fn whole(
    client: &Client,
    id: &str,
    answer_chars: u32,
) -> Result<(GroupSummary, Vec<GroupRun>), CliError> {
    let limit = if answer_chars > ANSWER_EXCERPT_CHARS {
        GROUP_PAGE_FULL_ANSWERS
    } else {
        MAX_GROUP_PAGE
    };
    let mut runs = Vec::new();
    loop {
        let request = ControlRequest::GroupGet {
            id: id.to_owned(),
            from: u32::try_from(runs.len()).unwrap_or(u32::MAX),
            limit,
            answer_chars,
        };
        let group = match client.request(request).await? {
            ControlResponse::Group(group) => *group,
            other => return Err(unexpected(&other)),
        };
        let got = group.runs.len();
        runs.extend(group.runs);
        if got == 0 || runs.len() >= group.summary.runs as usize {
            return Ok((group.summary, runs));
        }
    }
}

/// A group's summary as JSON (`studio groups --json`).
/// A group, its runs and its pass rates, as `--json` prints them.
pub(crate) fn results_json(group: &GroupSummary, runs: &[GroupRun]) -> Value {
    let rates: Vec<Value> = pass_rates(group, runs)
        .iter()
        .map(|r| {
            json!({
                "agent_model": r.key,
                "checked": r.checked,
                "passed": r.passed,
                "cost_usd": r.cost_usd,
            })
        })
        .collect();
    json!({
        "group": group_json(group),
        "runs": runs.iter().map(|r| run_json(group, r)).collect::<Vec<_>>(),
        "pass_rates": rates,
    })
}

pub(crate) fn group_json(g: &GroupSummary) -> Value {
    json!({
        "id": g.id.to_string(),
        "short_id": g.id.short(),
        "name": g.name,
        "created_at": g.created_at.to_string(),
        "runs": g.runs,
        "by_status": g.by_status.iter()
            .map(|c| (c.status.as_str().to_owned(), json!(c.runs)))
            .collect::<serde_json::Map<_, _>>(),
        "ended": g.ended(),
        "usage": g.usage,
        "cost_usd": g.cost_usd,
        "unpriced_responses": g.unpriced,
        "wall_ms": g.wall_micros / 1000,
        "preferred": g.preferred.map(|p| p.to_string()),
        "caps": g.caps,
        "checks": g.checks.iter().map(|c| c.name()).collect::<Vec<_>>(),
    })
}

fn unexpected(other: &ControlResponse) -> CliError {
    CliError::msg(format!("unexpected answer: {other:?}"))
}
