//! Saving an export (`Update::Exported`) where the person will find it:
//! served to a browser (`--web`), the browser downloads it (the app runs
//! on the server, which may be another machine); in the desktop window it
//! is written to the downloads folder (`$XDG_DOWNLOAD_DIR`, else
//! `~/Downloads`), whole or not at all, never over
//! another file.

use std::path::{Path, PathBuf};

use dioxus::prelude::*;

use crate::state::{AppState, Exported};

/// Saves each new export once, and says where in the store; `web`: the
/// app is served to a browser.
#[component]
pub fn ExportSaver(web: bool) -> Element {
    let mut state = use_context::<Signal<AppState>>();
    use_effect(move || {
        // Reads the whole state (so any change wakes it): what it does
        // first is cheap, and the export is borrowed, never copied.
        let read = state.read();
        if read.export_saved.is_some() {
            return;
        }
        let Some(exported) = read.exported.as_deref() else {
            return;
        };
        let saved = if web {
            download(exported)
        } else {
            downloads_dir()
                .and_then(|dir| save_new(&dir, exported))
                .map(|path| path.display().to_string())
        };
        drop(read);
        state.write().export_saved = Some(saved);
    });
    rsx! {}
}

/// Hands the text to the browser as a download.
fn download(exported: &Exported) -> Result<String, String> {
    let quoted = |text: &str| serde_json::Value::from(text).to_string();
    document::eval(&format!(
        "const blob = new Blob([{text}], {{ type: {mime} }});
         const a = document.createElement('a');
         a.href = URL.createObjectURL(blob);
         a.download = {name};
         document.body.appendChild(a);
         a.click();
         a.remove();
         setTimeout(() => URL.revokeObjectURL(a.href), 60000);",
        text = quoted(&exported.text),
        mime = quoted(exported.mime),
        name = quoted(&exported.file_name),
    ));
    Ok(format!("downloaded as {}", exported.file_name))
}

/// `$XDG_DOWNLOAD_DIR`, else `~/Downloads` (made if missing).
fn downloads_dir() -> Result<PathBuf, String> {
    let dir = match std::env::var_os("XDG_DOWNLOAD_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME").ok_or("HOME is not set")?;
            Path::new(&home).join("Downloads")
        }
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    Ok(dir)
}

/// Writes `exported` into `dir` under its name, or `NAME-2.EXT`, ... when
/// that is taken: through a temporary file, so a file is never half
/// written, and never over an existing one.
pub fn save_new(dir: &Path, exported: &Exported) -> Result<PathBuf, String> {
    let name = Path::new(&exported.file_name);
    let stem = name.file_stem().unwrap_or_default().to_string_lossy();
    let extension = name.extension().unwrap_or_default().to_string_lossy();
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    std::io::Write::write_all(&mut temp, exported.text.as_bytes())
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    for n in 1..1000 {
        let file = if n == 1 {
            exported.file_name.clone()
        } else {
            format!("{stem}-{n}.{extension}")
        };
        let path = dir.join(file);
        match temp.persist_noclobber(&path) {
            Ok(_) => return Ok(path),
            Err(err) if err.error.kind() == std::io::ErrorKind::AlreadyExists => temp = err.file,
            Err(err) => return Err(format!("cannot write {}: {}", path.display(), err.error)),
        }
    }
    Err(format!("{} has 999 files named {stem}-N", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::SessionId;

    #[test]
    fn an_export_never_replaces_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let exported = |text: &str| Exported {
            from: crate::state::ExportedFrom::Session(SessionId::new()),
            file_name: "session-1a2b3c4d.md".into(),
            mime: "text/markdown",
            text: text.into(),
        };
        let first = save_new(dir.path(), &exported("one")).unwrap();
        let second = save_new(dir.path(), &exported("two")).unwrap();
        assert_eq!(first, dir.path().join("session-1a2b3c4d.md"));
        assert_eq!(second, dir.path().join("session-1a2b3c4d-2.md"));
        assert_eq!(std::fs::read_to_string(first).unwrap(), "one");
        assert_eq!(std::fs::read_to_string(second).unwrap(), "two");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 2, "no temporary file is left");
    }
}
