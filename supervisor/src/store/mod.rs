//! The event store: the only code that opens the redb database.
//!
//! [`Store`] is a cheap handle. Writes go to one dedicated writer thread
//! ([`writer`]) that group-commits everything queued (one fsync per batch)
//! and only then acknowledges and publishes: an event counts as recorded
//! once its batch is committed, and clients never see an uncommitted one.
//! Reads run on tokio's blocking pool in their own read transactions.

mod cell;
mod check;
mod client_error;
mod groups;
pub(crate) mod legacy;
mod quarantine;
mod query;
pub(crate) mod records;
mod removal;
mod retention;
mod salvage;
mod schema;
mod settings;
mod spend;
pub(crate) use retention::Doomed;
pub(crate) use spend::day;
mod workspaces;
mod writer;

#[cfg(test)]
mod damage_tests;
#[cfg(test)]
mod groups_tests;
#[cfg(test)]
mod naming_tests;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use protocol::agent::AgentConfig;
use protocol::control::{DamagedRecord, SessionSummary, StoreReport};
use protocol::event::Event;
use protocol::{SessionId, Timestamp};
use redb::{Database, ReadTransaction, ReadableDatabase};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use cell::DbCell;
pub(crate) use cell::Stall;
pub use check::check;
pub(crate) use groups::GroupRead;
use quarantine::Quarantine;
pub(crate) use query::SessionLookup;
pub(crate) use records::{
    DaemonLimits, GroupRecord, IdCounters, RunRecord, SessionKind, SessionRecord, TITLE_CHARS,
};
pub use salvage::{SalvageReport, replace_with_salvaged, salvage};
pub use schema::SCHEMA_VERSION;
pub(crate) use workspaces::RecordedWorkspace;
use writer::WriteOp;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process (a running daemon) has the file open.
    #[error("database {0} is in use by another process (is a daemon already running?)")]
    AlreadyOpen(PathBuf),
    /// The file was written by a newer release.
    #[error(
        "database schema version {found} is newer than this release supports ({supported}); upgrade studio"
    )]
    NewerSchema {
        /// Version in the file.
        found: u64,
        /// Version this release writes.
        supported: u64,
    },
    /// The file could not be opened or is not a database.
    #[error("cannot open database {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: redb::DatabaseError,
    },
    /// A stored value does not decode.
    #[error("corrupt {what} record: {detail}")]
    Corrupt {
        /// Which kind of record.
        what: &'static str,
        /// Decoder's message.
        detail: String,
    },
    /// A stored record does not decode (a damaged file); the rest of the
    /// database is still served.
    #[error(
        "{0}; `studio daemon check` lists every damaged record, `studio daemon salvage` copies the readable ones to a new file"
    )]
    Damaged(DamagedRecord),
    /// A value could not be encoded.
    #[error("cannot encode {what} record: {detail}")]
    Encode {
        /// Which kind of record.
        what: &'static str,
        /// Encoder's message.
        detail: String,
    },
    /// A file operation around the database failed (copy, rename).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// redb failed (I/O, full disk, ...).
    #[error("storage error: {0}")]
    Storage(#[from] redb::Error),
    /// The named thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with what is stored.
    #[error("{0}")]
    Conflict(String),
    /// A write could not be committed (full disk, I/O error); it was not saved.
    #[error("not saved, the store cannot write: {0}")]
    NotSaved(String),
    /// The database is closed: the daemon is shutting down, or reopening
    /// it after an I/O error failed (the writer keeps retrying).
    #[error("the store is closed")]
    Closed,
    /// The database could not be rewritten without the secrets moved out
    /// of it (see [`legacy`]).
    #[error("cannot rewrite the database: {0}")]
    Rewrite(String),
}

