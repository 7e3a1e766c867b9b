//! Turning daemon answers into tables, text and JSON, safe for a terminal.
//!
//! Everything the CLI prints goes through [`terminal_safe`] (the `outln!`,
//! `out!` and `errln!` macros; clippy refuses `println!` and friends in this
//! crate): a model, a tool, an MCP server or a file could otherwise send
//! escape sequences that set the window title, clear the screen or write
//! the clipboard (OSC 52).

use std::borrow::Cow;
use std::io::Write;

use comfy_table::presets::NOTHING;
use comfy_table::{Cell, Table};
use protocol::event::{Event, EventKind};
use serde_json::Value;

use super::CliError;

/// Prints a line on stdout with its control characters made visible.
macro_rules! outln {
    () => {{
        $crate::cli::output::write_stdout("\n")
    }};
    ($($arg:tt)*) => {{
        $crate::cli::output::write_stdout(&format!(
            "{}\n",
            $crate::cli::output::terminal_safe(&format!($($arg)*))
        ))
    }};
}

/// Prints on stdout (no newline) with its control characters made visible.
macro_rules! out {
    ($($arg:tt)*) => {{
        $crate::cli::output::write_stdout(&$crate::cli::output::terminal_safe(&format!($($arg)*)))
    }};
}

/// Writes `text` to stdout. When the reader went away (`studio events
/// ID | head`), the CLI ends quietly with success, as `head` asked,
/// instead of panicking about a broken pipe; what the daemon records is
/// unaffected.
pub(crate) fn write_stdout(text: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout.write_all(text.as_bytes())
        && err.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// Prints a line on stderr with its control characters made visible.
macro_rules! errln {
    ($($arg:tt)*) => {{
        #[allow(clippy::disallowed_macros)]
        {
            eprintln!("{}", $crate::cli::output::terminal_safe(&format!($($arg)*)))
        }
    }};
}

/// `text` with every control character but newline and tab written out
/// (`\x1b`, `\u{9b}`), so printing it cannot drive the terminal. A CR
/// before a newline is dropped; any other CR is shown.
pub(crate) fn terminal_safe(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            c if unsafe_char(c) && (c as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// One JSON value as text with no control character in it: serde escapes
/// C0 controls in strings; DEL and C1 controls are escaped here (still
/// valid JSON, the same value).
pub(crate) fn safe_json(value: &Value) -> String {
    let text = value.to_string();
    if !text.chars().any(char::is_control) {
        return text;
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                format!("\\u{:04x}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Prints one JSON value on its own line.
pub(crate) fn print_json(value: &Value) {
    outln!("{}", safe_json(value));
}

/// Prints a chunk of a streamed answer at once; returns whether it left
/// the line open.
pub(crate) fn print_chunk(text: &str) -> bool {
    write_stdout(&terminal_safe(text));
    if let Err(err) = std::io::stdout().flush()
        && err.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
    !text.ends_with('\n')
}

/// The line shown when a streamed answer broke off and is asked for again
/// (the text so far stays on screen; the new attempt starts over).
pub(crate) fn retry_line(message: &str) -> String {
    format!("[the answer broke off ({message}); asking again, from the start]")
}

/// Longest tool argument or output text shown inline in a chat.
const SHOWN: usize = 200;

/// `text` on one line, cut to [`SHOWN`] characters.
pub(crate) fn shorten(text: &str) -> String {
    let one_line = text.replace('\n', " ⏎ ");
    match one_line.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

/// A borderless table with the given header.
/// Asks `question` on the terminal; whether the answer was yes.
pub(crate) fn agreed(question: &str) -> Result<bool, CliError> {
    use std::io::BufRead;
    errln!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::msg(format!("cannot read the answer: {e}")))?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

pub(crate) fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_preset(NOTHING);
    table.set_header(header.iter().map(Cell::new));
    table
}

pub(crate) use studio_client::human::{bytes, duration};

pub(crate) use studio_client::export::{event_json, session_duration, session_json};

/// One event as a line of text: `seq  time  name  key=value ...`.
pub(crate) fn event_line(event: &Event) -> String {
    let line = format!(
        "{:>6}  {}  {:<24} {}",
        event.seq,
        event.at,
        event.kind.name(),
        studio_client::event_fields::inline(&event.kind, 60)
    );
    line.trim_end().to_owned()
}

/// "crashed: worker exited with code 101", "killed (user)".
pub(crate) fn describe_end(kind: &EventKind) -> String {
    match kind {
        EventKind::SessionCompleted => "completed".to_owned(),
        EventKind::SessionFailed { error } => format!("failed: {error}"),
        EventKind::SessionCancelled { reason, forced } => {
            format!(
                "cancelled ({}{})",
                reason_word(*reason),
                if *forced { ", forced" } else { "" }
            )
        }
        EventKind::SessionKilled { reason } => format!("killed ({})", reason_word(*reason)),
        EventKind::SessionCrashed { detail, .. } => format!("crashed: {detail}"),
        EventKind::SessionInterrupted => "interrupted (the daemon stopped)".to_owned(),
        other => other.name().to_owned(),
    }
}

fn reason_word(reason: protocol::event::StopReason) -> &'static str {
    match reason {
        protocol::event::StopReason::User => "by request",
        protocol::event::StopReason::Budget => "budget exceeded",
        protocol::event::StopReason::Shutdown => "daemon shutdown",
        protocol::event::StopReason::Cluster => "by the cluster",
    }
}

#[cfg(test)]
mod tests {
    use protocol::event::EventKind;
    use protocol::{SessionId, Timestamp};
    use serde_json::json;

    use super::*;

    fn event(kind: EventKind) -> Event {
        Event {
            session: SessionId::from_u128(1),
            seq: 3,
            at: Timestamp(1_700_000_000_000_000),
            kind,
        }
    }

    #[test]
    fn control_characters_are_written_out_but_lines_and_tabs_kept() {
        assert_eq!(terminal_safe("a\tb\nc"), "a\tb\nc");
        assert_eq!(terminal_safe("a\r\nb\rc"), "a\nb\\x0dc");
        assert_eq!(terminal_safe("\x1b]52;c;eA==\x07"), "\\x1b]52;c;eA==\\x07");
        assert_eq!(terminal_safe("\u{9b}2J\x7f"), "\\u{9b}2J\\x7f");
        let json = safe_json(&json!({"text": "\u{9b}\x1b"}));
        assert_eq!(json, r#"{"text":"\u009b\u001b"}"#);
        assert_eq!(
            serde_json::from_str::<Value>(&json).unwrap()["text"],
            "\u{9b}\x1b"
        );
    }

    #[test]
    fn event_json_has_a_flat_data_object() {
        let value = event_json(&event(EventKind::LlmResponseChunk {
            request_id: "req-1".into(),
            text: "hi".into(),
        }));
        assert_eq!(
            value,
            json!({
                "session": "00000000-0000-0000-0000-000000000001",
                "seq": 3,
                "at": "2023-11-14T22:13:20.000Z",
                "name": "llm.response.chunk",
                "data": {"request_id": "req-1", "text": "hi"},
            })
        );
        assert_eq!(
            event_json(&event(EventKind::SessionCompleted))["data"],
            json!({})
        );
    }

    #[test]
    fn event_lines_show_fields_clipped() {
        let line = event_line(&event(EventKind::MessageUser {
            text: "x".repeat(100),
        }));
        assert!(
            line.starts_with("     3  2023-11-14T22:13:20.000Z  message.user"),
            "{line}"
        );
        assert!(line.ends_with("…\""), "{line}");
    }

    #[test]
    fn long_or_multiline_text_is_shortened_on_one_line() {
        assert_eq!(shorten("a\nb"), "a ⏎ b");
        let long = "é".repeat(SHOWN + 5);
        let shown = shorten(&long);
        assert_eq!(shown.chars().count(), SHOWN + 1);
        assert!(shown.ends_with('…'));
    }
}
