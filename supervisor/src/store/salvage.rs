//! `studio daemon salvage`: every record that decodes, copied into a new
//! database file; the damaged file is only read, never changed.
//!
//! A session's runs and events are copied only with its record: without
//! it nothing could show them (they stay in the old file). Records are
//! copied as stored, with their version byte, so nothing is re-encoded.
//! A file that needs redb's repair first (the daemon that wrote it died)
//! is repaired in a copy, next to the new file, that is removed after.

use std::collections::HashSet;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use protocol::control::{DamagedRecord, TableReport};
use redb::{Database, ReadTransaction, ReadableDatabase, TableDefinition, WriteTransaction};

use super::StoreError;
use super::check::{self, KeyRef, Kind, PROGRESS_EVERY, open_error, repair};
use super::schema::{
    self, AGENTS, EVENTS, GROUPS, MCP_SERVERS, META, RULES, RUNS, SECRETS, SESSIONS, SETTINGS,
};

/// Records copied per write transaction.
const BATCH: usize = 10_000;

/// What [`salvage`] copied and left out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SalvageReport {
    /// The damaged file (unchanged).
    pub from: PathBuf,
    /// The new file.
    pub to: PathBuf,
    /// Each table: records copied (`records`) and left out (`damaged`).
    pub tables: Vec<TableReport>,
    /// Every record left out, and why.
    pub left_out: Vec<DamagedRecord>,
    /// redb had to repair (a copy of) the file before it could be read.
    pub repaired: bool,
}

impl SalvageReport {
    /// Records copied into the new file.
    pub fn copied(&self) -> u64 {
        self.tables.iter().map(|t| t.records).sum()
    }
}

/// Copies every record of `from` that decodes into a new database at `to`
/// (which must not exist); `progress` is told (records read, records in
/// all) now and then. `from` must not be open in a daemon.
pub fn salvage(
    from: &Path,
    to: &Path,
    progress: &dyn Fn(u64, u64),
) -> Result<SalvageReport, StoreError> {
    if to.exists() {
        return Err(StoreError::Conflict(format!(
            "{} exists: remove it or name another file",
            to.display()
        )));
    }
    let mut report = SalvageReport {
        from: from.to_owned(),
        to: to.to_owned(),
        ..SalvageReport::default()
    };
    let repair_copy = PathBuf::from(format!("{}.repairing", to.display()));
    let copied = match redb::ReadOnlyDatabase::open(from) {
        Ok(source) => copy_all(&source.begin_read()?, to, &mut report, progress),
        Err(redb::DatabaseError::RepairAborted) => {
            // It was not closed cleanly: repair a copy, leave it as it is.
            report.repaired = true;
            let repaired = repair(from, &repair_copy);
            let copied = repaired
                .and_then(|source| copy_all(&source.begin_read()?, to, &mut report, progress));
            let _ = std::fs::remove_file(&repair_copy);
            copied
        }
        Err(err) => Err(open_error(from, err)),
    };
    report.left_out = grouped(std::mem::take(&mut report.left_out));
    copied.map(|()| report)
}

/// `left_out` with each run of events of one session left out for one
/// reason (all of a session whose record is lost) as one entry, keyed
/// `SESSION #FIRST..#LAST (N events)`.
fn grouped(left_out: Vec<DamagedRecord>) -> Vec<DamagedRecord> {
    let mut out: Vec<(DamagedRecord, String, u64)> = Vec::new();
    for record in left_out {
        if let Some((first, last, count)) = out.last_mut()
            && record.table == Kind::Events.name()
            && first.table == record.table
            && first.session == record.session
            && first.error == record.error
        {
            *last = record.key;
            *count += 1;
            continue;
        }
        let key = record.key.clone();
        out.push((record, key, 1));
    }
    out.into_iter()
        .map(|(mut record, last, count)| {
            if count > 1 {
                let last_seq = last.rsplit(' ').next().unwrap_or_default();
                record.key = format!("{}..{last_seq} ({count} events)", record.key);
            }
            record
        })
        .collect()
}

/// Creates `to` with the tables of this release and copies every record of
/// `source` that decodes into it; removes it again if that fails.
fn copy_all(
    source: &ReadTransaction,
    to: &Path,
    report: &mut SalvageReport,
    progress: &dyn Fn(u64, u64),
) -> Result<(), StoreError> {
    let version = source_version(source)?;
    if version > schema::SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found: version,
            supported: schema::SCHEMA_VERSION,
        });
    }
    // Readable by its owner only, as the daemon's own file is (it holds keys).
    // `create_new`: never anybody else's file.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)
        .map_err(|source| StoreError::Io {
            context: format!("cannot create {}", to.display()),
            source,
        })?;
    let copied = copy_into(source, to, version, report, progress);
    if copied.is_err() {
        // Half a new file is no use to anyone; the old one is untouched.
        let _ = std::fs::remove_file(to);
    }
    copied
}

