//! A session as a Markdown transcript for people (`studio export --format
//! md`, the Inspector's Export): what it was set up with, its figures, the
//! conversation it inherited, then every message, tool call (with its
//! decision and result) and error, in order.
//!
//! Texts are the agent's and the model's, so they are never trusted as
//! Markdown: each goes in a fence longer than any run of backticks in it,
//! and one-line texts in headings are stripped of what Markdown reads.

use std::collections::HashMap;
use std::fmt::Write;

use protocol::control::Setup;
use protocol::event::{Event, EventKind};
use protocol::message::Role;

use crate::stats::stats;

/// The transcript of the session `setup` describes, from its `events`.
pub fn markdown(setup: &Setup, events: &[Event]) -> String {
    let mut out = String::new();
    let summary = &setup.summary;
    let title = if summary.title.is_empty() {
        format!("Session {}", summary.id.short())
    } else {
        summary.title.clone()
    };
    let _ = writeln!(out, "# {}\n", inline(&title));
    let kind = if summary.interactive { "chat" } else { "run" };
    let agent = &setup.agent;
    let _ = writeln!(out, "- Session: `{}` ({kind})", summary.id);
    let _ = writeln!(
        out,
        "- Agent: {} ({} {})",
        inline(&agent.name),
        agent.provider,
        inline(&agent.model)
    );
    let _ = writeln!(out, "- Status: {}", summary.status);
    let _ = writeln!(out, "- Created: {}", summary.created_at);
    if let Some(ended) = summary.ended_at {
        let _ = writeln!(out, "- Ended: {ended}");
    }
    if let Some(label) = &summary.label {
        let _ = writeln!(out, "- Label: {}", inline(label));
    }
    if let Some(parent) = summary.parent {
        let at = summary
            .branched_at
            .map_or(String::new(), |at| format!(" after event #{at}"));
        let _ = writeln!(out, "- Goes on from: `{parent}`{at}");
    }
    figures(&mut out, events);
    if !agent.system_prompt.is_empty() {
        let _ = writeln!(out, "\n## System prompt\n");
        fenced(&mut out, "", &agent.system_prompt);
    }
    if !setup.inherited.is_empty() {
        let _ = writeln!(out, "\n## Before this session\n");
        if setup.inherited_left_out > 0 {
            let _ = writeln!(
                out,
                "({} older messages left out)\n",
                setup.inherited_left_out
            );
        }
        for message in &setup.inherited {
            let who = match message.role {
                Role::User => "You",
                Role::Assistant => "Assistant",
                Role::Tool => "Tool result",
                Role::System => "System",
            };
            let _ = writeln!(out, "**{who}**\n");
            fenced(&mut out, "", &message.content);
        }
    }
    let _ = writeln!(out, "\n## Conversation\n");
    conversation(&mut out, events);
    out
}

/// The figures of `studio inspect`, as a table.
fn figures(out: &mut String, events: &[Event]) {
    let stats = stats(events);
    let _ = writeln!(out, "\n## Figures\n");
    let _ = writeln!(out, "| | |\n|---|---|");
    for (name, value) in stats.lines(events.len() as u64) {
        let _ = writeln!(out, "| {name} | {value} |");
    }
}

/// Messages, calls with their decisions and results, and errors.
fn conversation(out: &mut String, events: &[Event]) {
    let mut models: HashMap<&str, &str> = HashMap::new();
    let mut last_model = "";
    for event in events {
        match &event.kind {
            EventKind::MessageUser { text } => {
                let _ = writeln!(out, "### You · #{} · {}\n", event.seq, event.at);
                fenced(out, "", text);
            }
            EventKind::LlmRequestStarted {
                request_id, model, ..
            } => {
                models.insert(request_id, model);
                last_model = model;
            }
            EventKind::MessageAssistant { text } => {
                let _ = writeln!(
                    out,
                    "### Assistant ({}) · #{} · {}\n",
                    inline(last_model),
                    event.seq,
                    event.at
                );
                fenced(out, "", text);
            }
            EventKind::ToolRequested {
                tool, arguments, ..
            } => {
                let _ = writeln!(out, "### Tool call {} · #{}\n", code_span(tool), event.seq);
                fenced(out, "json", arguments);
            }
            EventKind::ToolApproved { by, .. } => {
                let _ = writeln!(out, "Approved {by}.\n");
            }
            EventKind::ToolDenied { by, reason, .. } => {
                let _ = writeln!(out, "Denied {by}: {}\n", inline(reason));
            }
            EventKind::ToolCompleted {
                output, truncated, ..
            } => {
                let cut = if *truncated { " (cut to the cap)" } else { "" };
                let _ = writeln!(out, "Result{cut}:\n");
                fenced(out, "", output);
            }
            EventKind::ToolError { message, .. } => {
                let _ = writeln!(out, "Tool error:\n");
                fenced(out, "", message);
            }
            EventKind::LlmError {
                request_id,
                message,
                will_retry,
            } => {
                let model = models.get(request_id.as_str()).copied().unwrap_or("?");
                let retry = if *will_retry { " (retried)" } else { "" };
                let _ = writeln!(
                    out,
                    "**Model error** ({}){retry} · #{}\n",
                    inline(model),
                    event.seq
                );
                fenced(out, "", message);
            }
            kind if kind.is_terminal() || kind.is_error() => {
                let _ = writeln!(out, "**{}** · #{} · {}\n", kind.name(), event.seq, event.at);
                let detail = crate::event_fields::fields(kind);
                if detail.as_object().is_some_and(|o| !o.is_empty()) {
                    fenced(out, "json", &detail.to_string());
                }
            }
            _ => {}
        }
    }
}

/// `text` in a fence no backtick run inside it can close.
pub(crate) fn fenced(out: &mut String, lang: &str, text: &str) {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let _ = writeln!(
        out,
        "{fence}{lang}\n{}\n{fence}\n",
        text.trim_end_matches('\n')
    );
}

/// A name as inline code (backticks in it dropped: a code span shows
/// backslashes as they are, so nothing else needs escaping).
fn code_span(name: &str) -> String {
    format!("`{}`", crate::human::first_line(name, 200).replace('`', ""))
}

/// One line of text that Markdown reads as plain text.
pub(crate) fn inline(text: &str) -> String {
    let line = crate::human::first_line(text, 200);
    let mut safe = String::with_capacity(line.len());
    for c in line.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '!'
        ) {
            safe.push('\\');
        }
        safe.push(c);
    }
    safe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fence_outlasts_the_backticks_inside() {
        let mut out = String::new();
        fenced(&mut out, "", "a ```` b");
        assert!(out.starts_with("`````\n"), "{out}");
        let mut out = String::new();
        fenced(&mut out, "json", "{}");
        assert_eq!(out, "```json\n{}\n```\n\n");
    }

    #[test]
    fn inline_text_reads_as_plain_text() {
        assert_eq!(inline("# *hi* [x](y)\nmore"), r"\# \*hi\* \[x\](y)");
    }
}
