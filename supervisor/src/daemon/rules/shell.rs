//! Reading a `shell` tool call's command the way a shell would, so that a
//! rule over `command` is checked against each simple command in it, not
//! only against the whole string (issue 12: `true && rm -f junk` got past
//! a deny rule `shell:command=rm *`).
//!
//! [`parse`] hands the string to `brush-parser` (the parser of the brush
//! shell) and walks what it returns: pipelines, `&&`/`||`, `;`, `&`,
//! subshells, brace groups, `if`/`while`/`until`/`for`/`case` bodies,
//! function bodies, coprocesses, and inside words command substitutions
//! (`$(...)`, backquotes), process substitutions and here-documents that
//! expand. Each simple command becomes one line of text: its words after
//! quote removal (`\rm`, `'r'm` and `"rm"` are all `rm`), expansions as
//! written (`$f`), redirections included (`> out`), joined by single
//! spaces.
//!
//! What the parser cannot see through makes the whole [`Opaque`], which no
//! allow rule with a command pattern passes: `eval` and other builtins
//! that run text as code ([`EVALUATORS`]), a shell given a string or its
//! standard input ([`SHELLS`]), commands that run their arguments as a
//! command ([`WRAPPERS`]), an expansion, a pattern or an escape in command
//! position, arithmetic that reads a variable (bash evaluates the value,
//! array subscripts and their `$(...)` included), and so on. What it did see
//! in an opaque command (the `rm x` of `eval "rm x"`, `sh -c 'rm x'`, or the
//! command after `sudo`) is still there for deny and ask rules.
//!
//! What no parser can promise is what a program does with its arguments:
//! `git -c alias.x='!rm -rf ~' x`, `make`, `python -c`, a script in the
//! workspace. README.md says so to whoever writes allow rules.

use std::fmt;

mod simple;
mod walk;

/// The longest command read at all; a longer one is opaque.
const MAX_LEN: usize = 256 * 1024;

/// At most this many characters or words that can open a nesting level
/// (`(`, `{`, a backquote, `if`, `case`, `while`, `until`, `for`,
/// `select`, `function`, `coproc`), counted without regard to quoting or
/// here-documents: the parser recurses once per level, so this bounds the
/// stack it needs. A command with more is opaque.
const MAX_OPENERS: usize = 8192;

/// The parser's thread's stack: this much, plus [`STACK_PER_OPENER`] for
/// each opener counted. Reserved, not committed: only what the parse
/// uses takes memory.
const BASE_STACK: usize = 8 * 1024 * 1024;

/// The stack one nesting level may take: the parser and the walk take
/// under 32 KiB a level in a debug build (`deep_nesting_fits_its_stack`
/// tests every construct at the limit).
const STACK_PER_OPENER: usize = 48 * 1024;

/// Shells: opaque when given a string (`-c`), told to read their standard
/// input (`-s`, or no script at all), fed by a here-document, here-string
/// or pipe. A shell running a script file is like any other program
/// running a file: checked as written, not through.
pub(crate) const SHELLS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "pdksh", "ash", "yash", "posh", "rbash", "fish",
    "csh", "tcsh",
];

/// Builtins that run text or a file as shell code, or change what a
/// command name means: always opaque. The text of `eval` and `trap` is
/// still read, for deny and ask rules.
pub(crate) const EVALUATORS: &[&str] = &[
    "eval",
    "source",
    ".",
    "trap",
    "alias",
    "let",
    "fc",
    "enable",
    "bind",
    "complete",
    "compgen",
    "hash",
    "mapfile",
    "readarray",
];

/// Commands that run their arguments as a command (or, for `at` and
/// `batch`, their standard input): opaque when given arguments. `find` only
/// with `-exec`, `-execdir`, `-ok` or `-okdir`; `command` not with `-v` or
/// `-V`. Each later argument is also tried as the start of the command run
/// (`sudo rm -rf x` is caught by `rm *`), for deny and ask rules.
pub(crate) const WRAPPERS: &[&str] = &[
    "env",
    "xargs",
    "sudo",
    "doas",
    "su",
    "runuser",
    "sg",
    "nohup",
    "nice",
    "ionice",
    "timeout",
    "time",
    "command",
    "builtin",
    "exec",
    "busybox",
    "find",
    "parallel",
    "watch",
    "setsid",
    "unshare",
    "nsenter",
    "chroot",
    "flock",
    "stdbuf",
    "strace",
    "ltrace",
    "script",
    "taskset",
    "chrt",
    "systemd-run",
    "ssh",
    "fakeroot",
    "firejail",
    "bwrap",
    "proot",
    "valgrind",
    "at",
    "batch",
    "tmux",
    "screen",
];

/// Builtins that declare variables: opaque with an integer (`-i`) or
/// reference (`-n`) attribute, whose later values bash evaluates.
const DECLARATIONS: &[&str] = &["declare", "typeset", "local", "export", "readonly"];

