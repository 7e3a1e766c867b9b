//! Typing as a person types, with real key events 50 ms apart while runs
//! stream, in the chat box, the command palette and the new-agent form,
//! then the Inspector's session search and a rename, and the Runs filter:
//! in the browser view (`tests/e2e/typing.mjs` in Chromium) and in the
//! desktop window under Xvfb (xdotool). Every field must hold exactly what
//! was typed, and the daemon must record exactly that: the chat message in
//! the session's events, the agent's name and system prompt in its config.
//!
//! Needs what `browser` and `window` need, and xclip (the desktop palette's
//! text is read back through the clipboard); `scripts/setup` installs them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::{Daemon, run_browser_script, serve_web};
use crate::window::{X, wait_until};

/// Runs streaming while the keys are typed: chunks every 10 ms each, for
/// longer than the test takes.
const STREAMING_RUNS: usize = 20;

/// The two tests take turns: each loads the machine on its own.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// What the chat box gets, in both views.
const CHAT: &str = "the quick brown fox jumps over the lazy dog";
/// The agent the forms create, and its system prompt.
const NAME: &str = "typed-by-hand";
/// What it is called, typed after its name.
const DISPLAY_NAME: &str = "Typed by Hand!";
const PROMPT: &str = "You answer in one short sentence, and you never guess.";
/// The chat's new title, typed in the Inspector.
const TITLE: &str = "Fox notes, kept";

/// A daemon with `listener` (answers chats), `writer`, and streaming runs.
fn daemon_under_load(prefix: &str) -> Daemon {
    let daemon = Daemon::new(prefix);
    daemon.studio(&["agent", "create", "listener", "--chunks", "3"]);
    daemon.studio(&["agent", "create", "writer", "--chunks", "3"]);
    daemon.studio(&[
        "agent",
        "create",
        "streamer",
        "--chunks",
        "30000",
        "--chunk-delay-ms",
        "10",
    ]);
    daemon.studio(&["daemon", "limits", "--max-concurrent", "64"]);
    for n in 0..STREAMING_RUNS {
        daemon.studio(&[
            "run",
            "streamer",
            "--prompt",
            &format!("load {n}"),
            "--detach",
        ]);
    }
    daemon
}

