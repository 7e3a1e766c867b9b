//! The store's folding, tested without a window.

use protocol::SessionStatus;
use protocol::event::EventKind;

use super::*;

pub(crate) fn summary(created: u64, status: SessionStatus, interactive: bool) -> SessionSummary {
    SessionSummary {
        id: SessionId::new(),
        status,
        events: 3,
        interactive,
        ..test_support::sessions::summary(u128::from(created))
    }
}

#[test]
fn ctrl_digits_map_to_the_six_pages_in_order() {
    let pages: Vec<Option<Page>> = "01234567".chars().map(Page::by_digit).collect();
    assert_eq!(
        pages,
        [
            None,
            Some(Page::Agents),
            Some(Page::Sessions),
            Some(Page::Runs),
            Some(Page::Inspector),
            Some(Page::Settings),
            Some(Page::Compare),
            None
        ]
    );
}

#[test]
fn pushed_changes_update_the_listed_sessions_and_split_runs_from_chats() {
    let mut state = AppState::default();
    let old_run = summary(1, SessionStatus::Completed, false);
    let mut new_run = summary(2, SessionStatus::Running, false);
    let chat = summary(3, SessionStatus::Idle, true);
    state.apply(Update::Sessions(vec![old_run.clone(), new_run.clone()]));
    new_run.status = SessionStatus::Killed;
    state.apply(Update::SessionChanged(Box::new(new_run.clone())));
    state.apply(Update::SessionChanged(Box::new(chat.clone())));
    assert_eq!(
        state.sessions_newest_first(false),
        [&new_run, &old_run],
        "the change replaced the listed row"
    );
    assert_eq!(state.sessions_newest_first(true), [&chat]);
}

#[test]
fn inspected_events_append_without_repeats_and_others_are_dropped() {
    let session = SessionId::new();
    let event = |seq| Event {
        session,
        seq,
        at: Timestamp(seq),
        kind: EventKind::RunQueued,
    };
    let mut state = AppState {
        inspected: Some((session, Vec::new())),
        ..AppState::default()
    };
    state.apply(Update::Events(session, vec![event(1), event(2)]));
    state.apply(Update::Events(session, vec![event(2), event(3)]));
    state.apply(Update::Events(SessionId::new(), vec![event(9)]));
    let seqs: Vec<u64> = state
        .inspected
        .as_ref()
        .map(|(_, events)| events.iter().map(|e| e.seq).collect())
        .unwrap_or_default();
    assert_eq!(seqs, [1, 2, 3]);
}

#[test]
fn mcp_servers_reach_the_screen_without_their_secrets() {
    let server = McpServerConfig {
        name: "github".into(),
        transport: protocol::mcp::McpTransport::Http {
            url: "https://mcp.example/mcp".into(),
            headers: vec![(
                "Authorization".into(),
                protocol::Secret::new("Bearer ghp_secret"),
            )],
        },
        startup_timeout_secs: 60,
        call_timeout_secs: 120,
    };
    let summary = McpSummary::of(&server);
    assert_eq!(
        summary.transport,
        "https://mcp.example/mcp (headers: Authorization)"
    );
    assert!(!format!("{summary:?}").contains("ghp_secret"));
}

#[test]
fn an_import_report_starts_pending_and_each_answer_settles_its_row() {
    let mut state = AppState::default();
    state.apply(Update::McpImportStarted(vec![
        (
            "bad".into(),
            ImportOutcome::Skipped("args is not an array".into()),
        ),
        ("files".into(), ImportOutcome::Pending),
        ("github".into(), ImportOutcome::Pending),
    ]));
    state.apply(Update::McpImported("github".into(), Err("exists".into())));
    state.apply(Update::McpImported("files".into(), Ok(())));
    assert_eq!(
        state.settings.mcp_import,
        [
            (
                "bad".into(),
                ImportOutcome::Skipped("args is not an array".into())
            ),
            ("files".into(), ImportOutcome::Added),
            ("github".into(), ImportOutcome::Skipped("exists".into())),
        ]
    );
    state.apply(Update::McpImportStarted(Vec::new()));
    assert!(
        state.settings.mcp_import.is_empty(),
        "a new import replaces the report"
    );
}

#[test]
fn errors_are_kept_until_dismissed_with_the_newest_few_on_screen() {
    let mut state = AppState::default();
    for n in 0..7 {
        state.apply(Update::Failed(format!("error {n}")));
    }
    assert_eq!(
        state.errors,
        ["error 2", "error 3", "error 4", "error 5", "error 6"]
    );
}

#[test]
fn sessions_are_ticked_to_compare_at_most_four_the_oldest_dropping_off() {
    let ids: Vec<SessionId> = (1..=5).map(SessionId::from_u128).collect();
    let mut comparing = Comparing::default();
    for id in &ids {
        comparing.toggle(*id);
    }
    assert_eq!(comparing.picked, ids[1..]);
    comparing.toggle(ids[2]);
    assert_eq!(comparing.picked, [ids[1], ids[3], ids[4]]);
}

#[test]
fn a_comparison_is_shown_only_for_the_sessions_last_asked() {
    let (a, b, c) = (
        SessionId::from_u128(1),
        SessionId::from_u128(2),
        SessionId::from_u128(3),
    );
    let comparison = |sessions: &[SessionId]| {
        Box::new(protocol::control::Comparison {
            sessions: sessions
                .iter()
                .map(|id| protocol::control::Compared {
                    summary: SessionSummary {
                        id: *id,
                        ..test_support::sessions::summary(1)
                    },
                    figures: protocol::control::Figures::default(),
                    checks: Vec::new(),
                    changes: None,
                })
                .collect(),
            first_divergence: None,
            total_rows: 0,
            from_row: 0,
            rows: Vec::new(),
            approximate: false,
        })
    };
    let mut state = AppState::default();
    state.compare.ask(vec![a, b]);
    state.apply(Update::Compared(comparison(&[a, c])));
    assert!(state.compare.shown.is_none(), "not what was asked");
    state.apply(Update::Compared(comparison(&[a, b])));
    assert!(state.compare.shown.is_some());
    // Asking for others drops it; asking again for the same keeps it
    // until the new answer.
    state.compare.ask(vec![a, b]);
    assert!(state.compare.shown.is_some());
    state.compare.ask(vec![b, a]);
    assert!(state.compare.shown.is_none());
}
