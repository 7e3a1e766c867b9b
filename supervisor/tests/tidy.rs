//! The workspace's boundaries, checked on every `cargo test` (in the style
//! of rust-analyzer's tidy tests): which crate may depend on which, where
//! redb may be named, that every module says what it is, that no two
//! modules import each other, and that ARCHITECTURE.md and
//! docs/protocol.md still name what the code has.

// A panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::disallowed_methods, reason = "the tidy tests run cargo")]

mod tidy_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use tidy_support::{ModuleGraph, rust_files, workspace_root};

/// The workspace's crates, by the folder their sources are in.
const SOURCE_DIRS: [&str; 7] = [
    "supervisor/src",
    "supervisor/client/src",
    "supervisor/process/src",
    "supervisor/test-support/src",
    "workers/src",
    "ui-dioxus/src",
    "protocol/src",
];

#[test]
fn each_crate_depends_only_on_what_it_may() {
    let root = workspace_root();
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--offline",
            "--no-deps",
            "--format-version",
            "1",
        ])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ours: BTreeSet<String> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    let mut depends: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for package in metadata["packages"].as_array().unwrap() {
        let name = package["name"].as_str().unwrap().to_owned();
        // What the tests share is never in a shipped binary.
        for dep in package["dependencies"].as_array().unwrap() {
            if dep["name"] == "test-support" {
                assert_eq!(
                    dep["kind"], "dev",
                    "{name} may use test-support only in its tests"
                );
            }
        }
        let deps = package["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap().to_owned())
            .filter(|d| ours.contains(d))
            .collect();
        depends.insert(name, deps);
    }
    // protocol: types, framing and the file layout, for everyone.
    assert_eq!(
        depends["protocol"],
        BTreeSet::new(),
        "protocol depends on none of ours"
    );
    // Neither the worker nor the app links the daemon; the client the CLI
    // and the app share links only protocol and the process starter, the
    // tests' fixtures only those and the client.
    assert_eq!(
        depends["test-support"],
        BTreeSet::from(["protocol", "studio-client", "studio-process"].map(String::from))
    );
    let client: BTreeSet<&str> = depends["studio-client"]
        .iter()
        .map(String::as_str)
        .filter(|dep| *dep != "test-support")
        .collect();
    assert_eq!(client, BTreeSet::from(["protocol", "studio-process"]));
    assert_eq!(
        depends["studio-process"],
        BTreeSet::new(),
        "starting a process needs none of ours"
    );
    assert!(
        depends["ui-dioxus"].contains("studio-client"),
        "the app speaks to the daemon through studio-client"
    );
    for crate_name in ["workers", "ui-dioxus"] {
        assert!(
            !depends[crate_name].contains("supervisor"),
            "{crate_name} must not depend on the supervisor: {:?}",
            depends[crate_name]
        );
    }
}

#[test]
fn redb_is_named_only_in_the_store() {
    let root = workspace_root();
    let mut offenders = Vec::new();
    for dir in SOURCE_DIRS {
        for file in rust_files(&root.join(dir)) {
            if file.starts_with(root.join("supervisor/src/store")) {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            if text.contains("redb::") || text.contains("use redb") {
                offenders.push(file);
            }
        }
    }
    assert_eq!(
        offenders,
        Vec::<PathBuf>::new(),
        "only supervisor/src/store may use redb"
    );
}

#[test]
fn every_module_opens_with_a_line_saying_what_it_is() {
    let root = workspace_root();
    let mut missing = Vec::new();
    for dir in SOURCE_DIRS {
        for file in rust_files(&root.join(dir)) {
            let text = std::fs::read_to_string(&file).unwrap();
            if !text.starts_with("//!") {
                missing.push(file);
            }
        }
    }
    assert_eq!(
        missing,
        Vec::<PathBuf>::new(),
        "each needs a `//!` first line"
    );
}

/// Longest a source file may grow (tests aside) before it is split.
const MAX_LINES: usize = 620;

#[test]
fn no_source_file_is_too_long_to_read_in_one_sitting() {
    let root = workspace_root();
    let mut long = Vec::new();
    for dir in SOURCE_DIRS {
        for file in rust_files(&root.join(dir)) {
            let name = file.file_name().unwrap().to_string_lossy();
            if name == "tests.rs" || name.ends_with("_tests.rs") {
                continue;
            }
            let lines = std::fs::read_to_string(&file).unwrap().lines().count();
            if lines > MAX_LINES {
                long.push(format!("{} ({lines} lines)", file.display()));
            }
        }
    }
    assert_eq!(
        long,
        Vec::<String>::new(),
        "split these (at most {MAX_LINES} lines)"
    );
}

#[test]
fn the_protocol_page_states_the_current_protocol_version() {
    let root = workspace_root();
    let lib = std::fs::read_to_string(root.join("protocol/src/lib.rs")).unwrap();
    let version = lib
        .lines()
        .find_map(|l| l.strip_prefix("pub const PROTOCOL_VERSION: u32 = "))
        .and_then(|rest| rest.strip_suffix(';'))
        .expect("PROTOCOL_VERSION in protocol/src/lib.rs");
    let page = std::fs::read_to_string(root.join("docs/protocol.md")).unwrap();
    let page = page.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        page.contains(&format!("(currently {version})")),
        "docs/protocol.md must say the protocol version is (currently {version})"
    );
}

#[test]
fn every_name_architecture_md_gives_is_still_in_the_code() {
    let root = workspace_root();
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let files = tidy_support::repo_files(&root);
    let words = tidy_support::code_words(&root, &files);
    let mut gone = Vec::new();
    for name in tidy_support::backticked(&text) {
        if !tidy_support::names_something(&name, &files, &words) {
            gone.push(name);
        }
    }
    assert_eq!(
        gone,
        Vec::<String>::new(),
        "ARCHITECTURE.md names these, the code has none"
    );
}

#[test]
fn no_two_modules_import_each_other() {
    let root = workspace_root();
    let mut cycles = Vec::new();
    for dir in SOURCE_DIRS {
        let graph = ModuleGraph::of_crate(&root.join(dir));
        cycles.extend(
            graph
                .mutual_imports()
                .into_iter()
                .map(|(a, b)| format!("{dir}: {a} <-> {b}")),
        );
    }
    assert_eq!(
        cycles,
        Vec::<String>::new(),
        "modules that import each other"
    );
}

#[test]
fn module_imports_never_go_round_in_a_circle() {
    let root = workspace_root();
    let mut circles = Vec::new();
    for dir in SOURCE_DIRS {
        let graph = ModuleGraph::of_crate(&root.join(dir));
        circles.extend(graph.circles().into_iter().map(|c| format!("{dir}: {c}")));
    }
    assert_eq!(
        circles,
        Vec::<String>::new(),
        "module imports that go round"
    );
}
