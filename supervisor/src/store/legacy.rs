//! Secrets that releases before the secret store (`crate::secrets`) kept
//! in the database: provider keys in the `secrets` table, MCP servers'
//! env and header values inside their records.
//!
//! At daemon start, before the store opens, [`find`] reads them; once the
//! secret store holds them, [`erase`] deletes them and makes sure the
//! file keeps no copy. redb writes copy-on-write: a deleted value stays
//! in its freed page until that page is reused. Compaction moves live
//! pages down into freed ones and cuts the file's tail, which overwrites
//! most such pages but not all (a freed page no live page is moved into
//! keeps its bytes). So the file is then searched for each value's bytes,
//! and if one is still there the database is rewritten: every table
//! copied into a new file that replaces the old one, whose blocks are
//! overwritten with zeros (`crate::atomic_file::replace_wiping`).
//!
//! A file of schema 4 or older is rewritten in any case, once: a key
//! removed with `studio keys rm` back then is not in any table, so it
//! cannot be searched for, but a freed page may still hold it.

use std::path::Path;

use protocol::Secret;
use protocol::mcp::{McpServerConfig, McpTransport};
use redb::{Database, MultimapTableHandle, ReadableDatabase, ReadableTable, TableHandle};

use super::records::{Record, StoredKey};
use super::schema::{self, MCP_SERVERS, SECRETS};
use super::{SCHEMA_VERSION, StoreError, open_database};
use crate::atomic_file;

/// Values shorter than this are not searched for in the file: a few bytes
/// (an env value `1`, say) occur there by chance.
const SHORTEST_CHECKED: usize = 8;

/// Secrets found in the database.
#[derive(Debug, Default)]
pub(crate) struct LegacySecrets {
    /// Provider name (`openai`) and its key, as stored.
    pub(crate) keys: Vec<(String, StoredKey)>,
    /// MCP servers whose records hold env or header values, as stored.
    pub(crate) mcp_servers: Vec<McpServerConfig>,
    /// The file predates schema 5: it is rewritten once whatever it holds.
    pub(crate) scrub: bool,
}

impl LegacySecrets {
    /// Whether there is nothing to move.
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.mcp_servers.is_empty()
    }

    /// Every value, as bytes.
    fn values(&self) -> Vec<&[u8]> {
        let keys = self.keys.iter().map(|(_, k)| k.key.expose().as_bytes());
        let mcp = self
            .mcp_servers
            .iter()
            .flat_map(|s| pairs(s).iter().map(|(_, v)| v.expose().as_bytes()));
        keys.chain(mcp).filter(|v| !v.is_empty()).collect()
    }
}

/// What [`erase`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Erased {
    /// Compaction left a copy, so the file was rewritten.
    pub(crate) rewritten: bool,
    /// Values too short to search for.
    pub(crate) unchecked: usize,
    /// Values whose bytes are still in the file (in something else that
    /// holds them, such as a prompt that quoted a key).
    pub(crate) left: usize,
    /// Why the file could not be rewritten, if it could not (the moved
    /// secrets are safe in the secret store all the same).
    pub(crate) rewrite_failed: Option<String>,
}

fn pairs(server: &McpServerConfig) -> &[(String, Secret)] {
    match &server.transport {
        McpTransport::Stdio { env, .. } => env,
        McpTransport::Http { headers, .. } => headers,
    }
}

/// Empties every env or header value of `server`.
fn blank(server: &mut McpServerConfig) {
    let pairs = match &mut server.transport {
        McpTransport::Stdio { env, .. } => env,
        McpTransport::Http { headers, .. } => headers,
    };
    for (_, value) in pairs {
        *value = Secret::new("");
    }
}

/// The secrets in the database at `path`: none when there is no file yet,
/// or when it was written by a newer release (the store refuses to open
/// it anyway).
pub(crate) fn find(path: &Path) -> Result<LegacySecrets, StoreError> {
    let mut found = LegacySecrets::default();
    if !path.exists() {
        return Ok(found);
    }
    let db = open_database(path)?;
    let txn = db.begin_read()?;
    match schema::version(&txn)? {
        Some(v) if v > SCHEMA_VERSION => return Ok(found),
        Some(v) => found.scrub = v < schema::SECRETS_MOVED_OUT,
        None => {}
    }
    match txn.open_table(SECRETS) {
        Ok(table) => {
            for row in table.iter()? {
                let (provider, value) = row?;
                found.keys.push((
                    provider.value().to_owned(),
                    StoredKey::decode(value.value())?,
                ));
            }
        }
        Err(redb::TableError::TableDoesNotExist(_)) => {}
        Err(err) => return Err(err.into()),
    }
    match txn.open_table(MCP_SERVERS) {
        Ok(table) => {
            for row in table.iter()? {
                let server = McpServerConfig::decode(row?.1.value())?;
                if pairs(&server).iter().any(|(_, v)| !v.expose().is_empty()) {
                    found.mcp_servers.push(server);
                }
            }
        }
        Err(redb::TableError::TableDoesNotExist(_)) => {}
        Err(err) => return Err(err.into()),
    }
    Ok(found)
}