macro_rules! storage_error_from {
    ($($ty:ty),*) => {$(
        impl From<$ty> for StoreError {
            fn from(err: $ty) -> Self {
                StoreError::Storage(err.into())
            }
        }
    )*};
}
storage_error_from!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// Events and status changes made durable by one commit, in commit order.
#[derive(Debug, Default)]
pub(crate) struct Committed {
    pub(crate) events: Vec<Event>,
    /// Sessions whose status changed in this commit, as they are now.
    pub(crate) changed: Vec<SessionSummary>,
    /// Sessions removed in this commit.
    pub(crate) removed: Vec<SessionId>,
}

/// Receives every [`Committed`] batch, on the writer thread: keep it cheap.
pub(crate) type CommitSink = Box<dyn Fn(Committed) + Send>;

/// A session found live in the database at open: the previous daemon died.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Interrupted {
    pub(crate) session: SessionId,
    /// Its worker's pid when the daemon died, if it had started.
    pub(crate) pid: Option<u32>,
}

/// Handle to the store. Clones share the same writer and database.
#[derive(Clone)]
pub(crate) struct Store {
    db: Arc<DbCell>,
    writes: mpsc::UnboundedSender<WriteOp>,
    /// Room for worker events queued but not yet committed; see [`Store::room`].
    backlog: Arc<Semaphore>,
    /// What does not decode in the file.
    quarantine: Arc<Quarantine>,
}

/// Most worker events queued for the writer at once. A worker that sends
/// faster than the disk commits waits: its socket fills and its writes
/// block, instead of the daemon's memory growing.
const MAX_BACKLOG: usize = 65_536;

/// Joins the writer thread; dropping it without [`WriterThread::join`] detaches it.
pub(crate) struct WriterThread(std::thread::JoinHandle<()>);

impl WriterThread {
    /// Waits until everything queued before the shutdown is committed.
    pub(crate) fn join(self) {
        if self.0.join().is_err() {
            tracing::error!("the store writer thread panicked");
        }
    }
}

impl Store {
    /// Opens (or creates) the database at `path`, migrates it, decodes
    /// every record but the events (quarantining and logging those that do
    /// not decode: they are skipped, never rewritten), marks sessions the
    /// previous daemon left live as interrupted, and starts the writer
    /// thread, which hands each commit to `sink`, and a thread that
    /// decodes every event (see [`quarantine`]).
    pub(crate) fn open(
        path: &Path,
        sink: CommitSink,
    ) -> Result<(Store, WriterThread, Vec<Interrupted>), StoreError> {
        let db = open_database(path)?;
        schema::migrate(&db)?;
        let report = check::scan(&db.begin_read()?, path, &check::Kind::BUT_EVENTS, &|_| {});
        let quarantine = Arc::new(Quarantine::default());
        quarantine.add(report.damaged);
        let interrupted = writer::mark_interrupted(&db, Timestamp::now())?;
        let db = Arc::new(DbCell::new(path, db));
        let (writes, rx) = mpsc::unbounded_channel();
        let backlog = Arc::new(Semaphore::new(MAX_BACKLOG));
        let thread = writer::spawn(Arc::clone(&db), rx, sink, Arc::clone(&backlog))?;
        quarantine::scan_events(Arc::clone(&db), Arc::clone(&quarantine))?;
        let store = Store {
            db,
            writes,
            backlog,
            quarantine,
        };
        Ok((store, WriterThread(thread), interrupted))
    }

    /// Since when and why commits fail, while they do (a full disk, an
    /// I/O error); what is queued waits and lands once they succeed.
    pub(crate) fn stall(&self) -> Option<Stall> {
        self.db.stall()
    }

    fn send(&self, op: WriteOp) -> Result<(), StoreError> {
        self.writes.send(op).map_err(|_| StoreError::Closed)
    }

