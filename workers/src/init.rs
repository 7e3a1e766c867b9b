//! The processes around a worker in its session's PID namespace.
//!
//! The daemon starts `studio-worker` after `unshare(CLONE_NEWUSER |
//! CLONE_NEWPID)` (supervisor `containment::spawn_worker`): that process
//! stays outside the new namespace and its children are born in it. It
//! cannot run the worker itself (a process whose children live in another
//! PID namespace cannot start threads), so three processes share the work,
//! all this binary with the same arguments, each finding its role by where
//! it stands ([`role`]):
//!
//! - the **outer** process, outside: starts the init, tells the daemon the
//!   worker's and the init's pids on stdout, waits, and ends as the worker
//!   did. Its exit, which the daemon waits for, comes only after the init
//!   is gone, and with it everything of the session.
//! - the **init**, PID 1 of the namespace: starts the worker and reaps every
//!   orphan of the session (a double-forked child, a `nohup`ed one) until
//!   the worker ends; then it reports how, and exits. The kernel then kills
//!   whatever is left in the namespace, whatever it did to escape.
//! - the **worker**, PID 2: runs the session. Not PID 1, so it can end by
//!   its own signal (an abort is a SIGABRT, as anywhere else).
//!
//! Without namespaces (the daemon's `unshare` failed) the first process is
//! the worker and announces itself.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitCode, Stdio};

use rustix::process::{Signal, WaitOptions, WaitStatus};

/// Which of the three processes this one is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Outer,
    Init,
    Worker,
}

/// This process's role, from where it stands.
fn role() -> Role {
    if children_in_new_pid_namespace() {
        Role::Outer
    } else if std::process::id() == 1 {
        Role::Init
    } else {
        Role::Worker
    }
}

/// Whether this process's children are born in another PID namespace than
/// its own: the daemon's `unshare` took effect and this is the outer
/// process. Until its first child is born, such a namespace has no link to
/// read (`pid_for_children` is listed but reads as not found); a kernel
/// without the link does not list it at all.
fn children_in_new_pid_namespace() -> bool {
    let own = std::fs::read_link("/proc/self/ns/pid");
    match std::fs::read_link("/proc/self/ns/pid_for_children") {
        Ok(children) => own.is_ok_and(|own| own != children),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            std::fs::read_dir("/proc/self/ns").is_ok_and(|entries| {
                entries
                    .flatten()
                    .any(|entry| entry.file_name() == "pid_for_children")
            })
        }
        Err(_) => false,
    }
}

/// Runs the outer or the init role and returns its exit code, or returns
/// `None` in the worker (having told the daemon its pid when nothing
/// stands between them).
pub fn outer_or_init() -> Option<ExitCode> {
    match role() {
        Role::Outer => Some(outer()),
        Role::Init => Some(init()),
        Role::Worker => {
            // Without namespaces the daemon reads this; inside one, the
            // init has set stdout to /dev/null.
            say(
                &mut std::io::stdout().lock(),
                &std::process::id().to_string(),
            );
            None
        }
    }
}

fn say(out: &mut impl Write, line: &str) {
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// This binary again, with this process's arguments (argv[0] too: the
/// daemon recognises its workers by it).
fn again() -> Command {
    let mut args = std::env::args_os();
    let mut command =
        studio_process::std_command("/proc/self/exe", studio_process::ChildEnv::Inherit);
    if let Some(argv0) = args.next() {
        command.arg0(argv0);
    }
    command.args(args);
    command
}

/// Sets SIGKILL as the child's parent-death signal.
fn die_with_parent(command: &mut Command) {
    #[expect(
        unsafe_code,
        reason = "pre_exec runs between fork and exec; it makes one async-signal-safe syscall"
    )]
    // SAFETY: prctl is async-signal-safe and nothing is allocated; these
    // processes never start threads, so the fork copies only this one.
    unsafe {
        command.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
            Ok(())
        });
    }
}

/// The outer process: starts the init (its own process group, which the
/// worker and everything after it share), tells the daemon `WORKER INIT`,
/// and ends as the worker ended once the init is gone.
fn outer() -> ExitCode {
    let mut init = again();
    init.stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0);
    die_with_parent(&mut init);
    let mut child = match init.spawn() {
        Ok(child) => child,
        Err(err) => {
            eprintln!("studio-worker: cannot start the session's namespace: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut reports = child.stdout.take().map(BufReader::new);
    let mut line = String::new();
    if let Some(reports) = &mut reports {
        let _ = reports.read_line(&mut line);
    }
    let worker = line.trim();
    say(
        &mut std::io::stdout().lock(),
        &format!(
            "{} {}",
            if worker.is_empty() { "0" } else { worker },
            child.id()
        ),
    );
    // The init's last word is how the worker ended.
    let mut ending = String::new();
    if let Some(reports) = &mut reports {
        let _ = reports.read_line(&mut ending);
    }
    let status = child.wait();
    match ending.split_whitespace().collect::<Vec<_>>()[..] {
        ["code", code] => ExitCode::from(code.parse::<u8>().unwrap_or(1)),
        ["signal", signal] => end_by_signal(signal.parse().unwrap_or(Signal::KILL.as_raw())),
        // The init was killed (the session was): end as it did.
        _ => match status.ok().and_then(|s| s.signal()) {
            Some(signal) => end_by_signal(signal),
            None => ExitCode::FAILURE,
        },
    }
}

/// Ends this process by `signal`, as the worker ended (no core dump).
fn end_by_signal(signal: i32) -> ExitCode {
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    if let Some(signal) = Signal::from_named_raw(signal) {
        let me = rustix::process::getpid();
        // Twice: Rust's own SIGSEGV/SIGBUS handler takes the first one
        // (and restores the default action).
        let _ = rustix::process::kill_process(me, signal);
        let _ = rustix::process::kill_process(me, signal);
    }
    ExitCode::from(128 + u8::try_from(signal).unwrap_or(0).min(127))
}

/// PID 1 of the session's namespace: starts the worker, tells the outer
/// process its pid, reaps every process that ends under it, and once the
/// worker is gone reports how it ended and exits (taking the namespace
/// with it).
fn init() -> ExitCode {
    let mut worker = again();
    worker
        .stdin(Stdio::inherit())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    die_with_parent(&mut worker);
    let child = match worker.spawn() {
        Ok(child) => child,
        Err(err) => {
            eprintln!("studio-worker: cannot start the worker: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    // The daemon knows the worker by its pid outside the namespace: the
    // host's /proc lists it among this process's children.
    say(&mut out, &host_pid_of_only_child().to_string());
    let worker = child.id();
    loop {
        match rustix::process::waitpid(None, WaitOptions::empty()) {
            Ok(Some((pid, status))) if pid.as_raw_nonzero().get().cast_unsigned() == worker => {
                say(&mut out, &ending(status));
                return ExitCode::SUCCESS;
            }
            Ok(_) => {}
            Err(_) => {
                say(&mut out, "code 1");
                return ExitCode::FAILURE;
            }
        }
    }
}

/// `code N` or `signal N`.
fn ending(status: WaitStatus) -> String {
    match (status.exit_status(), status.terminating_signal()) {
        (Some(code), _) => format!("code {}", code & 0xff),
        (None, Some(signal)) => format!("signal {signal}"),
        (None, None) => "code 1".to_owned(),
    }
}

/// The pid, in the host's numbering, of this process's one child.
fn host_pid_of_only_child() -> u32 {
    // /proc is the host's, so `self` and the children it lists are the
    // host's pids.
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .find_map(|list| list.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_started_normally_is_the_worker_itself() {
        assert_eq!(role(), Role::Worker);
    }
}
