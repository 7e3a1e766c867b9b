//! A gallery's index (`index.toml` at its root) and checking a gallery
//! against it: every template it lists must be a regular file inside the
//! gallery (no `..`, no absolute path, no symlink anywhere on the way),
//! no larger than [`MAX_TEMPLATE_BYTES`], with the SHA-256 the index
//! gives, a template ([`AgentFile`] with a `[template]` table) that passes
//! its checks, and named as its agent. A template that fails is left out
//! with the reason; an index that fails fails the whole gallery.
//!
//! ```toml
//! format = 1
//!
//! [[templates]]
//! name = "strict-reviewer"
//! path = "reviewers/strict.toml"
//! sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//! ```

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::agent_file::AgentFile;

/// The index's file name, at the gallery's root.
pub const INDEX_FILE: &str = "index.toml";
/// The index format this release reads.
pub const INDEX_FORMAT: u32 = 1;
/// The largest index read.
pub const MAX_INDEX_BYTES: u64 = 1024 * 1024;
/// The largest template read.
pub const MAX_TEMPLATE_BYTES: u64 = 256 * 1024;
/// The most templates one index may list.
pub const MAX_TEMPLATES: usize = 1000;

/// A gallery's index.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    /// The format's version ([`INDEX_FORMAT`]).
    pub format: u32,
    /// What the gallery holds, in a sentence.
    #[serde(default)]
    pub description: String,
    /// The templates, in the order the gallery shows them.
    #[serde(default)]
    pub templates: Vec<IndexEntry>,
}

/// One template the index lists.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexEntry {
    /// The template's name: its agent's name.
    pub name: String,
    /// Where its file is, relative to the gallery's root.
    pub path: String,
    /// The SHA-256 of the file, 64 hex digits (what `sha256sum` prints).
    pub sha256: String,
}

/// Why a gallery cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The index is missing, unreadable as an index, or of another format.
    #[error("bad {INDEX_FILE}: {0}")]
    Bad(String),
    /// The gallery's folder cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The folder.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
}

/// A gallery as checked: its index's text, the templates that passed and
/// those left out.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The index's text, as read.
    pub index_text: Vec<u8>,
    /// The index.
    pub index: Index,
    /// The templates that passed every check, in the index's order.
    pub templates: Vec<CheckedTemplate>,
    /// The templates left out, each with the reason.
    pub left_out: Vec<LeftOut>,
}

/// One template that passed.
#[derive(Clone, Debug)]
pub struct CheckedTemplate {
    /// Its line in the index.
    pub entry: IndexEntry,
    /// The template.
    pub file: AgentFile,
    /// Its text, as read (and hashed).
    pub text: String,
}

/// A template the index lists that was left out, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOut {
    /// Its name in the index.
    pub name: String,
    /// Its path in the index.
    pub path: String,
    /// Why, in a line.
    pub reason: String,
}

/// Checks the gallery at `root` against its index.
pub fn check(root: &Path) -> Result<Checked, IndexError> {
    let root = root.canonicalize().map_err(|source| IndexError::Io {
        path: root.to_path_buf(),
        source,
    })?;
    let index_text = read_inside(&root, INDEX_FILE, MAX_INDEX_BYTES).map_err(IndexError::Bad)?;
    let index = parse_index(&index_text)?;
    let mut templates = Vec::new();
    let mut left_out = Vec::new();
    let mut seen = BTreeSet::new();
    for entry in &index.templates {
        let checked = if seen.insert(entry.name.clone()) {
            check_entry(&root, entry)
        } else {
            Err("listed twice".to_owned())
        };
        match checked {
            Ok((file, text)) => templates.push(CheckedTemplate {
                entry: entry.clone(),
                file,
                text,
            }),
            Err(reason) => left_out.push(LeftOut {
                name: entry.name.clone(),
                path: entry.path.clone(),
                reason,
            }),
        }
    }
    Ok(Checked {
        index_text,
        index,
        templates,
        left_out,
    })
}

