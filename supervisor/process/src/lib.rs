//! The one way AI Studio's programs start another process (the daemon,
//! the CLI, the app and the worker alike; clippy's `disallowed-methods`
//! refuses `Command::new` anywhere else). Each start names what
//! environment the child gets ([`ChildEnv`]), so a secret in this
//! process's environment reaches a child only where a call site says so,
//! and every start is logged.

use std::ffi::OsStr;

/// What environment a child process starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildEnv<'a> {
    /// This process's whole environment: for a child acting as the same
    /// person (the CLI starting the daemon or the app), or one whose
    /// caller sets the environment itself.
    Inherit,
    /// Only these variables of this process's environment (those it has),
    /// nothing else.
    Only(&'a [&'a str]),
}

/// A `tokio` command for `program` with the environment `env` says.
#[allow(clippy::disallowed_methods, reason = "the one place a command is made")]
pub fn command(program: impl AsRef<OsStr>, env: ChildEnv<'_>) -> tokio::process::Command {
    tracing::debug!(program = %program.as_ref().to_string_lossy(), ?env, "starting a process");
    let mut command = tokio::process::Command::new(program);
    if let ChildEnv::Only(names) = env {
        command.env_clear().envs(kept(names));
    }
    command
}

/// A blocking `std` command for `program` with the environment `env`
/// says (for a start outside an async runtime, or an `exec`).
#[allow(clippy::disallowed_methods, reason = "the one place a command is made")]
pub fn std_command(program: impl AsRef<OsStr>, env: ChildEnv<'_>) -> std::process::Command {
    tracing::debug!(program = %program.as_ref().to_string_lossy(), ?env, "starting a process");
    let mut command = std::process::Command::new(program);
    if let ChildEnv::Only(names) = env {
        command.env_clear().envs(kept(names));
    }
    command
}

/// The variables of `names` this process has, with their values.
fn kept<'a>(names: &'a [&'a str]) -> impl Iterator<Item = (&'a str, std::ffi::OsString)> {
    names
        .iter()
        .filter_map(|name| Some((*name, std::env::var_os(name)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_named_variables_reach_the_child() {
        // PATH is set wherever tests run; this name is set nowhere.
        let out = std_command(
            "/usr/bin/env",
            ChildEnv::Only(&["PATH", "STUDIO_NOT_SET_ANYWHERE"]),
        )
        .output()
        .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let names: Vec<&str> = text.lines().filter_map(|l| l.split('=').next()).collect();
        assert_eq!(names, ["PATH"], "{text}");
        let all = std_command("/usr/bin/env", ChildEnv::Inherit)
            .output()
            .unwrap();
        assert!(String::from_utf8(all.stdout).unwrap().lines().count() > 1);
    }
}
