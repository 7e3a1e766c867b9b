//! Runs: every headless run live (status, events, tokens, cost, memory,
//! duration), with Cancel and Kill; filtered by status, agent and words,
//! sorted by any column, a batch's runs under one line with its progress
//! and a Cancel for all of it, and the totals of what is shown. The form
//! that starts runs opens behind a button, and the approvals inbox is
//! shared by every session.

use std::collections::HashSet;

use dioxus::prelude::*;
use protocol::control::SessionSummary;
use protocol::{SessionId, Timestamp};

use crate::commands::Commands;
use crate::connection::Command;
use crate::fields::TextInput;
use crate::format;
use crate::pages::RunForm;
use crate::pages::compare::{ComparePicked, CompareTick};
use crate::pages::inbox::ApprovalsInbox;
use crate::pages::results::GroupResults;
use crate::pages::runs_table::{self, Batch, Column, Line, RunFilter, Sort, Spent, StatusFilter};
use crate::pages::status::{ShortId, StatusCell};
use crate::state::{AppState, Page, Results};

/// Lines drawn at first, and added by each "Show more": the rest of a long
/// list waits, so a page of 1,000 runs draws as fast as one of 200.
const LINES_AT_ONCE: usize = 200;
/// A batch of at most this many runs shows them; a bigger one, one line.
const OPEN_UP_TO: usize = 20;

/// The Runs page.
#[component]
pub fn RunsPage() -> Element {
    let mut state = use_context::<Signal<AppState>>();
    let mut filter = use_signal(RunFilter::default);
    let mut sort = use_signal(Sort::default);
    let mut limit = use_signal(|| LINES_AT_ONCE);
    // Batches opened or closed by hand (the others follow `OPEN_UP_TO`).
    let mut toggled = use_signal(HashSet::<SessionId>::new);
    let read = state.read();
    if read.sessions.is_none() {
        return rsx! { p { class: "empty", "Loading runs…" } };
    }
    let runs: Vec<SessionSummary> = read
        .sessions_newest_first(false)
        .into_iter()
        .cloned()
        .collect();
    let count = |keep: StatusFilter| runs.iter().filter(|r| keep.keeps(r.status)).count();
    let (queued, live, failed) = (
        count(StatusFilter::Queued),
        count(StatusFilter::Live),
        count(StatusFilter::Failed),
    );
    let mut agents: Vec<String> = runs.iter().map(|r| r.agent.clone()).collect();
    agents.sort_unstable();
    agents.dedup();
    let now = read.now;
    let has_agents = read.agents.as_ref().is_some_and(|a| !a.is_empty());
    let total_runs = runs.len();
    let (lines, shown_total) = runs_table::lines(runs, &filter.read(), sort(), now);
    let line_count = lines.len();
    let open = read.runs_form_open;
    let is_open =
        |batch: &Batch| (batch.runs.len() <= OPEN_UP_TO) != toggled.read().contains(&batch.id);
    // Draw at most `limit` rows, a batch's open runs counted.
    let mut rows = 0;
    let mut drawn = Vec::new();
    for line in lines {
        if rows >= limit() {
            break;
        }
        rows += match &line {
            Line::Batch(batch) if is_open(batch) => 1 + batch.runs.len(),
            _ => 1,
        };
        let opened = matches!(&line, Line::Batch(batch) if is_open(batch));
        drawn.push((line, opened));
    }
    let hidden = line_count - drawn.len();
    let header = move |column: Column, name: &'static str| {
        rsx! {
            th {
                button { class: "sort", title: "Sort by {name}",
                    onclick: move |_| sort.set(sort().clicked(column)),
                    "{name}{sort().arrow(column)}"
                }
            }
        }
    };
    rsx! {
        ApprovalsInbox {}
        if has_agents {
            div { class: "toolbar",
                button { class: if open { "toggle on" } else { "toggle" }, aria_expanded: open,
                    onclick: move |_| state.write().runs_form_open = !open,
                    if open { "Hide the new-runs form" } else { "New runs…" }
                }
            }
            if open {
                RunForm {}
            }
        }
        if total_runs == 0 {
            p { class: "empty",
                "No runs yet. Start some with New runs… above, or "
                code { "studio run AGENT --prompt TEXT" }
                "."
            }
        } else {
            p { class: "counts",
                span { "{total_runs} runs" }
                span { "{live} live" }
                span { "{queued} queued" }
                span { "{failed} failed, crashed or killed" }
            }
            ComparePicked {}
            GroupResults {}
            div { class: "filters",
                select { name: "status_filter", aria_label: "Status",
                    onchange: move |e| {
                        let picked = StatusFilter::ALL.into_iter().find(|f| f.label() == e.value());
                        filter.write().status = picked.unwrap_or_default();
                    },
                    for keep in StatusFilter::ALL {
                        option { value: keep.label(), selected: filter.read().status == keep, {keep.label()} }
                    }
                }
                select { name: "agent_filter", aria_label: "Agent",
                    onchange: move |e| filter.write().agent = e.value(),
                    option { value: "", selected: filter.read().agent.is_empty(), "any agent" }
                    for agent in agents {
                        option { key: "{agent}", value: "{agent}", selected: filter.read().agent == agent, "{agent}" }
                    }
                }
                TextInput { class: "search", name: "run_filter", aria_label: "Label, title or id",
                    placeholder: "Label, title or id",
                    value: filter.read().text.clone(),
                    oninput: move |text| filter.write().text = text,
                }
            }
            table { class: "runs",
                thead {
                    tr {
                        {header(Column::Created, "id")}
                        {header(Column::Name, "run")}
                        {header(Column::Agent, "agent")}
                        {header(Column::Status, "status")}
                        {header(Column::Events, "events")}
                        {header(Column::Tokens, "tokens")}
                        {header(Column::Cost, "cost")}
                        {header(Column::Memory, "memory")}
                        {header(Column::Duration, "duration")}
                        th {}
                    }
                }
                tbody {
                    for (line, opened) in drawn {
                        match line {
                            Line::Run(run) => rsx! { RunRow { key: "{run.id}", run, now } },
                            Line::Batch(batch) => rsx! {
                                BatchRow { key: "batch-{batch.id}", batch: batch.clone(), opened,
                                    name: read.groups.get(&batch.id).map(|g| g.name.clone()),
                                    on_toggle: move |id| {
                                        let mut toggled = toggled.write();
                                        if !toggled.remove(&id) {
                                            toggled.insert(id);
                                        }
                                    },
                                }
                                if opened {
                                    for run in batch.runs {
                                        RunRow { key: "{run.id}", run, now, in_batch: true }
                                    }
                                }
                            },
                        }
                    }
                }
                tfoot {
                    TotalsRow { spent: shown_total, of: total_runs }
                }
            }
            if hidden > 0 {
                button { class: "more", onclick: move |_| limit.set(limit() + LINES_AT_ONCE),
                    "Show more ({hidden} not shown)"
                }
            }
        }
    }
}