/// `studio ARGS --json`, parsed.
fn studio_json(daemon: &Daemon, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = daemon.studio(&all);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|err| {
        panic!(
            "studio {args:?} --json: {err}: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The user messages recorded in chats with `agent`, oldest first.
fn user_messages(daemon: &Daemon, agent: &str) -> Vec<String> {
    let sessions = studio_json(daemon, &["ps", "--all"]);
    let mut said = Vec::new();
    for session in sessions.as_array().unwrap() {
        if session["agent"] != agent {
            continue;
        }
        let id = session["id"].as_str().unwrap();
        let out = daemon.studio(&["events", id, "--json"]);
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            if event["name"] == "message.user" {
                said.push(event["data"]["text"].as_str().unwrap().to_owned());
            }
        }
    }
    said
}

/// The agent `name` as stored, if it is.
fn stored_agent(daemon: &Daemon, name: &str) -> Option<serde_json::Value> {
    let agents = studio_json(daemon, &["agent", "list"]);
    agents
        .as_array()
        .unwrap()
        .iter()
        .find(|agent| agent["name"] == name)
        .cloned()
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn keys_typed_in_the_browser_while_runs_stream_all_arrive() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let daemon = daemon_under_load("sut");
    // The port of the script's slow tunnel, which the app must answer to.
    let tunnel_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let allow = format!("127.0.0.1:{tunnel_port}");
    let (_server, url) = serve_web(&daemon, &["--allow-host", &allow]);
    run_browser_script("typing.mjs", &url, &daemon, &[&tunnel_port.to_string()]);

    // What the daemon recorded is exactly what was typed.
    assert_eq!(
        user_messages(&daemon, "listener"),
        [CHAT, "thanks! now summarise"]
    );
    let agent = stored_agent(&daemon, NAME).expect("the typed agent is stored");
    assert_eq!(agent["system_prompt"], PROMPT);
    assert_eq!(agent["daily_caps"]["max_cost_usd"], 4.5);
    assert_eq!(agent["workspace"], "/srv/typed-project");
    assert_eq!(agent["on"], "slurm:gpu");
    assert_eq!(
        agent["workspace_per_run"]["setup"],
        "npm ci --quiet && make build"
    );
    // The group started from the run form, with its caps, as typed.
    let groups = studio_json(&daemon, &["groups"]);
    let group = groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "typed group")
        .unwrap_or_else(|| panic!("no typed group in {groups}"));
    assert_eq!(group["runs"], 3);
    assert_eq!(group["caps"]["max_cost_usd"], 2.5);
    assert_eq!(group["caps"]["max_runs"], 5);
    assert_eq!(
        group["checks"],
        serde_json::json!([
            "contains \"a typed check\"",
            "command test -n \"$PWD\" && true",
            "judge writer ≥ 6/10"
        ])
    );
    // The chat was renamed in the Inspector, as typed.
    assert_eq!(chat_titles(&daemon), [TITLE]);
    // Traces go where the Settings form said, with its header; the
    // header's value is the daemon's secret, in no log.
    let otlp = studio_json(&daemon, &["otlp", "status"]);
    assert_eq!(otlp["url"], "http://127.0.0.1:9/v1/traces");
    assert_eq!(otlp["headers"], serde_json::json!(["x-typed-key"]));
    let log = std::fs::read_to_string(daemon.dir.join("daemon.log")).unwrap_or_default();
    assert!(!log.contains("typed-s3cret-value"));
    // The Code Reviewer template, used under the name typed, without a
    // key: the agent and its three rules.
    let reviewer = stored_agent(&daemon, "typed-reviewer").expect("the template's agent");
    assert_eq!(reviewer["provider"], "scripted");
    assert_eq!(reviewer["display_name"], "Code Reviewer");
    let rules = studio_json(&daemon, &["rules", "list"]);
    let own = rules
        .as_array()
        .unwrap()
        .iter()
        .filter(|rule| rule["agent"] == "typed-reviewer")
        .count();
    assert_eq!(own, 3, "{rules}");
}

#[test]
fn keys_typed_in_the_desktop_window_while_runs_stream_all_arrive() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let daemon = daemon_under_load("suk");
    let x = X::start();
    let _window = x.open_app(&daemon);
    let shot = artifacts().join("desktop-typing.png");
    assert!(x.painted(&shot), "the window never painted:\n{}", x.log());

    // The palette opens focused; what it holds is read back through the
    // clipboard before Enter runs it.
    x.keys(&["key", "--clearmodifiers", "ctrl+k"]);
    x.wait_for_focused_field();
    let query = "start session with listener";
    x.type_slowly(query);
    assert_eq!(x.field_text(), query, "the palette's text");
    x.keys(&["key", "Return"]);

    // The chat opens with its box focused.
    let opened = wait_until(Duration::from_secs(30), || {
        studio_json(&daemon, &["ps"])
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["agent"] == "listener" && s["status"] == "idle")
    });
    assert!(opened, "no chat with listener opened:\n{}", x.log());
    x.wait_for_focused_field();
    x.type_slowly(CHAT);
    std::thread::sleep(Duration::from_millis(1500));
    x.keys(&["key", "--clearmodifiers", "ctrl+Return"]);
    let sent = wait_until(Duration::from_secs(30), || {
        !user_messages(&daemon, "listener").is_empty()
    });
    x.screenshot(&shot);
    assert!(
        sent,
        "nothing was sent (see {}):\n{}",
        shot.display(),
        x.log()
    );
    assert_eq!(user_messages(&daemon, "listener"), [CHAT]);

    // Escape closes the palette (were it still open, the next Ctrl+K
    // would close it and the name below would go to the chat box).
    x.keys(&["key", "--clearmodifiers", "ctrl+k"]);
    std::thread::sleep(Duration::from_millis(500));
    x.keys(&["key", "Escape"]);
    std::thread::sleep(Duration::from_millis(500));
    // The new-agent form opens from the palette with its name focused;
    // its display name comes next.
    x.keys(&["key", "--clearmodifiers", "ctrl+k"]);
    std::thread::sleep(Duration::from_millis(500));
    x.type_slowly("new agent");
    x.keys(&["key", "Return"]);
    x.wait_for_focused_field();
    x.type_slowly(NAME);
    x.keys(&["key", "Tab"]);
    x.type_slowly(DISPLAY_NAME);
    // Description, provider, model, base URL, then the system prompt.
    for _ in 0..5 {
        x.keys(&["key", "Tab"]);
    }
    x.type_slowly(PROMPT);
    std::thread::sleep(Duration::from_millis(1500));
    x.keys(&["key", "--clearmodifiers", "ctrl+Return"]);
    let stored = wait_until(Duration::from_secs(30), || {
        stored_agent(&daemon, NAME).is_some()
    });
    x.screenshot(&shot);
    assert!(
        stored,
        "no agent {NAME} was stored (see {}):\n{}",
        shot.display(),
        x.log()
    );
    let agent = stored_agent(&daemon, NAME).unwrap();
    assert_eq!(agent["system_prompt"], PROMPT);
    assert_eq!(agent["display_name"], DISPLAY_NAME);

    // The Inspector: "/" focuses its session search, Enter inspects the
    // chat found, F2 renames it.
    x.keys(&["key", "--clearmodifiers", "ctrl+4"]);
    std::thread::sleep(Duration::from_millis(1000));
    x.keys(&["key", "slash"]);
    x.wait_for_focused_field();
    x.type_slowly("quick brown");
    assert_eq!(x.field_text(), "quick brown", "the session search's text");
    x.keys(&["key", "Return"]);
    std::thread::sleep(Duration::from_millis(1000));
    x.keys(&["key", "F2"]);
    x.wait_for_focused_field();
    x.type_slowly(TITLE);
    assert_eq!(x.field_text(), TITLE, "the title field's text");
    x.keys(&["key", "Return"]);
    let renamed = wait_until(Duration::from_secs(30), || chat_titles(&daemon) == [TITLE]);
    x.screenshot(&shot);
    assert!(
        renamed,
        "the chat was not renamed (see {}): {:?}\n{}",
        shot.display(),
        chat_titles(&daemon),
        x.log()
    );

    // The palette exports the inspected chat: the window writes it to
    // the downloads folder, whole.
    x.keys(&["key", "--clearmodifiers", "ctrl+k"]);
    x.wait_for_focused_field();
    x.type_slowly("export markdown");
    x.keys(&["key", "Return"]);
    let downloads = daemon.tmp.path().join("downloads");
    let exported = || {
        std::fs::read_dir(&downloads)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .find(|path| path.extension().is_some_and(|e| e == "md"))
    };
    let saved = wait_until(Duration::from_secs(30), || exported().is_some());
    x.screenshot(&shot);
    assert!(
        saved,
        "no transcript in {} (see {}):\n{}",
        downloads.display(),
        shot.display(),
        x.log()
    );
    let transcript = std::fs::read_to_string(exported().unwrap()).unwrap();
    assert!(
        transcript.starts_with(&format!("# {TITLE}\n")),
        "{transcript}"
    );
    assert!(transcript.contains(CHAT), "{transcript}");

    // Runs: "/" focuses the filter.
    x.keys(&["key", "--clearmodifiers", "ctrl+3"]);
    std::thread::sleep(Duration::from_millis(1000));
    x.keys(&["key", "slash"]);
    x.wait_for_focused_field();
    x.type_slowly("load 1");
    assert_eq!(x.field_text(), "load 1", "the runs filter's text");
    x.screenshot(&artifacts().join("desktop-typing-filter.png"));
}

/// The titles of the chats with `listener`.
fn chat_titles(daemon: &Daemon) -> Vec<String> {
    studio_json(daemon, &["ps", "--all"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["agent"] == "listener")
        .map(|s| s["title"].as_str().unwrap().to_owned())
        .collect()
}
