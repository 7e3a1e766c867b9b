//! Where a gallery comes from and bringing it onto this machine: a git URL
//! (https, ssh, git or file) is cloned shallow by the `git` command, run
//! with a named environment, no prompts (`GIT_TERMINAL_PROMPT=0`, ssh in
//! batch mode), no hooks, only those protocols, object checks on, in a
//! process group of its own killed after a timeout; the URL is an
//! argument after `--`, never shell text. A local folder is read where
//! it is.

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use rustix::process::{Pid, Signal};
use serde::{Deserialize, Serialize};
use studio_process::ChildEnv;

/// How long a fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(120);

/// The URL schemes a git source may use: git's own safe ones, less plain
/// http (what is fetched is only as trustworthy as the way it came).
pub const SCHEMES: [&str; 4] = ["https", "ssh", "git", "file"];

/// What of this process's environment git gets: where programs are, the
/// home directory (its config, ssh's keys and known hosts), the ssh agent,
/// proxies.
const GIT_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "SSH_AUTH_SOCK",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// Settings every git run gets, ahead of the user's own: only the
/// protocols of [`SCHEMES`] (no `ext::` or other remote helpers), no
/// hooks, no file-system monitor, objects checked as they arrive, no
/// submodules.
const GIT_SETTINGS: [&str; 9] = [
    "protocol.allow=never",
    "protocol.https.allow=always",
    "protocol.ssh.allow=always",
    "protocol.git.allow=always",
    "protocol.file.allow=always",
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "transfer.fsckObjects=true",
    "submodule.recurse=false",
];

/// What kind of place a source is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// A git repository, cloned shallow.
    Git,
    /// A folder on this machine, copied.
    Folder,
}

/// A commit's first twelve digits.
pub fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// Where a gallery is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A git repository, by URL.
    Git(String),
    /// A folder on this machine (canonical).
    Folder(PathBuf),
}

/// Why a gallery could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Neither a usable git URL nor a folder.
    #[error("{0}")]
    BadUrl(String),
    /// git could not be started.
    #[error("cannot run git: {0}")]
    Spawn(io::Error),
    /// git failed; the last lines it wrote.
    #[error("git could not fetch {url}: {detail}")]
    Git {
        /// What was fetched.
        url: String,
        /// The end of git's stderr.
        detail: String,
    },
    /// git took longer than [`FETCH_TIMEOUT`].
    #[error("fetching {url} took longer than {} s", secs)]
    Timeout {
        /// What was fetched.
        url: String,
        /// The limit.
        secs: u64,
    },
}

impl Location {
    /// Where `target` (a URL or a folder's path, as given) is: a folder
    /// when one is there, else a git URL with one of [`SCHEMES`] or in
    /// scp form (`host:path`). Refused: what starts with `-`, has control
    /// characters or spaces, uses a remote helper (`TRANSPORT::ADDRESS`),
    /// another scheme, or names a folder that is not there.
    pub fn of(target: &str) -> Result<Location, FetchError> {
        let bad = |why: String| Err(FetchError::BadUrl(why));
        if target.is_empty() {
            return bad("an empty URL".to_owned());
        }
        if target.starts_with('-') {
            return bad(format!("{target:?} starts with '-': not a URL or a path"));
        }
        if target.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return bad(format!("{target:?} has spaces or control characters"));
        }
        if let Some((scheme, _)) = target.split_once("://") {
            let scheme = scheme.to_ascii_lowercase();
            return if SCHEMES.contains(&scheme.as_str()) {
                Ok(Location::Git(target.to_owned()))
            } else if scheme == "http" {
                bad(format!("{target}: plain http is refused, use https"))
            } else {
                bad(format!(
                    "{target}: scheme {scheme:?} is refused (use {})",
                    SCHEMES.join(", ")
                ))
            };
        }
        if target.contains("::") {
            return bad(format!("{target}: remote helpers are refused"));
        }
        let path = Path::new(target);
        if path.is_dir() {
            return path
                .canonicalize()
                .map(Location::Folder)
                .map_err(|err| FetchError::BadUrl(format!("{target}: {err}")));
        }
        let looks_local = target.starts_with(['/', '.', '~']);
        match target.split_once(':') {
            Some((host, _)) if !looks_local && !host.contains('/') && !host.is_empty() => {
                Ok(Location::Git(target.to_owned()))
            }
            _ => bad(format!("{target}: no such folder, and not a git URL")),
        }
    }

    /// The URL or path, as recorded.
    pub fn as_text(&self) -> String {
        match self {
            Location::Git(url) => url.clone(),
            Location::Folder(path) => path.display().to_string(),
        }
    }
}

/// A name for the gallery at `target`: its last path segment without
/// `.git`, lowercase, with `-` for what a name may not have.
pub fn default_name(target: &str) -> String {
    let trimmed = target.trim_end_matches('/');
    let last = trimmed.rsplit(['/', ':']).next().unwrap_or(trimmed);
    let last = last.strip_suffix(".git").unwrap_or(last);
    let mut name = String::new();
    for c in last.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if !name.ends_with('-') {
            name.push('-');
        }
    }
    name.trim_matches('-').to_owned()
}

/// Whether `name` may name a source: 1-64 of `a-z`, `0-9` and `-`, not
/// starting with `-`.
pub fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Clones `url` shallow into `into` (which must not exist yet) and
/// returns the commit checked out.
pub async fn clone(url: &str, into: &Path, timeout: Duration) -> Result<String, FetchError> {
    clone_at(url, into, None, None, timeout).await
}

