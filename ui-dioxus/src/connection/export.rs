//! Exporting from the app: a session (its setup, then its events page by
//! page, then a Markdown transcript or the JSON lines `studio export`
//! writes), or a group's results (its runs page by page with their whole
//! answers, then JSON lines, CSV or Markdown as `studio export --group`
//! writes them), handed to the page to save ([`Exported`]).

use protocol::SessionId;
use protocol::control::{
    ControlRequest, ControlResponse, GROUP_PAGE_FULL_ANSWERS, GroupRun, GroupSummary,
    MAX_ANSWER_CHARS, Setup,
};
use protocol::event::Event;
use studio_client::results;

use crate::state::{Exported, ExportedFrom};

/// Events asked for per page.
const PAGE: u32 = 2000;

/// What an export writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// A transcript for people (`studio export --format md`); a group's
    /// results table and answers.
    Markdown,
    /// Every event as JSON lines (`studio export`); a group's results, a
    /// run a line.
    JsonLines,
    /// A group's results as CSV.
    Csv,
}

impl ExportFormat {
    /// The file name's extension.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Markdown => "md",
            ExportFormat::JsonLines => "jsonl",
            ExportFormat::Csv => "csv",
        }
    }

    /// The media type a browser is given.
    pub fn mime(self) -> &'static str {
        match self {
            ExportFormat::Markdown => "text/markdown",
            ExportFormat::JsonLines => "application/jsonl",
            ExportFormat::Csv => "text/csv",
        }
    }
}

/// An export under way: what it has so far.
#[derive(Clone, Debug)]
pub(super) struct ExportJob {
    format: ExportFormat,
    of: Of,
}

/// What is exported, and what was read of it.
#[derive(Clone, Debug)]
enum Of {
    Session {
        session: SessionId,
        setup: Option<Box<Setup>>,
        events: Vec<Event>,
    },
    Group {
        group: SessionId,
        summary: Option<Box<GroupSummary>>,
        runs: Vec<GroupRun>,
    },
}

/// What an answer leads to.
pub(super) enum ExportStep {
    /// Ask this next.
    More(Box<ControlRequest>, Box<ExportJob>),
    /// The export is whole.
    Done(Exported),
}

impl ExportJob {
    /// The first request of an export of `session`, and the job.
    pub(super) fn start(session: SessionId, format: ExportFormat) -> (ControlRequest, ExportJob) {
        let request = ControlRequest::SessionSetup {
            id: session.to_string(),
        };
        let of = Of::Session {
            session,
            setup: None,
            events: Vec::new(),
        };
        (request, ExportJob { format, of })
    }

    /// The first request of an export of `group`'s results, and the job.
    pub(super) fn start_group(
        group: SessionId,
        format: ExportFormat,
    ) -> (ControlRequest, ExportJob) {
        let of = Of::Group {
            group,
            summary: None,
            runs: Vec::new(),
        };
        (group_page(group, 0), ExportJob { format, of })
    }

    /// Takes one answer: the setup or a page of events, or a page of a
    /// group's runs.
    pub(super) fn take(mut self, response: ControlResponse) -> Result<ExportStep, String> {
        let next = match (&mut self.of, response) {
            (Of::Session { setup, .. }, ControlResponse::Setup(answer)) => {
                *setup = Some(answer);
                None
            }
            (Of::Session { events, .. }, ControlResponse::Events(page)) => {
                let got = page.len();
                events.extend(page);
                (got < PAGE as usize).then_some(())
            }
            (Of::Group { summary, runs, .. }, ControlResponse::Group(page)) => {
                let got = page.runs.len();
                runs.extend(page.runs);
                let all = page.summary.runs as usize;
                *summary = Some(Box::new(page.summary));
                (got == 0 || runs.len() >= all).then_some(())
            }
            (_, other) => return Err(format!("unexpected answer to an export: {other:?}")),
        };
        if next.is_some() {
            return Ok(ExportStep::Done(self.finish()?));
        }
        let request = match &self.of {
            Of::Session {
                session, events, ..
            } => ControlRequest::Events {
                session: *session,
                after_seq: events.last().map_or(0, |e| e.seq),
                limit: PAGE,
            },
            Of::Group { group, runs, .. } => group_page(*group, runs.len()),
        };
        Ok(ExportStep::More(Box::new(request), Box::new(self)))
    }

    fn finish(self) -> Result<Exported, String> {
        let format = self.format;
        let (id, file_name, text) = match self.of {
            Of::Session {
                session,
                setup,
                events,
            } => {
                let text = match (&setup, format) {
                    (None, _) => String::new(),
                    (Some(setup), ExportFormat::Markdown) => {
                        studio_client::transcript::markdown(setup, &events)
                    }
                    (Some(setup), ExportFormat::JsonLines | ExportFormat::Csv) => {
                        studio_client::export::jsonl(setup, &events)
                    }
                };
                (session, format!("session-{}", session.short()), text)
            }
            Of::Group {
                group,
                summary,
                runs,
            } => {
                let summary = summary.ok_or("the group was not read")?;
                let text = match format {
                    ExportFormat::Markdown => results::markdown(&summary, &runs),
                    ExportFormat::JsonLines => results::jsonl(&summary, &runs),
                    ExportFormat::Csv => results::csv(&summary, &runs)
                        .map_err(|e| format!("cannot write CSV: {e}"))?,
                };
                (group, format!("group-{}", group.short()), text)
            }
        };
        Ok(Exported {
            from: ExportedFrom::Session(id),
            file_name: format!("{file_name}.{}", format.extension()),
            mime: format.mime(),
            text,
        })
    }
}

