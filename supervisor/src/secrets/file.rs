//! `DATA_DIR/secrets.json`: every stored secret's entry (where it lives,
//! when it was stored) and the values of those the OS keyring does not
//! hold. Mode 0600 in the 0700 data dir, which no agent's sandbox shows;
//! rewritten whole on every change ([`crate::atomic_file`]), so a removed
//! secret leaves no copy in it.
//!
//! ```json
//! {"version":1,"secrets":{
//!   "key/openai":{"stored_at":1764770000000000,"location":"file","value":"sk-..."},
//!   "mcp/github":{"stored_at":1764770000000000,"location":"keyring"}}}
//! ```

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use protocol::control::SecretLocation;
use protocol::{Secret, Timestamp};
use serde::{Deserialize, Serialize};

use super::SecretsError;
use crate::atomic_file;

/// Version of the file's layout this release writes.
const VERSION: u32 = 1;

/// One stored secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// When it was stored.
    pub(crate) stored_at: Timestamp,
    /// Where its value is.
    #[serde(flatten)]
    pub(crate) place: Place,
}

/// Where an entry's value is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "location", rename_all = "snake_case")]
pub(crate) enum Place {
    /// In the OS keyring, under the entry's name.
    Keyring,
    /// Here.
    File {
        /// The value.
        value: Secret,
    },
}

impl Place {
    /// Where, without the value.
    pub(crate) fn location(&self) -> SecretLocation {
        match self {
            Place::Keyring => SecretLocation::Keyring,
            Place::File { .. } => SecretLocation::File,
        }
    }
}

/// Every entry, by name.
pub(crate) type Entries = BTreeMap<String, Entry>;

#[derive(Serialize, Deserialize)]
struct Contents {
    version: u32,
    secrets: Entries,
}

/// The secrets file of one data dir.
#[derive(Debug)]
pub(crate) struct SecretsFile {
    path: PathBuf,
}

impl SecretsFile {
    /// The file at `path` (not read yet).
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// Where it is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Its entries (none when there is no file yet). Wipes a temp file a
    /// crash left mid-write. Refuses a file other users could read, and
    /// one that does not parse: it is never silently replaced.
    pub(crate) fn load(&self) -> Result<Entries, SecretsError> {
        let io_error = |context: &str| {
            let context = format!("{context} {}", self.path.display());
            move |source| SecretsError::Io { context, source }
        };
        atomic_file::remove_if_exists(&atomic_file::temp_path(&self.path))
            .map_err(io_error("cannot remove the leftover temp file of"))?;
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Entries::new()),
            Err(err) => return Err(io_error("cannot read")(err)),
        };
        let mode = std::fs::metadata(&self.path)
            .map_err(io_error("cannot read"))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(SecretsError::Exposed {
                path: self.path.clone(),
                mode,
            });
        }
        let contents: Contents =
            serde_json::from_str(&text).map_err(|err| SecretsError::Corrupt {
                path: self.path.clone(),
                // Only where: serde_json's message may quote a value.
                detail: format!(
                    "unreadable at line {} column {} ({:?} error)",
                    err.line(),
                    err.column(),
                    err.classify()
                ),
            })?;
        if contents.version > VERSION {
            return Err(SecretsError::Corrupt {
                path: self.path.clone(),
                detail: format!(
                    "version {} is newer than this release understands ({VERSION}); upgrade studio",
                    contents.version
                ),
            });
        }
        Ok(contents.secrets)
    }

    /// Replaces the file with `entries` (blocking: fsyncs).
    pub(crate) fn save(&self, entries: &Entries) -> Result<(), SecretsError> {
        let contents = Contents {
            version: VERSION,
            secrets: entries.clone(),
        };
        let bytes = serde_json::to_vec(&contents).map_err(|err| SecretsError::Io {
            context: format!("cannot encode {}", self.path.display()),
            source: io::Error::other(err),
        })?;
        atomic_file::write_private(&self.path, &bytes).map_err(|source| SecretsError::Io {
            context: format!("cannot write {}", self.path.display()),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(place: Place) -> Entry {
        Entry {
            stored_at: Timestamp(7),
            place,
        }
    }

    #[test]
    fn entries_round_trip_and_only_file_entries_hold_a_value() {
        let dir = tempfile::tempdir().unwrap();
        let file = SecretsFile::new(dir.path().join("secrets.json"));
        assert!(file.load().unwrap().is_empty(), "no file: no entries");
        let mut entries = Entries::new();
        entries.insert(
            "key/openai".into(),
            entry(Place::File {
                value: Secret::new("sk-in-file"),
            }),
        );
        entries.insert("mcp/github".into(), entry(Place::Keyring));
        file.save(&entries).unwrap();
        assert_eq!(file.load().unwrap(), entries);
        let text = std::fs::read_to_string(file.path()).unwrap();
        assert!(text.contains(r#""location":"keyring""#), "{text}");
        assert_eq!(text.matches("value").count(), 1, "{text}");
        entries.remove("key/openai");
        file.save(&entries).unwrap();
        assert!(
            !std::fs::read_to_string(file.path())
                .unwrap()
                .contains("sk-in-file")
        );
    }

    #[test]
    fn an_exposed_or_unreadable_file_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let file = SecretsFile::new(dir.path().join("secrets.json"));
        file.save(&Entries::new()).unwrap();
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = file.load().unwrap_err().to_string();
        assert!(err.contains("mode 644"), "{err}");
        std::fs::write(file.path(), "{\"version\":1,\"secrets\":{\"k\":").unwrap();
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = file.load().unwrap_err().to_string();
        assert!(err.contains("cannot read the secrets file"), "{err}");
        std::fs::write(file.path(), r#"{"version":9,"secrets":{}}"#).unwrap();
        let err = file.load().unwrap_err().to_string();
        assert!(err.contains("newer"), "{err}");
    }
}
