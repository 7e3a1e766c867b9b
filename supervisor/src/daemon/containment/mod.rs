//! Holding every process of a session, whatever it does.
//!
//! A session's worker starts in a PID namespace of its own (inside a user
//! namespace, so no privilege is needed): `studio-worker` is started after
//! `unshare(CLONE_NEWUSER | CLONE_NEWPID)`, and that outer process starts
//! an init, PID 1 of the new namespace, which starts the real worker
//! (`workers/src/init.rs`). Everything the session starts is born in the
//! namespace and cannot leave it: a new session (`setsid`), a double fork
//! or `nohup` only reparents a process to the init. When the init dies
//! (after the worker, or killed) the kernel kills the whole namespace, and
//! the outer process exits only after that: its exit, which the Session
//! actor waits for, means nothing of the session is left. The user
//! namespace also keeps the session's processes out of the daemon's and
//! other sessions' `/proc/PID/environ` and memory.
//!
//! Where the machine lets the daemon make one, each session also gets a
//! cgroup ([`cgroup`]): `memory.max` and `pids.max` count every process of
//! the session (a fork bomb stops at the limit), and the cgroup lists
//! them all. Without one, the session's processes are found by walking
//! down from the worker, and memory is sampled, not capped.
//!
//! Why a PID namespace and not only a cgroup: it needs no delegation (it
//! works for any user wherever user namespaces do), and the kernel itself
//! ends every process when the worker ends, with no race against a fork
//! bomb. The cgroup adds what a namespace cannot: counting memory and
//! processes. Where neither is available the session says so
//! (`session.contained`) and only its process group holds it.

pub(crate) mod cgroup;

use std::ffi::CString;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use protocol::SessionId;
use protocol::sandbox::{SandboxSupport, SessionContainment};
use rustix::process::{Pid, Signal};
use studio_process::ChildEnv;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

use crate::procfs;
pub(crate) use cgroup::{Cgroups, SessionCgroup};

/// How long the worker has to say which process will connect.
const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(10);

/// Environment variables a worker inherits; everything else is dropped.
pub(crate) const INHERITED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "STUDIO_LOG",
    "RUST_BACKTRACE",
];

/// Every process of one session: the outer process the daemon started,
/// the worker (PID 1 of the session's namespace), its cgroup. Dropping it
/// kills them all, so a Session actor that dies for any reason takes its
/// processes with it.
#[derive(Debug)]
pub(crate) struct SessionProcesses {
    /// The process the daemon started (and waits for).
    outer: u32,
    /// The worker, which connects; the same as `outer` without a namespace.
    worker: u32,
    /// PID 1 of the session's namespace (and leader of the process group
    /// of everything in it), held so a signal never reaches a reused pid.
    init: Option<(u32, Option<OwnedFd>)>,
    cgroup: Option<SessionCgroup>,
}

impl SessionProcesses {
    /// The worker's pid (the process that connects).
    pub(crate) fn worker(&self) -> u32 {
        self.worker
    }

    /// What holds this session, for its `session.contained` event.
    pub(crate) fn containment(&self, cgroups: &Cgroups) -> SessionContainment {
        let mut missing = Vec::new();
        if self.init.is_none() {
            missing.push(
                "PID namespace (user namespaces are off): a process that starts its own session can outlive it"
                    .to_owned(),
            );
        }
        if self.cgroup.is_none() {
            missing.push(format!(
                "{}: memory is sampled, not capped, and processes are not counted",
                cgroups.describe()
            ));
        }
        SessionContainment {
            pid_namespace: self.init.is_some(),
            cgroup: self.cgroup.is_some().then(|| cgroups.describe()),
            missing,
        }
    }

    /// SIGKILL to every process of the session. The init first: as PID 1
    /// of the namespace its death takes everything in it.
    pub(crate) fn kill(&self) {
        match &self.init {
            Some((pid, Some(fd))) => match rustix::process::pidfd_send_signal(fd, Signal::KILL) {
                Ok(()) | Err(rustix::io::Errno::SRCH) => {}
                Err(err) => tracing::warn!(pid, %err, "cannot kill the session's init"),
            },
            Some((pid, None)) => kill_group(*pid),
            // Without a namespace the worker leads the session's group.
            None => kill_group(self.outer),
        }
        if let Some((pid, _)) = &self.init {
            kill_group(*pid);
        }
        if let Some(cgroup) = &self.cgroup {
            cgroup.kill();
        }
    }

