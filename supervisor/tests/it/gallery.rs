//! Gallery sources through the CLI and the real daemon: a git repository
//! made here, over `file://`, is added with what its index lets through
//! (a wrong checksum and a template that fails its checks left out, each
//! with the reason); its template lists with its source, is shown and
//! used saying where it came from and what it may do; a broken index
//! fails the update and keeps the copy there; a fixed one brings a new
//! template; a folder works too; removing a source removes its files.
//! Attacks: paths that leave the gallery or go through a symlink are
//! left out unread, a symlinked index fails the fetch, odd URLs and taken
//! names are refused.

use std::path::{Path, PathBuf};

use serde_json::Value;
use studio_client::gallery::index::sha256_hex;
use studio_client::templates;

use crate::cli_harness::{Cli, path};
use crate::run_workspaces::git;

/// A template named `name` that asks for the shell tool (the bundled
/// writer, renamed).
fn template(name: &str) -> String {
    templates::text("writer").unwrap().replace(
        "[agent]\nname = \"writer\"",
        &format!("[agent]\nname = \"{name}\"\ntools = [\"shell\"]"),
    )
}

fn entry(name: &str, file: &str, sha256: &str) -> String {
    format!("[[templates]]\nname = \"{name}\"\npath = \"{file}\"\nsha256 = \"{sha256}\"\n\n")
}

