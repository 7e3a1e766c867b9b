//! `studio compare A B [C D]`: sessions side by side. The figures with
//! each one's delta against the first, where they first part, and their
//! steps aligned (around that point by default), texts that differ from
//! the first session's shown as a word diff: `[-removed-]{+added+}`.

use clap::Args;
use comfy_table::{Cell, CellAlignment};
use protocol::control::{
    Change, Comparison, ControlRequest, ControlResponse, MAX_COMPARE_ROWS, RowWindow, Span, Step,
    StepKind,
};
use studio_client::Client;
use studio_client::changes::{checks_passed, side_by_side};
use studio_client::human::{first_line, usd};

use super::output::{print_json, table};
use super::{CliError, Ctx};

/// Characters of a step shown in a cell.
const CELL_CHARS: usize = 60;

#[derive(Args, Debug)]
pub(crate) struct CompareArgs {
    /// Two to four sessions (ids, short ids or prefixes); the first is
    /// the one the others are measured against.
    #[arg(num_args = 2..=4, required = true, value_name = "ID")]
    sessions: Vec<String>,
    /// Show the steps from this row (0 is the first) instead of around
    /// the first divergence.
    #[arg(long, value_name = "ROW", conflicts_with = "all")]
    from: Option<u64>,
    /// How many rows of steps to show.
    #[arg(long, default_value_t = 40, value_name = "N", conflicts_with = "all")]
    rows: u32,
    /// Every row of steps (asked for in pages).
    #[arg(long)]
    all: bool,
}

pub(crate) async fn execute(args: CompareArgs, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let comparison = if args.all {
        every_row(&client, &args.sessions).await?
    } else {
        let window = args
            .from
            .map_or(RowWindow::AroundDivergence, RowWindow::From);
        ask(&client, &args.sessions, window, args.rows).await?
    };
    if ctx.json {
        let value = serde_json::to_value(&comparison)
            .map_err(|e| CliError::msg(format!("cannot write the comparison as JSON: {e}")))?;
        print_json(&value);
        return Ok(());
    }
    outln!("{}", figures_table(&comparison));
    let changes: Vec<_> = comparison
        .sessions
        .iter()
        .map(|s| s.changes.as_ref())
        .collect();
    let files = side_by_side(&changes);
    if !files.is_empty() {
        let mut header = vec!["FILE CHANGED".to_owned()];
        header.extend(comparison.sessions.iter().map(|s| s.summary.id.short()));
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let mut t = table(&header);
        for row in files {
            let mut cells = vec![Cell::new(&row.path)];
            cells.extend(
                row.cells
                    .into_iter()
                    .map(|c| Cell::new(c.unwrap_or_default()).set_alignment(CellAlignment::Right)),
            );
            t.add_row(cells);
        }
        outln!("\n{t}");
    }
    match comparison.first_divergence {
        Some(row) => outln!(
            "\nthe sessions part at row {row} of {}",
            comparison.total_rows
        ),
        None => outln!(
            "\nthe sessions take the same {} steps",
            comparison.total_rows
        ),
    }
    if comparison.approximate {
        outln!("(long and very different: the steps after a point are paired in order)");
    }
    if !comparison.rows.is_empty() {
        outln!("\n{}", steps_table(&comparison));
        let shown_to = comparison.from_row + comparison.rows.len() as u64;
        if comparison.from_row > 0 || shown_to < comparison.total_rows {
            outln!(
                "rows {} to {} of {} (--from ROW, --rows N or --all for others)",
                comparison.from_row,
                shown_to - 1,
                comparison.total_rows
            );
        }
    }
    Ok(())
}

async fn ask(
    client: &Client,
    sessions: &[String],
    window: RowWindow,
    max_rows: u32,
) -> Result<Comparison, CliError> {
    let request = ControlRequest::Compare {
        sessions: sessions.to_vec(),
        window,
        max_rows,
    };
    match client.request(request).await? {
        ControlResponse::Compared(comparison) => Ok(*comparison),
        other => Err(CliError::msg(format!(
            "unexpected answer to compare: {other:?}"
        ))),
    }
}

/// The comparison with every row, page after page.
async fn every_row(client: &Client, sessions: &[String]) -> Result<Comparison, CliError> {
    let mut whole = ask(client, sessions, RowWindow::From(0), MAX_COMPARE_ROWS).await?;
    while (whole.rows.len() as u64) < whole.total_rows {
        let from = whole.rows.len() as u64;
        let page = ask(client, sessions, RowWindow::From(from), MAX_COMPARE_ROWS).await?;
        if page.rows.is_empty() {
            break;
        }
        whole.rows.extend(page.rows);
    }
    Ok(whole)
}

