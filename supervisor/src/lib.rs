//! AI Studio's supervisor: the daemon and the client side of the CLI.
//!
//! - [`daemon`]: the actor tree (Root, Broker, Scheduler, Session), the two
//!   sockets and their handshake, worker processes.
//! - [`store`]: the redb event log, written only by its writer thread.
//! - [`secrets`]: provider keys and MCP secrets at rest, in the OS keyring
//!   or a private file, never in the database.
//! - [`paths`], [`auth`]: the data dir's layout, tokens and peer checks.
//! - [`pricing`]: model prices and the cost of a response.
//! - [`procfs`]: /proc readings, shared by the daemon and the tools that
//!   check it from outside.
//!
//! The `studio` binary (`main.rs`, `cli/`) is a thin layer over these and
//! `studio_client`, the control-socket client it shares with the app.

mod atomic_file;
pub mod auth;
pub mod compare;
pub mod daemon;
pub mod otlp;
pub mod paths;
pub mod pricing;
pub mod procfs;
pub mod secrets;
pub mod store;
