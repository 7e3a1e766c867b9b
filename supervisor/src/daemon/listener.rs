//! The two sockets, and the handshake every connection starts with.
//!
//! Both are file-path sockets (mode 0600) in the data dir's private `run/`
//! directory. A connection must come from our own uid, send a
//! [`Hello`] within [`HANDSHAKE_TIMEOUT`], speak our protocol version, use
//! the socket of its role, and present the right token. Anything else gets
//! a [`HelloReply::Refused`] saying why, and the connection is closed; the
//! listener goes on serving everyone else.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use interprocess::local_socket::tokio::{Listener, Stream};
use interprocess::local_socket::traits::StreamCommon;
use interprocess::local_socket::traits::tokio::Listener as _;
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use interprocess::os::unix::local_socket::ListenerOptionsExt;
use protocol::codec::{FrameError, decode_payload, read_payload, write_frame};
use protocol::handshake::{Hello, HelloReply, PeerRole};
use protocol::{PROTOCOL_VERSION, SessionId};
use ractor::DerivedActorRef;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::admission::Admission;
use crate::auth;

/// How long a new connection may take to say hello.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds a socket at `path` with mode 0600, replacing a stale socket file.
pub(crate) fn bind(path: &Path) -> std::io::Result<Listener> {
    let name = path.to_fs_name::<GenericFilePath>()?;
    ListenerOptions::new()
        .name(name)
        .mode(0o600)
        .try_overwrite(true)
        .create_tokio()
        .map_err(|err| {
            std::io::Error::new(
                err.kind(),
                format!("cannot listen on {}: {err}", path.display()),
            )
        })
}

