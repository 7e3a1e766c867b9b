//! A group's results, one record per run, for tools and people: JSON lines
//! and CSV (`studio export --group ID`) with the same fields
//! ([`RESULT_FIELDS`], documented in `docs/results.md` and kept stable), and
//! a Markdown table with the group's totals.
//!
//! Answers are the model's text, never trusted as Markdown: in the table
//! each is its first line with markup characters (`|` too) escaped, and
//! below it each is whole in a fence no backtick run inside can close.

use std::fmt::Write;

use protocol::control::{GroupRun, GroupSummary};
use protocol::workspace::Changes;
use serde_json::{Value, json};

use crate::export::session_duration;
use crate::human::{count, duration, first_line, usd};
use crate::transcript::{fenced, inline};

/// The fields of a result record, in the order CSV writes them.
pub const RESULT_FIELDS: [&str; 24] = [
    "group",
    "group_name",
    "run",
    "short_id",
    "label",
    "agent",
    "provider",
    "model",
    "status",
    "preferred",
    "answer",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "reasoning_tokens",
    "cost_usd",
    "duration_ms",
    "started_at",
    "ended_at",
    "checks_passed",
    "checks_failed",
    "files_changed",
    "lines_added",
    "lines_removed",
];

/// One run's record as a JSON object with the fields of [`RESULT_FIELDS`].
pub fn run_json(group: &GroupSummary, run: &GroupRun) -> Value {
    let s = &run.summary;
    let usage = s.totals.as_ref().map(|t| &t.usage);
    json!({
        "group": group.id.to_string(),
        "group_name": group.name,
        "run": s.id.to_string(),
        "short_id": s.id.short(),
        "label": s.label,
        "agent": s.agent,
        "provider": run.provider,
        "model": run.model,
        "status": s.status.as_str(),
        "preferred": group.preferred == Some(s.id),
        "answer": run.answer,
        "input_tokens": usage.map(|u| u.input_tokens),
        "output_tokens": usage.map(|u| u.output_tokens),
        "cache_read_tokens": usage.map(|u| u.cache_read_tokens),
        "reasoning_tokens": usage.map(|u| u.reasoning_tokens),
        "cost_usd": s.totals.as_ref().map(|t| t.cost_usd),
        "duration_ms": session_duration(s).map(|d| d.as_millis() as u64),
        "started_at": s.started_at.map(|t| t.to_string()),
        "ended_at": s.ended_at.map(|t| t.to_string()),
        "checks_passed": checked(group, run).then(|| passed(run)),
        "checks_failed": checked(group, run).then(|| run.checks.len() - passed(run)),
        "files_changed": run.changes.as_ref().map(Changes::file_count),
        "lines_added": run.changes.as_ref().map(|c| c.added),
        "lines_removed": run.changes.as_ref().map(|c| c.removed),
        "checks": run.checks,
    })
}

/// Whether any run has its own workspace's changes: the results show them.
pub fn any_changes(runs: &[GroupRun]) -> bool {
    runs.iter().any(|r| r.changes.is_some())
}

/// `2 files +5 -1`, `no changes`, or empty for a run without its own
/// workspace (or not ended).
pub fn changes_cell(run: &GroupRun) -> String {
    run.changes
        .as_ref()
        .map_or_else(String::new, Changes::short)
}

/// Whether the run is checked at all: its group has checks, or it has
/// (a batch line's own).
fn checked(group: &GroupSummary, run: &GroupRun) -> bool {
    !group.checks.is_empty() || !run.checks.is_empty()
}

/// Whether any run of the group is checked: the results show checks.
pub fn any_checks(group: &GroupSummary, runs: &[GroupRun]) -> bool {
    !group.checks.is_empty() || runs.iter().any(|r| !r.checks.is_empty())
}

/// How many of a run's checks passed.
fn passed(run: &GroupRun) -> usize {
    run.checks.iter().filter(|c| c.passed).count()
}

/// `2/3` checks passed, or empty when the group has none (`-` before the
/// run completed).
pub fn checks_cell(group: &GroupSummary, run: &GroupRun) -> String {
    match (group.checks.len(), run.checks.len()) {
        (0, 0) => String::new(),
        (_, 0) => "-".to_owned(),
        (_, of) => format!("{}/{of}", passed(run)),
    }
}

/// How the runs of one agent and model did on the group's checks.
#[derive(Clone, Debug, PartialEq)]
pub struct PassRate {
    /// `agent · model`.
    pub key: String,
    /// Runs whose checks were recorded (they completed).
    pub checked: u32,
    /// Of them, those that passed every check.
    pub passed: u32,
    /// US dollars over all the runs of this agent and model.
    pub cost_usd: f64,
}

impl PassRate {
    /// `67%`, or `-` before a run was checked.
    pub fn rate(&self) -> String {
        match self.checked {
            0 => "-".to_owned(),
            n => format!("{:.0}%", f64::from(self.passed) * 100.0 / f64::from(n)),
        }
    }
}

