//! The secret store on a real file, with an in-memory keyring standing in
//! for the OS one (a real one, GNOME Keyring, in `tests/it/os_keyring.rs`).

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Mutex;

use protocol::mcp::McpTransport;

use super::*;

/// A keyring in memory that can be told to refuse writes.
#[derive(Default)]
struct FakeKeyring {
    values: Mutex<HashMap<String, String>>,
    refuse: std::sync::atomic::AtomicBool,
}

impl Keyring for FakeKeyring {
    fn set(&self, name: &str, value: &str) -> Result<(), String> {
        if self.refuse.load(std::sync::atomic::Ordering::SeqCst) {
            return Err("locked".into());
        }
        self.values
            .lock()
            .unwrap()
            .insert(name.into(), value.into());
        Ok(())
    }

    fn get(&self, name: &str) -> Result<Option<String>, String> {
        Ok(self.values.lock().unwrap().get(name).cloned())
    }

    fn delete(&self, name: &str) -> Result<(), String> {
        self.values.lock().unwrap().remove(name);
        Ok(())
    }
}

fn store(dir: &Path, keyring: Option<Arc<FakeKeyring>>) -> SecretStore {
    let file = SecretsFile::new(dir.join("secrets.json"));
    let entries = file.load().unwrap();
    let unavailable = keyring.is_none().then(|| "none here".to_owned());
    SecretStore::with_keyring(
        file,
        entries,
        keyring.map(|k| k as Arc<dyn Keyring>),
        unavailable,
    )
}

fn file_text(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("secrets.json")).unwrap()
}

#[tokio::test]
async fn without_a_keyring_secrets_live_in_a_private_file_until_removed() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = store(dir.path(), None);
    assert_eq!(secrets.active(), SecretLocation::File);
    let name = key_name(ProviderKind::OpenAi);
    let at = secrets
        .set(&name, Secret::new("sk-file-0123456789"))
        .await
        .unwrap();
    assert_eq!(at, SecretLocation::File);
    assert!(file_text(dir.path()).contains("sk-file-0123456789"));
    let mode = std::fs::metadata(dir.path().join("secrets.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        secrets.key(ProviderKind::OpenAi).await.unwrap().expose(),
        "sk-file-0123456789"
    );
    // A new store on the same file finds it.
    let again = store(dir.path(), None);
    let listed = again.list().await;
    assert_eq!(listed.store, SecretLocation::File);
    assert_eq!(listed.keyring_unavailable.as_deref(), Some("none here"));
    assert_eq!(listed.secrets.len(), 1);
    assert_eq!(listed.secrets[0].name, "key/openai");
    assert_eq!(listed.secrets[0].location, SecretLocation::File);
    assert!(!format!("{listed:?}").contains("sk-file"));

    assert!(again.remove(&name).await.unwrap());
    assert!(!again.remove(&name).await.unwrap(), "already gone");
    assert!(!file_text(dir.path()).contains("sk-file"));
    assert_eq!(again.get(&name).await.unwrap(), None);
}

#[tokio::test]
async fn with_a_keyring_the_file_holds_only_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = Arc::new(FakeKeyring::default());
    let secrets = store(dir.path(), Some(Arc::clone(&keyring)));
    assert_eq!(secrets.active(), SecretLocation::Keyring);
    let name = key_name(ProviderKind::Anthropic);
    let at = secrets
        .set(&name, Secret::new("sk-ant-keyring-0123"))
        .await
        .unwrap();
    assert_eq!(at, SecretLocation::Keyring);
    let text = file_text(dir.path());
    assert!(
        text.contains("key/anthropic") && text.contains("keyring"),
        "{text}"
    );
    assert!(!text.contains("sk-ant"), "{text}");
    assert_eq!(
        keyring.get(&name).unwrap().as_deref(),
        Some("sk-ant-keyring-0123")
    );
    assert_eq!(
        secrets.get(&name).await.unwrap().unwrap().expose(),
        "sk-ant-keyring-0123"
    );
    assert_eq!(
        secrets.stored(&name).await.map(|(_, at)| at),
        Some(SecretLocation::Keyring)
    );
    assert!(secrets.remove(&name).await.unwrap());
    assert_eq!(
        keyring.get(&name).unwrap(),
        None,
        "deleted from the keyring"
    );
    assert!(secrets.list().await.secrets.is_empty());
}

