//! The detail panel's sections, by kind of event.

use protocol::Timestamp;
use protocol::approval::RuleDecision;
use protocol::event::{ExitInfo, Usage};

use super::*;
use test_support::events::log;

fn call_log(by: Decider) -> Vec<Event> {
    log(vec![
        EventKind::ToolRequested {
            call_id: "c1".into(),
            tool: "fs.read".into(),
            arguments: r#"{"path":"notes.md"}"#.into(),
        },
        EventKind::ToolApproved {
            call_id: "c1".into(),
            by,
        },
        EventKind::ToolStarted {
            call_id: "c1".into(),
            confinement: protocol::sandbox::Confinement {
                mode: protocol::SafetyMode::ReadOnly,
                confined: true,
                writable: Vec::new(),
                network: protocol::sandbox::Network::Off,
                missing: Vec::new(),
            },
        },
        EventKind::ToolCompleted {
            call_id: "c1".into(),
            output: "hello".into(),
            truncated: true,
        },
    ])
}

fn titles(sections: &[Section]) -> Vec<&'static str> {
    sections.iter().map(|s| s.title).collect()
}

#[test]
fn any_event_of_a_tool_call_shows_its_input_decision_rule_and_output() {
    let rule = ApprovalRule {
        id: "r3".into(),
        agent: Some("writer".into()),
        matches: "fs.read:path=*.md"
            .parse()
            .unwrap_or_else(|e| panic!("{e}")),
        decision: RuleDecision::Allow,
        priority: 5,
    };
    let events = call_log(Decider::Rule { id: "r3".into() });
    for index in 0..events.len() {
        let shown = sections(&events, index, std::slice::from_ref(&rule));
        assert_eq!(
            titles(&shown),
            [
                "Tool",
                "Input",
                "Decision",
                "Sandbox",
                "Output (cut to the cap)"
            ]
        );
        assert_eq!(shown[3].body, "read-only: writes nothing; network off");
        assert!(!shown[3].error);
        assert_eq!(shown[1].body, "{\n  \"path\": \"notes.md\"\n}");
        assert_eq!(
            shown[2].body,
            "approved by rule r3: allow fs.read:path=*.md (agent writer, priority 5)"
        );
    }
    let forgotten = sections(&events, 1, &[]);
    assert_eq!(forgotten[2].body, "approved by rule r3 (since removed)");
    let by_person = sections(&call_log(Decider::User), 1, &[]);
    assert_eq!(by_person[2].body, "approved by the user");
    let always = sections(&call_log(Decider::UserAlways), 1, &[]);
    assert_eq!(
        always[2].body,
        "approved by the user, for the rest of the session"
    );
    let by_id = |id: &str| Decider::Rule { id: id.into() };
    let granted = sections(&call_log(by_id("session:fs.read")), 1, &[]);
    assert_eq!(
        granted[2].body,
        "approved by \"always allow\" for fs.read, given earlier in this session"
    );
    let run_rule = sections(&call_log(by_id("run:fs.*")), 1, &[]);
    assert_eq!(run_rule[2].body, "approved by the run's rule fs.* (allow)");
}

