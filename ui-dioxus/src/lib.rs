//! The AI Studio desktop app (`studio-ui`): a client of the daemon's
//! control socket like the CLI, never opening the database itself.
//!
//! Layout:
//! - [`state`]: the one store ([`state::AppState`]) and how answers and
//!   pushes fold into it ([`state::Update`]).
//! - [`connection`]: the one task that owns the daemon connection: it sends
//!   what components ask ([`connection::Command`]) and feeds the store.
//! - [`conversation`]: an interactive session's events as a chat.
//! - [`app_views`]: MCP Apps views in sandboxed frames, with the host side
//!   of their protocol.
//! - [`app`]: the root component, navigation (Ctrl+1..6) and the shell.
//! - [`pages`]: Agents, Sessions, Runs, Inspector, Settings, and Compare
//!   (sessions side by side).
//! - [`palette`]: the command palette (Ctrl/Cmd+K).
//! - [`preferences`]: what a person chose (the colours), kept across
//!   restarts.
//! - [`problems`]: a form's errors by field, shown next to each.
//! - [`saving`]: an export saved as a file (the desktop) or downloaded
//!   (the browser).
//! - [`web`]: the same app served to a browser (liveview), behind a sign-in
//!   session and `Host`/`Origin` checks.
//! - [`format`](mod@format): how durations, sizes and events read on screen.
//! - [`inspect`]: the Inspector's timeline rows, chips, search and stats.
//! - [`detail`]: the Inspector's detail panel, by kind of event.
//! - [`waterfall`]: the Inspector's time axis of requests, calls and waits.
//! - [`key_probe`]: times keys in the window for `scripts/bench` (off by
//!   default).
//!
//! Components only read the store and send commands, so the same tree
//! renders in the desktop window and, in tests, through `dioxus-ssr`.

pub mod app;
pub mod app_views;
pub mod commands;
pub mod connection;
pub mod conversation;
pub mod detail;
pub mod fields;
pub mod format;
pub mod inspect;
pub mod key_probe;
pub mod known_sessions;
pub mod notices;
pub mod notify;
pub mod pages;
pub mod palette;
pub mod preferences;
pub mod problems;
pub mod saving;
pub mod state;
pub mod waterfall;
pub mod web;

pub use app::{App, Shell};
pub use commands::Commands;
pub use connection::{Command, Target};
pub use state::{AppState, Page, Update};
