//! The daemon: actor tree, sockets and store, started by [`run`].
//!
//! ```text
//! Root ─┬─ Broker                 fan-out of committed events
//!       └─ Scheduler ─ Session*   one per live session, owns its worker
//! Store writer thread             the only writer of the database
//! control.sock ─ control::serve   one task per client connection
//! worker.sock  ─ serve_worker     hands each authenticated worker to its Session
//! ```

mod admission;
mod approvals;
mod broker;
mod checks;
mod containment;
mod control;
mod history;
mod listener;
pub mod log_file;
mod mcp_oauth;
mod mcp_servers;
mod otlp_export;
mod providers;
mod remote_workers;
mod root;
mod rules;
mod run_workspace;
mod scheduler;
mod sequencer;
mod session;
mod slurm;
mod spend_caps;
mod stderr_tail;
mod tape;
mod worker_process;

use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use interprocess::local_socket::tokio::Stream;
use protocol::Timestamp;
use protocol::handshake::PeerRole;
use ractor::{Actor, ActorRef};
use rustix::fs::{FlockOperation, flock};

use crate::paths::DataDir;
use crate::secrets::{SecretStore, SecretsError, StoreChoice};
use crate::store::{Store, StoreError};
pub(crate) use broker::{BrokerItem, BrokerMsg, Topic};
use listener::WorkerRegistry;
use root::{Root, RootMsg};
pub(crate) use scheduler::{ChatInput, QueuedRun, SchedulerMsg};
pub(crate) use sequencer::Sequencer;

/// How a daemon instance is set up.
#[derive(Clone, Debug)]
pub struct DaemonConfig {
    /// Where its files live.
    pub data_dir: DataDir,
    /// Most runs live at once; more wait in the queue. `None`: the limit
    /// last set by a client (`studio daemon limits`), else 16.
    pub max_concurrent_runs: Option<u32>,
    /// How long a cancelled worker has to stop before its group is killed.
    pub cancel_grace: Duration,
    /// The `studio-worker` executable.
    pub worker_bin: PathBuf,
    /// The same tool call with identical arguments this many times in a
    /// row stops the session (`budget.exceeded`, loop).
    pub tool_loop_limit: u32,
    /// An interactive session left idle this long ends (`session.completed`;
    /// it can be resumed), so a forgotten chat does not keep a worker.
    pub chat_idle_timeout: Duration,
    /// Hold each session in a PID namespace and a cgroup of its own (see
    /// `containment`). Off only to measure what they cost (`scripts/bench`).
    pub hold_sessions: bool,
    /// Where provider keys and MCP secrets are kept: the OS keyring when
    /// it works (`Auto`), or the secrets file.
    pub secret_store: StoreChoice,
    /// Where a run's worker runs unless the run says (`RunSpec::on`).
    pub launcher: protocol::launch::Launcher,
    /// Where to offer the TCP worker listener (TLS) that workers on other
    /// machines dial; `None`: not offered, and remote launchers refuse.
    pub worker_listen: Option<std::net::SocketAddr>,
    /// The `HOST:PORT` those workers dial, when it is not the address
    /// listened on (`0.0.0.0`, a NAT): [default: the bound address].
    pub worker_address: Option<String>,
    /// How long a cluster job may wait in the queue before its worker
    /// connects; then its session ends.
    pub pending_limit: Duration,
}

impl DaemonConfig {
    /// Defaults for `data_dir`: the stored run limit (else 16), 2 s grace, the worker
    /// binary next to the current executable, 5 identical tool calls,
    /// chats ended after 30 idle minutes, secrets in the OS keyring when
    /// it works.
    pub fn new(data_dir: DataDir) -> io::Result<Self> {
        Ok(Self {
            data_dir,
            max_concurrent_runs: None,
            cancel_grace: Duration::from_secs(2),
            worker_bin: default_worker_bin()?,
            tool_loop_limit: 5,
            chat_idle_timeout: Duration::from_secs(30 * 60),
            hold_sessions: true,
            secret_store: StoreChoice::Auto,
            launcher: protocol::launch::Launcher::Local,
            worker_listen: None,
            worker_address: None,
            pending_limit: Duration::from_secs(120),
        })
    }
}

/// `studio-worker` next to the running executable.
pub fn default_worker_bin() -> io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe.with_file_name("studio-worker"))
}

/// Why the daemon could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Another daemon serves this data dir.
    #[error("a daemon is already running for {dir} (pid {pid})")]
    AlreadyRunning {
        /// The data dir.
        dir: PathBuf,
        /// Its pid, as far as the pid file tells.
        pid: String,
    },
    /// The worker executable is missing.
    #[error(
        "worker executable {0} not found (build it with `cargo build --workspace`, or set STUDIO_WORKER_BIN)"
    )]
    WorkerMissing(PathBuf),
    /// The store failed to open.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The secret store failed to open, or secrets could not be moved out
    /// of the database.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// A file or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: io::Error,
    },
    /// The actor system failed to start.
    #[error("cannot start the daemon's actors: {0}")]
    Actors(String),
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> DaemonError {
    let context = context.into();
    move |source| DaemonError::Io { context, source }
}

