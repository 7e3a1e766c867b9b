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
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What an agent's tools may do. Tools outside the mode are not offered to
/// the model at all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SafetyMode {
    /// Read files in the workspace (`fs.read`, `fs.list`, `fs.search`) and fetch URLs.
    #[default]
    ReadOnly,
    /// Also write and edit files in the workspace, and run shell commands there.
    WorkspaceWrite,
    /// Everything, with file paths no longer confined to the workspace.
    Full,
}

impl SafetyMode {
    /// Kebab-case name, as in TOML and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            SafetyMode::ReadOnly => "read-only",
            SafetyMode::WorkspaceWrite => "workspace-write",
            SafetyMode::Full => "full",
        }
    }
}

impl fmt::Display for SafetyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SafetyMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            SafetyMode::ReadOnly,
            SafetyMode::WorkspaceWrite,
            SafetyMode::Full,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
        .ok_or_else(|| {
            format!("unknown safety mode {s:?}: expected read-only, workspace-write or full")
        })
    }
}

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
    /// Hosts (`host` or `host:port`; a name or an IP) that `fetch` may
    /// reach although they are loopback, private, link-local, unique-local
    /// or multicast addresses, which it refuses otherwise.
    #[serde(default)]
    pub private_hosts: Vec<String>,
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
        if self.network == Network::Hosts {
            return Err(
                "sandbox.network = \"hosts\" is for plugins' servers; an agent's is \"off\" or \"on\" (sandbox.private_hosts lets `fetch` reach named local hosts)"
                    .to_owned(),
            );
        }
        if self.max_processes == Some(0) {
            return Err("sandbox.max_processes must be at least 1".to_owned());
        }
        for host in &self.private_hosts {
            HostPort::parse(host)?;
        }
        Ok(())
    }

    /// The limit of processes in force.
    pub fn max_processes(&self) -> u32 {
        self.max_processes.unwrap_or(DEFAULT_MAX_PROCESSES)
    }
}

/// A host, and optionally a port, as `sandbox.private_hosts` lists them:
/// `name`, `name:port`, `1.2.3.4`, `1.2.3.4:port`, `::1` or `[::1]:port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    /// A lowercase name without a trailing dot, or an IP in its canonical
    /// spelling (IPv6 without brackets).
    pub host: String,
    /// `None` matches every port.
    pub port: Option<u16>,
}

impl HostPort {
    /// Parses one entry, refusing what is not a host.
    pub fn parse(entry: &str) -> Result<HostPort, String> {
        let bad = |why: &str| format!("sandbox.private_hosts entry {entry:?} {why}");
        let entry = entry.trim();
        if let Ok(ip) = entry.parse::<std::net::IpAddr>() {
            return Ok(HostPort {
                host: ip.to_string(),
                port: None,
            });
        }
        if let Ok(addr) = entry.parse::<std::net::SocketAddr>() {
            return Ok(HostPort {
                host: addr.ip().to_string(),
                port: Some(addr.port()),
            });
        }
        let (name, port) = match entry.rsplit_once(':') {
            Some((name, port)) => (
                name,
                Some(
                    port.parse::<u16>()
                        .map_err(|_| bad("has a port that is not a number"))?,
                ),
            ),
            None => (entry, None),
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !valid {
            return Err(bad("is not a host name, an IP or host:port"));
        }
        Ok(HostPort { host: name, port })
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
    /// A network namespace of their own whose only way out is the
    /// worker's proxy, to the hosts a plugin was granted (plugin servers
    /// only; `PluginConfinement::hosts`).
    Hosts,
}

impl Network {
    /// `off` or `on`.
    pub fn as_str(self) -> &'static str {
        match self {
            Network::Off => "off",
            Network::On => "on",
            Network::Hosts => "hosts",
        }
    }
}

impl std::str::FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(Network::Off),
            "on" => Ok(Network::On),
            "hosts" => Ok(Network::Hosts),
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
        // Only a plugin's server reaches named hosts through the proxy.
        let hosts = SandboxConfig {
            network: Network::Hosts,
            ..SandboxConfig::default()
        };
        assert!(hosts.validate().unwrap_err().contains("plugins' servers"));
    }

    #[test]
    fn private_hosts_are_hosts_with_an_optional_port() {
        let parse = |entry: &str| HostPort::parse(entry).map(|h| (h.host, h.port));
        assert_eq!(
            parse("127.0.0.1:8080"),
            Ok(("127.0.0.1".into(), Some(8080)))
        );
        assert_eq!(parse("::1"), Ok(("::1".into(), None)));
        assert_eq!(parse("[::1]:9000"), Ok(("::1".into(), Some(9000))));
        assert_eq!(parse("Wiki.Corp."), Ok(("wiki.corp".into(), None)));
        assert_eq!(parse("wiki.corp:443"), Ok(("wiki.corp".into(), Some(443))));
        for bad in ["", "http://x", "x:port", "a b", "x:70000"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let config = SandboxConfig {
            private_hosts: vec!["http://127.0.0.1/".into()],
            ..SandboxConfig::default()
        };
        assert!(config.validate().unwrap_err().contains("private_hosts"));
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
