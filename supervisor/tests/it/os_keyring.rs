//! Secrets in a real OS keyring: GNOME Keyring's Secret Service
//! (`gnome-keyring-daemon`, from Debian's packages) on a private session
//! bus (`dbus-daemon`) of its own, so no test touches the user's keyring.
//! With the keyring there, the daemon (on `auto`) keeps a provider key and
//! an MCP server's token in it and nowhere else; the key is the one the
//! provider gets; `keys rm` removes the keyring's entry; a confined
//! agent's commands cannot reach the bus; and with the keyring gone, a
//! restarted daemon says so and keeps new secrets in the private file.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use protocol::agent::SafetyMode;
use protocol::control::ControlRequest;
use serde_json::Value;

use crate::secrets_at_rest::{
    files_holding, holds, http_server, json, key_row, openai_key_sent, shell_output, stop,
    studio_ok, unique,
};
use crate::support::*;

/// A Secret Service of the test's own: a session bus and GNOME Keyring
/// on it, its login keyring unlocked. Both are killed when dropped.
struct SecretService {
    home: tempfile::TempDir,
    bus: Child,
    keyring: Option<Child>,
    address: String,
}

impl SecretService {
    fn start() -> SecretService {
        let home = tempfile::Builder::new()
            .prefix("kr")
            .tempdir_in("/tmp")
            .unwrap();
        let socket = home.path().join("bus");
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!("--address=unix:path={}", socket.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian package dbus-daemon; scripts/setup installs it)");
        let mut address = String::new();
        BufReader::new(bus.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        let address = address.trim().to_owned();
        assert!(address.starts_with("unix:path="), "bus address {address:?}");
        let mut service = SecretService {
            home,
            bus,
            keyring: None,
            address,
        };
        service.start_keyring();
        service
    }

    /// Starts GNOME Keyring on the bus, its login keyring created and
    /// unlocked with a password on stdin, and waits until it answers.
    fn start_keyring(&mut self) {
        let home = self.home.path();
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--components=secrets", "--unlock"])
            .env("HOME", home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("XDG_RUNTIME_DIR", home)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "gnome-keyring-daemon (Debian package gnome-keyring; scripts/setup installs it)",
            );
        let mut stdin = keyring.stdin.take().unwrap();
        stdin.write_all(b"test-password").unwrap();
        drop(stdin);
        self.keyring = Some(keyring);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.answers() {
            assert!(Instant::now() < deadline, "GNOME Keyring did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the Secret Service's name is owned on the bus.
    fn answers(&self) -> bool {
        let out = self.send(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            "string:org.freedesktop.secrets",
        );
        out.contains("boolean true")
    }

    /// Kills GNOME Keyring (the bus stays).
    fn stop_keyring(&mut self) {
        if let Some(mut keyring) = self.keyring.take() {
            keyring.kill().unwrap();
            keyring.wait().unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.answers() {
            assert!(Instant::now() < deadline, "GNOME Keyring did not go");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The keyring items of the daemon on data dir `data`, named `name`
    /// (as `dbus-send` prints their object paths).
    fn items(&self, data: &Path, name: &str) -> Vec<String> {
        let out = self.send(
            "org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.SearchItems",
            &format!(
                "dict:string:string:service,ai-studio {},username,{name}",
                data.display()
            ),
        );
        out.lines()
            .filter_map(|line| line.trim().strip_prefix("object path "))
            .map(|path| path.trim_matches('"').to_owned())
            .collect()
    }

    /// `dbus-send` of one method call on the bus; its printed reply.
    fn send(&self, dest: &str, path: &str, method: &str, arg: &str) -> String {
        let out = Command::new("dbus-send")
            .arg(format!("--bus={}", self.address))
            .args([
                "--print-reply",
                &format!("--dest={dest}"),
                path,
                method,
                arg,
            ])
            .output()
            .expect("dbus-send (Debian package dbus-bin)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The daemon environment that reaches this Secret Service.
    fn env(&self) -> Vec<(String, String)> {
        vec![("DBUS_SESSION_BUS_ADDRESS".to_owned(), self.address.clone())]
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        if let Some(keyring) = &mut self.keyring {
            let _ = keyring.kill();
            let _ = keyring.wait();
        }
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_live_in_the_os_keyring_only_and_rm_removes_them_from_it() {
    let mut service = SecretService::start();
    let mut daemon = TestDaemon::start_with_env(4, service.env()).await;
    let dir = daemon.dir.root().to_path_buf();
    let key = unique("sk-in-keyring");
    studio_ok(&dir, &["keys", "set", "openai"], &format!("{key}\n"));

    // It is in the keyring, listed as there, and in no file of the data dir.
    assert_eq!(service.items(&dir, "key/openai").len(), 1);
    let row = key_row(&dir, "openai");
    assert_eq!(row["location"], "keyring", "{row}");
    let table = studio_ok(&dir, &["keys", "list"], "");
    assert!(
        table.contains("keys are stored in the OS keyring"),
        "{table}"
    );
    assert!(!holds(&daemon.dir.secrets(), &key));
    assert_eq!(
        files_holding(daemon.tmp.path(), &key),
        Vec::<PathBuf>::new()
    );

    // It is the key the provider gets.
    let client = daemon.client().await;
    assert_eq!(openai_key_sent(&client).await, format!("Bearer {key}"));

    // An MCP server's token goes there too.
    let token = unique("ghp_in_keyring");
    client
        .request(ControlRequest::McpAdd {
            server: http_server("remote", &token),
            replace: false,
        })
        .await
        .unwrap();
    assert_eq!(service.items(&dir, "mcp/remote").len(), 1);
    assert_eq!(
        json(&dir, &["mcp", "list"])[0]["secrets_location"],
        "keyring"
    );

    // Removed: the keyring no longer holds either, nor does any file.
    studio_ok(&dir, &["keys", "rm", "openai"], "");
    studio_ok(&dir, &["mcp", "rm", "remote"], "");
    assert_eq!(service.items(&dir, "key/openai"), Vec::<String>::new());
    assert_eq!(service.items(&dir, "mcp/remote"), Vec::<String>::new());
    assert_eq!(key_row(&dir, "openai")["location"], Value::Null);
    drop(client);
    stop(&mut daemon).await;
    for needle in [&key, &token] {
        assert_eq!(
            files_holding(daemon.tmp.path(), needle),
            Vec::<PathBuf>::new()
        );
    }

    // With the keyring gone, a daemon on `auto` says why and keeps a new
    // key in the private file.
    service.stop_keyring();
    daemon.restart().await;
    let table = studio_ok(&dir, &["keys", "list"], "");
    assert!(table.contains("OS keyring:"), "{table}");
    let later = unique("sk-after-keyring");
    studio_ok(&dir, &["keys", "set", "anthropic"], &format!("{later}\n"));
    assert_eq!(key_row(&dir, "anthropic")["location"], "file");
    assert!(holds(&daemon.dir.secrets(), &later));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confined_agent_s_commands_cannot_reach_the_keyring_s_bus() {
    let service = SecretService::start();
    let daemon = TestDaemon::start_with_env(4, service.env()).await;
    let dir = daemon.dir.root().to_path_buf();
    let key = unique("sk-not-for-agents");
    studio_ok(&dir, &["keys", "set", "anthropic"], &format!("{key}\n"));
    assert_eq!(key_row(&dir, "anthropic")["location"], "keyring");

    let client = daemon.client().await;
    let workspace = tempfile::tempdir().unwrap();
    let mut reader = agent("reader", 1, 0);
    reader.tools = vec!["shell".into()];
    reader.safety = SafetyMode::WorkspaceWrite;
    reader.workspace = Some(workspace.path().display().to_string());
    create_agent(&client, reader).await;
    // What a hostile command would try: the bus by the address the daemon
    // was given, the socket's folder, and the environment.
    let command = format!(
        "dbus-send --bus={address} --print-reply --dest=org.freedesktop.secrets \
         /org/freedesktop/secrets org.freedesktop.Secret.Service.SearchItems \
         'dict:string:string:service,ai-studio {data},username,key/anthropic' 2>&1; \
         ls {home} 2>&1; env | grep -c DBUS; echo done",
        address = service.address,
        data = dir.display(),
        home = service.home.path().display(),
    );
    let output = shell_output(&client, "reader", &command).await;
    assert!(output.contains("done"), "{output}");
    assert!(
        !output.contains("object path"),
        "the agent reached the keyring: {output}"
    );
    assert!(output.contains("No such file"), "{output}");
    assert!(
        output.contains("\n0\n"),
        "the agent saw the bus address: {output}"
    );
    assert!(!output.contains(&key));
    // The keyring still holds the key: the attempt changed nothing.
    assert_eq!(service.items(&dir, "key/anthropic").len(), 1);
}
