//! What the Runs table shows, worked out apart from drawing it: the runs
//! a filter keeps (by status, agent, and words of the label or title),
//! sorted by any column, a batch's runs gathered under one line, and the
//! totals of what is shown.

use std::cmp::Ordering;
use std::collections::HashMap;

use protocol::control::SessionSummary;
use protocol::{SessionId, SessionStatus, Timestamp};

/// Which statuses the table keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StatusFilter {
    /// Every run.
    #[default]
    All,
    /// Starting, running or waiting (not queued).
    Live,
    /// Waiting for a free slot.
    Queued,
    /// Waiting for a person.
    Waiting,
    /// Completed.
    Completed,
    /// Failed, crashed, killed or corrupt.
    Failed,
    /// Cancelled or interrupted.
    Stopped,
}

impl StatusFilter {
    /// Every filter, in the order the menu lists them.
    pub const ALL: [StatusFilter; 7] = [
        StatusFilter::All,
        StatusFilter::Live,
        StatusFilter::Queued,
        StatusFilter::Waiting,
        StatusFilter::Completed,
        StatusFilter::Failed,
        StatusFilter::Stopped,
    ];

    /// Its name in the menu (and its value).
    pub fn label(self) -> &'static str {
        match self {
            StatusFilter::All => "any status",
            StatusFilter::Live => "live",
            StatusFilter::Queued => "queued",
            StatusFilter::Waiting => "waiting",
            StatusFilter::Completed => "completed",
            StatusFilter::Failed => "failed, crashed or killed",
            StatusFilter::Stopped => "cancelled or interrupted",
        }
    }

    /// Whether a run of `status` is kept.
    pub fn keeps(self, status: SessionStatus) -> bool {
        use SessionStatus as S;
        match self {
            StatusFilter::All => true,
            StatusFilter::Live => matches!(status, S::Starting | S::Running | S::Waiting),
            StatusFilter::Queued => status == S::Queued,
            StatusFilter::Waiting => status == S::Waiting,
            StatusFilter::Completed => status == S::Completed,
            StatusFilter::Failed => {
                matches!(status, S::Failed | S::Crashed | S::Killed | S::Corrupt)
            }
            StatusFilter::Stopped => matches!(status, S::Cancelled | S::Interrupted),
        }
    }
}

/// What the table keeps.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunFilter {
    /// By status.
    pub status: StatusFilter,
    /// One agent (empty: any).
    pub agent: String,
    /// Words that the label, title or id must all hold (any case).
    pub text: String,
}

impl RunFilter {
    /// Whether `run` is kept.
    pub fn keeps(&self, run: &SessionSummary) -> bool {
        if !self.status.keeps(run.status) || (!self.agent.is_empty() && run.agent != self.agent) {
            return false;
        }
        let haystack = format!(
            "{} {} {}",
            run.label.as_deref().unwrap_or_default(),
            run.title,
            run.id
        )
        .to_lowercase();
        self.text
            .split_whitespace()
            .all(|word| haystack.contains(&word.to_lowercase()))
    }
}

/// A column to sort by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Column {
    /// When it was queued (newest first, by default).
    #[default]
    Created,
    /// Its name (title, label).
    Name,
    /// Its agent.
    Agent,
    /// Its status.
    Status,
    /// Events recorded.
    Events,
    /// Tokens, reported and estimated.
    Tokens,
    /// Cost, reported and estimated.
    Cost,
    /// Memory now.
    Memory,
    /// Time it ran (or has run).
    Duration,
}

/// How the table is sorted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort {
    /// By which column.
    pub column: Column,
    /// Largest, latest or last first.
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Sort {
            column: Column::Created,
            descending: true,
        }
    }
}

impl Sort {
    /// The sort after a click on `column`'s header: that column, the other
    /// way round if it was already the one.
    pub fn clicked(self, column: Column) -> Sort {
        if self.column == column {
            Sort {
                column,
                descending: !self.descending,
            }
        } else {
            Sort {
                column,
                descending: !matches!(column, Column::Name | Column::Agent | Column::Status),
            }
        }
    }

