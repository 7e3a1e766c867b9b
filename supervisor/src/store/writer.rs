//! The writer thread: the one place that writes to the database.
//!
//! It takes everything queued (up to [`MAX_BATCH`] operations), applies it
//! in one write transaction, commits (one fsync), then acknowledges each
//! operation and hands the committed events to the sink. A failed commit
//! (full disk, I/O error) is retried with backoff, keeping appends in
//! order: nothing acknowledged is ever lost and no seq is ever skipped.
//! It runs on an OS thread, not a tokio task, because commits block.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use protocol::agent::AgentConfig;
use protocol::approval::ApprovalRule;
use protocol::control::SessionSummary;
use protocol::event::{Event, EventKind};
use protocol::mcp::McpServerConfig;
use protocol::{SessionId, Timestamp};
use redb::{Database, ReadableTable, Table};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::cell::DbCell;
use super::records::{EventRecord, GroupRecord, Record, RunRecord, SessionRecord};
use super::removal::{DeleteTables, delete_in};
use super::schema::{AGENTS, EVENTS, GROUPS, MCP_SERVERS, RULES, RUNS, SESSIONS, SETTINGS};
use super::{CommitSink, Committed, Interrupted, StoreError};

/// Most operations in one transaction; bounds commit latency under load.
const MAX_BATCH: usize = 8192;
/// Longest pause between retries of a failed commit.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

type Ack<T> = oneshot::Sender<Result<T, StoreError>>;

/// A queued write.
pub(super) enum WriteOp {
    Append {
        event: Event,
        ack: Option<Ack<()>>,
        /// Holds room in the backlog, given back once committed.
        reserved: bool,
    },
    CreateSession {
        record: Box<SessionRecord>,
        run: Option<Box<RunRecord>>,
        first: Option<Event>,
        ack: Ack<()>,
    },
    PutAgent {
        agent: Box<AgentConfig>,
        replace: bool,
        ack: Ack<()>,
    },
    RemoveAgent {
        name: String,
        ack: Ack<()>,
    },
    /// Sets a session's title (`None`: its first message again).
    Retitle {
        session: SessionId,
        title: Option<String>,
        ack: Ack<()>,
    },
    PutSetting {
        name: &'static str,
        value: Vec<u8>,
        ack: Ack<()>,
    },
    PutRule {
        rule: Box<ApprovalRule>,
        ack: Ack<()>,
    },
    RemoveRule {
        id: String,
        ack: Ack<()>,
    },
    PutMcpServer {
        server: Box<McpServerConfig>,
        replace: bool,
        ack: Ack<()>,
    },
    RemoveMcpServer {
        name: String,
        ack: Ack<()>,
    },
    /// Records a new group (before its runs are queued).
    PutGroup {
        group: Box<GroupRecord>,
        ack: Ack<()>,
    },
    /// Marks `run` as the group's preferred result (`None`: no run).
    Prefer {
        group: SessionId,
        run: Option<SessionId>,
        ack: Ack<()>,
    },
    /// Removes the sessions (those that have ended) and the groups.
    Delete {
        sessions: Vec<SessionId>,
        groups: Vec<SessionId>,
        ack: Ack<()>,
    },
    /// Compacts the file, between two transactions.
    Compact {
        ack: Ack<()>,
    },
    Shutdown,
}

impl WriteOp {
    /// Whether a failed commit must be retried rather than reported: event
    /// appends must land in order, or a session's seq would have a gap.
    fn must_land(&self) -> bool {
        matches!(self, WriteOp::Append { .. })
    }

    /// Reports `err` to the waiting caller, if any.
    fn fail(self, err: StoreError) {
        let _ = match self {
            WriteOp::Append { ack, .. } => ack.map(|ack| ack.send(Err(err))),
            WriteOp::CreateSession { ack, .. }
            | WriteOp::PutAgent { ack, .. }
            | WriteOp::RemoveAgent { ack, .. }
            | WriteOp::Retitle { ack, .. }
            | WriteOp::PutSetting { ack, .. }
            | WriteOp::PutRule { ack, .. }
            | WriteOp::RemoveRule { ack, .. }
            | WriteOp::PutMcpServer { ack, .. }
            | WriteOp::RemoveMcpServer { ack, .. }
            | WriteOp::PutGroup { ack, .. }
            | WriteOp::Prefer { ack, .. }
            | WriteOp::Delete { ack, .. }
            | WriteOp::Compact { ack } => Some(ack.send(Err(err))),
            WriteOp::Shutdown => None,
        };
    }
}

