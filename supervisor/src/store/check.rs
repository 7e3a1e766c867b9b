//! Decoding every stored record: what `studio daemon check` reports, what
//! the daemon quarantines when it opens the file, and what `studio daemon
//! salvage` leaves out.
//!
//! A record "decodes" when its bytes give back a value of its table's
//! record type (any version this release reads) and, for a session, the
//! id inside is the id it is stored under. A part of a table that redb
//! itself cannot read (a damaged page) ends the walk of that table with
//! one [`DamagedRecord`] saying where.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use protocol::SessionId;
use protocol::agent::AgentConfig;
use protocol::approval::ApprovalRule;
use protocol::control::{DamagedRecord, StoreReport, TableReport};
use protocol::mcp::McpServerConfig;
use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition,
};

use super::StoreError;
use super::records::{
    DaemonLimits, EventRecord, GroupRecord, IdCounters, Record, RunRecord, SessionRecord, StoredKey,
};
use super::schema::{
    AGENTS, EVENTS, GROUPS, MCP_SERVERS, RULES, RUNS, SECRETS, SESSIONS, SETTINGS,
};
use super::schema::{ID_COUNTERS, LIMITS, PRICING};
use crate::pricing::CustomPrices;

/// The tables whose values are versioned records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Sessions,
    Runs,
    Events,
    Agents,
    Settings,
    Secrets,
    Rules,
    McpServers,
    Groups,
}

impl Kind {
    /// Every table, sessions first (salvage keeps a session's runs and
    /// events only if its record was kept).
    pub(super) const ALL: [Kind; 9] = [
        Kind::Sessions,
        Kind::Runs,
        Kind::Events,
        Kind::Agents,
        Kind::Settings,
        Kind::Secrets,
        Kind::Rules,
        Kind::McpServers,
        Kind::Groups,
    ];

    /// Every table but the events, which the daemon decodes after it started.
    pub(super) const BUT_EVENTS: [Kind; 8] = [
        Kind::Sessions,
        Kind::Runs,
        Kind::Agents,
        Kind::Settings,
        Kind::Secrets,
        Kind::Rules,
        Kind::McpServers,
        Kind::Groups,
    ];

    /// The table's name in the file.
    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Sessions => "sessions",
            Kind::Runs => "runs",
            Kind::Events => "events",
            Kind::Agents => "agents",
            Kind::Settings => "settings",
            Kind::Secrets => "secrets",
            Kind::Rules => "rules",
            Kind::McpServers => "mcp_servers",
            Kind::Groups => "groups",
        }
    }

    /// Why `value`, stored under `key`, does not decode (`Ok` if it does).
    pub(super) fn check(self, key: &KeyRef<'_>, value: &[u8]) -> Result<(), String> {
        let text = |err: StoreError| err.to_string();
        match self {
            Kind::Sessions => {
                let record = SessionRecord::decode(value).map_err(text)?;
                match key {
                    KeyRef::Session(id) if *id == record.id.as_u128() => Ok(()),
                    _ => Err(misplaced(record.id)),
                }
            }
            Kind::Runs => decoded::<RunRecord>(value),
            Kind::Events => decoded::<EventRecord>(value),
            Kind::Agents => decoded::<AgentConfig>(value),
            Kind::Secrets => decoded::<StoredKey>(value),
            Kind::Rules => decoded::<ApprovalRule>(value),
            Kind::McpServers => decoded::<McpServerConfig>(value),
            Kind::Groups => decoded::<GroupRecord>(value),
            Kind::Settings => match key {
                KeyRef::Name(PRICING) => decoded::<CustomPrices>(value),
                KeyRef::Name(LIMITS) => decoded::<DaemonLimits>(value),
                KeyRef::Name(ID_COUNTERS) => decoded::<IdCounters>(value),
                // A setting this release does not know: nothing to decode it as.
                _ => Ok(()),
            },
        }
    }
}

/// Why a session record stored under another session's id is damaged.
pub(super) fn misplaced(id: SessionId) -> String {
    format!("the record is of session {id}, not of the one it is stored under")
}

fn decoded<R: Record>(value: &[u8]) -> Result<(), String> {
    R::decode(value).map(drop).map_err(|err| err.to_string())
}

/// A key of one of the tables, as read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KeyRef<'a> {
    /// Agents, settings, secrets, rules, MCP servers.
    Name(&'a str),
    /// Sessions, runs and groups: the session id (a group's first run's).
    Session(u128),
    /// Events: session id and seq.
    Event(u128, u64),
}

