//! What the tidy tests read the workspace with: its files, the words its
//! code uses, the names ARCHITECTURE.md gives, and each crate's module
//! graph (which module imports which, from `use` lines and paths).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The workspace's root folder.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Folders never read: build output, installed packages, git.
fn skipped(name: &str) -> bool {
    matches!(name, "target" | "node_modules" | ".git" | "snapshots")
}

/// Every file and folder under `root` (relative, `/`-separated), but
/// what [`skipped`] names.
pub fn repo_files(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if skipped(&name) {
                continue;
            }
            let path = entry.path();
            let relative = path.strip_prefix(root).unwrap().display().to_string();
            if entry.file_type().unwrap().is_dir() {
                out.insert(format!("{relative}/"));
                stack.push(path);
            } else {
                out.insert(relative);
            }
        }
    }
    out
}

/// Every `.rs` file under `dir`, sorted.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = repo_files(dir)
        .into_iter()
        .filter(|f| f.ends_with(".rs"))
        .map(|f| dir.join(f))
        .collect();
    out.sort();
    out
}

/// The identifiers and other words of the code (Rust, scripts, the
/// browser test), to look names up in.
pub fn code_words(root: &Path, files: &BTreeSet<String>) -> BTreeSet<String> {
    let mut words = BTreeSet::new();
    for file in files {
        let code = [".rs", ".mjs", ".toml", ".json", ".css"]
            .iter()
            .any(|ext| file.ends_with(ext))
            || file.starts_with("scripts/")
            || file.starts_with(".ci/");
        if !code || file.ends_with('/') || file.ends_with("package-lock.json") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root.join(file)) else {
            continue;
        };
        for word in text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.'))
        {
            for part in word.split(['.']) {
                words.insert(part.to_owned());
                words.insert(part.trim_matches('-').to_owned());
            }
            words.insert(word.to_owned());
        }
    }
    words
}

/// The `code spans` of a Markdown text (fenced blocks left out).
pub fn backticked(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut parts = line.split('`');
        parts.next();
        while let (Some(inside), Some(_)) = (parts.next(), parts.next()) {
            if !inside.is_empty() {
                out.push(inside.to_owned());
            }
        }
    }
    out
}

/// Whether the code span `name` of ARCHITECTURE.md still names something:
/// a path some file or folder ends with, or identifiers the code has.
/// Phrases (with spaces), globs and shell lines are not checked.
pub fn names_something(name: &str, files: &BTreeSet<String>, words: &BTreeSet<String>) -> bool {
    let name = name.split('(').next().unwrap_or(name).trim();
    let shell_or_syntax = name
        .contains([' ', '*', '<', '=', '$', '"', '\'', ',', '[', '#', '?', '!'])
        || (name.contains(':') && !name.contains("::"));
    if name.is_empty() || shell_or_syntax {
        return true;
    }
    let has_word = |w: &str| w.is_empty() || words.contains(w);
    if name.contains('/') || looks_like_file(name) {
        let bare = name.trim_end_matches('/');
        let path_exists = files.iter().any(|f| {
            let f = f.trim_end_matches('/');
            f == bare || f.ends_with(&format!("/{bare}"))
        });
        // A path under a placeholder (`DATA_DIR/secrets.json`) names its file.
        return path_exists || has_word(bare.rsplit('/').next().unwrap_or(bare));
    }
    name.split("::")
        .flat_map(|s| s.split('.'))
        .all(|segment| has_word(segment.trim_start_matches("--")))
}

fn looks_like_file(name: &str) -> bool {
    [
        ".rs", ".md", ".toml", ".json", ".mjs", ".txt", ".css", ".lock", ".sock", ".redb", ".log",
    ]
    .iter()
    .any(|ext| name.ends_with(ext))
}

/// Which module of one crate imports which: module paths like
/// `daemon/control`, from every `crate::`, `super::` and `self::` path
/// (in `use` lines or in code) of each source file.
pub struct ModuleGraph {
    modules: BTreeSet<Vec<String>>,
    /// Importing module -> imported modules (siblings under one parent).
    edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
}

