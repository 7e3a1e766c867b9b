//! The OS keyring: the Secret Service on the user's session bus (GNOME
//! Keyring, KWallet, KeePassXC), through `keyring-core` and its
//! libdbus-based store. Only with the `os-keyring` cargo feature (on by
//! default; building it needs libdbus-1-dev and pkg-config); without it,
//! [`connect`] says so and secrets go to the file.
//!
//! Entries are named by service `ai-studio DATA_DIR` (one per instance)
//! and user `key/openai`, `mcp/github`, ... Whether the keyring really
//! stores is not assumed: [`probe`] writes, reads back and deletes an
//! entry at daemon start. Every call runs off the async runtime with a
//! timeout, since a locked keyring may wait for a person to unlock it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A credential store holding string values by name. Calls block.
pub(crate) trait Keyring: Send + Sync {
    /// Stores `value` under `name`, replacing what was there.
    fn set(&self, name: &str, value: &str) -> Result<(), String>;
    /// The value under `name`, if there is one.
    fn get(&self, name: &str) -> Result<Option<String>, String>;
    /// Deletes the value under `name`; none there is fine.
    fn delete(&self, name: &str) -> Result<(), String>;
}

/// Longest one keyring call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `f` on the blocking pool, giving up after [`CALL_TIMEOUT`] (the
/// call itself is left to finish in the background).
pub(crate) async fn call<T, F>(keyring: &Arc<dyn Keyring>, f: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce(&dyn Keyring) -> Result<T, String> + Send + 'static,
{
    let keyring = Arc::clone(keyring);
    let task = tokio::task::spawn_blocking(move || f(keyring.as_ref()));
    match tokio::time::timeout(CALL_TIMEOUT, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(err)) => Err(format!("the keyring call failed: {err}")),
        Err(_) => Err(format!(
            "the OS keyring did not answer within {} s (is it locked?)",
            CALL_TIMEOUT.as_secs()
        )),
    }
}

/// Checks that `keyring` stores, reads back and deletes a value.
pub(crate) async fn probe(keyring: &Arc<dyn Keyring>) -> Result<(), String> {
    let value = crate::auth::new_token().map_err(|err| err.to_string())?;
    call(keyring, move |keyring| {
        let name = "probe";
        keyring.set(name, &value)?;
        let read = keyring.get(name);
        let deleted = keyring.delete(name);
        match read? {
            Some(back) if back == value => {}
            Some(_) => return Err("the probe entry read back different".to_owned()),
            None => return Err("the probe entry was not stored".to_owned()),
        }
        deleted?;
        match keyring.get(name)? {
            None => Ok(()),
            Some(_) => Err("the probe entry was not deleted".to_owned()),
        }
    })
    .await
}

/// The OS keyring for the instance whose data dir is `data_dir`, or why
/// there is none.
#[cfg(feature = "os-keyring")]
pub(crate) fn connect(data_dir: &Path) -> Result<Arc<dyn Keyring>, String> {
    let store = dbus_secret_service_keyring_store::Store::new()
        .map_err(|err| format!("no Secret Service on the session bus: {err}"))?;
    Ok(Arc::new(CoreKeyring::new(store, data_dir)))
}

/// Without the `os-keyring` feature there is none.
#[cfg(not(feature = "os-keyring"))]
pub(crate) fn connect(_data_dir: &Path) -> Result<Arc<dyn Keyring>, String> {
    Err("not built in (build studio with `--features os-keyring`)".to_owned())
}

/// A `keyring-core` credential store as a [`Keyring`].
#[cfg(feature = "os-keyring")]
pub(crate) struct CoreKeyring {
    store: Arc<keyring_core::api::CredentialStore>,
    service: String,
}

#[cfg(feature = "os-keyring")]
impl CoreKeyring {
    /// Entries of `store` for the instance at `data_dir`.
    pub(crate) fn new(store: Arc<keyring_core::api::CredentialStore>, data_dir: &Path) -> Self {
        Self {
            store,
            service: format!("ai-studio {}", data_dir.display()),
        }
    }

    fn entry(&self, name: &str) -> Result<keyring_core::Entry, String> {
        keyring_core::Entry::new_in_store(&self.store, &self.service, name).map_err(describe)
    }
}

#[cfg(feature = "os-keyring")]
impl Keyring for CoreKeyring {
    fn set(&self, name: &str, value: &str) -> Result<(), String> {
        self.entry(name)?.set_password(value).map_err(describe)
    }

    fn get(&self, name: &str) -> Result<Option<String>, String> {
        match self.entry(name)?.get_password() {
            Ok(value) => Ok(Some(value)),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(err) => Err(describe(err)),
        }
    }

    fn delete(&self, name: &str) -> Result<(), String> {
        match self.entry(name)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(err) => Err(describe(err)),
        }
    }
}

/// A keyring error in words (never holding a value: the malformed-data
/// variants carry bytes, which their `Display` leaves out).
#[cfg(feature = "os-keyring")]
fn describe(err: keyring_core::Error) -> String {
    match err {
        keyring_core::Error::BadEncoding(_) => "the stored value is not UTF-8".to_owned(),
        keyring_core::Error::BadDataFormat(..) => "the stored value is malformed".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(all(test, feature = "os-keyring"))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_core_store_passes_the_probe_and_keeps_instances_apart() {
        let store = keyring_core::mock::Store::new().unwrap();
        let one: Arc<dyn Keyring> = Arc::new(CoreKeyring::new(store.clone(), Path::new("/a")));
        let two: Arc<dyn Keyring> = Arc::new(CoreKeyring::new(store, Path::new("/b")));
        probe(&one).await.unwrap();
        one.set("key/openai", "sk-one").unwrap();
        assert_eq!(one.get("key/openai").unwrap().as_deref(), Some("sk-one"));
        assert_eq!(two.get("key/openai").unwrap(), None);
        one.delete("key/openai").unwrap();
        one.delete("key/openai").unwrap();
        assert_eq!(one.get("key/openai").unwrap(), None);
    }
}
