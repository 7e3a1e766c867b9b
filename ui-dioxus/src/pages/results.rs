//! A group's results table on the Runs page: one row per run (label,
//! agent and model, status, the start of its answer, tokens, cost,
//! duration), sortable by any column, each run tickable for Compare and
//! markable as the group's preferred result (★), and exported whole as
//! JSON lines, CSV or Markdown. Statuses and figures are
//! the live ones the sessions list holds; the answers are read again from
//! the daemon whenever another run ends.

use std::collections::HashMap;

use dioxus::prelude::*;
use protocol::SessionId;
use protocol::control::{Group, GroupRun, SessionSummary};
use studio_client::human::first_line;
use studio_client::results::{checks_cell, status_counts};

use super::deleting::{DeleteButton, DeleteTarget};
use crate::commands::Commands;
use crate::connection::{Command, ExportFormat};
use crate::format;
use crate::pages::compare::CompareTick;
use crate::pages::status::{ShortId, StatusCell};
use crate::state::{AppState, ExportedFrom, Page};

/// Rows drawn at first, and added by each "Show more": a group of 500
/// draws as fast as one of 100.
const ROWS_AT_ONCE: usize = 100;

/// What the results table sorts by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResultColumn {
    /// The order the runs were queued in.
    #[default]
    Queued,
    Label,
    Agent,
    Model,
    Status,
    Answer,
    Tokens,
    Cost,
    Duration,
}

/// The order of `runs` (each with its live summary) by `column`, stable,
/// reversed when `descending`.
pub fn order(runs: &mut [(&GroupRun, &SessionSummary)], column: ResultColumn, descending: bool) {
    let tokens = |s: &SessionSummary| {
        s.totals
            .as_ref()
            .map_or(0, |t| t.usage.input_tokens + t.usage.output_tokens)
    };
    let cost = |s: &SessionSummary| s.totals.as_ref().map_or(0.0, |t| t.cost_usd);
    let took = |s: &SessionSummary| {
        s.started_at.map(|start| {
            s.ended_at
                .map_or(u64::MAX, |end| end.0.saturating_sub(start.0))
        })
    };
    match column {
        ResultColumn::Queued => {}
        ResultColumn::Label => runs.sort_by(|a, b| a.1.label.cmp(&b.1.label)),
        ResultColumn::Agent => runs.sort_by(|a, b| a.1.agent.cmp(&b.1.agent)),
        ResultColumn::Model => runs.sort_by(|a, b| a.0.model.cmp(&b.0.model)),
        ResultColumn::Status => runs.sort_by_key(|r| r.1.status.as_str()),
        ResultColumn::Answer => runs.sort_by(|a, b| a.0.answer.cmp(&b.0.answer)),
        ResultColumn::Tokens => runs.sort_by_key(|r| tokens(r.1)),
        ResultColumn::Cost => runs.sort_by(|a, b| cost(a.1).total_cmp(&cost(b.1))),
        ResultColumn::Duration => runs.sort_by_key(|r| took(r.1)),
    }
    if descending {
        runs.reverse();
    }
}

