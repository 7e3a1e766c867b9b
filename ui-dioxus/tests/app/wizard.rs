//! The first-run setup wizard end to end in Chromium (`tests/e2e/wizard.mjs`,
//! typed at human speed) against a real daemon with no agent, and a local
//! server speaking OpenAI's format (its base URL typed as a host root, as
//! people paste it): a wrong key is refused with the provider's answer,
//! the right one lists the models, Code Reviewer becomes `first-reviewer`
//! on the model picked, and its first run completes and opens in the
//! Inspector. Then what the daemon stored is checked: the agent (its base
//! URL made whole, the key sent there because it was typed with it), the
//! template's rules, the run, which key went where; and that the key is in
//! no event. The agent, exported from its card as TOML and imported back
//! from the pasted file under another name, is the same with its rules.
//! The gallery shows a gallery source's template with where it came from.
//! Reopened from Settings, the wizard reaches Ollama with no key and runs a
//! template on the scripted provider. Every field is typed while six runs
//! of another agent stream.

use std::path::Path;

use serde_json::Value;
use test_support::fake_provider::{FakeProvider, Reply};

use crate::common::{Daemon, run_browser_script, serve_web};

const WRONG_KEY: &str = "sk-wizard-wrong-0000";
const RIGHT_KEY: &str = "sk-wizard-right-1111";

fn json(daemon: &Daemon, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_slice(&daemon.studio(&all).stdout).unwrap()
}

/// A folder gallery holding `house-writer`, the Writer template renamed.
fn house_gallery() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let text = studio_client::templates::text("writer")
        .unwrap()
        .replace("name = \"writer\"", "name = \"house-writer\"")
        .replace("title = \"Writer\"", "title = \"House Writer\"");
    std::fs::write(dir.path().join("house-writer.toml"), &text).unwrap();
    let sum = std::process::Command::new("sha256sum")
        .arg("house-writer.toml")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let sum = String::from_utf8(sum.stdout).unwrap();
    let sum = sum.split_whitespace().next().unwrap();
    std::fs::write(
        dir.path().join("index.toml"),
        format!(
            "format = 1\n\n[[templates]]\nname = \"house-writer\"\npath = \"house-writer.toml\"\nsha256 = \"{sum}\"\n"
        ),
    )
    .unwrap();
    dir
}

#[test]
fn the_wizard_proves_a_key_makes_an_agent_from_a_template_and_runs_it() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Chromium is not installed: run scripts/setup"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let models = r#"{"object":"list","data":[{"id":"gpt-4.1-mini","object":"model"},{"id":"local-7b","object":"model"}]}"#;
    let answer = Reply::sse(
        [
            r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"local-7b","choices":[{"index":0,"delta":{"content":"Looks fine "},"finish_reason":null}]}"#,
            r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"local-7b","choices":[{"index":0,"delta":{"content":"to me."},"finish_reason":"stop"}]}"#,
            "[DONE]",
        ]
        .iter()
        .map(|e| format!("data: {e}\n\n"))
        .collect::<String>(),
    );
    let fake = runtime.block_on(FakeProvider::start(vec![
        Reply::error(
            401,
            r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#,
        ),
        Reply::error(200, models),
        answer,
        Reply::error(
            200,
            r#"{"models":[{"name":"llama3.2:latest","model":"llama3.2:latest","size":2019393189}]}"#,
        ),
    ]));

    let daemon = Daemon::new("wiz");
    // A gallery source of one template, which the app's gallery shows
    // with where it came from.
    let gallery = house_gallery();
    daemon.studio(&[
        "template",
        "source",
        "add",
        gallery.path().to_str().unwrap(),
        "--name",
        "house",
    ]);
    let (_server, url) = serve_web(&daemon, &[]);
    run_browser_script(
        "wizard.mjs",
        &url,
        &daemon,
        &[
            &fake.base,
            WRONG_KEY,
            RIGHT_KEY,
            daemon.studio.to_str().unwrap(),
            daemon.dir.to_str().unwrap(),
        ],
    );

    let agent = json(&daemon, &["agent", "show", "first-reviewer"]);
    assert_eq!(agent["provider"], "openai");
    assert_eq!(agent["model"], "local-7b");
    assert_eq!(agent["base_url"], format!("{}/v1", fake.base).as_str());
    assert_eq!(agent["send_key_to_base_url"], true);
    let rules = json(&daemon, &["rules", "list"]);
    let own = rules
        .as_array()
        .unwrap()
        .iter()
        .filter(|rule| rule["agent"] == "first-reviewer")
        .count();
    let template = studio_client::templates::find("code-reviewer").unwrap();
    assert_eq!(own, template.rules.len(), "{rules}");

    // Exported from its card, imported back under another name.
    let imported = json(&daemon, &["agent", "show", "imported-reviewer"]);
    for field in [
        "provider",
        "model",
        "base_url",
        "tools",
        "system_prompt",
        "safety",
    ] {
        assert_eq!(imported[field], agent[field], "{field}");
    }
    let rules = json(&daemon, &["rules", "list"]);
    let copied = rules
        .as_array()
        .unwrap()
        .iter()
        .filter(|rule| rule["agent"] == "imported-reviewer")
        .count();
    assert_eq!(copied, template.rules.len(), "{rules}");

    let seen = fake.seen();
    let asked: Vec<(&str, &str)> = seen
        .iter()
        .map(|s| {
            let auth = s
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            (s.path.as_str(), auth)
        })
        .collect();
    let wrong = format!("Bearer {WRONG_KEY}");
    let right = format!("Bearer {RIGHT_KEY}");
    assert_eq!(
        asked,
        [
            ("/v1/models", wrong.as_str()),
            ("/v1/models", right.as_str()),
            ("/v1/chat/completions", right.as_str()),
            // Ollama reached, with no key.
            ("/api/tags", ""),
        ]
    );
    let writer = json(&daemon, &["agent", "show", "keyless-writer"]);
    assert_eq!(
        (writer["provider"].as_str(), writer["model"].as_str()),
        (Some("scripted"), Some("scripted-1"))
    );
    assert!(writer["base_url"].is_null(), "{writer}");

    let sessions = json(&daemon, &["ps", "--all"]);
    let streaming = sessions
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["agent"] == "streamer" && s["status"] == "running")
        .count();
    assert_eq!(
        streaming, 6,
        "the runs streamed while the wizard was typed into"
    );
    let run = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["agent"] == "first-reviewer")
        .unwrap_or_else(|| panic!("no run of first-reviewer in {sessions}"));
    assert_eq!(run["status"], "completed", "{run}");
    let id = run["id"].as_str().unwrap();
    let events = String::from_utf8(daemon.studio(&["--json", "events", id]).stdout).unwrap();
    assert!(events.contains("Review the last commit, briefly."));
    assert!(!events.contains(RIGHT_KEY) && !events.contains(WRONG_KEY));
}