impl KeyRef<'_> {
    /// The key as `studio daemon check` shows it.
    pub(super) fn text(&self) -> String {
        match self {
            KeyRef::Name(name) => format!("{name:?}"),
            KeyRef::Session(id) => SessionId::from_u128(*id).to_string(),
            KeyRef::Event(id, seq) => format!("{} #{seq}", SessionId::from_u128(*id)),
        }
    }

    /// The session the record belongs to, if any.
    pub(super) fn session(&self) -> Option<SessionId> {
        match self {
            KeyRef::Name(_) => None,
            KeyRef::Session(id) | KeyRef::Event(id, _) => Some(SessionId::from_u128(*id)),
        }
    }
}

/// The record under `key` of `kind` that does not decode, for `error`.
pub(super) fn damaged(kind: Kind, key: &KeyRef<'_>, error: String) -> DamagedRecord {
    DamagedRecord {
        table: kind.name().to_owned(),
        key: key.text(),
        session: key.session(),
        error,
    }
}

/// Calls `visit` with every row of `kind`'s table in key order. Returns
/// why the walk broke off before the end, with the last key read: a redb
/// error, or a panic inside redb on a damaged page. A table the file does
/// not have yet (an older schema) is empty.
pub(super) fn walk(
    txn: &ReadTransaction,
    kind: Kind,
    visit: &mut dyn FnMut(KeyRef<'_>, &[u8]),
) -> Result<(), (Option<String>, String)> {
    let mut last: Option<String> = None;
    let walked = catch_unwind(AssertUnwindSafe(|| match kind {
        Kind::Sessions => walk_ids(txn, SESSIONS, &mut last, visit),
        Kind::Runs => walk_ids(txn, RUNS, &mut last, visit),
        Kind::Events => walk_events(txn, &mut last, visit),
        Kind::Agents => walk_names(txn, AGENTS, &mut last, visit),
        Kind::Settings => walk_names(txn, SETTINGS, &mut last, visit),
        Kind::Secrets => walk_names(txn, SECRETS, &mut last, visit),
        Kind::Rules => walk_names(txn, RULES, &mut last, visit),
        Kind::McpServers => walk_names(txn, MCP_SERVERS, &mut last, visit),
        Kind::Groups => walk_ids(txn, GROUPS, &mut last, visit),
    }));
    match walked {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err((last, err.to_string())),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            Err((last, format!("redb failed reading the table: {what}")))
        }
    }
}

