//! How components reach the daemon: [`Commands`], a handle in the root
//! context that hands each [`Command`] to the connection task. Pages and
//! the palette send through it; only `app` creates it.

use dioxus::prelude::*;

use crate::connection::Command;

/// How components send a [`Command`] to the connection task.
#[derive(Clone, Copy, PartialEq)]
pub struct Commands(pub Callback<Command>);

impl Commands {
    /// Sends `command` to the daemon (through the connection task).
    pub fn send(&self, command: Command) {
        self.0.call(command);
    }
}
