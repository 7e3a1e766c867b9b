//! Each page rendered through `dioxus-ssr` in its states (loading, empty,
//! populated, error, disconnected), compared with reviewed snapshots.

// A panic is how a test fails.

use std::collections::HashMap;

use dioxus::prelude::*;
use protocol::approval::{ApprovalRule, PendingApproval, RuleDecision};
use protocol::control::{
    Change, Compared, Comparison, DaemonStatus, Estimated, Figures, KeyInfo, KeySource, ModelPrice,
    PriceEntry, PricingTable, Row, SecretInfo, SecretLocation, SecretsInfo, SessionSummary,
    SessionTotals, Span, Step, StepKind, Waiting,
};
use protocol::event::{Event, EventKind, Usage};
use protocol::{AgentConfig, ProviderKind, SessionId, SessionStatus, Timestamp};
use ui_dioxus::connection::{NewRule, RuleChanges};
use ui_dioxus::pages::{
    AgentDraft, AgentForm, McpAddForm, McpDraft, McpImportForm, McpKind, PriceDraft, Pricing,
    RunForm, import_problem,
};
use ui_dioxus::palette::Palette;
use ui_dioxus::state::{Comparing, ImportOutcome, Link, McpSummary, Settings, SignIn};
use ui_dioxus::{AppState, Commands, Page, Shell};

/// What the test root renders.
#[derive(Clone, PartialEq)]
enum Part {
    Shell,
    AgentForm,
    /// The agent form editing this agent, opened with this draft of it
    /// (the agent as it is when `None`).
    AgentEdit(Box<(AgentConfig, Option<AgentDraft>)>),
    /// The new-agent form opened with this draft.
    AgentDraft(Box<AgentDraft>),
    RunForm,
    Palette,
    /// The add-MCP-server form opened with this draft; checked (as after
    /// a click on its button) when `true`.
    McpAdd(McpDraft, bool),
    /// The import form opened with this text; checked when `true`.
    McpImport(String, bool),
    /// The pricing section, its form opened with this draft, checked.
    Pricing(PriceDraft),
    /// The Plugins section of the instance at this target.
    Plugins(ui_dioxus::Target),
}

#[derive(Props, Clone, PartialEq)]
struct RootProps {
    state: AppState,
    part: Part,
}

#[allow(non_snake_case)]
fn Root(props: RootProps) -> Element {
    use_context_provider(|| Signal::new(props.state.clone()));
    use_context_provider(|| Commands(Callback::new(|_| {})));
    match props.part {
        Part::Shell => rsx! { Shell {} },
        Part::AgentForm => rsx! { AgentForm { editing: None, on_done: |()| {} } },
        Part::AgentEdit(edit) => {
            let (agent, start) = *edit;
            rsx! { AgentForm { editing: Some(agent), on_done: |()| {}, start } }
        }
        Part::AgentDraft(draft) => {
            rsx! { AgentForm { editing: None, on_done: |()| {}, start: Some(*draft) } }
        }
        Part::RunForm => rsx! { RunForm {} },
        Part::Palette => rsx! { Palette { on_close: |()| {} } },
        Part::McpAdd(draft, checked) => {
            let problems = checked
                .then(|| draft.check().err())
                .flatten()
                .unwrap_or_default();
            rsx! { McpAddForm { start: draft, problems } }
        }
        Part::McpImport(text, checked) => {
            let problems = checked
                .then(|| studio_client::mcp_import::parse_mcp_servers_json(&text).err())
                .flatten()
                .map(import_problem)
                .unwrap_or_default();
            rsx! { McpImportForm { start: text, problems } }
        }
        Part::Pricing(draft) => {
            let problems = draft.check().err().unwrap_or_default();
            rsx! { Pricing { start: draft, problems } }
        }
        Part::Plugins(target) => {
            use_context_provider(|| target.clone());
            rsx! { ui_dioxus::pages::PluginsSection {} }
        }
    }
}

/// The page's HTML, one element per line, without the stylesheet.
fn render(state: AppState) -> String {
    render_part(state, Part::Shell)
}

fn render_part(state: AppState, part: Part) -> String {
    let mut dom = VirtualDom::new_with_props(Root, RootProps { state, part });
    dom.rebuild_in_place();
    let html = dioxus_ssr::render(&dom);
    let html = match (html.find("<style>"), html.find("</style>")) {
        (Some(start), Some(end)) => format!("{}{}", &html[..start], &html[end + 8..]),
        _ => html,
    };
    html.replace("><", ">\n<")
}

const T0: u64 = 1_795_000_000_000_000;

fn at(secs: u64) -> Timestamp {
    Timestamp(T0 + secs * 1_000_000)
}

fn id(n: u128) -> SessionId {
    SessionId::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + n)
}

fn status() -> DaemonStatus {
    DaemonStatus {
        pid: 4242,
        version: "0.1.0".into(),
        data_dir: "/home/me/.local/share/ai-studio".into(),
        started_at: at(0),
        live_sessions: 2,
        queued_runs: 1,
        max_concurrent_runs: 16,
        live_chats: 1,
        max_live_chats: 32,
        containment: vec!["processes: PID namespace per session; cgroup v1".to_owned()],
        store_stalled: None,
    }
}

