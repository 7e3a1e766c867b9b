//! Two to four sessions side by side (`studio compare`, the app's Compare
//! view): their steps (`steps`) aligned into rows (`align`), the first
//! row where they part, each text against the first session's word by
//! word (`words`), and their figures.
//!
//! A session that goes on from another (a branch, a replay) is compared
//! with what it inherited in front, so an original and its replay line up
//! until the replayed turn; its figures count only its own events.

mod align;
mod steps;
mod words;

use protocol::checks::CheckOutcome;
use protocol::control::{
    COMPARE_TEXT_CHARS, Compared, Comparison, Figures, MAX_COMPARE_ROWS, Row, RowWindow,
    SessionSummary, Step,
};
use protocol::event::{Event, EventKind};
use protocol::workspace::Changes;

use align::{Sequence, align};
use steps::{Keyed, steps};

/// Rows shown before the first divergence in a window around it.
const CONTEXT_ROWS: u64 = 3;

/// One session as it is compared.
pub struct Input {
    /// Its summary.
    pub summary: SessionSummary,
    /// What it inherited as a branch or replay (empty for neither).
    pub inherited: Vec<Event>,
    /// Its own events.
    pub own: Vec<Event>,
}

/// Compares `sessions` (the first is the base) and keeps the rows of
/// `window`, at most `max_rows` (and [`MAX_COMPARE_ROWS`]).
pub fn compare(sessions: Vec<Input>, window: RowWindow, max_rows: u32) -> Comparison {
    let steps: Vec<Vec<Keyed>> = sessions
        .iter()
        .map(|s| steps(s.inherited.iter().chain(&s.own)))
        .collect();
    let sequences: Vec<Sequence> = steps
        .iter()
        .map(|steps| Sequence {
            keys: steps.iter().map(|k| k.key).collect(),
            kinds: steps.iter().map(|k| k.step.kind as u8).collect(),
        })
        .collect();
    let alike =
        |other: usize, b: usize, o: usize| words::alike(&steps[0][b].step, &steps[other][o].step);
    let alignment = align(&sequences, &alike);
    let same = |row: &[Option<usize>]| {
        let mut keys = row
            .iter()
            .enumerate()
            .map(|(session, cell)| cell.map(|i| steps[session][i].key));
        let first = keys.next().flatten();
        first.is_some() && keys.all(|key| key == first)
    };
    let first_divergence = alignment
        .rows
        .iter()
        .position(|row| !same(row))
        .map(|row| row as u64);
    let total_rows = alignment.rows.len() as u64;
    let from_row = match window {
        RowWindow::From(row) => row.min(total_rows),
        RowWindow::AroundDivergence => {
            first_divergence.map_or(0, |row| row.saturating_sub(CONTEXT_ROWS))
        }
    };
    let max_rows = u64::from(max_rows.min(MAX_COMPARE_ROWS));
    let rows = alignment
        .rows
        .iter()
        .skip(usize::try_from(from_row).unwrap_or(usize::MAX))
        .take(usize::try_from(max_rows).unwrap_or(usize::MAX))
        .map(|row| Row {
            same: same(row),
            cells: cells(row, &steps),
        })
        .collect();
    let compared = sessions
        .into_iter()
        .zip(&steps)
        .map(|(session, steps)| {
            let own = steps
                .iter()
                .filter(|k| k.step.session == session.summary.id);
            let figures = figures(&session.own, own.count() as u64);
            let (checks, changes) = outcomes(&session.own);
            Compared {
                summary: session.summary,
                figures,
                checks,
                changes,
            }
        })
        .collect();
    Comparison {
        sessions: compared,
        first_divergence,
        total_rows,
        from_row,
        rows,
        approximate: alignment.approximate,
    }
}

/// A row's steps, cut to [`COMPARE_TEXT_CHARS`], each against the first
/// session's.
fn cells(row: &[Option<usize>], steps: &[Vec<Keyed>]) -> Vec<Option<Step>> {
    let cut = |i: Option<usize>, session: usize| {
        i.map(|i| {
            let mut step = steps[session][i].step.clone();
            step.text = cut_text(&step.text);
            step.outcome = cut_text(&step.outcome);
            step
        })
    };
    let base = cut(row.first().copied().flatten(), 0);
    let mut cells = vec![base.clone()];
    for (session, cell) in row.iter().enumerate().skip(1) {
        let mut step = cut(*cell, session);
        if let (Some(step), Some(base)) = (&mut step, &base) {
            step.text_diff = words::diff(&base.text, &step.text);
            step.outcome_diff = words::diff(&base.outcome, &step.outcome);
        }
        cells.push(step);
    }
    cells
}

fn cut_text(text: &str) -> String {
    match text.char_indices().nth(COMPARE_TEXT_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// A session's figures over its own events.
/// How a session's checks came out and what it changed in its own
/// workspace, as its last end recorded them.
fn outcomes(own: &[Event]) -> (Vec<CheckOutcome>, Option<Changes>) {
    let mut checks = Vec::new();
    let mut changes = None;
    for event in own {
        match &event.kind {
            // A later life's outcomes replace an earlier one's.
            EventKind::SessionResumed { .. } => checks.clear(),
            EventKind::CheckResult { outcome } => checks.push(outcome.clone()),
            EventKind::WorkspaceChanged { changes: found, .. } => changes = Some(found.clone()),
            _ => {}
        }
    }
    (checks, changes)
}

fn figures(own: &[Event], steps: u64) -> Figures {
    let stats = studio_client::stats::stats(own);
    let answer = own.iter().rev().find_map(|e| match &e.kind {
        EventKind::MessageAssistant { text } => Some(text.chars().count() as u64),
        _ => None,
    });
    Figures {
        input_tokens: stats.input_tokens,
        output_tokens: stats.output_tokens,
        cached_tokens: stats.cached_tokens,
        cost_usd: stats.cost_usd,
        wall_ms: stats.span_micros / 1000,
        model_ms: stats.llm_micros / 1000,
        tool_ms: stats.tool_micros / 1000,
        requests: stats.requests,
        tool_calls: stats.tool_calls,
        approved: stats.approved,
        denied: stats.denied,
        errors: stats.errors,
        answer_chars: answer.unwrap_or(0),
        steps,
    }
}
