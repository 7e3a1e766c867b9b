//! `fs.*`: files of the workspace. Unless the agent's mode is `full`, every
//! path stays inside the workspace: absolute paths and `..` are refused,
//! and a symlink that leads out is caught by resolving the real path.

use std::path::{Component, Path, PathBuf};

use protocol::agent::SafetyMode;

use super::{Capped, Context, Output};

/// Most matches `fs.search` returns.
const MAX_MATCHES: usize = 200;
/// Largest file `fs.search` looks into, in bytes.
const MAX_SEARCHED_FILE: u64 = 1024 * 1024;

/// The real path of `requested`, refused if it would leave the workspace.
/// `must_exist`: reads need the file; writes need only an ancestor.
pub(super) fn resolve(
    context: &Context,
    requested: &str,
    must_exist: bool,
) -> Result<PathBuf, String> {
    let path = Path::new(requested);
    let confined = context.safety != SafetyMode::Full;
    if confined {
        if path.is_absolute() {
            return Err(format!(
                "{requested:?} is absolute; give a path inside the workspace"
            ));
        }
        if path.components().any(|c| c == Component::ParentDir) {
            return Err(format!(
                "{requested:?} uses '..'; paths must stay inside the workspace"
            ));
        }
    }
    let joined = context.root.join(path);
    // The deepest part that exists, resolved through any symlinks.
    let mut existing = joined.as_path();
    let mut rest = Vec::new();
    let real = loop {
        match std::fs::canonicalize(existing) {
            Ok(real) => break real,
            Err(_) if !must_exist => {
                let name = existing
                    .file_name()
                    .ok_or_else(|| format!("{requested:?}: no such path"))?;
                rest.push(name.to_owned());
                existing = existing
                    .parent()
                    .ok_or_else(|| format!("{requested:?}: no such path"))?;
            }
            Err(err) => return Err(format!("{requested}: {err}")),
        }
    };
    if confined && !real.starts_with(&context.root) {
        return Err(format!(
            "{requested:?} leads outside the workspace (through a symlink)"
        ));
    }
    Ok(rest
        .into_iter()
        .rev()
        .fold(real, |path, part| path.join(part)))
}

pub(super) fn read(
    context: &Context,
    path: &str,
    offset: Option<u64>,
    limit: Option<u64>,
) -> Result<Output, String> {
    let real = resolve(context, path, true)?;
    let bytes = std::fs::read(&real).map_err(|e| format!("{path}: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|_| format!("{path} is not UTF-8 text"))?;
    let first = offset.unwrap_or(1).max(1) as usize - 1;
    let take = limit.map_or(usize::MAX, |l| l as usize);
    let mut out = Capped::default();
    for line in text.lines().skip(first).take(take) {
        out.push(line.as_bytes());
        out.push(b"\n");
    }
    Ok(Output {
        text: out.text(),
        truncated: out.truncated(),
    })
}

pub(super) fn list(context: &Context, path: &str) -> Result<Output, String> {
    let real = resolve(context, path, true)?;
    let mut names: Vec<String> = std::fs::read_dir(&real)
        .map_err(|e| format!("{path}: {e}"))?
        .flatten()
        .map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            match entry.file_type() {
                Ok(t) if t.is_dir() => format!("{name}/"),
                _ => name,
            }
        })
        .collect();
    names.sort();
    Ok(Output::text(names.join("\n")))
}

pub(super) fn write(context: &Context, path: &str, content: &str) -> Result<Output, String> {
    let real = resolve(context, path, false)?;
    if let Some(parent) = real.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{path}: {e}"))?;
    }
    std::fs::write(&real, content).map_err(|e| format!("{path}: {e}"))?;
    Ok(Output::text(format!(
        "wrote {} bytes to {path}",
        content.len()
    )))
}

pub(super) fn edit(context: &Context, path: &str, old: &str, new: &str) -> Result<Output, String> {
    if old.is_empty() {
        return Err("\"old\" must not be empty".to_owned());
    }
    let real = resolve(context, path, true)?;
    let text = std::fs::read_to_string(&real).map_err(|e| format!("{path}: {e}"))?;
    match text.matches(old).count() {
        0 => Err(format!("the text to replace does not occur in {path}")),
        1 => {
            std::fs::write(&real, text.replacen(old, new, 1))
                .map_err(|e| format!("{path}: {e}"))?;
            Ok(Output::text(format!("replaced 1 span in {path}")))
        }
        n => Err(format!(
            "the text to replace occurs {n} times in {path}; give a longer, unique span"
        )),
    }
}