#[test]
fn a_call_that_waited_for_a_person_says_how_long_and_a_denial_says_why_once() {
    let requested = EventKind::ToolRequested {
        call_id: "c1".into(),
        tool: "shell".into(),
        arguments: "{}".into(),
    };
    let pending = EventKind::ToolApprovalPending {
        call_id: "c1".into(),
        approval: 7,
        expires_at: Timestamp(600_000_000),
    };
    let waiting = log(vec![requested.clone(), pending.clone()]);
    assert_eq!(
        sections(&waiting, 1, &[])[2].body,
        "inbox #7: waiting; denied if nobody answers by 1970-01-01T00:10:00.000Z"
    );
    // Answered three seconds later (the log's events are a second apart).
    let mut answered = waiting.clone();
    answered.extend(log(vec![EventKind::ToolApproved {
        call_id: "c1".into(),
        by: Decider::User,
    }]));
    answered[2].at = Timestamp(4_000_000);
    assert_eq!(
        sections(&answered, 1, &[])[2].body,
        "inbox #7: answered after 3.0s"
    );
    let mut refused = log(vec![
        requested.clone(),
        pending.clone(),
        EventKind::ToolDenied {
            call_id: "c1".into(),
            by: Decider::User,
            reason: "denied by the user".into(),
        },
    ]);
    let shown = sections(&refused, 2, &[]);
    assert_eq!(shown[3].body, "denied by the user");
    refused[2].kind = EventKind::ToolDenied {
        call_id: "c1".into(),
        by: Decider::Timeout,
        reason: "nobody answered".into(),
    };
    let shown = sections(&refused, 2, &[]);
    assert_eq!(
        shown[2].body,
        "inbox #7: nobody answered by 1970-01-01T00:10:00.000Z"
    );
    assert_eq!(shown[3].body, "denied unanswered in time: nobody answered");
}

#[test]
fn a_request_shows_its_parameters_text_usage_cost_and_errors() {
    let events = log(vec![
        EventKind::LlmRequestStarted {
            request_id: "q".into(),
            provider: "anthropic".into(),
            model: "claude".into(),
            params: r#"{"max_tokens":64}"#.into(),
        },
        EventKind::LlmError {
            request_id: "q".into(),
            message: "overloaded".into(),
            will_retry: true,
        },
        EventKind::LlmResponseChunk {
            request_id: "q".into(),
            text: "Hi".into(),
        },
        EventKind::LlmResponseCompleted {
            request_id: "q".into(),
            usage: Usage {
                input_tokens: 10,
                output_tokens: 2,
                ..Usage::default()
            },
            finish_reason: "stop".into(),
        },
        EventKind::LlmCost {
            request_id: "q".into(),
            model: "claude".into(),
            usd: None,
            pricing_version: 2,
        },
    ]);
    let shown = sections(&events, 2, &[]);
    assert_eq!(
        titles(&shown),
        [
            "Request",
            "Timing",
            "Parameters",
            "Usage",
            "Cost",
            "Streamed text",
            "Errors"
        ]
    );
    assert_eq!(shown[0].body, "anthropic · claude");
    assert_eq!(shown[1].body, "3.0s in all · first text after 2.0s");
    assert!(
        shown[3].body.starts_with("input 10 (cached 0"),
        "{}",
        shown[3].body
    );
    assert!(shown[4].body.starts_with("no price"), "{}", shown[4].body);
    assert_eq!(shown[5].body, "Hi");
    assert_eq!(shown[6].body, "overloaded (retried)");
    assert!(shown[6].error);
}

/// A setup with this system prompt and inherited conversation.
fn setup(prompt: &str, inherited: Vec<ChatMessage>) -> Setup {
    let mut agent = protocol::AgentConfig::scripted("writer");
    agent.system_prompt = prompt.into();
    Setup {
        summary: test_support::sessions::summary(1),
        agent,
        run: None,
        inherited,
        inherited_left_out: 0,
    }
}

#[test]
fn a_branch_request_shows_what_it_inherited_before_its_own_conversation() {
    let events = log(vec![
        EventKind::MessageUser {
            text: "and now in French".into(),
        },
        EventKind::LlmRequestStarted {
            request_id: "q1".into(),
            provider: "openai".into(),
            model: "gpt-4o".into(),
            params: "{}".into(),
        },
    ]);
    let mut said = ChatMessage::text(Role::Assistant, "");
    said.tool_calls.push(protocol::message::ToolCall {
        id: "c1".into(),
        name: "fs.read".into(),
        arguments: r#"{"path":"a"}"#.into(),
    });
    let mut inherited = setup(
        "",
        vec![
            ChatMessage::text(Role::User, "read a"),
            said,
            ChatMessage {
                tool_call_id: Some("c1".into()),
                ..ChatMessage::text(Role::Tool, "hello")
            },
            ChatMessage::text(Role::Assistant, "It says hello."),
        ],
    );
    inherited.inherited_left_out = 2;
    let mut shown = sections(&events, 1, &[]);
    with_setup(&mut shown, Some(&inherited));
    assert!(
        shown.iter().all(|s| s.title != "System prompt"),
        "an empty prompt is not shown"
    );
    let input = shown
        .iter()
        .find(|s| s.title.starts_with("Input"))
        .map(|s| s.body.as_str());
    assert_eq!(
        input,
        Some(
            "(2 earlier messages not shown)\nuser: read a\nassistant → fs.read {\"path\":\"a\"}\n\
             tool: hello\nassistant: It says hello.\n(the branch goes on from here)\n\
             user: and now in French"
        )
    );
}