/// What every part of the daemon shares.
pub(crate) struct Shared {
    pub(crate) config: DaemonConfig,
    /// Where sessions get their cgroups, if anywhere.
    pub(crate) cgroups: containment::Cgroups,
    /// What the kernel offers the sandbox of agents' commands.
    pub(crate) sandbox_support: protocol::sandbox::SandboxSupport,
    pub(crate) store: Store,
    /// Provider keys and MCP servers' secrets.
    pub(crate) secrets: SecretStore,
    pub(crate) broker: ActorRef<BrokerMsg>,
    pub(crate) workers: WorkerRegistry,
    pub(crate) client_token: String,
    pub(crate) started_at: Timestamp,
    pub(crate) next_subscription: AtomicU64,
    /// Id of the next `RunBatch`, for the Scheduler's per-batch limit.
    pub(crate) next_batch: AtomicU64,
    /// Notified when a client asks the daemon to stop.
    pub(crate) stop_requested: tokio::sync::Notify,
    /// Prices in force, for costing responses as they are recorded.
    pub(crate) pricing: tokio::sync::RwLock<PricingState>,
    /// Decides tool calls.
    pub(crate) approvals: ActorRef<approvals::ApprovalsMsg>,
    /// What agents' days and groups spent, against their caps.
    pub(crate) ledger: spend_caps::Ledger,
    /// Where ended turns go as traces, and how that went.
    pub(crate) otlp: otlp_export::OtlpExport,
    /// The TCP worker listener, once it listens.
    pub(crate) remote: std::sync::OnceLock<remote_workers::Offered>,
    /// Watches every Slurm job of the daemon's sessions.
    pub(crate) jobs: slurm::queue::JobWatcher,
}

/// The user's prices and the table they make with the built-in ones.
pub(crate) struct PricingState {
    pub(crate) custom: crate::pricing::CustomPrices,
    pub(crate) table: protocol::control::PricingTable,
}

impl PricingState {
    pub(crate) fn new(custom: crate::pricing::CustomPrices) -> Self {
        let table = custom.table();
        Self { custom, table }
    }
}

impl Shared {
    /// `model`'s price now, for a new session's estimates.
    pub(crate) async fn price_of(&self, model: &str) -> Option<protocol::control::ModelPrice> {
        crate::pricing::lookup(&self.pricing.read().await.table, model)
    }
}

/// Runs a daemon until `shutdown` resolves or a client asks it to stop.
///
/// Takes the data dir's lock (one daemon per data dir), opens the secret
/// store (moving any secret an older release kept in the database into
/// it), opens the store, marks sessions a previous daemon left live as interrupted (killing any
/// of their workers still around), and serves both sockets. On the way out
/// every live session is killed and recorded as interrupted.
pub async fn run(
    config: DaemonConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    let dir = &config.data_dir;
    dir.create().map_err(io_err(format!(
        "cannot create data dir {}",
        dir.root().display()
    )))?;
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    raise_fd_limit();
    if !config.worker_bin.is_file() {
        return Err(DaemonError::WorkerMissing(config.worker_bin.clone()));
    }
    let _lock = lock_data_dir(dir).await?;
    fs::write(dir.pid_file(), std::process::id().to_string())
        .map_err(io_err("cannot write pid file"))?;
    let client_token = crate::auth::load_or_create_client_token(&dir.client_token())
        .map_err(io_err("cannot read or create the client token"))?;
    let secrets = SecretStore::open(dir, config.secret_store).await?;
    crate::secrets::migrate::from_database(&dir.database(), &secrets).await?;

    let sandbox_support = worker_process::probe_sandbox(&config.worker_bin).await;
    tracing::info!(%sandbox_support, "sandbox of agents' commands");
    let (root, root_handle) = Actor::spawn(
        Some("root".to_owned()),
        Root,
        (config.clone(), client_token, sandbox_support, secrets),
    )
    .await
    .map_err(startup_error)?;
    let handles = match root.call(RootMsg::Handles, None).await {
        Ok(ractor::rpc::CallResult::Success(handles)) => handles,
        _ => return Err(DaemonError::Actors("root actor did not answer".to_owned())),
    };
    let shared = Arc::clone(&handles.shared);
    let control =
        listener::bind(&dir.control_socket()).map_err(io_err("cannot open the control socket"))?;
    let workers =
        listener::bind(&dir.worker_socket()).map_err(io_err("cannot open the worker socket"))?;
    let serve_remote = match config.worker_listen {
        Some(address) => Some(
            remote_workers::offer(address, &config, Arc::clone(&shared))
                .await
                .map_err(io_err(format!(
                    "cannot offer the worker listener on {address}"
                )))?,
        ),
        None => None,
    };
    let open_files = admission::raise_file_limit();
    tracing::info!(
        data_dir = %dir.root().display(),
        pid = std::process::id(),
        open_files,
        "daemon ready"
    );

    let serve_clients = {
        let handles = handles.clone();
        listener::accept_loop(control, "control", move |stream| {
            control::serve(stream, handles.clone())
        })
    };
    let serve_workers = {
        let shared = Arc::clone(&shared);
        listener::accept_loop(workers, "worker", move |stream| {
            serve_worker(stream, Arc::clone(&shared))
        })
    };
    let exporting = tokio::spawn(otlp_export::run(Arc::clone(&shared)));
    {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let runs_dir = shared.config.data_dir.layout().run_workspaces();
            run_workspace::sweep::sweep(&runs_dir, &shared.store).await;
        });
    }
    tokio::select! {
        () = serve_clients => {}
        () = serve_workers => {}
        () = shutdown => tracing::info!("shutdown signal received"),
        () = shared.stop_requested.notified() => tracing::info!("stop requested by a client"),
        () = root_failed(&root) => tracing::error!("a core actor failed; stopping"),
    }

    exporting.abort();
    if let Some(serving) = serve_remote {
        serving.abort();
    }
    // Interrupt live sessions, then let the writer commit everything queued.
    let stopping = handles
        .scheduler
        .call(SchedulerMsg::Shutdown, Some(Duration::from_secs(10)));
    if !matches!(stopping.await, Ok(ractor::rpc::CallResult::Success(()))) {
        tracing::warn!("sessions did not all stop in time");
    }
    let writer = root
        .call(RootMsg::CloseStore, Some(Duration::from_secs(5)))
        .await;
    root.stop(None);
    let _ = root_handle.await;
    if let Ok(ractor::rpc::CallResult::Success(Some(writer))) = writer {
        let _ = tokio::task::spawn_blocking(move || writer.join()).await;
    }
    for path in [dir.control_socket(), dir.worker_socket(), dir.pid_file()] {
        let _ = fs::remove_file(path);
    }
    shared.cgroups.remove_own();
    tracing::info!("daemon stopped");
    Ok(())
}

