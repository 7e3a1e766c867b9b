//! The first frame on every connection, in both directions.
//!
//! The connecting side sends [`Hello`]; the daemon answers [`HelloReply`]
//! and, if it refuses, closes the connection.

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::PROTOCOL_VERSION;
use crate::codec::{FrameError, read_frame, write_frame};
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

impl Hello {
    /// This build's Hello for `role` with `token`.
    pub fn new(role: PeerRole, token: String) -> Self {
        Self {
            protocol: PROTOCOL_VERSION,
            role,
            token,
        }
    }

    /// The connecting side of the handshake: sends this Hello on `writer`
    /// and reads the daemon's answer from `reader` (`None`: the daemon
    /// closed the connection first). The CLI, the app and workers all
    /// greet the daemon this way.
    ///
    /// A daemon over its connection cap refuses before reading the Hello
    /// and closes, so writing may fail with a broken pipe: the refusal
    /// already sent is then read and returned instead of the write error.
    pub async fn send<W, R>(
        &self,
        writer: &mut W,
        reader: &mut R,
    ) -> Result<Option<HelloReply>, FrameError>
    where
        W: AsyncWrite + Unpin,
        R: AsyncRead + Unpin,
    {
        let written = match write_frame(writer, self).await {
            Ok(()) => writer.flush().await.map_err(FrameError::from),
            Err(err) => Err(err),
        };
        match written {
            Ok(()) => read_frame(reader, &mut Vec::new()).await,
            Err(err) => match read_frame(reader, &mut Vec::new()).await {
                Ok(Some(reply)) => Ok(Some(reply)),
                _ => Err(err),
            },
        }
    }

    /// The protocol version a Hello payload announces, read before the
    /// rest, so that a peer of another version is told so even when the
    /// rest of its Hello has a different shape.
    pub fn peek_protocol(payload: &[u8]) -> Option<u32> {
        crate::codec::decode_prefix(payload).ok()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::encode_payload;

    #[test]
    fn the_version_is_readable_from_any_hello_shape() {
        let hello = Hello {
            protocol: 7,
            role: PeerRole::Client,
            token: "t".into(),
        };
        assert_eq!(
            Hello::peek_protocol(&encode_payload(&hello).unwrap()),
            Some(7)
        );
        // A future Hello of another shape still starts with its version.
        let future = (9u32, vec![1u64, 2, 3], "other fields");
        assert_eq!(
            Hello::peek_protocol(&encode_payload(&future).unwrap()),
            Some(9)
        );
        assert_eq!(Hello::peek_protocol(&[]), None);
    }

    /// A daemon that refused and closed before reading the Hello: the
    /// write fails, and the refusal it sent is what the caller gets.
    #[tokio::test]
    async fn a_refusal_sent_before_the_hello_was_read_is_returned() {
        let (mut ours, mut theirs) = tokio::io::duplex(64 * 1024);
        let refusal = HelloReply::Refused {
            reason: "too many connections".into(),
        };
        write_frame(&mut theirs, &refusal).await.unwrap();
        drop(theirs);
        let (mut reader, mut writer) = tokio::io::split(&mut ours);
        let reply = Hello::new(PeerRole::Client, "t".into())
            .send(&mut writer, &mut reader)
            .await
            .unwrap();
        assert_eq!(reply, Some(refusal));
    }

    /// Closed with nothing said: the write's own error is returned.
    #[tokio::test]
    async fn a_silent_close_is_the_write_error() {
        let (mut ours, theirs) = tokio::io::duplex(64);
        drop(theirs);
        let (mut reader, mut writer) = tokio::io::split(&mut ours);
        let err = Hello::new(PeerRole::Client, "t".into())
            .send(&mut writer, &mut reader)
            .await
            .unwrap_err();
        assert!(
            matches!(err, FrameError::Io(ref e) if e.kind() == std::io::ErrorKind::BrokenPipe),
            "{err}"
        );
    }
}
