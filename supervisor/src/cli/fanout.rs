//! `studio run AGENT --prompt P --attempts N`, `studio run --prompt P
//! --agents a,b,c`, `studio run AGENT --prompt P --models m1,m2`: one
//! prompt as one group of runs (each agent, each model, each attempt), and
//! its results table once they all ended.

use protocol::control::{ANSWER_EXCERPT_CHARS, RunSpec};
use protocol::event::SessionStatus;
use serde_json::json;

use super::batch::{BatchItem, Fanout, progress_bar, queue_batch, run_batch};
use super::groups::{group_json, print_results, whole};
use super::output::print_json;
use super::{CliError, Ctx};
use studio_client::results::run_json;

/// The runs of one prompt over `agents` × `models` (none: the agent's
/// own) × `attempts`, in that order, each labelled by what sets it apart.
pub(crate) fn items(
    base: &RunSpec,
    agents: &[String],
    models: &[String],
    attempts: u32,
) -> Vec<BatchItem> {
    let own = [base.agent.clone()];
    let agents = if agents.is_empty() { &own[..] } else { agents };
    let models: Vec<Option<&String>> = if models.is_empty() {
        vec![None]
    } else {
        models.iter().map(Some).collect()
    };
    let mut out = Vec::new();
    for agent in agents {
        for model in &models {
            for attempt in 1..=attempts.max(1) {
                let mut parts = Vec::new();
                if agents.len() > 1 {
                    parts.push(agent.clone());
                }
                if let Some(model) = model {
                    parts.push((*model).clone());
                }
                if attempts > 1 {
                    parts.push(format!("#{attempt}"));
                }
                let label = match &base.label {
                    Some(given) => std::iter::once(given.clone()).chain(parts).collect(),
                    None => parts,
                }
                .join(" · ");
                out.push(BatchItem {
                    label: label.clone(),
                    spec: RunSpec {
                        agent: agent.clone(),
                        model: model.cloned(),
                        label: Some(label),
                        ..base.clone()
                    },
                });
            }
        }
    }
    out
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
        print_json(&json!({
            "group": group_json(&group),
            "runs": results.iter().map(|r| run_json(&group, r)).collect::<Vec<_>>(),
        }));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> RunSpec {
        RunSpec {
            agent: "coder".into(),
            prompt: "fix it".into(),
            ..RunSpec::default()
        }
    }

    #[test]
    fn attempts_models_and_agents_multiply_and_say_what_sets_each_apart() {
        let labels =
            |items: Vec<BatchItem>| -> Vec<String> { items.into_iter().map(|i| i.label).collect() };
        assert_eq!(labels(items(&base(), &[], &[], 3)), ["#1", "#2", "#3"]);
        let models = ["m1".to_owned(), "m2".to_owned()];
        let run = items(&base(), &[], &models, 2);
        assert_eq!(
            labels(run.clone()),
            ["m1 · #1", "m1 · #2", "m2 · #1", "m2 · #2"]
        );
        assert_eq!(run[2].spec.model.as_deref(), Some("m2"));
        assert_eq!(run[2].spec.agent, "coder");
        let agents = ["a".to_owned(), "b".to_owned()];
        let run = items(&base(), &agents, &[], 1);
        assert_eq!(labels(run.clone()), ["a", "b"]);
        assert_eq!(run[1].spec.agent, "b");
        assert_eq!(run[1].spec.model, None);
        let labelled = RunSpec {
            label: Some("try".into()),
            ..base()
        };
        assert_eq!(
            labels(items(&labelled, &[], &[], 2)),
            ["try · #1", "try · #2"]
        );
    }
}