/// The figures, a column per session, each after the first with its delta.
fn figures_table(comparison: &Comparison) -> comfy_table::Table {
    let mut header = vec![String::new()];
    header.extend(comparison.sessions.iter().map(|s| s.summary.id.short()));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut t = table(&header);
    let text_row = |name: &str, values: Vec<String>| {
        let mut row = vec![Cell::new(name)];
        row.extend(values.into_iter().map(Cell::new));
        row
    };
    let sessions = &comparison.sessions;
    t.add_row(text_row(
        "title",
        sessions
            .iter()
            .map(|s| first_line(&s.summary.title, 30))
            .collect(),
    ));
    t.add_row(text_row(
        "agent",
        sessions.iter().map(|s| s.summary.agent.clone()).collect(),
    ));
    t.add_row(text_row(
        "status",
        sessions
            .iter()
            .map(|s| s.summary.status.to_string())
            .collect(),
    ));
    if sessions.iter().any(|s| !s.checks.is_empty()) {
        t.add_row(text_row(
            "checks",
            sessions.iter().map(|s| checks_passed(&s.checks)).collect(),
        ));
    }
    if sessions.iter().any(|s| s.changes.is_some()) {
        t.add_row(text_row(
            "changes",
            sessions
                .iter()
                .map(|s| s.changes.as_ref().map(|c| c.short()).unwrap_or_default())
                .collect(),
        ));
    }
    let Some(base) = sessions.first() else {
        return t;
    };
    let rows: Vec<Vec<(&str, f64, f64)>> = sessions
        .iter()
        .map(|s| s.figures.deltas(&base.figures))
        .collect();
    for (i, (name, ..)) in rows[0].iter().enumerate() {
        let mut row = vec![Cell::new(name)];
        for (column, figures) in rows.iter().enumerate() {
            let (_, value, delta) = figures[i];
            let shown = figure(name, value);
            let shown = if column == 0 || delta == 0.0 {
                shown
            } else {
                let sign = if delta > 0.0 { "+" } else { "-" };
                format!("{shown} ({sign}{})", figure(name, delta.abs()))
            };
            row.push(Cell::new(shown).set_alignment(CellAlignment::Right));
        }
        t.add_row(row);
    }
    t
}

fn figure(name: &str, value: f64) -> String {
    if name == "cost usd" {
        usd(value)
    } else {
        format!("{value}")
    }
}

/// The window of aligned steps: `=` where all took the same step.
fn steps_table(comparison: &Comparison) -> comfy_table::Table {
    let mut header = vec!["ROW".to_owned(), String::new()];
    header.extend(comparison.sessions.iter().map(|s| s.summary.id.short()));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut t = table(&header);
    for (at, row) in (comparison.from_row..).zip(&comparison.rows) {
        let mark = if row.same {
            "="
        } else if Some(at) == comparison.first_divergence {
            "≠ first"
        } else {
            "≠"
        };
        let mut cells = vec![Cell::new(at), Cell::new(mark)];
        cells.extend(
            row.cells
                .iter()
                .map(|cell| Cell::new(cell_text(cell.as_ref()))),
        );
        t.add_row(cells);
    }
    t
}

/// One step in a line: what it is, then its text (as a diff against the
/// first session's where it has one), then its outcome.
fn cell_text(step: Option<&Step>) -> String {
    let Some(step) = step else {
        return String::new();
    };
    let what = match step.kind {
        StepKind::User => "you".to_owned(),
        StepKind::Model => format!("model {}", step.name),
        StepKind::Tool => format!("tool {}", step.name),
    };
    let text = shown(&step.text, &step.text_diff);
    let outcome = shown(&step.outcome, &step.outcome_diff);
    let line = match (text.is_empty(), outcome.is_empty()) {
        (_, true) => format!("{what}: {text}"),
        (true, false) => format!("{what} → {outcome}"),
        (false, false) => format!("{what}: {text} → {outcome}"),
    };
    first_line(&line.replace('\n', " "), CELL_CHARS)
}

fn shown(text: &str, diff: &[Span]) -> String {
    if diff.is_empty() {
        return text.to_owned();
    }
    diff.iter()
        .map(|span| match span.change {
            Change::Same => span.text.clone(),
            Change::Removed => format!("[-{}-]", span.text),
            Change::Added => format!("{{+{}+}}", span.text),
        })
        .collect()
}
