//! What a worker last wrote to stderr: its lines still go to the daemon's
//! log as they come, and the last few are kept, so a crash's event can say
//! what the worker said as it died (a panic's message, a fatal error).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::task::JoinHandle;

/// Lines kept.
const LINES: usize = 12;
/// Longest line kept, in characters (the log gets it whole).
const LINE_CHARS: usize = 400;

/// The task reading a worker's stderr, and the last lines it read.
pub(crate) struct StderrTail {
    lines: Arc<Mutex<VecDeque<String>>>,
    task: JoinHandle<()>,
}

/// Whether `line` is part of a backtrace (which would push the panic's
/// own message out of the kept lines; the log has it whole).
fn is_backtrace(line: &str) -> bool {
    let line = line.trim_start();
    let frame = line.split_once(':').is_some_and(|(number, _)| {
        !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())
    });
    frame
        || line.starts_with("at ")
        || line == "stack backtrace:"
        || line.starts_with("note: Some details are omitted")
}

impl StderrTail {
    /// Reads `stderr` to its end: every line to this process's stderr (the
    /// daemon's log), the last [`LINES`] kept.
    pub(crate) fn follow(stderr: impl AsyncRead + Unpin + Send + 'static) -> StderrTail {
        Self::follow_into(stderr, std::io::stderr)
    }

    /// As [`StderrTail::follow`], each line written to what `log` gives.
    fn follow_into<W: std::io::Write + 'static>(
        stderr: impl AsyncRead + Unpin + Send + 'static,
        log: fn() -> W,
    ) -> StderrTail {
        let lines = Arc::new(Mutex::new(VecDeque::with_capacity(LINES)));
        let kept = Arc::clone(&lines);
        let task = tokio::spawn(async move {
            let mut reader = BufReader::new(stderr);
            let mut line = Vec::new();
            while let Ok(read) = reader.read_until(b'\n', &mut line).await {
                if read == 0 {
                    break;
                }
                // A line to the log file: small, and never waits on a reader.
                let _ = log().write_all(&line);
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end();
                if !text.is_empty()
                    && !is_backtrace(text)
                    && let Ok(mut kept) = kept.lock()
                {
                    if kept.len() == LINES {
                        kept.pop_front();
                    }
                    kept.push_back(text.chars().take(LINE_CHARS).collect());
                }
                line.clear();
            }
        });
        StderrTail { lines, task }
    }

    /// The last lines, once the worker's stderr is closed (or `wait` has
    /// passed: a child of the worker may hold it open).
    pub(crate) async fn last_lines(self, wait: Duration) -> Vec<String> {
        let _ = tokio::time::timeout(wait, self.task).await;
        self.lines
            .lock()
            .map(|lines| lines.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_last_lines_are_kept_and_long_ones_cut() {
        let mut text = String::new();
        for n in 0..20 {
            text.push_str(&format!("line {n}\n"));
        }
        text.push_str(&"x".repeat(1000));
        text.push_str("\nthread 'main' panicked at src/main.rs:3:5:\nboom\n");
        // A backtrace after the message keeps none of its frames.
        text.push_str("stack backtrace:\n   0: std::panicking::begin\n             at /rustc/x/panicking.rs:1:2\n");
        let tail = StderrTail::follow_into(std::io::Cursor::new(text.into_bytes()), std::io::sink);
        let lines = tail.last_lines(Duration::from_secs(5)).await;
        assert_eq!(lines.len(), LINES);
        assert_eq!(lines[0], "line 11");
        assert_eq!(lines[LINES - 3].chars().count(), LINE_CHARS);
        assert_eq!(
            lines[LINES - 2..],
            ["thread 'main' panicked at src/main.rs:3:5:", "boom"]
        );
    }
}
