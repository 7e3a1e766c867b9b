//! `fs.*`: files of the workspace. Unless the agent's mode is `full`,
//! every path stays inside the workspace, checked by the kernel as the
//! file is opened ([`beneath`]); only regular files are read or written,
//! reads stop at what is returned, and the walk of `fs.search` respects
//! `.gitignore`, has limits and stops when the call is cancelled. Every
//! operation runs off the worker's runtime (`tools::run`), so a slow disk
//! or a huge tree never holds up its events or a Cancel.

mod beneath;

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use protocol::agent::SafetyMode;

use super::{Context, OUTPUT_CAP, Output};
use beneath::{Access, Root};

/// Most matches `fs.search` returns.
const MAX_MATCHES: usize = 200;
/// Largest file `fs.search` looks into, in bytes.
const MAX_SEARCHED_FILE: u64 = 1024 * 1024;
/// Most entries `fs.search` visits before it stops.
const MAX_VISITED: usize = 200_000;
/// Largest file `fs.edit` rewrites, in bytes.
const MAX_EDITED_FILE: u64 = 8 * 1024 * 1024;

fn root(context: &Context) -> Result<Root, String> {
    Root::open(
        &context.root,
        context.safety != SafetyMode::Full,
        context.sandbox.granted_writes(),
    )
}

pub(super) fn read(
    context: &Context,
    path: &str,
    offset: Option<u64>,
    limit: Option<u64>,
) -> Result<Output, String> {
    let file = root(context)?.file(path, Access::Read)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let first = offset.unwrap_or(1).max(1);
    let take = limit.unwrap_or(u64::MAX);
    let mut lines = BufReader::new(file);
    let mut text = String::new();
    let mut line = Vec::new();
    let (mut number, mut taken, mut truncated) = (0u64, 0u64, false);
    loop {
        line.clear();
        // Never more than what could still be returned, even of a line
        // (a GiB without a newline must not be loaded).
        let room = (OUTPUT_CAP - text.len()) as u64 + 1;
        let read = (&mut lines)
            .take(room)
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("{path}: {e}"))?;
        if read == 0 || taken >= take {
            break;
        }
        let whole = line.ends_with(b"\n") || (read as u64) < room;
        if whole {
            number += 1;
        }
        if number < first && whole {
            continue;
        }
        if !whole || text.len() + line.len() > OUTPUT_CAP {
            truncated = true;
            break;
        }
        let piece = std::str::from_utf8(&line).map_err(|_| format!("{path} is not UTF-8 text"))?;
        text.push_str(piece);
        if !piece.ends_with('\n') {
            text.push('\n');
        }
        taken += 1;
    }
    if truncated {
        text.push_str(&format!(
            "[... {path} has {size} bytes; read on from line {} with offset]",
            first + taken
        ));
    }
    Ok(Output { text, truncated })
}

pub(super) fn list(context: &Context, path: &str) -> Result<Output, String> {
    let dir = root(context)?.dir(path)?;
    let entries = rustix::fs::Dir::read_from(&dir).map_err(|e| format!("{path}: {e}"))?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "." || name == ".." {
                return None;
            }
            Some(if entry.file_type() == rustix::fs::FileType::Directory {
                format!("{name}/")
            } else {
                name
            })
        })
        .collect();
    names.sort();
    Ok(Output::text(names.join("\n")))
}

pub(super) fn write(context: &Context, path: &str, content: &str) -> Result<Output, String> {
    let mut file = root(context)?.file(path, Access::Write)?;
    file.write_all(content.as_bytes())
        .map_err(|e| format!("{path}: {e}"))?;
    Ok(Output::text(format!(
        "wrote {} bytes to {path}",
        content.len()
    )))
}

pub(super) fn edit(context: &Context, path: &str, old: &str, new: &str) -> Result<Output, String> {
    if old.is_empty() {
        return Err("\"old\" must not be empty".to_owned());
    }
    let root = root(context)?;
    let mut file = root.file(path, Access::Read)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    if size > MAX_EDITED_FILE {
        return Err(format!(
            "{path} has {size} bytes; fs.edit rewrites files of at most {MAX_EDITED_FILE}"
        ));
    }
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| format!("{path}: {e}"))?;
    match text.matches(old).count() {
        0 => Err(format!("the text to replace does not occur in {path}")),
        1 => {
            root.file(path, Access::Write)?
                .write_all(text.replacen(old, new, 1).as_bytes())
                .map_err(|e| format!("{path}: {e}"))?;
            Ok(Output::text(format!("replaced 1 span in {path}")))
        }
        n => Err(format!(
            "the text to replace occurs {n} times in {path}; give a longer, unique span"
        )),
    }
}

/// Set when the call that started a walk is dropped (cancelled), so the
/// walk stops at its next entry.
#[derive(Clone, Debug, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// Whether the call is gone.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Stops the walk.
    pub fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

