//! `studio run AGENT --prompt P --attempts N`, `studio run --prompt P
//! --agents a,b,c`, `studio run AGENT --prompt P --models m1,m2`: one
//! prompt as one group of runs (each agent, each model, each attempt), and
//! its results table once they all ended.

use protocol::control::{ANSWER_EXCERPT_CHARS, RunSpec};
use protocol::event::SessionStatus;
use serde_json::json;

use super::batch::{BatchItem, Fanout, progress_bar, queue_batch, run_batch, say_caps};
use super::groups::{print_results, results_json, whole};
use super::output::print_json;
use super::{CliError, Ctx};
use studio_client::batch::fan_out;

/// The runs of one prompt over `agents` × `models` × `attempts`
/// (`studio_client::batch::fan_out`), as batch items.
pub(crate) fn items(
    base: &RunSpec,
    agents: &[String],
    models: &[String],
    attempts: u32,
) -> Vec<BatchItem> {
    fan_out(base, agents, models, attempts)
        .into_iter()
        .map(|spec| BatchItem {
            label: spec.label.clone().unwrap_or_default(),
            spec,
        })
        .collect()
}

/// Starts the runs as one group; with `detach` prints the group and its
/// runs and returns, else shows progress until every run ended, then the
/// results table (exit 3 unless every run completed).
pub(crate) async fn execute(fanout: Fanout<'_>, detach: bool, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let runs = fanout.items.len();
    if !ctx.json {
        errln!(
            "starting {runs} run(s) as one group, at most {} at once",
            fanout.parallel.min(runs)
        );
        say_caps(&client, fanout).await?;
    }
    if detach {
        let sessions = queue_batch(&client, fanout).await?;
        let group = sessions
            .first()
            .map(ToString::to_string)
            .unwrap_or_default();
        if ctx.json {
            let runs: Vec<_> = fanout
                .items
                .iter()
                .zip(&sessions)
                .map(|(item, session)| json!({"session": session, "label": item.label}))
                .collect();
            print_json(&json!({ "group": group, "runs": runs }));
        } else {
            outln!("group {group}");
            for session in sessions {
                outln!("{session}");
            }
        }
        return Ok(());
    }
    let progress = progress_bar(runs as u64, ctx.json);
    let outcomes = run_batch(&client, fanout, &progress, |_, _| {}).await?;
    progress.finish_and_clear();
    let Some(first) = outcomes.first() else {
        return Ok(());
    };
    let (group, results) =
        whole(&client, &first.summary.id.to_string(), ANSWER_EXCERPT_CHARS).await?;
    if ctx.json {
        print_json(&results_json(&group, &results));
    } else {
        print_results(&group, &results);
    }
    let unfinished = group.runs - group.count(SessionStatus::Completed);
    match unfinished {
        0 => Ok(()),
        n => Err(CliError::incomplete(format!(
            "{n} of {} runs did not complete",
            group.runs
        ))),
    }
}
