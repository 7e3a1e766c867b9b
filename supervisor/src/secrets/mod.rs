//! Where secrets live at rest: provider API keys (`key/PROVIDER`) and MCP
//! servers' env values and headers (`mcp/SERVER`). Never in the database.
//!
//! [`SecretStore`] keeps each in the OS keyring ([`keyring`]) when one is
//! built in and passes a probe at daemon start, else in
//! `DATA_DIR/secrets.json` ([`file`], mode 0600, rewritten whole on every
//! change). The file always holds the index: each secret's name, where it
//! lives and when it was stored, so `studio keys list` can say where
//! without reading any value. The data dir is never visible to an agent's
//! sandboxed commands, and the Secret Service's bus socket is not either.
//!
//! Secrets an older release kept in the database are moved here at start
//! ([`migrate`]), and the database is made to hold no copy of them.

mod file;
pub(crate) mod keyring;
mod mcp;
pub(crate) mod migrate;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;

use protocol::control::{SecretInfo, SecretLocation, SecretsInfo};
use protocol::mcp::McpServerConfig;
use protocol::{ProviderKind, Secret, Timestamp};
use tokio::sync::Mutex;

use crate::paths::DataDir;
use file::{Entries, Entry, Place, SecretsFile};
use keyring::Keyring;
pub(crate) use mcp::{fill_mcp_secrets, take_mcp_secrets};

/// Which store the daemon keeps secrets in (`studio daemon run --secret-store`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreChoice {
    /// The OS keyring if it is built in and works, else the file.
    #[default]
    Auto,
    /// The OS keyring; the daemon does not start without one.
    Keyring,
    /// `DATA_DIR/secrets.json` only.
    File,
}

/// What went wrong with a secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// Reading or writing the secrets file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, and to which file.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The secrets file is readable by other users.
    #[error("{} has mode {mode:o}; it must be private to you (chmod 600)", path.display())]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The secrets file does not parse; it is left as it is.
    #[error("cannot read the secrets file {}: {detail}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where it went wrong (never its text).
        detail: String,
    },
    /// The OS keyring was asked for (`--secret-store keyring`) and is not there.
    #[error("the OS keyring cannot be used: {0}")]
    NoKeyring(String),
    /// A call to the OS keyring failed.
    #[error("OS keyring: {0}")]
    Keyring(String),
    /// Secrets could not be moved out of the database.
    #[error("cannot move secrets out of the database: {0}")]
    Database(#[source] crate::store::StoreError),
}

/// The daemon's secrets: cheap to clone, shared by every task.
#[derive(Clone)]
pub(crate) struct SecretStore {
    inner: Arc<Inner>,
}

struct Inner {
    file: SecretsFile,
    /// The OS keyring, when it passed the probe.
    keyring: Option<Arc<dyn Keyring>>,
    /// Why there is no keyring, when there is none.
    keyring_unavailable: Option<String>,
    /// The entries as the file holds them; held while a change is made,
    /// so the file and the keyring change in the order they were asked.
    entries: Mutex<Entries>,
}

/// The name of `provider`'s key.
pub(crate) fn key_name(provider: ProviderKind) -> String {
    format!("key/{}", provider.as_str())
}

/// The name of the value of installed plugin `plugin`'s environment
/// variable `variable` (`[[permissions.env]]`).
pub(crate) fn plugin_env_name(plugin: &str, variable: &str) -> String {
    format!("plugin/{plugin}/{variable}")
}

/// The name of MCP server `server`'s OAuth tokens (`studio mcp login`).
pub(crate) fn mcp_oauth_name(server: &str) -> String {
    format!("mcp-oauth/{server}")
}

/// The name of MCP server `server`'s secrets.
pub(crate) fn mcp_name(server: &str) -> String {
    format!("mcp/{server}")
}

impl SecretStore {
    /// Opens the secrets of `dir`: reads the file, and with `Auto` or
    /// `Keyring` connects to the OS keyring and probes it.
    pub(crate) async fn open(dir: &DataDir, choice: StoreChoice) -> Result<Self, SecretsError> {
        let file = SecretsFile::new(dir.secrets());
        let entries = file.load()?;
        let (keyring, keyring_unavailable) = match choice {
            StoreChoice::File => (None, Some("turned off (--secret-store file)".to_owned())),
            StoreChoice::Auto | StoreChoice::Keyring => match connect_and_probe(dir).await {
                Ok(keyring) => (Some(keyring), None),
                Err(why) if choice == StoreChoice::Keyring => {
                    return Err(SecretsError::NoKeyring(why));
                }
                Err(why) => (None, Some(why)),
            },
        };
        let store = Self::with_keyring(file, entries, keyring, keyring_unavailable);
        store.log_where().await;
        Ok(store)
    }