pub(super) fn search(
    context: &Context,
    pattern: &str,
    contains: Option<&str>,
    stop: &Stop,
) -> Result<Output, String> {
    let glob = glob::Pattern::new(pattern).map_err(|e| format!("bad glob {pattern:?}: {e}"))?;
    let root = root(context)?;
    let walk = ignore::WalkBuilder::new(&root.path)
        .follow_links(false)
        .git_global(false)
        .build();
    let mut found = Vec::new();
    let mut visited = 0;
    let mut unfinished = None;
    for entry in walk {
        if stop.is_set() {
            return Err("cancelled".to_owned());
        }
        visited += 1;
        if visited > MAX_VISITED {
            unfinished = Some(format!("stopped after {MAX_VISITED} entries"));
            break;
        }
        if found.len() >= MAX_MATCHES {
            break;
        }
        let Ok(entry) = entry else { continue };
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Ok(relative) = entry.path().strip_prefix(&root.path) else {
            continue;
        };
        let relative = relative.to_string_lossy().into_owned();
        if !glob.matches(&relative) {
            continue;
        }
        let Some(needle) = contains else {
            found.push(relative);
            continue;
        };
        if entry
            .metadata()
            .map_or(true, |m| m.len() > MAX_SEARCHED_FILE)
        {
            continue;
        }
        let Ok(file) = root.file(&relative, Access::Read) else {
            continue;
        };
        for (number, line) in BufReader::new(file).lines().enumerate() {
            let Ok(line) = line else { break };
            if line.contains(needle) {
                found.push(format!("{relative}:{}: {}", number + 1, line.trim()));
                if found.len() >= MAX_MATCHES {
                    break;
                }
            }
        }
    }
    found.sort();
    let truncated = found.len() >= MAX_MATCHES || unfinished.is_some();
    let mut text = if found.is_empty() {
        "no matches".to_owned()
    } else {
        found.join("\n")
    };
    if let Some(why) = unfinished {
        text.push_str(&format!("\n[{why}]"));
    }
    Ok(Output { text, truncated })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(safety: SafetyMode) -> (tempfile::TempDir, Context) {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        (dir, Context::for_tests(root, safety))
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
        let go = Stop::default();
        assert_eq!(search(&ctx, "**/*.rs", None, &go).unwrap().text, "src/a.rs");
        assert_eq!(
            search(&ctx, "*", Some("hello"), &go).unwrap().text,
            "notes.txt:1: hello there\nsrc/a.rs:2: hello();"
        );
    }

    #[test]
    fn symlinks_that_lead_out_are_refused_dangling_ones_too() {
        let (_dir, ctx) = context(SafetyMode::WorkspaceWrite);
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("planted");
        // Dangling: the file it names does not exist yet.
        std::os::unix::fs::symlink(&target, ctx.root.join("dangling")).unwrap();
        let err = write(&ctx, "dangling", "pwned").unwrap_err();
        assert!(err.contains("leads outside the workspace"), "{err}");
        assert!(
            !target.exists(),
            "a write escaped through a dangling symlink"
        );
        // A symlinked directory outside, and a relative one climbing out.
        std::os::unix::fs::symlink(outside.path(), ctx.root.join("dir")).unwrap();
        std::os::unix::fs::symlink("../..", ctx.root.join("up")).unwrap();
        for path in ["dir/x", "up/etc/passwd"] {
            let err = read(&ctx, path, None, None).unwrap_err();
            assert!(err.contains("leads outside"), "{path}: {err}");
            assert!(write(&ctx, path, "x").is_err(), "{path}");
        }
        assert!(list(&ctx, "dir").unwrap_err().contains("leads outside"));
        // A symlink that stays inside is followed.
        write(&ctx, "real.txt", "inside\n").unwrap();
        std::os::unix::fs::symlink("real.txt", ctx.root.join("alias")).unwrap();
        assert_eq!(read(&ctx, "alias", None, None).unwrap().text, "inside\n");
    }

    #[test]
    fn git_metadata_is_not_written_by_any_spelling() {
        let (_dir, ctx) = context(SafetyMode::WorkspaceWrite);
        std::fs::create_dir_all(ctx.root.join(".git/hooks")).unwrap();
        std::fs::write(ctx.root.join(".git/config"), "[core]\n").unwrap();
        std::fs::create_dir_all(ctx.root.join("lib")).unwrap();
        std::os::unix::fs::symlink(".git", ctx.root.join("g")).unwrap();
        std::os::unix::fs::symlink(".git/config", ctx.root.join("c")).unwrap();
        std::os::unix::fs::symlink("../.git/hooks", ctx.root.join("lib/h")).unwrap();
        for path in [
            ".git/hooks/pre-commit",
            "./.git/config",
            ".git/new/dir/file",
            "g/hooks/post-checkout",
            "c",
            "lib/h/pre-push",
            // A gitdir file pointing the user's git at a repository of the
            // agent's making, at the top or in a folder.
            "lib/.git",
            "other/.git/config",
        ] {
            let err = write(&ctx, path, "touch /tmp/pwned").unwrap_err();
            assert!(err.contains("git's metadata"), "{path}: {err}");
        }
        let err = edit(&ctx, ".git/config", "[core]", "[core]\nfsmonitor = x").unwrap_err();
        assert!(err.contains("git's metadata"), "{err}");
        assert_eq!(
            std::fs::read_to_string(ctx.root.join(".git/config")).unwrap(),
            "[core]\n"
        );
        let hooks = std::fs::read_dir(ctx.root.join(".git/hooks"))
            .unwrap()
            .count();
        assert_eq!(hooks, 0, "a hook was planted");
        for made in [".git/new", "lib/.git", "other"] {
            assert!(!ctx.root.join(made).exists(), "{made} was made");
        }
        // Reading it, and names that merely look alike, are fine.
        assert_eq!(read(&ctx, "g/config", None, None).unwrap().text, "[core]\n");
        write(&ctx, ".github/workflows/ci.yml", "on: push\n").unwrap();
        write(&ctx, "src/.gitignore", "target\n").unwrap();
        // A full agent writes where it likes.
        let full = Context::for_tests(ctx.root.clone(), SafetyMode::Full);
        write(&full, ".git/description", "mine\n").unwrap();
    }

    #[test]
    fn a_directory_swapped_for_a_symlink_mid_call_never_leads_out() {
        let (_dir, ctx) = context(SafetyMode::WorkspaceWrite);
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "outside\n").unwrap();
        write(&ctx, "d/secret", "inside\n").unwrap();
        let (real, parked, link) = (
            ctx.root.join("d"),
            ctx.root.join("parked"),
            outside.path().to_path_buf(),
        );
        let done = Arc::new(AtomicBool::new(false));
        let swapper = {
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                // Swap d between the real directory and a symlink out, as
                // fast as the file system allows.
                let pause = std::time::Duration::from_micros(100);
                while !done.load(Ordering::Relaxed) {
                    let _ = std::fs::rename(&real, &parked);
                    let _ = std::os::unix::fs::symlink(&link, &real);
                    std::thread::sleep(pause);
                    let _ = std::fs::remove_file(&real);
                    let _ = std::fs::rename(&parked, &real);
                    std::thread::sleep(pause);
                }
            })
        };
        let (mut inside, mut refused) = (0, 0);
        for _ in 0..3000 {
            match read(&ctx, "d/secret", None, None) {
                Ok(out) => {
                    assert_eq!(out.text, "inside\n", "read through the swapped-in symlink");
                    inside += 1;
                }
                Err(_) => refused += 1,
            }
        }
        done.store(true, Ordering::Relaxed);
        swapper.join().unwrap();
        assert!(
            inside + refused == 3000 && inside > 0,
            "{inside} inside, {refused} refused"
        );
    }

    #[test]
    fn only_regular_files_with_one_name_are_opened() {
        let (_dir, ctx) = context(SafetyMode::WorkspaceWrite);
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret");
        std::fs::write(&secret, "s").unwrap();
        std::fs::hard_link(&secret, ctx.root.join("linked")).unwrap();
        let err = read(&ctx, "linked", None, None).unwrap_err();
        assert!(err.contains("hard links"), "{err}");
        assert!(write(&ctx, "linked", "x").is_err());
        assert_eq!(std::fs::read_to_string(&secret).unwrap(), "s");
        // A FIFO is refused at once rather than waited on.
        rustix::fs::mknodat(
            rustix::fs::CWD,
            ctx.root.join("pipe"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let started = std::time::Instant::now();
        let err = read(&ctx, "pipe", None, None).unwrap_err();
        assert!(err.contains("a FIFO"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert!(write(&ctx, "pipe", "x").is_err());
        assert!(
            read(&ctx, ".", None, None)
                .unwrap_err()
                .contains("a directory")
        );
    }

    #[test]
    fn proc_files_are_refused_in_every_mode() {
        let (_dir, ctx) = context(SafetyMode::Full);
        for path in ["/proc/self/environ", "/proc/self/status"] {
            let err = read(&ctx, path, None, None).unwrap_err();
            assert!(err.contains("/proc"), "{path}: {err}");
        }
    }

    #[test]
    fn a_huge_file_is_read_only_as_far_as_is_returned() {
        let (_dir, ctx) = context(SafetyMode::WorkspaceWrite);
        let file = std::fs::File::create(ctx.root.join("huge")).unwrap();
        // 1 GiB of zero bytes, sparse: reading it whole would take seconds
        // and a GiB of memory.
        file.set_len(1 << 30).unwrap();
        let started = std::time::Instant::now();
        let out = read(&ctx, "huge", None, None);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // One line of NULs longer than the cap: cut, never loaded whole.
        let out = out.unwrap();
        assert!(out.truncated);
        assert!(
            out.text.contains("has 1073741824 bytes"),
            "{}",
            &out.text[..80]
        );
        assert!(out.text.len() < OUTPUT_CAP + 200);
    }

    #[test]
    fn a_stopped_search_ends_at_its_next_entry() {
        let (_dir, ctx) = context(SafetyMode::WorkspaceWrite);
        for i in 0..50 {
            write(&ctx, &format!("d{i}/f.txt"), "x").unwrap();
        }
        let stop = Stop::default();
        stop.set();
        assert_eq!(search(&ctx, "**/*", None, &stop).unwrap_err(), "cancelled");
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
