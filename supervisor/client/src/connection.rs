//! A client of the daemon's control socket.
//!
//! One reader task owns the receiving side and routes each response to the
//! request waiting for it and each push to its subscription, so one
//! connection carries many concurrent requests and streams (the CLI's batch
//! runs, and later the desktop app).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::tokio::Stream as _;
use interprocess::local_socket::{GenericFilePath, ToFsName};
use protocol::SessionId;
use protocol::codec::{FrameError, read_frame, write_frame};
use protocol::control::{
    ClientFrame, ControlError, ControlRequest, ControlResponse, Push, ServerFrame,
};
use protocol::event::Event;
use protocol::handshake::{Hello, HelloReply, PeerRole};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

use protocol::layout::Layout;

use crate::data_dir;

/// How long to wait for a freshly started daemon to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// What can go wrong talking to the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No daemon listens on this data dir.
    #[error("no daemon is running for {0} (start one with `studio daemon start`)")]
    NotRunning(PathBuf),
    /// A daemon was started but did not come up.
    #[error("the daemon did not start: {detail} (see {log})")]
    StartFailed {
        /// What was observed.
        detail: String,
        /// The daemon's log file.
        log: PathBuf,
    },
    /// The daemon refused the handshake.
    #[error("the daemon refused the connection: {0}")]
    Refused(String),
    /// The daemon answered a request with an error.
    #[error("{0}")]
    Daemon(#[from] ControlError),
    /// The request does not fit in one frame; nothing was sent, and the
    /// connection is still usable.
    #[error("the request is too large ({len} bytes; one frame holds at most {max})")]
    TooLarge {
        /// Its encoded size.
        len: usize,
        /// [`protocol::codec::MAX_FRAME_LEN`].
        max: usize,
    },
    /// The connection broke or carried a bad frame.
    #[error("lost the connection to the daemon: {0}")]
    Frame(#[from] FrameError),
    /// The connection closed while a request was open.
    #[error("the daemon closed the connection")]
    Disconnected,
    /// The daemon answered with something this request cannot return.
    #[error("unexpected answer from the daemon: {0}")]
    Unexpected(String),
    /// Local I/O failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: io::Error,
    },
}

type Responder = oneshot::Sender<Result<ControlResponse, ControlError>>;

#[derive(Default)]
struct Routes {
    responses: HashMap<u64, Responder>,
    pushes: HashMap<u64, mpsc::UnboundedSender<Push>>,
    closed: bool,
}

/// A connection to the daemon. Cheap to clone; clones share the
/// connection, which closes when the last clone (and subscription) is dropped.
#[derive(Clone)]
pub struct Client {
    stream: Arc<Stream>,
    write_lock: Arc<tokio::sync::Mutex<()>>,
    routes: Arc<Mutex<Routes>>,
    next_id: Arc<AtomicU64>,
    _reader: Arc<ReaderTask>,
}

/// Stops the task routing incoming frames (and so releases its share of
/// the stream) when the last [`Client`] clone goes away.
struct ReaderTask(tokio::task::AbortHandle);

impl Drop for ReaderTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How to start a daemon when none is running.
#[derive(Clone, Debug)]
pub struct AutoStart {
    /// The `studio` executable to run as `studio --data-dir DIR daemon run`.
    pub studio_bin: PathBuf,
}