/// Why a figure starts with `≈`.
const ESTIMATE_HINT: &str = "≈ estimated from the text sent and streamed, for responses whose usage has not arrived (or never will: cut short)";

/// Tokens and cost as a row shows them, `≈` when part is estimated.
fn spent_cells(spent: &Spent) -> (String, String) {
    let mark = if spent.estimated { "≈" } else { "" };
    let usage = protocol::event::Usage {
        input_tokens: spent.input_tokens,
        output_tokens: spent.output_tokens,
        ..Default::default()
    };
    (
        format!("{mark}{}", studio_client::human::tokens(&usage)),
        format!("{mark}{}", studio_client::human::usd(spent.cost_usd)),
    )
}

/// A batch: how far it got, its figures, a Cancel for all of it, and a
/// toggle that shows or hides its runs.
#[component]
fn BatchRow(
    batch: Batch,
    opened: bool,
    /// The group's name, once listed.
    name: Option<String>,
    on_toggle: EventHandler<SessionId>,
) -> Element {
    let commands = use_context::<Commands>();
    let mut state = use_context::<Signal<AppState>>();
    let (ended, left) = batch.progress();
    let total = batch.runs.len();
    let mut agents: Vec<&str> = batch.runs.iter().map(|r| r.agent.as_str()).collect();
    agents.sort_unstable();
    agents.dedup();
    let agents = agents.join(", ");
    let events: u64 = batch.runs.iter().map(|r| r.events).sum();
    let (tokens, cost) = spent_cells(&batch.spent);
    let live: Vec<SessionId> = batch
        .runs
        .iter()
        .filter(|r| !r.status.is_terminal())
        .map(|r| r.id)
        .collect();
    let failed = batch
        .runs
        .iter()
        .filter(|r| StatusFilter::Failed.keeps(r.status))
        .count();
    let id = batch.id;
    let hint = batch.spent.estimated.then_some(ESTIMATE_HINT);
    rsx! {
        tr { class: "batch",
            td {
                button { class: "expand", aria_expanded: opened, title: if opened { "Hide its runs" } else { "Show its runs" },
                    onclick: move |_| on_toggle.call(id),
                    if opened { "▾" } else { "▸" }
                }
                ShortId { id }
            }
            td { class: "name",
                match name {
                    Some(name) => rsx! { "{name}" div { class: "muted", "group of {total}" } },
                    None => rsx! { "batch of {total}" div { class: "muted", {format::session_name(&batch.first)} } },
                }
            }
            td { "{agents}" }
            td {
                progress { max: "{total}", value: "{ended}" }
                div { class: "muted batch-progress",
                    "{ended}/{total} ended"
                    if failed > 0 { " · {failed} failed" }
                    if left > 0 { " · {left} to go" }
                }
            }
            td { class: "num", "{events}" }
            td { class: "num", title: hint, "{tokens}" }
            td { class: "num", title: hint, "{cost}" }
            td {}
            td { class: "num", {format::duration(batch.spent.micros)} }
            td {
                button { title: "The group's results table: each run's answer, tokens, cost and time",
                    onclick: move |_| {
                        state.write().results = Some(Results { group: id, shown: None });
                        commands.send(Command::Results(id));
                    },
                    "Results"
                }
                if !live.is_empty() {
                    button { title: "Cancel every run of the batch still live or queued",
                        onclick: move |_| {
                            for run in &live {
                                commands.send(Command::Cancel(*run));
                            }
                        },
                        "Cancel batch"
                    }
                }
            }
        }
    }
}

