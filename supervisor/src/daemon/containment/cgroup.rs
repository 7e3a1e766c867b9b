//! A cgroup per session, where this machine lets the daemon make one.
//!
//! Detected at start ([`Cgroups::detect`]), never assumed: a cgroup v2
//! tree the daemon may manage (delegated to it: it can create children of
//! its own cgroup with `memory` and `pids` enabled), else the cgroup v1
//! `memory` and `pids` hierarchies when the daemon may write them, else
//! none (the session is then held by its PID namespace alone, and its
//! memory is sampled, not capped). A session's cgroup counts every
//! process of it against `memory.max` and `pids.max`, lists them, and
//! reports the kernel's OOM kills.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use protocol::SessionId;

/// The cgroup trees the daemon makes session cgroups in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Cgroups {
    /// cgroup v2: sessions are children of `base`, which has `memory` and
    /// `pids` enabled for them (the daemon itself moved to `base/daemon`).
    V2 { base: PathBuf },
    /// cgroup v1: sessions are children of `memory` and of `pids`.
    V1 { memory: PathBuf, pids: PathBuf },
    /// No cgroup the daemon may manage.
    None { why: String },
}

impl Cgroups {
    /// What this machine offers the daemon with pid `daemon`.
    pub(crate) fn detect(daemon: u32) -> Cgroups {
        let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let mut why = Vec::new();
        match v2(&mounts, &own) {
            Ok(base) => return Cgroups::V2 { base },
            Err(err) => why.push(format!("v2: {err}")),
        }
        match v1(&mounts, &own, daemon) {
            Ok((memory, pids)) => return Cgroups::V1 { memory, pids },
            Err(err) => why.push(format!("v1: {err}")),
        }
        Cgroups::None {
            why: why.join("; "),
        }
    }

    /// One line for `studio daemon status` and the session's event.
    pub(crate) fn describe(&self) -> String {
        match self {
            Cgroups::V2 { base } => format!("cgroup v2 under {}", base.display()),
            Cgroups::V1 { memory, .. } => format!(
                "cgroup v1 memory and pids under {}",
                memory.parent().unwrap_or(memory).display()
            ),
            Cgroups::None { why } => format!("no cgroup ({why})"),
        }
    }

    /// Creates the cgroup of `session`, limited to `memory_max` bytes
    /// (when given) and `pids_max` processes.
    pub(crate) fn create(
        &self,
        session: SessionId,
        memory_max: Option<u64>,
        pids_max: u32,
    ) -> io::Result<Option<SessionCgroup>> {
        let name = session.to_string();
        let cgroup = match self {
            Cgroups::V2 { base } => SessionCgroup {
                version: Version::V2,
                memory: base.join(&name),
                pids: base.join(&name),
            },
            Cgroups::V1 { memory, pids } => SessionCgroup {
                version: Version::V1,
                memory: memory.join(&name),
                pids: pids.join(&name),
            },
            Cgroups::None { .. } => return Ok(None),
        };
        for dir in cgroup.dirs() {
            match fs::create_dir(dir) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
                Err(err) => return Err(context(dir, err)),
            }
        }
        let write = |dir: &Path, file: &str, value: &str| {
            fs::write(dir.join(file), value).map_err(|err| context(&dir.join(file), err))
        };
        write(&cgroup.pids, "pids.max", &pids_max.to_string())?;
        if let Some(bytes) = memory_max {
            let limit = bytes.to_string();
            match cgroup.version {
                Version::V2 => {
                    write(&cgroup.memory, "memory.max", &limit)?;
                    // Swap would let it hold more than the limit.
                    let _ = fs::write(cgroup.memory.join("memory.swap.max"), "0");
                }
                Version::V1 => {
                    write(&cgroup.memory, "memory.limit_in_bytes", &limit)?;
                    let _ = fs::write(cgroup.memory.join("memory.memsw.limit_in_bytes"), &limit);
                }
            }
        }
        Ok(Some(cgroup))
    }
}

/// Which cgroup interface a session cgroup speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// One session's cgroup (in v1, one directory per hierarchy).
#[derive(Debug)]
pub(crate) struct SessionCgroup {
    version: Version,
    memory: PathBuf,
    pids: PathBuf,
}

impl SessionCgroup {
    fn dirs(&self) -> Vec<&Path> {
        if self.memory == self.pids {
            vec![&self.memory]
        } else {
            vec![&self.memory, &self.pids]
        }
    }

    /// The `cgroup.procs` files a process writes `0` to, to join.
    pub(crate) fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs()
            .into_iter()
            .map(|dir| dir.join("cgroup.procs"))
            .collect()
    }

    /// Every process in it.
    pub(crate) fn members(&self) -> Vec<u32> {
        fs::read_to_string(self.pids.join("cgroup.procs"))
            .map(|text| text.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// How many processes the kernel's OOM killer killed in it.
    pub(crate) fn oom_kills(&self) -> u64 {
        let file = match self.version {
            Version::V2 => "memory.events",
            Version::V1 => "memory.oom_control",
        };
        fs::read_to_string(self.memory.join(file))
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|line| line.strip_prefix("oom_kill "))
                    .and_then(|n| n.trim().parse().ok())
            })
            .unwrap_or(0)
    }

    /// The most memory it used at once, bytes.
    pub(crate) fn peak_bytes(&self) -> Option<u64> {
        let file = match self.version {
            Version::V2 => "memory.peak",
            Version::V1 => "memory.max_usage_in_bytes",
        };
        fs::read_to_string(self.memory.join(file))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// SIGKILL to every process in it (`cgroup.kill` where there is one).
    pub(crate) fn kill(&self) {
        if self.version == Version::V2 && fs::write(self.pids.join("cgroup.kill"), "1").is_ok() {
            return;
        }
        for pid in self.members() {
            super::kill_pid(pid);
        }
    }

    /// Removes it once empty (best effort: a cgroup with processes stays).
    pub(crate) fn remove(&self) {
        for dir in self.dirs() {
            if let Err(err) = fs::remove_dir(dir)
                && err.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(cgroup = %dir.display(), %err, "cannot remove the session's cgroup");
            }
        }
    }
}

