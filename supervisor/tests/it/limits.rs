//! The daemon's limits, met as a user meets them: a request too large for
//! a frame is refused as such (and the connection goes on), and the
//! daemon's log is rotated instead of growing without end.

use crate::cli_harness::{Cli, path};

#[test]
fn a_request_over_the_frame_limit_is_too_large_not_a_lost_connection() {
    let cli = Cli::new();
    cli.ok(&["agent", "create", "steady", "--chunks", "1"]);
    // Two runs of 9 MB prompts: each fits, the batch does not.
    let prompt = "x".repeat(9 * 1024 * 1024);
    let line = serde_json::json!({ "prompt": prompt }).to_string();
    let batch = cli.write("big.jsonl", &format!("{line}\n{line}\n"));
    let err = cli.fails(&["run", "steady", "--batch", path(&batch)], 2);
    assert!(err.contains("too large"), "{err}");
    assert!(!err.contains("lost the connection"), "{err}");
    // Nothing was queued, and the daemon still answers.
    assert_eq!(cli.json(&["ps", "--all"]), serde_json::json!([]));
}

#[test]
fn the_daemon_log_is_rotated_and_keeps_a_bounded_number_of_files() {
    let cli = Cli::new();
    let max = 2048;
    let studio = |args: &[&str]| {
        let out = cli
            .command(args)
            .env("STUDIO_LOG_MAX_BYTES", max.to_string())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    studio(&["agent", "create", "steady", "--chunks", "2"]);
    studio(&["run", "steady", "--prompt", "logged"]);
    // A local process flooding the log: every bad handshake is a line.
    let socket = supervisor::paths::DataDir::new(cli.data_dir()).control_socket();
    for _ in 0..200 {
        use std::io::{Read, Write};
        let mut stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        let _ = stream.read_to_end(&mut Vec::new());
    }
    studio(&["run", "steady", "--prompt", "logged after the flood"]);
    let dir = cli.data_dir();
    let mut logs: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("daemon.log"))
        .collect();
    logs.sort();
    assert_eq!(
        logs,
        ["daemon.log", "daemon.log.1", "daemon.log.2", "daemon.log.3"],
        "rotated, and only three old logs kept"
    );
    for name in &logs {
        let file = dir.join(name);
        let len = std::fs::metadata(&file).unwrap().len();
        // Cut after the write that crossed the limit.
        assert!(len <= max + 64 * 1024, "{name}: {len} bytes");
        assert_eq!(crate::support::mode(&file) & 0o777, 0o600, "{name}");
    }
    let rotated = std::fs::read_to_string(dir.join("daemon.log.1")).unwrap();
    assert!(rotated.contains("connection refused"), "{rotated}");
}

/// A data dir on a small tmpfs of its own, unmounted (lazily: the daemon
/// may still hold it) when dropped.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(dir: &std::path::Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(dir).unwrap();
        let status = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "mounting a tmpfs needs root (the test machine runs as root)"
        );
        SmallDisk(dir.to_owned())
    }

    /// Writes a file until the disk is full.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.0.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_full_disk_is_reported_and_a_blocked_command_gets_a_clear_error() {
    let cli = Cli::new();
    let disk = SmallDisk::mount(&cli.data_dir(), "24m");
    cli.ok(&[
        "agent",
        "create",
        "steady",
        "--chunks",
        "40",
        "--chunk-chars",
        "200",
    ]);
    cli.ok(&[
        "agent",
        "create",
        "slow",
        "--chunks",
        "1000",
        "--chunk-delay-ms",
        "50",
    ]);
    cli.ok(&[
        "run",
        "steady",
        "--prompt",
        "recorded before the disk fills",
    ]);
    let before = cli.json(&["ps", "--all"]);
    let live = cli.ok(&["run", "slow", "--prompt", "live through it", "--detach"]);
    let live = live.trim();
    let filler = disk.fill();

    // Until the store cannot commit: the database's free pages go first.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let stalled = loop {
        let _ = cli.run(&[
            "run",
            "steady",
            "--prompt",
            "fills the database",
            "--detach",
        ]);
        let status = cli.json(&["daemon", "status"]);
        if !status["store_stalled"].is_null() {
            break status["store_stalled"].clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the store never stalled: {status}"
        );
    };
    assert!(
        stalled["error"]
            .as_str()
            .unwrap()
            .contains("No space left on device"),
        "{stalled}"
    );
    let status = cli.ok(&["daemon", "status"]);
    assert!(status.contains("the store is stalled: "), "{status}");

    // A new run cannot be saved: refused at once, saying why.
    let err = cli.fails(&["run", "steady", "--prompt", "not saved"], 5);
    assert!(err.contains("No space left on device"), "{err}");

    // Killing the live run waits for its end to be recorded: the command
    // is told why within a bounded wait instead of hanging.
    let started = std::time::Instant::now();
    let err = cli.fails(&["kill", live], 5);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "waited {:?}",
        started.elapsed()
    );
    assert!(
        err.contains("the store is stalled: ") && err.contains("No space left on device"),
        "{err}"
    );

    // Space comes back: the store writes again, the kill lands, and what
    // was recorded before is whole.
    std::fs::remove_file(filler).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !cli.json(&["daemon", "status"])["store_stalled"].is_null() {
        assert!(
            std::time::Instant::now() < deadline,
            "the store did not recover"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let sessions = cli.json(&["ps", "--all"]);
    let find = |id: &serde_json::Value| {
        sessions
            .as_array()
            .unwrap()
            .iter()
            .find(|s| &s["id"] == id)
            .unwrap()
            .clone()
    };
    let first = &before[0];
    let same = find(&first["id"]);
    assert_eq!(same["status"], "completed");
    assert_eq!(same["events"], first["events"]);
    let id = first["id"].as_str().unwrap();
    let events = cli.ok(&["--json", "events", id]);
    assert_eq!(
        events.lines().count() as u64,
        first["events"].as_u64().unwrap()
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while find_status(&cli, live) != "killed" {
        assert!(
            std::time::Instant::now() < deadline,
            "the kill never landed"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    drop(cli);
}

fn find_status(cli: &Cli, id: &str) -> String {
    cli.json(&["ps", "--all"])
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .map(|s| s["status"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default()
}
