//! The first frame on every connection, in both directions.
//!
//! The connecting side sends [`Hello`]; the daemon answers [`HelloReply`]
//! and, if it refuses, closes the connection.

use serde::{Deserialize, Serialize};

use crate::ids::SessionId;

/// Opens a connection: who is calling and their proof.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The caller's [`crate::PROTOCOL_VERSION`]. Kept first so that a
    /// version mismatch can be reported even when the rest changed shape.
    pub protocol: u32,
    /// What the caller is.
    pub role: PeerRole,
    /// A client's token (from the data dir's token file) or a worker's
    /// one-time token (from its stdin).
    pub token: String,
}

impl std::fmt::Debug for Hello {
    /// Never prints the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hello")
            .field("protocol", &self.protocol)
            .field("role", &self.role)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// What a connecting peer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerRole {
    /// The CLI or the desktop app, on the control socket.
    Client,
    /// The worker process of one session, on the worker socket.
    Worker {
        /// The session it was spawned for.
        session: SessionId,
    },
}

/// The daemon's answer to [`Hello`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HelloReply {
    /// The connection may proceed.
    Accepted {
        /// The daemon's package version, for diagnostics.
        daemon_version: String,
    },
    /// The connection is refused and will be closed.
    Refused {
        /// Why, in words meant for the user.
        reason: String,
    },
}
