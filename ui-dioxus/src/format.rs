//! How values read on screen.

use std::time::Duration;

use protocol::Timestamp;
use protocol::control::SessionSummary;
use protocol::event::{EventKind, SessionStatus};
use studio_client::human;

/// `1 tool`, `2 tools`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `1.5s`, `2m05s`, `1h02m` (as the CLI writes them: `human::duration`).
pub fn duration(micros: u64) -> String {
    human::duration(Duration::from_micros(micros))
}

pub use studio_client::human::ago;

/// How long a session ran (or has run, until `now`).
pub fn elapsed(started: Option<Timestamp>, ended: Option<Timestamp>, now: Timestamp) -> String {
    match started {
        Some(start) => duration(ended.unwrap_or(now).0.saturating_sub(start.0)),
        None => "-".to_owned(),
    }
}

pub use studio_client::human::{bytes, session_cost, session_tokens};

/// What a session is called where a title is wanted: its title, else its
/// label, else what it is.
pub fn session_name(session: &SessionSummary) -> String {
    if !session.title.is_empty() {
        return session.title.clone();
    }
    if let Some(label) = &session.label {
        return label.clone();
    }
    let kind = if session.interactive { "chat" } else { "run" };
    format!("{kind} of {}", session.agent)
}

/// When `then`, still to come, is: `in 4m` (`now` if it has passed).
pub fn until(then: Timestamp, now: Timestamp) -> String {
    match then.0.checked_sub(now.0) {
        Some(left) if left > 0 => format!("in {}", duration(left)),
        _ => "now".to_owned(),
    }
}

/// The CSS class and word of a status.
pub fn status(status: SessionStatus) -> (&'static str, String) {
    let word = format!("{status:?}").to_lowercase();
    let class = match status {
        SessionStatus::Queued => "status queued",
        SessionStatus::Starting => "status starting",
        SessionStatus::Running => "status running",
        SessionStatus::Idle => "status idle",
        SessionStatus::Completed => "status completed",
        SessionStatus::Failed => "status failed",
        SessionStatus::Cancelled => "status cancelled",
        SessionStatus::Killed => "status killed",
        SessionStatus::Crashed => "status crashed",
        SessionStatus::Interrupted => "status interrupted",
        SessionStatus::Corrupt => "status corrupt",
        SessionStatus::Waiting => "status waiting",
    };
    (class, word)
}

/// Longest detail shown in an event row.
const DETAIL: usize = 160;

/// One line about an event, after its name.
pub fn event_detail(kind: &EventKind) -> String {
    let text = match kind {
        EventKind::MessageUser { text } | EventKind::MessageAssistant { text } => text.clone(),
        EventKind::LlmResponseChunk { text, .. } => text.clone(),
        EventKind::ToolRequested {
            tool, arguments, ..
        } => format!("{tool} {arguments}"),
        EventKind::ToolApproved { by, .. } => format!("approved {by}"),
        EventKind::ToolDenied { by, reason, .. } => denied(&by.to_string(), reason),
        EventKind::ToolCompleted { output, .. } => output.clone(),
        EventKind::ToolError { message, .. } | EventKind::LlmError { message, .. } => {
            message.clone()
        }
        EventKind::SessionFailed { error } => error.clone(),
        EventKind::SessionCrashed { detail, .. } => detail.clone(),
        other => studio_client::event_fields::inline(other, DETAIL),
    };
    one_line(&text)
}

/// "denied BY: REASON", without saying it twice when the reason only
/// repeats who decided ("denied by the user", not "denied by the user:
/// denied by the user").
pub fn denied(by: &str, reason: &str) -> String {
    let reason = reason.trim();
    if reason.is_empty() || reason.ends_with(by) {
        format!("denied {by}")
    } else {
        format!("denied {by}: {reason}")
    }
}

/// `text` on one line, cut to a glance.
pub fn one_line(text: &str) -> String {
    let one_line = text.replace('\n', " ⏎ ");
    match one_line.char_indices().nth(DETAIL) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_denial_names_who_and_why_once() {
        use super::denied;
        assert_eq!(
            denied("by the user", "denied by the user"),
            "denied by the user"
        );
        assert_eq!(
            denied("unanswered in time", ""),
            "denied unanswered in time"
        );
        assert_eq!(
            denied("by rule r1", "rm is not allowed here"),
            "denied by rule r1: rm is not allowed here"
        );
    }

    use super::*;

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(duration(1_500_000), "1.5s");
        assert_eq!(duration(125_000_000), "2m05s");
        assert_eq!(duration(3_720_000_000), "1h02m");
    }

    #[test]
    fn ages_read_at_a_glance() {
        let now = Timestamp(100 * 86_400 * 1_000_000);
        let before = |secs: u64| Timestamp(now.0 - secs * 1_000_000);
        assert_eq!(ago(before(12), now), "12s ago");
        assert_eq!(ago(before(185), now), "3m ago");
        assert_eq!(ago(before(7300), now), "2h ago");
        assert_eq!(ago(before(4 * 86_400 + 5), now), "4d ago");
        assert_eq!(
            ago(Timestamp(now.0 + 5), now),
            "0s ago",
            "a clock skew is not negative"
        );
    }

    #[test]
    fn event_details_are_one_short_line() {
        let long = EventKind::MessageAssistant {
            text: format!("a\nb{}", "x".repeat(300)),
        };
        let shown = event_detail(&long);
        assert!(shown.starts_with("a ⏎ b"));
        assert_eq!(shown.chars().count(), DETAIL + 1);
        assert_eq!(
            event_detail(&EventKind::RunStarted { queued_ms: 3 }),
            "queued_ms=3"
        );
    }
}
