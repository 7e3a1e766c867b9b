//! The sandbox every `shell` command and stdio MCP server of a confined
//! agent (`read-only`, `workspace-write`) runs in.
//!
//! [`Policy`] is what a session's agent allows: where it writes, what it
//! reads, whether it has a network. A confined command is not started
//! directly but through `studio-worker sandbox` ([`launch`]), a fresh
//! single-threaded process that confines itself, then executes the
//! command:
//!
//! 1. new user, mount and (network off) network namespaces: the command
//!    sees a root of its own ([`root`]) holding only the system's
//!    directories, its workspace, its private `/tmp` and the agent's extra
//!    paths. The daemon's data dir (token, database, sockets), the home
//!    directory, other sessions' files and every Unix socket of the user
//!    (D-Bus, ssh-agent, tmux, Docker) are simply not there; without a
//!    network namespace of its own there is no network but loopback, down.
//!    Git's metadata under what it writes is mounted read-only
//!    ([`git_metadata`]): a hook planted there would run outside.
//! 2. `no_new_privs` and Landlock: writes only in the private `/tmp`, the
//!    workspace (`workspace-write`) and the agent's `write` paths; no
//!    signal to, and no `ptrace` or `/proc/PID/mem` of, any process
//!    outside; no abstract Unix socket outside.
//!
//! Where the kernel lacks one of these, [`Policy::refusal`] refuses the
//! command unless the agent says `fallback = "run"`, and the command's
//! `tool.started` names what was missing. A `full` agent's commands run
//! as the worker does, and say so.

pub mod forward;
pub(crate) mod git_metadata;
pub mod launch;
mod programs;
pub mod proxy;
mod root;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use protocol::SessionId;
use protocol::agent::{AgentConfig, SafetyMode};
use protocol::plugin::PluginConfinement;
use protocol::sandbox::{Confinement, Fallback, Network, SandboxSupport};
use studio_process::ChildEnv;
use tokio::process::Command;

/// Directories every confined command may read (when they exist).
pub(crate) const SYSTEM_PATHS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt",
];

/// Device files every confined command may read and write.
pub(crate) const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

/// How one session's commands are confined.
#[derive(Clone, Debug)]
pub struct Policy {
    mode: SafetyMode,
    workspace: PathBuf,
    /// The session's private temp dir (its commands' `/tmp`).
    tmp: PathBuf,
    network: Network,
    read: Vec<PathBuf>,
    write: Vec<PathBuf>,
    fallback: Fallback,
    support: SandboxSupport,
    /// Execute no program but the command's own (a plugin without
    /// `shell`).
    only_its_program: bool,
    /// With `Network::Hosts`: the hosts granted, and where the worker's
    /// proxy listens for this command's forwarder.
    proxy: Option<(Vec<String>, PathBuf)>,
}

impl Policy {
    /// The policy of `agent`'s session `session`, working in `workspace`,
    /// on a kernel offering `support`.
    pub fn new(
        agent: &AgentConfig,
        session: SessionId,
        workspace: &Path,
        support: SandboxSupport,
    ) -> Policy {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let expand = |path: &String| match (path.strip_prefix("~/"), &home) {
            (Some(rest), Some(home)) => home.join(rest),
            _ => PathBuf::from(path),
        };
        Policy {
            mode: agent.safety,
            workspace: workspace.to_path_buf(),
            tmp: private_tmp(session),
            network: agent.sandbox.network,
            read: agent.sandbox.read.iter().map(expand).collect(),
            write: agent.sandbox.write.iter().map(expand).collect(),
            fallback: agent.sandbox.fallback,
            support,
            only_its_program: false,
            proxy: None,
        }
    }

