//! `studio chat AGENT`, `studio chat --session ID` and `studio chat
//! --branch ID [--at SEQ] [AGENT]`: an interactive session in the terminal.
//!
//! The answer streams as it comes; tool calls are shown with their
//! outcome; a call no rule decides is asked inline (approve once, deny,
//! always allow for this session). Other clients may watch the same
//! session and answer too: the first answer wins and the others see it.
//! Lines typed ahead wait their turn, so a script can pipe a whole
//! conversation in. Ctrl-C stops a running turn (the session is resumed
//! at once); Ctrl-D, `/exit` or Ctrl-C at the prompt end the session.

use std::collections::{HashMap, VecDeque};
use std::io::Write;

use clap::Args;
use protocol::SessionId;
use protocol::control::{ControlRequest, ControlResponse, ErrorKind, Push};
use protocol::event::{Decider, Event, EventKind, SessionStatus};
use studio_client::{Client, ClientError, Subscription};
use tokio::sync::mpsc;

use super::output::describe_end;
use super::output::{event_json, print_chunk, print_json, retry_line, shorten};
use super::sessions::summary;
use super::{CliError, Ctx};

#[derive(Args, Debug)]
pub(crate) struct ChatArgs {
    /// Agent to chat with (a new session); with --branch, the agent that
    /// goes on (default: the original's, as it was).
    #[arg(required_unless_present_any = ["session", "branch"], conflicts_with = "session")]
    agent: Option<String>,
    /// Continue this session (id or unique prefix): attach to it if it is
    /// live, else resume it on its recorded conversation.
    #[arg(long, value_name = "ID", conflicts_with = "branch")]
    session: Option<String>,
    /// Branch this session (a chat or a run; id or unique prefix) into a
    /// new one that goes on from its conversation; the original stays as
    /// it is.
    #[arg(long, value_name = "ID")]
    branch: Option<String>,
    /// With --branch: the original's last event to keep (see `studio
    /// events ID`; default: its last).
    #[arg(long, value_name = "SEQ", requires = "branch")]
    at: Option<u64>,
}

pub(crate) async fn execute(args: ChatArgs, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let request = match (args.agent, args.session, args.branch) {
        (agent, None, Some(session)) => ControlRequest::ChatBranch {
            session,
            at_seq: args.at,
            agent,
        },
        (_, Some(session), _) => ControlRequest::ChatResume { session },
        (Some(agent), None, None) => ControlRequest::ChatOpen { agent },
        (None, None, None) => {
            return Err(CliError::invalid(
                "name an agent, or --session ID, or --branch ID",
            ));
        }
    };
    talk(&client, request, false, ctx).await
}

/// Opens the session `request` asks for and talks with it until it ends.
/// `daemon_says_first`: the daemon says the session's first message (a
/// replay's turn) for the person, shown as theirs.
pub(crate) async fn talk(
    client: &Client,
    request: ControlRequest,
    daemon_says_first: bool,
    ctx: &Ctx,
) -> Result<(), CliError> {
    let input = spawn_stdin_reader();
    let mut chat = Chat {
        client,
        json: ctx.json,
        input,
        typed_ahead: VecDeque::new(),
        eof: false,
        daemon_says_first,
    };
    let mut opened = open(client, request).await?;
    loop {
        chat.banner(&opened).await?;
        match chat.converse(&opened).await? {
            Life::Ended(SessionStatus::Completed) => return Ok(()),
            Life::Ended(_) => return Err(CliError::incomplete(String::new())),
            Life::TurnStopped => {
                let session = opened.session.to_string();
                opened = open(client, ControlRequest::ChatResume { session }).await?;
            }
        }
    }
}

/// What `ChatOpened` said.
struct Opened {
    session: SessionId,
    after_seq: u64,
    resumed: bool,
}

async fn open(client: &Client, request: ControlRequest) -> Result<Opened, CliError> {
    match client.request(request).await? {
        ControlResponse::ChatOpened {
            session,
            after_seq,
            resumed,
        } => Ok(Opened {
            session,
            after_seq,
            resumed,
        }),
        other => Err(CliError::msg(format!(
            "unexpected answer to chat: {other:?}"
        ))),
    }
}

/// How one life of the session ended for this client.
enum Life {
    /// The session ended with this status.
    Ended(SessionStatus),
    /// This client stopped a running turn: resume and go on.
    TurnStopped,
}

/// Lines from stdin, read on a thread (stdin is blocking); `None` at EOF.
fn spawn_stdin_reader() -> mpsc::UnboundedReceiver<Option<String>> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.send(Some(line)).is_err() {
                return;
            }
        }
        let _ = tx.send(None);
    });
    rx
}

