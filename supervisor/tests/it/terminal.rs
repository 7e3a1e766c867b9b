//! What `studio` prints cannot drive the terminal: escape sequences from a
//! model's answer or a hostile MCP import are shown, not obeyed, and a
//! stream that broke off and was retried is shown as a retry; a budget
//! that would switch itself off (NaN, infinite, 0 or less) is refused.
//! A reader that goes away (`| head -1`) ends `studio` quietly.

use crate::cli_harness::{Cli, path};
use test_support::fake_provider::{FakeProvider, Reply};

/// Sets the window title, clears the screen, writes the clipboard (OSC 52)
/// and colours through a C1 CSI.
const HOSTILE: &str = "hi\x1b]0;pwned\x07\x1b[2J\x1b]52;c;ZXZpbA==\x07\u{9b}31mred\r\nend";

fn assert_inert(text: &str) {
    for c in text.chars() {
        assert!(
            !c.is_control() || c == '\n' || c == '\t',
            "control character {:?} printed in {text:?}",
            c
        );
    }
}

#[test]
fn escape_sequences_in_an_answer_are_shown_not_obeyed() {
    let cli = Cli::new();
    cli.ok(&["agent", "create", "echo", "--answer", HOSTILE]);
    let out = cli.run(&["run", "echo", "--prompt", "say it"]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_inert(&stdout);
    assert_eq!(
        stdout,
        "hi\\x1b]0;pwned\\x07\\x1b[2J\\x1b]52;c;ZXZpbA==\\x07\\u{9b}31mred\nend\n"
    );
    // The recorded answer is the model's, untouched; --json stays valid
    // JSON with the same text.
    let events = cli.ok(&["--json", "run", "echo", "--prompt", "say it"]);
    assert_inert(&events);
    let answer = events
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .find(|e| e["name"] == "message.assistant")
        .unwrap();
    assert_eq!(answer["data"]["text"], HOSTILE);
}

#[test]
fn a_hostile_mcp_import_is_echoed_inert() {
    let cli = Cli::new();
    let file = cli.write(
        "servers.json",
        &serde_json::json!({"mcpServers": {
            "evil\u{1b}]0;title\u{7}\u{1b}[2J": {"command": "true"},
            "ok": {"command": "true"}
        }})
        .to_string(),
    );
    let out = cli.run(&["mcp", "import", path(&file)]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_inert(&stdout);
    assert_inert(&stderr);
    assert!(
        stdout.contains("evil\\x1b]0;title\\x07\\x1b[2J"),
        "{stdout}{stderr}"
    );
    assert!(stdout.contains("imported ok"), "{stdout}{stderr}");
}

/// Ollama's documented NDJSON stream, one line per delta.
fn ollama_line(content: &str, done: bool) -> String {
    serde_json::json!({
        "model": "llama3.2",
        "created_at": "2024-07-22T20:33:28Z",
        "message": {"role": "assistant", "content": content},
        "done": done,
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_stream_is_shown_as_a_retry() {
    let broken = ollama_line("The sky is ", false);
    let whole = [
        ollama_line("The sky is ", false),
        ollama_line("blue.", false),
        ollama_line("", true),
    ];
    let fake = FakeProvider::start(vec![
        Reply::ndjson(&[broken.as_str()]),
        Reply::ndjson(&whole.iter().map(String::as_str).collect::<Vec<_>>()),
    ])
    .await;
    let base = fake.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        let cli = Cli::new();
        cli.ok(&[
            "agent",
            "create",
            "local",
            "--provider",
            "ollama",
            "--model",
            "llama3.2",
            "--base-url",
            &base,
        ]);
        cli.run(&["run", "local", "--prompt", "what colour is the sky?"])
    })
    .await
    .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!(lines[0], "The sky is ");
    assert!(
        lines[1].starts_with("[the answer broke off (")
            && lines[1].ends_with("asking again, from the start]"),
        "{stdout}"
    );
    assert_eq!(lines[2], "The sky is blue.");
    assert_eq!(fake.seen().len(), 2);
}

#[test]
fn budgets_that_would_turn_themselves_off_are_refused_by_the_cli() {
    let cli = Cli::new();
    for flag in [
        "--max-cost-usd=nan",
        "--max-cost-usd=inf",
        "--max-cost-usd=-1",
        "--max-turns=0",
    ] {
        let err = cli.fails(&["agent", "create", "spender", flag], 2);
        let name = flag.split('=').next().unwrap();
        assert!(err.contains(name), "{flag}: {err}");
    }
    // TOML spells NaN `nan`: the daemon refuses it with the field's name.
    let file = cli.write(
        "spender.toml",
        "name = \"spender\"\n[budgets]\nmax_cost_usd = nan\n",
    );
    let err = cli.fails(&["agent", "create", "--file", path(&file)], 2);
    assert!(err.contains("max_cost_usd"), "{err}");
    assert!(cli.ok(&["agent", "list"]).contains("no agents yet"));
}

/// `studio events ID --json | head -1`: the CLI ends with success when
/// its reader goes away, without a panic about a broken pipe.
#[test]
fn a_reader_that_goes_away_ends_the_cli_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let cli = Cli::new();
    cli.ok(&[
        "agent",
        "create",
        "long",
        "--chunks",
        "2000",
        "--chunk-chars",
        "40",
        "--chunk-delay-ms",
        "0",
    ]);
    cli.ok(&["run", "long", "--prompt", "many events"]);
    let listed = cli.json(&["ps", "--all"]);
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    let mut child = cli
        .command(&["events", &id, "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("run.queued"), "{first}");
    // The reader is gone (dropped above), with thousands of lines unread.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
