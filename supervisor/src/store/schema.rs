//! Table definitions and the schema version, checked and migrated at open.

use redb::{Database, ReadableDatabase, TableDefinition, WriteTransaction};

use super::StoreError;

/// Schema version this release writes. Bump it with a migration in [`migrate`].
pub const SCHEMA_VERSION: u64 = 4;

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
/// Provider name -> [`super::records::StoredKey`] (since schema 2).
pub(crate) const SECRETS: TableDefinition<&str, &[u8]> = TableDefinition::new("secrets");
/// Rule id -> [`protocol::approval::ApprovalRule`] (since schema 3).
pub(crate) const RULES: TableDefinition<&str, &[u8]> = TableDefinition::new("rules");
/// Server name -> [`protocol::mcp::McpServerConfig`] (since schema 4).
pub(crate) const MCP_SERVERS: TableDefinition<&str, &[u8]> = TableDefinition::new("mcp_servers");

const VERSION_KEY: &str = "schema_version";

/// Brings a database to [`SCHEMA_VERSION`]: creates the tables of a new
/// file, runs migrations for an older one, refuses a newer one.
pub(crate) fn migrate(db: &Database) -> Result<(), StoreError> {
    let found = {
        let txn = db.begin_read()?;
        match txn.open_table(META) {
            Ok(meta) => meta.get(VERSION_KEY)?.map(|v| v.value()),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(err) => return Err(err.into()),
        }
    };
    match found {
        Some(v) if v == SCHEMA_VERSION => return Ok(()),
        Some(v) if v > SCHEMA_VERSION => {
            return Err(StoreError::NewerSchema {
                found: v,
                supported: SCHEMA_VERSION,
            });
        }
        // Older versions (and new files): every migration so far only adds
        // tables, which opening them below does. A migration that changes
        // records goes here, one version step at a time, in this transaction.
        _ => {}
    }
    let txn = db.begin_write()?;
    create_tables(&txn, SCHEMA_VERSION)?;
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
    txn.open_table(META)?.insert(VERSION_KEY, version)?;
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
