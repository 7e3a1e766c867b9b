//! What the app's integration tests share: the built `studio` next to
//! `studio-ui`, a daemon in a temp data dir stopped at the end, and a
//! child process killed at the end.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// Kills the child when dropped.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `studio` next to `studio-ui` (built with the workspace).
pub fn studio_bin() -> PathBuf {
    let studio = PathBuf::from(env!("CARGO_BIN_EXE_studio-ui")).with_file_name("studio");
    assert!(
        studio.exists(),
        "{} is not built: build the workspace first (scripts/test does)",
        studio.display()
    );
    studio
}

/// A data dir in /tmp (short, for socket paths) whose daemon is stopped
/// when dropped.
pub struct Daemon {
    /// `studio`.
    pub studio: PathBuf,
    /// The data dir.
    pub dir: PathBuf,
    /// Holds the temp dir.
    pub tmp: tempfile::TempDir,
}

impl Daemon {
    /// A fresh data dir (no daemon yet: the first command starts one).
    pub fn new(prefix: &str) -> Daemon {
        let tmp = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in("/tmp")
            .unwrap();
        Daemon {
            studio: studio_bin(),
            dir: tmp.path().join("d"),
            tmp,
        }
    }

    /// Runs `studio ARGS` on this data dir; it must succeed.
    pub fn studio(&self, args: &[&str]) -> Output {
        let out = Command::new(&self.studio)
            .arg("--data-dir")
            .arg(&self.dir)
            .args(args)
            .env_remove("STUDIO_DATA_DIR")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "studio {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new(&self.studio)
            .arg("--data-dir")
            .arg(&self.dir)
            .args(["daemon", "stop"])
            .output();
    }
}

/// `studio-ui --web --port 0 EXTRA...` on `daemon`'s data dir: the server
/// (killed when the guard drops) and its address (`http://127.0.0.1:PORT`).
pub fn serve_web(daemon: &Daemon, extra: &[&str]) -> (Guard, String) {
    serve_web_with_env(daemon, extra, &[])
}

/// [`serve_web`] with `env` added to the server's environment (which
/// the `studio` it runs inherits).
pub fn serve_web_with_env(
    daemon: &Daemon,
    extra: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
) -> (Guard, String) {
    let mut server = Command::new(env!("CARGO_BIN_EXE_studio-ui"))
        .arg("--data-dir")
        .arg(&daemon.dir)
        .arg("--studio-bin")
        .arg(&daemon.studio)
        .args(["--web", "--port", "0"])
        .args(extra)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = server.stdout.take().unwrap();
    let server = Guard(server);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let url = line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .and_then(|u| u.strip_suffix("/login"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    (server, url)
}

/// Runs the browser script `tests/e2e/SCRIPT` with `args` (after the
/// address of the app and the token file); it must print "all steps
/// passed".
pub fn run_browser_script(script: &str, url: &str, daemon: &Daemon, args: &[&str]) {
    let e2e = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e");
    assert!(
        e2e.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run scripts/setup"
    );
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts");
    let out = Command::new("node")
        .arg(e2e.join(script))
        .arg(url)
        .arg(daemon.dir.join("client.token"))
        .arg(artifacts)
        .args(args)
        .output()
        .expect("node is missing: run scripts/setup");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the steps of {script} failed:\n{report}"
    );
    assert!(report.contains("all steps passed"), "{report}");
}