/// Deletes `legacy` from the database at `path` (MCP records keep their
/// names, with empty values), compacts it, and rewrites it if a copy of a
/// value is still in the file, or the file predates schema 5.
pub(crate) fn erase(path: &Path, legacy: &LegacySecrets) -> Result<Erased, StoreError> {
    let mut db = open_database(path)?;
    let txn = db.begin_write()?;
    {
        let mut secrets = txn.open_table(SECRETS)?;
        for (provider, _) in &legacy.keys {
            secrets.remove(provider.as_str())?;
        }
        let mut servers = txn.open_table(MCP_SERVERS)?;
        for server in &legacy.mcp_servers {
            let name = server.name.as_str();
            let current = servers
                .get(name)?
                .map(|v| McpServerConfig::decode(v.value()))
                .transpose()?;
            if let Some(mut current) = current {
                blank(&mut current);
                servers.insert(name, current.encode()?.as_slice())?;
            }
        }
    }
    txn.commit()?;
    db.compact()
        .map_err(|err| StoreError::Storage(err.into()))?;
    drop(db);

    let values = legacy.values();
    let checked: Vec<&[u8]> = values
        .iter()
        .copied()
        .filter(|v| v.len() >= SHORTEST_CHECKED)
        .collect();
    let unchecked = values.len() - checked.len();
    let mut left = count_left(path, &checked)?;
    let mut erased = Erased {
        rewritten: false,
        unchecked,
        left,
        rewrite_failed: None,
    };
    if left > 0 || legacy.scrub {
        match rewrite(path) {
            Ok(()) => {
                erased.rewritten = true;
                left = count_left(path, &checked)?;
                erased.left = left;
            }
            Err(err) => erased.rewrite_failed = Some(err.to_string()),
        }
    }
    Ok(erased)
}

/// How many of `values` occur in the file at `path`.
fn count_left(path: &Path, values: &[&[u8]]) -> Result<usize, StoreError> {
    let found = atomic_file::find_in_file(path, values)
        .map_err(|err| StoreError::Rewrite(format!("cannot search {}: {err}", path.display())))?;
    Ok(found.into_iter().filter(|hit| *hit).count())
}

/// Copies every table of the database at `path` into a new file that then
/// replaces it. Refuses a database holding a table this release does not
/// know (it would be lost).
pub(crate) fn rewrite(path: &Path) -> Result<(), StoreError> {
    let io = |what: &str| {
        let what = what.to_owned();
        move |err: std::io::Error| StoreError::Rewrite(format!("{what}: {err}"))
    };
    let tmp = atomic_file::temp_path(path);
    atomic_file::remove_if_exists(&tmp).map_err(io("cannot remove an old temp file"))?;
    {
        let from = open_database(path)?;
        let txn = from.begin_read()?;
        let names: Vec<String> = txn
            .list_tables()?
            .map(|t| t.name().to_owned())
            .chain(txn.list_multimap_tables()?.map(|t| t.name().to_owned()))
            .collect();
        drop(txn);
        if let Some(unknown) = names
            .iter()
            .find(|name| !schema::TABLE_NAMES.contains(&name.as_str()))
        {
            return Err(StoreError::Rewrite(format!(
                "it holds a table this release does not know ({unknown:?})"
            )));
        }
        let to = Database::create(&tmp).map_err(|source| StoreError::Open {
            path: tmp.clone(),
            source,
        })?;
        schema::copy_all(&from, &to)?;
    }
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io("cannot flush the rewritten database"))?;
    atomic_file::replace_wiping(&tmp, path).map_err(io("cannot replace the database"))
}

#[cfg(test)]
mod tests {
    use protocol::Timestamp;
    use redb::ReadableTableMetadata;

    use super::*;

    fn key(value: &str) -> Vec<u8> {
        StoredKey {
            key: Secret::new(value),
            stored_at: Timestamp(3),
        }
        .encode()
        .unwrap()
    }

    fn server(name: &str, token: &str) -> McpServerConfig {
        McpServerConfig {
            name: name.into(),
            transport: McpTransport::Http {
                url: "https://h/mcp".into(),
                headers: vec![("Authorization".into(), Secret::new(token))],
            },
            startup_timeout_secs: 60,
            call_timeout_secs: 120,
        }
    }

    fn occurs(path: &Path, value: &str) -> bool {
        atomic_file::find_in_file(path, &[value.as_bytes()]).unwrap()[0]
    }

    /// A database as an older release left it: events, a key set twice,
    /// an MCP server with a token.
    fn legacy_db(path: &Path) {
        let db = Database::create(path).unwrap();
        schema::migrate(&db).unwrap();
        schema::set_version(&db, 4).unwrap();
        for (round, value) in ["sk-legacy-first-0001", "sk-legacy-second-0002"]
            .into_iter()
            .enumerate()
        {
            let txn = db.begin_write().unwrap();
            {
                let mut events = txn.open_table(schema::EVENTS).unwrap();
                for seq in 0..2000u64 {
                    events
                        .insert((round as u128, seq), vec![7u8; 200].as_slice())
                        .unwrap();
                }
                txn.open_table(SECRETS)
                    .unwrap()
                    .insert("openai", key(value).as_slice())
                    .unwrap();
                let mcp = server("github", "Bearer ghp_secret_legacy")
                    .encode()
                    .unwrap();
                txn.open_table(MCP_SERVERS)
                    .unwrap()
                    .insert("github", mcp.as_slice())
                    .unwrap();
            }
            txn.commit().unwrap();
        }
    }