impl ModuleGraph {
    /// The graph of the crate whose sources are in `src` (its library
    /// when it has one, else its binary).
    pub fn of_crate(src: &Path) -> ModuleGraph {
        let has_lib = src.join("lib.rs").exists();
        let files: Vec<(Vec<String>, PathBuf)> = rust_files(src)
            .into_iter()
            .filter(|f| !(has_lib && f == &src.join("main.rs")))
            .map(|f| (module_path(src, &f), f))
            .collect();
        let modules: BTreeSet<Vec<String>> = files.iter().map(|(m, _)| m.clone()).collect();
        let texts: Vec<(Vec<String>, String)> = files
            .iter()
            .map(|(m, f)| {
                (
                    m.clone(),
                    without_tests_and_comments(&std::fs::read_to_string(f).unwrap()),
                )
            })
            .collect();
        // `pub use child::Item;` in module M: M's `Item` is the child's.
        let mut reexports: BTreeMap<(Vec<String>, String), Vec<String>> = BTreeMap::new();
        for (module, text) in &texts {
            for path in reexported_paths(text, module) {
                if let Some(name) = path.last() {
                    reexports.insert((module.clone(), name.clone()), path.clone());
                }
            }
        }
        let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
        for (module, text) in &texts {
            for path in referenced_paths(text, module) {
                let Some(target) = resolve(&path, &modules, &reexports) else {
                    continue;
                };
                let common = module
                    .iter()
                    .zip(&target)
                    .take_while(|(a, b)| a == b)
                    .count();
                if common == module.len() || common == target.len() {
                    // One is inside the other: a parent and its child.
                    continue;
                }
                edges
                    .entry(module[..=common].to_vec())
                    .or_default()
                    .insert(target[..=common].to_vec());
            }
        }
        ModuleGraph { modules, edges }
    }

    /// Every group of modules whose imports go round in a circle (longer
    /// than a pair), each listed in order, as `a -> b -> c`.
    pub fn circles(&self) -> Vec<String> {
        let reach = |from: &Vec<String>| {
            let mut seen: BTreeSet<Vec<String>> = BTreeSet::new();
            let mut stack = vec![from.clone()];
            while let Some(at) = stack.pop() {
                for next in self.edges.get(&at).into_iter().flatten() {
                    if seen.insert(next.clone()) {
                        stack.push(next.clone());
                    }
                }
            }
            seen
        };
        let mut groups: BTreeSet<Vec<Vec<String>>> = BTreeSet::new();
        for node in self.edges.keys() {
            let from_node = reach(node);
            let mut group: Vec<Vec<String>> = from_node
                .iter()
                .filter(|other| reach(other).contains(node))
                .cloned()
                .collect();
            if group.len() > 2 {
                group.sort();
                groups.insert(group);
            }
        }
        groups
            .into_iter()
            .map(|g| {
                g.iter()
                    .map(|m| m.join("/"))
                    .collect::<Vec<_>>()
                    .join(" -> ")
            })
            .collect()
    }

    /// Every pair of modules that import each other, as `a <-> b`.
    pub fn mutual_imports(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (from, targets) in &self.edges {
            for to in targets {
                let back = self.edges.get(to).is_some_and(|t| t.contains(from));
                if back && from < to {
                    out.push((from.join("/"), to.join("/")));
                }
            }
        }
        debug_assert!(!self.modules.is_empty());
        out
    }
}

/// `daemon/control/answer.rs` -> `[daemon, control, answer]`; `mod.rs`,
/// `lib.rs` and `main.rs` are their folder's module.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The text before its first inline `mod tests { ... }` (whose `super::`
/// is the file's own module), without `//` comments.
fn without_tests_and_comments(text: &str) -> String {
    let code = match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => text,
    };
    code.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module `path` names: its longest prefix that is a module, or, when
/// the item after that prefix is re-exported there, the module it comes
/// from (so `crate::daemon::SchedulerMsg` counts as `daemon/scheduler`).
fn resolve(
    path: &[String],
    modules: &BTreeSet<Vec<String>>,
    reexports: &BTreeMap<(Vec<String>, String), Vec<String>>,
) -> Option<Vec<String>> {
    let module = longest_known_prefix(path, modules)?;
    let Some(item) = path.get(module.len()) else {
        return Some(module);
    };
    match reexports.get(&(module.clone(), item.clone())) {
        Some(origin) => longest_known_prefix(origin, modules).or(Some(module)),
        None => Some(module),
    }
}

/// The paths a module re-exports (`pub use` / `pub(crate) use` lines),
/// made absolute: relative ones start at the module itself.
fn reexported_paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in code.lines() {
        let line = line.trim_start();
        let Some(rest) = ["pub use ", "pub(crate) use ", "pub(super) use "]
            .iter()
            .find_map(|p| line.strip_prefix(p))
        else {
            continue;
        };
        let chars: Vec<char> = rest.chars().collect();
        if rest.starts_with("crate::") || rest.starts_with("super::") || rest.starts_with("self::")
        {
            out.extend(referenced_paths(rest, module));
        } else {
            let mut pos = 0;
            parse_tree(&chars, &mut pos, module.to_vec(), &mut out);
        }
    }
    out
}

/// The longest prefix of `path` that is one of `modules`.
fn longest_known_prefix(path: &[String], modules: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| modules.contains(prefix))
}

