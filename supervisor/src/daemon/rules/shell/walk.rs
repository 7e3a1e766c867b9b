//! The walk over brush's syntax tree: every simple command, every word,
//! every nested script (`$(...)`, backquotes, process substitutions,
//! here-documents that expand).

use brush_parser::ast::{
    self, AndOr, Assignment, AssignmentName, AssignmentValue, BinaryPredicate, CompoundCommand,
    CompoundList, ExtendedTestExpr, IoFileRedirectTarget, IoRedirect, Pipeline, UnaryPredicate,
};
use brush_parser::word::{
    self, ParameterExpr, ParameterTransformOp, WordPiece, WordPieceWithSource,
};
use brush_parser::{Parser, ParserOptions};

use super::{Commands, EVALUATED_VARIABLES, Opaque};

/// Reads a whole command string.
pub(super) fn read(command: &str) -> Commands {
    let mut walker = Walker {
        found: Commands::default(),
        options: ParserOptions::default(),
        budget: PARSE_BUDGET_FACTOR
            .saturating_mul(command.len())
            .saturating_add(PARSE_BUDGET_MIN),
    };
    walker.script(command);
    walker.found
}

/// A word after quote removal.
#[derive(Debug, Default)]
pub(super) struct Rendered {
    /// Quotes removed, expansions as written.
    pub(super) text: String,
    /// It holds a parameter, command or arithmetic expansion: its value is
    /// not known before it runs.
    pub(super) expanded: bool,
    /// Unquoted characters that make it a pattern or a brace expansion.
    pub(super) pattern: bool,
    /// An ANSI-C quoted part with an escape (`$'\x72m'`), left as written.
    pub(super) escaped: bool,
}

/// Characters that, unquoted, make a word a pathname pattern, a brace
/// expansion or an extended glob.
const PATTERN_CHARS: &[char] = &['*', '?', '[', '{', '('];

/// How many bytes the parsers may read in all, as a multiple of the
/// command's length (plus [`PARSE_BUDGET_MIN`]): a nested script or word
/// is read again at each level it is nested in, so a command nested
/// thousands deep would take quadratic time. Past it the command is
/// [`Opaque::TooLarge`].
const PARSE_BUDGET_FACTOR: usize = 8;

/// See [`PARSE_BUDGET_FACTOR`].
const PARSE_BUDGET_MIN: usize = 64 * 1024;

/// Collects what it reads into `found`.
pub(super) struct Walker {
    pub(super) found: Commands,
    options: ParserOptions,
    /// Bytes the parsers may still read.
    budget: usize,
}

impl Walker {
    /// Marks the whole opaque, keeping the first reason.
    pub(super) fn opaque(&mut self, why: Opaque) {
        self.found.opaque.get_or_insert(why);
    }

    /// Takes `len` bytes from the budget; false (and opaque) when it is spent.
    fn spend(&mut self, len: usize) -> bool {
        match self.budget.checked_sub(len) {
            Some(left) => {
                self.budget = left;
                true
            }
            None => {
                self.budget = 0;
                self.opaque(Opaque::TooLarge);
                false
            }
        }
    }

    /// Parses and walks a script: the whole command, or one nested in it.
    pub(super) fn script(&mut self, text: &str) {
        if !self.spend(text.len()) {
            return;
        }
        let mut parser = Parser::new(std::io::Cursor::new(text.as_bytes()), &self.options);
        match parser.parse_program() {
            Ok(program) => {
                for list in &program.complete_commands {
                    self.list(list, false);
                }
            }
            Err(err) => self.opaque(Opaque::Unparsable(err.to_string())),
        }
    }

    /// `piped`: its standard input may be a pipe.
    pub(super) fn list(&mut self, list: &CompoundList, piped: bool) {
        for item in &list.0 {
            let and_or = &item.0;
            self.pipeline(&and_or.first, piped);
            for next in &and_or.additional {
                match next {
                    AndOr::And(pipeline) | AndOr::Or(pipeline) => self.pipeline(pipeline, piped),
                }
            }
        }
    }

    fn pipeline(&mut self, pipeline: &Pipeline, piped: bool) {
        for (i, command) in pipeline.seq.iter().enumerate() {
            self.command(command, piped || i > 0);
        }
    }

    fn command(&mut self, command: &ast::Command, piped: bool) {
        match command {
            ast::Command::Simple(simple) => self.simple(simple, piped),
            ast::Command::Compound(compound, redirects) => {
                self.compound(compound, piped);
                self.redirects(redirects.as_ref().map(|r| r.0.as_slice()));
            }
            ast::Command::Function(function) => {
                self.word(&function.fname.value);
                // Called from anywhere, so fed from anywhere.
                self.compound(&function.body.0, true);
                self.redirects(function.body.1.as_ref().map(|r| r.0.as_slice()));
            }
            ast::Command::ExtendedTest(test, redirects) => {
                self.test(&test.expr);
                self.redirects(redirects.as_ref().map(|r| r.0.as_slice()));
            }
        }
    }