fn session(n: u128, status: SessionStatus, interactive: bool) -> SessionSummary {
    let live = !status.is_terminal();
    SessionSummary {
        id: id(n),
        agent: if interactive { "helper" } else { "writer" }.into(),
        label: (!interactive).then(|| format!("batch line {n}")),
        title: format!("Summarise report {n}"),
        status,
        pid: live.then_some(1000 + n as u32),
        rss_bytes: live.then_some(4_800_000),
        events: 10 * n as u64,
        created_at: at(n as u64),
        started_at: Some(at(n as u64 + 1)),
        ended_at: (!live).then(|| at(n as u64 + 4)),
        parent: None,
        branched_at: None,
        interactive,
        totals: Some(SessionTotals {
            usage: Usage {
                input_tokens: 1200 * n as u64,
                output_tokens: 300 * n as u64,
                ..Usage::default()
            },
            cost_usd: 0.0125 * n as f64,
            unpriced: 0,
        }),
        // A live run's response is streaming: part of its spend is estimated.
        estimated: if live {
            Estimated {
                usage: Usage {
                    input_tokens: 900,
                    output_tokens: 40,
                    ..Usage::default()
                },
                cost_usd: 0.003,
                unpriced: false,
            }
        } else {
            Estimated::default()
        },
        waiting: None,
        batch: None,
        last_activity: at(n as u64 + if live { 9 } else { 4 }),
        damage: None,
        job: None,
    }
}

fn populated(page: Page) -> AppState {
    let mut writer = AgentConfig::scripted("writer");
    writer.tools = vec!["fs".into(), "shell".into()];
    writer.mcp_servers = vec!["everything".into()];
    writer.description = "Drafts release notes from merged changes.".into();
    let sessions = [
        session(1, SessionStatus::Completed, false),
        session(2, SessionStatus::Running, false),
        session(3, SessionStatus::Crashed, false),
        session(4, SessionStatus::Idle, true),
        SessionSummary {
            parent: Some(id(4)),
            branched_at: Some(30),
            ..session(5, SessionStatus::Completed, true)
        },
        // A run whose tool call waits for a person.
        SessionSummary {
            waiting: Some(Waiting {
                calls: 1,
                since: at(7),
                decided_by: at(3607),
            }),
            ..session(7, SessionStatus::Waiting, false)
        },
    ];
    AppState {
        page,
        link: Link::Up(status()),
        agents: Some(vec![AgentConfig::scripted("helper"), writer]),
        sessions: Some(sessions.into_iter().map(|s| (s.id, s)).collect()),
        approvals: vec![PendingApproval {
            id: 7,
            session: id(4),
            agent: "helper".into(),
            call_id: "call_1".into(),
            tool: "fs.write".into(),
            arguments: r#"{"path":"notes.md"}"#.into(),
            requested_at: at(6),
            expires_at: at(3606),
        }],
        inspected: Some((
            id(1),
            vec![
                Event {
                    session: id(1),
                    seq: 1,
                    at: at(1),
                    kind: EventKind::RunQueued,
                },
                Event {
                    session: id(1),
                    seq: 2,
                    at: at(2),
                    kind: EventKind::MessageUser {
                        text: "Explain process groups".into(),
                    },
                },
                Event {
                    session: id(1),
                    seq: 3,
                    at: at(3),
                    kind: EventKind::LlmRequestStarted {
                        request_id: "req-1".into(),
                        provider: "openai".into(),
                        model: "gpt-4o-mini".into(),
                        params: "{}".into(),
                    },
                },
                Event {
                    session: id(1),
                    seq: 4,
                    at: at(5),
                    kind: EventKind::LlmResponseCompleted {
                        request_id: "req-1".into(),
                        usage: Usage {
                            input_tokens: 120,
                            output_tokens: 40,
                            ..Usage::default()
                        },
                        finish_reason: "stop".into(),
                    },
                },
                Event {
                    session: id(1),
                    seq: 5,
                    at: at(5),
                    kind: EventKind::LlmCost {
                        request_id: "req-1".into(),
                        model: "gpt-4o-mini".into(),
                        usd: Some(0.0125),
                        pricing_version: 1,
                    },
                },
                Event {
                    session: id(1),
                    seq: 6,
                    at: at(6),
                    kind: EventKind::SessionCompleted,
                },
            ],
        )),
        now: at(30),
        settings: settings(),
        spending: spending(),
        compare: Comparing {
            picked: vec![id(1), id(3)],
            asked: vec![id(1), id(3)],
            shown: Some(std::rc::Rc::new(comparison())),
            changes_diff: Some(Ok(Box::new(protocol::workspace::RunDiff {
                workspace: protocol::workspace::RunWorkspace {
                    origin: "/src/app".into(),
                    path: "/ws/.runs/3".into(),
                    subdir: String::new(),
                    kind: protocol::workspace::WorkspaceKind::Worktree {
                        branch: "studio/run-00000003".into(),
                    },
                    git_dir: "/src/app/.git/worktrees/3".into(),
                    base: "ed00004".into(),
                },
                changes: protocol::workspace::Changes::of(vec![protocol::workspace::FileChange {
                    path: "README.md".into(),
                    added: 0,
                    removed: 2,
                    binary: false,
                }]),
                patch: "--- a/README.md\n+++ b/README.md\n@@ -1,2 +0,0 @@\n-<b>two</b>\n-lines\n"
                    .into(),
                patch_cut: false,
                against: Some(id(1)),
            }))),
        },
        ..AppState::default()
    }
}

/// The writer's daily caps and what was spent, every way.
fn spending() -> ui_dioxus::state::Spending {
    use protocol::caps::{AgentDayStanding, SpendCaps, Spent};
    use protocol::control::SpendRow;
    let row = |key: &str, sessions, output_tokens, cost_usd, unpriced| SpendRow {
        key: key.into(),
        sessions,
        usage: protocol::event::Usage {
            input_tokens: 1200,
            output_tokens,
            ..Default::default()
        },
        cost_usd,
        unpriced,
    };
    ui_dioxus::state::Spending {
        today: vec![AgentDayStanding {
            agent: "writer".into(),
            day: "2026-11-20".into(),
            caps: SpendCaps {
                max_cost_usd: Some(5.0),
                max_tokens: None,
                max_runs: Some(40),
            },
            spent: Spent {
                cost_usd: 1.25,
                tokens: 5400,
                runs: 3,
            },
        }],
        by_agent: vec![row("writer", 3, 4200, 1.25, 0)],
        by_model: vec![row("gpt-4.1-mini", 3, 4200, 1.25, 1)],
        by_day: vec![row("2026-11-20", 3, 4200, 1.25, 0)],
    }
}