/// Accepts connections forever, handing each to `serve` on its own task,
/// as long as [`Admission`] lets it in; a connection over a cap gets a
/// refusal saying so.
pub(crate) async fn accept_loop<F, Fut>(listener: Listener, what: &'static str, serve: F)
where
    F: Fn(Stream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let admission = Admission::new();
    loop {
        match listener.accept().await {
            Ok(stream) => {
                let peer = stream
                    .peer_creds()
                    .ok()
                    .and_then(|c| c.pid())
                    .and_then(|pid| u32::try_from(pid).ok());
                match admission.admit(peer) {
                    Ok(held) => {
                        let serving = serve(stream);
                        tokio::spawn(async move {
                            serving.await;
                            drop(held);
                        });
                    }
                    Err(why) => {
                        tracing::warn!(socket = what, ?peer, why, "connection refused");
                        tokio::spawn(async move { refuse(&stream, &why).await });
                    }
                }
            }
            Err(err) => {
                tracing::warn!(socket = what, %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// The checked identity of a connection that passed the handshake.
#[derive(Debug)]
pub(crate) struct Greeting {
    pub(crate) role: PeerRole,
    pub(crate) token: String,
    pub(crate) peer_pid: Option<u32>,
}

/// Reads and checks the Hello. On failure the refusal has been sent and
/// the caller just drops the stream.
pub(crate) async fn greet(stream: &Stream, expect_worker: bool) -> Option<Greeting> {
    let creds = stream.peer_creds();
    let (peer_euid, peer_pid) = match &creds {
        Ok(c) => (c.euid(), c.pid().and_then(|p| u32::try_from(p).ok())),
        Err(_) => (None, None),
    };
    if let Err(err) = auth::check_peer_uid(peer_euid, auth::our_euid()) {
        refuse(stream, &err.to_string()).await;
        return None;
    }
    let mut reader = stream;
    let hello = match read_hello(&mut reader, expect_worker).await {
        Ok(Some(hello)) => hello,
        Ok(None) => return None,
        Err(reason) => {
            refuse(stream, &reason).await;
            return None;
        }
    };
    Some(Greeting {
        role: hello.role,
        token: hello.token,
        peer_pid,
    })
}

/// Reads a Hello from `reader` and checks its version and role (a worker
/// where `expect_worker`): `Ok(None)` when the peer left first, `Err` with
/// the refusal to send.
pub(crate) async fn read_hello<R: AsyncRead + Unpin>(
    reader: &mut R,
    expect_worker: bool,
) -> Result<Option<Hello>, String> {
    let mut payload = Vec::new();
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, read_payload(reader, &mut payload)).await {
        Err(_) => return Err("no handshake within 5s".to_owned()),
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => return Ok(None),
        Ok(Err(err)) => return Err(handshake_error(&err)),
    }
    // The version first: a peer of another version may shape its Hello differently.
    if let Some(version) = Hello::peek_protocol(&payload)
        && version != PROTOCOL_VERSION
    {
        return Err(format!(
            "protocol version {version} is not supported (this daemon speaks {PROTOCOL_VERSION}); restart it with `studio daemon stop`"
        ));
    }
    let hello: Hello = decode_payload(&payload).map_err(|err| handshake_error(&err))?;
    let is_worker = matches!(hello.role, PeerRole::Worker { .. });
    if is_worker != expect_worker {
        return Err(if expect_worker {
            "this is the worker socket; clients use control.sock".to_owned()
        } else {
            "this is the control socket; workers use worker.sock".to_owned()
        });
    }
    Ok(Some(hello))
}

fn handshake_error(err: &FrameError) -> String {
    format!("malformed handshake: {err}")
}

/// Sends a refusal (best effort) before the caller closes the stream.
pub(crate) async fn refuse(stream: &Stream, reason: &str) {
    let mut writer = stream;
    refuse_on(&mut writer, reason).await;
}

/// [`refuse`] on any writer (a remote worker's TLS stream).
pub(crate) async fn refuse_on<W: AsyncWrite + Unpin>(writer: &mut W, reason: &str) {
    tracing::info!(reason, "connection refused");
    let reply = HelloReply::Refused {
        reason: reason.to_owned(),
    };
    let _ = write_frame(writer, &reply).await;
    let _ = writer.flush().await;
}

/// Sends the acceptance.
pub(crate) async fn accept(stream: &Stream) -> Result<(), FrameError> {
    let mut writer = stream;
    accept_on(&mut writer).await
}

/// [`accept`] on any writer.
pub(crate) async fn accept_on<W: AsyncWrite + Unpin>(writer: &mut W) -> Result<(), FrameError> {
    write_frame(
        writer,
        &HelloReply::Accepted {
            daemon_version: env!("CARGO_PKG_VERSION").to_owned(),
        },
    )
    .await?;
    writer.flush().await?;
    Ok(())
}

/// Workers that were spawned and have not connected yet, with their
/// one-time tokens. A token is forgotten once used.
#[derive(Default)]
pub(crate) struct WorkerRegistry {
    pending: Mutex<HashMap<SessionId, PendingWorker>>,
}

struct PendingWorker {
    token: String,
    peer: Expected,
    session: DerivedActorRef<WorkerConnected>,
}

/// Where a session's worker is to connect from.
enum Expected {
    /// The worker socket, from this process (the local launcher's).
    Local(u32),
    /// The TCP worker listener, from anywhere (a remote launcher's job):
    /// only the token, and TLS, vouch for it.
    Remote,
}

/// Where a worker connected from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Peer {
    /// The worker socket, from this process (as far as the kernel says).
    Local(Option<u32>),
    /// The TCP worker listener.
    Remote,
}

/// A session's worker connected and was checked: its connection, for the
/// session (the registry holds a `DerivedActorRef` of it, not the
/// session's own messages).
pub(crate) struct WorkerConnected(pub(crate) WorkerLink);

/// The reading half of a worker's connection.
pub(crate) type LinkReader = Box<dyn AsyncRead + Send + Unpin>;
/// The writing half of a worker's connection.
pub(crate) type LinkWriter = Box<dyn AsyncWrite + Send + Unpin>;

/// A worker's connection, its halves read and written by separate tasks:
/// the worker socket's stream, or a remote worker's TLS stream.
pub(crate) struct WorkerLink {
    pub(crate) reader: LinkReader,
    pub(crate) writer: LinkWriter,
}

impl WorkerLink {
    /// A local worker's stream (`&Stream` reads and writes independently).
    pub(crate) fn local(stream: Stream) -> WorkerLink {
        let stream = Arc::new(stream);
        WorkerLink {
            reader: Box::new(SharedStream(Arc::clone(&stream))),
            writer: Box::new(SharedStream(stream)),
        }
    }
}

/// One worker socket stream, shared by its reader and its writer.
struct SharedStream(Arc<Stream>);

impl AsyncRead for SharedStream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut &*self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for SharedStream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut &*self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut &*self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut &*self.0).poll_shutdown(cx)
    }
}

impl WorkerRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, PendingWorker>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Expects the worker process `pid` to connect for `session` on the
    /// worker socket, presenting `token`.
    pub(crate) fn expect(
        &self,
        session: SessionId,
        token: String,
        pid: u32,
        actor: DerivedActorRef<WorkerConnected>,
    ) {
        self.lock().insert(
            session,
            PendingWorker {
                token,
                peer: Expected::Local(pid),
                session: actor,
            },
        );
    }

    /// Expects a worker that runs elsewhere to dial the TCP worker
    /// listener for `session`, presenting `token`.
    pub(crate) fn expect_remote(
        &self,
        session: SessionId,
        token: String,
        actor: DerivedActorRef<WorkerConnected>,
    ) {
        self.lock().insert(
            session,
            PendingWorker {
                token,
                peer: Expected::Remote,
                session: actor,
            },
        );
    }

    /// Stops expecting a worker for `session`.
    pub(crate) fn forget(&self, session: SessionId) {
        self.lock().remove(&session);
    }

    /// Checks a worker's greeting and returns where to hand its
    /// connection; the token is used up.
    pub(crate) fn claim(
        &self,
        session: SessionId,
        token: &str,
        peer: Peer,
    ) -> Result<DerivedActorRef<WorkerConnected>, &'static str> {
        let mut pending = self.lock();
        let Some(entry) = pending.get(&session) else {
            return Err("no worker is expected for this session");
        };
        if !auth::token_matches(token, &entry.token) {
            return Err("invalid worker token");
        }
        match (&entry.peer, peer) {
            (Expected::Local(pid), Peer::Local(peer_pid)) if peer_pid == Some(*pid) => {}
            (Expected::Local(_), Peer::Local(_)) => {
                return Err("connection does not come from the spawned worker process");
            }
            (Expected::Local(_), Peer::Remote) => {
                return Err("this session's worker runs here: it connects on worker.sock");
            }
            (Expected::Remote, Peer::Remote) => {}
            (Expected::Remote, Peer::Local(_)) => {
                return Err("this session's worker runs elsewhere: it dials the TCP listener");
            }
        }
        pending
            .remove(&session)
            .map(|entry| entry.session)
            .ok_or("no worker is expected for this session")
    }
}