struct Chat<'a> {
    client: &'a Client,
    json: bool,
    input: mpsc::UnboundedReceiver<Option<String>>,
    /// Lines typed while the agent was busy, answered in order.
    typed_ahead: VecDeque<String>,
    eof: bool,
    /// The daemon has yet to say the first message (a replay's turn).
    daemon_says_first: bool,
}

/// A tool call waiting for this person's answer.
struct Asking {
    approval: u64,
    call_id: String,
    answered: bool,
}

/// What the conversation loop is doing.
struct Turn {
    /// The agent is working (no prompt shown).
    busy: bool,
    /// Calls seen requested, for showing what an approval is about.
    calls: HashMap<String, (String, String)>,
    asking: Option<Asking>,
    /// Streamed text was written without a newline after it.
    mid_line: bool,
    /// Text of the model's current attempt is on screen.
    partial: bool,
    /// This client asked to stop the running turn.
    stopping: bool,
    /// This client asked to end the session.
    ending: bool,
}

impl Chat<'_> {
    /// Says which session this is and, for an old one, what was said.
    async fn banner(&self, opened: &Opened) -> Result<(), CliError> {
        if self.json {
            return Ok(());
        }
        let id = opened.session;
        let summary = summary(self.client, &id.to_string()).await?;
        let branch = match (summary.parent, summary.branched_at) {
            (Some(parent), Some(at)) => format!(", a branch of {parent} at event {at}"),
            _ => String::new(),
        };
        if opened.after_seq > 0 && !opened.resumed {
            errln!("attached to live session {id}{branch}");
        } else if opened.resumed {
            errln!("session {id}{branch} resumed");
        } else {
            errln!(
                "session {id}{branch} (Ctrl-D or /exit ends it; resume later with studio chat --session {id})"
            );
        }
        if let (Some(parent), Some(at)) = (summary.parent, summary.branched_at) {
            self.transcript(parent, at).await?;
        }
        self.print_messages(id, opened.after_seq).await
    }

    /// Prints the conversation `session` inherited as a branch, up its
    /// ancestry, then its own messages up to `through`.
    async fn transcript(&self, session: SessionId, through: u64) -> Result<(), CliError> {
        let mut ancestry = vec![(session, through)];
        while ancestry.len() < 1000 {
            let (newest, _) = ancestry[ancestry.len() - 1];
            let newest = summary(self.client, &newest.to_string()).await?;
            match newest.parent.zip(newest.branched_at) {
                Some(branch_point) => ancestry.push(branch_point),
                None => break,
            }
        }
        for (id, through) in ancestry.into_iter().rev() {
            self.print_messages(id, through).await?;
        }
        Ok(())
    }

    /// Prints what was said in `session` up to event `through`.
    async fn print_messages(&self, session: SessionId, through: u64) -> Result<(), CliError> {
        if through == 0 {
            return Ok(());
        }
        self.client
            .each_events_page(session, 0, |page| {
                for event in page.iter().filter(|e| e.seq <= through) {
                    match &event.kind {
                        EventKind::MessageUser { text } => outln!("you> {text}"),
                        EventKind::MessageAssistant { text } => outln!("{text}"),
                        _ => {}
                    }
                }
                Ok::<_, CliError>(page.last().is_some_and(|e| e.seq < through))
            })
            .await
    }

    /// Follows the session and talks with it until this life of it ends.
    async fn converse(&mut self, opened: &Opened) -> Result<Life, CliError> {
        let session = opened.session;
        let mut events = self
            .client
            .subscribe(ControlRequest::Follow {
                session,
                after_seq: opened.after_seq,
            })
            .await?;
        let attached_idle = opened.after_seq > 0 && !opened.resumed && self.is_idle(session).await;
        let mut turn = Turn {
            busy: !attached_idle,
            calls: HashMap::new(),
            asking: None,
            mid_line: false,
            partial: false,
            stopping: false,
            ending: false,
        };
        if !turn.busy {
            self.next_input(session, &mut turn).await?;
        }
        loop {
            tokio::select! {
                push = events.next() => {
                    let Some(Push::Event(event)) = push else {
                        match push {
                            Some(_) => continue,
                            None => return Err(CliError::msg("the event stream ended before the session did")),
                        }
                    };
                    if let Some(life) = self.on_event(&event, session, &mut turn).await? {
                        finish(&mut events).await;
                        return Ok(life);
                    }
                }
                line = self.input.recv(), if !self.eof => {
                    match line.flatten() {
                        Some(line) => self.typed_ahead.push_back(line),
                        None => self.eof = true,
                    }
                    if turn.asking.as_ref().is_some_and(|a| !a.answered) || !turn.busy {
                        self.next_input(session, &mut turn).await?;
                    }
                }
                _ = tokio::signal::ctrl_c() => self.interrupt(session, &mut turn).await,
            }
        }
    }

    async fn is_idle(&self, session: SessionId) -> bool {
        let request = ControlRequest::SessionGet {
            id: session.to_string(),
        };
        matches!(
            self.client.request(request).await,
            Ok(ControlResponse::Session(s)) if s.status == SessionStatus::Idle
        )
    }

    /// Shows one event; `Some` when this life of the session is over.
    async fn on_event(
        &mut self,
        event: &Event,
        session: SessionId,
        turn: &mut Turn,
    ) -> Result<Option<Life>, CliError> {
        if self.json {
            print_json(&event_json(event));
        }
        match &event.kind {
            EventKind::LlmResponseChunk { text, .. } if !self.json => {
                turn.mid_line = print_chunk(text);
                turn.partial = true;
            }
            EventKind::LlmError {
                message,
                will_retry: true,
                ..
            } if turn.partial => {
                self.say_line(turn, &retry_line(message));
                turn.partial = false;
            }
            EventKind::LlmResponseCompleted { .. } => turn.partial = false,
            // A replay's turn: the daemon says it once the worker is up.
            EventKind::MessageUser { text } if self.daemon_says_first => {
                self.say_line(turn, &format!("you> {text}"));
                self.daemon_says_first = false;
                turn.busy = true;
            }
            EventKind::MessageUser { text } if turn.ending || !turn.busy => {
                // Another client spoke.
                self.say_line(turn, &format!("(another client) you> {text}"));
                turn.busy = true;
            }
            EventKind::ToolRequested {
                call_id,
                tool,
                arguments,
            } => {
                self.say_line(turn, &format!("  ⚙ {tool} {}", shorten(arguments)));
                turn.calls
                    .insert(call_id.clone(), (tool.clone(), arguments.clone()));
            }
            EventKind::ToolApprovalPending {
                call_id, approval, ..
            } => {
                let (tool, arguments) = turn.calls.get(call_id).cloned().unwrap_or_default();
                self.say_line(
                    turn,
                    &format!(
                        "  ? allow {tool} {}  [y] once  [n] deny  [a] always for this session",
                        shorten(&arguments)
                    ),
                );
                turn.asking = Some(Asking {
                    approval: *approval,
                    call_id: call_id.clone(),
                    answered: false,
                });
                self.next_input(session, turn).await?;
            }
            EventKind::ToolApproved { call_id, by } => {
                self.decided(turn, call_id, &format!("approved {by}"));
            }
            EventKind::ToolDenied {
                call_id,
                by,
                reason,
                ..
            } => {
                let how = match by {
                    Decider::User => format!("denied {by}"),
                    _ => format!("denied {by}: {reason}"),
                };
                self.decided(turn, call_id, &how);
            }
            EventKind::ToolCompleted { output, .. } => {
                self.say_line(turn, &format!("  ✓ {}", shorten(output)));
            }
            EventKind::ToolError { message, .. } => {
                self.say_line(turn, &format!("  ✗ {}", shorten(message)));
            }
            EventKind::LlmError {
                message,
                will_retry,
                ..
            } => {
                let retry = if *will_retry { " (retrying)" } else { "" };
                self.say_line(turn, &format!("  ! {message}{retry}"));
            }
            EventKind::McpServerFailed { server, message } => {
                self.say_line(turn, &format!("  ! MCP server {server}: {message}"));
            }
            EventKind::McpToolsSkipped { server, count, .. } => {
                self.say_line(
                    turn,
                    &format!(
                        "  ! MCP server {server}: {count} tools not offered (see studio events)"
                    ),
                );
            }
            EventKind::BudgetExceeded {
                budget,
                limit,
                observed,
            } => {
                self.say_line(
                    turn,
                    &format!("  ! budget exceeded: {budget:?} {observed:.2} > {limit}"),
                );
            }
            EventKind::SessionIdle { error } => {
                if let Some(error) = error {
                    self.say_line(turn, &format!("  ! the turn failed: {error}"));
                }
                self.end_line(turn);
                turn.busy = false;
                turn.asking = None;
                if !turn.ending {
                    self.next_input(session, turn).await?;
                }
            }
            kind if kind.is_terminal() => {
                self.end_line(turn);
                let stopped_turn = turn.stopping
                    && matches!(kind, EventKind::SessionCancelled { .. })
                    && !turn.ending;
                if stopped_turn {
                    if !self.json {
                        errln!("(turn stopped)");
                    }
                    return Ok(Some(Life::TurnStopped));
                }
                let status = kind.status_after().unwrap_or(SessionStatus::Crashed);
                if !self.json && (status != SessionStatus::Completed || !turn.ending) {
                    errln!("session {session} {}", describe_end(kind));
                }
                return Ok(Some(Life::Ended(status)));
            }
            _ => {}
        }
        Ok(None)
    }

    /// Shows how a call was decided, and drops this client's question if
    /// someone else answered it first.
    fn decided(&self, turn: &mut Turn, call_id: &str, how: &str) {
        let was_asking = turn.asking.as_ref().is_some_and(|a| a.call_id == call_id);
        if was_asking {
            let answered_here = turn.asking.as_ref().is_some_and(|a| a.answered);
            turn.asking = None;
            if !answered_here {
                self.say_line(turn, &format!("  (answered elsewhere) {how}"));
                return;
            }
        }
        self.say_line(turn, &format!("  {how}"));
    }

    /// Uses the next typed line: an approval answer when a call is waiting
    /// for one, else (when idle) the next message. Prompts when no line is
    /// waiting.
    async fn next_input(&mut self, session: SessionId, turn: &mut Turn) -> Result<(), CliError> {
        loop {
            if let Some(asking) = turn.asking.as_mut().filter(|a| !a.answered) {
                let Some(line) = self.typed_ahead.pop_front() else {
                    return Ok(());
                };
                let (approve, remember) = match line.trim().to_ascii_lowercase().as_str() {
                    "y" | "yes" => (true, false),
                    "a" | "always" => (true, true),
                    "n" | "no" => (false, false),
                    _ => {
                        errln!("  answer y (once), n (deny) or a (always for this session)");
                        continue;
                    }
                };
                asking.answered = true;
                let request = ControlRequest::ApprovalAnswer {
                    id: asking.approval,
                    approve,
                    remember,
                };
                match self.client.request(request).await {
                    Ok(_) => {}
                    Err(err) if daemon_error(&err) == Some(ErrorKind::NotFound) => {
                        errln!("  (already decided)");
                    }
                    Err(err) => return Err(err.into()),
                }
                return Ok(());
            }
            if turn.busy || turn.ending {
                return Ok(());
            }
            let Some(line) = self.typed_ahead.pop_front() else {
                if self.eof {
                    return self.end(session, turn).await;
                }
                if !self.json {
                    out!("you> ");
                    let _ = std::io::stdout().flush();
                }
                return Ok(());
            };
            let text = line.trim();
            if text.is_empty() {
                continue;
            }
            if matches!(text, "/exit" | "/quit") {
                return self.end(session, turn).await;
            }
            let request = ControlRequest::ChatSay {
                session,
                text: text.to_owned(),
            };
            // Busy before asking: the turn's first events may arrive before the answer.
            turn.busy = true;
            match self.client.request(request).await {
                Ok(_) => return Ok(()),
                Err(err) if daemon_error(&err) == Some(ErrorKind::Conflict) => {
                    // Someone else's turn is running: this line waits for it.
                    self.typed_ahead.push_front(line);
                    turn.busy = true;
                    return Ok(());
                }
                Err(err) => return Err(err.into()),
            }
        }
    }

    async fn end(&mut self, session: SessionId, turn: &mut Turn) -> Result<(), CliError> {
        turn.ending = true;
        if !self.json {
            outln!();
        }
        self.client
            .request(ControlRequest::ChatEnd { session })
            .await?;
        Ok(())
    }

    /// Ctrl-C: stop the running turn (first), kill (second), or end the
    /// session when it is idle.
    async fn interrupt(&mut self, session: SessionId, turn: &mut Turn) {
        let request = if !turn.busy {
            turn.ending = true;
            ControlRequest::ChatEnd { session }
        } else if !turn.stopping {
            turn.stopping = true;
            errln!("\nstopping the turn (Ctrl-C again to kill the worker)");
            ControlRequest::Cancel { session }
        } else {
            ControlRequest::Kill { session }
        };
        if let Err(err) = self.client.request(request).await {
            errln!("studio: {err}");
        }
    }

    fn say_line(&self, turn: &mut Turn, line: &str) {
        if self.json {
            return;
        }
        self.end_line(turn);
        outln!("{line}");
    }

    fn end_line(&self, turn: &mut Turn) {
        if turn.mid_line && !self.json {
            outln!();
        }
        turn.mid_line = false;
    }
}

/// The kind of error the daemon answered with, if it answered.
fn daemon_error(err: &ClientError) -> Option<ErrorKind> {
    match err {
        ClientError::Daemon(err) => Some(err.kind),
        _ => None,
    }
}

/// Drains the rest of a finished follow stream.
async fn finish(events: &mut Subscription) {
    while let Some(push) = events.next().await {
        if matches!(push, Push::End) {
            break;
        }
    }
}