/// Run 1 and run 3 side by side: the same question, answers that part.
fn comparison() -> Comparison {
    let step = |session: u128, seq, kind, name: &str, text: &str, diff: Vec<Span>| Step {
        session: id(session),
        seq,
        kind,
        name: name.into(),
        text: text.into(),
        outcome: if kind == StepKind::Model {
            "stop".into()
        } else {
            String::new()
        },
        text_diff: diff,
        outcome_diff: Vec::new(),
    };
    let span = |change, text: &str| Span {
        change,
        text: text.into(),
    };
    let changed = |files: &[(&str, u32)]| {
        protocol::workspace::Changes::of(
            files
                .iter()
                .map(|(path, added)| protocol::workspace::FileChange {
                    path: (*path).into(),
                    added: *added,
                    removed: 1,
                    binary: false,
                })
                .collect(),
        )
    };
    let figures = |output_tokens, cost_usd| Figures {
        input_tokens: 120,
        output_tokens,
        cost_usd,
        wall_ms: 4000,
        model_ms: 2000,
        requests: 1,
        answer_chars: 30,
        steps: 2,
        ..Figures::default()
    };
    Comparison {
        sessions: vec![
            Compared {
                summary: session(1, SessionStatus::Completed, false),
                figures: figures(40, 0.0125),
                checks: vec![protocol::checks::CheckOutcome {
                    check: "contains \"group\"".into(),
                    passed: true,
                    detail: String::new(),
                }],
                changes: Some(changed(&[("src/lib.rs", 12), ("README.md", 2)])),
            },
            Compared {
                summary: session(3, SessionStatus::Crashed, false),
                figures: figures(52, 0.0150),
                checks: Vec::new(),
                changes: Some(changed(&[("src/lib.rs", 12)])),
            },
        ],
        first_divergence: Some(1),
        total_rows: 2,
        from_row: 0,
        rows: vec![
            Row {
                cells: vec![
                    Some(step(
                        1,
                        2,
                        StepKind::User,
                        "",
                        "Explain process groups",
                        Vec::new(),
                    )),
                    Some(step(
                        3,
                        2,
                        StepKind::User,
                        "",
                        "Explain process groups",
                        Vec::new(),
                    )),
                ],
                same: true,
            },
            Row {
                cells: vec![
                    Some(step(
                        1,
                        3,
                        StepKind::Model,
                        "gpt-4o-mini",
                        "A group of processes.",
                        Vec::new(),
                    )),
                    Some(step(
                        3,
                        3,
                        StepKind::Model,
                        "gpt-4.1",
                        "A set of processes.",
                        vec![
                            span(Change::Same, "A "),
                            span(Change::Removed, "group"),
                            span(Change::Added, "set"),
                            span(Change::Same, " of processes."),
                        ],
                    )),
                ],
                same: false,
            },
        ],
        approximate: false,
    }
}

fn settings() -> Settings {
    Settings {
        keys: vec![
            KeyInfo {
                provider: ProviderKind::OpenAi,
                source: KeySource::Stored,
                stored_at: Some(at(1)),
            },
            KeyInfo {
                provider: ProviderKind::Anthropic,
                source: KeySource::Missing,
                stored_at: None,
            },
        ],
        secrets: Some(SecretsInfo {
            store: SecretLocation::File,
            keyring_unavailable: Some("no Secret Service on the session bus".into()),
            secrets: vec![
                SecretInfo {
                    name: "key/openai".into(),
                    location: SecretLocation::Keyring,
                    stored_at: at(1),
                },
                SecretInfo {
                    name: "mcp/everything".into(),
                    location: SecretLocation::File,
                    stored_at: at(2),
                },
                SecretInfo {
                    name: "mcp-oauth/notes".into(),
                    location: SecretLocation::File,
                    stored_at: at(3),
                },
            ],
        }),
        mcp: vec![
            McpSummary {
                name: "everything".into(),
                transport: "npx -y @modelcontextprotocol/server-everything (env: TOKEN)".into(),
                startup_timeout_secs: 60,
                call_timeout_secs: 120,
                http: false,
            },
            McpSummary {
                name: "notes".into(),
                transport: "https://notes.example.com/mcp".into(),
                startup_timeout_secs: 60,
                call_timeout_secs: 120,
                http: true,
            },
            McpSummary {
                name: "wiki".into(),
                transport: "https://wiki.example.com/mcp".into(),
                startup_timeout_secs: 60,
                call_timeout_secs: 120,
                http: true,
            },
        ],
        mcp_tests: [(
            "everything".to_owned(),
            Ok(vec!["everything.echo".to_owned()]),
        )]
        .into(),
        mcp_sign_ins: [(
            "wiki".to_owned(),
            SignIn::Waiting(Some(
                "https://auth.example.com/authorize?client_id=c1".to_owned(),
            )),
        )]
        .into(),
        mcp_import: Vec::new(),
        rules: vec![ApprovalRule {
            id: "r1".into(),
            agent: None,
            matches: "shell:command=git *".parse().unwrap(),
            decision: RuleDecision::Allow,
            priority: 0,
        }],
        pricing: Some(PricingTable {
            version: 2,
            entries: vec![PriceEntry {
                model: "gpt-4o-mini".into(),
                price: ModelPrice {
                    input: 0.15,
                    output: 0.6,
                    cache_read: 0.075,
                    cache_write: 0.0,
                    reasoning: 0.6,
                },
                custom: true,
            }],
        }),
        otlp: None,
    }
}

fn empty(page: Page) -> AppState {
    AppState {
        page,
        link: Link::Up(status()),
        agents: Some(Vec::new()),
        sessions: Some(HashMap::new()),
        now: at(30),
        ..AppState::default()
    }
}