    /// The process group everything of the session is born in.
    fn group(&self) -> u32 {
        self.init.as_ref().map_or(self.outer, |(pid, _)| *pid)
    }

    /// Every live process of the session.
    pub(crate) fn members(&self) -> Vec<u32> {
        match (&self.cgroup, &self.init) {
            (Some(cgroup), _) => cgroup.members(),
            (None, Some((init, _))) => procfs::descendants(*init),
            (None, None) => procfs::group_members(self.outer),
        }
    }

    /// Resident memory of the worker and every process the session
    /// started, bytes (the outer process and the init, which only hold
    /// the session, are left out).
    pub(crate) fn rss_bytes(&self) -> u64 {
        let holders = [Some(self.outer), self.init.as_ref().map(|(pid, _)| *pid)];
        self.members()
            .into_iter()
            .filter(|pid| *pid == self.worker || !holders.contains(&Some(*pid)))
            .filter_map(procfs::rss_bytes)
            .sum()
    }

    /// Processes the kernel's OOM killer killed in the session's cgroup.
    pub(crate) fn oom_kills(&self) -> u64 {
        self.cgroup.as_ref().map_or(0, SessionCgroup::oom_kills)
    }

    /// The most memory the session's cgroup held at once, bytes.
    pub(crate) fn peak_bytes(&self) -> Option<u64> {
        self.cgroup.as_ref().and_then(SessionCgroup::peak_bytes)
    }

    /// Waits (up to `timeout`) until no process of the session is left,
    /// killing again meanwhile; says whether it emptied.
    pub(crate) async fn wait_empty(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (group, worker) = (self.group(), self.worker);
            let init = self.init.as_ref().map(|(pid, _)| *pid);
            // The cgroup lists every process of the session; without one,
            // /proc is scanned for its process group.
            let in_cgroup = self.cgroup.as_ref().map(SessionCgroup::members);
            let scan = in_cgroup.is_none();
            let left = tokio::task::spawn_blocking(move || {
                let mut left = if scan {
                    procfs::group_members(group)
                } else {
                    Vec::new()
                };
                for pid in std::iter::once(worker).chain(init) {
                    if procfs::is_alive(pid) && !left.contains(&pid) {
                        left.push(pid);
                    }
                }
                left
            })
            .await
            .unwrap_or_default();
            if left.is_empty() && in_cgroup.as_ref().is_none_or(Vec::is_empty) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(
                    worker = self.worker,
                    ?left,
                    ?in_cgroup,
                    "the session still has live processes"
                );
                return false;
            }
            self.kill();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for SessionProcesses {
    fn drop(&mut self) {
        self.kill();
        if let Some(cgroup) = &self.cgroup {
            cgroup.remove();
        }
    }
}

/// How sessions are held and commands confined here, for `studio daemon
/// status`, one line each.
pub(crate) fn describe(cgroups: &Cgroups, support: SandboxSupport) -> Vec<String> {
    let namespaces = if support.user_namespaces {
        "PID namespace per session"
    } else {
        "no PID namespaces (user namespaces are off): only a process group holds a session"
    };
    let mut lines = vec![
        format!("processes: {namespaces}; {}", cgroups.describe()),
        format!("commands: {support}"),
    ];
    let missing = support.missing();
    if !missing.is_empty() {
        lines.push(format!(
            "missing: {}; confined agents' commands are refused unless the agent sets sandbox.fallback = \"run\"",
            missing.join(", ")
        ));
    }
    lines
}

/// Why the process `peer` (a client of the control socket) counts as part
/// of a session, if it does: it lives in another PID namespace than the
/// daemon's (every session has one of its own, and nothing leaves it),
/// or the daemon is among its ancestors (the daemon's only children are
/// workers and their jobs). An unknown or vanished peer counts too. Such a
/// client may only read (`ControlRequest::only_reads`): an agent must
/// never act as the person who approves it.
pub(crate) fn session_peer(peer: Option<u32>) -> Option<String> {
    let Some(peer) = peer else {
        return Some("the peer's process is unknown".to_owned());
    };
    let daemon = std::process::id();
    let own_namespace = procfs::pid_namespace(daemon);
    match procfs::pid_namespace(peer) {
        None => return Some(format!("process {peer} is gone or hidden")),
        Some(namespace) if Some(&namespace) != own_namespace.as_ref() => {
            return Some(format!("process {peer} runs in a session's PID namespace"));
        }
        Some(_) => {}
    }
    let mut pid = peer;
    for _ in 0..256 {
        let Some(parent) = procfs::stat(pid).map(|s| s.ppid) else {
            break;
        };
        if parent == daemon {
            return Some(format!("process {peer} was started by a session's worker"));
        }
        if parent <= 1 {
            break;
        }
        pid = parent;
    }
    None
}

/// Removes the private temp dir the worker made for `session`'s commands
/// (`$TMPDIR/studio-SESSION`, and beside it the mount point of their
/// roots and the sockets of its plugin servers' proxies): the worker
/// inherits the daemon's `TMPDIR`.
pub(crate) async fn remove_private_tmp(session: SessionId) {
    let tmp = std::env::temp_dir().join(format!("studio-{session}"));
    let root = std::env::temp_dir().join(format!("studio-{session}.root"));
    let net = std::env::temp_dir().join(format!("studio-{session}.net"));
    let removed = tokio::task::spawn_blocking(move || {
        // remove_dir_all does not follow the symlinks a command left.
        match std::fs::remove_dir_all(&tmp) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => {
                tracing::warn!(dir = %tmp.display(), %err, "cannot remove a session's temp dir")
            }
        }
        let _ = std::fs::remove_dir(&root);
        let _ = std::fs::remove_dir_all(&net);
    });
    let _ = removed.await;
}