    /// The arrow a header shows: `▼`, `▲`, or nothing for another column.
    pub fn arrow(self, column: Column) -> &'static str {
        match (self.column == column, self.descending) {
            (false, _) => "",
            (true, true) => " ▼",
            (true, false) => " ▲",
        }
    }
}

/// Tokens, cost and time of some runs: reported and estimated together.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Spent {
    /// Runs counted.
    pub runs: usize,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// US dollars.
    pub cost_usd: f64,
    /// Part of the figures is estimated.
    pub estimated: bool,
    /// Time run, summed, in microseconds.
    pub micros: u64,
}

impl Spent {
    /// Adds one run's figures, its time counted until `now` while live.
    pub fn add(&mut self, run: &SessionSummary, now: Timestamp) {
        self.runs += 1;
        if let Some(totals) = &run.totals {
            self.input_tokens += totals.usage.input_tokens;
            self.output_tokens += totals.usage.output_tokens;
            self.cost_usd += totals.cost_usd;
        }
        self.input_tokens += run.estimated.usage.input_tokens;
        self.output_tokens += run.estimated.usage.output_tokens;
        self.cost_usd += run.estimated.cost_usd;
        self.estimated |= !run.estimated.is_empty();
        self.micros += ran_micros(run, now);
    }

    /// The figures of `runs`.
    pub fn of<'a>(runs: impl IntoIterator<Item = &'a SessionSummary>, now: Timestamp) -> Spent {
        let mut spent = Spent::default();
        for run in runs {
            spent.add(run, now);
        }
        spent
    }
}

/// How long `run` ran, or has run until `now`.
fn ran_micros(run: &SessionSummary, now: Timestamp) -> u64 {
    run.started_at.map_or(0, |start| {
        run.ended_at.unwrap_or(now).0.saturating_sub(start.0)
    })
}

/// A batch's runs under one line.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// Its first run's id, which names it.
    pub id: SessionId,
    /// The earliest of its runs shown (what it sorts by, where its runs'
    /// figures do not add up).
    pub first: SessionSummary,
    /// Its runs the filter keeps, sorted.
    pub runs: Vec<SessionSummary>,
    /// Their figures.
    pub spent: Spent,
}

impl Batch {
    /// How many of its runs have ended, and how many are live or queued.
    pub fn progress(&self) -> (usize, usize) {
        let ended = self.runs.iter().filter(|r| r.status.is_terminal()).count();
        (ended, self.runs.len() - ended)
    }
}

/// One line of the table.
#[derive(Clone, Debug, PartialEq)]
pub enum Line {
    /// A run on its own.
    Run(SessionSummary),
    /// A batch of runs.
    Batch(Batch),
}

/// The table: the runs `filter` keeps, a batch's gathered into one line,
/// sorted by `sort` (a batch by the sum of its runs, or its first run), and
/// the totals of all of them.
pub fn lines(
    runs: impl IntoIterator<Item = SessionSummary>,
    filter: &RunFilter,
    sort: Sort,
    now: Timestamp,
) -> (Vec<Line>, Spent) {
    let mut total = Spent::default();
    let mut alone = Vec::new();
    let mut batches: HashMap<SessionId, Vec<SessionSummary>> = HashMap::new();
    let mut group_sizes: HashMap<SessionId, usize> = HashMap::new();
    for run in runs {
        if let Some(batch) = run.batch {
            *group_sizes.entry(batch).or_default() += 1;
        }
        if !filter.keeps(&run) {
            continue;
        }
        total.add(&run, now);
        match run.batch {
            Some(batch) => batches.entry(batch).or_default().push(run),
            None => alone.push(run),
        }
    }
    // A group of one run reads best as that run.
    batches.retain(|batch, runs| {
        if group_sizes.get(batch) == Some(&1) {
            alone.append(runs);
        }
        !runs.is_empty()
    });
    let mut lines: Vec<Line> = alone.into_iter().map(Line::Run).collect();
    for (id, mut runs) in batches {
        let Some(first) = runs.iter().min_by_key(|r| (r.created_at, r.id)).cloned() else {
            continue;
        };
        runs.sort_by(|a, b| ordered(sort, compare(sort.column, a, b, now)));
        let spent = Spent::of(&runs, now);
        lines.push(Line::Batch(Batch {
            id,
            first,
            runs,
            spent,
        }));
    }
    lines.sort_by(|a, b| ordered(sort, compare_lines(sort.column, a, b, now)));
    (lines, total)
}