    fn redirects(&mut self, redirects: Option<&[IoRedirect]>) {
        for redirect in redirects.unwrap_or_default() {
            self.redirect(redirect, &mut Vec::new());
        }
    }

    fn compound(&mut self, compound: &CompoundCommand, piped: bool) {
        match compound {
            CompoundCommand::Arithmetic(arithmetic) => self.arithmetic(&arithmetic.expr.value),
            CompoundCommand::ArithmeticForClause(clause) => {
                let parts = [&clause.initializer, &clause.condition, &clause.updater];
                for expr in parts.into_iter().flatten() {
                    self.arithmetic(&expr.value);
                }
                self.list(&clause.body.list, piped);
            }
            CompoundCommand::BraceGroup(group) => self.list(&group.list, piped),
            CompoundCommand::Subshell(subshell) => self.list(&subshell.list, piped),
            CompoundCommand::ForClause(clause) => {
                for value in clause.values.iter().flatten() {
                    self.word(&value.value);
                }
                self.list(&clause.body.list, piped);
            }
            CompoundCommand::CaseClause(clause) => {
                self.word(&clause.value.value);
                for case in &clause.cases {
                    for pattern in &case.patterns {
                        self.word(&pattern.value);
                    }
                    if let Some(body) = &case.cmd {
                        self.list(body, piped);
                    }
                }
            }
            CompoundCommand::IfClause(clause) => {
                self.list(&clause.condition, piped);
                self.list(&clause.then, piped);
                for branch in clause.elses.iter().flatten() {
                    if let Some(condition) = &branch.condition {
                        self.list(condition, piped);
                    }
                    self.list(&branch.body, piped);
                }
            }
            CompoundCommand::WhileClause(clause) | CompoundCommand::UntilClause(clause) => {
                self.list(&clause.0, piped);
                self.list(&clause.1.list, piped);
            }
            CompoundCommand::Coprocess(coprocess) => {
                if let Some(name) = &coprocess.name {
                    self.word(&name.value);
                }
                self.command(&coprocess.body, true);
            }
        }
    }

    /// `[[ ... ]]`: its words, its arithmetic comparisons and `-v` names.
    fn test(&mut self, expr: &ExtendedTestExpr) {
        match expr {
            ExtendedTestExpr::And(a, b) | ExtendedTestExpr::Or(a, b) => {
                self.test(a);
                self.test(b);
            }
            ExtendedTestExpr::Not(a) | ExtendedTestExpr::Parenthesized(a) => self.test(a),
            ExtendedTestExpr::UnaryTest(predicate, operand) => {
                let operand = self.word(&operand.value);
                let names = matches!(
                    predicate,
                    UnaryPredicate::ShellVariableIsSetAndAssigned
                        | UnaryPredicate::ShellVariableIsSetAndNameRef
                );
                if names && (operand.expanded || operand.text.contains('[')) {
                    self.opaque(Opaque::Subscript);
                }
            }
            ExtendedTestExpr::BinaryTest(predicate, left, right) => {
                let left = self.word(&left.value);
                let right = self.word(&right.value);
                let arithmetic = matches!(
                    predicate,
                    BinaryPredicate::ArithmeticEqualTo
                        | BinaryPredicate::ArithmeticNotEqualTo
                        | BinaryPredicate::ArithmeticLessThan
                        | BinaryPredicate::ArithmeticLessThanOrEqualTo
                        | BinaryPredicate::ArithmeticGreaterThan
                        | BinaryPredicate::ArithmeticGreaterThanOrEqualTo
                );
                let plain = |w: &Rendered| !w.expanded && plain_arithmetic(&w.text);
                if arithmetic && !(plain(&left) && plain(&right)) {
                    self.opaque(Opaque::Arithmetic);
                }
            }
        }
    }