#[test]
fn a_stalled_store_is_shown_on_every_page() {
    let mut state = populated(Page::Sessions);
    let mut stalled = status();
    stalled.store_stalled = Some(protocol::control::StoreStall {
        since: at(60),
        error: "storage error: I/O error: No space left on device (os error 28)".into(),
    });
    state.link = Link::Up(stalled);
    let html = render(state);
    assert!(
        html.contains("the store is stalled: storage error: I/O error: No space left on device (os error 28) since"),
        "{html}"
    );
    let calm = render(populated(Page::Sessions));
    assert!(!calm.contains("stalled"), "{calm}");
}

#[test]
fn queued_runs_are_counted_apart_from_live_ones() {
    let mut state = populated(Page::Runs);
    let queued = session(7, SessionStatus::Queued, false);
    state.sessions.as_mut().unwrap().insert(queued.id, queued);
    let html = render(state);
    assert!(
        html.contains("<span>1 live</span>\n<span>1 queued</span>"),
        "{html}"
    );
}

/// A live run whose last event is old has still spent the time until now.
#[test]
fn a_live_session_s_time_runs_on_to_now_in_the_inspector() {
    let event = |seq: u64, secs: u64, kind: EventKind| Event {
        session: id(2),
        seq,
        at: at(secs),
        kind,
    };
    let events = vec![
        event(1, 1, EventKind::RunQueued),
        event(2, 2, EventKind::RunQueued),
    ];
    let mut state = populated(Page::Inspector);
    state.inspected = Some((id(2), events.clone()));
    state.now = at(661);
    let live = render(state.clone());
    assert!(live.contains("11m00s in all"), "{live}");
    // Ended: from its first event to its last.
    let ended = session(2, SessionStatus::Completed, false);
    state.sessions.as_mut().unwrap().insert(ended.id, ended);
    let done = render(state);
    assert!(done.contains("1.0s in all"), "{done}");
}

#[test]
fn a_stopped_daemon_is_said_with_a_button_to_start_it() {
    let mut state = populated(Page::Runs);
    state.link = Link::Stopped;
    let html = render(state);
    assert!(html.contains("daemon stopped"), "{html}");
    assert!(html.contains("The daemon was stopped ("), "{html}");
    assert!(html.contains(">Start the daemon</button>"), "{html}");
    let up = render(populated(Page::Runs));
    assert!(!up.contains("Start the daemon"), "{up}");
}

#[test]
fn every_stored_secret_says_where_it_lives_and_where_new_ones_go() {
    let html = render(populated(Page::Settings)).replace("&#39;", "'");
    let openai = row_of(&html, "<td>openai</td>");
    assert!(openai.contains("in the OS keyring"), "{openai}");
    let anthropic = row_of(&html, "<td>anthropic</td>");
    assert!(
        !anthropic.contains("keyring") && !anthropic.contains("file"),
        "{anthropic}"
    );
    let server = row_of(&html, "<td>everything</td>");
    assert!(server.contains("secrets in the secrets file"), "{server}");
    assert!(
        html.contains("stored in the data dir's secrets file (secrets.json, readable by you only); OS keyring: no Secret Service on the session bus."),
        "{html}"
    );
}

/// The table row of `html` holding `cell`.
fn row_of<'a>(html: &'a str, cell: &str) -> &'a str {
    let at = html
        .find(cell)
        .unwrap_or_else(|| panic!("no {cell} in {html}"));
    let start = html[..at].rfind("<tr").unwrap();
    let end = at + html[at..].find("</tr>").unwrap();
    &html[start..end]
}

#[test]
fn every_page_has_its_title_and_the_theme_is_the_one_picked() {
    for page in Page::ALL {
        let html = render(populated(page));
        assert!(
            html.contains(&format!("<h1 class=\"page-title\">{}</h1>", page.title())),
            "{page:?}"
        );
        assert!(html.contains("data-theme=\"system\""), "{page:?}");
    }
    let mut dark = populated(Page::Runs);
    dark.theme = ui_dioxus::state::Theme::Dark;
    let html = render(dark);
    assert!(html.contains("data-theme=\"dark\""));
    assert!(html.contains("◐ dark"));
}

#[test]
fn a_corrupt_session_says_what_is_damaged_in_runs_and_the_inspector() {
    let damage = "event 12 (table events): cannot decode: unexpected end of input";
    let corrupt = SessionSummary {
        damage: Some(damage.into()),
        pid: None,
        ..session(6, SessionStatus::Corrupt, false)
    };
    let mut state = populated(Page::Runs);
    state
        .sessions
        .as_mut()
        .unwrap()
        .insert(corrupt.id, corrupt.clone());
    let runs = render(state.clone());
    let row = row_of(&runs, &format!("data-id=\"{}\"", corrupt.id));
    assert!(row.contains("corrupt") && row.contains(damage), "{row}");

    state.page = Page::Inspector;
    state.inspected = Some((corrupt.id, Vec::new()));
    let inspector = render(state.clone()).replace("&#39;", "'");
    assert!(
        inspector.contains(&format!(
            "Part of this session's stored data is damaged: </strong>{damage}."
        )),
        "{inspector}"
    );
    assert!(inspector.contains("studio daemon salvage"), "{inspector}");
    state.inspected = Some((id(1), Vec::new()));
    let healthy = render(state);
    assert!(!healthy.contains("damaged"), "{healthy}");
}

#[test]
fn every_page_populated() {
    for page in Page::ALL {
        insta::assert_snapshot!(
            format!("populated_{}", page.title().to_lowercase()),
            render(populated(page))
        );
    }
}

#[test]
fn every_page_empty() {
    for page in Page::ALL {
        insta::assert_snapshot!(
            format!("empty_{}", page.title().to_lowercase()),
            render(empty(page))
        );
    }
}