fn ordered(sort: Sort, order: Ordering) -> Ordering {
    if sort.descending {
        order.reverse()
    } else {
        order
    }
}

/// Compares two runs by `column` (then by id, so the order is stable).
fn compare(column: Column, a: &SessionSummary, b: &SessionSummary, now: Timestamp) -> Ordering {
    let spent = |run: &SessionSummary| Spent::of([run], now);
    let by = match column {
        Column::Created => a.created_at.cmp(&b.created_at),
        Column::Name => crate::format::session_name(a)
            .to_lowercase()
            .cmp(&crate::format::session_name(b).to_lowercase()),
        Column::Agent => a.agent.cmp(&b.agent),
        Column::Status => a.status.as_str().cmp(b.status.as_str()),
        Column::Events => a.events.cmp(&b.events),
        Column::Tokens => tokens(&spent(a)).cmp(&tokens(&spent(b))),
        Column::Cost => spent(a).cost_usd.total_cmp(&spent(b).cost_usd),
        Column::Memory => a.rss_bytes.cmp(&b.rss_bytes),
        Column::Duration => ran_micros(a, now).cmp(&ran_micros(b, now)),
    };
    by.then(a.id.cmp(&b.id))
}

fn tokens(spent: &Spent) -> u64 {
    spent.input_tokens + spent.output_tokens
}

/// Compares lines: a batch by its sums where a column adds up, else by its
/// first run.
fn compare_lines(column: Column, a: &Line, b: &Line, now: Timestamp) -> Ordering {
    fn first(line: &Line) -> &SessionSummary {
        match line {
            Line::Run(run) => run,
            Line::Batch(batch) => &batch.first,
        }
    }
    let spent = |line: &Line| match line {
        Line::Run(run) => Spent::of([run], now),
        Line::Batch(batch) => batch.spent,
    };
    let events = |line: &Line| match line {
        Line::Run(run) => run.events,
        Line::Batch(batch) => batch.runs.iter().map(|r| r.events).sum(),
    };
    let (fa, fb) = (first(a), first(b));
    let by = match column {
        Column::Events => events(a).cmp(&events(b)),
        Column::Tokens => tokens(&spent(a)).cmp(&tokens(&spent(b))),
        Column::Cost => spent(a).cost_usd.total_cmp(&spent(b).cost_usd),
        Column::Duration => spent(a).micros.cmp(&spent(b).micros),
        other => return compare(other, fa, fb, now),
    };
    by.then(fa.id.cmp(&fb.id))
}

#[cfg(test)]
mod tests {
    use protocol::control::SessionTotals;
    use protocol::event::Usage;

    use super::*;

    fn run(n: u128, status: SessionStatus, batch: Option<u128>, tokens: u64) -> SessionSummary {
        SessionSummary {
            id: SessionId::from_u128(n),
            agent: if n.is_multiple_of(2) { "even" } else { "odd" }.into(),
            label: Some(format!("line {n}")),
            title: format!("prompt {n}"),
            status,
            events: n as u64,
            created_at: Timestamp(n as u64 * 10),
            started_at: Some(Timestamp(n as u64 * 10)),
            ended_at: status.is_terminal().then(|| Timestamp(n as u64 * 10 + 5)),
            totals: Some(SessionTotals {
                usage: Usage {
                    input_tokens: tokens,
                    ..Usage::default()
                },
                cost_usd: tokens as f64 / 1000.0,
                unpriced: 0,
            }),
            batch: batch.map(SessionId::from_u128),
            last_activity: Timestamp(0),
            ..test_support::sessions::summary(n)
        }
    }

