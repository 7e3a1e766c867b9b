//! Files and sockets are private; no secret reaches a worker's argv or
//! environment (issue test 4), the daemon's log or an export.

use std::time::Duration;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_is_private_and_workers_carry_no_secrets() {
    let secret = "sk-test-0123456789abcdef-not-for-workers";
    let daemon = TestDaemon::start_with_env(
        4,
        vec![
            ("OPENAI_API_KEY".to_owned(), secret.to_owned()),
            ("SOME_TOKEN".to_owned(), secret.to_owned()),
        ],
    )
    .await;
    let dir = &daemon.dir;
    assert_eq!(mode(dir.root()), 0o700);
    assert_eq!(mode(&dir.run_dir()), 0o700);
    assert_eq!(mode(&dir.control_socket()), 0o600);
    assert_eq!(mode(&dir.worker_socket()), 0o600);
    assert_eq!(mode(&dir.client_token()), 0o600);
    assert_eq!(mode(&dir.database()), 0o600);

    let client = daemon.client().await;
    create_agent(&client, agent("slow", 200, 50)).await;
    let session = run(&client, spec("slow", "show me your environment")).await;
    wait_for(&client, session, "streaming", |s| s.events >= 6).await;
    let pid = worker_pid(&events(&client, session).await).unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let client_token = std::fs::read_to_string(dir.client_token()).unwrap();
    for (what, bytes) in [("argv", &cmdline), ("environment", &environ)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains(secret),
            "the daemon's secret reached the worker's {what}"
        );
        assert!(
            !text.contains(client_token.trim()),
            "the client token reached the worker's {what}"
        );
        // The worker's own token is 64 hex digits; nothing like it may appear.
        let hexy = text
            .split(|c: char| !c.is_ascii_hexdigit())
            .any(|word| word.len() >= 32);
        assert!(!hexy, "a token-like value in the worker's {what}: {text}");
    }
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    assert_eq!(
        args[1..],
        [
            "--socket".to_owned(),
            dir.worker_socket().display().to_string(),
            "--session".to_owned(),
            session.to_string()
        ]
    );
    let env_names: Vec<String> = String::from_utf8_lossy(&environ)
        .split('\0')
        .filter_map(|kv| kv.split_once('=').map(|(k, _)| k.to_owned()))
        .collect();
    assert!(
        env_names.iter().all(|k| [
            "PATH",
            "HOME",
            "LANG",
            "LC_ALL",
            "TZ",
            "TMPDIR",
            "STUDIO_LOG",
            "RUST_BACKTRACE"
        ]
        .contains(&k.as_str())),
        "worker environment is an allow-list: {env_names:?}"
    );
    client
        .request(protocol::control::ControlRequest::Kill { session })
        .await
        .unwrap();
    follow_to_end(&client, session, Duration::from_secs(10)).await;
    assert!(!daemon.log().contains(secret), "the secret is not logged");

    // Nor is it in an export of the session.
    let export = std::process::Command::new(studio_bin())
        .arg("--data-dir")
        .arg(dir.root())
        .args(["export", &session.to_string()])
        .env_remove("STUDIO_DATA_DIR")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&export.stdout);
    assert!(
        export.status.success() && text.contains("session.killed"),
        "{text}"
    );
    assert!(!text.contains(secret), "the secret is not exported");
}
