//! The daemon's side of the data dir: [`DataDir`] creates and guards the
//! paths [`protocol::layout::Layout`] names (its module doc draws them).
//! Different data dirs are fully isolated instances.

use std::fs;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use protocol::layout::Layout;

/// Paths of one instance, derived from its data dir.
#[derive(Clone, Debug)]
pub struct DataDir {
    layout: Layout,
}

impl DataDir {
    /// The data dir at `root` (not created yet).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            layout: Layout::new(root),
        }
    }

    /// `$XDG_DATA_HOME/ai-studio`, else `~/.local/share/ai-studio`.
    pub fn default_root() -> io::Result<PathBuf> {
        Layout::default_root()
    }

    /// Where everything is.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The data dir itself.
    pub fn root(&self) -> &Path {
        self.layout.root()
    }

    /// The database file.
    pub fn database(&self) -> PathBuf {
        self.layout.database()
    }

    /// The secrets file (see the `secrets` module).
    pub fn secrets(&self) -> PathBuf {
        self.layout.secrets()
    }

    /// The client token file.
    pub fn client_token(&self) -> PathBuf {
        self.layout.client_token()
    }

    /// The background daemon's log.
    pub fn daemon_log(&self) -> PathBuf {
        self.layout.daemon_log()
    }

    /// Private directory holding the sockets and lock.
    pub fn run_dir(&self) -> PathBuf {
        self.layout.run_dir()
    }

    /// Socket for clients.
    pub fn control_socket(&self) -> PathBuf {
        self.layout.control_socket()
    }

    /// Socket for workers.
    pub fn worker_socket(&self) -> PathBuf {
        self.layout.worker_socket()
    }

    /// Lock file held by the running daemon.
    pub fn lock_file(&self) -> PathBuf {
        self.layout.lock_file()
    }

    /// File with the running daemon's pid.
    pub fn pid_file(&self) -> PathBuf {
        self.layout.pid_file()
    }

    /// The private workspace of an agent that names none, created (0700)
    /// if missing (`Layout::workspaces`), and checked by
    /// [`DataDir::check_workspace`]: a symlink planted there cannot turn
    /// it into the data dir.
    pub fn default_workspace(&self, agent: &str) -> io::Result<PathBuf> {
        let dir = self.layout.default_workspace(agent);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        self.check_workspace(&dir)
    }

    /// The real path of workspace `dir`, refused when it is the data dir,
    /// inside it, or holds it: an agent's tools must never reach the
    /// token, the database or the sockets.
    pub fn check_workspace(&self, dir: &Path) -> io::Result<PathBuf> {
        let real = fs::canonicalize(dir).map_err(|err| {
            io::Error::new(err.kind(), format!("workspace {}: {err}", dir.display()))
        })?;
        self.keep_apart("workspace", &real)?;
        Ok(real)
    }

    /// Checks the paths an agent's sandbox adds (`sandbox.read` and
    /// `sandbox.write`, `~/` being `home`) as [`DataDir::check_workspace`]
    /// checks a workspace: a sandbox that showed the data dir would show
    /// the token to every command. A path that does not exist yet is
    /// checked as written.
    pub fn check_sandbox_paths(
        &self,
        sandbox: &protocol::sandbox::SandboxConfig,
        home: Option<&Path>,
    ) -> io::Result<()> {
        for path in sandbox.read.iter().chain(&sandbox.write) {
            let expanded = match (path.strip_prefix("~/"), home) {
                (Some(rest), Some(home)) => home.join(rest),
                _ => PathBuf::from(path),
            };
            let real = fs::canonicalize(&expanded).unwrap_or(expanded);
            self.keep_apart("sandbox path", &real)?;
        }
        Ok(())
    }

    /// Refuses `real` (a `what`) when it is the data dir, inside it, or
    /// holds it; and likewise the installed plugins' folder
    /// (`Layout::plugins`), whose files run with the plugins' grants.
    fn keep_apart(&self, what: &str, real: &Path) -> io::Result<()> {
        let plugins = self.layout.plugins();
        for (guarded, name) in [
            (self.root(), "the daemon's data dir"),
            (plugins.as_path(), "the installed plugins' folder"),
        ] {
            let guarded = fs::canonicalize(guarded).unwrap_or_else(|_| guarded.to_path_buf());
            let why = if real == guarded {
                "is"
            } else if real.starts_with(&guarded) {
                "is inside"
            } else if guarded.starts_with(real) {
                "holds"
            } else {
                continue;
            };
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{what} {} {why} {name} {}: choose a directory outside it",
                    real.display(),
                    guarded.display()
                ),
            ));
        }
        Ok(())
    }

    /// Creates the data dir and run dir with mode 0700 (tightening existing
    /// ones), and checks that socket paths fit the kernel's limit.
    pub fn create(&self) -> io::Result<()> {
        studio_client::data_dir::create(&self.layout)
    }
}