/// The totals of the runs shown (the filter's, not only the drawn ones).
#[component]
fn TotalsRow(spent: Spent, of: usize) -> Element {
    let (tokens, cost) = spent_cells(&spent);
    let shown = if spent.runs == of {
        format!("all {of} runs")
    } else {
        format!("{} of {of} runs", spent.runs)
    };
    rsx! {
        tr { class: "totals",
            th { colspan: 5, scope: "row", "Total of {shown}" }
            td { class: "num", "{tokens}" }
            td { class: "num", "{cost}" }
            td {}
            td { class: "num", {format::duration(spent.micros)} }
            td {}
        }
    }
}

/// One run.
#[component]
fn RunRow(
    run: SessionSummary,
    now: Timestamp,
    /// Drawn under its batch's line.
    #[props(default)]
    in_batch: bool,
) -> Element {
    let commands = use_context::<Commands>();
    let mut state = use_context::<Signal<AppState>>();
    let id = run.id;
    let live = !run.status.is_terminal();
    let spent_hint = (!run.estimated.is_empty()).then_some(ESTIMATE_HINT);
    rsx! {
        tr { class: if in_batch { "in-batch" },
            td {
                CompareTick { id }
                ShortId { id }
                div { class: "muted",
                    time { title: "queued at {run.created_at}", {format::ago(run.created_at, now)} }
                }
            }
            td { class: "name",
                {format::session_name(&run)}
                if let Some(label) = run.label.clone().filter(|l| *l != format::session_name(&run)) {
                    div { class: "muted", "{label}" }
                }
                if let Some(parent) = run.parent {
                    div { class: "muted lineage", "goes on from " ShortId { id: parent }
                        if let Some(at) = run.branched_at { " at #{at}" }
                    }
                }
            }
            td { "{run.agent}" }
            td { StatusCell { session: run.clone(), now } }
            td { class: "num", "{run.events}" }
            td { class: "num", title: spent_hint, {format::session_tokens(&run)} }
            td { class: "num", title: spent_hint, {format::session_cost(&run)} }
            td { class: "num", {run.rss_bytes.map(format::bytes).unwrap_or_default()} }
            td { class: "num", {format::elapsed(run.started_at, run.ended_at, now)} }
            td {
                if live {
                    button { onclick: move |_| commands.send(Command::Cancel(id)), "Cancel" }
                    button { onclick: move |_| commands.send(Command::Kill(id)), "Kill" }
                }
                button {
                    onclick: move |_| {
                        state.write().inspected = Some((id, Vec::new()));
                        state.write().page = Page::Inspector;
                        commands.send(Command::Inspect(id));
                    },
                    "Inspect"
                }
                if !live {
                    button { title: "start it again, as it was started",
                        onclick: move |_| commands.send(Command::Replay { session: id, spec: Box::default(), inspect: false }), "Run again" }
                }
            }
        }
    }
}
