//! Opening files of the workspace without races: every path is resolved
//! by the kernel beneath the workspace's directory (`openat2` with
//! `RESOLVE_BENEATH`), so no `..`, absolute path or symlink (dangling or
//! not, swapped in mid-call or not) leads out; `/proc`'s magic links are
//! never followed. Only regular files are opened, without blocking (a
//! FIFO or a device is refused, not waited on); a `/proc` file is refused
//! whatever the mode (the worker's own memory is there), and in a confined
//! mode so is a file with more than one link (another name of it may lie
//! outside the workspace).

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::sandbox::git_metadata;

/// The workspace's directory, held open for a call.
pub(super) struct Root {
    fd: OwnedFd,
    /// Its real path.
    pub(super) path: PathBuf,
    /// Whether paths must stay beneath it (every mode but `full`).
    confined: bool,
    /// The agent's explicit write paths (real): git metadata written
    /// only under these.
    granted: Vec<PathBuf>,
}

/// How a file is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Access {
    /// To read.
    Read,
    /// To write whole, created if missing.
    Write,
}

impl Root {
    /// Opens the workspace at `path` (already a real path); `granted` are
    /// the agent's explicit write paths.
    pub(super) fn open(path: &Path, confined: bool, granted: Vec<PathBuf>) -> Result<Root, String> {
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|err| format!("workspace {}: {err}", path.display()))?;
        Ok(Root {
            fd,
            path: path.to_path_buf(),
            confined,
            granted,
        })
    }

    fn resolve(&self) -> ResolveFlags {
        if self.confined {
            ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS
        } else {
            ResolveFlags::NO_MAGICLINKS
        }
    }

    /// `requested`, checked for what can be said before the kernel looks.
    fn checked<'a>(&self, requested: &'a str) -> Result<&'a Path, String> {
        let path = Path::new(requested);
        if !self.confined {
            return Ok(path);
        }
        if path.is_absolute() {
            return Err(format!(
                "{requested:?} is absolute; give a path inside the workspace"
            ));
        }
        if path.components().any(|c| c == Component::ParentDir) {
            return Err(format!(
                "{requested:?} uses '..'; paths must stay inside the workspace"
            ));
        }
        Ok(path)
    }

    fn openat(&self, path: &Path, flags: OFlags, mode: Mode) -> rustix::io::Result<OwnedFd> {
        let path = if path.as_os_str().is_empty() {
            Path::new(".")
        } else {
            path
        };
        rustix::fs::openat2(
            &self.fd,
            path,
            flags | OFlags::CLOEXEC,
            mode,
            self.resolve(),
        )
    }

    /// Opens the regular file `requested`.
    pub(super) fn file(&self, requested: &str, access: Access) -> Result<File, String> {
        let path = self.checked(requested)?;
        let flags = OFlags::NONBLOCK | OFlags::NOCTTY;
        if access == Access::Read {
            let fd = self
                .openat(path, flags | OFlags::RDONLY, Mode::empty())
                .map_err(|err| explain(requested, err))?;
            self.check_file(requested, &fd)?;
            return Ok(File::from(fd));
        }
        // As spelled first, so nothing is made on the way to a refusal.
        self.check_not_git(requested, Ok(self.path.join(path)))?;
        let parent = self.create_parents(requested, path)?;
        let fd = match self.openat(path, flags | OFlags::WRONLY, Mode::empty()) {
            Ok(fd) => {
                self.check_file(requested, &fd)?;
                self.check_not_git(requested, real_path(&fd))?;
                fd
            }
            // Created in the directory just checked, by name, never
            // through a symlink.
            Err(Errno::NOENT) => {
                let name = path
                    .file_name()
                    .ok_or_else(|| format!("{requested}: no file name"))?;
                self.check_not_git(requested, real_path(&parent).map(|dir| dir.join(name)))?;
                let fd = rustix::fs::openat(
                    &parent,
                    name,
                    flags
                        | OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o644),
                )
                .map_err(|err| explain(requested, err))?;
                self.check_file(requested, &fd)?;
                fd
            }
            Err(err) => return Err(explain(requested, err)),
        };
        // Truncated only once it is known to be a file of the workspace.
        rustix::fs::ftruncate(&fd, 0).map_err(|err| explain(requested, err))?;
        Ok(File::from(fd))
    }

    /// Refuses (when confined) to write git's metadata: a hook or setting
    /// planted there runs outside the sandbox when the user runs git.
    fn check_not_git(&self, requested: &str, real: Result<PathBuf, String>) -> Result<(), String> {
        if !self.confined {
            return Ok(());
        }
        let real = real.map_err(|err| format!("{requested}: {err}"))?;
        if !real.starts_with(&self.path) {
            return Err(format!("{requested:?} leads outside the workspace"));
        }
        let inside = real.strip_prefix(&self.path).unwrap_or(&real);
        if git_metadata::is_metadata(inside, &[]) && git_metadata::is_metadata(&real, &self.granted)
        {
            return Err(format!(
                "{requested} is git's metadata, which agents do not write (a hook or setting there would run outside the sandbox); sandbox.write can name a .git to allow it"
            ));
        }
        Ok(())
    }

    /// Opens the directory `requested` to list it.
    pub(super) fn dir(&self, requested: &str) -> Result<OwnedFd, String> {
        let path = self.checked(requested)?;
        self.openat(path, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())
            .map_err(|err| explain(requested, err))
    }

    /// Regular files only; never `/proc`; one link only when confined.
    fn check_file(&self, requested: &str, fd: &impl AsFd) -> Result<(), String> {
        let stat = rustix::fs::fstat(fd).map_err(|err| explain(requested, err))?;
        let kind = FileType::from_raw_mode(stat.st_mode);
        if kind != FileType::RegularFile {
            return Err(format!(
                "{requested} is not a regular file (it is {}); only regular files are read and written",
                describe(kind)
            ));
        }
        let on = rustix::fs::fstatfs(fd).map_err(|err| explain(requested, err))?;
        if on.f_type == rustix::fs::PROC_SUPER_MAGIC {
            return Err(format!(
                "{requested} is a /proc file; those are not read or written"
            ));
        }
        if self.confined && stat.st_nlink > 1 {
            return Err(format!(
                "{requested} has {} hard links; another of its names may lie outside the workspace",
                stat.st_nlink
            ));
        }
        Ok(())
    }

    /// Creates the missing directories above `path`, each one beneath the
    /// one before (a single name per `mkdirat`, so none can lead out) and
    /// none in git's metadata; returns the directory `path` is in.
    fn create_parents(&self, requested: &str, path: &Path) -> Result<OwnedFd, String> {
        let open = |dir: &Path| {
            self.openat(dir, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())
                .map_err(|err| explain(requested, err))
        };
        let mut done = PathBuf::new();
        for part in path.parent().into_iter().flat_map(Path::components) {
            let Component::Normal(name) = part else {
                done.push(part);
                continue;
            };
            let dir = open(&done)?;
            self.check_not_git(requested, real_path(&dir).map(|d| d.join(name)))?;
            match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(err) => return Err(explain(requested, err)),
            }
            done.push(name);
        }
        open(&done)
    }
}

/// Where an open file or directory really is.
fn real_path(fd: &impl AsFd) -> Result<PathBuf, String> {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd()))
        .map_err(|err| format!("cannot tell where it is: {err}"))
}

/// What an open error means, for the model.
fn explain(requested: &str, err: Errno) -> String {
    match err {
        Errno::XDEV => {
            format!("{requested:?} leads outside the workspace (through a symlink)")
        }
        Errno::LOOP => format!("{requested:?}: a symlink loop, or a link through /proc"),
        Errno::NOENT => format!("{requested}: no such file or directory"),
        Errno::AGAIN => format!("{requested}: the path changed while it was opened; try again"),
        other => format!("{requested}: {}", std::io::Error::from(other)),
    }
}

fn describe(kind: FileType) -> &'static str {
    match kind {
        FileType::Directory => "a directory",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice | FileType::BlockDevice => "a device",
        FileType::Symlink => "a symlink",
        _ => "not a file",
    }
}
