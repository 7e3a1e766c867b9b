//! What a person chose in the app and expects to find again after a
//! restart (its colours, and whether it notifies), kept in the data dir
//! (`Layout::ui_preferences`) by whichever view set it last: the desktop
//! window or `--web`.
//!
//! A missing file is the defaults; a file that does not parse is left
//! alone and the defaults are used, with a warning in the log: a
//! preference is never worth refusing to open the app.

use std::io;
use std::path::Path;

use protocol::layout::Layout;
use serde::{Deserialize, Serialize};

use dioxus::prelude::{ReadableExt, Signal, WritableExt};

use crate::connection::Target;
use crate::state::{AppState, Theme};

/// The app's preferences.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Preferences {
    /// System, light or dark.
    pub theme: Theme,
    /// Desktop notifications of what needs you (on unless turned off).
    pub notifications: bool,
    /// The setup wizard was finished or skipped: it no longer opens by
    /// itself.
    pub wizard_done: bool,
}

impl Default for Preferences {
    fn default() -> Self {
        Self {
            theme: Theme::default(),
            notifications: true,
            wizard_done: false,
        }
    }
}

/// Why the preferences could not be saved.
#[derive(Debug, thiserror::Error)]
#[error("cannot save the app's preferences to {path}: {source}")]
pub struct SaveError {
    path: String,
    #[source]
    source: io::Error,
}

/// The preferences saved in `layout`'s data dir, or the defaults.
pub fn load(layout: &Layout) -> Preferences {
    let path = layout.ui_preferences();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Preferences::default(),
        Err(err) => {
            tracing::warn!("cannot read {}: {err}; using the defaults", path.display());
            return Preferences::default();
        }
    };
    serde_json::from_str(&text).unwrap_or_else(|err| {
        tracing::warn!(
            "{} does not parse: {err}; using the defaults",
            path.display()
        );
        Preferences::default()
    })
}

/// Saves `preferences` in `layout`'s data dir, whole or not at all.
pub fn save(layout: &Layout, preferences: Preferences) -> Result<(), SaveError> {
    let path = layout.ui_preferences();
    write_atomically(layout.root(), &path, preferences).map_err(|source| SaveError {
        path: path.display().to_string(),
        source,
    })
}

/// Saves the theme, the notifications switch and whether the wizard was
/// done as the store has them (nowhere when a test renders the shell
/// without a `Target`).
pub fn save_from(mut state: Signal<AppState>, target: Option<&Target>) {
    let Some(target) = target else { return };
    let preferences = Preferences {
        theme: state.read().theme,
        notifications: state.read().notify,
        wizard_done: state.read().wizard_done,
    };
    if let Err(err) = save(&target.layout, preferences) {
        state.write().errors.push(err.to_string());
    }
}

/// Writes a temporary file beside `path` (named for this process, so two
/// views saving at once do not share one), then renames it over `path`.
fn write_atomically(root: &Path, path: &Path, preferences: Preferences) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)?;
    let text = serde_json::to_string_pretty(&preferences).map_err(io::Error::other)?;
    let temporary = path.with_extension(format!("json.{}.tmp", std::process::id()));
    std::fs::write(&temporary, text)
        .and_then(|()| std::fs::rename(&temporary, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&temporary);
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_theme_saved_is_the_theme_loaded_and_bad_files_fall_back() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let layout = Layout::new(dir.path().join("not-yet"));
        assert_eq!(load(&layout), Preferences::default(), "no file yet");
        let dark = Preferences {
            theme: Theme::Dark,
            notifications: false,
            wizard_done: true,
        };
        save(&layout, dark).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(load(&layout), dark);
        let text = std::fs::read_to_string(layout.ui_preferences()).unwrap_or_default();
        assert!(text.contains(r#""theme": "dark""#), "{text}");
        // A file from before notifications could be turned off: they are on.
        std::fs::write(layout.ui_preferences(), r#"{"theme": "light"}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(load(&layout).notifications);
        // Nor was the wizard done.
        assert!(!load(&layout).wizard_done);

        std::fs::write(layout.ui_preferences(), "{not json").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(load(&layout), Preferences::default(), "a corrupt file");
        std::fs::write(layout.ui_preferences(), r#"{"theme": "sepia"}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(load(&layout), Preferences::default(), "an unknown theme");
        std::fs::write(layout.ui_preferences(), "{}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(load(&layout), Preferences::default(), "nothing set");

        let blocked = Layout::new(layout.ui_preferences().join("below-a-file"));
        let err = save(&blocked, dark)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with("cannot save the app's preferences to"),
            "{err}"
        );
    }
}