pub(super) fn spawn(
    db: Arc<DbCell>,
    rx: mpsc::UnboundedReceiver<WriteOp>,
    sink: CommitSink,
    backlog: Arc<Semaphore>,
) -> Result<std::thread::JoinHandle<()>, StoreError> {
    std::thread::Builder::new()
        .name("store-writer".to_owned())
        .spawn(move || run(&db, rx, &sink, &backlog))
        .map_err(|err| StoreError::Storage(redb::StorageError::from(err).into()))
}

fn run(
    db: &DbCell,
    mut rx: mpsc::UnboundedReceiver<WriteOp>,
    sink: &CommitSink,
    backlog: &Semaphore,
) {
    let mut batch = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        // A compaction ends the batch: it runs once the ops before it
        // are committed.
        while batch.len() < MAX_BATCH && !matches!(batch.last(), Some(WriteOp::Compact { .. })) {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let compact = match batch.last() {
            Some(WriteOp::Compact { .. }) => batch.pop(),
            _ => None,
        };
        let shutdown = batch.iter().any(|op| matches!(op, WriteOp::Shutdown));
        let reserved = batch
            .iter()
            .filter(|op| matches!(op, WriteOp::Append { reserved: true, .. }))
            .count();
        if !batch.is_empty() {
            commit_with_retry(db, &mut batch, sink);
        }
        if let Some(WriteOp::Compact { ack }) = compact {
            let _ = ack.send(db.compact());
        }
        // Appends always land eventually (they are retried), so their room
        // is freed once the batch is through.
        backlog.add_permits(reserved);
        if shutdown {
            break;
        }
    }
    // Close the file cleanly even if handles to the store outlive the
    // daemon's shutdown (a connection task the runtime never drops):
    // otherwise the next open must repair the whole database.
    db.close();
    tracing::debug!("store writer stopped; database closed");
}

fn commit_with_retry(db: &DbCell, batch: &mut Vec<WriteOp>, sink: &CommitSink) {
    let mut attempt = 0u32;
    loop {
        match db.with(|db| apply_and_commit(db, batch)) {
            Ok((results, changed, removed)) => {
                db.committed();
                let mut committed = Committed {
                    events: Vec::new(),
                    changed,
                    removed,
                };
                let mut replies = Vec::new();
                for (op, result) in batch.drain(..).zip(results) {
                    replies.extend(finish(op, result, &mut committed));
                }
                // Publish before acknowledging: whoever is told an event is
                // recorded can already see it live.
                if !committed.events.is_empty()
                    || !committed.changed.is_empty()
                    || !committed.removed.is_empty()
                {
                    sink(committed);
                }
                for (ack, result) in replies {
                    let _ = ack.send(result);
                }
                return;
            }
            Err(err) => {
                attempt += 1;
                tracing::error!(%err, attempt, "commit failed; retrying queued events");
                let message = err.to_string();
                db.commit_failed(&message);
                let (keep, give_up): (Vec<_>, Vec<_>) =
                    batch.drain(..).partition(WriteOp::must_land);
                for op in give_up {
                    op.fail(StoreError::NotSaved(message.clone()));
                }
                *batch = keep;
                // redb refuses everything after an I/O error until reopened;
                // what was committed before is intact.
                if let Err(err) = db.reopen() {
                    tracing::error!(%err, "cannot reopen the database; retrying");
                }
                if batch.is_empty() {
                    return;
                }
                let backoff = Duration::from_millis(50u64 << attempt.min(6)).min(MAX_BACKOFF);
                std::thread::sleep(backoff);
            }
        }
    }
}