/// Copies every record of `source` that decodes into the new, empty file `to`.
fn copy_into(
    source: &ReadTransaction,
    to: &Path,
    version: u64,
    report: &mut SalvageReport,
    progress: &dyn Fn(u64, u64),
) -> Result<(), StoreError> {
    let dest = Database::create(to).map_err(|err| open_error(to, err))?;
    // Every table, at the source's version: a migration that changes
    // records then runs on the copies as it would have on the original.
    let txn = dest.begin_write()?;
    schema::create_tables(&txn, version.max(1))?;
    txn.commit()?;
    let total = check::total_records(source);
    let mut read = 0u64;
    let mut sessions = HashSet::new();
    for kind in Kind::ALL {
        let mut table = TableReport {
            name: kind.name().to_owned(),
            ..TableReport::default()
        };
        let mut copier = Copier {
            dest: &dest,
            kind,
            batch: Vec::new(),
            failed: None,
        };
        let walked = check::walk(source, kind, &mut |key, value| {
            read += 1;
            if read.is_multiple_of(PROGRESS_EVERY) {
                progress(read, total);
            }
            let verdict = kind.check(&key, value).and_then(|()| match key {
                KeyRef::Session(id) if kind == Kind::Sessions => {
                    sessions.insert(id);
                    Ok(())
                }
                KeyRef::Session(id) | KeyRef::Event(id, _) if !sessions.contains(&id) => Err(
                    "its session's record is missing or does not decode, so nothing could show it"
                        .to_owned(),
                ),
                _ => Ok(()),
            });
            match verdict {
                Ok(()) => {
                    table.records += 1;
                    copier.push(key, value);
                }
                Err(error) => {
                    table.damaged += 1;
                    report.left_out.push(check::damaged(kind, &key, error));
                }
            }
        });
        if let Err((last, error)) = walked {
            table.damaged += 1;
            report.left_out.push(check::broke_off(kind, last, error));
        }
        copier.flush();
        if let Some(err) = copier.failed {
            return Err(err);
        }
        report.tables.push(table);
    }
    schema::migrate(&dest)?;
    progress(read, total);
    Ok(())
}

/// The schema version recorded in `source` (0 if none).
fn source_version(source: &ReadTransaction) -> Result<u64, StoreError> {
    match source.open_table(META) {
        Ok(meta) => Ok(meta.get("schema_version")?.map_or(0, |v| v.value())),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(0),
        Err(err) => Err(err.into()),
    }
}

/// An owned key of one of the tables.
enum KeyBuf {
    Name(String),
    Session(u128),
    Event(u128, u64),
}

/// Buffers rows of one table and writes them in batches.
struct Copier<'a> {
    dest: &'a Database,
    kind: Kind,
    batch: Vec<(KeyBuf, Vec<u8>)>,
    /// The first write that failed; nothing more is written after it.
    failed: Option<StoreError>,
}

impl Copier<'_> {
    fn push(&mut self, key: KeyRef<'_>, value: &[u8]) {
        let key = match key {
            KeyRef::Name(name) => KeyBuf::Name(name.to_owned()),
            KeyRef::Session(id) => KeyBuf::Session(id),
            KeyRef::Event(id, seq) => KeyBuf::Event(id, seq),
        };
        self.batch.push((key, value.to_vec()));
        if self.batch.len() >= BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.failed.is_none()
            && !self.batch.is_empty()
            && let Err(err) = self.write()
        {
            self.failed = Some(err);
        }
        self.batch.clear();
    }

    fn write(&self) -> Result<(), StoreError> {
        let txn = self.dest.begin_write()?;
        match self.kind {
            Kind::Sessions => insert_ids(&txn, SESSIONS, &self.batch)?,
            Kind::Runs => insert_ids(&txn, RUNS, &self.batch)?,
            Kind::Events => {
                let mut table = txn.open_table(EVENTS)?;
                for (key, value) in &self.batch {
                    if let KeyBuf::Event(id, seq) = key {
                        table.insert((*id, *seq), value.as_slice())?;
                    }
                }
            }
            Kind::Agents => insert_names(&txn, AGENTS, &self.batch)?,
            Kind::Settings => insert_names(&txn, SETTINGS, &self.batch)?,
            Kind::Secrets => insert_names(&txn, SECRETS, &self.batch)?,
            Kind::Rules => insert_names(&txn, RULES, &self.batch)?,
            Kind::McpServers => insert_names(&txn, MCP_SERVERS, &self.batch)?,
            Kind::Groups => insert_ids(&txn, GROUPS, &self.batch)?,
        }
        txn.commit()?;
        Ok(())
    }
}

fn insert_ids(
    txn: &WriteTransaction,
    def: TableDefinition<u128, &'static [u8]>,
    rows: &[(KeyBuf, Vec<u8>)],
) -> Result<(), StoreError> {
    let mut table = txn.open_table(def)?;
    for (key, value) in rows {
        if let KeyBuf::Session(id) = key {
            table.insert(*id, value.as_slice())?;
        }
    }
    Ok(())
}

fn insert_names(
    txn: &WriteTransaction,
    def: TableDefinition<&'static str, &'static [u8]>,
    rows: &[(KeyBuf, Vec<u8>)],
) -> Result<(), StoreError> {
    let mut table = txn.open_table(def)?;
    for (key, value) in rows {
        if let KeyBuf::Name(name) = key {
            table.insert(name.as_str(), value.as_slice())?;
        }
    }
    Ok(())
}

/// Puts the salvaged file `salvaged` in place of `db`, which is kept next
/// to it as `<db>.corrupt-<time>`; returns that name. Refuses while a
/// daemon has `db` open.
pub fn replace_with_salvaged(db: &Path, salvaged: &Path) -> Result<PathBuf, StoreError> {
    // Held until both files are in place, so no daemon opens either meanwhile.
    let _held = match redb::ReadOnlyDatabase::open(db) {
        Ok(held) => Some(held),
        Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
            return Err(StoreError::AlreadyOpen(db.to_owned()));
        }
        // Not closed cleanly, or not readable at all: no daemon has it.
        Err(_) => None,
    };
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(':', "-");
    let kept = PathBuf::from(format!("{}.corrupt-{stamp}", db.display()));
    let moved = |from: &Path, to: &Path| {
        std::fs::rename(from, to).map_err(|source| StoreError::Io {
            context: format!("cannot move {} to {}", from.display(), to.display()),
            source,
        })
    };
    moved(db, &kept)?;
    moved(salvaged, db)?;
    Ok(kept)
}