impl Client {
    /// Connects to the daemon of `dir`, starting one in the background
    /// when none is running.
    pub async fn connect_or_start(
        dir: &(impl AsRef<Layout> + ?Sized),
        start: &AutoStart,
    ) -> Result<Client, ClientError> {
        let dir = dir.as_ref();
        match Client::connect(dir).await {
            Err(ClientError::NotRunning(_)) => {}
            other => return other,
        }
        let mut child = spawn_daemon(dir, &start.studio_bin)?;
        let deadline = Instant::now() + START_TIMEOUT;
        let mut exited: Option<(Instant, std::process::ExitStatus)> = None;
        loop {
            match Client::connect(dir).await {
                Err(ClientError::NotRunning(_)) => {}
                other => return other,
            }
            if exited.is_none()
                && let Ok(Some(status)) = child.try_wait()
            {
                exited = Some((Instant::now(), status));
            }
            // Another client may have won the race to start a daemon (ours
            // then exits at once): give that one a moment to come up.
            if let Some((at, status)) = exited
                && at.elapsed() > Duration::from_secs(3)
            {
                return Err(ClientError::StartFailed {
                    detail: format!("it exited ({status}): {}", last_log_line(&dir.daemon_log())),
                    log: dir.daemon_log(),
                });
            }
            if Instant::now() > deadline {
                return Err(ClientError::StartFailed {
                    detail: format!("no answer within {}s", START_TIMEOUT.as_secs()),
                    log: dir.daemon_log(),
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Connects to the running daemon of `dir`.
    pub async fn connect(dir: &(impl AsRef<Layout> + ?Sized)) -> Result<Client, ClientError> {
        let stream = open_authenticated(dir.as_ref()).await?;
        Ok(Client::over(stream))
    }

    /// Performs the client handshake on a connected stream.
    pub async fn handshake(stream: Stream, token: String) -> Result<Client, ClientError> {
        shake_hands(&stream, token).await?;
        Ok(Client::over(stream))
    }

    /// A client over an authenticated stream: starts its reader task.
    fn over(stream: Stream) -> Client {
        let stream = Arc::new(stream);
        let routes: Arc<Mutex<Routes>> = Arc::default();
        let reader = tokio::spawn(route_frames(Arc::clone(&stream), Arc::clone(&routes)));
        Client {
            stream,
            write_lock: Arc::default(),
            routes,
            next_id: Arc::new(AtomicU64::new(1)),
            _reader: Arc::new(ReaderTask(reader.abort_handle())),
        }
    }

    fn routes(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn send(&self, id: u64, request: ControlRequest) -> Result<(), ClientError> {
        let _guard = self.write_lock.lock().await;
        let mut writer = &*self.stream;
        let written = write_frame(&mut writer, &ClientFrame { id, request }).await;
        if let Err(FrameError::TooLarge { len, max }) = written {
            // Encoded before anything is written: the stream is untouched.
            self.routes().responses.remove(&id);
            self.routes().pushes.remove(&id);
            return Err(ClientError::TooLarge { len, max });
        }
        written?;
        writer.flush().await.map_err(FrameError::from)?;
        Ok(())
    }

    /// Sends `request` and waits for its response; an error response is
    /// [`ClientError::Daemon`].
    pub async fn request(&self, request: ControlRequest) -> Result<ControlResponse, ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let mut routes = self.routes();
            if routes.closed {
                return Err(ClientError::Disconnected);
            }
            routes.responses.insert(id, tx);
        }
        self.send(id, request).await?;
        Ok(rx.await.map_err(|_| ClientError::Disconnected)??)
    }

    /// Sends a streaming request (`Follow`, `WatchSessions`); the returned
    /// subscription yields its pushes.
    pub async fn subscribe(&self, request: ControlRequest) -> Result<Subscription, ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let (push_tx, push_rx) = mpsc::unbounded_channel();
        {
            let mut routes = self.routes();
            if routes.closed {
                return Err(ClientError::Disconnected);
            }
            routes.responses.insert(id, tx);
            routes.pushes.insert(id, push_tx);
        }
        self.send(id, request).await?;
        match rx.await.map_err(|_| ClientError::Disconnected)? {
            Ok(ControlResponse::Subscribed) => Ok(Subscription {
                id,
                pushes: push_rx,
                client: self.clone(),
            }),
            Ok(other) => Err(ClientError::Unexpected(format!("{other:?}"))),
            Err(err) => {
                self.routes().pushes.remove(&id);
                Err(err.into())
            }
        }
    }
}

impl Client {
    /// Every recorded event of `session` after `after_seq`, read page by page.
    pub async fn all_events(
        &self,
        session: SessionId,
        after_seq: u64,
    ) -> Result<Vec<Event>, ClientError> {
        let mut out: Vec<Event> = Vec::new();
        self.each_events_page(session, after_seq, |page| {
            out.extend(page);
            Ok::<_, ClientError>(true)
        })
        .await?;
        Ok(out)
    }

    /// Hands `each` the recorded events of `session` after `after_seq`, a
    /// page at a time in order, until the last one or until `each` returns
    /// `false`; for callers that need not hold a whole log.
    pub async fn each_events_page<E: From<ClientError>>(
        &self,
        session: SessionId,
        mut after_seq: u64,
        mut each: impl FnMut(Vec<Event>) -> Result<bool, E>,
    ) -> Result<(), E> {
        loop {
            let request = ControlRequest::Events {
                session,
                after_seq,
                limit: EVENTS_PAGE,
            };
            let page = match self.request(request).await? {
                ControlResponse::Events(page) => page,
                other => return Err(ClientError::Unexpected(format!("{other:?}")).into()),
            };
            let Some(last) = page.last() else {
                return Ok(());
            };
            after_seq = last.seq;
            if !each(page)? {
                return Ok(());
            }
        }
    }
}

/// Events asked for per request by [`Client::each_events_page`].
const EVENTS_PAGE: u32 = 1000;

/// Pushes of one streaming request. Dropping it unsubscribes.
pub struct Subscription {
    id: u64,
    pushes: mpsc::UnboundedReceiver<Push>,
    client: Client,
}

impl Subscription {
    /// The next push; `None` after [`Push::End`] or when the connection closes.
    pub async fn next(&mut self) -> Option<Push> {
        match self.pushes.recv().await? {
            Push::End => {
                self.pushes.close();
                None
            }
            push => Some(push),
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let client = self.client.clone();
        let id = self.id;
        let open = client.routes().pushes.remove(&id).is_some();
        if open && let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = client
                    .request(ControlRequest::Unsubscribe { request_id: id })
                    .await;
            });
        }
    }
}

async fn route_frames(stream: Arc<Stream>, routes: Arc<Mutex<Routes>>) {
    let mut reader = BufReader::new(&*stream);
    let mut buf = Vec::new();
    loop {
        let frame = match read_frame::<_, ServerFrame>(&mut reader, &mut buf).await {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(err) => {
                tracing::debug!(%err, "control connection broke");
                break;
            }
        };
        let mut routes = routes.lock().unwrap_or_else(|p| p.into_inner());
        match frame {
            ServerFrame::Response { id, result } => {
                if let Some(tx) = routes.responses.remove(&id) {
                    let _ = tx.send(result);
                } else if let Err(err) = result {
                    tracing::warn!(%err, "daemon reported a connection error");
                }
            }
            ServerFrame::Push { id, push } => {
                let end = matches!(push, Push::End);
                if let Some(tx) = routes.pushes.get(&id) {
                    let _ = tx.send(push);
                }
                if end {
                    routes.pushes.remove(&id);
                }
            }
        }
    }
    let mut routes = routes.lock().unwrap_or_else(|p| p.into_inner());
    routes.closed = true;
    routes.responses.clear();
    routes.pushes.clear();
}

/// Opens the control socket of `dir` and shakes hands as a client with
/// its token. [`ClientError::NotRunning`] when no daemon listens.
async fn open_authenticated(dir: &Layout) -> Result<Stream, ClientError> {
    let socket = dir.control_socket();
    let name = socket
        .as_path()
        .to_fs_name::<GenericFilePath>()
        .map_err(|source| ClientError::Io {
            context: format!("bad socket path {}", socket.display()),
            source,
        })?;
    let stream = match Stream::connect(name).await {
        Ok(stream) => stream,
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Err(ClientError::NotRunning(dir.root().to_owned()));
        }
        Err(source) => {
            return Err(ClientError::Io {
                context: format!("cannot connect to {}", socket.display()),
                source,
            });
        }
    };
    let token = data_dir::read_client_token(dir).map_err(|source| ClientError::Io {
        context: format!("cannot read {}", dir.client_token().display()),
        source,
    })?;
    shake_hands(&stream, token).await?;
    Ok(stream)
}

