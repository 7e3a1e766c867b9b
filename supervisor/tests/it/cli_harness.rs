//! `studio` run as a user runs it, on a data dir of its own.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{studio_bin, worker_bin};

/// A data dir for CLI calls; stops its daemon when dropped.
pub struct Cli {
    pub tmp: tempfile::TempDir,
}

impl Cli {
    pub fn new() -> Cli {
        Cli {
            tmp: tempfile::Builder::new()
                .prefix("sc")
                .tempdir_in("/tmp")
                .unwrap(),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.tmp.path().join("d")
    }

    /// `studio ARGS` on this data dir, not started yet.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(studio_bin());
        command
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .env("STUDIO_WORKER_BIN", worker_bin())
            .env("STUDIO_CANCEL_GRACE_MS", "300")
            .env_remove("STUDIO_DATA_DIR");
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "studio {args:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a command that must fail with `code`; returns its stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "studio {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// `events ID --json`, each line parsed.
    pub fn events(&self, id: &str) -> Vec<Value> {
        self.ok(&["--json", "events", id])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.tmp.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        let _ = self.run(&["daemon", "stop"]);
    }
}

pub fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}
