//! A plugin's files as a whole: walked without following a link, within
//! limits (files, bytes, depth), `.git` left out, and summed into one
//! SHA-256 ([`digest`], the checksum a marketplace entry may pin and
//! `studio plugin check` prints). [`copy`] writes the same files into a
//! new private folder and sums what it wrote, so what is installed is
//! exactly what was checked.
//!
//! The sum covers, in byte order of their paths, each regular file's
//! path, whether it is executable, its length and its bytes:
//! `sha256(for each file: path NUL ("x"|"-") NUL len NUL bytes)`, hex.
//! A symbolic link, a device or a socket anywhere refuses the tree: an
//! installed copy must not point outside itself.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::private_files::{private_dir, write_private};

/// The most files a plugin may have.
pub const MAX_FILES: usize = 4096;
/// The most bytes its files may hold in all.
pub const MAX_TOTAL_BYTES: u64 = 64 * 1024 * 1024;
/// The deepest a file may be.
pub const MAX_DEPTH: usize = 24;

/// One file of a tree.
#[derive(Debug)]
struct Entry {
    /// Its path inside the tree, `/`-separated.
    rel: String,
    /// Where it is.
    path: PathBuf,
    executable: bool,
}

/// The regular files under `root`, sorted by path; refused with the
/// reason when the tree breaks a rule.
fn files(root: &Path) -> Result<Vec<Entry>, String> {
    let mut found = Vec::new();
    let mut total = 0u64;
    walk(root, "", 0, &mut found, &mut total)?;
    found.sort_by(|a, b| a.rel.as_bytes().cmp(b.rel.as_bytes()));
    Ok(found)
}

fn walk(
    dir: &Path,
    prefix: &str,
    depth: usize,
    found: &mut Vec<Entry>,
    total: &mut u64,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("{prefix}: deeper than {MAX_DEPTH} folders"));
    }
    let entries = fs::read_dir(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|err| format!("{}: {err}", dir.display()))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            return Err(format!(
                "{prefix}{}: a file name that is not UTF-8",
                name.to_string_lossy()
            ));
        };
        if name == ".git" {
            continue;
        }
        if name.contains(['\n', '\r', '\0']) {
            return Err(format!("{prefix}{name:?}: a file name with a line break"));
        }
        let rel = format!("{prefix}{name}");
        let kind = entry.file_type().map_err(|err| format!("{rel}: {err}"))?;
        if kind.is_dir() {
            walk(&entry.path(), &format!("{rel}/"), depth + 1, found, total)?;
        } else if kind.is_file() {
            let meta = entry.metadata().map_err(|err| format!("{rel}: {err}"))?;
            *total += meta.len();
            if *total > MAX_TOTAL_BYTES {
                return Err(format!(
                    "its files hold more than {} MiB",
                    MAX_TOTAL_BYTES / 1024 / 1024
                ));
            }
            found.push(Entry {
                rel,
                path: entry.path(),
                executable: meta.permissions().mode() & 0o111 != 0,
            });
            if found.len() > MAX_FILES {
                return Err(format!("more than {MAX_FILES} files"));
            }
        } else if kind.is_symlink() {
            return Err(format!(
                "{rel} is a symbolic link, which a plugin may not have"
            ));
        } else {
            return Err(format!("{rel} is not a regular file or folder"));
        }
    }
    Ok(())
}

/// Reads one file whole, refusing one that grew past what was counted.
fn read(entry: &Entry) -> Result<Vec<u8>, String> {
    let file = fs::File::open(&entry.path).map_err(|err| format!("{}: {err}", entry.rel))?;
    let mut bytes = Vec::new();
    file.take(MAX_TOTAL_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| format!("{}: {err}", entry.rel))?;
    if bytes.len() as u64 > MAX_TOTAL_BYTES {
        return Err(format!("{}: grew while it was read", entry.rel));
    }
    Ok(bytes)
}