#[test]
fn every_page_loading_then_disconnected_with_errors_shown() {
    for page in Page::ALL {
        let name = page.title().to_lowercase();
        let loading = AppState {
            page,
            ..AppState::default()
        };
        insta::assert_snapshot!(format!("loading_{name}"), render(loading));
        let down = AppState {
            page,
            link: Link::Down {
                reason: "cannot reach the daemon at /d/run/control.sock: Connection refused".into(),
            },
            errors: vec!["session 0190 already ended (completed)".into()],
            ..AppState::default()
        };
        insta::assert_snapshot!(format!("disconnected_{name}"), render(down));
    }
}

#[test]
fn the_agent_and_run_forms() {
    let mut state = populated(Page::Agents);
    state
        .models
        .insert(ProviderKind::Scripted, Ok(vec!["scripted-1".into()]));
    insta::assert_snapshot!("agent_form", render_part(state.clone(), Part::AgentForm));
    state.run_agent = Some("writer".into());
    insta::assert_snapshot!("run_form", render_part(state, Part::RunForm));
}

#[test]
fn the_run_form_says_the_caps_a_group_starts_under_and_settings_show_spend() {
    let mut state = populated(Page::Agents);
    state.run_agent = Some("writer".into());
    let form = render_part(state, Part::RunForm);
    assert!(
        form.contains("agent writer cap today: $1.2500 of $5.0000, 3 of 40 runs"),
        "{form}"
    );
    assert!(form.contains("name=\"group_usd\""), "{form}");
    let settings = render(populated(Page::Settings));
    let today = row_of(&settings, "<td>writer</td>\n<td>$5.00, 40 runs</td>");
    assert!(
        today.contains("$1.2500") && today.contains("5.4k"),
        "{today}"
    );
    let by_model = row_of(&settings, "<td>gpt-4.1-mini</td>\n<td class=\"num\">3</td>");
    assert!(by_model.contains("+1 unpriced"), "{by_model}");
    assert!(settings.contains("<td>2026-11-20</td>"), "{settings}");
}

#[test]
fn the_plugins_section_lists_marketplaces_their_plugins_and_what_is_installed() {
    use studio_client::plugin::install::Spec;
    use studio_client::plugin::store::Plugins;
    let dir = tempfile::tempdir().unwrap();
    let layout = protocol::layout::Layout::new(dir.path().join("d"));
    let market = dir.path().join("market");
    let tracker = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/plugins/tracker");
    std::fs::create_dir_all(market.join(".claude-plugin")).unwrap();
    std::fs::create_dir_all(market.join("plugins/tracker/.claude-plugin")).unwrap();
    for file in [
        ".claude-plugin/plugin.json",
        ".mcp.json",
        "server.mjs",
        "studio-plugin.toml",
    ] {
        std::fs::copy(
            tracker.join(file),
            market.join("plugins/tracker").join(file),
        )
        .unwrap();
    }
    std::fs::write(
        market.join(".claude-plugin/marketplace.json"),
        r#"{"name": "team", "plugins": [
            {"name": "tracker", "source": "./plugins/tracker", "version": "1.0.0", "description": "Issues"},
            {"name": "notes", "source": "./plugins/notes", "description": "Notes for later"}]}"#,
    )
    .unwrap();
    let plugins = Plugins::new(&layout);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        plugins
            .add_market(market.to_str().unwrap(), None, &|_| {})
            .await
            .unwrap();
        let spec = Spec::Listed {
            name: "tracker".into(),
            market: None,
        };
        let ready = plugins.prepare_install(&spec, &|_| {}).await.unwrap();
        plugins.commit(ready).unwrap();
    });
    plugins.set_enabled("tracker", false).unwrap();
    let target = ui_dioxus::Target {
        layout,
        studio_bin: "studio".into(),
    };
    let html = render_part(populated(Page::Settings), Part::Plugins(target));
    let notes = &html[html.find("data-plugin=\"notes\"").expect("notes listed")..];
    assert!(
        notes.contains("Notes for later") && notes.contains(">Review</button>"),
        "{html}"
    );
    let listed = &html[html
        .find("data-plugin=\"tracker\"")
        .expect("tracker listed")..];
    assert!(listed.contains("(installed)"), "{html}");
    let installed = &html[html
        .find("class=\"installed-plugin\" data-plugin=\"tracker\" data-enabled=\"false\"")
        .expect("tracker installed, disabled")..];
    assert!(
        installed.contains(">Enable</button>") && installed.contains(">Remove</button>"),
        "{installed}"
    );
    assert!(
        installed.contains("disabled, from marketplace team"),
        "{installed}"
    );
}

#[test]
fn with_no_agent_the_agents_page_shows_the_template_gallery() {
    let mut state = populated(Page::Agents);
    let with_agents = render(state.clone());
    assert!(
        !with_agents.contains("data-template"),
        "the gallery opens on request"
    );
    state.agents = Some(Vec::new());
    let empty = render(state);
    for title in [
        "Code Assistant",
        "Code Reviewer",
        "Research Bot",
        "Data Analyst",
        "Writer",
    ] {
        assert!(
            empty.contains(&format!("<h3>{title}</h3>")),
            "{title}: {empty}"
        );
    }
    let reviewer = &empty[empty.find("data-template=\"code-reviewer\"").unwrap()..];
    let reviewer = &reviewer[..reviewer.find("</details>").unwrap()];
    assert!(
        reviewer.contains("May use the tools shell, fs"),
        "{reviewer}"
    );
    assert!(
        reviewer.contains("shell:command=git diff*"),
        "the file is previewed: {reviewer}"
    );
    let writer = &empty[empty.find("data-template=\"writer\"").unwrap()..];
    assert!(writer.contains("Only reads."), "{writer}");
}

