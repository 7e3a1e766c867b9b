//! What a simple command is, once its words are read: its text, the other
//! forms deny rules are tried on, and whether it runs something the
//! parser cannot see (see the lists in the parent module).

use brush_parser::ast::{CommandPrefixOrSuffixItem, SimpleCommand};

use super::walk::{Rendered, Walker, plain_arithmetic};
use super::{
    DECLARATIONS, EVALUATED_VARIABLES, EVALUATORS, NAME_TAKERS, Opaque, SHELLS, Simple, WRAPPERS,
    basename,
};

/// The parts of a simple command, walked, in source order.
pub(super) struct Parts {
    /// Every item as text: assignments, the name, words, redirections.
    pub(super) texts: Vec<String>,
    /// Where the command name is in `texts`, if there is one.
    pub(super) name_at: Option<usize>,
    /// The command name.
    pub(super) name: Option<Rendered>,
    /// The words after the name (assignments given to `export` and the
    /// like included), without redirections.
    pub(super) args: Vec<Rendered>,
    /// Here-document bodies and here-strings.
    pub(super) feeds: Vec<String>,
}

impl Walker {
    /// Walks a simple command's parts, then judges it.
    pub(super) fn simple(&mut self, command: &SimpleCommand, piped: bool) {
        let mut parts = Parts {
            texts: Vec::new(),
            name_at: None,
            name: None,
            args: Vec::new(),
            feeds: Vec::new(),
        };
        for item in command.prefix.iter().flat_map(|p| &p.0) {
            self.item(item, &mut parts, false);
        }
        if let Some(name) = &command.word_or_name {
            let name = self.word(&name.value);
            parts.name_at = Some(parts.texts.len());
            parts.texts.push(name.text.clone());
            parts.name = Some(name);
        }
        for item in command.suffix.iter().flat_map(|s| &s.0) {
            self.item(item, &mut parts, true);
        }
        self.judge(parts, piped);
    }

    fn item(&mut self, item: &CommandPrefixOrSuffixItem, parts: &mut Parts, arg: bool) {
        match item {
            CommandPrefixOrSuffixItem::IoRedirect(redirect) => {
                let text = self.redirect(redirect, &mut parts.feeds);
                parts.texts.push(text);
            }
            CommandPrefixOrSuffixItem::Word(word) => {
                let word = self.word(&word.value);
                parts.texts.push(word.text.clone());
                parts.args.push(word);
            }
            CommandPrefixOrSuffixItem::AssignmentWord(assignment, word) => {
                let text = self.assignment(assignment);
                parts.texts.push(text.clone());
                if arg {
                    let expanded = word.value.contains(['$', '`']);
                    parts.args.push(Rendered {
                        text,
                        expanded,
                        ..Rendered::default()
                    });
                }
            }
            CommandPrefixOrSuffixItem::ProcessSubstitution(kind, subshell) => {
                self.list(&subshell.list, false);
                parts.texts.push(format!("{kind}{subshell}"));
            }
        }
    }
}

impl Walker {
    /// Records the command and walks the scripts it runs (`eval`'s text,
    /// `sh -c`'s string, a here-document fed to a shell).
    pub(super) fn judge(&mut self, parts: Parts, piped: bool) {
        let text = parts.texts.join(" ");
        let mut also = Vec::new();
        let mut scripts = Vec::new();
        if let (Some(at), Some(name)) = (parts.name_at, &parts.name) {
            let after = parts.texts.get(at + 1..).unwrap_or_default();
            also.push(parts.texts.get(at..).unwrap_or_default().join(" "));
            let base = basename(&name.text);
            also.push(joined(base, after.iter().map(String::as_str)));
            if name.expanded || name.escaped || (name.pattern && name.text != "[") {
                self.opaque(Opaque::ExpandedName);
            }
            let args = &parts.args;
            if EVALUATORS.contains(&base) {
                self.opaque(Opaque::Evaluates(base.to_owned()));
                scripts.extend(evaluated(base, args));
            }
            if SHELLS.contains(&base) {
                self.shell(base, args, &parts.feeds, piped, &mut scripts);
            }
            if WRAPPERS.contains(&base) && wraps(base, args) {
                self.opaque(Opaque::Wraps(base.to_owned()));
                for (i, arg) in args.iter().enumerate() {
                    let rest = args.get(i + 1..).unwrap_or_default();
                    let rest = rest.iter().map(|a| a.text.as_str());
                    also.push(joined(basename(&arg.text), rest));
                }
            }
            if DECLARATIONS.contains(&base) {
                self.declaration(args);
            }
            if NAME_TAKERS.contains(&base) {
                self.names(base, args);
            }
        }
        let mut forms: Vec<String> = Vec::new();
        for form in also {
            if form != text && !forms.contains(&form) {
                forms.push(form);
            }
        }
        self.found.seen.push(Simple { text, also: forms });
        for script in scripts {
            self.script(&script);
        }
    }