/// Opens `def`, or `None` when the file has no such table.
fn open<K: redb::Key + 'static>(
    txn: &ReadTransaction,
    def: TableDefinition<K, &'static [u8]>,
) -> Result<Option<redb::ReadOnlyTable<K, &'static [u8]>>, StoreError> {
    match txn.open_table(def) {
        Ok(table) => Ok(Some(table)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

fn walk_names(
    txn: &ReadTransaction,
    def: TableDefinition<&'static str, &'static [u8]>,
    last: &mut Option<String>,
    visit: &mut dyn FnMut(KeyRef<'_>, &[u8]),
) -> Result<(), StoreError> {
    let Some(table) = open(txn, def)? else {
        return Ok(());
    };
    for row in table.iter()? {
        let (key, value) = row?;
        let key = KeyRef::Name(key.value());
        visit(key, value.value());
        *last = Some(key.text());
    }
    Ok(())
}

fn walk_ids(
    txn: &ReadTransaction,
    def: TableDefinition<u128, &'static [u8]>,
    last: &mut Option<String>,
    visit: &mut dyn FnMut(KeyRef<'_>, &[u8]),
) -> Result<(), StoreError> {
    let Some(table) = open(txn, def)? else {
        return Ok(());
    };
    for row in table.iter()? {
        let (key, value) = row?;
        let key = KeyRef::Session(key.value());
        visit(key, value.value());
        *last = Some(key.text());
    }
    Ok(())
}

fn walk_events(
    txn: &ReadTransaction,
    last: &mut Option<String>,
    visit: &mut dyn FnMut(KeyRef<'_>, &[u8]),
) -> Result<(), StoreError> {
    let Some(table) = open(txn, EVENTS)? else {
        return Ok(());
    };
    for row in table.iter()? {
        let (key, value) = row?;
        let (id, seq) = key.value();
        let key = KeyRef::Event(id, seq);
        visit(key, value.value());
        *last = Some(key.text());
    }
    Ok(())
}

/// The record standing for the rest of a table that could not be read.
pub(super) fn broke_off(kind: Kind, last: Option<String>, error: String) -> DamagedRecord {
    DamagedRecord {
        table: kind.name().to_owned(),
        key: match last {
            Some(key) => format!("(every record after {key})"),
            None => "(every record)".to_owned(),
        },
        session: None,
        error,
    }
}

/// Records in every table, as redb counts them (for a progress bar).
pub(super) fn total_records(txn: &ReadTransaction) -> u64 {
    fn len<K: redb::Key + 'static>(
        txn: &ReadTransaction,
        def: TableDefinition<K, &'static [u8]>,
    ) -> u64 {
        open(txn, def)
            .ok()
            .flatten()
            .and_then(|t| t.len().ok())
            .unwrap_or(0)
    }
    len(txn, SESSIONS)
        + len(txn, RUNS)
        + len(txn, EVENTS)
        + len(txn, AGENTS)
        + len(txn, SETTINGS)
        + len(txn, SECRETS)
        + len(txn, RULES)
        + len(txn, MCP_SERVERS)
        + len(txn, GROUPS)
}

/// How often (in records) a scan reports its progress.
pub(super) const PROGRESS_EVERY: u64 = 4096;

/// Decodes every record of the tables `kinds` in `txn`; `progress` is
/// told the number of records read so far, now and then.
pub(super) fn scan(
    txn: &ReadTransaction,
    path: &Path,
    kinds: &[Kind],
    progress: &dyn Fn(u64),
) -> StoreReport {
    let mut report = StoreReport {
        path: path.display().to_string(),
        ..StoreReport::default()
    };
    let mut read = 0u64;
    for &kind in kinds {
        let mut table = TableReport {
            name: kind.name().to_owned(),
            ..TableReport::default()
        };
        let found = &mut report.damaged;
        let walked = walk(txn, kind, &mut |key, value| {
            table.records += 1;
            read += 1;
            if read.is_multiple_of(PROGRESS_EVERY) {
                progress(read);
            }
            if let Err(error) = kind.check(&key, value) {
                table.damaged += 1;
                found.push(damaged(kind, &key, error));
            }
        });
        if let Err((last, error)) = walked {
            table.damaged += 1;
            report.damaged.push(broke_off(kind, last, error));
        }
        report.tables.push(table);
    }
    progress(read);
    report
}

/// Opens `path` read-only (no daemon may hold it) and decodes every
/// record; `progress` is told (records read, records in all) now and then.
/// A file that was not closed cleanly is repaired in a copy next to it
/// (removed after); the file itself is only read.
pub fn check(path: &Path, progress: &dyn Fn(u64, u64)) -> Result<StoreReport, StoreError> {
    let scan_all = |txn: ReadTransaction| {
        let total = total_records(&txn);
        progress(0, total);
        scan(&txn, path, &Kind::ALL, &|read| progress(read, total))
    };
    match redb::ReadOnlyDatabase::open(path) {
        Ok(db) => Ok(scan_all(db.begin_read()?)),
        Err(redb::DatabaseError::RepairAborted) => {
            let copy = std::path::PathBuf::from(format!("{}.checking", path.display()));
            let scanned = repair(path, &copy).and_then(|db| Ok(scan_all(db.begin_read()?)));
            let _ = std::fs::remove_file(&copy);
            scanned
        }
        Err(err) => Err(open_error(path, err)),
    }
}

/// `err` from opening `path`, as a [`StoreError`].
pub(super) fn open_error(path: &Path, err: redb::DatabaseError) -> StoreError {
    match err {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::AlreadyOpen(path.to_owned()),
        source => StoreError::Open {
            path: path.to_owned(),
            source,
        },
    }
}

/// Copies `from` to `copy` and opens the copy, which redb repairs.
pub(super) fn repair(from: &Path, copy: &Path) -> Result<Database, StoreError> {
    std::fs::copy(from, copy).map_err(|source| StoreError::Io {
        context: format!("cannot copy {} to {}", from.display(), copy.display()),
        source,
    })?;
    Database::builder()
        .set_repair_callback(|session| {
            tracing::info!(
                progress = session.progress(),
                "redb is repairing a copy of the file"
            );
        })
        .open(copy)
        .map_err(|err| open_error(from, err))
}
