//! Agents as files and the bundled templates, through the CLI and the
//! real daemon: a template becomes an agent with its rules (saying first
//! what it may do) and runs; an agent exported as TOML or JSON imports
//! back the same, rules included; a bad file or a name taken changes
//! nothing.

use serde_json::Value;

use crate::cli_harness::{Cli, path};

/// The rules of `agent`, as `(matches, decision, priority)`.
fn rules_of(cli: &Cli, agent: &str) -> Vec<(String, String, i64)> {
    let mut rules: Vec<(String, String, i64)> = cli
        .json(&["rules", "list"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|rule| rule["agent"] == agent)
        .map(|rule| {
            (
                rule["matches"].as_str().unwrap().to_owned(),
                rule["decision"].as_str().unwrap().to_owned(),
                rule["priority"].as_i64().unwrap(),
            )
        })
        .collect();
    rules.sort();
    rules
}

fn agent(cli: &Cli, name: &str) -> Value {
    cli.json(&["agent", "show", name])
}

#[test]
fn a_template_becomes_an_agent_with_its_rules_that_runs() {
    let cli = Cli::new();
    let listed = cli.json(&["template", "list"]);
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "code-assistant",
            "code-reviewer",
            "research-bot",
            "data-analyst",
            "writer"
        ]
    );
    let reviewer = &listed[1];
    assert_eq!(reviewer["title"], "Code Reviewer");
    assert!(
        reviewer["asks_for"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "use the tools shell, fs"),
        "{reviewer}"
    );
    let writer = &listed[4];
    assert_eq!(writer["asks_for"], serde_json::json!([]));
    let shown = cli.ok(&["template", "show", "code-reviewer"]);
    assert!(
        shown.contains("[template]") && shown.contains("git diff*"),
        "{shown}"
    );

    // Used under another name, on the scripted provider: the notes come
    // first, on stderr.
    let out = cli.run(&[
        "template",
        "use",
        "code-reviewer",
        "--name",
        "rev",
        "--provider",
        "scripted",
    ]);
    assert!(out.status.success(), "{out:?}");
    let notes = String::from_utf8_lossy(&out.stderr);
    assert!(notes.contains("rev may use the tools shell, fs"), "{notes}");
    assert!(
        notes.contains("rev may run without asking: shell:command=git log*"),
        "{notes}"
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("agent rev saved with 3 rule(s)"), "{said}");
    assert!(said.contains("try: studio run rev --prompt"), "{said}");
    let stored = agent(&cli, "rev");
    assert_eq!(stored["display_name"], "Code Reviewer");
    assert_eq!(stored["provider"], "scripted");
    assert_eq!(stored["model"], "scripted-1");
    assert_eq!(stored["safety"], "read-only");
    assert_eq!(rules_of(&cli, "rev").len(), 3);
    let run = cli.json(&["run", "rev", "--prompt", "Review HEAD", "--detach"]);
    let id = run["session"].as_str().unwrap();
    cli.ok(&["wait", id]);

    // Another provider needs its model named; an unknown template is
    // refused with the names there are.
    let err = cli.fails(&["template", "use", "writer", "--provider", "anthropic"], 2);
    assert!(err.contains("--model"), "{err}");
    let err = cli.fails(&["template", "use", "nope"], 2);
    assert!(err.contains("code-reviewer"), "{err}");
}

#[test]
fn an_exported_agent_imports_back_the_same_with_its_rules() {
    let cli = Cli::new();
    cli.ok(&[
        "template",
        "use",
        "code-assistant",
        "--name",
        "helper",
        "--provider",
        "scripted",
    ]);
    cli.ok(&[
        "rules",
        "add",
        "fs",
        "--allow",
        "--agent",
        "helper",
        "--priority",
        "3",
    ]);
    cli.ok(&["rules", "add", "shell:command=rm *", "--deny"]);
    let before = agent(&cli, "helper");
    let rules = rules_of(&cli, "helper");
    assert_eq!(rules.len(), 4, "{rules:?}");

    let toml_file = cli.tmp.path().join("helper.toml");
    cli.ok(&["agent", "export", "helper", "--out", path(&toml_file)]);
    let json_text = cli.ok(&["agent", "export", "helper", "--format", "json"]);
    let json_file = cli.write("helper.json", &json_text);
    assert!(
        !std::fs::read_to_string(&toml_file)
            .unwrap()
            .contains("rm *"),
        "a rule for every agent is not the agent's"
    );

    // Gone, then back from each file: the same agent, the same rules.
    for file in [&toml_file, &json_file] {
        cli.ok(&["agent", "rm", "helper"]);
        assert!(rules_of(&cli, "helper").is_empty());
        cli.ok(&["agent", "import", path(file)]);
        assert_eq!(agent(&cli, "helper"), before, "{}", file.display());
        assert_eq!(rules_of(&cli, "helper"), rules, "{}", file.display());
    }

    // A name taken is refused, and the agent there kept; --replace
    // replaces it and its rules.
    let mut other = std::fs::read_to_string(&toml_file).unwrap();
    other = other.replace("max_turns = 40", "max_turns = 7");
    let other_file = cli.write("other.toml", &other);
    cli.fails(&["agent", "import", path(&other_file)], 2);
    assert_eq!(agent(&cli, "helper"), before);
    cli.ok(&["rules", "add", "fetch", "--deny", "--agent", "helper"]);
    cli.ok(&["agent", "import", path(&other_file), "--replace"]);
    assert_eq!(agent(&cli, "helper")["budgets"]["max_turns"], 7);
    assert_eq!(rules_of(&cli, "helper"), rules);

    // Bad files change nothing and say what is wrong.
    for (name, text, says) in [
        (
            "bad-rule.toml",
            other
                .replace("git status*", "")
                .replace("command=", "command"),
            "rule",
        ),
        (
            "newer.toml",
            other.replace("format = 1", "format = 9"),
            "newer",
        ),
        (
            "bad-name.toml",
            other.replace("name = \"helper\"", "name = \"../x\""),
            "name",
        ),
        ("broken.json", "{\"agent\":".to_owned(), "broken.json"),
    ] {
        let file = cli.write(name, &text);
        let err = cli.fails(&["agent", "import", path(&file), "--replace"], 2);
        assert!(err.contains(says), "{name}: {err}");
    }
    assert_eq!(agent(&cli, "helper")["budgets"]["max_turns"], 7);
    assert_eq!(rules_of(&cli, "helper"), rules);
}