#[test]
fn settings_say_where_traces_go_and_the_last_error_never_a_header_value() {
    let mut state = populated(Page::Settings);
    let off = render(state.clone());
    assert!(off.contains("name=\"otlp_url\""), "{off}");
    state.settings.otlp = Some(protocol::control::OtlpSettings {
        url: Some("http://collector:4318/v1/traces".into()),
        header_names: vec!["authorization".into()],
        exported_turns: 3,
        exported_spans: 12,
        pending_sessions: 1,
        last_error: Some("exporting to http://collector:4318/v1/traces failed: refused".into()),
        last_export_at: None,
    });
    let on = render(state.clone());
    let table = row_of(&on, "<th>sending to</th>");
    assert!(table.contains("http://collector:4318/v1/traces"), "{table}");
    assert!(on.contains("<td>authorization</td>"), "{on}");
    assert!(on.contains("3 turns, 12 spans"), "{on}");
    assert!(on.contains("failed: refused"), "{on}");
    state.settings.otlp = Some(protocol::control::OtlpSettings::default());
    assert!(render(state).contains("Not sending traces."));
}

#[test]
fn the_agent_form_with_its_rules_when_editing_and_pending_when_new() {
    let mut state = populated(Page::Agents);
    let rule = |id: &str, agent: Option<&str>, matches: &str, decision, priority| ApprovalRule {
        id: id.into(),
        agent: agent.map(str::to_owned),
        matches: matches.parse().unwrap(),
        decision,
        priority,
    };
    state.settings.rules.extend([
        rule(
            "r2",
            Some("writer"),
            "shell:command=rm *",
            RuleDecision::Deny,
            10,
        ),
        rule("r3", Some("helper"), "fs.write", RuleDecision::Allow, 0),
        rule("r4", Some("writer"), "fs.*", RuleDecision::Ask, 0),
    ]);
    let writer = state.agents.as_ref().unwrap()[1].clone();
    assert_eq!(writer.name, "writer");
    let html = render_part(
        state.clone(),
        Part::AgentEdit(Box::new((writer.clone(), None))),
    );
    // Its own rules, not another agent's nor the global one (counted).
    assert!(
        html.contains("shell:command=rm *") && html.contains("r4"),
        "{html}"
    );
    assert!(
        !html.contains("fs.write") && !html.contains(">shell:command=git *<"),
        "{html}"
    );
    assert!(
        html.contains("1 global rule (for every agent) also applies"),
        "{html}"
    );
    insta::assert_snapshot!("agent_form_editing_rules", html);

    // Changes made in the form wait for Save: a rule to add, and a stored
    // one marked to go (with Keep to take that back).
    let git_allow = || NewRule {
        matches: "shell:command=git *".parse().unwrap(),
        decision: RuleDecision::Allow,
        priority: 5,
    };
    let mut edited = AgentDraft::of(&writer);
    edited.rules = RuleChanges {
        add: vec![git_allow()],
        remove: vec!["r4".into()],
    };
    let html = render_part(
        state.clone(),
        Part::AgentEdit(Box::new((writer, Some(edited)))),
    );
    assert!(
        html.contains("Rules are added and removed when you save."),
        "{html}"
    );
    assert_eq!(html.matches(">added on save<").count(), 1, "{html}");
    assert_eq!(html.matches(">removed on save<").count(), 1, "{html}");
    assert!(html.contains(">Keep<") && html.contains(">r2<"), "{html}");
    insta::assert_snapshot!("agent_form_editing_rule_changes", html);

    let draft = AgentDraft {
        name: "reviewer".into(),
        rules: RuleChanges {
            add: vec![git_allow()],
            remove: Vec::new(),
        },
        ..AgentDraft::default()
    };
    let html = render_part(state, Part::AgentDraft(Box::new(draft)));
    assert!(html.contains(">added on save<"), "{html}");
    assert!(
        !html.contains("r4"),
        "a new agent lists no stored rule: {html}"
    );
    insta::assert_snapshot!("agent_form_new_pending_rule", html);
}

#[test]
fn a_long_session_draws_only_the_rows_in_view() {
    let session = id(9);
    let events: Vec<Event> = (1..=100_000u64)
        .map(|seq| Event {
            session,
            seq,
            at: at(seq),
            kind: EventKind::ToolStartedLegacy {
                call_id: format!("call_{seq}"),
            },
        })
        .collect();
    let state = AppState {
        page: Page::Inspector,
        link: Link::Up(status()),
        inspected: Some((session, events)),
        ..AppState::default()
    };
    let html = render(state);
    let drawn = html.matches("<div class=\"row ").count();
    assert!(
        (20..100).contains(&drawn),
        "{drawn} rows drawn for 100,000 events"
    );
    assert!(html.contains("100000 rows · 100000 events"));
    let below = (100_000 - drawn) as f64 * 22.0;
    assert!(
        html.contains(&format!("height: {below}px")),
        "the space below stands for the rows not drawn"
    );
}

#[test]
fn the_command_palette_lists_pages_agents_and_sessions() {
    insta::assert_snapshot!(
        "palette",
        render_part(populated(Page::Agents), Part::Palette)
    );
}