/// The client's side of the handshake on `stream`.
async fn shake_hands(stream: &Stream, token: String) -> Result<(), ClientError> {
    let reply = Hello::new(PeerRole::Client, token)
        .send(&mut &*stream, &mut BufReader::new(stream))
        .await?
        .ok_or(ClientError::Disconnected)?;
    match reply {
        HelloReply::Refused { reason } => Err(ClientError::Refused(reason)),
        HelloReply::Accepted { .. } => Ok(()),
    }
}

/// Starts `studio --data-dir DIR daemon run` detached from this terminal,
/// logging to the data dir's `daemon.log`.
fn spawn_daemon(dir: &Layout, studio_bin: &Path) -> Result<std::process::Child, ClientError> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::process::CommandExt;

    data_dir::create(dir).map_err(|source| ClientError::Io {
        context: format!("cannot create data dir {}", dir.root().display()),
        source,
    })?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(dir.daemon_log())
        .map_err(|source| ClientError::Io {
            context: format!("cannot open {}", dir.daemon_log().display()),
            source,
        })?;
    let log_err = log.try_clone().map_err(|source| ClientError::Io {
        context: "cannot duplicate the log file".to_owned(),
        source,
    })?;
    // The daemon is the user's own: it may read keys from the environment.
    let mut cmd = studio_process::std_command(studio_bin, studio_process::ChildEnv::Inherit);
    cmd.arg("--data-dir")
        .arg(dir.root())
        .args(["daemon", "run", "--log-to-file"])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    #[expect(
        unsafe_code,
        reason = "setsid between fork and exec detaches the daemon from the terminal"
    )]
    // SAFETY: setsid is async-signal-safe and the closure allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::setsid()?;
            Ok(())
        });
    }
    cmd.spawn().map_err(|source| ClientError::Io {
        context: format!("cannot start {}", studio_bin.display()),
        source,
    })
}

fn last_log_line(path: &Path) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| {
            text.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "no log output".to_owned())
}
