//! Turns: the start message, an interactive session's idle waits and its
//! user's messages (with the conversation rebuilt from the log), the later
//! turns of a chat replayed as a run, ending a chat, and what the worker's
//! `Done` means.

use std::sync::Arc;

use protocol::control::{ControlError, ErrorKind};
use protocol::event::{Event, EventKind, StopReason};
use protocol::message::ChatMessage;
use protocol::tape::AfterTape;
use protocol::worker::{StartTurn, ToWorker, TurnOutcome};
use ractor::ActorRef;

use super::{EXIT_TIMEOUT, Opening, SessionMsg, SessionState, StopReply};
use crate::daemon::history;
use crate::store::StoreError;

pub(super) fn ended() -> ControlError {
    ControlError::new(
        ErrorKind::Conflict,
        "the session has ended (resume it to go on)",
    )
}

impl SessionState {
    /// The message that starts a turn on `input` after `history`.
    pub(super) fn start_turn(&self, history: Vec<ChatMessage>, input: String) -> ToWorker {
        ToWorker::Start(Box::new(StartTurn {
            session: self.id,
            agent: self.record.agent.clone(),
            history,
            input,
            script: self.record.script.clone(),
            tools: Vec::new(),
            endpoint: self.setup.endpoint.clone(),
            mcp_servers: self.setup.mcp_servers.clone(),
            plugin_servers: self.setup.plugin_servers.clone(),
            sandbox_support: self.shared.sandbox_support,
            tape: None,
            setup: None,
            check_commands: Vec::new(),
            judges: Vec::new(),
            app_call: None,
            servers_only: false,
        }))
    }

    /// An interactive session finished a turn (or just started): it waits
    /// for the user, at most `chat_idle_timeout`.
    pub(super) fn go_idle(&mut self, myself: &ActorRef<SessionMsg>, error: Option<String>) {
        self.chat.in_turn = false;
        self.chat.preparing = false;
        self.chat.idle_epoch += 1;
        self.append(EventKind::SessionIdle { error });
        let epoch = self.chat.idle_epoch;
        let timeout = self.shared.config.chat_idle_timeout;
        drop(myself.send_after(timeout, move || SessionMsg::IdleTimeout(epoch)));
        if let Some((text, reply)) = self.chat.early_say.take() {
            let _ = myself.cast(SessionMsg::Say(text, reply));
        }
    }

    /// Starts a turn of an idle interactive session on the user's message,
    /// with the conversation so far rebuilt from the log.
    pub(super) async fn say(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        text: String,
        reply: StopReply,
    ) {
        let busy = |what: &str| Err(ControlError::new(ErrorKind::Conflict, what.to_owned()));
        let refusal = if self.chat.opening == Opening::Run {
            Err(ControlError::new(
                ErrorKind::Invalid,
                format!("session {} is a headless run: it takes no input", self.id),
            ))
        } else if self.ending.stop.is_some() || self.ending.done.is_some() {
            busy("the session is ending")
        } else if !self.is_connected() || self.chat.preparing {
            if self.chat.early_say.is_none() {
                self.chat.early_say = Some((text, reply));
                return;
            }
            busy("the session is starting and already has a message waiting")
        } else if self.chat.in_turn {
            busy("a turn is running: wait for session.idle, or cancel it")
        } else {
            Ok(())
        };
        if let Err(err) = refusal {
            let _ = reply.send(Err(err));
            return;
        }
        self.chat.in_turn = true;
        self.chat.idle_epoch += 1;
        match self.say_and_recall(&text).await {
            Ok((inherited, own)) => {
                // "Always allow" holds for the whole session: grants given
                // in an earlier life come back from its log (a branch's
                // original keeps its own).
                for grant in history::grants(&own) {
                    if !self.setup.grants.contains(&grant) {
                        self.setup.grants.push(grant);
                    }
                }
                let mut events = inherited.to_vec();
                events.extend(own);
                self.refresh_sign_ins().await;
                let start = self.start_turn(history::conversation(&events), text);
                self.send(start);
                let _ = reply.send(Ok(()));
            }
            Err(err) => {
                tracing::error!(session = %self.id, %err, "cannot start the turn");
                let err = ControlError::new(ErrorKind::Internal, err);
                let _ = reply.send(Err(err.clone()));
                self.go_idle(myself, Some(err.message));
            }
        }
    }

