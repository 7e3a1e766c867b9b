//! Gallery sources on folders in temp dirs: added, found by name or
//! `SOURCE/NAME`, kept through a bad update, removed.

use std::os::unix::fs::PermissionsExt;

use super::index::{INDEX_FILE, sha256_hex};
use super::*;

/// A template named `name` (the bundled writer, renamed).
fn template(name: &str) -> String {
    let mut file = templates::find("writer").unwrap();
    file.agent.name = name.to_owned();
    file.write(crate::agent_file::FileFormat::Toml).unwrap()
}

/// A gallery folder holding `names` as `t/NAME.toml`, indexed; plus
/// `extra` index lines.
fn folder(names: &[&str], extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("t")).unwrap();
    let mut index = String::from("format = 1\n");
    for name in names {
        let text = template(name);
        std::fs::write(dir.path().join(format!("t/{name}.toml")), &text).unwrap();
        index.push_str(&format!(
            "[[templates]]\nname = \"{name}\"\npath = \"t/{name}.toml\"\nsha256 = \"{}\"\n",
            sha256_hex(text.as_bytes())
        ));
    }
    index.push_str(extra);
    std::fs::write(dir.path().join(INDEX_FILE), index).unwrap();
    dir
}

fn path(dir: &tempfile::TempDir) -> &str {
    dir.path().to_str().unwrap()
}

fn quiet(_: &str) {}

#[tokio::test]
async fn a_folder_source_is_added_found_kept_through_a_bad_update_and_removed() {
    let data = tempfile::tempdir().unwrap();
    let gallery = Gallery::new(&Layout::new(data.path().join("d")));
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.toml"), template("secret")).unwrap();
    let team = folder(
        &["helper", "fixer"],
        &format!(
            "[[templates]]\nname = \"secret\"\npath = \"../{}/secret.toml\"\nsha256 = \"{}\"\n",
            outside.path().file_name().unwrap().to_str().unwrap(),
            sha256_hex(template("secret").as_bytes())
        ),
    );

    let fetched = gallery
        .add(path(&team), Some("team"), &quiet)
        .await
        .unwrap();
    let source = fetched.source;
    assert_eq!(source.kind, SourceKind::Folder);
    assert_eq!(source.templates, ["helper", "fixer"]);
    assert_eq!(source.left_out.len(), 1);
    assert!(source.left_out[0].reason.contains("leaves the gallery"));
    assert_eq!(gallery.sources().unwrap(), std::slice::from_ref(&source));
    let copy = data.path().join("d/gallery/team");
    assert!(copy.join("t/helper.toml").is_file());
    assert!(!copy.join("secret.toml").exists());
    let mode = std::fs::metadata(data.path().join("d/gallery"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);

    // By name, by SOURCE/NAME; a bundled one is found first.
    let helper = gallery.find("helper").unwrap();
    assert_eq!(helper.spelling(), "team/helper");
    assert_eq!(helper.text, template("helper"));
    assert!(helper.origin.describe().starts_with("team ("));
    assert_eq!(gallery.find("team/fixer").unwrap().name(), "fixer");
    assert_eq!(gallery.find("writer").unwrap().origin, Origin::BuiltIn);
    assert_eq!(
        gallery.find("built-in/writer").unwrap().origin,
        Origin::BuiltIn
    );
    assert!(gallery.find("nope").unwrap_err().is_invalid_input());
    assert!(gallery.find("team/nope").unwrap_err().is_invalid_input());
    assert!(gallery.find("gone/helper").unwrap_err().is_not_found());

    // A name taken, a bad name, a reserved one: refused before fetching.
    for (name, taken) in [
        ("team", true),
        ("Team", false),
        ("built-in", false),
        ("-x", false),
    ] {
        let err = gallery
            .add(path(&team), Some(name), &quiet)
            .await
            .unwrap_err();
        assert!(err.is_invalid_input(), "{name}: {err}");
        assert_eq!(matches!(err, GalleryError::NameTaken(_)), taken, "{err}");
    }

    // A bad index fails the update and the copy stays as it was.
    std::fs::write(team.path().join(INDEX_FILE), "not [ toml").unwrap();
    let err = gallery.update("team", &quiet).await.unwrap_err();
    assert!(
        err.is_invalid_input() && err.to_string().contains("bad index.toml"),
        "{err}"
    );
    assert_eq!(gallery.sources().unwrap(), std::slice::from_ref(&source));
    assert_eq!(gallery.templates_of(&source).unwrap().len(), 2);

    // A good one replaces it whole.
    let fixed = folder(&["fixer"], "");
    std::fs::remove_dir_all(team.path()).unwrap();
    std::fs::rename(fixed.path(), team.path()).unwrap();
    let updated = gallery.update("team", &quiet).await.unwrap().source;
    assert_eq!(updated.templates, ["fixer"]);
    assert!(updated.left_out.is_empty());
    assert!(!copy.join("t/helper.toml").exists());
    assert!(gallery.find("helper").is_err());

    // The same name in two sources must be told apart.
    let other = folder(&["fixer"], "");
    gallery
        .add(path(&other), Some("other"), &quiet)
        .await
        .unwrap();
    match gallery.find("fixer").unwrap_err() {
        GalleryError::Ambiguous { spellings, .. } => {
            assert_eq!(spellings, ["team/fixer", "other/fixer"]);
        }
        err => panic!("{err}"),
    }
    assert_eq!(
        gallery.find("other/fixer").unwrap().origin.source_name(),
        "other"
    );

    let removed = gallery.remove("team").unwrap();
    assert_eq!(removed.name, "team");
    assert!(!copy.exists());
    assert_eq!(gallery.sources().unwrap().len(), 1);
    assert!(gallery.remove("team").unwrap_err().is_not_found());
    let leftovers: Vec<_> = std::fs::read_dir(data.path().join("d/gallery"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with(".fetch"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn a_default_name_comes_from_the_folder_and_a_damaged_copy_is_checked() {
    let data = tempfile::tempdir().unwrap();
    let gallery = Gallery::new(&Layout::new(data.path()));
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("Team_Templates");
    let made = folder(&["helper"], "");
    std::fs::rename(made.path(), &dir).unwrap();
    let source = gallery
        .add(dir.to_str().unwrap(), None, &quiet)
        .await
        .unwrap()
        .source;
    assert_eq!(source.name, "team-templates");
    let copy = data.path().join("gallery/team-templates");
    std::fs::write(copy.join("t/helper.toml"), "changed").unwrap();
    let (all, problems) = gallery.all();
    assert!(all.iter().all(|t| t.origin == Origin::BuiltIn));
    assert!(problems.is_empty());
    std::fs::remove_file(copy.join(INDEX_FILE)).unwrap();
    let (_, problems) = gallery.all();
    assert_eq!(problems.len(), 1, "{problems:?}");
}