    /// A shell: opaque unless it runs a script file, and not from a pipe
    /// or here-document; the string it is given is read all the same.
    fn shell(
        &mut self,
        base: &str,
        args: &[Rendered],
        feeds: &[String],
        piped: bool,
        scripts: &mut Vec<String>,
    ) {
        let (mut string, mut stdin, mut operand) = (false, false, None);
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let text = arg.text.as_str();
            if text == "--" || text == "-" {
                stdin |= text == "-";
                operand = args.next();
                break;
            }
            if let Some(long) = text.strip_prefix("--") {
                string |= long == "command";
            } else if let Some(flags) = text.strip_prefix(['-', '+']) {
                string |= flags.contains('c');
                stdin |= flags.contains('s');
                if flags.contains(['o', 'O']) {
                    args.next();
                }
            } else {
                operand = Some(arg);
                break;
            }
        }
        if string || stdin || operand.is_none() || !feeds.is_empty() || piped {
            self.opaque(Opaque::Shell(base.to_owned()));
        }
        match operand {
            Some(script) if string => scripts.push(script.text.clone()),
            _ => scripts.extend(feeds.iter().cloned()),
        }
    }

    /// `declare` and the like: `-i` and `-n` make later values evaluated;
    /// a computed name, or a subscript that reads a variable, is evaluated
    /// at once.
    fn declaration(&mut self, args: &[Rendered]) {
        for arg in args {
            let text = arg.text.as_str();
            if text.starts_with(['-', '+']) && !text.contains('=') {
                if text.contains(['i', 'n']) {
                    self.opaque(Opaque::Arithmetic);
                }
                continue;
            }
            let name = text.split('=').next().unwrap_or_default();
            let bare = name.split('[').next().unwrap_or_default();
            if EVALUATED_VARIABLES.contains(&bare) {
                self.opaque(Opaque::EvaluatedVariable(bare.to_owned()));
            }
            if !plain_name(name) {
                self.opaque(Opaque::Subscript);
            }
        }
    }

    /// `read`, `unset` and the like, which take variable names.
    fn names(&mut self, base: &str, args: &[Rendered]) {
        let flag = match base {
            "printf" | "test" | "[" => Some("-v"),
            "wait" => Some("-p"),
            _ => None,
        };
        if flag.is_some_and(|flag| !args.iter().any(|a| a.text == flag)) {
            return;
        }
        let computed = args
            .iter()
            .filter(|a| !a.text.starts_with('-'))
            .any(|a| a.expanded || !plain_name(&a.text));
        if computed {
            self.opaque(Opaque::Subscript);
        }
    }
}

/// The scripts an evaluator runs that can be read: `eval`'s arguments
/// joined, `trap`'s action.
fn evaluated(base: &str, args: &[Rendered]) -> Option<String> {
    let mut texts = args.iter().map(|a| a.text.as_str());
    match base {
        "eval" => Some(texts.collect::<Vec<_>>().join(" ")),
        "trap" => texts.find(|t| !t.starts_with('-')).map(str::to_owned),
        _ => None,
    }
}

/// Whether a wrapper is given a command to run.
fn wraps(base: &str, args: &[Rendered]) -> bool {
    match base {
        "find" => args
            .iter()
            .any(|a| matches!(a.text.as_str(), "-exec" | "-execdir" | "-ok" | "-okdir")),
        "command" => args
            .first()
            .is_some_and(|a| !matches!(a.text.as_str(), "-v" | "-V")),
        _ => !args.is_empty(),
    }
}

/// A variable name with no expansion, whose subscript if any is plain
/// arithmetic.
fn plain_name(name: &str) -> bool {
    if name.contains(['$', '`']) {
        return false;
    }
    match name.split_once('[') {
        Some((_, rest)) => plain_arithmetic(rest.rsplit_once(']').map_or(rest, |(i, _)| i)),
        None => true,
    }
}

fn joined<'a>(first: &'a str, rest: impl Iterator<Item = &'a str>) -> String {
    std::iter::once(first)
        .chain(rest)
        .collect::<Vec<_>>()
        .join(" ")
}
