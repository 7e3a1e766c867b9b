//! Secrets at rest, with the real daemon, CLI and redb file: a provider
//! key and an MCP server's token live only in the private secrets file
//! (the OS keyring is not used: `STUDIO_SECRET_STORE=file`), never in the
//! database; once removed, no file of the data dir holds them; secrets an
//! older release kept in the database (and a key it removed, which a
//! freed page still held) are gone from it after the next start; and an
//! agent's sandboxed commands cannot read the secrets file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use protocol::agent::{AgentConfig, ProviderKind, SafetyMode, ScriptPatch, ScriptedToolCall};
use protocol::control::{ControlRequest, ControlResponse, RunSpec};
use protocol::event::EventKind;
use protocol::mcp::{McpServerConfig, McpTransport};
use protocol::{Secret, Timestamp};
use serde_json::Value;
use supervisor::paths::DataDir;

use crate::support::*;
use test_support::fake_provider::{FakeProvider, Reply};

/// The environment every daemon here runs with.
const FILE_STORE: (&str, &str) = ("STUDIO_SECRET_STORE", "file");

/// A value no other test uses.
pub(crate) fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos:x}", std::process::id())
}

pub(crate) fn holds(path: &Path, needle: &str) -> bool {
    let bytes = std::fs::read(path).unwrap();
    bytes
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// Every regular file under `dir` whose bytes hold `needle`.
pub(crate) fn files_holding(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() && holds(&entry.path(), needle) {
                found.push(entry.path());
            }
        }
    }
    found
}

