//! Exporting a session from the app: its setup, then its events page by
//! page, then the text (a Markdown transcript or the JSON lines `studio
//! export` writes) handed to the page to save ([`Exported`]).

use protocol::SessionId;
use protocol::control::{ControlRequest, ControlResponse, Setup};
use protocol::event::Event;

use crate::state::Exported;

/// Events asked for per page.
const PAGE: u32 = 2000;

/// What an export writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// A transcript for people (`studio export --format md`).
    Markdown,
    /// Every event as JSON lines (`studio export`).
    JsonLines,
}

impl ExportFormat {
    /// The file name's extension.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Markdown => "md",
            ExportFormat::JsonLines => "jsonl",
        }
    }

    /// The media type a browser is given.
    pub fn mime(self) -> &'static str {
        match self {
            ExportFormat::Markdown => "text/markdown",
            ExportFormat::JsonLines => "application/jsonl",
        }
    }
}

/// An export under way: what it has so far.
#[derive(Clone, Debug)]
pub(super) struct ExportJob {
    session: SessionId,
    format: ExportFormat,
    setup: Option<Box<Setup>>,
    events: Vec<Event>,
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
        let job = ExportJob {
            session,
            format,
            setup: None,
            events: Vec::new(),
        };
        (request, job)
    }

    /// Takes one answer: the setup, or a page of events.
    pub(super) fn take(mut self, response: ControlResponse) -> Result<ExportStep, String> {
        match response {
            ControlResponse::Setup(setup) => self.setup = Some(setup),
            ControlResponse::Events(page) => {
                let got = page.len();
                self.events.extend(page);
                if got < PAGE as usize {
                    return Ok(ExportStep::Done(self.finish()));
                }
            }
            other => return Err(format!("unexpected answer to an export: {other:?}")),
        }
        let request = ControlRequest::Events {
            session: self.session,
            after_seq: self.events.last().map_or(0, |e| e.seq),
            limit: PAGE,
        };
        Ok(ExportStep::More(Box::new(request), Box::new(self)))
    }

    fn finish(self) -> Exported {
        let text = match &self.setup {
            Some(setup) => match self.format {
                ExportFormat::Markdown => studio_client::transcript::markdown(setup, &self.events),
                ExportFormat::JsonLines => studio_client::export::jsonl(setup, &self.events),
            },
            None => String::new(),
        };
        Exported {
            session: self.session,
            file_name: format!(
                "session-{}.{}",
                self.session.short(),
                self.format.extension()
            ),
            mime: self.format.mime(),
            text,
        }
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
}