/// SIGKILL to `pid`, ignoring one that is gone.
pub(crate) fn kill_pid(pid: u32) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process(pid, Signal::KILL);
    }
}

/// SIGKILL to process group `pgid`, ignoring an already-empty group.
pub(crate) fn kill_group(pgid: u32) {
    let Some(pid) = i32::try_from(pgid).ok().and_then(Pid::from_raw) else {
        return;
    };
    match rustix::process::kill_process_group(pid, Signal::KILL) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => {}
        Err(err) => tracing::warn!(pgid, %err, "cannot kill process group"),
    }
}

/// What a forked child does before it becomes the worker, prepared in the
/// daemon so the child only makes system calls (it may not allocate).
struct Prepared {
    /// `cgroup.procs` files to write `0` to (joining the session's cgroup).
    cgroup_procs: Vec<OwnedFd>,
    /// `uid_map` and `gid_map` lines mapping the daemon's ids to themselves.
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
    /// Whether to enter new user and PID namespaces at all.
    namespaces: bool,
}

impl Prepared {
    fn new(cgroup: Option<&SessionCgroup>, namespaces: bool) -> io::Result<Self> {
        let mut cgroup_procs = Vec::new();
        for file in cgroup.map(SessionCgroup::procs_files).unwrap_or_default() {
            let path = CString::new(file.as_os_str().as_bytes())
                .map_err(|_| io::Error::other("a cgroup path holds a NUL byte"))?;
            let fd = rustix::fs::open(
                path.as_c_str(),
                rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|err| io::Error::new(err.kind(), format!("{}: {err}", file.display())))?;
            cgroup_procs.push(fd);
        }
        let uid = rustix::process::geteuid().as_raw();
        let gid = rustix::process::getegid().as_raw();
        Ok(Self {
            cgroup_procs,
            uid_map: format!("{uid} {uid} 1").into_bytes(),
            gid_map: format!("{gid} {gid} 1").into_bytes(),
            namespaces,
        })
    }

