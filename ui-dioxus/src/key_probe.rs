//! A measuring probe for `scripts/bench`: with `studio-ui
//! --key-latency-log FILE`, the window times each key typed into the
//! command palette (`key_probe.js`, the same script the browser view's
//! bench runs) and appends each round trip to FILE, in milliseconds, one
//! per line. Off unless asked for; it records timings, never keys.

use std::io::Write as _;
use std::path::PathBuf;

use dioxus::prelude::*;

/// The probe's script: a function of the callback that gets each key's
/// round trip.
pub const SCRIPT: &str = include_str!("key_probe.js");

/// In the root context when the probe is on: where the timings go.
#[derive(Clone, Debug)]
pub struct KeyLatencyLog(pub PathBuf);

/// Installs the probe in the page and writes what it reports. Renders
/// nothing.
#[component]
pub fn KeyProbe(log: PathBuf) -> Element {
    use_future(move || {
        let log = log.clone();
        async move {
            // The script stays pending, so its channel stays open.
            let mut probe = document::eval(&format!(
                "({SCRIPT})((ms) => dioxus.send(ms)); await new Promise(() => {{}});"
            ));
            let mut file = match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
            {
                Ok(file) => file,
                Err(err) => {
                    tracing::warn!("the key probe cannot open {}: {err}", log.display());
                    return;
                }
            };
            while let Ok(ms) = probe.recv::<f64>().await {
                if let Err(err) = writeln!(file, "{ms:.3}") {
                    tracing::warn!("the key probe cannot write {}: {err}", log.display());
                    return;
                }
            }
        }
    });
    rsx! {}
}