#[test]
fn a_request_shows_the_conversation_it_was_sent() {
    let started = |id: &str| EventKind::LlmRequestStarted {
        request_id: id.into(),
        provider: "openai".into(),
        model: "gpt-4o".into(),
        params: "{}".into(),
    };
    let events = log(vec![
        EventKind::MessageUser {
            text: "What is in notes.md?".into(),
        },
        started("q1"),
        EventKind::ToolRequested {
            call_id: "c1".into(),
            tool: "fs.read".into(),
            arguments: r#"{"path":"notes.md"}"#.into(),
        },
        EventKind::ToolCompleted {
            call_id: "c1".into(),
            output: "buy milk".into(),
            truncated: false,
        },
        started("q2"),
    ]);
    let input = |at: usize| {
        sections(&events, at, &[])
            .into_iter()
            .find(|s| s.title.starts_with("Input"))
            .map(|s| s.body)
    };
    assert_eq!(input(1).as_deref(), Some("user: What is in notes.md?"));
    let setup = setup("Be brief.", Vec::new());
    let mut shown = sections(&events, 1, &[]);
    with_setup(&mut shown, Some(&setup));
    let at = shown.iter().position(|s| s.title == "System prompt");
    assert_eq!(
        at.map(|at| shown[at + 1].title),
        Some("Input (the conversation so far)")
    );
    assert_eq!(at.map(|at| shown[at].body.as_str()), Some("Be brief."));
    let mut without = sections(&events, 0, &[]);
    with_setup(&mut without, Some(&setup));
    assert!(
        without.iter().all(|s| s.title != "System prompt"),
        "a message has no input"
    );
    assert_eq!(
        input(4).as_deref(),
        Some(
            "user: What is in notes.md?\nassistant → fs.read {\"path\":\"notes.md\"}\ntool: buy milk"
        )
    );
}

#[test]
fn failures_say_what_failed_and_plain_events_add_nothing() {
    let events = log(vec![
        EventKind::SessionCrashed {
            exit: ExitInfo {
                code: None,
                signal: Some(9),
            },
            detail: "worker killed".into(),
        },
        EventKind::RunQueued,
        EventKind::ToolDenied {
            call_id: "c9".into(),
            by: Decider::RunPolicy,
            reason: "not allowed in this run".into(),
        },
        EventKind::McpToolsSkipped {
            server: "bad".into(),
            tools: vec!["\"has space\": providers accept only ...".into()],
            count: 3,
        },
    ]);
    let crash = sections(&events, 0, &[]);
    assert_eq!(crash[0].body, "worker killed\nsignal 9");
    assert!(crash[0].error);
    assert!(sections(&events, 1, &[]).is_empty());
    let denied = sections(&events, 2, &[]);
    assert_eq!(
        denied[0].body,
        "denied by the run's policy: not allowed in this run"
    );
    let skipped = sections(&events, 3, &[]);
    assert_eq!(
        skipped[0].body,
        "3 of bad's tools:\n\"has space\": providers accept only ...\nand 2 more"
    );
    assert!(skipped[0].error);
    assert!(sections(&events, 9, &[]).is_empty(), "no such event");
}
