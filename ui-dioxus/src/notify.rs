//! Shows [`Notice`]s as desktop notifications (freedesktop, through
//! notify-rust over libdbus). With `STUDIO_UI_NOTIFY_LOG` set, each is
//! appended to that file as a JSON line instead: the tests' sink, since a
//! test display has no notification server.

use std::io::Write as _;

use crate::notices::Notice;

/// The variable naming the tests' sink file.
pub const SINK_VAR: &str = "STUDIO_UI_NOTIFY_LOG";

/// Shows `notice`, or writes it to the sink; a failure is logged (a
/// desktop without a notification server is no error of the app's).
pub fn show(notice: &Notice) {
    if let Some(path) = std::env::var_os(SINK_VAR) {
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| {
                let line = serde_json::to_string(notice).unwrap_or_default();
                writeln!(file, "{line}")
            });
        if let Err(err) = written {
            tracing::warn!(%err, "cannot write the notice to {}", path.to_string_lossy());
        }
        return;
    }
    let shown = notify_rust::Notification::new()
        .appname("AI Studio")
        .summary(&notice.title)
        .body(&notice.body)
        .show();
    if let Err(err) = shown {
        tracing::warn!(%err, "cannot show a desktop notification");
    }
}
