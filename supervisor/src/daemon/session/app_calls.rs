//! A view's own tool calls (MCP Apps): a person presses a button in a
//! view the session recorded (`app.view`), and the view asks to call a
//! tool of its server. The call runs as a turn of its own on the idle
//! chat: `app.call` is recorded, then the worker asks, runs and records
//! it like any call, so rules, approvals and the inbox apply as they do to
//! the model's calls. A view can only reach its own server's tools, only
//! a view this session recorded may ask, and the model is not told.

use protocol::app_view::AppCall;
use protocol::control::{ControlError, ErrorKind};
use protocol::event::EventKind;
use protocol::worker::ToWorker;

use super::{Opening, SessionState, StopReply};
use crate::daemon::history;

/// What a view asks for, with the id its call will carry.
#[derive(Debug)]
pub(crate) struct AppAsk {
    /// The call's id (made by the control handler, which answers with it).
    pub(crate) call_id: String,
    /// The view's `ui://` resource.
    pub(crate) uri: String,
    /// The view's server.
    pub(crate) server: String,
    /// The tool's own name on that server.
    pub(crate) tool: String,
    /// Arguments as a JSON object's text.
    pub(crate) arguments: String,
}

impl SessionState {
    /// Starts `ask` as a turn of its own, or says why it cannot run.
    pub(super) async fn app_call(&mut self, ask: AppAsk, reply: StopReply) {
        let refusal = match self.app_refusal(&ask).await {
            Err(err) => Err(err),
            Ok(()) => self
                .sequencer
                .append_committed(EventKind::AppCallAsked {
                    call_id: ask.call_id.clone(),
                    tool: format!("{}.{}", ask.server, ask.tool),
                    uri: ask.uri.clone(),
                })
                .await
                .map(|_| ())
                .map_err(|err| ControlError::new(ErrorKind::Internal, err.to_string())),
        };
        if let Err(err) = refusal {
            let _ = reply.send(Err(err));
            return;
        }
        self.live.touch();
        self.chat.in_turn = true;
        self.chat.idle_epoch += 1;
        self.refresh_sign_ins().await;
        let mut start = self.start_turn(Vec::new(), String::new());
        if let ToWorker::Start(turn) = &mut start {
            turn.app_call = Some(AppCall {
                call_id: ask.call_id,
                tool: format!("{}.{}", ask.server, ask.tool),
                arguments: ask.arguments,
            });
        }
        self.send(start);
        let _ = reply.send(Ok(()));
    }

    /// Why `ask` cannot run now, if it cannot.
    /// Reads the log to check the view was recorded, and takes back the
    /// "always allow" grants of the session's earlier lives, as a message
    /// does.
    async fn app_refusal(&mut self, ask: &AppAsk) -> Result<(), ControlError> {
        let conflict = |what: &str| Err(ControlError::new(ErrorKind::Conflict, what.to_owned()));
        let invalid = |what: String| Err(ControlError::new(ErrorKind::Invalid, what));
        if self.chat.opening == Opening::Run {
            return invalid(format!(
                "session {} is a headless run: its views can show, not call tools",
                self.id
            ));
        }
        if self.ending.stop.is_some() || self.ending.done.is_some() {
            return conflict("the session is ending");
        }
        if !self.is_connected() {
            return conflict("the session is starting: try again in a moment");
        }
        if self.chat.in_turn {
            return conflict("a turn is running: the view may call once the session is idle");
        }
        if !matches!(
            serde_json::from_str::<serde_json::Value>(&ask.arguments),
            Ok(serde_json::Value::Object(_))
        ) {
            return invalid("a tool's arguments must be a JSON object".to_owned());
        }
        if ask.server.is_empty() || ask.server.contains('.') || ask.tool.is_empty() {
            return invalid(format!("{:?} names no MCP server", ask.server));
        }
        let (inherited, own) = self
            .history_before(u64::MAX)
            .await
            .map_err(|err| ControlError::new(ErrorKind::Internal, err.to_string()))?;
        let recorded = inherited.iter().chain(&own).any(|event| {
            matches!(&event.kind, EventKind::AppView(view)
                if view.server == ask.server && view.uri == ask.uri)
        });
        for grant in history::grants(&own) {
            if !self.setup.grants.contains(&grant) {
                self.setup.grants.push(grant);
            }
        }
        if !recorded {
            return Err(ControlError::new(
                ErrorKind::NotFound,
                format!(
                    "session {} has no view {} of server {:?}",
                    self.id, ask.uri, ask.server
                ),
            ));
        }
        Ok(())
    }
}
