//! Table definitions and the schema version, checked and migrated at open.

use std::collections::BTreeMap;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use studio_client::human::first_line;

use super::StoreError;
use super::records::{GroupRecord, Record, SessionRecord, TITLE_CHARS};

/// Schema version this release writes. Bump it with a migration in [`migrate`].
///
/// 6: the groups table, filled at the upgrade with a record for every
/// batch an older release queued.
///
/// 5: no secret in the database. Secrets an older one holds are moved to
/// the secret store before the store opens it, and a file of schema 4 or
/// older is rewritten once, so that no freed page keeps a key removed
/// before (`super::legacy`).
pub const SCHEMA_VERSION: u64 = 6;

/// The first schema whose file holds no secret, not even in a freed page.
pub(crate) const SECRETS_MOVED_OUT: u64 = 5;

/// `"schema_version"` -> version.
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Agent name -> [`protocol::agent::AgentConfig`].
pub(crate) const AGENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("agents");
/// Session id -> [`super::SessionRecord`].
pub(crate) const SESSIONS: TableDefinition<u128, &[u8]> = TableDefinition::new("sessions");
/// (session id, seq) -> [`super::records::EventRecord`].
pub(crate) const EVENTS: TableDefinition<(u128, u64), &[u8]> = TableDefinition::new("events");
/// Session id -> [`super::RunRecord`].
pub(crate) const RUNS: TableDefinition<u128, &[u8]> = TableDefinition::new("runs");
/// Setting name -> value (versioned record bytes).
pub(crate) const SETTINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("settings");

/// The [`SETTINGS`] entry holding the user's prices (`CustomPrices`).
pub(crate) const PRICING: &str = "pricing";

/// The [`SETTINGS`] entry holding the stored `DaemonLimits`.
pub(crate) const LIMITS: &str = "limits";

/// The [`SETTINGS`] entry holding `IdCounters`.
pub(crate) const ID_COUNTERS: &str = "id_counters";

/// The [`SETTINGS`] entry holding `OtlpExportSetting`.
pub(crate) const OTLP_EXPORT: &str = "otlp_export";
/// Provider name -> [`super::records::StoredKey`] (since schema 2). Empty
/// since secrets moved to the secret store (`crate::secrets`): rows an
/// older release wrote are moved out at start (`super::legacy`).
pub(crate) const SECRETS: TableDefinition<&str, &[u8]> = TableDefinition::new("secrets");
/// Rule id -> [`protocol::approval::ApprovalRule`] (since schema 3).
pub(crate) const RULES: TableDefinition<&str, &[u8]> = TableDefinition::new("rules");
/// Server name -> [`protocol::mcp::McpServerConfig`] (since schema 4).
pub(crate) const MCP_SERVERS: TableDefinition<&str, &[u8]> = TableDefinition::new("mcp_servers");
/// Group id (its first run's session id) -> [`super::GroupRecord`] (since
/// schema 6).
pub(crate) const GROUPS: TableDefinition<u128, &[u8]> = TableDefinition::new("groups");

const VERSION_KEY: &str = "schema_version";

/// Names of every table [`migrate`] creates: [`copy_all`] copies these,
/// and a file holding another is not rewritten.
pub(crate) const TABLE_NAMES: [&str; 10] = [
    "meta",
    "agents",
    "sessions",
    "events",
    "runs",
    "settings",
    "secrets",
    "rules",
    "mcp_servers",
    "groups",
];

/// Copies every table of [`TABLE_NAMES`] from `from` into `to` (a new,
/// empty database), one write transaction per table.
pub(crate) fn copy_all(from: &Database, to: &Database) -> Result<(), StoreError> {
    let read = from.begin_read()?;
    copy(&read, to, META)?;
    copy(&read, to, AGENTS)?;
    copy(&read, to, SESSIONS)?;
    copy(&read, to, EVENTS)?;
    copy(&read, to, RUNS)?;
    copy(&read, to, SETTINGS)?;
    copy(&read, to, SECRETS)?;
    copy(&read, to, RULES)?;
    copy(&read, to, MCP_SERVERS)?;
    copy(&read, to, GROUPS)?;
    Ok(())
}