/// Builtins that take variable names, in which bash evaluates an array
/// subscript (`'a[$(rm x)]'`): opaque when a name expands or has a
/// subscript that would. `printf` and `test` only with `-v`, `wait` only
/// with `-p`.
const NAME_TAKERS: &[&str] = &["read", "unset", "getopts", "wait", "printf", "test", "["];

/// Variables whose value the shell itself runs or reads as code (`PS4`
/// under `set -x`, `BASH_ENV` and `ENV` at a shell's start): assigning
/// one is opaque.
const EVALUATED_VARIABLES: &[&str] = &[
    "PS0",
    "PS1",
    "PS2",
    "PS3",
    "PS4",
    "PROMPT_COMMAND",
    "BASH_ENV",
    "ENV",
];

/// What the parser saw in a command string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Commands {
    /// Every simple command it saw, in the order it met them.
    pub(crate) seen: Vec<Simple>,
    /// Why the string cannot be seen through, if it cannot (the first
    /// reason met): then no allow rule with a command pattern applies.
    pub(crate) opaque: Option<Opaque>,
}

/// One simple command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Simple {
    /// Its words after quote removal and its redirections, joined by
    /// spaces: what an allow rule must match.
    pub(crate) text: String,
    /// Other forms a deny or ask rule is tried on: from the command name
    /// on (leading assignments and redirections left out), with the name
    /// cut to its basename (`/bin/rm` as `rm`), and for a wrapper each
    /// command it may run.
    pub(crate) also: Vec<String>,
}

/// Why a command cannot be seen through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Opaque {
    /// The parser refused it (unbalanced quotes, a syntax error).
    Unparsable(String),
    /// Too long, or nested too deeply, to be read safely.
    TooLarge,
    /// The parser stopped without an answer.
    ParserFailed,
    /// A builtin that runs text as code, or changes what names mean.
    Evaluates(String),
    /// A shell given a string or its standard input.
    Shell(String),
    /// A command that runs its arguments as a command.
    Wraps(String),
    /// An expansion, a pattern or an escape where the command name is.
    ExpandedName,
    /// Arithmetic that reads a variable, or an integer or reference
    /// declaration.
    Arithmetic,
    /// `${!name}` or `${name@P}`: a value read as a name or a prompt.
    Indirect,
    /// A variable name given to a builtin that expands, or whose
    /// subscript does.
    Subscript,
    /// An assignment to a variable the shell runs as code.
    EvaluatedVariable(String),
}

impl fmt::Display for Opaque {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Opaque::Unparsable(why) => write!(f, "the shell parser refused it: {why}"),
            Opaque::TooLarge => f.write_str("too long or too deeply nested to read"),
            Opaque::ParserFailed => f.write_str("the shell parser failed"),
            Opaque::Evaluates(name) => write!(f, "`{name}` runs text as shell code"),
            Opaque::Shell(name) => write!(f, "`{name}` is given a string or its standard input"),
            Opaque::Wraps(name) => write!(f, "`{name}` runs its arguments as a command"),
            Opaque::ExpandedName => f.write_str("the command name is computed"),
            Opaque::Arithmetic => f.write_str("arithmetic reads a variable"),
            Opaque::Indirect => f.write_str("an expansion reads a value as a name or prompt"),
            Opaque::Subscript => f.write_str("a variable name given to a builtin is computed"),
            Opaque::EvaluatedVariable(name) => write!(f, "`{name}` is run by the shell"),
        }
    }
}

impl Commands {
    fn opaque(why: Opaque) -> Commands {
        Commands {
            seen: Vec::new(),
            opaque: Some(why),
        }
    }
}

/// Reads `command` as `sh -c` would be given it.
///
/// The parser runs on a thread of its own, with a stack sized for the
/// deepest nesting the command could have, so that neither a stack
/// overflow nor a panic in it can take the daemon down.
pub(crate) fn parse(command: &str) -> Commands {
    let openers = openers(command);
    if command.len() > MAX_LEN || openers > MAX_OPENERS {
        return Commands::opaque(Opaque::TooLarge);
    }
    let owned = command.to_owned();
    let thread = std::thread::Builder::new()
        .name("shell-rules".to_owned())
        .stack_size(BASE_STACK + openers * STACK_PER_OPENER)
        .spawn(move || walk::read(&owned));
    match thread.map(std::thread::JoinHandle::join) {
        Ok(Ok(commands)) => commands,
        Ok(Err(_)) | Err(_) => Commands::opaque(Opaque::ParserFailed),
    }
}

/// How many nesting levels `text` could open at most (see [`MAX_OPENERS`]).
fn openers(text: &str) -> usize {
    let chars = text
        .chars()
        .filter(|c| matches!(c, '(' | '{' | '`'))
        .count();
    let words = text
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| {
            matches!(
                *w,
                "if" | "case" | "while" | "until" | "for" | "select" | "function" | "coproc"
            )
        })
        .count();
    chars + words
}

/// The last component of a path (`/usr/bin/rm` is `rm`).
pub(crate) fn basename(name: &str) -> &str {
    match name.trim_end_matches('/').rsplit_once('/') {
        Some((_, base)) if !base.is_empty() => base,
        _ => name,
    }
}

#[cfg(test)]
mod tests;
