//! Git's metadata under a confined agent's writable paths stays
//! read-only. A hook (`.git/hooks/pre-commit`) or a setting
//! (`core.fsmonitor`, `core.hooksPath`, a filter) planted there runs
//! outside every sandbox the next time the user runs `git` in their own
//! repository; a rewritten `.git` file (`gitdir: ...`) sends their git to
//! a repository of the agent's making.
//!
//! [`protected`] finds what the sandbox mounts read-only: the `.git` of
//! each writable root and of each directory directly in it (a folder of
//! clones), whether a directory or a `gitdir:` file, and the directory
//! such a file names when it lies under a writable root too. What the
//! agent's `sandbox.write` names at or beneath one of them stays writable
//! (the user's explicit choice, for an agent that commits). [`is_metadata`]
//! is the rule `fs.*` applies to a path it is about to write.

use std::path::{Component, Path, PathBuf};

/// The name git looks for.
const GIT: &str = ".git";

/// The git metadata under `writable` (real paths) to mount read-only.
pub(super) fn protected(writable: &[PathBuf]) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    for root in writable {
        let mut candidates = vec![root.join(GIT)];
        if let Ok(entries) = std::fs::read_dir(root) {
            for entry in entries.flatten() {
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                if is_dir && entry.file_name() != GIT {
                    candidates.push(entry.path().join(GIT));
                }
            }
        }
        for candidate in candidates {
            let Ok(meta) = std::fs::symlink_metadata(&candidate) else {
                continue;
            };
            if meta.is_file()
                && let Some(target) = pointer_target(&candidate)
                && writable.iter().any(|w| target.starts_with(w))
            {
                found.push(target);
            }
            if meta.is_dir() || meta.is_file() {
                found.push(candidate);
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// The real directory a `.git` file (`gitdir: PATH`) points at.
fn pointer_target(file: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(file).ok()?;
    let named = text.lines().next()?.strip_prefix("gitdir:")?.trim();
    let base = file.parent()?;
    std::fs::canonicalize(base.join(named)).ok()
}

/// Whether writing `path` (a real path) would write git's metadata: it is
/// named `.git` or lies in a directory so named, and `granted` (the
/// agent's explicit write paths) does not name it or a directory above
/// it inside that `.git`.
pub(crate) fn is_metadata(path: &Path, granted: &[PathBuf]) -> bool {
    let in_git = path
        .components()
        .any(|c| c == Component::Normal(GIT.as_ref()));
    in_git
        && !granted.iter().any(|g| {
            path.starts_with(g) && g.components().any(|c| c == Component::Normal(GIT.as_ref()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) {
        let status = studio_process::std_command("git", studio_process::ChildEnv::Only(&["PATH"]))
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    #[test]
    fn the_git_of_a_root_of_its_clones_and_of_its_worktrees_is_found() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().canonicalize().unwrap().join("ws");
        std::fs::create_dir_all(ws.join("clone/src")).unwrap();
        std::fs::create_dir_all(ws.join("plain")).unwrap();
        std::fs::create_dir_all(ws.join("deep/er")).unwrap();
        git(&ws, &["init", "-q"]);
        git(&ws.join("clone"), &["init", "-q"]);
        git(&ws.join("deep/er"), &["init", "-q"]);
        // A worktree whose git directory lies under the root, and one
        // whose git directory is outside every writable path.
        std::fs::create_dir_all(ws.join("linked")).unwrap();
        std::fs::write(ws.join("linked/.git"), "gitdir: ../clone/.git\n").unwrap();
        std::fs::create_dir_all(ws.join("away")).unwrap();
        std::fs::write(
            ws.join("away/.git"),
            format!("gitdir: {}\n", tmp.path().display()),
        )
        .unwrap();
        let found = protected(std::slice::from_ref(&ws));
        let mut expected = vec![
            ws.join(".git"),
            ws.join("away/.git"),
            ws.join("clone/.git"),
            ws.join("linked/.git"),
        ];
        expected.sort();
        // Deeper repositories are left to the sandbox's other walls; no
        // directory outside the writable roots is shown to it.
        assert_eq!(found, expected);
    }

    #[test]
    fn a_root_without_git_has_nothing_to_protect() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a.txt"), "a").unwrap();
        assert!(protected(&[tmp.path().to_path_buf(), tmp.path().join("missing")]).is_empty());
    }

    #[test]
    fn metadata_is_any_path_through_a_dot_git_unless_granted() {
        let none: &[PathBuf] = &[];
        assert!(is_metadata(Path::new("/ws/.git/hooks/pre-commit"), none));
        assert!(is_metadata(Path::new("/ws/.git"), none));
        assert!(is_metadata(Path::new("/ws/lib/.git/config"), none));
        assert!(!is_metadata(
            Path::new("/ws/.github/workflows/ci.yml"),
            none
        ));
        assert!(!is_metadata(Path::new("/ws/src/git.rs"), none));
        let granted = [PathBuf::from("/ws/.git")];
        assert!(!is_metadata(Path::new("/ws/.git/index"), &granted));
        assert!(is_metadata(Path::new("/ws/lib/.git/config"), &granted));
        // Granting the workspace itself grants nothing of its git.
        assert!(is_metadata(
            Path::new("/ws/.git/config"),
            &[PathBuf::from("/ws")]
        ));
    }
}
