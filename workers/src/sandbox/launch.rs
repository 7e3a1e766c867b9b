//! `studio-worker sandbox`: confines this process, then executes the
//! command. It runs single-threaded from its first instruction (user
//! namespaces demand it), confines itself in the order the module doc of
//! [`super`] gives, and never returns on success. `--probe` reports what
//! the kernel offers instead.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, path_beneath_rules,
};
use protocol::agent::SafetyMode;
use protocol::sandbox::{Network, SandboxSupport};

use super::{DEVICES, SYSTEM_PATHS, root};

/// Exit code of a command the sandbox refused or could not set up.
const REFUSED: u8 = 126;

/// The highest Landlock ABI this build knows; the kernel's may be lower.
const ABI_WANTED: ABI = ABI::V7;

/// What to confine the command to, as `Policy::command` passes it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print what the kernel offers the sandbox (JSON) and exit.
    #[arg(long)]
    probe: bool,
    /// The agent's safety mode.
    #[arg(long, default_value = "read-only")]
    mode: SafetyMode,
    /// The workspace (written only in workspace-write).
    #[arg(long)]
    workspace: Option<PathBuf>,
    /// The session's private temp dir, the command's /tmp.
    #[arg(long)]
    tmp: Option<PathBuf>,
    /// An empty directory to build the command's root on.
    #[arg(long)]
    root: Option<PathBuf>,
    /// Whether the command has a network (`hosts`: only through the
    /// worker's proxy at `--proxy-socket`).
    #[arg(long, default_value = "off")]
    network: Network,
    /// The worker's proxy for a command with `--network hosts`.
    #[arg(long)]
    proxy_socket: Option<PathBuf>,
    /// Run without a mechanism the kernel lacks instead of refusing.
    #[arg(long)]
    run_without_missing: bool,
    /// More paths to read.
    #[arg(long)]
    read: Vec<PathBuf>,
    /// More paths to write.
    #[arg(long)]
    write: Vec<PathBuf>,
    /// Execute no program but the command's own (and the interpreters it
    /// names): no shell, no other tool, no file it wrote.
    #[arg(long)]
    only_its_program: bool,
    /// The command and its arguments.
    #[arg(last = true)]
    command: Vec<OsString>,
}

/// Runs the launcher: confines this process and executes the command,
/// or says why not.
pub fn run(args: Args) -> ExitCode {
    if args.probe {
        let support = probe();
        println!(
            "{}",
            serde_json::to_string(&support).unwrap_or_else(|_| "{}".to_owned())
        );
        return ExitCode::SUCCESS;
    }
    match confine_and_exec(&args) {
        Ok(never) => match never {},
        Err(why) => {
            eprintln!("sandbox: {why}");
            ExitCode::from(REFUSED)
        }
    }
}

/// What the kernel offers, found by trying: this process is thrown away.
/// Namespaces first: Landlock would forbid writing the id maps.
fn probe() -> SandboxSupport {
    let user_namespaces = enter_namespaces(Network::Off).is_ok();
    let landlock_abi = Ruleset::default()
        .handle_access(AccessFs::from_all(ABI_WANTED))
        .and_then(|ruleset| ruleset.create())
        .and_then(|ruleset| ruleset.restrict_self())
        .map(|status| match status.ruleset {
            RulesetStatus::NotEnforced => 0,
            _ => landlock_abi(&status.landlock),
        })
        .unwrap_or(0);
    SandboxSupport {
        user_namespaces,
        landlock_abi,
    }
}

fn landlock_abi(status: &landlock::LandlockStatus) -> u32 {
    match status {
        landlock::LandlockStatus::Available { effective_abi, .. } => *effective_abi as u32,
        _ => 0,
    }
}

enum Never {}

fn confine_and_exec(args: &Args) -> Result<Never, String> {
    let (Some(workspace), Some(tmp), Some(root)) = (&args.workspace, &args.tmp, &args.root) else {
        return Err("--workspace, --tmp and --root are needed".to_owned());
    };
    let [program, rest @ ..] = &args.command[..] else {
        return Err("no command to run".to_owned());
    };
    let existing = |paths: &[PathBuf]| -> Vec<PathBuf> {
        paths
            .iter()
            .filter_map(|p| std::fs::canonicalize(p).ok())
            .collect()
    };
    let view = root::View {
        workspace: std::fs::canonicalize(workspace)
            .map_err(|err| format!("workspace {}: {err}", workspace.display()))?,
        tmp: std::fs::canonicalize(tmp).map_err(|err| format!("{}: {err}", tmp.display()))?,
        read: existing(&args.read),
        write: existing(&args.write),
        network: args.network,
        writes_workspace: args.mode == SafetyMode::WorkspaceWrite,
    };
    let own_root = match enter_namespaces(args.network) {
        Ok(()) => {
            if args.network == Network::Hosts {
                let socket = args
                    .proxy_socket
                    .as_deref()
                    .ok_or("--proxy-socket is needed")?;
                super::forward::open(socket)?;
            }
            root::build(root, &view)
                .map_err(|err| format!("cannot build the command's root: {err}"))?;
            true
        }
        Err(Entered::Not(err)) if args.run_without_missing && args.network != Network::Hosts => {
            eprintln!("sandbox: running without namespaces ({err})");
            false
        }
        Err(Entered::Not(err)) => {
            return Err(format!(
                "refused: no user namespace for the command ({err}); set sandbox.fallback = \"run\" to run without"
            ));
        }
        // Inside a namespace without its ids: nothing could run right.
        Err(Entered::Half(err)) => return Err(format!("cannot map ids in the namespace: {err}")),
    };
    // Found as the command will be: in its own root, on its PATH.
    let programs = if args.only_its_program {
        Some(super::programs::needed(
            program,
            std::env::var_os("PATH").as_deref(),
        )?)
    } else {
        None
    };
    let enforced = restrict(args, &view, own_root, programs.as_deref())?;
    if !enforced && !args.run_without_missing {
        return Err(
            "refused: this kernel does not enforce Landlock; set sandbox.fallback = \"run\" to run without"
                .to_owned(),
        );
    }
    std::env::set_current_dir(&view.workspace)
        .map_err(|err| format!("workspace {}: {err}", view.workspace.display()))?;
    let tmp = if own_root {
        Path::new("/tmp")
    } else {
        &view.tmp
    };
    // The launcher's environment is the one the worker built for the command.
    let mut command = studio_process::std_command(program, studio_process::ChildEnv::Inherit);
    command.args(rest).env("TMPDIR", tmp);
    if args.network == Network::Hosts {
        command.env_remove("NO_PROXY").env_remove("no_proxy");
        command.envs(super::forward::proxy_env());
    }
    let err = command.exec();
    Err(format!("cannot start {}: {err}", program.to_string_lossy()))
}

