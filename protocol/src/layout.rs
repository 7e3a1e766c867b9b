//! Where one daemon instance keeps its files: the other half of the
//! contract between processes, next to the wire types. The daemon creates
//! and guards these paths; clients (the CLI, the desktop app) only need to
//! find the control socket and the client token.
//!
//! ```text
//! DATA_DIR/            0700
//!   studio.redb        0600  the event log and every other table (no secret)
//!   secrets.json       0600  stored secrets, or only their index when they
//!                            are in the OS keyring; rewritten whole
//!   client.token       0600  secret a client presents in its Hello
//!   daemon.log               daemon output when started in the background
//!   gallery/           0700  template gallery sources (`sources.toml`) and
//!                            a checked copy of each (`gallery/NAME/`)
//!   worker-tls/        0700  the certificate (`cert.der`) and key
//!                            (`key.der`, 0600) of the TCP worker listener,
//!                            made the first time it is offered
//!   run/               0700
//!     control.sock     0600  clients
//!     worker.sock      0600  workers
//!     daemon.lock            held (flock) by the running daemon
//!     daemon.pid
//! ```
//!
//! Agents that name no workspace work in `WORKSPACES/AGENT/` (0700), which
//! is never inside the data dir: whatever an agent runs there must not
//! reach the token, the database or the sockets. `WORKSPACES` is
//! `$XDG_STATE_HOME/ai-studio/workspaces` (else
//! `~/.local/state/ai-studio/workspaces`) for the default data dir, and
//! `DATA_DIR.workspaces` beside any other.
//!
//! Installed plugins (their files, which their servers' sandboxes read,
//! and the list of them) are in `PLUGINS`, also outside the data dir:
//! `$XDG_STATE_HOME/ai-studio/plugins` for the default data dir, and
//! `DATA_DIR.plugins` beside any other.

use std::io;
use std::path::{Path, PathBuf};

/// Paths of one instance, derived from its data dir (nothing is created).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The instance whose data dir is `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `$XDG_DATA_HOME/ai-studio`, else `~/.local/share/ai-studio`.
    pub fn default_root() -> io::Result<PathBuf> {
        if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            return Ok(PathBuf::from(xdg).join("ai-studio"));
        }
        let home = std::env::var_os("HOME").filter(|v| !v.is_empty()).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "cannot choose a data dir: HOME is not set (pass --data-dir or set STUDIO_DATA_DIR)",
            )
        })?;
        Ok(PathBuf::from(home).join(".local/share/ai-studio"))
    }

    /// The data dir itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The database file.
    pub fn database(&self) -> PathBuf {
        self.root.join("studio.redb")
    }

    /// The secrets file: provider keys and MCP servers' secrets where no
    /// OS keyring holds them, and the index of those it does.
    pub fn secrets(&self) -> PathBuf {
        self.root.join("secrets.json")
    }

    /// The client token file.
    pub fn client_token(&self) -> PathBuf {
        self.root.join("client.token")
    }

    /// The app's preferences (its colours), kept across restarts.
    pub fn ui_preferences(&self) -> PathBuf {
        self.root.join("ui-preferences.json")
    }

    /// Template gallery sources: their list and a checked copy of each
    /// (written by clients, never by the daemon).
    pub fn gallery(&self) -> PathBuf {
        self.root.join("gallery")
    }

    /// The background daemon's log.
    pub fn daemon_log(&self) -> PathBuf {
        self.root.join("daemon.log")
    }

    /// Private directory holding the sockets and lock.
    pub fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    /// Socket for clients.
    pub fn control_socket(&self) -> PathBuf {
        self.run_dir().join("control.sock")
    }

    /// Socket for workers.
    pub fn worker_socket(&self) -> PathBuf {
        self.run_dir().join("worker.sock")
    }

    /// The TLS identity of the TCP worker listener (workers on other
    /// machines pin its certificate).
    pub fn worker_tls(&self) -> PathBuf {
        self.root.join("worker-tls")
    }

    /// Lock file held by the running daemon.
    pub fn lock_file(&self) -> PathBuf {
        self.run_dir().join("daemon.lock")
    }

    /// File with the running daemon's pid.
    pub fn pid_file(&self) -> PathBuf {
        self.run_dir().join("daemon.pid")
    }

    /// Where agents that name no workspace work (see the module doc):
    /// never the data dir, inside it or above it.
    pub fn workspaces(&self) -> PathBuf {
        self.beside("workspaces")
    }

    /// Where installed plugins and marketplaces are (see the module doc):
    /// outside the data dir, since their servers' sandboxes read them.
    pub fn plugins(&self) -> PathBuf {
        self.beside("plugins")
    }

    /// `$XDG_STATE_HOME/ai-studio/WHAT` for the default data dir, else
    /// `DATA_DIR.WHAT` beside it.
    fn beside(&self, what: &str) -> PathBuf {
        let is_default = Layout::default_root().is_ok_and(|default| default == self.root);
        if is_default && let Some(state) = state_home() {
            return state.join("ai-studio").join(what);
        }
        let mut name = self.root.file_name().unwrap_or_default().to_os_string();
        name.push(".");
        name.push(what);
        self.root.with_file_name(name)
    }

    /// Where an agent that names no workspace works.
    pub fn default_workspace(&self, agent: &str) -> PathBuf {
        self.workspaces().join(agent)
    }

    /// Where runs of agents with `workspace_per_run` get their own
    /// workspaces (`SESSION`) and a copy's git directory (`SESSION.git`):
    /// a hidden name, which no agent name can be.
    pub fn run_workspaces(&self) -> PathBuf {
        self.workspaces().join(".runs")
    }
}

/// `$XDG_STATE_HOME`, else `~/.local/state`.
fn state_home() -> Option<PathBuf> {
    if let Some(xdg) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(xdg));
    }
    let home = std::env::var_os("HOME").filter(|v| !v.is_empty())?;
    Some(PathBuf::from(home).join(".local/state"))
}

/// So a client can take a `Layout` or anything holding one.
impl AsRef<Layout> for Layout {
    fn as_ref(&self) -> &Layout {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspaces_and_plugins_are_never_inside_the_data_dir() {
        for root in ["/tmp/x/d", "/srv/studio", "/data"] {
            let layout = Layout::new(root);
            let workspaces = layout.workspaces();
            for outside in [&workspaces, &layout.plugins()] {
                assert!(!outside.starts_with(root), "{}", outside.display());
                assert!(!Path::new(root).starts_with(outside), "{root}");
            }
            assert!(layout.default_workspace("a").starts_with(&workspaces));
        }
        assert_eq!(
            Layout::new("/tmp/x/d").workspaces(),
            Path::new("/tmp/x/d.workspaces")
        );
        assert_eq!(
            Layout::new("/tmp/x/d").plugins(),
            Path::new("/tmp/x/d.plugins")
        );
    }
}
