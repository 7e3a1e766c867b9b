//! `studio completions SHELL` and the hidden `studio manpages DIR`: shell
//! completion scripts (clap_complete) and man pages (clap_mangen), both
//! from the clap definitions, for users and for scripts/package.

use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, CliError};

#[derive(Args, Debug)]
pub(crate) struct CompletionsArgs {
    /// The shell to write the script for.
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(Args, Debug)]
pub(crate) struct ManpagesArgs {
    /// Where to write the pages (made if missing; pages there are replaced).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

/// The name the scripts and pages call the command by.
const BIN: &str = "studio";

/// `studio completions SHELL`: prints the completion script.
pub(crate) fn completions(args: CompletionsArgs) -> Result<(), CliError> {
    let script = completion_script(args.shell)?;
    // As written: the script is ours, and `terminal_safe` would change it.
    super::output::write_stdout(&script);
    Ok(())
}

/// `studio manpages DIR`: writes `studio.1` and one page per subcommand.
pub(crate) fn manpages(args: ManpagesArgs) -> Result<(), CliError> {
    let written = write_manpages(&args.dir)?;
    outln!(
        "wrote {} man pages to {}",
        written.len(),
        args.dir.display()
    );
    Ok(())
}

/// The completion script of `studio` for `shell`.
fn completion_script(shell: Shell) -> Result<String, CliError> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, BIN, &mut script);
    String::from_utf8(script)
        .map_err(|e| CliError::msg(format!("the {shell} completion script is not UTF-8: {e}")))
}

/// Writes the man pages of `studio` and of every visible subcommand (nested
/// ones too: `studio-agent-create.1`) into `dir`; returns their paths.
fn write_manpages(dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::msg(format!("cannot create {}: {e}", dir.display())))?;
    let mut command = Cli::command().disable_help_subcommand(true);
    // Gives every subcommand its display name (`studio-agent-create`), the
    // page's title and file name.
    command.build();
    let source = format!("{BIN} {}", env!("CARGO_PKG_VERSION"));
    let mut written = Vec::new();
    write_page(&command, dir, &source, &mut written)?;
    Ok(written)
}

fn write_page(
    command: &clap::Command,
    dir: &Path,
    source: &str,
    written: &mut Vec<PathBuf>,
) -> Result<(), CliError> {
    let page = clap_mangen::Man::new(command.clone())
        .source(source)
        .manual("AI Studio");
    let path = page.generate_to(dir).map_err(|e| {
        CliError::msg(format!(
            "cannot write a man page into {}: {e}",
            dir.display()
        ))
    })?;
    written.push(path);
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        write_page(sub, dir, source, written)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_pages_for_the_command_and_nested_subcommands() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_manpages(dir.path()).unwrap();
        for (name, title) in [
            ("studio.1", ".TH studio 1"),
            ("studio-run.1", ".TH studio-run 1"),
            ("studio-agent-create.1", ".TH studio-agent-create 1"),
            ("studio-completions.1", ".TH studio-completions 1"),
        ] {
            let page = std::fs::read_to_string(dir.path().join(name)).unwrap();
            assert!(
                page.lines().any(|l| l.starts_with(title)),
                "{name}:\n{page}"
            );
            assert!(page.contains("AI Studio"), "{name}");
        }
        // The packager's own command has no page, nor has `help`.
        assert!(!dir.path().join("studio-manpages.1").exists());
        assert!(!dir.path().join("studio-help.1").exists());
        assert_eq!(
            written.len(),
            std::fs::read_dir(dir.path()).unwrap().count()
        );
        let top = std::fs::read_to_string(dir.path().join("studio.1")).unwrap();
        assert!(top.contains("data\\-dir"), "{top}");
    }

    #[test]
    fn bash_completions_know_the_subcommands() {
        let script = completion_script(Shell::Bash).unwrap();
        assert!(script.contains("complete -F _studio"), "{script}");
        for sub in ["daemon", "run", "agent", "completions", "--data-dir"] {
            assert!(script.contains(sub), "{sub} missing");
        }
        let fish = completion_script(Shell::Fish).unwrap();
        assert!(fish.contains("complete -c studio"));
    }
}