/// Each live worker costs the daemon a few descriptors (socket, pipes);
/// the usual soft limit of 1024 would cap it at a few hundred sessions.
fn raise_fd_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(err) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(%err, "cannot raise the open-file limit");
        }
    }
}

/// Keeps a store failure typed (e.g. the database is in use or too new).
fn startup_error(err: ractor::SpawnErr) -> DaemonError {
    match err {
        ractor::SpawnErr::StartupFailed(inner) => match inner.downcast::<StoreError>() {
            Ok(store) => DaemonError::Store(*store),
            Err(other) => DaemonError::Actors(other.to_string()),
        },
        other => DaemonError::Actors(other.to_string()),
    }
}

/// Resolves if the root actor stops (a core actor failed).
async fn root_failed(root: &ActorRef<RootMsg>) {
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if !matches!(root.get_status(), ractor::ActorStatus::Running) {
            return;
        }
    }
}

/// Holds the data dir's lock file for as long as it lives.
struct DataDirLock(#[allow(dead_code)] fs::File);

/// How long a start waits for the data dir's lock when the daemon that
/// held it is gone: a child it was starting when it was killed holds a
/// copy of the lock until that child executes or exits (milliseconds).
const LOCK_LEFT_WAIT: Duration = Duration::from_secs(2);

/// Takes the data dir's lock; refuses while the daemon recorded in the
/// pid file is alive and holds it.
async fn lock_data_dir(dir: &DataDir) -> Result<DataDirLock, DaemonError> {
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.lock_file())
        .map_err(io_err("cannot open the lock file"))?;
    let deadline = tokio::time::Instant::now() + LOCK_LEFT_WAIT;
    loop {
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(DataDirLock(file)),
            Err(rustix::io::Errno::WOULDBLOCK) => {
                let recorded = fs::read_to_string(dir.pid_file()).unwrap_or_default();
                let recorded = recorded.trim();
                let alive = recorded.parse::<u32>().is_ok_and(crate::procfs::is_alive);
                if alive || tokio::time::Instant::now() >= deadline {
                    return Err(DaemonError::AlreadyRunning {
                        dir: dir.root().to_owned(),
                        pid: if recorded.is_empty() {
                            "unknown".to_owned()
                        } else {
                            recorded.to_owned()
                        },
                    });
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(err) => {
                return Err(DaemonError::Io {
                    context: "cannot lock the data dir".to_owned(),
                    source: err.into(),
                });
            }
        }
    }
}

/// Authenticates a worker connection and hands it to its Session actor.
async fn serve_worker(stream: Stream, shared: Arc<Shared>) {
    let Some(greeting) = listener::greet(&stream, true).await else {
        return;
    };
    let PeerRole::Worker { session } = greeting.role else {
        return;
    };
    let actor = match shared.workers.claim(
        session,
        &greeting.token,
        listener::Peer::Local(greeting.peer_pid),
    ) {
        Ok(actor) => actor,
        Err(reason) => {
            listener::refuse(&stream, reason).await;
            return;
        }
    };
    if listener::accept(&stream).await.is_err() {
        return;
    }
    let _ = actor.send_message(listener::WorkerConnected(listener::WorkerLink::local(
        stream,
    )));
}