/// Adds one file to the sum.
fn sum_into(hasher: &mut Sha256, rel: &str, executable: bool, bytes: &[u8]) {
    hasher.update(rel.as_bytes());
    hasher.update([0]);
    hasher.update(if executable { b"x" } else { b"-" });
    hasher.update([0]);
    hasher.update(bytes.len().to_string().as_bytes());
    hasher.update([0]);
    hasher.update(bytes);
}

/// The checksum of the tree at `root`.
pub fn digest(root: &Path) -> Result<String, String> {
    let mut hasher = Sha256::new();
    for entry in files(root)? {
        let bytes = read(&entry)?;
        sum_into(&mut hasher, &entry.rel, entry.executable, &bytes);
    }
    Ok(hex(&hasher.finalize()))
}

/// Copies the tree at `from` into `to` (which must not exist), files 0600
/// (0700 when executable) and folders 0700, and returns the checksum of
/// what was written.
pub fn copy(from: &Path, to: &Path) -> Result<String, String> {
    let entries = files(from)?;
    private_dir(to).map_err(|err| err.to_string())?;
    let mut hasher = Sha256::new();
    for entry in entries {
        let bytes = read(&entry)?;
        let path = entry
            .rel
            .split('/')
            .fold(to.to_path_buf(), |p, part| p.join(part));
        if let Some(parent) = path.parent() {
            private_dir(parent).map_err(|err| err.to_string())?;
        }
        write_private(&path, &bytes).map_err(|err| err.to_string())?;
        if entry.executable {
            fs::set_permissions(&path, fs::Permissions::from_mode(0o700))
                .map_err(|err| format!("{}: {err}", entry.rel))?;
        }
        sum_into(&mut hasher, &entry.rel, entry.executable, &bytes);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("bin")).unwrap();
        fs::write(dir.path().join("plugin.json"), "{}").unwrap();
        fs::write(dir.path().join("bin/server"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(
            dir.path().join("bin/server"),
            fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        fs::create_dir_all(dir.path().join(".git")).unwrap();
        fs::write(dir.path().join(".git/HEAD"), "ref").unwrap();
        dir
    }

    #[test]
    fn a_copy_sums_as_its_original_and_keeps_what_runs() {
        let from = tree();
        let out = tempfile::tempdir().unwrap();
        let to = out.path().join("copy");
        let sum = copy(from.path(), &to).unwrap();
        assert_eq!(sum, digest(from.path()).unwrap());
        assert_eq!(sum, digest(&to).unwrap());
        assert!(!to.join(".git").exists(), "git's folder is not copied");
        let mode = fs::metadata(to.join("bin/server"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        assert_eq!(
            fs::metadata(to.join("plugin.json"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }

    #[test]
    fn the_sum_changes_with_a_byte_a_name_or_the_executable_bit() {
        let dir = tree();
        let before = digest(dir.path()).unwrap();
        fs::write(dir.path().join("plugin.json"), "{ }").unwrap();
        let edited = digest(dir.path()).unwrap();
        assert_ne!(before, edited);
        fs::rename(
            dir.path().join("plugin.json"),
            dir.path().join("plugin2.json"),
        )
        .unwrap();
        let renamed = digest(dir.path()).unwrap();
        assert_ne!(edited, renamed);
        fs::set_permissions(
            dir.path().join("bin/server"),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        assert_ne!(renamed, digest(dir.path()).unwrap());
    }

    #[test]
    fn links_and_oversized_trees_are_refused() {
        let dir = tree();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("bin/passwd")).unwrap();
        let err = digest(dir.path()).unwrap_err();
        assert!(err.contains("bin/passwd is a symbolic link"), "{err}");

        let big = tempfile::tempdir().unwrap();
        let file = fs::File::create(big.path().join("blob")).unwrap();
        file.set_len(MAX_TOTAL_BYTES + 1).unwrap();
        let err = digest(big.path()).unwrap_err();
        assert!(err.contains("more than 64 MiB"), "{err}");
    }
}
