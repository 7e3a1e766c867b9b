//! The form that starts runs: an agent, a prompt, how many, what their
//! tools may do without asking, and budgets.

use dioxus::prelude::*;
use protocol::approval::{AskPolicy, RuleMatch};
use protocol::control::RunSpec;

use crate::app::Commands;
use crate::connection::Command;
use crate::state::AppState;

/// Most runs one submit starts.
pub const MAX_RUNS: u32 = 500;

/// What the form holds; `spec` builds the run from it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunDraft {
    /// Agent name.
    pub agent: String,
    /// The prompt.
    pub prompt: String,
    /// How many runs.
    pub count: String,
    /// Run-scoped allow rules, `TOOL[:FIELD=GLOB]`, comma-separated.
    pub approve: String,
    /// `deny`, `allow` or `wait[:SECS]`.
    pub ask: String,
    /// Budget: wall-clock seconds per run (empty: the agent's).
    pub max_wall_secs: String,
}

impl Default for RunDraft {
    fn default() -> Self {
        Self {
            agent: String::new(),
            prompt: String::new(),
            count: "1".into(),
            approve: String::new(),
            ask: "deny".into(),
            max_wall_secs: String::new(),
        }
    }
}

impl RunDraft {
    /// The run and how many of it, or what is wrong.
    pub fn spec(&self) -> Result<(RunSpec, u32), String> {
        if self.agent.is_empty() {
            return Err("pick an agent".into());
        }
        if self.prompt.trim().is_empty() {
            return Err("write a prompt".into());
        }
        let count: u32 = self
            .count
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=MAX_RUNS).contains(n))
            .ok_or_else(|| format!("runs: a number from 1 to {MAX_RUNS}"))?;
        let approve = self
            .approve
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|r| r.parse::<RuleMatch>())
            .collect::<Result<Vec<_>, _>>()?;
        let ask: AskPolicy = self.ask.trim().parse()?;
        let mut spec = RunSpec {
            agent: self.agent.clone(),
            prompt: self.prompt.clone(),
            approve,
            ask,
            ..RunSpec::default()
        };
        let wall = self.max_wall_secs.trim();
        if !wall.is_empty() {
            spec.budgets.max_wall_secs = Some(
                wall.parse()
                    .map_err(|_| format!("max wall seconds: {wall:?} is not a number"))?,
            );
        }
        Ok((spec, count))
    }
}

/// The run form.
#[component]
pub fn RunForm() -> Element {
    let commands = use_context::<Commands>();
    let state = use_context::<Signal<AppState>>();
    let agents: Vec<String> = state
        .read()
        .agents
        .iter()
        .flatten()
        .map(|a| a.name.clone())
        .collect();
    let preselected = state.read().run_agent.clone();
    let mut draft = use_signal(|| RunDraft {
        agent: preselected
            .or_else(|| agents.first().cloned())
            .unwrap_or_default(),
        ..RunDraft::default()
    });
    let mut problem = use_signal(|| None::<String>);
    let mut started = use_signal(|| None::<u32>);
    rsx! {
        div { class: "form inline",
            h3 { "New runs" }
            label { "Agent"
                select { name: "agent", value: "{draft.read().agent}",
                    onchange: move |e| draft.write().agent = e.value(),
                    for name in agents {
                        option { value: "{name}", selected: name == draft.read().agent, "{name}" }
                    }
                }
            }
            label { "Prompt"
                textarea { name: "prompt", value: "{draft.read().prompt}", oninput: move |e| draft.write().prompt = e.value() }
            }
            label { "Runs"
                input { name: "count", r#type: "number", min: "1", max: "{MAX_RUNS}", value: "{draft.read().count}",
                    oninput: move |e| draft.write().count = e.value() }
            }
            label { "Allow without asking"
                input { name: "approve", value: "{draft.read().approve}", placeholder: "fs.read, shell:command=git *",
                    oninput: move |e| draft.write().approve = e.value() }
            }
            label { "Other calls"
                select { name: "ask", value: "{draft.read().ask}", onchange: move |e| draft.write().ask = e.value(),
                    option { value: "deny", "deny" }
                    option { value: "allow", "allow" }
                    option { value: "wait:300", "wait for me (5 min)" }
                }
            }
            label { "Max wall time (s)"
                input { name: "max_wall_secs", value: "{draft.read().max_wall_secs}", oninput: move |e| draft.write().max_wall_secs = e.value() }
            }
            if let Some(why) = problem.read().as_ref() {
                p { class: "problem", role: "alert", "{why}" }
            }
            if let Some(count) = *started.read() {
                p { class: "muted", "started {count} run(s)" }
            }
            div { class: "buttons",
                button {
                    r#type: "button",
                    onclick: move |_| match draft.read().spec() {
                        Ok((spec, count)) => {
                            commands.send(Command::Run { spec: Box::new(spec), count });
                            problem.set(None);
                            started.set(Some(count));
                        }
                        Err(why) => problem.set(Some(why)),
                    },
                    "Start"
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_becomes_its_runs_or_says_why_not() {
        let draft = RunDraft {
            agent: "writer".into(),
            prompt: "go".into(),
            count: "20".into(),
            approve: "fs.read, shell:command=git *".into(),
            ask: "wait:60".into(),
            max_wall_secs: "30".into(),
        };
        let (spec, count) = draft.spec().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(count, 20);
        assert_eq!(spec.approve.len(), 2);
        assert_eq!(spec.ask, AskPolicy::Wait { secs: 60 });
        assert_eq!(spec.budgets.max_wall_secs, Some(30));
        for (bad, why) in [
            (
                RunDraft {
                    count: "0".into(),
                    ..draft.clone()
                },
                "runs: a number from 1 to 500",
            ),
            (
                RunDraft {
                    prompt: " ".into(),
                    ..draft.clone()
                },
                "write a prompt",
            ),
            (
                RunDraft {
                    agent: String::new(),
                    ..draft.clone()
                },
                "pick an agent",
            ),
        ] {
            assert_eq!(bad.spec().err().as_deref(), Some(why));
        }
        assert!(
            RunDraft {
                ask: "sometimes".into(),
                ..draft
            }
            .spec()
            .is_err()
        );
    }
}