/// Copies the rows of table `def`, if `read` has it.
fn copy<K: redb::Key + 'static, V: redb::Value + 'static>(
    read: &redb::ReadTransaction,
    to: &Database,
    def: TableDefinition<K, V>,
) -> Result<(), StoreError> {
    let source = match read.open_table(def) {
        Ok(source) => source,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(err) => return Err(err.into()),
    };
    let txn = to.begin_write()?;
    {
        let mut target = txn.open_table(def)?;
        for row in source.iter()? {
            let (key, value) = row?;
            target.insert(key.value(), value.value())?;
        }
    }
    txn.commit()?;
    Ok(())
}

/// The schema version recorded in the database (none in a new file).
pub(crate) fn version(txn: &redb::ReadTransaction) -> Result<Option<u64>, StoreError> {
    match txn.open_table(META) {
        Ok(meta) => Ok(meta.get(VERSION_KEY)?.map(|v| v.value())),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// Brings a database to [`SCHEMA_VERSION`]: creates the tables of a new
/// file, runs migrations for an older one, refuses a newer one.
pub(crate) fn migrate(db: &Database) -> Result<(), StoreError> {
    let found = version(&db.begin_read()?)?;
    match found {
        Some(v) if v == SCHEMA_VERSION => return Ok(()),
        Some(v) if v > SCHEMA_VERSION => {
            return Err(StoreError::NewerSchema {
                found: v,
                supported: SCHEMA_VERSION,
            });
        }
        // Older versions (and new files): every migration so far adds
        // tables, which opening them below does; moving secrets out (5)
        // happened before the store opened the file (`super::legacy`). A
        // migration that changes records goes here, one version step at a
        // time, in this transaction.
        _ => {}
    }
    let txn = db.begin_write()?;
    create_tables(&txn, SCHEMA_VERSION)?;
    if found.is_some_and(|v| v < 6) {
        backfill_groups(&txn)?;
    }
    txn.commit()?;
    Ok(())
}

/// Creates every table that does not exist yet and records `version`.
pub(crate) fn create_tables(txn: &WriteTransaction, version: u64) -> Result<(), StoreError> {
    txn.open_table(AGENTS)?;
    txn.open_table(SESSIONS)?;
    txn.open_table(EVENTS)?;
    txn.open_table(RUNS)?;
    txn.open_table(SETTINGS)?;
    txn.open_table(SECRETS)?;
    txn.open_table(RULES)?;
    txn.open_table(MCP_SERVERS)?;
    txn.open_table(GROUPS)?;
    txn.open_table(META)?.insert(VERSION_KEY, version)?;
    Ok(())
}

/// Gives every batch an older release queued (runs sharing a `batch`) a
/// group record, named by its first run's prompt, unless it has one.
pub(super) fn backfill_groups(txn: &WriteTransaction) -> Result<(), StoreError> {
    let mut found: BTreeMap<u128, GroupRecord> = BTreeMap::new();
    {
        let sessions = txn.open_table(SESSIONS)?;
        for row in sessions.iter()? {
            let (key, value) = row?;
            // A record that does not decode is reported once the store is open.
            let Ok(record) = SessionRecord::decode(value.value()) else {
                continue;
            };
            if record.id.as_u128() != key.value() {
                continue;
            }
            let Some(group) = record.batch else {
                continue;
            };
            let entry = found.entry(group.as_u128()).or_insert_with(|| GroupRecord {
                id: group,
                name: String::new(),
                created_at: record.created_at,
                runs: 0,
                preferred: None,
                caps: Default::default(),
                checks: Vec::new(),
            });
            entry.runs += 1;
            if record.id == group {
                entry.name = first_line(&record.prompt, TITLE_CHARS);
                entry.created_at = record.created_at;
            }
        }
    }
    let mut groups = txn.open_table(GROUPS)?;
    for (key, record) in found {
        if groups.get(key)?.is_none() {
            groups.insert(key, record.encode()?.as_slice())?;
        }
    }
    Ok(())
}

/// Overwrites the recorded schema version (tests of version handling).
#[cfg(test)]
pub(crate) fn set_version(db: &Database, version: u64) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    txn.open_table(META)?.insert(VERSION_KEY, version)?;
    txn.commit()?;
    Ok(())
}