/// Writes `text` at `rel` in `dir` (folders made as needed).
pub(crate) fn put(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

pub(crate) fn commit(repo: &Path, message: &str) -> String {
    git(repo, &["add", "-A"]);
    git(
        repo,
        &["-c", "commit.gpgsign=false", "commit", "-q", "-m", message],
    );
    git(repo, &["rev-parse", "HEAD"]).trim().to_owned()
}

pub(crate) fn new_repo(cli: &Cli, name: &str) -> PathBuf {
    let repo = cli.tmp.path().join(name);
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    repo
}

pub(crate) fn url(repo: &Path) -> String {
    format!("file://{}", repo.display())
}

/// The templates `template list --json` shows, as `source/name`.
fn listed(cli: &Cli) -> Vec<String> {
    cli.json(&["template", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{}/{}",
                t["source"].as_str().unwrap(),
                t["name"].as_str().unwrap()
            )
        })
        .collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_git_gallery_is_added_checked_used_updated_and_removed() {
    let cli = Cli::new();
    let repo = new_repo(&cli, "team");
    let strict = template("strict-reviewer");
    let bad_rule =
        template("bad-rule") + "\n[[rules]]\nmatches = \"shell:command\"\ndecision = \"allow\"\n";
    put(&repo, "reviewers/strict.toml", &strict);
    put(&repo, "bad-sum.toml", &template("bad-sum"));
    put(&repo, "bad-rule.toml", &bad_rule);
    let good_index = format!(
        "format = 1\n\n{}{}{}",
        entry(
            "strict-reviewer",
            "reviewers/strict.toml",
            &sha256_hex(strict.as_bytes())
        ),
        entry("bad-sum", "bad-sum.toml", &sha256_hex(b"something else")),
        entry(
            "bad-rule",
            "bad-rule.toml",
            &sha256_hex(bad_rule.as_bytes())
        ),
    );
    put(&repo, "index.toml", &good_index);
    let first = commit(&repo, "three templates");
    let url = url(&repo);

    let out = cli.run(&["template", "source", "add", &url]);
    let (said, notes) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{said}{notes}");
    assert!(notes.contains(&format!("fetching {url}")), "{notes}");
    assert!(said.contains("source team added: 1 template(s)"), "{said}");
    assert!(said.contains(&first[..12]), "{said}");
    assert!(said.contains("left out 2"), "{said}");
    assert!(
        said.contains("bad-sum (bad-sum.toml): checksum mismatch"),
        "{said}"
    );
    assert!(
        said.contains("bad-rule (bad-rule.toml): does not validate"),
        "{said}"
    );

    let all = cli.json(&["template", "list"]);
    let sourced: Vec<&Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["source"] != "built-in")
        .collect();
    assert_eq!(sourced.len(), 1, "{all}");
    assert_eq!(sourced[0]["name"], "strict-reviewer");
    assert_eq!(sourced[0]["source"], "team");
    assert_eq!(sourced[0]["url"], url.as_str());
    assert_eq!(sourced[0]["commit"], first.as_str());
    assert_eq!(sourced[0]["asks_for"][0], "use the tools shell");
    let table = cli.ok(&["template", "list"]);
    assert!(
        table.contains("SOURCE") && table.contains("team"),
        "{table}"
    );

    let out = cli.run(&["template", "show", "team/strict-reviewer"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), strict);
    assert!(
        text(&out.stderr).contains(&format!("# from team ({url}) at {}", &first[..12])),
        "{}",
        text(&out.stderr)
    );

    let out = cli.run(&[
        "template",
        "use",
        "team/strict-reviewer",
        "--provider",
        "scripted",
    ]);
    let notes = text(&out.stderr);
    assert!(out.status.success(), "{notes}");
    assert!(
        notes.contains("template team/strict-reviewer comes from team ("),
        "{notes}"
    );
    assert!(
        notes.contains("strict-reviewer may use the tools shell"),
        "{notes}"
    );
    assert_eq!(
        cli.json(&["agent", "show", "strict-reviewer"])["provider"],
        "scripted"
    );
    cli.ok(&[
        "template",
        "use",
        "strict-reviewer",
        "--name",
        "plain",
        "--provider",
        "scripted",
    ]);

    // A broken index fails the update; the copy fetched before stays.
    put(&repo, "index.toml", "this is [ not toml");
    commit(&repo, "broken index");
    let err = cli.fails(&["template", "source", "update", "team"], 2);
    assert!(err.contains("bad index.toml"), "{err}");
    assert!(listed(&cli).contains(&"team/strict-reviewer".to_owned()));
    let sources = cli.json(&["template", "source", "list"]);
    assert_eq!(sources[0]["commit"], first.as_str());
    assert_eq!(sources[0]["kind"], "git");
    assert_eq!(sources[0]["left_out"].as_array().unwrap().len(), 2);

    // A fixed index with a new template: picked up, by every update.
    let second = template("second-opinion");
    put(&repo, "second.toml", &second);
    put(
        &repo,
        "index.toml",
        &format!(
            "{good_index}{}",
            entry(
                "second-opinion",
                "second.toml",
                &sha256_hex(second.as_bytes())
            )
        ),
    );
    let fixed = commit(&repo, "fixed index");
    let said = cli.ok(&["template", "source", "update"]);
    assert!(
        said.contains("source team updated: 2 template(s)"),
        "{said}"
    );
    assert!(listed(&cli).contains(&"team/second-opinion".to_owned()));
    assert_eq!(
        cli.json(&["template", "source", "list"])[0]["commit"],
        fixed.as_str()
    );

    // Odd URLs, a bad name and a name taken are refused.
    for bad in [
        vec!["--upload-pack=touch /tmp/pwned"],
        vec!["-u"],
        vec!["ext::sh -c touch% /tmp/pwned"],
        vec!["http://example.com/t.git"],
        vec![url.as_str(), "--name", "Bad_Name"],
        vec![url.as_str(), "--name", "built-in"],
        vec![url.as_str()],
    ] {
        let mut args = vec!["template", "source", "add"];
        args.extend(bad.iter().copied());
        let err = cli.fails(&args, 2);
        assert!(!err.is_empty(), "{bad:?}");
    }
    let err = cli.fails(&["template", "source", "add", &url], 2);
    assert!(err.contains("already a source named \"team\""), "{err}");

    // Removed: its files and templates go.
    let copy = cli.data_dir().join("gallery/team");
    assert!(copy.join("reviewers/strict.toml").is_file());
    cli.ok(&["template", "source", "remove", "team"]);
    assert!(!copy.exists());
    assert!(listed(&cli).iter().all(|t| !t.starts_with("team/")));
    cli.fails(&["template", "use", "team/strict-reviewer"], 4);
    cli.fails(&["template", "source", "remove", "team"], 4);
    cli.fails(&["template", "source", "update", "team"], 4);
}

