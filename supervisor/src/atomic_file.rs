//! Private files replaced whole, so that no old copy stays readable: the
//! secrets file on every change, and the database once, when secrets an
//! older release kept there are moved out and compaction left a copy.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// `PATH.tmp`: where the next version of `path` is written before it
/// replaces `path`.
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Writes `bytes` as the new content of `path` (mode 0600): into
/// [`temp_path`] first, fsynced, then [`replace_wiping`] puts it in place.
/// A crash leaves either the old file or the new one, never half of one.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_path(path);
    remove_if_exists(&tmp)?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    replace_wiping(&tmp, path)
}

/// Renames `tmp` over `target` and fsyncs their directory; then overwrites
/// with zeros what `target` held before, through a descriptor opened
/// before the rename. The old content is then gone from the directory at
/// once, and from the disk too on a filesystem that writes in place (ext4,
/// xfs); a copy-on-write one (btrfs, zfs) or an SSD's wear levelling may
/// keep the old blocks until they are reused.
pub(crate) fn replace_wiping(tmp: &Path, target: &Path) -> io::Result<()> {
    let old = match OpenOptions::new().write(true).open(target) {
        Ok(old) => Some(old),
        Err(err) if err.kind() == io::ErrorKind::NotFound => None,
        Err(err) => return Err(err),
    };
    fs::set_permissions(tmp, fs::Permissions::from_mode(0o600))?;
    fs::rename(tmp, target)?;
    sync_dir(target)?;
    if let Some(old) = old {
        wipe(old)?;
    }
    Ok(())
}

/// Overwrites the whole of `file` with zeros and flushes it to the disk.
fn wipe(mut file: File) -> io::Result<()> {
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(0))?;
    let zeros = [0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left.min(zeros.len() as u64)).unwrap_or(zeros.len());
        file.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    file.sync_data()
}

/// Fsyncs the directory holding `path`, so a rename in it is durable.
pub(crate) fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// Removes `path`, wiping it first (a temp file a crash left may hold
/// secrets); nothing there is fine.
pub(crate) fn remove_if_exists(path: &Path) -> io::Result<()> {
    match OpenOptions::new().write(true).open(path) {
        Ok(file) => {
            wipe(file)?;
            fs::remove_file(path)
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err),
    }
}

/// Which of `needles` occur in the file at `path`, read in chunks (a
/// database can be larger than memory). Empty needles never match.
pub(crate) fn find_in_file(path: &Path, needles: &[&[u8]]) -> io::Result<Vec<bool>> {
    const CHUNK: usize = 1 << 20;
    let mut found = vec![false; needles.len()];
    let longest = needles.iter().map(|n| n.len()).max().unwrap_or(0);
    if longest == 0 {
        return Ok(found);
    }
    let mut file = File::open(path)?;
    // Each round searches the last `longest - 1` bytes of the previous
    // chunk again, so a needle across a chunk boundary is still seen.
    let mut window: Vec<u8> = Vec::with_capacity(CHUNK + longest);
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        window.extend_from_slice(&chunk[..n]);
        for (needle, hit) in needles.iter().zip(found.iter_mut()) {
            if !*hit && !needle.is_empty() && contains(&window, needle) {
                *hit = true;
            }
        }
        let keep = window.len().min(longest - 1);
        window.drain(..window.len() - keep);
    }
    Ok(found)
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, _)) = needle.split_first() else {
        return false;
    };
    let mut from = 0;
    while let Some(at) = haystack[from..].iter().position(|&b| b == first) {
        let start = from + at;
        if haystack.len() - start < needle.len() {
            return false;
        }
        if &haystack[start..start + needle.len()] == needle {
            return true;
        }
        from = start + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_file_is_private_and_replaces_the_old_one_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        write_private(&path, b"old-secret-value").unwrap();
        // A descriptor opened before the replacement sees the old inode:
        // it is wiped, not just unlinked.
        let mut before = File::open(&path).unwrap();
        write_private(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let mut old = Vec::new();
        before.read_to_end(&mut old).unwrap();
        assert_eq!(old, vec![0u8; b"old-secret-value".len()]);
        assert!(!temp_path(&path).exists());
    }

    #[test]
    fn needles_are_found_across_chunk_boundaries_and_nowhere_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let mut bytes = vec![b'x'; (1 << 20) - 3];
        bytes.extend_from_slice(b"needle-across");
        bytes.extend(vec![b'y'; 100]);
        fs::write(&path, &bytes).unwrap();
        let found = find_in_file(&path, &[b"needle-across", b"absent", b"", b"xy"]).unwrap();
        assert_eq!(found, [true, false, false, false]);
        assert!(contains(b"aab", b"ab"));
        assert!(!contains(b"a", b"ab"));
    }

    #[test]
    fn a_leftover_temp_file_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        fs::write(temp_path(&path), "half written").unwrap();
        write_private(&path, b"{}").unwrap();
        assert!(!temp_path(&path).exists());
        remove_if_exists(&path).unwrap();
        remove_if_exists(&path).unwrap();
        assert!(!path.exists());
    }
}
