//! The daemon's limits of live runs and of live interactive sessions,
//! changed from Settings; the daemon stores them, so they outlive restarts.

use dioxus::prelude::*;
use protocol::control::{MAX_CONCURRENT_RUNS, MAX_LIVE_CHATS};

use crate::commands::Commands;
use crate::connection::Command;
use crate::fields::TextInput;

/// Which of the daemon's limits a field changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Headless runs live at once.
    Runs,
    /// Interactive sessions live at once.
    Chats,
}

impl Limit {
    fn name(self) -> &'static str {
        match self {
            Limit::Runs => "max concurrent runs",
            Limit::Chats => "max live chats",
        }
    }

    fn max(self) -> u32 {
        match self {
            Limit::Runs => MAX_CONCURRENT_RUNS,
            Limit::Chats => MAX_LIVE_CHATS,
        }
    }

    /// The command that sets this limit to `value`, leaving the other.
    fn command(self, value: u32) -> Command {
        let (runs, chats) = match self {
            Limit::Runs => (Some(value), None),
            Limit::Chats => (None, Some(value)),
        };
        Command::SetLimits {
            max_concurrent_runs: runs,
            max_live_chats: chats,
        }
    }

    /// A new value typed into the form, or why it is not one.
    pub fn parse(self, text: &str) -> Result<u32, String> {
        let max = self.max();
        text.trim()
            .parse()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| format!("{}: a number from 1 to {max}", self.name()))
    }
}

/// A limit in force and a field to change it.
#[component]
pub fn LimitField(limit: Limit, current: u32) -> Element {
    let commands = use_context::<Commands>();
    let mut typed = use_signal(|| current.to_string());
    let mut problem = use_signal(|| None::<String>);
    let note = match limit {
        Limit::Runs => "kept across restarts (a daemon run --max-concurrent flag wins)",
        Limit::Chats => "kept across restarts; opening one more is refused",
    };
    let field = limit.name().replace(' ', "_");
    rsx! {
        span { class: "form inline",
            TextInput { name: "{field}", r#type: "number", min: "1", max: "{limit.max()}",
                value: typed(), oninput: move |text| typed.set(text) }
            button {
                r#type: "button",
                onclick: move |_| match limit.parse(&typed.read()) {
                    Ok(value) => {
                        problem.set(None);
                        commands.send(limit.command(value));
                    }
                    Err(why) => problem.set(Some(why)),
                },
                "Apply"
            }
            span { class: "muted", "in force: {current}; {note}" }
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
        for limit in [Limit::Runs, Limit::Chats] {
            assert_eq!(limit.parse(" 32 "), Ok(32));
            for bad in ["0", "1025", "-1", "many", ""] {
                assert!(limit.parse(bad).is_err(), "{bad}");
            }
        }
        assert!(
            Limit::Chats
                .parse("0")
                .unwrap_err()
                .contains("max live chats")
        );
    }
}