/// A page of `group`'s runs from `from`, each answer whole.
fn group_page(group: SessionId, from: usize) -> ControlRequest {
    ControlRequest::GroupGet {
        id: group.to_string(),
        from: u32::try_from(from).unwrap_or(u32::MAX),
        limit: GROUP_PAGE_FULL_ANSWERS,
        answer_chars: MAX_ANSWER_CHARS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Timestamp;
    use protocol::event::EventKind;

    #[test]
    fn an_export_asks_for_the_setup_then_pages_until_a_short_one() {
        let summary = test_support::sessions::summary(7);
        let session = summary.id;
        let (first, job) = ExportJob::start(session, ExportFormat::Markdown);
        assert!(matches!(first, ControlRequest::SessionSetup { .. }));
        let setup = Setup {
            summary,
            agent: protocol::AgentConfig::scripted("writer"),
            run: None,
            inherited: Vec::new(),
            inherited_left_out: 0,
        };
        let Ok(ExportStep::More(request, job)) = job.take(ControlResponse::Setup(Box::new(setup)))
        else {
            panic!("the events come next");
        };
        assert!(matches!(
            *request,
            ControlRequest::Events { after_seq: 0, .. }
        ));
        let event = |seq| Event {
            session,
            seq,
            at: Timestamp(seq),
            kind: EventKind::MessageUser {
                text: format!("message {seq}"),
            },
        };
        let full: Vec<Event> = (1..=u64::from(PAGE)).map(event).collect();
        let Ok(ExportStep::More(request, job)) = job.take(ControlResponse::Events(full)) else {
            panic!("a full page asks for more");
        };
        let ControlRequest::Events { after_seq, .. } = *request else {
            panic!("a page of events next");
        };
        assert_eq!(after_seq, u64::from(PAGE));
        let Ok(ExportStep::Done(exported)) =
            job.take(ControlResponse::Events(vec![event(after_seq + 1)]))
        else {
            panic!("a short page ends it");
        };
        assert_eq!(
            exported.file_name,
            format!("session-{}.md", session.short())
        );
        assert!(exported.text.contains("message 1\n"));
        assert!(
            exported
                .text
                .contains(&format!("message {}\n", after_seq + 1))
        );
    }

    #[test]
    fn a_groups_results_are_read_page_by_page_then_written_whole() {
        use protocol::control::{Group, GroupRun, GroupSummary};
        let runs: Vec<GroupRun> = (0..40)
            .map(|n| GroupRun {
                summary: test_support::sessions::summary(n),
                provider: "scripted".into(),
                model: "scripted-1".into(),
                answer: format!("answer {n}\nwith a second line"),
                answer_cut: false,
                duration_micros: None,
                checks: Vec::new(),
                changes: None,
            })
            .collect();
        let group = runs[0].summary.id;
        let summary = GroupSummary {
            id: group,
            name: "forty".into(),
            created_at: Timestamp(1),
            runs: 40,
            by_status: Vec::new(),
            usage: Default::default(),
            cost_usd: 0.0,
            unpriced: 0,
            wall_micros: 0,
            preferred: None,
            caps: Default::default(),
            checks: Vec::new(),
        };
        let page = |from: usize| {
            let to = (from + GROUP_PAGE_FULL_ANSWERS as usize).min(runs.len());
            ControlResponse::Group(Box::new(Group {
                summary: summary.clone(),
                from: from as u32,
                runs: runs[from..to].to_vec(),
            }))
        };
        let (first, job) = ExportJob::start_group(group, ExportFormat::Csv);
        assert!(matches!(
            first,
            ControlRequest::GroupGet {
                from: 0,
                answer_chars: MAX_ANSWER_CHARS,
                ..
            }
        ));
        let Ok(ExportStep::More(request, job)) = job.take(page(0)) else {
            panic!("a second page");
        };
        let ControlRequest::GroupGet { from, .. } = *request else {
            panic!("the next page of the group");
        };
        assert_eq!(from, GROUP_PAGE_FULL_ANSWERS);
        let Ok(ExportStep::Done(exported)) = job.take(page(from as usize)) else {
            panic!("every run read");
        };
        assert_eq!(exported.file_name, format!("group-{}.csv", group.short()));
        assert_eq!(exported.mime, "text/csv");
        assert_eq!(
            exported
                .text
                .lines()
                .next()
                .map(|l| l.starts_with("group,group_name,run")),
            Some(true)
        );
        assert!(
            exported.text.contains("\"answer 39\nwith a second line\""),
            "{}",
            exported.text
        );
    }
}