    /// The policy of a server of the plugin `plugin` in session
    /// `session`: its data folder is its workspace (writable, its working
    /// directory), its plugin's files and the paths it was granted are
    /// read, the paths granted to write written, the network as granted;
    /// nothing of the agent's, and no running without a mechanism the
    /// kernel lacks. Its `/tmp` is its own, inside the session's. Named
    /// hosts are reached through a proxy of the worker listening at
    /// `$TMPDIR/studio-SESSION.net/PLUGIN-SERVER.sock`, out of every
    /// sandbox's sight.
    pub fn for_plugin(
        confinement: &PluginConfinement,
        (plugin, server): (&str, &str),
        session: SessionId,
        support: SandboxSupport,
    ) -> Policy {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let expand = |path: &String| match (path.strip_prefix("~/"), &home) {
            (Some(rest), Some(home)) => home.join(rest),
            _ => PathBuf::from(path),
        };
        let mut read = vec![PathBuf::from(&confinement.root)];
        read.extend(confinement.read.iter().map(expand));
        Policy {
            mode: SafetyMode::WorkspaceWrite,
            workspace: PathBuf::from(&confinement.data),
            tmp: private_tmp(session).join(format!("plugin-{plugin}")),
            network: confinement.network,
            read,
            write: confinement.write.iter().map(expand).collect(),
            fallback: Fallback::Refuse,
            support,
            only_its_program: !confinement.shell,
            proxy: (confinement.network == Network::Hosts).then(|| {
                let dir = private_tmp(session).with_extension("net");
                (
                    confinement.hosts.clone(),
                    dir.join(format!("{plugin}-{server}.sock")),
                )
            }),
        }
    }

    /// With `Network::Hosts`, the hosts granted and where their proxy
    /// is to listen (its directory made, private).
    pub fn proxy(&self) -> Result<Option<(&[String], &Path)>, String> {
        let Some((hosts, socket)) = &self.proxy else {
            return Ok(None);
        };
        if let Some(dir) = socket.parent() {
            create_private_dir(dir)?;
        }
        Ok(Some((hosts, socket)))
    }

    /// This policy with the workspace writable (a confined agent's
    /// commands stay confined; a `full` agent's stay as they are).
    pub fn writing_workspace(mut self) -> Policy {
        if self.confined() {
            self.mode = SafetyMode::WorkspaceWrite;
        }
        self
    }

    /// The paths the agent was granted to write besides its workspace,
    /// as real paths (those that exist).
    pub fn granted_writes(&self) -> Vec<PathBuf> {
        self.write
            .iter()
            .filter_map(|p| std::fs::canonicalize(p).ok())
            .collect()
    }

    /// The workspace its commands run in.
    pub fn workspace(&self) -> &Path {
        &self.workspace
    }

    fn confined(&self) -> bool {
        self.mode != SafetyMode::Full
    }

    /// What the kernel lacks for this policy.
    fn missing(&self) -> Vec<String> {
        if self.confined() {
            self.support.missing()
        } else {
            Vec::new()
        }
    }

    /// Why a command may not run here, if it may not: the kernel lacks a
    /// mechanism and the agent did not ask to run without it.
    pub fn refusal(&self) -> Option<String> {
        let missing = self.missing();
        (!missing.is_empty() && self.fallback == Fallback::Refuse).then(|| {
            format!(
                "refused: this kernel lacks {} for the sandbox; set sandbox.fallback = \"run\" to run with what there is",
                missing.join(" and ")
            )
        })
    }

    /// What a command run under this policy may touch.
    pub fn confinement(&self) -> Confinement {
        if !self.confined() {
            return Confinement {
                mode: self.mode,
                confined: false,
                writable: Vec::new(),
                network: Network::On,
                missing: Vec::new(),
            };
        }
        let mut writable = vec![self.tmp.display().to_string()];
        if self.mode == SafetyMode::WorkspaceWrite {
            writable.insert(0, self.workspace.display().to_string());
        }
        writable.extend(self.write.iter().map(|p| p.display().to_string()));
        Confinement {
            mode: self.mode,
            confined: true,
            writable,
            network: self.network,
            missing: self.missing(),
        }
    }

