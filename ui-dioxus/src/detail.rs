//! What the Inspector's detail panel says about the selected event, by
//! kind: a model request's provider, model, parameters, streamed text,
//! usage and errors; a tool call's input, the decision on it and the rule
//! that made it, and its output or error; a message's whole text; what an
//! error says. Plain functions over the log, tested without a window.

use protocol::approval::ApprovalRule;
use protocol::event::{Decider, Event, EventKind};

use crate::inspect::{Group, group_of, streamed_text};

/// One titled part of the panel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// Its heading.
    pub title: &'static str,
    /// Its text (shown preformatted).
    pub body: String,
    /// Shown as an error.
    pub error: bool,
}

impl Section {
    fn new(title: &'static str, body: impl Into<String>) -> Self {
        Self {
            title,
            body: body.into(),
            error: false,
        }
    }

    fn error(title: &'static str, body: impl Into<String>) -> Self {
        Self {
            error: true,
            ..Self::new(title, body)
        }
    }
}

/// The sections for `events[index]`; `rules` names the rules a decision
/// may cite. Empty for kinds with nothing beyond their raw fields.
pub fn sections(events: &[Event], index: usize, rules: &[ApprovalRule]) -> Vec<Section> {
    let Some(event) = events.get(index) else {
        return Vec::new();
    };
    match group_of(&event.kind) {
        Some(Group::Request(request)) => request_sections(events, request),
        Some(Group::Call(call)) => call_sections(events, call, rules),
        None => single_sections(&event.kind),
    }
}

/// A model request: what was asked, what streamed back, what it used.
fn request_sections(events: &[Event], request: &str) -> Vec<Section> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for event in events {
        match &event.kind {
            EventKind::LlmRequestStarted {
                request_id,
                provider,
                model,
                params,
            } if request_id == request => {
                out.push(Section::new("Request", format!("{provider} · {model}")));
                out.push(Section::new("Parameters", pretty_json(params)));
            }
            EventKind::LlmResponseCompleted {
                request_id,
                usage,
                finish_reason,
            } if request_id == request => {
                out.push(Section::new(
                    "Usage",
                    format!(
                        "input {} (cached {}, cache written {}) · output {} (reasoning {}) · finish: {finish_reason}",
                        usage.input_tokens,
                        usage.cache_read_tokens,
                        usage.cache_creation_tokens,
                        usage.output_tokens,
                        usage.reasoning_tokens
                    ),
                ));
            }
            EventKind::LlmCost {
                request_id,
                model,
                usd,
                pricing_version,
            } if request_id == request => {
                let usd = usd.map_or("no price for this model".to_owned(), |usd| {
                    format!("${usd:.6}")
                });
                out.push(Section::new(
                    "Cost",
                    format!("{usd} ({model}, pricing version {pricing_version})"),
                ));
            }
            EventKind::LlmError {
                request_id,
                message,
                will_retry,
            } if request_id == request => {
                let retry = if *will_retry { " (retried)" } else { "" };
                errors.push(format!("{message}{retry}"));
            }
            _ => {}
        }
    }
    let text = streamed_text(events, request);
    if !text.is_empty() {
        out.push(Section::new("Streamed text", text));
    }
    if !errors.is_empty() {
        out.push(Section::error("Errors", errors.join("\n")));
    }
    out
}

