//! Readings from /proc the harness needs beyond `supervisor::procfs`:
//! the workers of a daemon, the daemon's RSS, and the machine's figures.

use std::path::Path;

use supervisor::procfs;

/// What marks every process of one session: the process group its worker
/// is in (everything it starts is born in it) and its PID namespace
/// (nothing leaves it), read while the worker is alive.
#[derive(Clone, Debug)]
pub struct SessionMark {
    /// The worker's process group.
    pub pgid: u32,
    /// The worker's PID namespace, when it is not the harness's own, held
    /// open: the kernel would give its number to a later namespace once
    /// this one is freed.
    pub namespace: Option<(String, std::sync::Arc<std::fs::File>)>,
}

impl SessionMark {
    /// The mark of the session whose worker is `worker`, if it is alive.
    pub fn of(worker: u32) -> Option<SessionMark> {
        let pgid = procfs::stat(worker)?.pgrp;
        let own = procfs::pid_namespace(std::process::id());
        let held = std::fs::File::open(format!("/proc/{worker}/ns/pid")).ok();
        let namespace = procfs::pid_namespace(worker)
            .filter(|ns| Some(ns) != own.as_ref())
            .zip(held.map(std::sync::Arc::new));
        Some(SessionMark { pgid, namespace })
    }

    /// Live processes of the session.
    pub fn members(&self) -> Vec<u32> {
        let mut members = procfs::group_members(self.pgid);
        if let Some((namespace, _)) = &self.namespace {
            for pid in procfs::pids() {
                if !members.contains(&pid)
                    && procfs::is_alive(pid)
                    && procfs::pid_namespace(pid).as_ref() == Some(namespace)
                {
                    members.push(pid);
                }
            }
        }
        members
    }
}

/// Live processes with `socket` among their arguments: the workers of the
/// daemon serving that worker socket. Returns pid and command line.
pub fn workers_of(socket: &Path) -> Vec<(u32, String)> {
    let socket = socket.as_os_str().as_encoded_bytes();
    procfs::pids()
        .into_iter()
        .filter(|pid| procfs::is_alive(*pid))
        .filter_map(|pid| {
            let args = procfs::cmdline(pid)?;
            args.iter().any(|a| a.as_slice() == socket).then(|| {
                let line: Vec<String> = args
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                (pid, line.join(" "))
            })
        })
        .collect()
}

/// Whether the arguments of `pid` include `arg`.
pub fn has_arg(pid: u32, arg: &str) -> bool {
    procfs::cmdline(pid).is_some_and(|args| args.iter().any(|a| a.as_slice() == arg.as_bytes()))
}

/// Resident memory of `pid` (`VmRSS`), bytes.
pub fn vm_rss(pid: u32) -> Option<u64> {
    procfs::status_bytes(pid, "VmRSS:")
}

/// What the report says about the machine.
#[derive(Clone, Debug)]
pub struct Machine {
    /// Logical CPUs available to us.
    pub cores: usize,
    /// `MemTotal`, bytes.
    pub memory: u64,
    /// CPU model name.
    pub cpu: String,
    /// Kernel release.
    pub kernel: String,
}

impl Machine {
    /// Reads the figures of this machine.
    pub fn read() -> Machine {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let memory = procfs::meminfo_bytes("MemTotal:").unwrap_or(0);
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| {
                let line = c.lines().find(|l| l.starts_with("model name"))?;
                Some(line.split_once(':')?.1.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".to_owned());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|k| k.trim().to_owned())
            .unwrap_or_else(|_| "unknown".to_owned());
        Machine {
            cores,
            memory,
            cpu,
            kernel,
        }
    }
}

/// `12.3 MiB`.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
