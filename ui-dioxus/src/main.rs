//! `studio-ui`: the AI Studio desktop app.
//!
//! Placeholder: the Dioxus app is built under its own issue. Until then this
//! binary says so and points at the CLI, which covers every feature.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "studio-ui: the desktop app is not built yet; use the `studio` CLI (try `studio --help`)"
    );
    ExitCode::from(2)
}