/// Collects a committed operation's event; returns its acknowledgement.
fn finish(
    op: WriteOp,
    result: Result<(), StoreError>,
    committed: &mut Committed,
) -> Option<(Ack<()>, Result<(), StoreError>)> {
    let ok = result.is_ok();
    match op {
        WriteOp::Append { event, ack, .. } => {
            if ok {
                committed.events.push(event);
            }
            ack.map(|ack| (ack, result))
        }
        WriteOp::CreateSession { first, ack, .. } => {
            if ok {
                committed.events.extend(first);
            }
            Some((ack, result))
        }
        WriteOp::PutAgent { ack, .. }
        | WriteOp::RemoveAgent { ack, .. }
        | WriteOp::Retitle { ack, .. }
        | WriteOp::PutSetting { ack, .. }
        | WriteOp::PutRule { ack, .. }
        | WriteOp::RemoveRule { ack, .. }
        | WriteOp::PutMcpServer { ack, .. }
        | WriteOp::RemoveMcpServer { ack, .. }
        | WriteOp::PutGroup { ack, .. }
        | WriteOp::Prefer { ack, .. }
        | WriteOp::Delete { ack, .. }
        | WriteOp::Compact { ack } => Some((ack, result)),
        WriteOp::Shutdown => None,
    }
}

/// Returns each operation's result, the sessions whose status changed
/// and those removed.
#[allow(clippy::type_complexity)]
fn apply_and_commit(
    db: &Database,
    batch: &[WriteOp],
) -> Result<
    (
        Vec<Result<(), StoreError>>,
        Vec<SessionSummary>,
        Vec<SessionId>,
    ),
    StoreError,
> {
    let txn = db.begin_write()?;
    let mut results = Vec::with_capacity(batch.len());
    let changed;
    let removed;
    {
        let mut tables = Tables {
            sessions: txn.open_table(SESSIONS)?,
            events: txn.open_table(EVENTS)?,
            agents: txn.open_table(AGENTS)?,
            runs: txn.open_table(RUNS)?,
            settings: txn.open_table(SETTINGS)?,
            rules: txn.open_table(RULES)?,
            mcp_servers: txn.open_table(MCP_SERVERS)?,
            groups: txn.open_table(GROUPS)?,
            touched: HashMap::new(),
            removed: Vec::new(),
        };
        for op in batch {
            results.push(tables.apply(op)?);
        }
        changed = tables.flush_sessions()?;
        removed = std::mem::take(&mut tables.removed);
    }
    txn.commit()?;
    Ok((results, changed, removed))
}

struct Tables<'txn> {
    sessions: Table<'txn, u128, &'static [u8]>,
    events: Table<'txn, (u128, u64), &'static [u8]>,
    agents: Table<'txn, &'static str, &'static [u8]>,
    runs: Table<'txn, u128, &'static [u8]>,
    settings: Table<'txn, &'static str, &'static [u8]>,
    rules: Table<'txn, &'static str, &'static [u8]>,
    mcp_servers: Table<'txn, &'static str, &'static [u8]>,
    groups: Table<'txn, u128, &'static [u8]>,
    /// Session records changed by this batch, written once at the end,
    /// with whether their status changed.
    touched: HashMap<u128, (SessionRecord, bool)>,
    /// Sessions removed by this batch.
    removed: Vec<SessionId>,
}

/// A table of records stored by name (agents, rules, MCP servers).
type NamedTable<'txn> = Table<'txn, &'static str, &'static [u8]>;

/// Stores `record` under `name`. With `exists`, a record already there
/// refuses the op with that message; a record that cannot be encoded
/// refuses it too. `Err` only for a storage failure.
fn put_named<R: Record>(
    table: &mut NamedTable<'_>,
    name: &str,
    record: &R,
    exists: Option<String>,
) -> Result<Result<(), StoreError>, StoreError> {
    if let Some(message) = exists
        && table.get(name)?.is_some()
    {
        return Ok(Err(StoreError::Conflict(message)));
    }
    match record.encode() {
        Ok(bytes) => {
            table.insert(name, bytes.as_slice())?;
            Ok(Ok(()))
        }
        Err(err) => Ok(Err(err)),
    }
}