/// Every module path the code names from `crate::`, `super::` or `self::`
/// (a `{...}` group gives one path per member), made absolute.
fn referenced_paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let before_ok = at == 0
            || !(chars[at - 1].is_alphanumeric() || chars[at - 1] == '_' || chars[at - 1] == ':');
        if before_ok {
            for (start, base) in [
                ("crate::", Vec::new()),
                ("super::", module[..module.len().saturating_sub(1)].to_vec()),
                ("self::", module.to_vec()),
            ] {
                if starts_with(&chars, at, start) {
                    let mut base = base;
                    let mut pos = at + start.len();
                    // `super::super::`
                    while start == "super::" && starts_with(&chars, pos, "super::") {
                        base.pop();
                        pos += "super::".len();
                    }
                    parse_tree(&chars, &mut pos, base, &mut out);
                    at = pos;
                    break;
                }
            }
        }
        at += 1;
    }
    out
}

fn starts_with(chars: &[char], at: usize, text: &str) -> bool {
    text.chars()
        .enumerate()
        .all(|(i, c)| chars.get(at + i) == Some(&c))
}

/// Parses a path or `{...}` group at `pos`, pushing every full path.
fn parse_tree(
    chars: &[char],
    pos: &mut usize,
    mut prefix: Vec<String>,
    out: &mut Vec<Vec<String>>,
) {
    loop {
        skip_space(chars, pos);
        if chars.get(*pos) == Some(&'{') {
            *pos += 1;
            loop {
                skip_space(chars, pos);
                match chars.get(*pos) {
                    Some('}') => {
                        *pos += 1;
                        return;
                    }
                    Some(',') => *pos += 1,
                    None => return,
                    _ => {
                        let before = *pos;
                        parse_tree(chars, pos, prefix.clone(), out);
                        if *pos == before {
                            *pos += 1;
                        }
                    }
                }
            }
        }
        let start = *pos;
        while chars
            .get(*pos)
            .is_some_and(|c| c.is_alphanumeric() || *c == '_')
        {
            *pos += 1;
        }
        if *pos == start {
            out.push(prefix);
            return;
        }
        let segment: String = chars[start..*pos].iter().collect();
        if segment != "self" {
            prefix.push(segment);
        }
        if starts_with(chars, *pos, "::") {
            *pos += 2;
            continue;
        }
        out.push(prefix);
        return;
    }
}

fn skip_space(chars: &[char], pos: &mut usize) {
    while chars.get(*pos).is_some_and(|c| c.is_whitespace()) {
        *pos += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &str)]) -> ModuleGraph {
        let path = |m: &str| m.split('/').map(str::to_owned).collect::<Vec<_>>();
        let mut out = ModuleGraph {
            modules: BTreeSet::new(),
            edges: BTreeMap::new(),
        };
        for (from, to) in edges {
            out.modules.insert(path(from));
            out.modules.insert(path(to));
            out.edges.entry(path(from)).or_default().insert(path(to));
        }
        out
    }

    #[test]
    fn pairs_and_circles_are_found_and_a_one_way_graph_passes() {
        let one_way = graph(&[("a", "b"), ("b", "c"), ("a", "c")]);
        assert!(one_way.mutual_imports().is_empty());
        assert!(one_way.circles().is_empty());
        let pair = graph(&[("a", "b"), ("b", "a")]);
        assert_eq!(pair.mutual_imports(), [("a".to_owned(), "b".to_owned())]);
        let circle = graph(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]);
        assert!(circle.mutual_imports().is_empty());
        assert_eq!(circle.circles(), ["a -> b -> c"]);
    }

    #[test]
    fn a_cycle_through_a_re_export_is_found() {
        let src = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| {
            let path = src.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("lib.rs", "//! root\nmod daemon;\n");
        write(
            "daemon/mod.rs",
            "//! d\nmod listener;\nmod session;\npub(crate) use session::SessionMsg;\n",
        );
        write("daemon/listener.rs", "//! l\nuse super::SessionMsg;\n");
        write(
            "daemon/session.rs",
            "//! s\nuse crate::daemon::listener::Registry;\n",
        );
        let graph = ModuleGraph::of_crate(src.path());
        assert_eq!(
            graph.mutual_imports(),
            [("daemon/listener".to_owned(), "daemon/session".to_owned())]
        );
    }

    #[test]
    fn paths_are_read_from_use_groups_and_code() {
        let module = vec!["daemon".to_owned(), "session".to_owned()];
        let code = "use crate::store::{Store, records::{self, Record}};\nlet x = super::approvals::Ruling::new(); self::start::go();";
        let paths: Vec<String> = referenced_paths(code, &module)
            .into_iter()
            .map(|p| p.join("/"))
            .collect();
        assert_eq!(
            paths,
            [
                "store/Store",
                "store/records",
                "store/records/Record",
                "daemon/approvals/Ruling/new",
                "daemon/session/start/go"
            ]
        );
    }
}
