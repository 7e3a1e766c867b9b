//! The worker socket: connecting, the handshake, reading commands and
//! writing reports.
//!
//! Reading and writing are two loops over the connection's two halves
//! (the Unix socket's `&Stream` reads and writes independently; a TLS
//! connection to a remote daemon, [`crate::dial`], is split). The reader forwards each [`ToWorker`]
//! to the command loop and ends the worker on `Shutdown`, end of stream or
//! a bad frame. Every [`FromWorker`] goes through the [`Outbox`] to the one
//! writer, which packs whatever is pending into a single write, so a flood
//! of events costs few syscalls.

use std::path::Path;

use anyhow::{Context, bail};
use interprocess::local_socket::tokio::{Stream, prelude::*};
use interprocess::local_socket::{GenericFilePath, ToFsName};
use protocol::codec;
use protocol::event::EventKind;
use protocol::handshake::{Hello, HelloReply, PeerRole};
use protocol::worker::{FromWorker, ToWorker};
use protocol::{SessionId, Timestamp};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

/// How the connection to the daemon ended, when it ended without an error.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The daemon sent [`ToWorker::Shutdown`].
    Shutdown,
    /// The daemon closed the connection.
    Closed,
    /// The daemon refused the handshake.
    Refused {
        /// The daemon's explanation.
        reason: String,
    },
}

/// Messages the [`Outbox`] may hold before senders wait for the writer.
///
/// Bounded so that a flooding turn yields to the writer instead of queueing
/// without limit.
const OUTBOX_CAPACITY: usize = 256;

/// Bytes gathered into one write before it is sent.
const BATCH_BYTES: usize = 64 * 1024;

/// Connects to the daemon's worker socket at `path`.
pub async fn connect(path: &Path) -> anyhow::Result<Stream> {
    let name = path
        .to_fs_name::<GenericFilePath>()
        .with_context(|| format!("invalid socket path {}", path.display()))?;
    Stream::connect(name)
        .await
        .with_context(|| format!("cannot connect to the daemon at {}", path.display()))
}

/// Introduces this worker with its session and token, and returns the
/// daemon's answer.
///
/// `reader` must be the buffered reader used for everything after, since
/// it may already hold the first command.
pub async fn handshake<W: AsyncWrite + Unpin, R: AsyncRead + Unpin>(
    writer: &mut W,
    reader: &mut BufReader<R>,
    session: SessionId,
    token: String,
) -> anyhow::Result<HelloReply> {
    let reply = Hello::new(PeerRole::Worker { session }, token)
        .send(writer, reader)
        .await
        .context("cannot greet the daemon")?;
    match reply {
        Some(reply) => Ok(reply),
        None => bail!("the daemon closed the connection during the handshake"),
    }
}

/// Reads commands and forwards them to `commands` until the connection
/// ends: returns on `Shutdown` or end of stream, fails on a bad frame.
///
/// `Shutdown` is handled here rather than forwarded, so that it ends the
/// worker at once whatever the command loop is doing.
pub async fn read_commands<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    commands: mpsc::UnboundedSender<ToWorker>,
) -> anyhow::Result<Ended> {
    let mut buf = Vec::new();
    loop {
        let command = match codec::read_frame::<_, ToWorker>(reader, &mut buf).await {
            // A remote daemon gone without TLS's goodbye closed the
            // connection.
            Err(codec::FrameError::Io(err)) if err.kind() == std::io::ErrorKind::UnexpectedEof => {
                None
            }
            read => read.context("cannot read from the daemon")?,
        };
        match command {
            None => {
                tracing::debug!("the daemon closed the connection");
                return Ok(Ended::Closed);
            }
            Some(ToWorker::Shutdown) => {
                tracing::debug!("shutdown requested");
                return Ok(Ended::Shutdown);
            }
            Some(command) => {
                if commands.send(command).is_err() {
                    // The command loop is gone; the worker is ending anyway.
                    return Ok(Ended::Closed);
                }
            }
        }
    }
}

/// One item for the writer.
#[derive(Debug)]
pub enum Outgoing {
    /// A message for the daemon.
    Frame(FromWorker),
    /// Answered once everything queued before it has been written.
    Flush(oneshot::Sender<()>),
    /// Bytes written as they are, not framed (for the faults that break
    /// the protocol on purpose).
    Raw(Vec<u8>),
}