/// Pass rates by agent and model, in the order first seen: "which is
/// better for this, and at what price" (empty when the group has no
/// checks).
pub fn pass_rates(group: &GroupSummary, runs: &[GroupRun]) -> Vec<PassRate> {
    if !any_checks(group, runs) {
        return Vec::new();
    }
    let mut rates: Vec<PassRate> = Vec::new();
    for run in runs {
        let key = format!("{} · {}", run.summary.agent, run.model);
        let at = match rates.iter().position(|r| r.key == key) {
            Some(at) => at,
            None => {
                rates.push(PassRate {
                    key,
                    checked: 0,
                    passed: 0,
                    cost_usd: 0.0,
                });
                rates.len() - 1
            }
        };
        let rate = &mut rates[at];
        rate.cost_usd += run.summary.totals.as_ref().map_or(0.0, |t| t.cost_usd);
        if !run.checks.is_empty() {
            rate.checked += 1;
            rate.passed += u32::from(run.checks.iter().all(|c| c.passed));
        }
    }
    rates
}

/// The records as JSON lines, a run a line.
pub fn jsonl(group: &GroupSummary, runs: &[GroupRun]) -> String {
    runs.iter()
        .map(|run| format!("{}\n", run_json(group, run)))
        .collect()
}

/// The records as CSV: a header of [`RESULT_FIELDS`], then a row a run
/// (a missing value is an empty cell).
pub fn csv(group: &GroupSummary, runs: &[GroupRun]) -> Result<String, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(RESULT_FIELDS)?;
    for run in runs {
        let record = run_json(group, run);
        out.write_record(RESULT_FIELDS.iter().map(|field| match &record[field] {
            Value::Null => String::new(),
            Value::String(text) => text.clone(),
            other => other.to_string(),
        }))?;
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The group as a Markdown document: its totals, then a table of its runs
/// (the preferred one marked ★), then each answer in full under its run.
pub fn markdown(group: &GroupSummary, runs: &[GroupRun]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", inline(&group.name));
    let _ = writeln!(
        out,
        "Group `{}` · {} runs · {} · {} tokens in, {} out · {}\n",
        group.id.short(),
        group.runs,
        status_counts(group),
        count(group.usage.input_tokens),
        count(group.usage.output_tokens),
        usd(group.cost_usd),
    );
    // A column of checks passed only when runs are checked.
    let checked = any_checks(group, runs);
    let checks_head = if checked { " checks |" } else { "" };
    let changed = any_changes(runs);
    let changes_head = if changed { " changes |" } else { "" };
    let _ = writeln!(
        out,
        "| | run | label | agent | model | status | answer |{checks_head}{changes_head} tokens in/out | cost | duration |"
    );
    let rule = format!(
        "{}{}",
        if checked { "|---" } else { "" },
        if changed { "|---" } else { "" }
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---{rule}|---|---|---|");
    for run in runs {
        let s = &run.summary;
        let usage = s.totals.as_ref().map(|t| &t.usage);
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {} | {} | {} |{}{} {} | {} | {} |",
            if group.preferred == Some(s.id) {
                "★"
            } else {
                ""
            },
            s.id.short(),
            inline(s.label.as_deref().unwrap_or("")),
            inline(&s.agent),
            inline(&run.model),
            s.status.as_str(),
            inline(&first_line(&run.answer, 80)),
            if checked {
                format!(" {} |", checks_cell(group, run))
            } else {
                String::new()
            },
            if changed {
                format!(" {} |", changes_cell(run))
            } else {
                String::new()
            },
            usage.map_or_else(String::new, |u| format!(
                "{}/{}",
                u.input_tokens, u.output_tokens
            )),
            s.totals
                .as_ref()
                .map_or_else(String::new, |t| usd(t.cost_usd)),
            session_duration(s).map_or_else(String::new, duration),
        );
    }
    out.push('\n');
    let rates = pass_rates(group, runs);
    if !rates.is_empty() {
        if !group.checks.is_empty() {
            let names: Vec<String> = group.checks.iter().map(|c| inline(&c.name())).collect();
            let _ = writeln!(out, "Checks: {}\n", names.join(", "));
        }
        let _ = writeln!(out, "| agent · model | passed every check | cost |");
        let _ = writeln!(out, "|---|---|---|");
        for rate in &rates {
            let _ = writeln!(
                out,
                "| {} | {} ({} of {}) | {} |",
                inline(&rate.key),
                rate.rate(),
                rate.passed,
                rate.checked,
                usd(rate.cost_usd)
            );
        }
        out.push('\n');
    }
    for run in runs.iter().filter(|r| !r.answer.is_empty()) {
        let s = &run.summary;
        let _ = writeln!(
            out,
            "## `{}` {} · {}\n",
            s.id.short(),
            inline(s.label.as_deref().unwrap_or(&s.agent)),
            inline(&run.model)
        );
        fenced(&mut out, "", &run.answer);
    }
    out
}

/// `3 completed, 1 failed`.
pub fn status_counts(group: &GroupSummary) -> String {
    let parts: Vec<String> = group
        .by_status
        .iter()
        .map(|c| format!("{} {}", c.runs, c.status.as_str()))
        .collect();
    parts.join(", ")
}
