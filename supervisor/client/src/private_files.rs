//! Folders in the data dir that the CLI and the app change themselves
//! (gallery sources, plugins): private (0700 folders, 0600 files),
//! changed under an exclusive lock, and filled in a scratch folder that
//! is swapped in whole (`swap_in`), so a failed fetch or check leaves
//! what was there as it was.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{CWD, FlockOperation, RenameFlags};

/// A file or folder that could not be read or written, and where.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct FileError {
    /// The file or folder.
    pub path: PathBuf,
    /// What the system said.
    #[source]
    pub source: io::Error,
}

/// Wraps an `io::Error` about `path`.
pub fn at(path: &Path) -> impl FnOnce(io::Error) -> FileError + '_ {
    move |source| FileError {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `dir` (and what is missing above it) with mode 0700.
pub fn private_dir(dir: &Path) -> Result<(), FileError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(at(dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(at(dir))
}

/// Writes `bytes` to `path` (created 0600, or truncated).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let mut file = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(at(path))?;
    file.write_all(bytes).map_err(at(path))
}

/// Writes `bytes` to `dir/name` through a partial file renamed over it,
/// so a reader sees the old file or the new one whole.
pub fn replace_private(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), FileError> {
    let partial = dir.join(format!("{name}.partial"));
    write_private(&partial, bytes)?;
    let path = dir.join(name);
    fs::rename(&partial, &path).map_err(at(&path))
}

/// Holds `dir/.lock` (the folder created 0700 first) exclusively until
/// dropped.
pub fn lock(dir: &Path) -> Result<File, FileError> {
    private_dir(dir)?;
    let path = dir.join(".lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(at(&path))?;
    rustix::fs::flock(&file, FlockOperation::LockExclusive).map_err(|err| FileError {
        path: path.clone(),
        source: err.into(),
    })?;
    Ok(file)
}

/// Puts `copy` at `target` in one exchange; the old copy there goes to
/// `copy`'s place, to be removed with its scratch folder.
pub fn swap_in(copy: &Path, target: &Path) -> Result<(), FileError> {
    if !target.exists() {
        return fs::rename(copy, target).map_err(at(target));
    }
    match rustix::fs::renameat_with(CWD, copy, CWD, target, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(()),
        // A file system without the exchange: the old copy moves first.
        Err(_) => {
            fs::rename(target, copy.with_extension("old")).map_err(at(target))?;
            fs::rename(copy, target).map_err(at(target))
        }
    }
}

/// Removes `path` and what is in it; one already gone is fine.
pub fn remove_tree(path: &Path) -> Result<(), FileError> {
    match fs::remove_dir_all(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(at(path)(err)),
        _ => Ok(()),
    }
}

/// A scratch folder, removed (with what is in it) when dropped; one left
/// by a process that was killed is removed first.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    /// Makes the (empty, 0700) scratch folder `path`.
    pub fn new(path: PathBuf) -> Result<Scratch, FileError> {
        let _ = fs::remove_dir_all(&path);
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(at(&path))?;
        Ok(Scratch(path))
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_swap_replaces_the_whole_folder_and_the_old_one_goes_with_the_scratch() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("copy");
        private_dir(&target).unwrap();
        write_private(&target.join("old"), b"old").unwrap();
        {
            let scratch = Scratch::new(dir.path().join(".scratch")).unwrap();
            let fresh = scratch.path().join("copy");
            private_dir(&fresh).unwrap();
            write_private(&fresh.join("new"), b"new").unwrap();
            swap_in(&fresh, &target).unwrap();
        }
        assert!(target.join("new").exists());
        assert!(!target.join("old").exists());
        assert!(!dir.path().join(".scratch").exists());
    }

    #[test]
    fn files_and_folders_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        private_dir(&sub).unwrap();
        replace_private(&sub, "f.toml", b"x = 1").unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&sub), 0o700);
        assert_eq!(mode(&sub.join("f.toml")), 0o600);
        assert!(!sub.join("f.toml.partial").exists());
    }
}