    #[test]
    fn secrets_are_found_erased_and_no_copy_stays_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("studio.redb");
        assert!(find(&path).unwrap().is_empty(), "no file yet");
        assert!(!path.exists(), "finding creates nothing");
        legacy_db(&path);
        assert!(occurs(&path, "sk-legacy-second-0002"));
        let legacy = find(&path).unwrap();
        assert_eq!(legacy.keys.len(), 1);
        assert_eq!(legacy.keys[0].0, "openai");
        assert_eq!(legacy.keys[0].1.key.expose(), "sk-legacy-second-0002");
        assert_eq!(
            legacy.mcp_servers,
            [server("github", "Bearer ghp_secret_legacy")]
        );

        let erased = erase(&path, &legacy).unwrap();
        assert_eq!(erased.left, 0, "{erased:?}");
        assert_eq!(erased.unchecked, 0);
        for value in [
            "sk-legacy-first-0001",
            "sk-legacy-second-0002",
            "ghp_secret_legacy",
        ] {
            assert!(!occurs(&path, value), "{value} is still in the file");
        }
        assert!(find(&path).unwrap().is_empty());
        // The rest is intact, the MCP server without its value.
        let db = open_database(&path).unwrap();
        let txn = db.begin_read().unwrap();
        assert_eq!(txn.open_table(schema::EVENTS).unwrap().len().unwrap(), 4000);
        let stored = txn.open_table(MCP_SERVERS).unwrap();
        let github = McpServerConfig::decode(stored.get("github").unwrap().unwrap().value());
        assert_eq!(github.unwrap(), server("github", ""));
    }

    #[test]
    fn a_rewrite_keeps_every_table_and_drops_freed_pages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("studio.redb");
        legacy_db(&path);
        let db = open_database(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(SECRETS).unwrap().remove("openai").unwrap();
        txn.commit().unwrap();
        drop(db);
        assert!(
            occurs(&path, "sk-legacy-second-0002"),
            "a freed page keeps it"
        );
        rewrite(&path).unwrap();
        assert!(!occurs(&path, "sk-legacy-second-0002"));
        assert!(!occurs(&path, "sk-legacy-first-0001"));
        assert!(occurs(&path, "ghp_secret_legacy"), "live rows are copied");
        let db = open_database(&path).unwrap();
        let txn = db.begin_read().unwrap();
        assert_eq!(schema::version(&txn).unwrap(), Some(4), "copied as it was");
        assert_eq!(txn.open_table(schema::EVENTS).unwrap().len().unwrap(), 4000);
        assert!(!atomic_file::temp_path(&path).exists());
    }

    #[test]
    fn a_current_file_is_rewritten_only_if_a_copy_survived_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("studio.redb");
        let db = Database::create(&path).unwrap();
        schema::migrate(&db).unwrap();
        drop(db);
        assert!(!find(&path).unwrap().scrub, "schema 5 needs no scrub");
        // A key an older release wrote after this one had run.
        let db = open_database(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(SECRETS)
            .unwrap()
            .insert("gemini", key("AIza-downgraded-0001").as_slice())
            .unwrap();
        txn.commit().unwrap();
        drop(db);
        let legacy = find(&path).unwrap();
        assert_eq!(legacy.keys.len(), 1);
        let erased = erase(&path, &legacy).unwrap();
        assert_eq!(erased.left, 0, "{erased:?}");
        assert!(!occurs(&path, "AIza-downgraded-0001"));
    }

    #[test]
    fn a_table_this_release_does_not_know_is_never_dropped_by_a_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("studio.redb");
        legacy_db(&path);
        let db = open_database(&path).unwrap();
        let txn = db.begin_write().unwrap();
        let future: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("future");
        txn.open_table(future).unwrap().insert("x", 1).unwrap();
        txn.commit().unwrap();
        drop(db);
        let err = rewrite(&path).unwrap_err().to_string();
        assert!(err.contains("\"future\""), "{err}");
        assert!(occurs(&path, "ghp_secret_legacy"), "the file is untouched");
    }

    #[test]
    fn the_copy_list_names_every_table_a_new_database_has() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("db")).unwrap();
        schema::migrate(&db).unwrap();
        let txn = db.begin_read().unwrap();
        let mut names: Vec<String> = txn
            .list_tables()
            .unwrap()
            .map(|t| t.name().to_owned())
            .collect();
        names.sort();
        let mut known = schema::TABLE_NAMES.to_vec();
        known.sort_unstable();
        assert_eq!(names, known);
    }
}
