//! What the Inspector's detail panel says about the selected event, by
//! kind: a model request's provider, model, parameters, streamed text,
//! usage and errors; a tool call's input, the decision on it and the rule
//! that made it, and its output or error; a message's whole text; what an
//! error says. Plain functions over the log, tested without a window.

use protocol::Timestamp;
use protocol::approval::ApprovalRule;
use protocol::control::Setup;
use protocol::event::{Decider, Event, EventKind};
use protocol::message::{ChatMessage, Role};

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

/// Puts what the session was set up with (the log does not hold it: the
/// daemon's setup does) into a request's sections, where the model read
/// it: the agent's system prompt before the input, and for a branch the
/// conversation it inherited at the start of the input.
pub fn with_setup(sections: &mut Vec<Section>, setup: Option<&Setup>) {
    let Some(setup) = setup else { return };
    let Some(at) = sections.iter().position(|s| s.title.starts_with("Input")) else {
        return;
    };
    if !setup.inherited.is_empty() {
        let mut lines = Vec::new();
        if setup.inherited_left_out > 0 {
            lines.push(format!(
                "({} earlier messages not shown)",
                setup.inherited_left_out
            ));
        }
        lines.extend(setup.inherited.iter().flat_map(message_lines));
        lines.push("(the branch goes on from here)".to_owned());
        let own = std::mem::take(&mut sections[at].body);
        if !own.is_empty() {
            lines.push(own);
        }
        sections[at].body = lines.join("\n");
    }
    let prompt = &setup.agent.system_prompt;
    if !prompt.trim().is_empty() {
        sections.insert(at, Section::new("System prompt", prompt.clone()));
    }
}

/// An inherited message as the input's lines read (the daemon already cut
/// long texts).
fn message_lines(message: &ChatMessage) -> Vec<String> {
    let mut lines = Vec::new();
    let text = &message.content;
    match message.role {
        Role::System => lines.push(format!("system: {text}")),
        Role::User => lines.push(format!("user: {text}")),
        Role::Tool => lines.push(format!("tool: {text}")),
        Role::Assistant => {
            if !text.is_empty() {
                lines.push(format!("assistant: {text}"));
            }
            for call in &message.tool_calls {
                lines.push(format!("assistant → {} {}", call.name, call.arguments));
            }
        }
    }
    lines
}

/// Longest tool output the request's input shows of each call.
const INPUT_OUTPUT_CHARS: usize = 2000;

/// What the model was sent before the request that starts at `events[at]`:
/// the conversation so far, as it reads (the system prompt and a branch's
/// inherited turns are added by [`with_setup`]).
fn conversation_before(events: &[Event], at: usize) -> String {
    let mut lines = Vec::new();
    for event in &events[..at] {
        match &event.kind {
            EventKind::MessageUser { text } => lines.push(format!("user: {text}")),
            EventKind::MessageAssistant { text } => lines.push(format!("assistant: {text}")),
            EventKind::ToolRequested {
                tool, arguments, ..
            } => lines.push(format!("assistant → {tool} {arguments}")),
            EventKind::ToolCompleted { output, .. } => {
                let mut shown: String = output.chars().take(INPUT_OUTPUT_CHARS).collect();
                if shown.len() < output.len() {
                    shown.push('…');
                }
                lines.push(format!("tool: {shown}"));
            }
            EventKind::ToolError { message, .. } => lines.push(format!("tool (error): {message}")),
            EventKind::ToolDenied { reason, .. } => lines.push(format!("tool (denied): {reason}")),
            _ => {}
        }
    }
    lines.join("\n")
}

/// How long the request took, and how long until its first text.
fn timing(events: &[Event], request: &str, started: Timestamp) -> Option<String> {
    let ours = |e: &&Event| match &e.kind {
        EventKind::LlmResponseChunk { request_id, .. }
        | EventKind::LlmResponseCompleted { request_id, .. }
        | EventKind::LlmError { request_id, .. } => request_id == request,
        _ => false,
    };
    let first_token = events
        .iter()
        .filter(ours)
        .find(|e| matches!(e.kind, EventKind::LlmResponseChunk { .. }))
        .map(|e| e.at.0.saturating_sub(started.0));
    let end = events
        .iter()
        .rev()
        .find(ours)?
        .at
        .0
        .saturating_sub(started.0);
    let duration = crate::format::duration;
    Some(match first_token {
        Some(first) => format!(
            "{} in all · first text after {}",
            duration(end),
            duration(first)
        ),
        None => format!("{} in all · no text streamed", duration(end)),
    })
}

/// A model request: what was asked, what streamed back, what it used.
fn request_sections(events: &[Event], request: &str) -> Vec<Section> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (index, event) in events.iter().enumerate() {
        match &event.kind {
            EventKind::LlmRequestStarted {
                request_id,
                provider,
                model,
                params,
            } if request_id == request => {
                // A retry starts the same request again: said once.
                if out.iter().any(|s: &Section| s.title == "Request") {
                    continue;
                }
                out.push(Section::new("Request", format!("{provider} · {model}")));
                if let Some(timing) = timing(events, request, event.at) {
                    out.push(Section::new("Timing", timing));
                }
                out.push(Section::new("Parameters", pretty_json(params)));
                let input = conversation_before(events, index);
                if !input.is_empty() {
                    out.push(Section::new("Input (the conversation so far)", input));
                }
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
mod tests;