    /// A redirection as text; a here-document's body or a here-string's
    /// text goes to `feeds` (what a shell reading its input would run).
    pub(super) fn redirect(&mut self, redirect: &IoRedirect, feeds: &mut Vec<String>) -> String {
        let fd = |fd: &Option<i32>| fd.map(|fd| fd.to_string()).unwrap_or_default();
        match redirect {
            IoRedirect::File(number, kind, target) => {
                // `> out`, but `2>&1`.
                let (space, target) = match target {
                    IoFileRedirectTarget::Filename(word) => (" ", self.word(&word.value).text),
                    IoFileRedirectTarget::Duplicate(word) => ("", self.word(&word.value).text),
                    IoFileRedirectTarget::Fd(target) => ("", target.to_string()),
                    IoFileRedirectTarget::ProcessSubstitution(kind, subshell) => {
                        self.list(&subshell.list, false);
                        (" ", format!("{kind}{subshell}"))
                    }
                };
                format!("{}{kind}{space}{target}", fd(number))
            }
            IoRedirect::OutputAndError(target, append) => {
                let arrow = if *append { "&>>" } else { "&>" };
                format!("{arrow} {}", self.word(&target.value).text)
            }
            IoRedirect::HereDocument(number, doc) => {
                if doc.requires_expansion && self.spend(doc.doc.value.len()) {
                    match word::parse_heredoc(&doc.doc.value, &self.options) {
                        Ok(pieces) => {
                            self.pieces(&doc.doc.value, &pieces, true, &mut Rendered::default());
                        }
                        Err(err) => self.opaque(Opaque::Unparsable(err.to_string())),
                    }
                }
                feeds.push(doc.doc.value.clone());
                let dash = if doc.remove_tabs { "-" } else { "" };
                format!("{}<<{dash}{}", fd(number), doc.here_end.value)
            }
            IoRedirect::HereString(number, text) => {
                let text = self.word(&text.value).text;
                feeds.push(text.clone());
                format!("{}<<< {text}", fd(number))
            }
        }
    }

    /// An assignment as text (`NAME=value`, `NAME[i]+=value`,
    /// `NAME=(a b)`), its values walked.
    pub(super) fn assignment(&mut self, assignment: &Assignment) -> String {
        let name = match &assignment.name {
            AssignmentName::VariableName(name) => name.clone(),
            AssignmentName::ArrayElementName(name, index) => {
                self.arithmetic(index);
                format!("{name}[{index}]")
            }
        };
        let bare = name.split('[').next().unwrap_or_default();
        if EVALUATED_VARIABLES.contains(&bare) {
            self.opaque(Opaque::EvaluatedVariable(bare.to_owned()));
        }
        let value = match &assignment.value {
            AssignmentValue::Scalar(value) => self.word(&value.value).text,
            AssignmentValue::Array(items) => {
                let mut texts = Vec::new();
                for (index, value) in items {
                    let value = self.word(&value.value).text;
                    match index {
                        Some(index) => {
                            let index = self.word(&index.value).text;
                            texts.push(format!("[{index}]={value}"));
                        }
                        None => texts.push(value),
                    }
                }
                format!("({})", texts.join(" "))
            }
        };
        let op = if assignment.append { "+=" } else { "=" };
        format!("{name}{op}{value}")
    }

    /// A word after quote removal; the scripts nested in it are walked.
    pub(super) fn word(&mut self, raw: &str) -> Rendered {
        let mut rendered = Rendered::default();
        if !self.spend(raw.len()) {
            rendered.text = raw.to_owned();
            rendered.expanded = true;
            return rendered;
        }
        match word::parse(raw, &self.options) {
            Ok(pieces) => self.pieces(raw, &pieces, false, &mut rendered),
            Err(err) => {
                if raw.contains(['$', '`', '(']) {
                    self.opaque(Opaque::Unparsable(err.to_string()));
                }
                rendered.text = raw.to_owned();
                rendered.expanded = true;
            }
        }
        rendered
    }

    fn pieces(
        &mut self,
        raw: &str,
        pieces: &[WordPieceWithSource],
        quoted: bool,
        out: &mut Rendered,
    ) {
        for piece in pieces {
            let source = raw
                .get(piece.start_index..piece.end_index)
                .unwrap_or_default();
            match &piece.piece {
                WordPiece::Text(text) => {
                    if !quoted && text.contains(PATTERN_CHARS) {
                        out.pattern = true;
                    }
                    out.text.push_str(text);
                }
                WordPiece::SingleQuotedText(text) => out.text.push_str(text),
                WordPiece::AnsiCQuotedText(text) => {
                    out.escaped |= text.contains('\\');
                    out.text.push_str(text);
                }
                WordPiece::DoubleQuotedSequence(inner)
                | WordPiece::GettextDoubleQuotedSequence(inner) => {
                    self.pieces(raw, inner, true, out);
                }
                WordPiece::TildeExpansion(_) => out.text.push_str(source),
                WordPiece::ParameterExpansion(expr) => {
                    out.expanded = true;
                    self.parameter(expr);
                    out.text.push_str(source);
                }
                WordPiece::CommandSubstitution(script) => {
                    out.expanded = true;
                    self.script(script);
                    out.text.push_str(source);
                }
                WordPiece::BackquotedCommandSubstitution(script) => {
                    out.expanded = true;
                    self.script(&unescape_backquoted(script));
                    out.text.push_str(source);
                }
                WordPiece::EscapeSequence(escaped) => {
                    let rest = escaped.strip_prefix('\\').unwrap_or(escaped);
                    if rest != "\n" {
                        out.text.push_str(rest);
                    }
                }
                WordPiece::ArithmeticExpression(expr) => {
                    out.expanded = true;
                    self.arithmetic(&expr.value);
                    out.text.push_str(source);
                }
            }
        }
    }