impl AsRef<Layout> for DataDir {
    fn as_ref(&self) -> &Layout {
        &self.layout
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn create_makes_private_dirs() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(tmp.path().join("d"));
        dir.create().unwrap();
        for path in [dir.root().to_path_buf(), dir.run_dir()] {
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", path.display());
        }
    }

    #[test]
    fn create_tightens_an_existing_open_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("open");
        fs::create_dir(&root).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        DataDir::new(&root).create().unwrap();
        let mode = fs::metadata(&root).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn workspaces_at_above_or_inside_the_data_dir_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(tmp.path().join("d"));
        dir.create().unwrap();
        fs::create_dir(dir.root().join("inner")).unwrap();
        let outside = tmp.path().join("elsewhere");
        fs::create_dir(&outside).unwrap();
        // A symlink spelling of the data dir is the data dir.
        std::os::unix::fs::symlink(dir.root(), tmp.path().join("link")).unwrap();
        for (workspace, why) in [
            (dir.root().to_path_buf(), "is the"),
            (dir.root().join("inner"), "is inside"),
            (dir.root().join("inner/.."), "is the"),
            (tmp.path().join("link"), "is the"),
            (tmp.path().to_path_buf(), "holds"),
            (PathBuf::from("/"), "holds"),
        ] {
            let err = dir.check_workspace(&workspace).unwrap_err().to_string();
            assert!(err.contains(why), "{}: {err}", workspace.display());
        }
        assert!(dir.check_workspace(&outside).is_ok());
        // The same holds for what a sandbox adds, `~/` included.
        let sandbox = |path: &str| protocol::sandbox::SandboxConfig {
            read: vec![path.to_owned()],
            ..Default::default()
        };
        let home = Some(tmp.path());
        for bad in ["~/", "~/d", "~/d/run", "/"] {
            let err = dir.check_sandbox_paths(&sandbox(bad), home).unwrap_err();
            assert!(err.to_string().contains("sandbox path"), "{bad}: {err}");
        }
        assert!(
            dir.check_sandbox_paths(&sandbox("~/elsewhere"), home)
                .is_ok()
        );
        // An agent named like a path component never reaches here (names are
        // validated), and the default workspace is beside the data dir.
        let default = dir.default_workspace("writer").unwrap();
        assert!(!default.starts_with(dir.root()), "{}", default.display());
    }

    #[test]
    fn a_symlink_planted_at_a_default_workspace_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(tmp.path().join("d"));
        dir.create().unwrap();
        let workspaces = dir.layout().workspaces();
        fs::create_dir_all(&workspaces).unwrap();
        std::os::unix::fs::symlink(dir.root(), workspaces.join("evil")).unwrap();
        let err = dir.default_workspace("evil").unwrap_err().to_string();
        assert!(err.contains("data dir"), "{err}");
    }

    #[test]
    fn overlong_socket_paths_are_refused_clearly() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(tmp.path().join("x".repeat(120)));
        let err = dir.create().unwrap_err();
        assert!(err.to_string().contains("shorter --data-dir"), "{err}");
    }
}