#[test]
fn the_chat_view_streams_and_asks_inline() {
    let chat = id(4);
    let event = |seq: u64, kind: EventKind| Event {
        session: chat,
        seq,
        at: at(seq),
        kind,
    };
    let mut state = populated(Page::Sessions);
    state.inspected = Some((
        chat,
        vec![
            event(1, EventKind::SessionIdle { error: None }),
            event(
                2,
                EventKind::MessageUser {
                    text: "tidy the notes".into(),
                },
            ),
            event(
                3,
                EventKind::LlmResponseChunk {
                    request_id: "req-1".into(),
                    text: "Looking at them".into(),
                },
            ),
            event(
                4,
                EventKind::ToolRequested {
                    call_id: "c1".into(),
                    tool: "fs.write".into(),
                    arguments: r#"{"path":"notes.md"}"#.into(),
                },
            ),
            event(
                5,
                EventKind::ToolApprovalPending {
                    call_id: "c1".into(),
                    approval: 7,
                    expires_at: at(3600),
                },
            ),
        ],
    ));
    insta::assert_snapshot!("chat_asking", render(state.clone()));

    // A branch's chat says where it goes on from, offers the original, and
    // shows what was said there (dimmed) before its own conversation.
    state.inspected = Some((id(5), vec![event(1, EventKind::SessionCompleted)]));
    state.inherited = Some((
        id(5),
        vec![
            event(
                2,
                EventKind::MessageUser {
                    text: "tidy the notes".into(),
                },
            ),
            event(
                3,
                EventKind::MessageAssistant {
                    text: "Tidied them.".into(),
                },
            ),
        ],
    ));
    let html = render(state);
    assert!(
        html.contains(
            "<div class=\"inherited\">\n<div class=\"msg user\">\n<span class=\"text\">tidy the notes</span>\n\
             <time class=\"when\" title=\"2026-11-18T11:06:42.000Z\">28s ago</time>\n</div>\n\
             <div class=\"msg assistant\">\n<span class=\"text\">Tidied them.</span>\n\
             <time class=\"when\" title=\"2026-11-18T11:06:43.000Z\">27s ago</time>\n</div>\n</div>\n\
             <div class=\"msg notice\">ended: session.completed <time class=\"when\" \
             title=\"2026-11-18T11:06:41.000Z\">29s ago</time>"
        ),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "Goes on from the conversation of {} up to event #30.",
            id(4)
        )) && html.contains(">Inspect it<"),
        "{html}"
    );
}

#[test]
fn a_views_page_is_framed_sandboxed_under_its_policy_and_a_panel_waits_closed() {
    let chat = id(4);
    let event = |seq: u64, kind: EventKind| Event {
        session: chat,
        seq,
        at: at(seq),
        kind,
    };
    let view = |call_id: Option<&str>| {
        EventKind::AppView(Box::new(protocol::app_view::AppView {
            call_id: call_id.map(str::to_owned),
            server: "tracker".into(),
            uri: "ui://tracker/issues".into(),
            title: "Issues".into(),
            html: "<!doctype html><h1>Issues</h1><script>evil()</script>".into(),
            csp: protocol::app_view::AppCsp {
                connect_domains: vec!["https://api.example.com".into(), "* 'unsafe-eval'".into()],
                ..Default::default()
            },
            prefers_border: true,
            result: String::new(),
        }))
    };
    let mut state = populated(Page::Sessions);
    state.inspected = Some((
        chat,
        vec![
            event(1, view(None)),
            event(
                2,
                EventKind::ToolRequested {
                    call_id: "c1".into(),
                    tool: "tracker.list_issues".into(),
                    arguments: "{}".into(),
                },
            ),
            event(3, view(Some("c1"))),
        ],
    ));
    let html = render(state);
    // One frame: the call's; the panel waits behind its button.
    assert_eq!(html.matches("<iframe").count(), 1, "{html}");
    assert!(html.contains(">Open Issues<"), "{html}");
    assert!(html.contains("sandbox=\"allow-scripts\""), "{html}");
    assert!(!html.contains("allow-same-origin"), "{html}");
    assert!(html.contains("data-view=\"call-c1\""), "{html}");
    assert!(
        html.contains("connect-src https://api.example.com;"),
        "the declared origin, and nothing else: {html}"
    );
    assert!(!html.contains("unsafe-eval"), "{html}");
}