/// Deletes the record under `name`; none there refuses the op with `missing`.
fn remove_named(
    table: &mut NamedTable<'_>,
    name: &str,
    missing: impl FnOnce() -> String,
) -> Result<Result<(), StoreError>, StoreError> {
    if table.remove(name)?.is_none() {
        return Ok(Err(StoreError::NotFound(missing())));
    }
    Ok(Ok(()))
}

impl Tables<'_> {
    /// `Err` aborts the batch (storage failure); `Ok(Err)` refuses one op.
    fn apply(&mut self, op: &WriteOp) -> Result<Result<(), StoreError>, StoreError> {
        match op {
            WriteOp::Append { event, .. } => self.append(event),
            WriteOp::CreateSession {
                record, run, first, ..
            } => {
                let key = record.id.as_u128();
                if self.touched.contains_key(&key) || self.sessions.get(key)?.is_some() {
                    return Ok(Err(StoreError::Conflict(format!(
                        "session {} exists",
                        record.id
                    ))));
                }
                if let Some(run) = run {
                    match run.encode() {
                        Ok(bytes) => {
                            self.runs.insert(key, bytes.as_slice())?;
                        }
                        Err(err) => return Ok(Err(err)),
                    }
                }
                self.touched.insert(key, ((**record).clone(), true));
                match first {
                    Some(first) => self.append(first),
                    None => Ok(Ok(())),
                }
            }
            WriteOp::PutAgent { agent, replace, .. } => {
                let name = agent.name.as_str();
                let exists = (!replace)
                    .then(|| format!("agent {name:?} exists (use --replace to overwrite it)"));
                put_named(&mut self.agents, name, &**agent, exists)
            }
            WriteOp::RemoveAgent { name, .. } => remove_named(&mut self.agents, name, || {
                format!("no agent named {name:?}")
            }),
            WriteOp::Retitle { session, title, .. } => {
                let (record, changed) = match self.touch(*session)? {
                    Ok(touched) => touched,
                    Err(err) => return Ok(Err(err)),
                };
                record.title.clone_from(title);
                // Watchers are sent the summary with its new title.
                *changed = true;
                Ok(Ok(()))
            }
            WriteOp::PutSetting { name, value, .. } => {
                self.settings.insert(*name, value.as_slice())?;
                Ok(Ok(()))
            }
            WriteOp::PutRule { rule, .. } => put_named(&mut self.rules, &rule.id, &**rule, None),
            WriteOp::RemoveRule { id, .. } => {
                remove_named(&mut self.rules, id, || format!("no rule {id}"))
            }
            WriteOp::PutMcpServer {
                server, replace, ..
            } => {
                let name = server.name.as_str();
                let exists = (!replace)
                    .then(|| format!("MCP server {name:?} exists (use --replace to overwrite it)"));
                put_named(&mut self.mcp_servers, name, &**server, exists)
            }
            WriteOp::RemoveMcpServer { name, .. } => {
                remove_named(&mut self.mcp_servers, name, || {
                    format!("no MCP server named {name:?}")
                })
            }
            WriteOp::PutGroup { group, .. } => match group.encode() {
                Ok(bytes) => {
                    self.groups.insert(group.id.as_u128(), bytes.as_slice())?;
                    Ok(Ok(()))
                }
                Err(err) => Ok(Err(err)),
            },
            WriteOp::Prefer { group, run, .. } => self.prefer(*group, *run),
            WriteOp::Delete {
                sessions, groups, ..
            } => {
                let touched = &self.touched;
                let tables = DeleteTables {
                    sessions: &mut self.sessions,
                    events: &mut self.events,
                    runs: &mut self.runs,
                    groups: &mut self.groups,
                };
                let removed =
                    delete_in(tables, sessions, groups, &|key| touched.contains_key(&key))?;
                self.removed.extend(removed);
                Ok(Ok(()))
            }
            WriteOp::Compact { .. } | WriteOp::Shutdown => Ok(Ok(())),
        }
    }

    /// Marks `run` as the preferred result of `group` (the caller checked
    /// that the run is of the group).
    fn prefer(
        &mut self,
        group: SessionId,
        run: Option<SessionId>,
    ) -> Result<Result<(), StoreError>, StoreError> {
        let key = group.as_u128();
        let mut record = match self.groups.get(key)? {
            Some(bytes) => match GroupRecord::decode(bytes.value()) {
                Ok(record) => record,
                Err(err) => return Ok(Err(err)),
            },
            None => return Ok(Err(StoreError::NotFound(format!("no group {group}")))),
        };
        record.preferred = run;
        match record.encode() {
            Ok(bytes) => {
                self.groups.insert(key, bytes.as_slice())?;
                Ok(Ok(()))
            }
            Err(err) => Ok(Err(err)),
        }
    }

    /// The session's record as this batch has it (read on first touch),
    /// with whether watchers must be sent its summary.
    #[allow(clippy::type_complexity)]
    fn touch(
        &mut self,
        session: SessionId,
    ) -> Result<Result<(&mut SessionRecord, &mut bool), StoreError>, StoreError> {
        let key = session.as_u128();
        if !self.touched.contains_key(&key) {
            let Some(bytes) = self.sessions.get(key)? else {
                return Ok(Err(StoreError::NotFound(format!("no session {session}"))));
            };
            let record = match SessionRecord::decode(bytes.value()) {
                Ok(record) => record,
                Err(err) => return Ok(Err(err)),
            };
            self.touched.insert(key, (record, false));
        }
        Ok(match self.touched.get_mut(&key) {
            Some((record, changed)) => Ok((record, changed)),
            None => Err(StoreError::NotFound(format!("no session {session}"))),
        })
    }

    fn append(&mut self, event: &Event) -> Result<Result<(), StoreError>, StoreError> {
        let key = event.session.as_u128();
        let last_seq = match self.touch(event.session)? {
            Ok((record, _)) => record.last_seq,
            Err(err) => {
                tracing::error!(session = %event.session, seq = event.seq, %err, "event dropped");
                return Ok(Err(err));
            }
        };
        if event.seq != last_seq + 1 {
            tracing::error!(
                session = %event.session,
                seq = event.seq,
                last = last_seq,
                "event out of sequence"
            );
        }
        let value = EventRecord {
            at: event.at,
            kind: event.kind.clone(),
        }
        .encode();
        let value = match value {
            Ok(value) => value,
            Err(err) => return Ok(Err(err)),
        };
        self.events.insert((key, event.seq), value.as_slice())?;
        if let Ok((record, status_changed)) = self.touch(event.session)? {
            *status_changed |= record.apply(event.seq, event.at, &event.kind);
        }
        Ok(Ok(()))
    }

    /// Writes the touched session records; returns those whose status changed.
    fn flush_sessions(&mut self) -> Result<Vec<SessionSummary>, StoreError> {
        let mut changed = Vec::new();
        for (key, (record, status_changed)) in self.touched.drain() {
            let bytes = record.encode()?;
            self.sessions.insert(key, bytes.as_slice())?;
            if status_changed {
                changed.push(record.summary());
            }
        }
        Ok(changed)
    }
}

