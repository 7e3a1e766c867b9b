//! The root a confined command sees, built in its own mount namespace: a
//! small tmpfs holding bind mounts of what it may see, at their usual
//! paths, and nothing else. Built on an empty directory, then made the
//! process's root with `pivot_root`, the old root detached (unlike
//! `chroot`, nothing of it stays reachable). Git's metadata under what it
//! writes is mounted read-only on top ([`super::git_metadata`]).

use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use protocol::sandbox::Network;
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};

use super::{DEVICES, SYSTEM_PATHS};

/// What a command may see besides the system's directories (all real
/// paths).
pub(super) struct View {
    pub(super) workspace: PathBuf,
    pub(super) tmp: PathBuf,
    pub(super) read: Vec<PathBuf>,
    pub(super) write: Vec<PathBuf>,
    pub(super) network: Network,
    /// Whether the workspace is written (`workspace-write`).
    pub(super) writes_workspace: bool,
}

/// Builds the command's root on the empty directory `on` and makes it
/// this process's root. Needs a mount namespace of its own.
pub(super) fn build(on: &Path, view: &View) -> io::Result<()> {
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
    )?;
    rustix::mount::mount(
        "tmpfs",
        on,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::NODEV,
        c"mode=0755,size=1m",
    )?;
    for path in SYSTEM_PATHS {
        show(on, Path::new(path))?;
    }
    // Processes and devices: the host's /proc (its other processes are
    // out of reach of a user namespace and Landlock), a few devices, a
    // /dev/shm of its own.
    bind_dir(on, Path::new("/proc"))?;
    for device in DEVICES {
        bind_file(on, Path::new(device))?;
    }
    let shm = on.join("dev/shm");
    mkdir(&shm)?;
    rustix::mount::mount(
        "tmpfs",
        &shm,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::NODEV,
        c"mode=1777",
    )?;
    for (link, target) in [
        ("dev/fd", "/proc/self/fd"),
        ("dev/stdin", "/proc/self/fd/0"),
        ("dev/stdout", "/proc/self/fd/1"),
        ("dev/stderr", "/proc/self/fd/2"),
    ] {
        std::os::unix::fs::symlink(target, on.join(link))?;
    }
    // Its private /tmp, its workspace, the agent's extra paths: what it
    // only reads is mounted read-only, so that even one that lies under a
    // writable path (a workspace in /tmp) stays read-only.
    let tmp = on.join("tmp");
    mkdir(&tmp)?;
    rustix::mount::mount_bind(&view.tmp, &tmp)?;
    let read_only_workspace = !view.writes_workspace;
    for (path, read_only) in std::iter::once((&view.workspace, read_only_workspace))
        .chain(view.read.iter().map(|p| (p, true)))
        .chain(view.write.iter().map(|p| (p, false)))
    {
        show(on, path)?;
        if read_only && !std::fs::symlink_metadata(path)?.file_type().is_symlink() {
            make_read_only(&under(on, path))?;
        }
    }
    // Git's metadata under what it writes is read-only, but for what the
    // agent was granted explicitly (mounted again on top).
    let mut writable: Vec<PathBuf> = view.write.clone();
    if view.writes_workspace {
        writable.insert(0, view.workspace.clone());
    }
    let protected = super::git_metadata::protected(&writable);
    for path in &protected {
        show(on, path)?;
        make_read_only(&under(on, path))?;
    }
    for granted in &view.write {
        if protected.iter().any(|p| granted.starts_with(p)) {
            show(on, granted)?;
        }
    }
    // With a network, the resolver's configuration may live under /run.
    if view.network == Network::On
        && let Ok(resolv) = std::fs::canonicalize("/etc/resolv.conf")
        && let Some(dir) = resolv.parent().filter(|d| !d.starts_with("/etc"))
    {
        show(on, dir)?;
    }
    // Make it the root; the old one is detached whole.
    std::env::set_current_dir(on)?;
    rustix::process::pivot_root(".", ".")?;
    rustix::mount::unmount(".", UnmountFlags::DETACH)?;
    std::env::set_current_dir("/")?;
    Ok(())
}

/// Shows `path` (a directory, a file or a symlink) at the same place under
/// `on`.
fn show(on: &Path, path: &Path) -> io::Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if meta.file_type().is_symlink() {
        // A merged /usr: /bin -> usr/bin. Keep the link; its target is shown.
        let at = under(on, path);
        if let Some(parent) = at.parent() {
            mkdir(parent)?;
        }
        if std::fs::symlink_metadata(&at).is_err() {
            std::os::unix::fs::symlink(std::fs::read_link(path)?, at)?;
        }
        return Ok(());
    }
    if meta.is_dir() {
        bind_dir(on, path)
    } else {
        bind_file(on, path)
    }
}

fn bind_dir(on: &Path, path: &Path) -> io::Result<()> {
    let at = under(on, path);
    mkdir(&at)?;
    rustix::mount::mount_bind_recursive(path, &at)?;
    Ok(())
}

fn bind_file(on: &Path, path: &Path) -> io::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let at = under(on, path);
    if let Some(parent) = at.parent() {
        mkdir(parent)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&at)?;
    rustix::mount::mount_bind(path, &at)?;
    Ok(())
}

/// Remounts the bind mount at `at` read-only, keeping the flags the
/// kernel locks on mounts from a more privileged namespace (a user
/// namespace may not clear `nosuid`, `nodev`, `noexec` or the atime ones).
fn make_read_only(at: &Path) -> io::Result<()> {
    use rustix::fs::StatVfsMountFlags as Has;
    let has = rustix::fs::statvfs(at)?.f_flag;
    let mut flags = MountFlags::BIND | MountFlags::RDONLY;
    for (present, keep) in [
        (Has::NOSUID, MountFlags::NOSUID),
        (Has::NODEV, MountFlags::NODEV),
        (Has::NOEXEC, MountFlags::NOEXEC),
        (Has::NOATIME, MountFlags::NOATIME),
        (Has::NODIRATIME, MountFlags::NODIRATIME),
        (Has::RELATIME, MountFlags::RELATIME),
    ] {
        if has.contains(present) {
            flags |= keep;
        }
    }
    rustix::mount::mount_remount(at, flags, c"")?;
    Ok(())
}

fn under(on: &Path, path: &Path) -> PathBuf {
    on.join(path.strip_prefix("/").unwrap_or(path))
}

fn mkdir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
}
