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

/// The workspace's directory, held open for a call.
pub(super) struct Root {
    fd: OwnedFd,
    /// Its real path.
    pub(super) path: PathBuf,
    /// Whether paths must stay beneath it (every mode but `full`).
    confined: bool,
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
    /// Opens the workspace at `path` (already a real path).
    pub(super) fn open(path: &Path, confined: bool) -> Result<Root, String> {
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
        if access == Access::Write {
            self.create_parents(requested, path)?;
        }
        let flags = match access {
            Access::Read => OFlags::RDONLY,
            Access::Write => OFlags::WRONLY | OFlags::CREATE,
        } | OFlags::NONBLOCK
            | OFlags::NOCTTY;
        // openat2 takes a mode only when it may create.
        let mode = match access {
            Access::Read => Mode::empty(),
            Access::Write => Mode::from_raw_mode(0o644),
        };
        let fd = self
            .openat(path, flags, mode)
            .map_err(|err| explain(requested, err))?;
        self.check_file(requested, &fd)?;
        if access == Access::Write {
            // Truncated only once it is known to be a file of the workspace.
            rustix::fs::ftruncate(&fd, 0).map_err(|err| explain(requested, err))?;
        }
        Ok(File::from(fd))
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
    /// one before (a single name per `mkdirat`, so none can lead out).
    fn create_parents(&self, requested: &str, path: &Path) -> Result<(), String> {
        let Some(parent) = path.parent() else {
            return Ok(());
        };
        let mut done = PathBuf::new();
        for part in parent.components() {
            let Component::Normal(name) = part else {
                done.push(part);
                continue;
            };
            let dir = self
                .openat(&done, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())
                .map_err(|err| explain(requested, err))?;
            match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(err) => return Err(explain(requested, err)),
            }
            done.push(name);
        }
        Ok(())
    }
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