    fn ids(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|line| match line {
                Line::Run(run) => format!("{}", run.id.as_u128()),
                Line::Batch(batch) => format!(
                    "batch {}: {:?}",
                    batch.id.as_u128(),
                    batch
                        .runs
                        .iter()
                        .map(|r| r.id.as_u128())
                        .collect::<Vec<_>>()
                ),
            })
            .collect()
    }

    fn sample() -> Vec<SessionSummary> {
        vec![
            run(1, SessionStatus::Completed, None, 100),
            run(2, SessionStatus::Running, Some(2), 50),
            run(3, SessionStatus::Failed, Some(2), 10),
            run(4, SessionStatus::Queued, Some(2), 0),
            run(5, SessionStatus::Waiting, None, 400),
        ]
    }

    #[test]
    fn a_batch_is_one_line_and_the_newest_come_first() {
        let (lines, total) = lines(
            sample(),
            &RunFilter::default(),
            Sort::default(),
            Timestamp(100),
        );
        assert_eq!(ids(&lines), ["5", "batch 2: [4, 3, 2]", "1"]);
        let Line::Batch(batch) = &lines[1] else {
            panic!("a batch")
        };
        assert_eq!(batch.progress(), (1, 2));
        assert_eq!(batch.spent.input_tokens, 60);
        assert_eq!((total.runs, total.input_tokens), (5, 560));
        assert!((total.cost_usd - 0.56).abs() < 1e-9);
        // A group of one run is that run.
        let mut one = sample();
        one.push(run(6, SessionStatus::Completed, Some(6), 5));
        let (with_one, _) =
            super::lines(one, &RunFilter::default(), Sort::default(), Timestamp(100));
        assert_eq!(ids(&with_one), ["6", "5", "batch 2: [4, 3, 2]", "1"]);
    }

    #[test]
    fn any_column_sorts_both_ways_and_a_batch_by_its_sum() {
        let now = Timestamp(100);
        let by_tokens = Sort::default().clicked(Column::Tokens);
        assert!(by_tokens.descending, "largest first on a first click");
        let (most, _) = lines(sample(), &RunFilter::default(), by_tokens, now);
        assert_eq!(ids(&most), ["5", "1", "batch 2: [2, 3, 4]"]);
        let (least, _) = lines(
            sample(),
            &RunFilter::default(),
            by_tokens.clicked(Column::Tokens),
            now,
        );
        assert_eq!(ids(&least), ["batch 2: [4, 3, 2]", "1", "5"]);
        let by_name = Sort::default().clicked(Column::Name);
        assert!(!by_name.descending, "names A to Z first");
        assert_eq!(by_name.arrow(Column::Name), " ▲");
        assert_eq!(by_name.arrow(Column::Cost), "");
    }

    #[test]
    fn filters_keep_by_status_agent_and_words_and_totals_follow() {
        let now = Timestamp(100);
        let live = RunFilter {
            status: StatusFilter::Live,
            ..RunFilter::default()
        };
        let (shown, total) = lines(sample(), &live, Sort::default(), now);
        assert_eq!(ids(&shown), ["5", "batch 2: [2]"]);
        assert_eq!(total.input_tokens, 450);
        let odd_failed = RunFilter {
            status: StatusFilter::Failed,
            agent: "odd".into(),
            ..RunFilter::default()
        };
        assert_eq!(
            ids(&lines(sample(), &odd_failed, Sort::default(), now).0),
            ["batch 2: [3]"]
        );
        let words = RunFilter {
            text: "LINE 1".into(),
            ..RunFilter::default()
        };
        assert_eq!(ids(&lines(sample(), &words, Sort::default(), now).0), ["1"]);
    }
}