#[test]
fn paths_out_of_a_gallery_are_refused_and_folders_work() {
    let cli = Cli::new();
    let secret = "top secret, not for any gallery";
    put(cli.tmp.path(), "secrets", secret);
    let repo = new_repo(&cli, "evil");
    let good = template("helper");
    put(&repo, "helper.toml", &good);
    std::os::unix::fs::symlink("/etc/passwd", repo.join("passwd.toml")).unwrap();
    std::os::unix::fs::symlink(cli.tmp.path(), repo.join("up")).unwrap();
    let passwd = std::fs::read("/etc/passwd").unwrap();
    let index = format!(
        "format = 1\n\n{}{}{}{}{}",
        entry("helper", "helper.toml", &sha256_hex(good.as_bytes())),
        entry("passwd", "passwd.toml", &sha256_hex(&passwd)),
        entry("secrets", "../../secrets", &sha256_hex(secret.as_bytes())),
        entry("up", "up/secrets", &sha256_hex(secret.as_bytes())),
        entry("etc", "/etc/passwd", &sha256_hex(&passwd)),
    );
    put(&repo, "index.toml", &index);
    commit(&repo, "attack");
    let said = cli.ok(&["template", "source", "add", &url(&repo)]);
    assert!(
        said.contains("1 template(s)") && said.contains("left out 4"),
        "{said}"
    );
    for why in ["symlink", "leaves the gallery", "absolute"] {
        assert!(said.contains(why), "{why}: {said}");
    }
    // Nothing but the index and the good template was copied.
    let copy = cli.data_dir().join("gallery/evil");
    let mut files: Vec<String> = walk(&copy)
        .iter()
        .map(|p| p.strip_prefix(&copy).unwrap().display().to_string())
        .collect();
    files.sort();
    assert_eq!(files, ["helper.toml", "index.toml"]);

    // A symlinked index fails the fetch, and the copy stays.
    std::fs::remove_file(repo.join("index.toml")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", repo.join("index.toml")).unwrap();
    commit(&repo, "index elsewhere");
    let err = cli.fails(&["template", "source", "update", "evil"], 2);
    assert!(
        err.contains("bad index.toml") && err.contains("symlink"),
        "{err}"
    );
    assert!(copy.join("helper.toml").is_file());

    // A folder is read where it is and copied; the same name in two
    // sources must be named with its source.
    let folder = cli.tmp.path().join("My_Folder");
    put(&folder, "t/helper.toml", &good);
    put(
        &folder,
        "index.toml",
        &format!(
            "format = 1\n{}",
            entry("helper", "t/helper.toml", &sha256_hex(good.as_bytes()))
        ),
    );
    let said = cli.ok(&["template", "source", "add", path(&folder)]);
    assert!(
        said.contains("source my-folder added: 1 template(s)"),
        "{said}"
    );
    let sources = cli.json(&["template", "source", "list"]);
    assert_eq!(sources[1]["kind"], "folder");
    assert!(
        cli.data_dir()
            .join("gallery/my-folder/t/helper.toml")
            .is_file()
    );
    let err = cli.fails(&["template", "use", "helper", "--provider", "scripted"], 2);
    assert!(err.contains("evil/helper or my-folder/helper"), "{err}");
    let table = cli.ok(&["template", "list"]);
    assert!(table.contains("my-folder/helper"), "{table}");
    cli.ok(&[
        "template",
        "use",
        "my-folder/helper",
        "--provider",
        "scripted",
    ]);
    cli.ok(&["template", "source", "rm", "my-folder"]);
    assert!(!cli.data_dir().join("gallery/my-folder").exists());
    assert!(
        folder.join("t/helper.toml").is_file(),
        "the folder itself stays"
    );
}

/// Every file under `dir` (symlinks included, not followed).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            files.extend(walk(&entry.path()));
        } else {
            files.push(entry.path());
        }
    }
    files
}
