//! `studio`: the AI Studio daemon and command-line client.
//!
//! `studio daemon run` is the daemon ([`supervisor::daemon::run`]); every
//! other command is a client of its control socket (see `cli/`), starting
//! the daemon in the background when none is running.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