#[tokio::test]
async fn a_keyring_that_refuses_sends_the_secret_to_the_file_and_keeps_no_copy() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = Arc::new(FakeKeyring::default());
    let secrets = store(dir.path(), Some(Arc::clone(&keyring)));
    let name = key_name(ProviderKind::Gemini);
    secrets
        .set(&name, Secret::new("old-in-keyring"))
        .await
        .unwrap();
    keyring
        .refuse
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let at = secrets
        .set(&name, Secret::new("new-in-file"))
        .await
        .unwrap();
    assert_eq!(at, SecretLocation::File);
    assert_eq!(keyring.get(&name).unwrap(), None, "the old copy is gone");
    assert_eq!(
        secrets.get(&name).await.unwrap().unwrap().expose(),
        "new-in-file"
    );
}

#[tokio::test]
async fn a_secret_in_a_keyring_that_went_away_is_neither_read_nor_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = Arc::new(FakeKeyring::default());
    let name = key_name(ProviderKind::OpenAi);
    store(dir.path(), Some(keyring))
        .set(&name, Secret::new("sk-elsewhere"))
        .await
        .unwrap();
    // The next start finds no keyring (a headless login, say).
    let secrets = store(dir.path(), None);
    let err = secrets.get(&name).await.unwrap_err().to_string();
    assert!(err.contains("not available now"), "{err}");
    assert_eq!(secrets.key(ProviderKind::OpenAi).await, None);
    assert!(secrets.remove(&name).await.is_err());
    assert_eq!(secrets.list().await.secrets.len(), 1, "still listed");
}

#[tokio::test]
async fn mcp_secrets_are_kept_apart_and_put_back_for_a_worker() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = store(dir.path(), None);
    let mut server = McpServerConfig {
        name: "github".into(),
        transport: McpTransport::Stdio {
            command: "npx".into(),
            args: Vec::new(),
            env: vec![("GITHUB_TOKEN".into(), Secret::new("ghp_secret_kept"))],
        },
        startup_timeout_secs: 60,
        call_timeout_secs: 120,
    };
    let original = server.clone();
    let values = take_mcp_secrets(&mut server);
    secrets.keep_mcp_secrets("github", values).await.unwrap();
    assert_eq!(secrets.list().await.secrets[0].name, "mcp/github");
    assert_eq!(secrets.with_mcp_secrets(server.clone()).await, original);
    secrets.keep_mcp_secrets("github", None).await.unwrap();
    assert!(!file_text(dir.path()).contains("ghp_secret_kept"));
    assert_eq!(secrets.with_mcp_secrets(server.clone()).await, server);
    // Forgetting what was never kept is fine.
    secrets.keep_mcp_secrets("other", None).await.unwrap();
}

#[tokio::test]
async fn the_probe_refuses_a_keyring_that_does_not_store() {
    let refusing = Arc::new(FakeKeyring::default());
    refusing
        .refuse
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let refusing: Arc<dyn Keyring> = refusing;
    assert_eq!(
        keyring::probe(&refusing).await.unwrap_err(),
        "locked".to_owned()
    );
    let working: Arc<dyn Keyring> = Arc::new(FakeKeyring::default());
    keyring::probe(&working).await.unwrap();
}

#[tokio::test]
async fn without_the_feature_or_with_file_chosen_the_file_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path().join("d"));
    data.create().unwrap();
    let secrets = SecretStore::open(&data, StoreChoice::File).await.unwrap();
    assert_eq!(secrets.active(), SecretLocation::File);
    let why = secrets.list().await.keyring_unavailable.unwrap();
    assert!(why.contains("--secret-store file"), "{why}");
    if !cfg!(feature = "os-keyring") {
        let err = SecretStore::open(&data, StoreChoice::Keyring)
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("not built in"), "{err}");
        let auto = SecretStore::open(&data, StoreChoice::Auto).await.unwrap();
        assert_eq!(auto.active(), SecretLocation::File);
    }
}
