//! AI Studio's supervisor: the daemon and the client side of the CLI.
//!
//! - [`daemon`]: the actor tree (Root, Broker, Scheduler, Session), the two
//!   sockets and their handshake, worker processes.
//! - [`store`]: the redb event log, written only by its writer thread.
//! - [`secrets`]: provider keys and MCP secrets at rest, in the OS keyring
//!   or a private file, never in the database.
//! - [`client`]: a control-socket client (used by the CLI and tests), which
//!   starts the daemon in the background when none is running.
//! - [`paths`], [`auth`]: the data dir's layout, tokens and peer checks.
//! - [`pricing`]: model prices and the cost of a response.
//! - [`procfs`]: /proc readings, shared by the daemon and the tools that
//!   check it from outside.
//!
//! The `studio` binary (`main.rs`, `cli/`) is a thin layer over these.

mod atomic_file;
pub mod auth;
pub mod client;
pub mod daemon;
pub mod paths;
pub mod pricing;
pub mod procfs;
pub mod secrets;
pub mod store;