    /// In the forked child: joins the cgroup, then enters new user and PID
    /// namespaces when the kernel allows (else the worker runs without).
    fn apply(&self) -> io::Result<()> {
        for fd in &self.cgroup_procs {
            rustix::io::write(fd, b"0")?;
        }
        if !self.namespaces {
            return Ok(());
        }
        use rustix::thread::UnshareFlags;
        // SAFETY: the flags do not include CLONE_FILES; the child is single-threaded.
        #[expect(unsafe_code, reason = "unshare in the single-threaded forked child")]
        let unshared =
            unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWUSER | UnshareFlags::NEWPID) };
        if unshared.is_err() {
            return Ok(());
        }
        write_proc(c"/proc/self/setgroups", b"deny")?;
        write_proc(c"/proc/self/uid_map", &self.uid_map)?;
        write_proc(c"/proc/self/gid_map", &self.gid_map)?;
        Ok(())
    }
}

fn write_proc(path: &std::ffi::CStr, bytes: &[u8]) -> io::Result<()> {
    let fd = rustix::fs::open(path, rustix::fs::OFlags::WRONLY, rustix::fs::Mode::empty())?;
    rustix::io::write(&fd, bytes)?;
    Ok(())
}

/// Starts `studio-worker` for `session` in its own namespaces and
/// `cgroup`, and learns which process will connect. The worker then waits
/// for its token on stdin: hand it over with `worker_process::send_token`
/// once that pid is registered.
pub(crate) async fn spawn_worker(
    bin: &Path,
    socket: &Path,
    session: SessionId,
    cgroup: Option<SessionCgroup>,
    namespaces: bool,
) -> io::Result<(SessionProcesses, Child)> {
    let prepared = Prepared::new(cgroup.as_ref(), namespaces)?;
    let mut cmd = studio_process::command(bin, ChildEnv::Only(INHERITED_ENV));
    cmd.arg("--socket")
        .arg(socket)
        .arg("--session")
        .arg(session.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        // Read by `StderrTail`: to the daemon's log, its last lines kept.
        .stderr(Stdio::piped())
        .process_group(0);
    let parent = rustix::process::getpid();
    #[expect(
        unsafe_code,
        reason = "pre_exec runs between fork and exec; it only makes async-signal-safe syscalls"
    )]
    // SAFETY: the closure makes system calls on memory prepared before the
    // fork (`Prepared`) and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            // PR_SET_PDEATHSIG: the worker dies with the daemon.
            rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
            // The daemon may have died before prctl took effect.
            if rustix::process::getppid() != Some(parent) {
                return Err(io::Error::other("daemon exited during spawn"));
            }
            prepared.apply()
        });
    }
    let mut child = cmd.spawn().map_err(|err| {
        io::Error::new(
            err.kind(),
            format!("cannot start worker {}: {err}", bin.display()),
        )
    })?;
    let outer = child
        .id()
        .ok_or_else(|| io::Error::other("worker exited before it could be tracked"))?;
    let mut processes = SessionProcesses {
        outer,
        worker: outer,
        init: None,
        cgroup,
    };
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| io::Error::other("the worker's stdout is not a pipe"))?;
    let mut line = String::new();
    let announced = tokio::time::timeout(
        ANNOUNCE_TIMEOUT,
        BufReader::new(stdout).read_line(&mut line),
    )
    .await;
    match announced {
        Ok(Ok(_)) => {}
        Ok(Err(err)) => return Err(err),
        Err(_) => return Err(io::Error::other("the worker did not start within 10s")),
    }
    let pids: Vec<u32> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| io::Error::other(format!("the worker announced {line:?}, not pids")))?;
    match pids[..] {
        // No namespace: the process the daemon started is the worker.
        [worker] if worker == outer => {}
        [worker, init] => {
            // The init must be the outer process's child, the worker the init's.
            let parent = |pid| procfs::stat(pid).map(|s| s.ppid);
            if parent(init) != Some(outer) || parent(worker) != Some(init) {
                return Err(io::Error::other(format!(
                    "the worker announced {line:?}, which are not its descendants"
                )));
            }
            let fd = i32::try_from(init)
                .ok()
                .and_then(Pid::from_raw)
                .and_then(|pid| {
                    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
                });
            processes.worker = worker;
            processes.init = Some((init, fd));
        }
        _ => {
            return Err(io::Error::other(format!(
                "the worker announced {line:?}, not its pid"
            )));
        }
    }
    Ok((processes, child))
}