    /// A command running `program` with `args` under this policy: the
    /// program itself for a `full` agent, else through the launcher.
    /// `Err` says why it may not run.
    pub fn command(&self, program: &OsStr, args: &[&OsStr]) -> Result<Command, String> {
        if !self.confined() {
            let mut command = studio_process::command(program, ChildEnv::Inherit);
            command.args(args);
            return Ok(command);
        }
        if let Some(refusal) = self.refusal() {
            return Err(refusal);
        }
        for dir in [&self.tmp, &self.root_dir()] {
            create_private_dir(dir)?;
        }
        let mut command = studio_process::command("/proc/self/exe", ChildEnv::Inherit);
        command
            .arg("sandbox")
            .arg("--mode")
            .arg(self.mode.as_str())
            .arg("--workspace")
            .arg(&self.workspace)
            .arg("--tmp")
            .arg(&self.tmp)
            .arg("--root")
            .arg(self.root_dir())
            .arg("--network")
            .arg(self.network.as_str());
        if self.fallback == Fallback::Run {
            command.arg("--run-without-missing");
        }
        if self.only_its_program {
            command.arg("--only-its-program");
        }
        if let Some((_, socket)) = &self.proxy {
            command.arg("--proxy-socket").arg(socket);
        }
        for path in &self.read {
            command.arg("--read").arg(path);
        }
        for path in &self.write {
            command.arg("--write").arg(path);
        }
        command.arg("--").arg(program).args(args);
        Ok(command)
    }

    /// Where each command's root is built (in its own mount namespace).
    fn root_dir(&self) -> PathBuf {
        let mut name = self.tmp.file_name().unwrap_or_default().to_os_string();
        name.push(".root");
        self.tmp.with_file_name(name)
    }
}

/// The private temp dir of `session`'s commands: `$TMPDIR/studio-SESSION`
/// (the daemon removes it when the session ends).
pub fn private_tmp(session: SessionId) -> PathBuf {
    std::env::temp_dir().join(format!("studio-{session}"))
}

fn create_private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    // A plugin server's `/tmp` is inside its session's.
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(format!("cannot create {}: {err}", dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(mode: SafetyMode, support: SandboxSupport) -> Policy {
        let mut agent = AgentConfig::scripted("a");
        agent.safety = mode;
        agent.sandbox.write = vec!["~/.cache/x".into()];
        Policy::new(&agent, SessionId::from_u128(7), Path::new("/ws"), support)
    }

    const FULL_SUPPORT: SandboxSupport = SandboxSupport {
        user_namespaces: true,
        landlock_abi: 7,
    };

    #[test]
    fn the_confinement_says_where_a_command_writes() {
        let confined = policy(SafetyMode::WorkspaceWrite, FULL_SUPPORT).confinement();
        assert!(confined.confined);
        assert_eq!(confined.writable[0], "/ws");
        assert!(confined.writable[1].ends_with("studio-00000000-0000-0000-0000-000000000007"));
        assert!(confined.writable[2].ends_with(".cache/x"));
        assert_eq!(confined.network, Network::Off);
        let read_only = policy(SafetyMode::ReadOnly, FULL_SUPPORT).confinement();
        assert_eq!(read_only.writable.len(), 2, "{read_only:?}");
        let full = policy(SafetyMode::Full, FULL_SUPPORT).confinement();
        assert!(!full.confined);
    }

    #[test]
    fn a_kernel_without_landlock_refuses_unless_the_agent_runs_without() {
        let bare = SandboxSupport {
            user_namespaces: false,
            landlock_abi: 0,
        };
        let strict = policy(SafetyMode::WorkspaceWrite, bare);
        let why = strict.refusal().unwrap();
        assert!(
            why.contains("Landlock") && why.contains("namespaces"),
            "{why}"
        );
        assert!(strict.command(OsStr::new("true"), &[]).is_err());
        let mut lenient = strict.clone();
        lenient.fallback = Fallback::Run;
        assert_eq!(lenient.refusal(), None);
        assert_eq!(lenient.confinement().missing.len(), 2);
        assert_eq!(policy(SafetyMode::Full, bare).refusal(), None);
    }
}