/// The results table of the group `AppState::results` names, if any.
#[component]
pub fn GroupResults() -> Element {
    let mut state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let mut sort = use_signal(|| (ResultColumn::Queued, false));
    let mut limit = use_signal(|| ROWS_AT_ONCE);
    // The group and count of ended runs its answers were last asked again
    // for (a count alone would stay from the table shown before, and a
    // group opened while its runs end would then never be read again).
    let mut asked_at = use_signal(|| None::<(SessionId, u32)>);
    // A run ended since the answers were read: read them again.
    use_effect(move || {
        let read = state.read();
        let Some(results) = read.results.as_ref() else {
            return;
        };
        let Some(group) = results.shown.as_deref() else {
            return;
        };
        let ended = live_ended(&read, group);
        let id = results.group;
        if read_again(*asked_at.peek(), id, ended, group.summary.ended()) {
            drop(read);
            asked_at.set(Some((id, ended)));
            commands.send(Command::Results(id));
        }
    });
    let read = state.read();
    let Some(results) = read.results.as_ref() else {
        return rsx! {};
    };
    let group_id = results.group;
    let close = move |_| state.write().results = None;
    let Some(group) = results.shown.as_deref() else {
        return rsx! {
            section { class: "results", aria_label: "Group results",
                p { class: "muted", "Reading group " ShortId { id: group_id } "…" }
                button { onclick: close, "Close" }
            }
        };
    };
    let live: HashMap<SessionId, &SessionSummary> = read
        .sessions
        .iter()
        .flatten()
        .map(|(id, s)| (*id, s))
        .collect();
    // Sorted as references; only the rows drawn are copied.
    let mut runs: Vec<(&GroupRun, &SessionSummary)> = group
        .runs
        .iter()
        .map(|run| (run, live.get(&run.summary.id).map_or(&run.summary, |s| *s)))
        .collect();
    let saved = read
        .exported
        .as_ref()
        .filter(|e| e.from == ExportedFrom::Session(group_id))
        .and(read.export_saved.clone());
    let (column, descending) = sort();
    order(&mut runs, column, descending);
    let now = read.now;
    let summary = Summary::of(group);
    let preferred = group.summary.preferred;
    let checked = studio_client::results::any_checks(&group.summary, &group.runs);
    let changed = studio_client::results::any_changes(&group.runs);
    let applied = read.applied.clone();
    let rates = studio_client::results::pass_rates(&group.summary, &group.runs);
    let check_names: Vec<String> = group.summary.checks.iter().map(|c| c.name()).collect();
    let hidden = runs.len().saturating_sub(limit());
    let rows: Vec<(GroupRun, SessionSummary, bool)> = runs
        .into_iter()
        .take(limit())
        .map(|(run, summary)| {
            let marked = preferred == Some(summary.id);
            (run.clone(), summary.clone(), marked)
        })
        .collect();
    let header = move |by: ResultColumn, name: &'static str| {
        let arrow = match sort() {
            (c, false) if c == by => " ▲",
            (c, true) if c == by => " ▼",
            _ => "",
        };
        rsx! {
            th {
                button { class: "sort", title: "Sort by {name}",
                    onclick: move |_| {
                        let (c, d) = sort();
                        sort.set((by, c == by && !d));
                    },
                    "{name}{arrow}"
                }
            }
        }
    };
    rsx! {
        section { class: "results", aria_label: "Group results",
            div { class: "results-head",
                h3 { "{summary.name}" }
                span { class: "muted", "group " ShortId { id: group_id } }
                button { onclick: close, "Close" }
            }
            p { class: "results-totals", "{summary.totals}" }
            div { class: "session-actions",
                button { title: "one record per run, its answer whole, as studio export --group writes it",
                    onclick: move |_| commands.send(Command::ExportGroup { group: group_id, format: ExportFormat::JsonLines }),
                    "Export JSON lines" }
                button { onclick: move |_| commands.send(Command::ExportGroup { group: group_id, format: ExportFormat::Csv }),
                    "Export CSV" }
                button { onclick: move |_| commands.send(Command::ExportGroup { group: group_id, format: ExportFormat::Markdown }),
                    "Export Markdown" }
                DeleteButton { target: DeleteTarget::Group(group_id) }
                match saved {
                    Some(Ok(place)) => rsx! { span { class: "muted export-saved", role: "status", "Saved: {place}" } },
                    Some(Err(why)) => rsx! { span { class: "problem", role: "status", "Not saved: {why}" } },
                    None => rsx! {},
                }
            }
            match applied {
                Some((run, Ok(said))) => rsx! { p { class: "muted applied", role: "status", "Run " ShortId { id: run } ": {said}" } },
                Some((run, Err(why))) => rsx! { p { class: "problem applied", role: "status", "Run " ShortId { id: run } " not applied: {why}" } },
                None => rsx! {},
            }
            table { class: "results-table",
                thead { tr {
                    th { "★" }
                    {header(ResultColumn::Queued, "run")}
                    {header(ResultColumn::Label, "label")}
                    {header(ResultColumn::Agent, "agent")}
                    {header(ResultColumn::Model, "model")}
                    {header(ResultColumn::Status, "status")}
                    {header(ResultColumn::Answer, "answer")}
                    if checked { th { "checks" } }
                    if changed { th { "changes" } }
                    {header(ResultColumn::Tokens, "tokens")}
                    {header(ResultColumn::Cost, "cost")}
                    {header(ResultColumn::Duration, "duration")}
                    th {}
                } }
                tbody {
                    for (run, summary, preferred) in rows {
                        ResultRow { key: "{summary.id}", group: group_id,
                            checks: checked.then(|| checks_cell(&group.summary, &run)),
                            changed, run, summary, preferred, now }
                    }
                }
            }
            if hidden > 0 {
                button { class: "more", onclick: move |_| limit.set(limit() + ROWS_AT_ONCE),
                    "Show more ({hidden} not shown)"
                }
            }
            if !rates.is_empty() {
                if !check_names.is_empty() {
                    p { class: "muted", "Checks: {check_names.join(\", \")}" }
                }
                table { class: "pass-rates",
                    thead { tr { th { "agent · model" } th { "passed every check" } th { "cost" } } }
                    tbody {
                        for rate in rates {
                            tr { key: "{rate.key}",
                                td { "{rate.key}" }
                                td { class: "num", "{rate.rate()} ({rate.passed} of {rate.checked})" }
                                td { class: "num", {studio_client::human::usd(rate.cost_usd)} }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Each check of the run and how it came out, a line each.
fn checks_title(run: &GroupRun) -> String {
    run.checks
        .iter()
        .map(|c| {
            let how = if c.passed { "passed" } else { "failed" };
            match c.detail.is_empty() {
                true => format!("{}: {how}", c.check),
                false => format!("{}: {how} ({})", c.check, c.detail),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each file the run changed, a line each.
fn changes_title(run: &GroupRun) -> String {
    let Some(changes) = &run.changes else {
        return String::new();
    };
    let mut lines: Vec<String> = changes
        .files
        .iter()
        .map(|f| format!("{} {}", f.path, studio_client::changes::file_cell(f)))
        .collect();
    if changes.more > 0 {
        lines.push(format!("and {} more", changes.more));
    }
    lines.join("\n")
}

/// Whether group `id`'s answers are read again: `ended` of its runs have
/// ended by the sessions list, the answers shown say `shown_ended`, and
/// they were last asked again at `asked` (a group and its count then).
fn read_again(
    asked: Option<(SessionId, u32)>,
    id: SessionId,
    ended: u32,
    shown_ended: u32,
) -> bool {
    ended != shown_ended && asked != Some((id, ended))
}

/// How many runs of `group` have ended, as the sessions list has them now.
fn live_ended(state: &AppState, group: &Group) -> u32 {
    let ended = group
        .runs
        .iter()
        .filter(|run| {
            let now = state.sessions.as_ref().and_then(|s| s.get(&run.summary.id));
            now.unwrap_or(&run.summary).status.is_terminal()
        })
        .count();
    u32::try_from(ended).unwrap_or(u32::MAX)
}

/// A group's name and totals as the table's head says them.
struct Summary {
    name: String,
    totals: String,
}

impl Summary {
    fn of(group: &Group) -> Summary {
        let g = &group.summary;
        Summary {
            name: first_line(&g.name, 120),
            totals: format!(
                "{} runs: {} · {} · {} · {}",
                g.runs,
                status_counts(g),
                studio_client::human::tokens(&g.usage),
                studio_client::human::usd(g.cost_usd),
                format::duration(g.wall_micros),
            ),
        }
    }
}

/// One run of the table.
#[component]
fn ResultRow(
    group: SessionId,
    run: GroupRun,
    summary: SessionSummary,
    preferred: bool,
    /// How it did on the checks (`2/3`), when the group's runs are checked.
    checks: Option<String>,
    /// Whether the table has a column of changes (some run has its own
    /// workspace).
    changed: bool,
    now: protocol::Timestamp,
) -> Element {
    let commands = use_context::<Commands>();
    let mut state = use_context::<Signal<AppState>>();
    let id = summary.id;
    let excerpt = first_line(&run.answer, 120);
    rsx! {
        tr { class: if preferred { "preferred" },
            td {
                if preferred {
                    button { class: "star on", title: "The preferred result; click to unmark",
                        aria_label: "Unmark the preferred result",
                        onclick: move |_| commands.send(Command::Prefer { group, run: None }), "★" }
                } else {
                    button { class: "star", title: "Mark as the preferred result",
                        aria_label: "Mark as the preferred result",
                        onclick: move |_| commands.send(Command::Prefer { group, run: Some(id) }), "☆" }
                }
            }
            td { CompareTick { id } ShortId { id } }
            td { {summary.label.clone().unwrap_or_default()} }
            td { "{summary.agent}" }
            td { "{run.model}" }
            td { StatusCell { session: summary.clone(), now } }
            td { class: "answer", title: "{run.answer}", "{excerpt}" }
            if let Some(cell) = checks {
                td { class: "num checks", title: "{checks_title(&run)}", "{cell}" }
            }
            if changed {
                td { class: "changes", title: "{changes_title(&run)}",
                    {studio_client::results::changes_cell(&run)}
                    if run.changes.as_ref().is_some_and(|c| !c.is_empty()) {
                        button { class: "apply",
                            title: "Bring this run's changes into the workspace it was made from; refused, with nothing written, if they do not apply there",
                            onclick: move |_| commands.send(Command::Apply(id)),
                            "Apply" }
                    }
                }
            }
            td { class: "num", {format::session_tokens(&summary)} }
            td { class: "num", {format::session_cost(&summary)} }
            td { class: "num", {format::elapsed(summary.started_at, summary.ended_at, now)} }
            td {
                button {
                    onclick: move |_| {
                        state.write().inspected = Some((id, Vec::new()));
                        state.write().page = Page::Inspector;
                        commands.send(Command::Inspect(id));
                    },
                    "Inspect"
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Timestamp;
    use protocol::control::SessionTotals;
    use protocol::event::{SessionStatus, Usage};

    fn run(
        label: &str,
        model: &str,
        output: u64,
        status: SessionStatus,
    ) -> (GroupRun, SessionSummary) {
        let summary = SessionSummary {
            id: SessionId::new(),
            agent: "a".into(),
            label: Some(label.into()),
            title: String::new(),
            status,
            pid: None,
            rss_bytes: None,
            events: 1,
            created_at: Timestamp(1),
            started_at: Some(Timestamp(1)),
            ended_at: Some(Timestamp(1 + output)),
            parent: None,
            branched_at: None,
            interactive: false,
            totals: Some(SessionTotals {
                usage: Usage {
                    output_tokens: output,
                    ..Usage::default()
                },
                cost_usd: output as f64 / 100.0,
                unpriced: 0,
            }),
            estimated: Default::default(),
            waiting: None,
            batch: None,
            last_activity: Timestamp(1),
            damage: None,
            job: None,
        };
        let group_run = GroupRun {
            summary: summary.clone(),
            provider: "scripted".into(),
            model: model.into(),
            answer: String::new(),
            answer_cut: false,
            duration_micros: None,
            checks: Vec::new(),
            changes: None,
        };
        (group_run, summary)
    }

    #[test]
    fn a_group_is_read_again_once_per_count_even_after_another_groups_table() {
        let (this, other) = (SessionId::new(), SessionId::new());
        // Shown with 1 ended, 2 ended now: read again, once.
        assert!(read_again(None, this, 2, 1));
        assert!(!read_again(Some((this, 2)), this, 2, 1));
        // The table before it was asked again at the same count: this
        // one is still read (it once stayed at 1 of 2 for good).
        assert!(read_again(Some((other, 2)), this, 2, 1));
        // Nothing to read when the answers already say it.
        assert!(!read_again(None, this, 2, 2));
    }

    #[test]
    fn results_sort_by_any_column_both_ways_and_keep_ties_in_order() {
        let labels = |runs: &[(&GroupRun, &SessionSummary)]| -> Vec<String> {
            runs.iter()
                .map(|r| r.1.label.clone().unwrap_or_default())
                .collect()
        };
        let owned = [
            run("#1", "large", 30, SessionStatus::Completed),
            run("#2", "small", 10, SessionStatus::Failed),
            run("#3", "large", 20, SessionStatus::Completed),
        ];
        let mut runs: Vec<(&GroupRun, &SessionSummary)> =
            owned.iter().map(|(r, s)| (r, s)).collect();
        order(&mut runs, ResultColumn::Tokens, false);
        assert_eq!(labels(&runs), ["#2", "#3", "#1"]);
        order(&mut runs, ResultColumn::Cost, true);
        assert_eq!(labels(&runs), ["#1", "#3", "#2"]);
        order(&mut runs, ResultColumn::Label, false);
        order(&mut runs, ResultColumn::Model, false);
        assert_eq!(labels(&runs), ["#1", "#3", "#2"], "ties keep their order");
        order(&mut runs, ResultColumn::Status, false);
        assert_eq!(labels(&runs)[0], "#1");
        order(&mut runs, ResultColumn::Duration, true);
        assert_eq!(labels(&runs), ["#1", "#3", "#2"]);
    }
}