    async fn send_acked<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> WriteOp,
    ) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.send(make(tx))?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Queues `event`; it is recorded when its batch commits.
    ///
    /// Callers must queue each session's events in seq order (the
    /// session's sequencer does).
    pub(crate) fn append(&self, event: Event) -> Result<(), StoreError> {
        self.send(WriteOp::Append {
            event,
            ack: None,
            reserved: false,
        })
    }

    /// Waits until the writer's backlog has room for one more event.
    /// Dropping the permit unused gives the room back.
    pub(crate) async fn room(&self) -> Result<OwnedSemaphorePermit, StoreError> {
        Arc::clone(&self.backlog)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Closed)
    }

    /// Queues `event` in the room `permit` holds; the writer frees the room
    /// once the event is committed.
    pub(crate) fn append_in_room(
        &self,
        event: Event,
        permit: OwnedSemaphorePermit,
    ) -> Result<(), StoreError> {
        self.send(WriteOp::Append {
            event,
            ack: None,
            reserved: true,
        })?;
        permit.forget();
        Ok(())
    }

    /// Queues `event` now; the returned future resolves once it is committed.
    pub(crate) fn append_acked(
        &self,
        event: Event,
    ) -> Result<impl Future<Output = Result<(), StoreError>> + use<>, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.send(WriteOp::Append {
            event,
            ack: Some(tx),
            reserved: false,
        })?;
        Ok(async move { rx.await.map_err(|_| StoreError::Closed)? })
    }

    /// Records a new session, its run request and its first event (seq 1),
    /// if it has one yet (an interactive session's first is `session.started`).
    pub(crate) async fn create_session(
        &self,
        record: SessionRecord,
        run: Option<RunRecord>,
        first: Option<Event>,
    ) -> Result<(), StoreError> {
        self.send_acked(|ack| WriteOp::CreateSession {
            record: Box::new(record),
            run: run.map(Box::new),
            first,
            ack,
        })
        .await
    }

    /// Stores an agent; an existing one of that name is replaced only if `replace`.
    pub(crate) async fn put_agent(
        &self,
        agent: AgentConfig,
        replace: bool,
    ) -> Result<(), StoreError> {
        self.send_acked(|ack| WriteOp::PutAgent {
            agent: Box::new(agent),
            replace,
            ack,
        })
        .await
    }

    /// Sets a session's title; `None` gives it back its first message.
    pub(crate) async fn retitle(
        &self,
        session: SessionId,
        title: Option<String>,
    ) -> Result<(), StoreError> {
        self.send_acked(|ack| WriteOp::Retitle {
            session,
            title,
            ack,
        })
        .await
    }

    /// Deletes an agent.
    pub(crate) async fn remove_agent(&self, name: String) -> Result<(), StoreError> {
        self.send_acked(|ack| WriteOp::RemoveAgent { name, ack })
            .await
    }

    /// Records a new group, before its runs are queued.
    pub(crate) async fn put_group(&self, group: GroupRecord) -> Result<(), StoreError> {
        self.send_acked(|ack| WriteOp::PutGroup {
            group: Box::new(group),
            ack,
        })
        .await
    }

    /// Marks `run` as the preferred result of `group` (`None`: none).
    pub(crate) async fn prefer(
        &self,
        group: SessionId,
        run: Option<SessionId>,
    ) -> Result<(), StoreError> {
        self.send_acked(|ack| WriteOp::Prefer { group, run, ack })
            .await
    }

    /// Groups, newest first, each with its runs.
    pub(crate) async fn groups(&self, limit: usize) -> Result<Vec<GroupRead>, StoreError> {
        self.read(move |txn| groups::groups(txn, limit)).await
    }

    /// A group, its runs, and the last answers of runs `from..from + limit`
    /// cut to `answer_chars` characters.
    pub(crate) async fn group(
        &self,
        lookup: SessionLookup,
        from: usize,
        limit: usize,
        answer_chars: usize,
    ) -> Result<GroupRead, StoreError> {
        self.read(move |txn| groups::group(txn, &lookup, from, limit, answer_chars))
            .await
    }

    /// Asks the writer to commit what is queued and stop.
    pub(crate) fn shutdown(&self) {
        let _ = self.send(WriteOp::Shutdown);
    }

    /// Runs `read` in a read transaction on the blocking pool.
    pub(crate) async fn read<T, F>(&self, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&ReadTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || db.with(|db| read(&db.begin_read()?)))
            .await
            .map_err(|err| StoreError::NotSaved(format!("read task failed: {err}")))?
    }

    /// All agents, by name.
    pub(crate) async fn agents(&self) -> Result<Vec<AgentConfig>, StoreError> {
        self.read(query::agents).await
    }

    /// One agent.
    pub(crate) async fn agent(&self, name: String) -> Result<AgentConfig, StoreError> {
        self.read(move |txn| query::agent(txn, &name)).await
    }

    /// Summaries of sessions, newest first; those with a damaged record
    /// are marked corrupt.
    pub(crate) async fn sessions(
        &self,
        all: bool,
        limit: usize,
    ) -> Result<Vec<SessionSummary>, StoreError> {
        let listed = self
            .read(move |txn| query::sessions(txn, all, limit))
            .await?;
        Ok(listed
            .into_iter()
            .map(|s| self.quarantine.mark(s))
            .collect())
    }

    /// `record`'s summary, marked corrupt if it has a damaged record.
    pub(crate) fn summary(&self, record: &SessionRecord) -> SessionSummary {
        self.quarantine.mark(record.summary())
    }

    /// The first damaged record of `session` found since open, if any.
    pub(crate) fn damage(&self, session: SessionId) -> Option<DamagedRecord> {
        self.quarantine.session(session)
    }

    /// Decodes every record of the database as it is now, in one read
    /// transaction (`studio daemon check` while the daemon runs).
    pub(crate) async fn check(&self) -> Result<StoreReport, StoreError> {
        let path = self.db.path().to_owned();
        self.read(move |txn| Ok(check::scan(txn, &path, &check::Kind::ALL, &|_| {})))
            .await
    }

    /// A session by full id or unique prefix.
    pub(crate) async fn session(&self, lookup: SessionLookup) -> Result<SessionRecord, StoreError> {
        self.read(move |txn| query::session(txn, &lookup)).await
    }

    /// What the run `session` was started with.
    pub(crate) async fn run(&self, session: SessionId) -> Result<RunRecord, StoreError> {
        self.read(move |txn| query::run(txn, session)).await
    }

    /// Up to `limit` events of `session` after `after_seq`, in order.
    pub(crate) async fn events(
        &self,
        session: SessionId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        self.read(move |txn| query::events(txn, session, after_seq, limit))
            .await
    }
}