#[test]
fn the_settings_forms_empty_with_a_problem_and_an_import_report() {
    let state = populated(Page::Settings);
    insta::assert_snapshot!(
        "settings_mcp_add_empty",
        render_part(state.clone(), Part::McpAdd(McpDraft::default(), false))
    );
    let bad = McpDraft {
        name: "remote".into(),
        kind: McpKind::Http,
        url: "ftp://mcp.example".into(),
        call_timeout: "0".into(),
        ..McpDraft::default()
    };
    let html = render_part(state.clone(), Part::McpAdd(bad, true));
    // Each problem next to its field, and both at once.
    for field in ["mcp_url", "mcp_call_timeout"] {
        assert!(html.contains(&format!(r#"data-for="{field}""#)), "{html}");
    }
    assert!(html.contains(">2 problems"), "{html}");
    insta::assert_snapshot!("settings_mcp_add_problem", html);

    let html = render_part(
        state.clone(),
        Part::McpImport("{\"servers\": 3}".into(), true),
    );
    assert!(html.contains("no &#34;mcpServers&#34; object"), "{html}");
    insta::assert_snapshot!("settings_mcp_import_problem", html);

    let mut reported = state.clone();
    reported.settings.mcp_import = vec![
        ("everything".into(), ImportOutcome::Added),
        (
            "files".into(),
            ImportOutcome::Skipped("MCP server \"files\" exists already".into()),
        ),
        (
            "legacy".into(),
            ImportOutcome::Skipped(
                "the legacy SSE transport is not supported; use streamable HTTP".into(),
            ),
        ),
        ("remote".into(), ImportOutcome::Pending),
    ];
    insta::assert_snapshot!(
        "settings_mcp_import_report",
        render_part(reported, Part::McpImport(String::new(), false))
    );

    let bad = PriceDraft {
        model: "my-model".into(),
        input: "2.5".into(),
        output: "-1".into(),
        ..PriceDraft::default()
    };
    insta::assert_snapshot!(
        "settings_price_problem",
        render_part(state, Part::Pricing(bad))
    );
}

#[test]
fn a_groups_results_table_shows_live_statuses_answers_and_the_preferred_run() {
    use protocol::control::{Group, GroupRun, GroupSummary, StatusCount};
    use ui_dioxus::state::Results;
    let mut state = populated(Page::Runs);
    let in_group = |n: u128| SessionSummary {
        batch: Some(id(1)),
        ..session(n, SessionStatus::Completed, false)
    };
    let sessions = state.sessions.as_mut().unwrap();
    for n in [1, 3] {
        let live = sessions.get(&id(n)).unwrap().status;
        sessions.insert(
            id(n),
            SessionSummary {
                status: live,
                ..in_group(n)
            },
        );
    }
    let outcome = |check: &str, passed: bool| protocol::checks::CheckOutcome {
        check: check.into(),
        passed,
        detail: if passed {
            String::new()
        } else {
            "not JSON: expected value".into()
        },
    };
    let run = |n: u128, model: &str, answer: &str| GroupRun {
        // Run 3 was running when the group was read; it crashed since.
        summary: in_group(n),
        provider: "openai".into(),
        model: model.into(),
        answer: answer.into(),
        answer_cut: false,
        duration_micros: Some(3_000_000),
        checks: if n == 1 {
            vec![outcome("contains \"agree\"", true), outcome("json", false)]
        } else {
            Vec::new()
        },
        changes: (n == 1).then(|| {
            protocol::workspace::Changes::of(vec![protocol::workspace::FileChange {
                path: "src/lib.rs".into(),
                added: 12,
                removed: 3,
                binary: false,
            }])
        }),
    };
    state.results = Some(Results {
        group: id(1),
        shown: Some(Box::new(Group {
            summary: GroupSummary {
                id: id(1),
                name: "Summarise | the reports".into(),
                created_at: at(1),
                runs: 2,
                by_status: vec![StatusCount {
                    status: SessionStatus::Completed,
                    runs: 2,
                }],
                usage: Usage {
                    input_tokens: 4800,
                    output_tokens: 1200,
                    ..Usage::default()
                },
                cost_usd: 0.05,
                unpriced: 0,
                wall_micros: 6_000_000,
                preferred: Some(id(3)),
                caps: Default::default(),
                checks: vec![
                    protocol::checks::Check::Contains("agree".into()),
                    protocol::checks::Check::Json,
                ],
            },
            from: 0,
            runs: vec![
                run(1, "gpt-4.1", "The reports agree.\nMore detail follows."),
                run(3, "gpt-4.1-mini", "<b>Two</b> reports disagree."),
            ],
        })),
    });
    let html = render(state);
    let start = html
        .find("<section class=\"results\"")
        .expect("the table is shown");
    let end = start + html[start..].find("</section>").unwrap();
    let section = &html[start..end];
    assert!(section.contains("2 runs: 2 completed"), "{section}");
    let preferred = row_of(section, "gpt-4.1-mini");
    assert!(preferred.contains("class=\"preferred\"") && preferred.contains("★"));
    assert!(
        preferred.contains("crashed"),
        "the live status: {preferred}"
    );
    assert!(!preferred.contains("<b>"), "answers are text: {preferred}");
    // Checks: how each run did, and pass rates per agent and model.
    let checked = row_of(section, "gpt-4.1</td>");
    assert!(
        checked.contains(">1/2<") && checked.contains("json: failed (not JSON"),
        "{checked}"
    );
    assert!(preferred.contains(">-<"), "not checked yet: {preferred}");
    let rate = row_of(section, "<td>writer · gpt-4.1</td>");
    assert!(rate.contains("0% (0 of 1)"), "{rate}");
    insta::assert_snapshot!("group_results", section);
}

#[test]
fn a_big_groups_results_table_draws_a_hundred_rows_at_a_time() {
    use protocol::control::{Group, GroupRun, GroupSummary};
    use ui_dioxus::state::Results;
    let mut state = populated(Page::Runs);
    let runs: Vec<GroupRun> = (100..250)
        .map(|n| GroupRun {
            summary: SessionSummary {
                batch: Some(id(100)),
                ..session(n, SessionStatus::Completed, false)
            },
            provider: "scripted".into(),
            model: "scripted-1".into(),
            answer: format!("answer {n}"),
            answer_cut: false,
            duration_micros: Some(1_000_000),
            checks: Vec::new(),
            changes: None,
        })
        .collect();
    state.results = Some(Results {
        group: id(100),
        shown: Some(Box::new(Group {
            summary: GroupSummary {
                id: id(100),
                name: "many".into(),
                created_at: at(1),
                runs: 150,
                by_status: Vec::new(),
                usage: Usage::default(),
                cost_usd: 0.0,
                unpriced: 0,
                wall_micros: 0,
                preferred: None,
                caps: Default::default(),
                checks: Vec::new(),
            },
            from: 0,
            runs,
        })),
    });
    let html = render(state);
    let start = html.find("<section class=\"results\"").unwrap();
    let section = &html[start..start + html[start..].find("</section>").unwrap()];
    assert_eq!(
        section.matches("class=\"answer\"").count(),
        100,
        "the first hundred"
    );
    assert!(section.contains("Show more (50 not shown)"), "{section}");
}

#[test]
fn the_setup_wizard_shows_above_the_page_while_open_and_starts_on_connecting_a_model() {
    let mut state = populated(Page::Runs);
    assert!(!render(state.clone()).contains("Set up AI Studio"));
    state.wizard_open = true;
    let html = render(state);
    let wizard = &html[html.find("class=\"wizard\"").expect("the wizard")..];
    let page_title = html.find("class=\"page-title\"").unwrap();
    assert!(
        html.find("class=\"wizard\"").unwrap() < page_title,
        "above the page"
    );
    assert!(
        wizard.contains("aria-current=\"step\">1. Connect a model"),
        "{wizard}"
    );
    for source in ["key", "ollama", "scripted"] {
        assert!(
            wizard.contains(&format!("name=\"wizard_source\" value=\"{source}\"")),
            "{source}: {wizard}"
        );
    }
    assert!(wizard.contains("type=\"password\""), "the key is masked");
    assert!(wizard.contains("disabled"), "Next waits for a proof");
    assert!(wizard.contains(">Skip setup<"), "{wizard}");
}
