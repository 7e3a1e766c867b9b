//! A client of the AI Studio daemon, shared by the CLI (`studio`) and the
//! desktop app (`studio-ui`), which never links the daemon itself:
//!
//! - [`connection`]: [`Client`], the control socket: connect (or start
//!   the daemon), the handshake, concurrent requests and subscriptions,
//!   paging through an event log.
//! - [`data_dir`]: creating a data dir as the daemon expects it.

pub mod connection;
pub mod data_dir;

pub use connection::{AutoStart, Client, ClientError, Subscription};
