//! How an agent's commands are confined: what an agent asks for
//! ([`SandboxConfig`], under `[sandbox]` in its TOML) on top of its safety
//! mode, and what a tool call actually ran in ([`Confinement`], recorded
//! in `tool.started`).
//!
//! Every `shell` command and stdio MCP server of a `read-only` or
//! `workspace-write` agent runs under Landlock with `no_new_privs`: it
//! reads the system's directories, its workspace, its private temp dir
//! and the agent's `read` paths; it writes only in its private temp dir,
//! the workspace (`workspace-write`) and the agent's `write` paths; and
//! without a network of its own unless `network = "on"`. A `full` agent's
//! commands are not confined, and say so.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::agent::SafetyMode;

/// Processes a session may have at once when its agent sets no limit.
pub const DEFAULT_MAX_PROCESSES: u32 = 512;

/// What an agent asks of its sandbox, beyond its safety mode.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    /// Whether commands reach the network (never for `read-only`/
    /// `workspace-write` agents unless `on`).
    #[serde(default)]
    pub network: Network,
    /// More paths commands may read; absolute, or `~/` for the home dir.
    #[serde(default)]
    pub read: Vec<String>,
    /// More paths commands may write (and read); absolute, or `~/`.
    #[serde(default)]
    pub write: Vec<String>,
    /// Most processes the session may have at once (a fork bomb stops
    /// there); `None` is [`DEFAULT_MAX_PROCESSES`].
    #[serde(default)]
    pub max_processes: Option<u32>,
    /// What a command does where the kernel lacks a mechanism the sandbox
    /// needs: refused (the default), or run with what there is.
    #[serde(default)]
    pub fallback: Fallback,
}

impl SandboxConfig {
    /// Checks what serde cannot: paths that can be resolved, a sane limit.
    pub fn validate(&self) -> Result<(), String> {
        for path in self.read.iter().chain(&self.write) {
            if !(path.starts_with('/') || path.starts_with("~/")) {
                return Err(format!(
                    "sandbox path {path:?} must be absolute or start with ~/"
                ));
            }
            if path.split('/').any(|part| part == "..") {
                return Err(format!("sandbox path {path:?} must not use '..'"));
            }
        }
        if self.max_processes == Some(0) {
            return Err("sandbox.max_processes must be at least 1".to_owned());
        }
        Ok(())
    }

    /// The limit of processes in force.
    pub fn max_processes(&self) -> u32 {
        self.max_processes.unwrap_or(DEFAULT_MAX_PROCESSES)
    }
}

/// Whether commands have a network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// A network namespace of their own with nothing in it.
    #[default]
    Off,
    /// The machine's network.
    On,
}

impl Network {
    /// `off` or `on`.
    pub fn as_str(self) -> &'static str {
        match self {
            Network::Off => "off",
            Network::On => "on",
        }
    }
}

impl std::str::FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(Network::Off),
            "on" => Ok(Network::On),
            _ => Err(format!("unknown network setting {s:?}: expected off or on")),
        }
    }
}

/// What happens where the kernel lacks a mechanism of the sandbox.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fallback {
    /// The command is refused, saying which mechanism is missing.
    #[default]
    Refuse,
    /// The command runs with the mechanisms there are; `tool.started`
    /// names the missing ones.
    Run,
}

/// The confinement a tool call ran in, as recorded in `tool.started`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confinement {
    /// The agent's safety mode.
    pub mode: SafetyMode,
    /// Whether anything confined it (`false` for a `full` agent's
    /// commands, which run as the user does).
    pub confined: bool,
    /// Where it could write.
    pub writable: Vec<String>,
    /// Whether it had a network.
    pub network: Network,
    /// Mechanisms the sandbox wanted and the kernel lacked (only with
    /// `fallback = "run"`).
    pub missing: Vec<String>,
}