    /// Records the user's message `text` (the turn starts) and reads back
    /// what the turn is built from (`history_before`).
    async fn say_and_recall(&mut self, text: &str) -> Result<(Arc<[Event]>, Vec<Event>), String> {
        self.live.touch();
        let said = EventKind::MessageUser {
            text: text.to_owned(),
        };
        let seq = self
            .sequencer
            .append_committed(said)
            .await
            .map_err(|err| err.to_string())?;
        self.history_before(seq)
            .await
            .map_err(|err| err.to_string())
    }

    /// What the turn starting at `seq` is built from: the events the
    /// session inherits as a branch (read once, then kept) and its own
    /// before `seq`.
    pub(super) async fn history_before(
        &mut self,
        seq: u64,
    ) -> Result<(Arc<[Event]>, Vec<Event>), StoreError> {
        let store = &self.shared.store;
        let inherited = match &self.setup.inherited {
            Some(inherited) => Arc::clone(inherited),
            None => {
                let read: Arc<[Event]> = history::inherited(store, self.id, self.record.parent)
                    .await?
                    .into();
                self.setup.inherited = Some(Arc::clone(&read));
                read
            }
        };
        let own = history::events_through(store, self.id, seq - 1).await?;
        Ok((inherited, own))
    }

    /// Ends an interactive session: at once when idle (`session.completed`),
    /// by cancelling the running turn otherwise.
    pub(super) fn end(&mut self, myself: &ActorRef<SessionMsg>, reply: Option<StopReply>) {
        self.ending.waiters.extend(reply);
        if self.ending.stop.is_some() || self.ending.done.is_some() {
            return;
        }
        if self.chat.in_turn || !self.is_connected() {
            return self.cancel(myself, StopReason::User);
        }
        self.ending.done = Some(TurnOutcome::Completed);
        self.send(ToWorker::Shutdown);
        drop(myself.send_after(EXIT_TIMEOUT, || SessionMsg::ExitTimeout));
    }

    /// Whether a run goes on to another turn after this one: a chat
    /// replayed as a run has its later turns to play, unless the turn did
    /// not complete, the run is stopping, or the replay parted from the
    /// tape and was asked to stop there.
    pub(super) fn goes_on(&self, outcome: &TurnOutcome) -> bool {
        let stops_where_it_parts = self
            .setup
            .later
            .front()
            .and_then(|turn| turn.tape.as_ref())
            .is_some_and(|tape| tape.then == AfterTape::Stop);
        self.chat.opening == Opening::Run
            && matches!(outcome, TurnOutcome::Completed)
            && self.ending.stop.is_none()
            && self.ending.done.is_none()
            && !self.setup.later.is_empty()
            && !(self.setup.parted && stops_where_it_parts)
    }

    /// Starts the next turn of a chat replayed as a run: its recorded
    /// message, then the turn on the conversation so far (with its tape).
    pub(super) async fn next_turn(&mut self, myself: &ActorRef<SessionMsg>) {
        let Some(turn) = self.setup.later.pop_front() else {
            return;
        };
        match self.say_and_recall(&turn.prompt).await {
            Ok((inherited, own)) => {
                let mut events = inherited.to_vec();
                events.extend(own);
                self.refresh_sign_ins().await;
                let mut start = self.start_turn(history::conversation(&events), turn.prompt);
                if let ToWorker::Start(next) = &mut start {
                    next.tape = turn.tape;
                    self.ask_checks(next);
                }
                self.send(start);
            }
            Err(error) => {
                tracing::error!(session = %self.id, %error, "cannot start the next turn");
                self.worker_done(myself, TurnOutcome::Failed { error });
            }
        }
    }

    pub(super) fn worker_done(&mut self, myself: &ActorRef<SessionMsg>, outcome: TurnOutcome) {
        if self.ending.done.is_some() {
            return;
        }
        if self.chat.opening != Opening::Run && self.ending.stop.is_none() {
            // An interactive session outlives its turns, failed ones too;
            // the user decides what comes next.
            self.sample();
            if self.chat.in_turn {
                let error = match outcome {
                    TurnOutcome::Failed { error } => Some(error),
                    _ => None,
                };
                self.go_idle(myself, error);
            }
            return;
        }
        self.ending.done = Some(outcome);
        self.sample();
        self.send(ToWorker::Shutdown);
        drop(myself.send_after(EXIT_TIMEOUT, || SessionMsg::ExitTimeout));
    }
}