/// A new [`Outbox`] and the receiving end that [`write_frames`] drains.
pub fn outbox() -> (Outbox, mpsc::Receiver<Outgoing>) {
    let (tx, rx) = mpsc::channel(OUTBOX_CAPACITY);
    let outbox = Outbox {
        tx,
        answer: std::sync::Mutex::default(),
    };
    (outbox, rx)
}

/// Records events for the daemon from a task that owns it
/// ([`Outbox::event_sender`]).
#[derive(Clone, Debug)]
pub struct EventSender(mpsc::Sender<Outgoing>);

impl EventSender {
    /// Queues an event stamped with the current time; `false` once the
    /// daemon's connection is gone.
    pub async fn event(&self, kind: EventKind) -> bool {
        let frame = FromWorker::Event {
            at: Timestamp::now(),
            kind,
        };
        self.0.send(Outgoing::Frame(frame)).await.is_ok()
    }
}

/// Where every message for the daemon goes; cheap to share by reference.
///
/// Sending is cancel-safe: a turn dropped while sending either queued its
/// message whole or not at all, so frames never interleave.
#[derive(Debug)]
pub struct Outbox {
    tx: mpsc::Sender<Outgoing>,
    /// The text of the last `message.assistant` sent: what a judge scores.
    answer: std::sync::Mutex<String>,
}

impl Outbox {
    /// The last answer sent (empty before one).
    pub fn last_answer(&self) -> String {
        self.answer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Queues `msg` for the daemon.
    pub async fn send(&self, msg: FromWorker) -> anyhow::Result<()> {
        if let FromWorker::Event {
            kind: EventKind::MessageAssistant { text },
            ..
        } = &msg
        {
            text.clone_into(&mut self.answer.lock().unwrap_or_else(|p| p.into_inner()));
        }
        self.tx
            .send(Outgoing::Frame(msg))
            .await
            .map_err(|_| writer_gone())
    }

    /// A handle that records events from a task of its own (a plugin
    /// server's network proxy), which outlives any borrow of this outbox.
    pub fn event_sender(&self) -> EventSender {
        EventSender(self.tx.clone())
    }

    /// Queues an event stamped with the current time.
    pub async fn event(&self, kind: EventKind) -> anyhow::Result<()> {
        self.send(FromWorker::Event {
            at: Timestamp::now(),
            kind,
        })
        .await
    }

    /// Queues bytes to be written as they are, outside any frame.
    pub async fn raw(&self, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.tx
            .send(Outgoing::Raw(bytes))
            .await
            .map_err(|_| writer_gone())
    }

    /// Waits until everything queued so far has been written to the socket.
    pub async fn flush(&self) -> anyhow::Result<()> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Outgoing::Flush(ack))
            .await
            .map_err(|_| writer_gone())?;
        done.await.map_err(|_| writer_gone())
    }
}

/// The error when the writer has stopped (it failed, or the worker is ending).
fn writer_gone() -> anyhow::Error {
    anyhow::anyhow!("the connection to the daemon is closed")
}

/// Writes everything sent to the [`Outbox`] until it is dropped.
///
/// Each round takes one message, then whatever else is already pending (up
/// to [`BATCH_BYTES`]), and writes it all at once. Flush requests are
/// answered after the write that carries the messages queued before them.
pub async fn write_frames<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut outgoing: mpsc::Receiver<Outgoing>,
) -> anyhow::Result<()> {
    let mut batch = Vec::with_capacity(BATCH_BYTES);
    let mut acks = Vec::new();
    while let Some(first) = outgoing.recv().await {
        let mut next = Some(first);
        while let Some(item) = next {
            match item {
                Outgoing::Frame(msg) => codec::encode_frame_into(&msg, &mut batch)
                    .context("cannot encode a message for the daemon")?,
                Outgoing::Flush(ack) => acks.push(ack),
                Outgoing::Raw(bytes) => batch.extend_from_slice(&bytes),
            }
            next = if batch.len() < BATCH_BYTES {
                outgoing.try_recv().ok()
            } else {
                None
            };
        }
        writer
            .write_all(&batch)
            .await
            .context("cannot write to the daemon")?;
        batch.clear();
        // One huge message should not keep its buffer for the worker's life.
        batch.shrink_to(BATCH_BYTES);
        for ack in acks.drain(..) {
            // The flusher may have been cancelled meanwhile; nothing to tell it.
            let _ = ack.send(());
        }
    }
    Ok(())
}