/// The index in `text`, its format checked.
pub fn parse_index(text: &[u8]) -> Result<Index, IndexError> {
    let text =
        std::str::from_utf8(text).map_err(|_| IndexError::Bad("not UTF-8 text".to_owned()))?;
    let index: Index = toml::from_str(text).map_err(|err| IndexError::Bad(one_line(&err)))?;
    if index.format != INDEX_FORMAT {
        return Err(IndexError::Bad(format!(
            "format {} is not one this release reads ({INDEX_FORMAT})",
            index.format
        )));
    }
    if index.templates.len() > MAX_TEMPLATES {
        return Err(IndexError::Bad(format!(
            "{} templates, over the limit of {MAX_TEMPLATES}",
            index.templates.len()
        )));
    }
    Ok(index)
}

/// Checks one entry: its name, its path, the file's size, checksum and
/// contents. The file is read once; what is hashed is what is parsed.
fn check_entry(root: &Path, entry: &IndexEntry) -> Result<(AgentFile, String), String> {
    if entry.name.contains('/') {
        return Err(format!("name {:?} has a '/'", entry.name));
    }
    protocol::agent::validate_name(&entry.name)?;
    let want = entry.sha256.to_ascii_lowercase();
    if want.len() != 64 || !want.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("its sha256 is not 64 hex digits".to_owned());
    }
    let bytes = read_inside(root, &entry.path, MAX_TEMPLATE_BYTES)?;
    let got = sha256_hex(&bytes);
    if got != want {
        return Err(format!(
            "checksum mismatch: the index says {}…, the file is {}…",
            &want[..12],
            &got[..12]
        ));
    }
    let text = String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())?;
    let file =
        AgentFile::parse(&text).map_err(|err| format!("does not validate: {}", one_line(&err)))?;
    if file.template.is_none() {
        return Err("an agent file without a [template] table".to_owned());
    }
    if file.agent.name != entry.name {
        return Err(format!(
            "the index names it {:?} but its agent is {:?}",
            entry.name, file.agent.name
        ));
    }
    Ok((file, text))
}

/// The SHA-256 of `bytes` in lowercase hex, as `sha256sum` prints it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `rel` is a plain relative path: not empty, not absolute, no
/// `..`, nothing inside a `.git` folder.
pub fn plain_relative(rel: &str) -> Result<Vec<&str>, String> {
    if rel.is_empty() || rel.contains('\0') {
        return Err("an empty path".to_owned());
    }
    let mut parts = Vec::new();
    for component in Path::new(rel).components() {
        match component {
            Component::Normal(part) if part == ".git" => {
                return Err(format!("{rel:?} is inside .git"));
            }
            Component::Normal(part) => parts.push(part.to_str().unwrap_or_default()),
            Component::CurDir => {}
            Component::ParentDir => return Err(format!("{rel:?} leaves the gallery (..)")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("{rel:?} is an absolute path"));
            }
        }
    }
    if parts.is_empty() {
        return Err("an empty path".to_owned());
    }
    Ok(parts)
}

/// Reads `rel` under `root` (canonical), at most `limit` bytes: refused
/// when any part of the way is a symlink, when it is not a regular file,
/// when it ends up outside `root`, or when it is larger.
pub fn read_inside(root: &Path, rel: &str, limit: u64) -> Result<Vec<u8>, String> {
    read_inside_of(root, rel, limit, "the gallery")
}

