//! What the app's integration tests share: the built `studio` next to
//! `studio-ui`, a daemon in a temp data dir stopped at the end, and a
//! child process killed at the end.

use std::path::PathBuf;
use std::process::{Child, Command, Output};

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
