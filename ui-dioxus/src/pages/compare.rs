//! Compare: two to four sessions side by side, as the daemon aligned them
//! (`Comparison`): a column per session, the figures with each one's
//! delta against the first, then the steps row by row, the first row where
//! they part marked, texts that differ from the first session's as a word
//! diff. Opened with the sessions ticked in the Sessions and Runs lists,
//! or from the Inspector ("Compare with its origin").

use std::rc::Rc;

use dioxus::prelude::*;
use protocol::SessionId;
use protocol::control::{Change, Comparison, RowWindow, Span, Step, StepKind};

use crate::commands::Commands;
use crate::connection::Command;
use crate::format;
use crate::pages::status::ShortId;
use crate::state::{AppState, Page};

/// The comparison shown, shared by the page's parts: props equal when
/// they point at the same answer, so a render copies none of it.
#[derive(Clone)]
struct Shown(Rc<Comparison>);

impl PartialEq for Shown {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// The Compare page.
#[component]
pub fn ComparePage() -> Element {
    let state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let (asked, picked, shown) = {
        let read = state.read();
        (
            read.compare.asked.clone(),
            read.compare.picked.clone(),
            read.compare.shown.clone(),
        )
    };
    let pick = rsx! {
        if picked.len() >= 2 && picked != asked {
            button { class: "compare-picked",
                onclick: move |_| commands.compare(state, picked.clone()),
                "Compare the {picked.len()} ticked"
            }
        }
    };
    if asked.is_empty() {
        return rsx! {
            div { class: "compare",
                p { class: "empty",
                    "Tick two to four sessions in the Sessions or Runs lists, or open a branch or replay in the Inspector and choose "
                    em { "Compare with its origin" }
                    "."
                }
                {pick}
            }
        };
    }
    let Some(shown) = shown.map(Shown) else {
        return rsx! { div { class: "compare", p { class: "muted", "Comparing…" } {pick} } };
    };
    let comparison = &*shown.0;
    let columns = comparison.sessions.len();
    let divergence = match comparison.first_divergence {
        Some(row) => format!(
            "They part at row {row} of {} (marked ≠).",
            comparison.total_rows
        ),
        None => format!("They take the same {} steps.", comparison.total_rows),
    };
    let from = comparison.from_row;
    let to = from + comparison.rows.len() as u64;
    let total = comparison.total_rows;
    let rows_shown = comparison.rows.len() as u64;
    let ask_from = move |row: u64| {
        let sessions = state.read().compare.asked.clone();
        commands.send(Command::Compare {
            sessions,
            window: RowWindow::From(row),
        });
    };
    rsx! {
        div { class: "compare",
            div { class: "compare-head", {pick} }
            FiguresTable { shown: shown.clone() }
            ChangesDiff {}
            p { class: "divergence",
                "{divergence} "
                if comparison.approximate {
                    span { class: "muted", "Long and very different: past a point, steps are paired in order." }
                }
            }
            table { class: "steps", style: "--columns: {columns}",
                thead { tr {
                    th { "row" }
                    for session in comparison.sessions.iter() {
                        th { ShortId { id: session.summary.id } }
                    }
                } }
                tbody {
                    for (index, at) in (from..to).enumerate() {
                        StepRow { key: "{at}", shown: shown.clone(), index, at, first: Some(at) == comparison.first_divergence }
                    }
                }
            }
            div { class: "pager",
                span { class: "muted", "rows {from} to {to.saturating_sub(1)} of {total}" }
                if from > 0 {
                    button { onclick: move |_| ask_from(from.saturating_sub(rows_shown.max(1))), "Earlier rows" }
                }
                if to < total {
                    button { onclick: move |_| ask_from(to), "Later rows" }
                }
            }
        }
    }
}

/// The figures, a column per session; after the first, each with its
/// delta.
#[component]
fn FiguresTable(shown: Shown) -> Element {
    let mut state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let sessions = &shown.0.sessions;
    let Some(base) = sessions.first().map(|s| s.figures.clone()) else {
        return rsx! {};
    };
    let deltas: Vec<Vec<(&'static str, f64, f64)>> =
        sessions.iter().map(|s| s.figures.deltas(&base)).collect();
    let names: Vec<&'static str> = deltas[0].iter().map(|(name, ..)| *name).collect();
    rsx! {
        table { class: "figures",
            thead { tr {
                th {}
                for session in sessions.iter().cloned() {
                    th {
                        div { ShortId { id: session.summary.id } }
                        div { class: "name", {format::session_name(&session.summary)} }
                        div { class: "muted", "{session.summary.agent} · "
                            span { class: format::status(session.summary.status).0, "{format::status(session.summary.status).1}" }
                        }
                        button {
                            onclick: move |_| {
                                let id = session.summary.id;
                                let mut state = state.write();
                                state.inspected = Some((id, Vec::new()));
                                state.page = Page::Inspector;
                                commands.send(Command::Inspect(id));
                            },
                            "Inspect"
                        }
                    }
                }
            } }
            tbody {
                for (i, name) in names.into_iter().enumerate() {
                    tr { key: "{name}",
                        th { "{name}" }
                        for (column, figures) in deltas.iter().enumerate() {
                            td { class: "num",
                                {figure(name, figures[i].1)}
                                if column > 0 {
                                    span { class: delta_class(figures[i].2), {delta(name, figures[i].2)} }
                                }
                            }
                        }
                    }
                }
                OutcomeRows { shown: shown.clone() }
            }
        }
    }
}

/// Rows of the figures table: how each session's checks came out, and
/// the files each changed in its own workspace side by side (when any
/// has checks or changes).
#[component]
fn OutcomeRows(shown: Shown) -> Element {
    let commands = use_context::<Commands>();
    let sessions = &shown.0.sessions;
    let first_changed = sessions
        .iter()
        .find(|s| s.changes.is_some())
        .map(|s| s.summary.id);
    let checked = sessions.iter().any(|s| !s.checks.is_empty());
    let changes: Vec<_> = sessions.iter().map(|s| s.changes.as_ref()).collect();
    let files = studio_client::changes::side_by_side(&changes);
    let changed = changes.iter().any(Option::is_some);
    if !checked && !changed {
        return rsx! {};
    }
    rsx! {
                if checked {
                    tr { class: "outcome",
                        th { "checks" }
                        for session in sessions.iter() {
                            td { class: "num", title: checks_title(&session.checks),
                                {studio_client::changes::checks_passed(&session.checks)} }
                        }
                    }
                }
                if changed {
                    tr { class: "outcome",
                        th { "changes" }
                        for session in sessions.iter() {
                            td { class: "num", {session.changes.as_ref().map(|c| c.short()).unwrap_or_default()}
                                if let Some(against) = first_changed.filter(|first| *first != session.summary.id && session.changes.is_some()) {
                                    button { class: "diff-runs",
                                        title: "How this run's result differs from the first's",
                                        onclick: {
                                            let run = session.summary.id;
                                            move |_| commands.send(Command::DiffRuns { run, against })
                                        },
                                        "Diff against {against.short()}"
                                    }
                                }
                            }
                        }
                    }
                }
                for row in files {
                    tr { key: "{row.path}", class: if row.differs() { "outcome differs" } else { "outcome" },
                        th { class: "file", "{row.path}" }
                        for cell in row.cells.iter() {
                            td { class: "num", {cell.clone().unwrap_or_default()} }
                        }
                    }
                }
    }
}

/// How one compared run's result differs from another's, once asked.
#[component]
fn ChangesDiff() -> Element {
    let state = use_context::<Signal<AppState>>();
    let diff = state.read().compare.changes_diff.clone();
    match diff {
        Some(Ok(diff)) => rsx! {
            div { class: "changes-diff",
                p { class: "muted", "{diff.changes.short()} apart" if diff.patch_cut { " (the patch is cut)" } }
                if !diff.patch.is_empty() {
                    pre { class: "patch", "{diff.patch}" }
                }
            }
        },
        Some(Err(why)) => rsx! { p { class: "problem", role: "status", "No diff: {why}" } },
        None => rsx! {},
    }
}

/// Each check and how it came out, a line each.
fn checks_title(checks: &[protocol::checks::CheckOutcome]) -> String {
    checks
        .iter()
        .map(|c| {
            format!(
                "{}: {}",
                c.check,
                if c.passed { "passed" } else { "failed" }
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A figure as it reads: dollars for cost, else the number.
fn figure(name: &str, value: f64) -> String {
    if name == "cost usd" {
        studio_client::human::usd(value)
    } else {
        format!("{value}")
    }
}

/// A delta with its sign: ` +$0.0012`, ` −3`, ` ±0`.
fn delta(name: &str, value: f64) -> String {
    if value == 0.0 {
        return " ±0".to_owned();
    }
    let sign = if value > 0.0 { "+" } else { "−" };
    format!(" {sign}{}", figure(name, value.abs()))
}

fn delta_class(value: f64) -> &'static str {
    if value > 0.0 {
        "delta up"
    } else if value < 0.0 {
        "delta down"
    } else {
        "delta same"
    }
}

/// Row `index` of the comparison's window (row `at` of all).
#[component]
fn StepRow(shown: Shown, index: usize, at: u64, first: bool) -> Element {
    let Some(row) = shown.0.rows.get(index) else {
        return rsx! {};
    };
    let class = match (row.same, first) {
        (true, _) => "same",
        (false, true) => "parted first",
        (false, false) => "parted",
    };
    let mark = if row.same { "=" } else { "≠" };
    rsx! {
        tr { class,
            th { class: "num", title: if first { "the first row where they part" }, "{at} {mark}" }
            for (column, cell) in row.cells.iter().enumerate() {
                td { key: "{column}",
                    if let Some(step) = cell {
                        StepCell { step: step.clone() }
                    }
                }
            }
        }
    }
}

/// One session's step: what it is, its text and outcome (word diffs
/// against the first session's where they differ).
#[component]
fn StepCell(step: Step) -> Element {
    let (class, what) = match step.kind {
        StepKind::User => ("step user", "you".to_owned()),
        StepKind::Model => ("step model", format!("model {}", step.name)),
        StepKind::Tool => ("step tool", format!("tool {}", step.name)),
    };
    rsx! {
        div { class,
            div { class: "what", "{what} " span { class: "muted", "#{step.seq}" } }
            if !step.text.is_empty() {
                div { class: "text", Words { text: step.text.clone(), diff: step.text_diff.clone() } }
            }
            if !step.outcome.is_empty() {
                div { class: "outcome", Words { text: step.outcome.clone(), diff: step.outcome_diff.clone() } }
            }
        }
    }
}

/// A text, or its word diff when it has one.
#[component]
fn Words(text: String, diff: Vec<Span>) -> Element {
    if diff.is_empty() {
        return rsx! { "{text}" };
    }
    rsx! {
        for (i, span) in diff.into_iter().enumerate() {
            match span.change {
                Change::Same => rsx! { span { key: "{i}", "{span.text}" } },
                Change::Removed => rsx! { del { key: "{i}", "{span.text}" } },
                Change::Added => rsx! { ins { key: "{i}", "{span.text}" } },
            }
        }
    }
}

/// A box that ticks a session to compare (in the Sessions and Runs lists).
#[component]
pub fn CompareTick(id: SessionId) -> Element {
    let mut state = use_context::<Signal<AppState>>();
    let ticked = state.read().compare.picked.contains(&id);
    rsx! {
        input { r#type: "checkbox", class: "compare-tick", checked: ticked,
            aria_label: "Tick to compare",
            title: "tick two to four sessions, then Compare",
            onclick: move |event| {
                event.stop_propagation();
                state.write().compare.toggle(id);
            },
        }
    }
}

/// "Compare the N ticked" and "Clear", once two or more are ticked.
#[component]
pub fn ComparePicked() -> Element {
    let mut state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let picked = state.read().compare.picked.clone();
    if picked.len() < 2 {
        return rsx! {};
    }
    let count = picked.len();
    rsx! {
        div { class: "compare-bar",
            button { class: "compare-picked",
                onclick: move |_| commands.compare(state, picked.clone()),
                "Compare the {count} ticked"
            }
            button { onclick: move |_| state.write().compare.picked.clear(), "Clear" }
        }
    }
}