    /// A parameter expansion: opaque if it reads a value as a name or a
    /// prompt, or evaluates arithmetic that reads a variable; the words
    /// inside it (`${x:-$(rm y)}`) are walked.
    fn parameter(&mut self, expr: &ParameterExpr) {
        use ParameterExpr as P;
        let (parameter, indirect, words, arithmetic) = match expr {
            P::Parameter {
                parameter,
                indirect,
            }
            | P::ParameterLength {
                parameter,
                indirect,
            } => (Some(parameter), *indirect, vec![], vec![]),
            P::UseDefaultValues {
                parameter,
                indirect,
                default_value: word,
                ..
            }
            | P::AssignDefaultValues {
                parameter,
                indirect,
                default_value: word,
                ..
            }
            | P::IndicateErrorIfNullOrUnset {
                parameter,
                indirect,
                error_message: word,
                ..
            }
            | P::UseAlternativeValue {
                parameter,
                indirect,
                alternative_value: word,
                ..
            }
            | P::RemoveSmallestSuffixPattern {
                parameter,
                indirect,
                pattern: word,
            }
            | P::RemoveLargestSuffixPattern {
                parameter,
                indirect,
                pattern: word,
            }
            | P::RemoveSmallestPrefixPattern {
                parameter,
                indirect,
                pattern: word,
            }
            | P::RemoveLargestPrefixPattern {
                parameter,
                indirect,
                pattern: word,
            }
            | P::UppercaseFirstChar {
                parameter,
                indirect,
                pattern: word,
            }
            | P::UppercasePattern {
                parameter,
                indirect,
                pattern: word,
            }
            | P::LowercaseFirstChar {
                parameter,
                indirect,
                pattern: word,
            }
            | P::LowercasePattern {
                parameter,
                indirect,
                pattern: word,
            } => (Some(parameter), *indirect, word.iter().collect(), vec![]),
            P::Substring {
                parameter,
                indirect,
                offset,
                length,
            } => {
                let arithmetic = std::iter::once(offset).chain(length).map(|a| &a.value);
                (Some(parameter), *indirect, vec![], arithmetic.collect())
            }
            P::Transform {
                parameter,
                indirect,
                op,
            } => {
                let prompt = matches!(op, ParameterTransformOp::PromptExpand);
                (Some(parameter), *indirect || prompt, vec![], vec![])
            }
            P::ReplaceSubstring {
                parameter,
                indirect,
                pattern,
                replacement,
                ..
            } => {
                let words = std::iter::once(pattern).chain(replacement).collect();
                (Some(parameter), *indirect, words, vec![])
            }
            P::VariableNames { .. } | P::MemberKeys { .. } => (None, false, vec![], vec![]),
        };
        if indirect {
            self.opaque(Opaque::Indirect);
        }
        if let Some(word::Parameter::NamedWithIndex { index, .. }) = parameter {
            self.arithmetic(index);
        }
        for word in words {
            self.word(word);
        }
        for expr in arithmetic {
            self.arithmetic(expr);
        }
    }

    /// Arithmetic (`$((...))`, `((...))`, a subscript, an offset): opaque
    /// unless it is numbers and operators only, since bash evaluates a
    /// variable's value as an expression, subscripts and `$(...)` in them
    /// included. Scripts written in it are still walked.
    fn arithmetic(&mut self, text: &str) {
        if !plain_arithmetic(text) {
            self.opaque(Opaque::Arithmetic);
            if text.contains(['$', '`']) {
                self.word(text);
            }
        }
    }
}

/// Numbers (`12`, `0x1f`, `2#101`), operators, parentheses and spaces.
pub(super) fn plain_arithmetic(text: &str) -> bool {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            while chars
                .next_if(|c| c.is_ascii_alphanumeric() || matches!(c, '#' | '_' | '@'))
                .is_some()
            {}
        } else if !(c.is_whitespace() || "+-*/%<>=!&|^~?:,()".contains(c)) {
            return false;
        }
    }
    true
}

/// Inside backquotes a backslash quotes only `\`, `` ` `` and `$`.
fn unescape_backquoted(script: &str) -> String {
    let mut out = String::with_capacity(script.len());
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(next) = chars.next_if(|n| matches!(n, '\\' | '`' | '$'))
        {
            out.push(next);
        } else {
            out.push(c);
        }
    }
    out
}