/// Records `session.interrupted` for every session a previous daemon left
/// live, in one transaction, and returns them.
pub(super) fn mark_interrupted(
    db: &Database,
    now: Timestamp,
) -> Result<Vec<Interrupted>, StoreError> {
    let txn = db.begin_write()?;
    let mut found = Vec::new();
    {
        let mut sessions = txn.open_table(SESSIONS)?;
        let mut events = txn.open_table(EVENTS)?;
        let mut live = Vec::new();
        for row in sessions.iter()? {
            let (key, value) = row?;
            // One that does not decode is quarantined, and left as it is.
            if let Ok(record) = super::query::session_at(key.value(), value.value())
                && !record.status.is_terminal()
            {
                live.push(record);
            }
        }
        for mut record in live {
            let key = record.id.as_u128();
            let seq = record.last_seq + 1;
            let kind = EventKind::SessionInterrupted;
            let value = EventRecord {
                at: now,
                kind: kind.clone(),
            }
            .encode()?;
            events.insert((key, seq), value.as_slice())?;
            record.apply(seq, now, &kind);
            sessions.insert(key, record.encode()?.as_slice())?;
            found.push(Interrupted {
                session: record.id,
                pid: record.pid,
            });
        }
    }
    txn.commit()?;
    Ok(found)
}