/// [`clone`] at a branch or tag (`git_ref`, else the default branch),
/// then, when `sha` is given, at that commit (fetched by itself when the
/// branch has moved on); fails when that is not what ends up checked out.
pub async fn clone_at(
    url: &str,
    into: &Path,
    git_ref: Option<&str>,
    sha: Option<&str>,
    timeout: Duration,
) -> Result<String, FetchError> {
    if let Some(bad) = [git_ref, sha]
        .into_iter()
        .flatten()
        .find(|name| name.is_empty() || name.starts_with('-') || name.contains(char::is_whitespace))
    {
        return Err(FetchError::BadUrl(format!(
            "{bad:?} is not a branch, tag or commit"
        )));
    }
    let branch = git_ref.map(|name| format!("--branch={name}"));
    let mut clone: Vec<&OsStr> = vec![
        "clone".as_ref(),
        "--quiet".as_ref(),
        "--depth=1".as_ref(),
        "--single-branch".as_ref(),
        "--no-tags".as_ref(),
    ];
    if let Some(branch) = &branch {
        clone.push(branch.as_ref());
    }
    clone.extend::<[&OsStr; 3]>(["--".as_ref(), url.as_ref(), into.as_os_str()]);
    run_git(url, &clone, timeout).await?;
    let mut head = rev_parse_head(url, into, timeout).await?;
    if let Some(sha) = sha
        && !head.eq_ignore_ascii_case(sha)
    {
        let fetch: [&OsStr; 7] = [
            "-C".as_ref(),
            into.as_os_str(),
            "fetch".as_ref(),
            "--quiet".as_ref(),
            "--depth=1".as_ref(),
            "origin".as_ref(),
            sha.as_ref(),
        ];
        run_git(url, &fetch, timeout).await?;
        let checkout: [&OsStr; 6] = [
            "-C".as_ref(),
            into.as_os_str(),
            "checkout".as_ref(),
            "--quiet".as_ref(),
            "--detach".as_ref(),
            sha.as_ref(),
        ];
        run_git(url, &checkout, timeout).await?;
        head = rev_parse_head(url, into, timeout).await?;
        if !head.eq_ignore_ascii_case(sha) {
            return Err(FetchError::Git {
                url: url.to_owned(),
                detail: format!("checked out {head}, not the pinned {sha}"),
            });
        }
    }
    Ok(head)
}

/// The commit checked out in `dir`.
async fn rev_parse_head(url: &str, dir: &Path, timeout: Duration) -> Result<String, FetchError> {
    let head: [&OsStr; 4] = [
        "-C".as_ref(),
        dir.as_os_str(),
        "rev-parse".as_ref(),
        "HEAD".as_ref(),
    ];
    let out = run_git(url, &head, timeout).await?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Runs git with `args` after [`GIT_SETTINGS`]; fails with the end of its
/// stderr when it does.
async fn run_git(url: &str, args: &[&OsStr], timeout: Duration) -> Result<Output, FetchError> {
    let mut command = studio_process::command("git", ChildEnv::Only(GIT_ENV));
    command
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
        .env("LC_ALL", "C");
    for setting in GIT_SETTINGS {
        command.arg("-c").arg(setting);
    }
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let child = command.spawn().map_err(FetchError::Spawn)?;
    let group = child.id();
    let out = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(out) => out.map_err(FetchError::Spawn)?,
        Err(_) => {
            // git's helpers (ssh, git-remote-https) are in its group.
            if let Some(pid) = group
                .and_then(|pid| i32::try_from(pid).ok())
                .and_then(Pid::from_raw)
            {
                let _ = rustix::process::kill_process_group(pid, Signal::KILL);
            }
            return Err(FetchError::Timeout {
                url: url.to_owned(),
                secs: timeout.as_secs(),
            });
        }
    };
    if out.status.success() {
        return Ok(out);
    }
    // Its errors, else its last lines.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("fatal:") || l.starts_with("error:"))
        .collect();
    if lines.is_empty() {
        lines = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    }
    let detail = match lines.len() {
        0 => format!("git ended with {}", out.status),
        n => lines[n.saturating_sub(3)..].join("; "),
    };
    Err(FetchError::Git {
        url: url.to_owned(),
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_folders_are_told_apart_and_odd_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().to_str().unwrap();
        assert_eq!(
            Location::of(folder).unwrap(),
            Location::Folder(dir.path().canonicalize().unwrap())
        );
        for url in [
            "https://example.com/team/templates.git",
            "ssh://git@example.com/t.git",
            "git@example.com:team/templates.git",
            "file:///srv/templates",
        ] {
            assert_eq!(Location::of(url).unwrap(), Location::Git(url.to_owned()));
        }
        for (url, says) in [
            ("--upload-pack=touch /tmp/x", "starts with '-'"),
            ("-", "starts with '-'"),
            ("http://example.com/t.git", "plain http"),
            ("ext::sh -c touch% /tmp/x", "spaces"),
            ("ext::sh", "remote helpers"),
            ("fd::7", "remote helpers"),
            ("ftp://example.com/t", "scheme"),
            ("/no/such/folder", "no such folder"),
            ("./nope", "no such folder"),
            ("", "empty"),
        ] {
            let err = Location::of(url).unwrap_err().to_string();
            assert!(err.contains(says), "{url}: {err}");
        }
    }

    #[test]
    fn a_name_comes_from_the_last_segment() {
        assert_eq!(
            default_name("https://example.com/team/Templates.git"),
            "templates"
        );
        assert_eq!(
            default_name("git@example.com:team/my_gallery.git/"),
            "my-gallery"
        );
        assert_eq!(default_name("git@example.com:gallery"), "gallery");
        assert_eq!(default_name("/home/me/Agent Files"), "agent-files");
        assert_eq!(default_name("/"), "");
    }
}