/// `studio ARGS` on the data dir `dir`, with `stdin` piped in.
pub(crate) fn studio(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(studio_bin())
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("STUDIO_WORKER_BIN", worker_bin())
        .env(FILE_STORE.0, FILE_STORE.1)
        .env_remove("STUDIO_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Runs `studio ARGS` that must succeed; its stdout.
pub(crate) fn studio_ok(dir: &Path, args: &[&str], stdin: &str) -> String {
    let out = studio(dir, args, stdin);
    assert!(
        out.status.success(),
        "studio {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub(crate) fn json(dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&studio_ok(dir, &all, "")).unwrap()
}

/// The row of `provider` in `keys list --json`.
pub(crate) fn key_row(dir: &Path, provider: &str) -> Value {
    json(dir, &["keys", "list"])
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["provider"] == provider)
        .unwrap()
        .clone()
}

pub(crate) fn text_reply() -> String {
    [
        r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}"#,
        r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        "[DONE]",
    ]
    .iter()
    .map(|e| format!("data: {e}\n\n"))
    .collect()
}

/// An HTTP MCP server entry whose `Authorization` header holds `token`.
pub(crate) fn http_server(name: &str, token: &str) -> McpServerConfig {
    McpServerConfig {
        name: name.into(),
        transport: McpTransport::Http {
            url: "http://127.0.0.1:9/mcp".into(),
            headers: vec![(
                "Authorization".into(),
                Secret::new(format!("Bearer {token}")),
            )],
        },
        startup_timeout_secs: 5,
        call_timeout_secs: 5,
    }
}

/// What an OpenAI agent's run sends a fake provider as `Authorization`
/// (the run must complete).
pub(crate) async fn openai_key_sent(client: &studio_client::Client) -> String {
    let fake = FakeProvider::start(vec![Reply::sse(text_reply())]).await;
    let base = fake.base.clone();
    create_agent(
        client,
        AgentConfig {
            provider: ProviderKind::OpenAi,
            model: "m".into(),
            base_url: Some(format!("{base}/v1")),
            send_key_to_base_url: true,
            ..AgentConfig::scripted("gpt")
        },
    )
    .await;
    let session = run(client, spec("gpt", "hi")).await;
    let log = follow_to_end(client, session, Duration::from_secs(30)).await;
    assert_eq!(log.last().unwrap().kind, EventKind::SessionCompleted);
    fake.seen()[0].headers["authorization"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// What `command` printed when agent `agent` ran it with its `shell` tool
/// (approved for the run).
pub(crate) async fn shell_output(
    client: &studio_client::Client,
    agent: &str,
    command: &str,
) -> String {
    let spec = RunSpec {
        script: ScriptPatch {
            tool_calls: Some(vec![ScriptedToolCall {
                name: "shell".into(),
                arguments: serde_json::json!({ "command": command }).to_string(),
            }]),
            chunk_delay_ms: Some(0),
            ..ScriptPatch::default()
        },
        approve: vec!["shell".parse().unwrap()],
        ..spec(agent, "run a command")
    };
    let session = run(client, spec).await;
    let events = follow_to_end(client, session, Duration::from_secs(120)).await;
    events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::ToolCompleted { output, .. } => Some(output.clone()),
            _ => None,
        })
        .expect("the command ran")
}

/// Asks the daemon to stop and waits until it has.
pub(crate) async fn stop(daemon: &mut TestDaemon) {
    let client = daemon.client().await;
    client.request(ControlRequest::Shutdown).await.unwrap();
    daemon.child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_used_from_the_private_file_only_and_rm_leaves_no_copy_anywhere() {
    let mut daemon =
        TestDaemon::start_with_env(4, vec![(FILE_STORE.0.to_owned(), FILE_STORE.1.to_owned())])
            .await;
    let dir = daemon.dir.root().to_path_buf();
    let key = unique("sk-at-rest");
    studio_ok(&dir, &["keys", "set", "openai"], &format!("{key}\n"));

    // It is the key the provider gets.
    let client = daemon.client().await;
    assert_eq!(openai_key_sent(&client).await, format!("Bearer {key}"));

    // It is in the secrets file (0600), not in the database.
    let database = daemon.dir.database();
    let secrets = daemon.dir.secrets();
    assert!(!holds(&database, &key), "the key is in the database");
    assert!(holds(&secrets, &key));
    assert_eq!(mode(&secrets), 0o600);
    let row = key_row(&dir, "openai");
    assert_eq!(row["source"], "stored");
    assert_eq!(row["location"], "file");
    let table = studio_ok(&dir, &["keys", "list"], "");
    assert!(table.contains("WHERE") && table.contains("file"), "{table}");
    assert!(!table.contains(&key), "{table}");

    // So is an MCP server's token; the record in the database has none,
    // and a listing never carries it.
    let token = unique("ghp_secret");
    client
        .request(ControlRequest::McpAdd {
            server: http_server("remote", &token),
            replace: false,
        })
        .await
        .unwrap();
    assert!(!holds(&database, &token), "the token is in the database");
    assert!(holds(&secrets, &token));
    let ControlResponse::McpServers(servers) =
        client.request(ControlRequest::McpList).await.unwrap()
    else {
        panic!("expected servers");
    };
    let McpTransport::Http { headers, .. } = &servers[0].transport else {
        panic!("expected the HTTP server");
    };
    assert_eq!(headers, &[("Authorization".to_owned(), Secret::new(""))]);
    let listed = json(&dir, &["mcp", "list"]);
    assert_eq!(listed[0]["secrets_location"], "file", "{listed}");
    assert_eq!(listed[0]["headers"][0], "Authorization");
    let ControlResponse::Secrets(all) = client.request(ControlRequest::SecretList).await.unwrap()
    else {
        panic!("expected secrets");
    };
    let names: Vec<&str> = all.secrets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["key/openai", "mcp/remote"]);
    assert!(!format!("{all:?}").contains(&key));

    // Removed: no file of the data dir (nor the daemon's log beside it)
    // holds either, while the daemon runs and after it stopped.
    studio_ok(&dir, &["keys", "rm", "openai"], "");
    studio_ok(&dir, &["mcp", "rm", "remote"], "");
    assert_eq!(key_row(&dir, "openai")["location"], Value::Null);
    for needle in [&key, &token] {
        assert_eq!(
            files_holding(daemon.tmp.path(), needle),
            Vec::<PathBuf>::new()
        );
    }
    drop(client);
    stop(&mut daemon).await;
    for needle in [&key, &token] {
        assert_eq!(
            files_holding(daemon.tmp.path(), needle),
            Vec::<PathBuf>::new()
        );
    }
}

/// The bytes an older release stored for `record`: its version (1), then
/// the bincode payload (`store::records`).
fn record_v1(record: &impl serde::Serialize) -> Vec<u8> {
    let mut bytes = vec![1u8];
    bytes.extend(protocol::codec::encode_payload(record).unwrap());
    bytes
}

/// A database as schema 4 left it: `kept` stored for openai, `removed`
/// stored for anthropic and then removed (`studio keys rm`: a freed page
/// still holds it), a stdio MCP server whose env holds `token`, events.
fn schema_4_database(path: &Path, kept: Option<&str>, removed: &str, token: Option<&str>) {
    use redb::{Database, TableDefinition};
    let meta: TableDefinition<&str, u64> = TableDefinition::new("meta");
    let secrets: TableDefinition<&str, &[u8]> = TableDefinition::new("secrets");
    let servers: TableDefinition<&str, &[u8]> = TableDefinition::new("mcp_servers");
    let db = Database::create(path).unwrap();
    let key = |value: &str| record_v1(&(Secret::new(value), Timestamp(77)));
    let txn = db.begin_write().unwrap();
    {
        txn.open_table(meta)
            .unwrap()
            .insert("schema_version", 4)
            .unwrap();
        let mut table = txn.open_table(secrets).unwrap();
        if let Some(kept) = kept {
            table.insert("openai", key(kept).as_slice()).unwrap();
        }
        if let Some(token) = token {
            let github = McpServerConfig {
                name: "github".into(),
                transport: McpTransport::Stdio {
                    command: "npx".into(),
                    args: vec!["-y".into(), "github-mcp".into()],
                    env: vec![("GITHUB_TOKEN".into(), Secret::new(token))],
                },
                startup_timeout_secs: 60,
                call_timeout_secs: 120,
            };
            txn.open_table(servers)
                .unwrap()
                .insert("github", record_v1(&github).as_slice())
                .unwrap();
        }
    }
    txn.commit().unwrap();
    // Events (under session ids that have no record: never read): session
    // 0's first, in the file's first pages; then sessions recorded each
    // with `removed` set again for anthropic, which frees the page that
    // held it before, bytes and all.
    let events: TableDefinition<(u128, u64), &[u8]> = TableDefinition::new("events");
    for session in 0..=8u128 {
        let txn = db.begin_write().unwrap();
        {
            let mut table = txn.open_table(events).unwrap();
            for seq in 1..=2000 {
                table.insert((session, seq), [5u8; 200].as_slice()).unwrap();
            }
            if session > 0 {
                txn.open_table(secrets)
                    .unwrap()
                    .insert("anthropic", key(removed).as_slice())
                    .unwrap();
            }
        }
        txn.commit().unwrap();
    }
    drop(db);
    // Later, `studio keys rm anthropic`, with session 0's events going too:
    // their pages, below the key's, are the ones the next writes reuse, so
    // no write overwrites the key's old pages by chance.
    let db = Database::create(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        txn.open_table(secrets)
            .unwrap()
            .remove("anthropic")
            .unwrap();
        let mut table = txn.open_table(events).unwrap();
        for seq in 1..=2000 {
            table.remove((0, seq)).unwrap();
        }
    }
    txn.commit().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_an_older_release_kept_in_the_database_leave_it_at_start() {
    let tmp = tempfile::Builder::new()
        .prefix("sm")
        .tempdir_in("/tmp")
        .unwrap();
    let data = DataDir::new(tmp.path().join("d"));
    data.create().unwrap();
    let (kept, removed, token) = (
        unique("sk-kept-in-db"),
        unique("sk-ant-removed-before"),
        unique("ghp_secret_in_db"),
    );
    schema_4_database(&data.database(), Some(&kept), &removed, Some(&token));
    for needle in [&kept, &removed, &token] {
        assert!(
            holds(&data.database(), needle),
            "the old file holds {needle}"
        );
    }

    // The first command starts the daemon, which moves them out.
    let dir = data.root();
    let openai = key_row(dir, "openai");
    assert_eq!(openai["source"], "stored");
    assert_eq!(openai["location"], "file");
    assert_eq!(openai["stored_at"], Timestamp(77).to_string());
    assert_eq!(key_row(dir, "anthropic")["location"], Value::Null);
    let servers = json(dir, &["mcp", "list"]);
    assert_eq!(servers[0]["name"], "github");
    assert_eq!(servers[0]["env"][0], "GITHUB_TOKEN");
    assert_eq!(servers[0]["secrets_location"], "file");
    for needle in [&kept, &removed, &token] {
        assert!(
            !holds(&data.database(), needle),
            "the database still holds {needle}"
        );
    }
    assert!(holds(&data.secrets(), &kept));
    assert!(holds(&data.secrets(), &token));
    assert!(!holds(&data.secrets(), &removed));

    studio_ok(dir, &["keys", "rm", "openai"], "");
    studio_ok(dir, &["mcp", "rm", "github"], "");
    studio_ok(dir, &["daemon", "stop"], "");
    for needle in [&kept, &removed, &token] {
        assert_eq!(files_holding(tmp.path(), needle), Vec::<PathBuf>::new());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_removed_before_the_upgrade_is_gone_from_the_database_after_it() {
    // Nothing left to move: only the freed page of a removed key, which no
    // table names, so the file is rewritten once because of its schema.
    let tmp = tempfile::Builder::new()
        .prefix("sr")
        .tempdir_in("/tmp")
        .unwrap();
    let data = DataDir::new(tmp.path().join("d"));
    data.create().unwrap();
    let removed = unique("sk-ant-removed-long-ago");
    schema_4_database(&data.database(), None, &removed, None);
    assert!(holds(&data.database(), &removed), "a freed page holds it");
    assert_eq!(key_row(data.root(), "anthropic")["source"], "missing");
    studio_ok(data.root(), &["daemon", "stop"], "");
    assert_eq!(files_holding(tmp.path(), &removed), Vec::<PathBuf>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_os_keyring_is_never_assumed() {
    // No session bus to reach: a daemon that must use the keyring does
    // not start, and says why (or that it is not built in).
    let tmp = tempfile::Builder::new()
        .prefix("sk")
        .tempdir_in("/tmp")
        .unwrap();
    let out = Command::new(studio_bin())
        .arg("--data-dir")
        .arg(tmp.path().join("d"))
        .args(["daemon", "run", "--secret-store", "keyring"])
        .env("STUDIO_WORKER_BIN", worker_bin())
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("DISPLAY")
        .env_remove("STUDIO_SECRET_STORE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the OS keyring cannot be used"), "{err}");
    if !cfg!(feature = "os-keyring") {
        assert!(err.contains("not built in"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confined_agent_s_commands_cannot_read_the_secrets_file() {
    let daemon =
        TestDaemon::start_with_env(4, vec![(FILE_STORE.0.to_owned(), FILE_STORE.1.to_owned())])
            .await;
    let client = daemon.client().await;
    let key = unique("sk-not-for-agents");
    client
        .request(ControlRequest::KeySet {
            provider: ProviderKind::Anthropic,
            key: Secret::new(key.clone()),
        })
        .await
        .unwrap();
    let workspace = tempfile::tempdir().unwrap();
    let mut reader = agent("reader", 1, 0);
    reader.tools = vec!["shell".into()];
    reader.safety = SafetyMode::WorkspaceWrite;
    reader.workspace = Some(workspace.path().display().to_string());
    create_agent(&client, reader).await;
    let secrets = daemon.dir.secrets();
    assert!(
        holds(&secrets, &key),
        "the key is in the file the agent tries"
    );
    let command = format!(
        "cat {}; ls {}; echo done",
        secrets.display(),
        daemon.dir.root().display()
    );
    let output = shell_output(&client, "reader", &command).await;
    assert!(output.contains("No such file"), "{output}");
    assert!(output.contains("done"), "{output}");
    assert!(!output.contains(&key), "the agent read the key: {output}");
}
