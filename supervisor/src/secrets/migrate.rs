//! Moving the secrets an older release kept in the database into the
//! secret store: at daemon start, before the store opens the database.
//! Each is written to the secret store first and only then deleted from
//! the database, so a crash in between leaves it in both (and the next
//! start moves it again), never in neither.

use std::path::Path;

use protocol::Timestamp;

use super::{SecretStore, SecretsError, mcp_name, take_mcp_secrets};
use crate::store::StoreError;
use crate::store::legacy::{self, Erased};

/// What was moved out of the database.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Moved {
    /// Provider keys.
    pub(crate) keys: usize,
    /// MCP servers whose secrets were moved.
    pub(crate) mcp_servers: usize,
}

/// Moves every secret found in the database at `database` into `secrets`
/// and erases it from the database file.
pub(crate) async fn from_database(
    database: &Path,
    secrets: &SecretStore,
) -> Result<Moved, SecretsError> {
    let path = database.to_owned();
    let found = blocking(move || legacy::find(&path)).await?;
    if found.is_empty() && !found.scrub {
        return Ok(Moved::default());
    }
    for (provider, stored) in &found.keys {
        let name = format!("key/{provider}");
        secrets
            .put(&name, stored.key.clone(), stored.stored_at)
            .await?;
    }
    let now = Timestamp::now();
    for server in &found.mcp_servers {
        let mut server = server.clone();
        if let Some(values) = take_mcp_secrets(&mut server) {
            secrets.put(&mcp_name(&server.name), values, now).await?;
        }
    }
    let moved = Moved {
        keys: found.keys.len(),
        mcp_servers: found.mcp_servers.len(),
    };
    let path = database.to_owned();
    let erased = blocking(move || legacy::erase(&path, &found)).await?;
    report(moved, &erased, secrets);
    Ok(moved)
}

fn report(moved: Moved, erased: &Erased, secrets: &SecretStore) {
    tracing::info!(
        keys = moved.keys,
        mcp_servers = moved.mcp_servers,
        to = %secrets.active(),
        rewritten = erased.rewritten,
        "moved secrets out of the database"
    );
    if let Some(why) = &erased.rewrite_failed {
        tracing::warn!(%why, "the database could not be rewritten: a freed page of it may still hold a secret");
    }
    if erased.left > 0 {
        tracing::warn!(
            values = erased.left,
            "moved secrets still occur in the database, outside the tables that kept them (quoted in a prompt or a tool's output?)"
        );
    }
    if erased.unchecked > 0 {
        tracing::info!(
            values = erased.unchecked,
            "values under 8 bytes were not searched for in the database file"
        );
    }
}

/// Runs `f` on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, SecretsError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|err| SecretsError::Database(StoreError::Rewrite(err.to_string())))?
        .map_err(SecretsError::Database)
}
