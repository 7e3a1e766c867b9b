//! How components reach the daemon: [`Commands`], a handle in the root
//! context that hands each [`Command`] to the connection task. Pages and
//! the palette send through it; only `app` creates it.

use dioxus::prelude::*;

use protocol::SessionId;
use protocol::control::RowWindow;

use crate::connection::Command;
use crate::state::{AppState, Page};

/// How components send a [`Command`] to the connection task.
#[derive(Clone, Copy, PartialEq)]
pub struct Commands(pub Callback<Command>);

impl Commands {
    /// Sends `command` to the daemon (through the connection task).
    pub fn send(&self, command: Command) {
        self.0.call(command);
    }

    /// Shows the Compare page for `sessions` and asks for them side by
    /// side (the rows around where they part).
    pub fn compare(&self, mut state: Signal<AppState>, sessions: Vec<SessionId>) {
        {
            let mut state = state.write();
            state.compare.ask(sessions.clone());
            state.page = Page::Compare;
        }
        self.send(Command::Compare {
            sessions,
            window: RowWindow::AroundDivergence,
        });
    }
}