pub(super) fn search(
    context: &Context,
    pattern: &str,
    contains: Option<&str>,
) -> Result<Output, String> {
    let glob = glob::Pattern::new(pattern).map_err(|e| format!("bad glob {pattern:?}: {e}"))?;
    let mut files = Vec::new();
    walk(&context.root, &context.root, &mut files);
    files.sort();
    let mut found = Vec::new();
    for relative in files {
        if found.len() >= MAX_MATCHES {
            break;
        }
        if !glob.matches(&relative) {
            continue;
        }
        let Some(needle) = contains else {
            found.push(relative);
            continue;
        };
        let path = context.root.join(&relative);
        if std::fs::metadata(&path).map_or(true, |m| m.len() > MAX_SEARCHED_FILE) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for (number, line) in text.lines().enumerate() {
            if line.contains(needle) {
                found.push(format!("{relative}:{}: {}", number + 1, line.trim()));
                if found.len() >= MAX_MATCHES {
                    break;
                }
            }
        }
    }
    let truncated = found.len() >= MAX_MATCHES;
    Ok(Output {
        text: if found.is_empty() {
            "no matches".to_owned()
        } else {
            found.join("\n")
        },
        truncated,
    })
}

/// Every regular file under `dir`, relative to `root`; symlinks are not followed.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_dir() {
            walk(root, &path, out);
        } else if kind.is_file()
            && let Ok(relative) = path.strip_prefix(root)
        {
            out.push(relative.to_string_lossy().into_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(safety: SafetyMode) -> (tempfile::TempDir, Context) {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        (dir, Context { root, safety })
    }

    #[test]
    fn paths_that_leave_the_workspace_are_refused() {
        let (_dir, ctx) = context(SafetyMode::WorkspaceWrite);
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(outside.path(), ctx.root.join("link")).unwrap();
        let absolute = outside.path().join("secret");
        for (path, why) in [
            (absolute.to_str().unwrap(), "is absolute"),
            ("../secret", "uses '..'"),
            ("a/../../secret", "uses '..'"),
            ("link/secret", "leads outside the workspace"),
        ] {
            let err = read(&ctx, path, None, None).unwrap_err();
            assert!(err.contains(why), "{path}: {err}");
        }
        let err = write(&ctx, "link/new-file", "x").unwrap_err();
        assert!(err.contains("leads outside"), "{err}");
        assert!(!outside.path().join("new-file").exists());
    }

    #[test]
    fn files_are_written_read_edited_listed_and_searched() {
        let (_dir, ctx) = context(SafetyMode::WorkspaceWrite);
        write(&ctx, "src/a.rs", "fn main() {\n    hello();\n}\n").unwrap();
        write(&ctx, "notes.txt", "hello there\nhello again\n").unwrap();
        assert_eq!(
            read(&ctx, "src/a.rs", Some(2), Some(1)).unwrap().text,
            "    hello();\n"
        );
        let err = edit(&ctx, "notes.txt", "hello", "bye").unwrap_err();
        assert!(err.contains("occurs 2 times"), "{err}");
        edit(&ctx, "notes.txt", "hello again", "bye").unwrap();
        assert_eq!(
            read(&ctx, "notes.txt", None, None).unwrap().text,
            "hello there\nbye\n"
        );
        assert_eq!(list(&ctx, ".").unwrap().text, "notes.txt\nsrc/");
        assert_eq!(search(&ctx, "**/*.rs", None).unwrap().text, "src/a.rs");
        assert_eq!(
            search(&ctx, "*", Some("hello")).unwrap().text,
            "notes.txt:1: hello there\nsrc/a.rs:2: hello();"
        );
    }

    #[test]
    fn full_mode_is_not_confined() {
        let (_dir, ctx) = context(SafetyMode::Full);
        let outside = tempfile::tempdir().unwrap();
        let file = outside.path().join("f");
        std::fs::write(&file, "free").unwrap();
        assert_eq!(
            read(&ctx, file.to_str().unwrap(), None, None).unwrap().text,
            "free\n"
        );
    }
}