/// Why namespaces were not entered.
enum Entered {
    /// The kernel refused them; this process is as it was.
    Not(String),
    /// Entered, but the ids could not be mapped.
    Half(String),
}

/// New user and mount namespaces, and a network namespace unless the
/// network is on; this process's ids map to themselves.
fn enter_namespaces(network: Network) -> Result<(), Entered> {
    use rustix::thread::UnshareFlags;
    let uid = rustix::process::geteuid().as_raw();
    let gid = rustix::process::getegid().as_raw();
    let mut flags = UnshareFlags::NEWUSER | UnshareFlags::NEWNS;
    if network != Network::On {
        flags |= UnshareFlags::NEWNET;
    }
    #[expect(
        unsafe_code,
        reason = "unshare without CLONE_FILES in a single-threaded process"
    )]
    // SAFETY: this process has one thread and the flags do not include
    // CLONE_FILES, so no thread can observe a file table it does not share.
    unsafe { rustix::thread::unshare_unsafe(flags) }
        .map_err(|err| Entered::Not(err.to_string()))?;
    for (file, line) in [
        ("/proc/self/setgroups", "deny".to_owned()),
        ("/proc/self/uid_map", format!("{uid} {uid} 1")),
        ("/proc/self/gid_map", format!("{gid} {gid} 1")),
    ] {
        std::fs::write(file, line).map_err(|err| Entered::Half(format!("{file}: {err}")))?;
    }
    Ok(())
}

/// `no_new_privs` and Landlock: reads what the command may see, writes
/// only where it may, no signal, ptrace or abstract socket outside; with
/// `programs`, executes those files alone. Says whether Landlock is
/// enforced.
fn restrict(
    args: &Args,
    view: &root::View,
    own_root: bool,
    programs: Option<&[PathBuf]>,
) -> Result<bool, String> {
    let abi = ABI_WANTED;
    let mut readable: Vec<PathBuf> = Vec::new();
    if own_root {
        // Its root holds only what it may see.
        readable.push(PathBuf::from("/"));
    } else {
        readable.extend(SYSTEM_PATHS.iter().map(PathBuf::from));
        readable.extend(["/proc", "/dev"].map(PathBuf::from));
        readable.push(view.workspace.clone());
        readable.extend(view.read.iter().cloned());
    }
    // In its own root, its private temp dir is its /tmp.
    let tmp = if own_root {
        PathBuf::from("/tmp")
    } else {
        view.tmp.clone()
    };
    let mut writable = vec![tmp];
    if args.mode == SafetyMode::WorkspaceWrite {
        writable.push(view.workspace.clone());
    }
    writable.extend(view.write.iter().cloned());
    writable.extend(DEVICES.iter().map(PathBuf::from));
    if own_root {
        writable.push(PathBuf::from("/dev/shm"));
    }
    let existing =
        |paths: Vec<PathBuf>| paths.into_iter().filter(|p| p.exists()).collect::<Vec<_>>();
    let err = |e: landlock::RulesetError| e.to_string();
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))
        .map_err(err)?
        .scope(Scope::from_all(abi))
        .map_err(err)?;
    if args.network != Network::On && !own_root {
        // No network namespace: at least no TCP.
        ruleset = ruleset
            .handle_access(AccessNet::from_all(abi))
            .map_err(err)?;
    }
    let (mut reads, mut writes) = (AccessFs::from_read(abi), AccessFs::from_all(abi));
    if programs.is_some() {
        reads.remove(AccessFs::Execute);
        writes.remove(AccessFs::Execute);
    }
    let status = ruleset
        .create()
        .map_err(err)?
        .add_rules(path_beneath_rules(existing(readable), reads))
        .map_err(err)?
        .add_rules(path_beneath_rules(existing(writable), writes))
        .map_err(err)?
        .add_rules(path_beneath_rules(
            existing(programs.unwrap_or_default().to_vec()),
            AccessFs::Execute | AccessFs::ReadFile,
        ))
        .map_err(err)?
        .restrict_self()
        .map_err(err)?;
    if !status.no_new_privs {
        return Err("cannot set no_new_privs".to_owned());
    }
    Ok(status.ruleset != RulesetStatus::NotEnforced)
}