    fn with_keyring(
        file: SecretsFile,
        entries: Entries,
        keyring: Option<Arc<dyn Keyring>>,
        keyring_unavailable: Option<String>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                file,
                keyring,
                keyring_unavailable,
                entries: Mutex::new(entries),
            }),
        }
    }

    async fn log_where(&self) {
        let entries = self.inner.entries.lock().await;
        let in_keyring = entries
            .values()
            .filter(|e| e.place == Place::Keyring)
            .count();
        match &self.inner.keyring_unavailable {
            None => tracing::info!(stored = entries.len(), "secrets go to the OS keyring"),
            Some(why) => {
                tracing::info!(file = %self.inner.file.path().display(), %why, "secrets go to the secrets file, not the OS keyring");
                if in_keyring > 0 {
                    tracing::warn!(
                        in_keyring,
                        "secrets stored in the OS keyring cannot be read while it is unavailable"
                    );
                }
            }
        }
    }

    /// Where a secret stored now goes.
    pub(crate) fn active(&self) -> SecretLocation {
        if self.inner.keyring.is_some() {
            SecretLocation::Keyring
        } else {
            SecretLocation::File
        }
    }

    /// Stores `value` under `name` now; see [`SecretStore::put`].
    pub(crate) async fn set(
        &self,
        name: &str,
        value: Secret,
    ) -> Result<SecretLocation, SecretsError> {
        self.put(name, value, Timestamp::now()).await
    }

    /// Stores `value` under `name` (replacing it wherever it was) in the
    /// OS keyring, or the file when there is none or it refuses; returns
    /// where it went.
    pub(crate) async fn put(
        &self,
        name: &str,
        value: Secret,
        stored_at: Timestamp,
    ) -> Result<SecretLocation, SecretsError> {
        let mut entries = self.inner.entries.lock().await;
        let before = entries.get(name).map(|e| e.place.location());
        let mut place = Place::File {
            value: value.clone(),
        };
        if let Some(keyring) = &self.inner.keyring {
            let (key, text) = (name.to_owned(), value.expose().to_owned());
            match keyring::call(keyring, move |k| k.set(&key, &text)).await {
                Ok(()) => place = Place::Keyring,
                Err(err) => {
                    tracing::warn!(name, %err, "the OS keyring refused a secret; it goes to the secrets file")
                }
            }
        }
        let location = place.location();
        let mut next = entries.clone();
        next.insert(name.to_owned(), Entry { stored_at, place });
        if let Err(err) = self.save(&next).await {
            if location == SecretLocation::Keyring && before != Some(SecretLocation::Keyring) {
                // Not listed anywhere: no copy may stay behind.
                self.delete_from_keyring(name).await;
            }
            return Err(err);
        }
        *entries = next;
        if before == Some(SecretLocation::Keyring) && location == SecretLocation::File {
            // Now in the file: the keyring's copy goes.
            self.delete_from_keyring(name).await;
        }
        Ok(location)
    }

    /// The value stored under `name`, if any.
    pub(crate) async fn get(&self, name: &str) -> Result<Option<Secret>, SecretsError> {
        let place = match self.inner.entries.lock().await.get(name) {
            None => return Ok(None),
            Some(entry) => entry.place.clone(),
        };
        match place {
            Place::File { value } => Ok(Some(value)),
            Place::Keyring => {
                let keyring = self.keyring_for(name)?;
                let key = name.to_owned();
                let value = keyring::call(keyring, move |k| k.get(&key))
                    .await
                    .map_err(SecretsError::Keyring)?;
                if value.is_none() {
                    tracing::warn!(
                        name,
                        "the OS keyring no longer holds this secret (removed from outside studio?)"
                    );
                }
                Ok(value.map(Secret::new))
            }
        }
    }

    /// When the secret under `name` was stored, and where it lives.
    pub(crate) async fn stored(&self, name: &str) -> Option<(Timestamp, SecretLocation)> {
        let entries = self.inner.entries.lock().await;
        entries.get(name).map(|e| (e.stored_at, e.place.location()))
    }

    /// Forgets `name`: `false` when nothing was stored under it. The file
    /// is rewritten without it; a keyring entry is deleted first, and
    /// while the keyring cannot be reached the secret stays listed.
    pub(crate) async fn remove(&self, name: &str) -> Result<bool, SecretsError> {
        let mut entries = self.inner.entries.lock().await;
        let Some(entry) = entries.get(name) else {
            return Ok(false);
        };
        if entry.place == Place::Keyring {
            let keyring = self.keyring_for(name)?;
            let key = name.to_owned();
            keyring::call(keyring, move |k| k.delete(&key))
                .await
                .map_err(SecretsError::Keyring)?;
        }
        let mut next = entries.clone();
        next.remove(name);
        self.save(&next).await?;
        *entries = next;
        Ok(true)
    }

    /// `provider`'s stored key, if one is stored and can be read (a
    /// failure is logged: the session goes on as if none were stored).
    pub(crate) async fn key(&self, provider: ProviderKind) -> Option<Secret> {
        match self.get(&key_name(provider)).await {
            Ok(key) => key,
            Err(err) => {
                tracing::warn!(%provider, %err, "cannot read the stored key");
                None
            }
        }
    }

    /// `server` with its env or header values put back, for the one place
    /// that uses them (a worker); a failure is logged and leaves them empty.
    pub(crate) async fn with_mcp_secrets(&self, mut server: McpServerConfig) -> McpServerConfig {
        match self.get(&mcp_name(&server.name)).await {
            Ok(None) => {}
            Ok(Some(stored)) => {
                if !fill_mcp_secrets(&mut server, &stored) {
                    tracing::warn!(server = %server.name, "the MCP server's stored secrets are unreadable");
                }
            }
            Err(err) => {
                tracing::warn!(server = %server.name, %err, "cannot read the MCP server's secrets")
            }
        }
        server
    }

    /// Keeps `values` (from [`take_mcp_secrets`]) as MCP server `server`'s
    /// secrets; `None` forgets any kept before.
    pub(crate) async fn keep_mcp_secrets(
        &self,
        server: &str,
        values: Option<Secret>,
    ) -> Result<(), SecretsError> {
        let name = mcp_name(server);
        match values {
            Some(values) => self.set(&name, values).await.map(drop),
            None => self.remove(&name).await.map(drop),
        }
    }

    /// Every stored secret by name and where it lives; never a value.
    pub(crate) async fn list(&self) -> SecretsInfo {
        let entries = self.inner.entries.lock().await;
        SecretsInfo {
            store: self.active(),
            keyring_unavailable: self.inner.keyring_unavailable.clone(),
            secrets: entries
                .iter()
                .map(|(name, e)| SecretInfo {
                    name: name.clone(),
                    location: e.place.location(),
                    stored_at: e.stored_at,
                })
                .collect(),
        }
    }

    fn keyring_for(&self, name: &str) -> Result<&Arc<dyn Keyring>, SecretsError> {
        self.inner.keyring.as_ref().ok_or_else(|| {
            SecretsError::Keyring(format!(
                "{name} is in the OS keyring, which is not available now ({})",
                self.inner
                    .keyring_unavailable
                    .as_deref()
                    .unwrap_or("unknown")
            ))
        })
    }

    async fn delete_from_keyring(&self, name: &str) {
        if let Some(keyring) = &self.inner.keyring {
            let key = name.to_owned();
            if let Err(err) = keyring::call(keyring, move |k| k.delete(&key)).await {
                tracing::warn!(name, %err, "cannot delete the OS keyring's old copy of a secret");
            }
        }
    }

    /// Rewrites the file with `entries` (on the blocking pool: it fsyncs).
    async fn save(&self, entries: &Entries) -> Result<(), SecretsError> {
        let inner = Arc::clone(&self.inner);
        let entries = entries.clone();
        tokio::task::spawn_blocking(move || inner.file.save(&entries))
            .await
            .map_err(|err| SecretsError::Io {
                context: format!("cannot write {}", self.inner.file.path().display()),
                source: std::io::Error::other(err.to_string()),
            })?
    }
}

/// Longest the daemon's start waits for the OS keyring (connecting and the
/// probe): well within the time a client gives a daemon it started.
const PROBE_BUDGET: std::time::Duration = std::time::Duration::from_secs(8);

/// The OS keyring of `dir`'s instance, once it passed the probe.
async fn connect_and_probe(dir: &DataDir) -> Result<Arc<dyn Keyring>, String> {
    let root = std::fs::canonicalize(dir.root()).unwrap_or_else(|_| dir.root().to_owned());
    let attempt = async move {
        // Connecting talks to the session bus: off the runtime.
        let keyring = tokio::task::spawn_blocking(move || keyring::connect(&root))
            .await
            .map_err(|err| format!("connecting to the OS keyring failed: {err}"))??;
        keyring::probe(&keyring)
            .await
            .map_err(|why| format!("its probe failed: {why}"))?;
        Ok(keyring)
    };
    tokio::time::timeout(PROBE_BUDGET, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "it did not answer within {} s (is it locked?)",
                PROBE_BUDGET.as_secs()
            ))
        })
}