/// [`read_inside`], naming the folder `place` ("the plugin") in its
/// refusals.
pub fn read_inside_of(root: &Path, rel: &str, limit: u64, place: &str) -> Result<Vec<u8>, String> {
    let parts = plain_relative(rel).map_err(|why| why.replace("the gallery", place))?;
    let mut path = root.to_path_buf();
    for part in &parts {
        path.push(part);
        let meta = std::fs::symlink_metadata(&path).map_err(|err| match err.kind() {
            io::ErrorKind::NotFound => format!("{rel:?} is not in {place}"),
            _ => format!("cannot read {rel:?}: {err}"),
        })?;
        if meta.file_type().is_symlink() {
            return Err(format!("{rel:?} goes through a symlink, which is refused"));
        }
    }
    let inside = path.canonicalize().is_ok_and(|real| real.starts_with(root));
    if !inside {
        return Err(format!("{rel:?} leaves {place}"));
    }
    let fd = rustix::fs::open(
        &path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    )
    .map_err(|err| format!("cannot open {rel:?}: {err}"))?;
    let file = File::from(fd);
    let meta = file
        .metadata()
        .map_err(|err| format!("cannot read {rel:?}: {err}"))?;
    if !meta.is_file() {
        return Err(format!("{rel:?} is not a regular file"));
    }
    if meta.len() > limit {
        return Err(format!(
            "{rel:?} is {} bytes, over the limit of {limit}",
            meta.len()
        ));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| format!("cannot read {rel:?}: {err}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!("{rel:?} is over the limit of {limit} bytes"));
    }
    Ok(bytes)
}

/// An error's text on one line (TOML errors quote the source over
/// several).
fn one_line(err: &impl std::fmt::Display) -> String {
    err.to_string()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('|') && !line.contains(" | "))
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;
    use crate::templates;

    /// A gallery in a temp dir: `files` written, and an index listing
    /// `entries` as (name, path, sha256 or `None` for the right one).
    fn gallery(
        files: &[(&str, &str)],
        entries: &[(&str, &str, Option<&str>)],
    ) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let mut index = String::from("format = 1\n");
        for (name, path, sum) in entries {
            let sum = sum.map(str::to_owned).unwrap_or_else(|| {
                let bytes = std::fs::read(dir.path().join(path)).unwrap_or_default();
                sha256_hex(&bytes)
            });
            index.push_str(&format!(
                "[[templates]]\nname = {name:?}\npath = {path:?}\nsha256 = {sum:?}\n"
            ));
        }
        std::fs::write(dir.path().join(INDEX_FILE), index).unwrap();
        dir
    }

    fn writer() -> &'static str {
        templates::text("writer").unwrap()
    }

    fn reasons(checked: &Checked) -> Vec<(String, String)> {
        checked
            .left_out
            .iter()
            .map(|l| (l.name.clone(), l.reason.clone()))
            .collect()
    }

    #[test]
    fn a_good_template_passes_and_hashes_as_sha256sum_does() {
        assert_eq!(
            sha256_hex(b"test"),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
        let dir = gallery(
            &[("w/writer.toml", writer())],
            &[("writer", "./w/writer.toml", None)],
        );
        let checked = check(dir.path()).unwrap();
        assert!(checked.left_out.is_empty(), "{:?}", checked.left_out);
        assert_eq!(checked.templates.len(), 1);
        assert_eq!(checked.templates[0].file.agent.name, "writer");
        assert_eq!(checked.templates[0].text, writer());
    }

    #[test]
    fn paths_that_leave_the_gallery_are_left_out_unread() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.toml"), writer()).unwrap();
        let sum = sha256_hex(writer().as_bytes());
        let dir = gallery(
            &[],
            &[
                ("writer", "../secret.toml", Some(&sum)),
                ("a", "/etc/passwd", Some(&sum)),
                ("b", "link.toml", Some(&sum)),
                ("c", "linked/secret.toml", Some(&sum)),
                ("d", ".git/config", Some(&sum)),
                ("e", "", Some(&sum)),
            ],
        );
        symlink(
            outside.path().join("secret.toml"),
            dir.path().join("link.toml"),
        )
        .unwrap();
        symlink(outside.path(), dir.path().join("linked")).unwrap();
        let checked = check(dir.path()).unwrap();
        assert!(checked.templates.is_empty());
        let why = reasons(&checked);
        assert!(why[0].1.contains("leaves the gallery"), "{why:?}");
        assert!(why[1].1.contains("absolute"), "{why:?}");
        assert!(why[2].1.contains("symlink"), "{why:?}");
        assert!(why[3].1.contains("symlink"), "{why:?}");
        assert!(why[4].1.contains(".git"), "{why:?}");
        assert!(why[5].1.contains("empty"), "{why:?}");
    }

    #[test]
    fn a_symlinked_index_is_a_bad_index() {
        let dir = tempfile::tempdir().unwrap();
        symlink("/etc/passwd", dir.path().join(INDEX_FILE)).unwrap();
        let err = check(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("bad index.toml") && err.contains("symlink"),
            "{err}"
        );
    }

    #[test]
    fn wrong_sums_names_sizes_and_contents_are_left_out_with_the_reason() {
        let big = format!(
            "{}\n#{}\n",
            writer(),
            "x".repeat(MAX_TEMPLATE_BYTES as usize)
        );
        let plain = agent_without_template();
        let dir = gallery(
            &[
                ("writer.toml", writer()),
                ("big.toml", &big),
                (
                    "bad.toml",
                    "format = 1\n[agent]\nname = \"bad\"\nprovider = \"nope\"\n",
                ),
                ("plain.toml", &plain),
            ],
            &[
                ("writer", "writer.toml", Some(&"0".repeat(64))),
                ("other", "writer.toml", None),
                ("writer", "big.toml", None),
                ("bad", "bad.toml", None),
                ("plain", "plain.toml", None),
                ("missing", "missing.toml", None),
                ("short", "writer.toml", Some("abc")),
                ("a/b", "writer.toml", None),
            ],
        );
        let checked = check(dir.path()).unwrap();
        assert!(checked.templates.is_empty());
        let why = reasons(&checked);
        let expect = [
            ("writer", "checksum mismatch"),
            ("other", "its agent is \"writer\""),
            ("writer", "listed twice"),
            ("bad", "does not validate"),
            ("plain", "without a [template]"),
            ("missing", "not in the gallery"),
            ("short", "64 hex digits"),
            ("a/b", "'/'"),
        ];
        assert_eq!(why.len(), expect.len(), "{why:?}");
        for ((name, reason), (want_name, want)) in why.iter().zip(expect) {
            assert_eq!(name, want_name);
            assert!(reason.contains(want), "{name}: {reason}");
        }
        // The first of a name is what counts: an oversize one listed
        // first is refused for its size.
        let dir = gallery(&[("big.toml", &big)], &[("writer", "big.toml", None)]);
        let why = reasons(&check(dir.path()).unwrap());
        assert!(why[0].1.contains("over the limit"), "{why:?}");
    }

    fn agent_without_template() -> String {
        let mut file = AgentFile::parse(writer()).unwrap();
        file.template = None;
        file.agent.name = "plain".into();
        file.write(crate::agent_file::FileFormat::Toml).unwrap()
    }

    #[test]
    fn a_bad_index_fails_the_gallery() {
        for (text, says) in [
            ("not toml [", "bad index.toml"),
            ("format = 2\n", "format 2"),
            ("templates = []\n", "format"),
            ("format = 1\nsurprise = 1\n", "surprise"),
            ("format = 1\n[[templates]]\nname = \"x\"\n", "path"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join(INDEX_FILE), text).unwrap();
            let err = check(dir.path()).unwrap_err().to_string();
            assert!(err.contains(says), "{text}: {err}");
        }
        let dir = tempfile::tempdir().unwrap();
        let err = check(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not in the gallery"), "{err}");
        let huge = format!("format = 1\n#{}\n", "x".repeat(MAX_INDEX_BYTES as usize));
        std::fs::write(dir.path().join(INDEX_FILE), huge).unwrap();
        let err = check(dir.path()).unwrap_err().to_string();
        assert!(err.contains("over the limit"), "{err}");
    }
}