impl fmt::Display for Confinement {
    /// `workspace-write: writes /ws, /tmp/x; network off`, or `full:
    /// unconfined`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.confined {
            return write!(f, "{}: unconfined", self.mode);
        }
        write!(f, "{}: ", self.mode)?;
        if self.writable.is_empty() {
            f.write_str("writes nothing")?;
        } else {
            write!(f, "writes {}", self.writable.join(", "))?;
        }
        write!(f, "; network {}", self.network.as_str())?;
        if !self.missing.is_empty() {
            write!(f, "; without {}", self.missing.join(", "))?;
        }
        Ok(())
    }
}

/// What this machine's kernel offers the sandbox, as the daemon found at
/// start (`studio-worker sandbox --probe`); every worker is told.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxSupport {
    /// Unprivileged user namespaces (and with them mount and network
    /// namespaces): a command's own view of the file system and network.
    pub user_namespaces: bool,
    /// The Landlock ABI version, 0 when Landlock is not available.
    pub landlock_abi: u32,
}

impl SandboxSupport {
    /// What a confined command would run without on this machine.
    pub fn missing(&self) -> Vec<String> {
        let mut missing = Vec::new();
        if !self.user_namespaces {
            missing.push("namespaces (its own file system view and network)".to_owned());
        }
        if self.landlock_abi == 0 {
            missing.push("Landlock (write and read limits)".to_owned());
        }
        missing
    }
}

impl fmt::Display for SandboxSupport {
    /// `Landlock ABI 7; user, mount and network namespaces`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.landlock_abi {
            0 => f.write_str("no Landlock")?,
            abi => write!(f, "Landlock ABI {abi}")?,
        }
        if self.user_namespaces {
            f.write_str("; user, mount and network namespaces")
        } else {
            f.write_str("; no user namespaces")
        }
    }
}

/// What holds every process of a session, as recorded in `session.contained`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionContainment {
    /// The worker is PID 1 of a namespace of its own: when it ends, the
    /// kernel ends everything the session started.
    pub pid_namespace: bool,
    /// The session's cgroup (memory and process limits), described.
    pub cgroup: Option<String>,
    /// What this machine lacks, and what that means.
    pub missing: Vec<String>,
}

impl fmt::Display for SessionContainment {
    /// `PID namespace; cgroup v1 memory and pids under /sys/fs/cgroup`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut held = Vec::new();
        if self.pid_namespace {
            held.push("PID namespace".to_owned());
        }
        if let Some(cgroup) = &self.cgroup {
            held.push(cgroup.clone());
        }
        if held.is_empty() {
            held.push("process group only".to_owned());
        }
        f.write_str(&held.join("; "))?;
        for missing in &self.missing {
            write!(f, "; without {missing}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_paths_must_be_resolvable_and_stay_put() {
        let ok = SandboxConfig {
            read: vec!["/opt/data".into(), "~/.cargo".into()],
            write: vec!["/var/cache/x".into()],
            ..SandboxConfig::default()
        };
        assert_eq!(ok.validate(), Ok(()));
        for bad in ["relative", "~user/x", "/a/../etc", ""] {
            let config = SandboxConfig {
                write: vec![bad.into()],
                ..SandboxConfig::default()
            };
            assert!(config.validate().is_err(), "{bad:?}");
        }
        let none = SandboxConfig {
            max_processes: Some(0),
            ..SandboxConfig::default()
        };
        assert!(none.validate().is_err());
        assert_eq!(SandboxConfig::default().max_processes(), 512);
    }

    #[test]
    fn confinement_reads_in_one_line() {
        let confined = Confinement {
            mode: SafetyMode::WorkspaceWrite,
            confined: true,
            writable: vec!["/ws".into(), "/tmp/t".into()],
            network: Network::Off,
            missing: Vec::new(),
        };
        assert_eq!(
            confined.to_string(),
            "workspace-write: writes /ws, /tmp/t; network off"
        );
        let full = Confinement {
            mode: SafetyMode::Full,
            network: Network::On,
            ..Confinement::default()
        };
        assert_eq!(full.to_string(), "full: unconfined");
    }
}
