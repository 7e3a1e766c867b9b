//! The full-disk fault: the data dir is a small tmpfs, filled on purpose.
//!
//! Mounting needs privileges (root, or CAP_SYS_ADMIN). When `mount` fails
//! the round runs on a plain directory and the disk-full phase is
//! simulated: the same runs stream through it, but nothing fills the disk,
//! and the report says so. The mount is undone when the guard drops, so an
//! error or a panic does not leave it behind.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the data dir lives.
pub enum Disk {
    /// A tmpfs of known size, mounted for this round.
    Tmpfs(TmpfsMount),
    /// A plain directory; the reason mounting was not possible.
    Simulated(String),
}

impl Disk {
    /// Mounts a tmpfs of `size_mib` MiB at `path` (created), or falls back to
    /// a plain directory there, saying why.
    pub fn prepare(path: &Path, size_mib: u64, allow_mount: bool) -> io::Result<Disk> {
        std::fs::create_dir_all(path)?;
        if !allow_mount {
            return Ok(Disk::Simulated("--no-tmpfs was given".to_owned()));
        }
        Ok(match TmpfsMount::mount(path, size_mib) {
            Ok(mount) => Disk::Tmpfs(mount),
            Err(why) => Disk::Simulated(why),
        })
    }

    /// Whether the disk can really be filled.
    pub fn is_real(&self) -> bool {
        matches!(self, Disk::Tmpfs(_))
    }
}

/// A mounted tmpfs; unmounted on drop.
pub struct TmpfsMount {
    path: PathBuf,
    mounted: bool,
}

impl TmpfsMount {
    /// Runs `mount -t tmpfs`; the error says why it failed.
    fn mount(path: &Path, size_mib: u64) -> Result<TmpfsMount, String> {
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={size_mib}m,mode=0700"))
            .arg("tmpfs")
            .arg(path)
            .output()
            .map_err(|err| format!("cannot run mount: {err}"))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(format!(
                "mount -t tmpfs failed ({}): {}",
                output.status,
                stderr.trim()
            ));
        }
        Ok(TmpfsMount {
            path: path.to_owned(),
            mounted: true,
        })
    }

    /// Unmounts (lazily if it is busy).
    pub fn unmount(&mut self) -> Result<(), String> {
        if !self.mounted {
            return Ok(());
        }
        let plain = Command::new("umount").arg(&self.path).output();
        if matches!(&plain, Ok(o) if o.status.success()) {
            self.mounted = false;
            return Ok(());
        }
        let lazy = Command::new("umount").arg("-l").arg(&self.path).output();
        match lazy {
            Ok(o) if o.status.success() => {
                self.mounted = false;
                Ok(())
            }
            Ok(o) => Err(format!(
                "umount {} failed: {}",
                self.path.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(err) => Err(format!("cannot run umount: {err}")),
        }
    }
}

impl Drop for TmpfsMount {
    fn drop(&mut self) {
        if let Err(err) = self.unmount() {
            eprintln!("chaos: {err}");
        }
    }
}

/// A file filling the rest of a filesystem.
pub struct Filler {
    path: PathBuf,
    /// Bytes it holds.
    pub bytes: u64,
}

/// Whether `err` means the filesystem is full.
fn is_full(err: &io::Error) -> bool {
    err.raw_os_error() == Some(28) || err.kind() == io::ErrorKind::StorageFull
}

/// Writes a file in `dir` until the filesystem is full (blocking).
pub fn fill(dir: &Path) -> io::Result<Filler> {
    let path = dir.join("chaos-filler");
    let mut file = std::fs::File::create(&path)?;
    let mut bytes = 0u64;
    for block in [1024 * 1024, 4096, 512] {
        let buf = vec![0x5a_u8; block];
        loop {
            match file.write(&buf) {
                Ok(0) => break,
                Ok(n) => bytes += n as u64,
                Err(err) if is_full(&err) => break,
                Err(err) => return Err(err),
            }
        }
    }
    Ok(Filler { path, bytes })
}

impl Filler {
    /// Deletes the file, freeing the space.
    pub fn release(self) -> io::Result<()> {
        std::fs::remove_file(&self.path)
    }
}