/// A tool call: its input, the decision and who made it, its outcome.
fn call_sections(events: &[Event], call: &str, rules: &[ApprovalRule]) -> Vec<Section> {
    let mut out = Vec::new();
    for event in events {
        match &event.kind {
            EventKind::ToolRequested {
                call_id,
                tool,
                arguments,
            } if call_id == call => {
                out.push(Section::new("Tool", tool.clone()));
                out.push(Section::new("Input", pretty_json(arguments)));
            }
            EventKind::ToolApprovalPending {
                call_id,
                approval,
                expires_at,
            } if call_id == call => {
                let decided = events.iter().find_map(|later| match &later.kind {
                    EventKind::ToolApproved { call_id, by }
                    | EventKind::ToolDenied { call_id, by, .. }
                        if call_id == call =>
                    {
                        Some((later.at, by))
                    }
                    _ => None,
                });
                let body = match decided {
                    Some((_, Decider::Timeout)) => {
                        format!("inbox #{approval}: nobody answered by {expires_at}")
                    }
                    Some((at, _)) => format!(
                        "inbox #{approval}: answered after {}",
                        crate::format::duration(at.0.saturating_sub(event.at.0))
                    ),
                    None => format!(
                        "inbox #{approval}: waiting; denied if nobody answers by {expires_at}"
                    ),
                };
                out.push(Section::new("Waited for a person", body));
            }
            EventKind::ToolApproved { call_id, by } if call_id == call => {
                out.push(Section::new(
                    "Decision",
                    format!("approved {}", decider(by, rules)),
                ));
            }
            EventKind::ToolDenied {
                call_id,
                by,
                reason,
            } if call_id == call => {
                out.push(Section::error(
                    "Decision",
                    crate::format::denied(&decider(by, rules), reason),
                ));
            }
            EventKind::ToolStarted {
                call_id,
                confinement,
            } if call_id == call => {
                let missing = !confinement.missing.is_empty();
                let section = if confinement.confined && !missing {
                    Section::new("Sandbox", confinement.to_string())
                } else {
                    // Unconfined, or less confined than asked: say it loudly.
                    Section::error("Sandbox", confinement.to_string())
                };
                out.push(section);
            }
            EventKind::ToolCompleted {
                call_id,
                output,
                truncated,
            } if call_id == call => {
                let title = if *truncated {
                    "Output (cut to the cap)"
                } else {
                    "Output"
                };
                let output = if output.is_empty() {
                    "(no output)".to_owned()
                } else {
                    output.clone()
                };
                out.push(Section::new(title, output));
            }
            EventKind::ToolError { call_id, message } if call_id == call => {
                out.push(Section::error("Error", message.clone()));
            }
            _ => {}
        }
    }
    out
}

/// Who decided, with the rule spelled out when it is still known.
fn decider(by: &Decider, rules: &[ApprovalRule]) -> String {
    match by {
        Decider::Rule { id } => match rules.iter().find(|r| &r.id == id) {
            Some(rule) => format!(
                "by rule {id}: {} {} ({}, priority {})",
                rule.decision,
                rule.matches,
                rule.agent
                    .as_deref()
                    .map_or("every agent".to_owned(), |a| format!("agent {a}")),
                rule.priority
            ),
            None => match id.split_once(':') {
                Some(("run", matches)) => format!("by the run's rule {matches} (allow)"),
                Some(("session", matches)) => {
                    format!("by \"always allow\" for {matches}, given earlier in this session")
                }
                _ => format!("by rule {id} (since removed)"),
            },
        },
        other => other.to_string(),
    }
}

/// Events that stand alone: messages and failures.
fn single_sections(kind: &EventKind) -> Vec<Section> {
    match kind {
        EventKind::MessageUser { text } | EventKind::MessageAssistant { text } => {
            vec![Section::new("Text", text.clone())]
        }
        EventKind::SessionFailed { error } => vec![Section::error("Error", error.clone())],
        EventKind::SessionIdle { error: Some(error) } => {
            vec![Section::error("The turn failed", error.clone())]
        }
        EventKind::SessionCrashed { exit, detail } => {
            let how = match (exit.code, exit.signal) {
                (Some(code), _) => format!("exit code {code}"),
                (None, Some(signal)) => format!("signal {signal}"),
                (None, None) => "still running when given up on".to_owned(),
            };
            vec![Section::error("Crash", format!("{detail}\n{how}"))]
        }
        EventKind::McpServerFailed { server, message } => {
            vec![Section::error(
                "MCP server failed",
                format!("{server}: {message}"),
            )]
        }
        EventKind::McpToolsSkipped {
            server,
            tools,
            count,
        } => {
            let unlisted = (*count as usize).saturating_sub(tools.len());
            let mut body = format!("{count} of {server}'s tools:\n{}", tools.join("\n"));
            if unlisted > 0 {
                body.push_str(&format!("\nand {unlisted} more"));
            }
            vec![Section::error("MCP tools not offered", body)]
        }
        EventKind::BudgetExceeded {
            budget,
            limit,
            observed,
        } => vec![Section::error(
            "Budget exceeded",
            format!("{budget:?}: limit {limit}, observed {observed}"),
        )],
        _ => Vec::new(),
    }
}

/// JSON text indented, or as it is when it is not JSON.
fn pretty_json(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|value| serde_json::to_string_pretty(&value).ok())
        .unwrap_or_else(|| text.to_owned())
}

#[cfg(test)]
mod tests {
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
                "Parameters",
                "Usage",
                "Cost",
                "Streamed text",
                "Errors"
            ]
        );
        assert_eq!(shown[0].body, "anthropic · claude");
        assert!(
            shown[2].body.starts_with("input 10 (cached 0"),
            "{}",
            shown[2].body
        );
        assert!(shown[3].body.starts_with("no price"), "{}", shown[3].body);
        assert_eq!(shown[4].body, "Hi");
        assert_eq!(shown[5].body, "overloaded (retried)");
        assert!(shown[5].error);
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
}