/// Removes the (empty) cgroups of daemons that are gone: `ai-studio-PID`
/// under `parent`, with their sessions' cgroups.
fn remove_stale(parent: &Path, daemon: u32) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("ai-studio-"))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == daemon || crate::procfs::is_alive(pid) {
            continue;
        }
        remove_tree(&entry.path());
    }
}

/// Removes a daemon's cgroup and its sessions' (those still holding a
/// process stay).
fn remove_tree(dir: &Path) {
    if let Ok(sessions) = fs::read_dir(dir) {
        for session in sessions.flatten() {
            if session.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = fs::remove_dir(session.path());
            }
        }
    }
    let _ = fs::remove_dir(dir);
}

impl Cgroups {
    /// At daemon stop: removes the daemon's own v1 cgroups (v2 keeps its
    /// delegated tree, whose session cgroups are removed as they end).
    pub(crate) fn remove_own(&self) {
        if let Cgroups::V1 { memory, pids } = self {
            remove_tree(memory);
            remove_tree(pids);
        }
    }
}

fn context(path: &Path, err: io::Error) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}

/// Mount points of cgroup file systems: (mount point, fs type, super options).
fn cgroup_mounts(mountinfo: &str) -> Vec<(PathBuf, String, String)> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let mount_point = before.split(' ').nth(4)?;
            let mut after = after.split(' ');
            let fs_type = after.next()?;
            let options = after.nth(1).unwrap_or_default();
            fs_type.starts_with("cgroup").then(|| {
                (
                    PathBuf::from(mount_point),
                    fs_type.to_owned(),
                    options.to_owned(),
                )
            })
        })
        .collect()
}

/// This process's cgroup path in the hierarchy holding `controller` (v1),
/// or in the unified one (`controller` empty).
fn own_path<'a>(own: &'a str, controller: &str) -> Option<&'a str> {
    own.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let matches = if controller.is_empty() {
            controllers.is_empty()
        } else {
            controllers.split(',').any(|c| c == controller)
        };
        matches.then_some(path)
    })
}

fn v2(mounts: &str, own: &str) -> Result<PathBuf, String> {
    let (mount, ..) = cgroup_mounts(mounts)
        .into_iter()
        .find(|(_, fs_type, _)| fs_type == "cgroup2")
        .ok_or("no cgroup2 mount")?;
    let path = own_path(own, "").ok_or("not in a cgroup2 hierarchy")?;
    let base = mount.join(path.trim_start_matches('/'));
    let controllers = fs::read_to_string(base.join("cgroup.controllers")).unwrap_or_default();
    let available: Vec<&str> = controllers.split_whitespace().collect();
    if !(available.contains(&"memory") && available.contains(&"pids")) {
        return Err(format!(
            "{} does not offer the memory and pids controllers",
            base.display()
        ));
    }
    // No process may sit in a cgroup whose children have controllers: the
    // daemon moves to a leaf of its own first.
    let leaf = base.join("daemon");
    fs::create_dir_all(&leaf).map_err(|err| format!("{}: {err}", leaf.display()))?;
    fs::write(leaf.join("cgroup.procs"), "0")
        .map_err(|err| format!("cannot move into {}: {err}", leaf.display()))?;
    fs::write(base.join("cgroup.subtree_control"), "+memory +pids")
        .map_err(|err| format!("cannot enable memory and pids in {}: {err}", base.display()))?;
    Ok(base)
}

fn v1(mounts: &str, own: &str, daemon: u32) -> Result<(PathBuf, PathBuf), String> {
    let mounts = cgroup_mounts(mounts);
    let hierarchy = |controller: &str| -> Result<PathBuf, String> {
        let (mount, ..) = mounts
            .iter()
            .find(|(_, fs_type, options)| {
                fs_type == "cgroup" && options.split(',').any(|o| o == controller)
            })
            .ok_or_else(|| format!("no {controller} hierarchy"))?;
        let path =
            own_path(own, controller).ok_or_else(|| format!("not in a {controller} cgroup"))?;
        let parent = mount.join(path.trim_start_matches('/'));
        remove_stale(&parent, daemon);
        let dir = parent.join(format!("ai-studio-{daemon}"));
        fs::create_dir_all(&dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        Ok(dir)
    };
    Ok((hierarchy("memory")?, hierarchy("pids")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
31 25 0:27 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
35 31 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const OWN: &str = "8:pids:/\n4:memory:/process_api/abc\n0::/\n";

    #[test]
    fn mounts_and_own_paths_are_read_from_proc() {
        let mounts = cgroup_mounts(MOUNTINFO);
        assert_eq!(mounts.len(), 3);
        assert_eq!(
            mounts[0],
            (
                PathBuf::from("/sys/fs/cgroup/memory"),
                "cgroup".to_owned(),
                "rw,memory".to_owned()
            )
        );
        assert_eq!(own_path(OWN, "memory"), Some("/process_api/abc"));
        assert_eq!(own_path(OWN, "pids"), Some("/"));
        assert_eq!(own_path(OWN, ""), Some("/"));
        assert_eq!(own_path(OWN, "cpu"), None);
    }
}