/// Opens (or creates) the database file at `path`.
fn open_database(path: &Path) -> Result<Database, StoreError> {
    match Database::create(path) {
        Ok(db) => Ok(db),
        Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
            Err(StoreError::AlreadyOpen(path.to_owned()))
        }
        Err(source) => Err(StoreError::Open {
            path: path.to_owned(),
            source,
        }),
    }
}

/// A read-only view of a database file that no daemon has open, for tools
/// that check it from the outside (the chaos suite, benchmarks).
pub struct Snapshot {
    db: redb::ReadOnlyDatabase,
}

impl Snapshot {
    /// Opens `path` read-only; fails while a daemon has it open.
    pub fn open(path: &Path) -> Result<Snapshot, StoreError> {
        match redb::ReadOnlyDatabase::open(path) {
            Ok(db) => Ok(Snapshot { db }),
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                Err(StoreError::AlreadyOpen(path.to_owned()))
            }
            Err(source) => Err(StoreError::Open {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Every session, newest first (one whose record does not decode as corrupt).
    pub fn sessions(&self) -> Result<Vec<SessionSummary>, StoreError> {
        let txn = self.db.begin_read()?;
        query::sessions(&txn, true, usize::MAX)
    }

    /// Every event of `session`, in seq order.
    pub fn events(&self, session: SessionId) -> Result<Vec<Event>, StoreError> {
        let txn = self.db.begin_read()?;
        query::events(&txn, session, 0, usize::MAX)
    }
}
