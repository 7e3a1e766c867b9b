//! The daemon's limit of live runs, changed from Settings; the daemon
//! stores it, so it outlives restarts.

use dioxus::prelude::*;
use protocol::control::MAX_CONCURRENT_RUNS;

use crate::app::Commands;
use crate::connection::Command;

/// A new limit typed into the form, or why it is not one.
pub fn parse_limit(text: &str) -> Result<u32, String> {
    text.trim()
        .parse()
        .ok()
        .filter(|n| (1..=MAX_CONCURRENT_RUNS).contains(n))
        .ok_or_else(|| format!("max concurrent runs: a number from 1 to {MAX_CONCURRENT_RUNS}"))
}

/// The limit in force and a field to change it.
#[component]
pub fn RunLimit(current: u32) -> Element {
    let commands = use_context::<Commands>();
    let mut typed = use_signal(|| current.to_string());
    let mut problem = use_signal(|| None::<String>);
    rsx! {
        span { class: "form inline",
            input { name: "max_concurrent_runs", r#type: "number", min: "1", max: "{MAX_CONCURRENT_RUNS}",
                value: "{typed}", oninput: move |e| typed.set(e.value()) }
            button {
                r#type: "button",
                onclick: move |_| match parse_limit(&typed.read()) {
                    Ok(max) => {
                        problem.set(None);
                        commands.send(Command::SetMaxConcurrentRuns(max));
                    }
                    Err(why) => problem.set(Some(why)),
                },
                "Apply"
            }
            span { class: "muted", "in force: {current}; kept across restarts (a daemon run --max-concurrent flag wins)" }
            if let Some(why) = problem.read().as_ref() {
                span { class: "problem", role: "alert", "{why}" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_whole_numbers_in_range() {
        assert_eq!(parse_limit(" 32 "), Ok(32));
        for bad in ["0", "1025", "-1", "many", ""] {
            assert!(parse_limit(bad).is_err(), "{bad}");
        }
    }
}
