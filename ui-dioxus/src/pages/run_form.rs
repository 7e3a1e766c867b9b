//! The form that starts runs as one group: an agent (or several to
//! compare), a prompt (or a batch file), how many of each, on which models,
//! how many at once, what their tools may do without asking, and budgets.

use dioxus::prelude::*;
use protocol::approval::{AskPolicy, RuleMatch};
use protocol::caps::SpendCaps;
use protocol::control::RunSpec;
use studio_client::batch::{fan_out, parse_batch};

use super::budgets::{BudgetDraft, BudgetInputs};
use super::caps::{CapsDraft, CapsInputs};
use super::checks::{ChecksDraft, ChecksInputs};
use crate::commands::Commands;
use crate::connection::Command;
use crate::fields::{TextArea, TextInput};
use crate::problems::Problems;
use crate::state::AppState;

/// Most runs one submit of a prompt starts (a batch file may hold more).
pub const MAX_RUNS: u32 = 500;

/// What the form holds; `runs` builds the runs from it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunDraft {
    /// Agent name (the default for batch lines that name none).
    pub agent: String,
    /// The prompt.
    pub prompt: String,
    /// How many runs of the prompt (on each agent and model).
    pub count: String,
    /// Agents to compare, comma-separated (empty: `agent` alone).
    pub agents: String,
    /// Models of the agent's provider to compare, comma-separated (empty:
    /// the agent's own).
    pub models: String,
    /// The group's name (empty: the prompt's first line, or the batch
    /// file's name).
    pub name: String,
    /// A batch file (JSON lines, as `studio run --batch` reads) to run
    /// instead of the prompt: a path on the machine running the app.
    pub batch_path: String,
    /// Or the batch's lines pasted in (from a browser, the file may be on
    /// another machine).
    pub batch_text: String,
    /// Most runs of this submit live at once (empty: as many as the daemon allows).
    pub parallel: String,
    /// Run-scoped allow rules, `TOOL[:FIELD=GLOB]`, comma-separated.
    pub approve: String,
    /// `deny`, `allow` or `wait[:SECS]`.
    pub ask: String,
    /// Budgets of each run (empty: the agent's).
    pub budgets: BudgetDraft,
    /// Caps on what the group's runs spend together (empty: none).
    pub caps: CapsDraft,
    /// What each run is scored by.
    pub checks: ChecksDraft,
}

impl Default for RunDraft {
    fn default() -> Self {
        Self {
            agent: String::new(),
            prompt: String::new(),
            count: "1".into(),
            agents: String::new(),
            models: String::new(),
            name: String::new(),
            batch_path: String::new(),
            batch_text: String::new(),
            parallel: String::new(),
            approve: String::new(),
            ask: "deny".into(),
            budgets: BudgetDraft::default(),
            caps: CapsDraft::default(),
            checks: ChecksDraft::default(),
        }
    }
}

impl RunDraft {
    /// Whether the runs come from a batch (a file, or pasted lines).
    pub fn uses_batch(&self) -> bool {
        !self.batch_path.trim().is_empty() || !self.batch_text.trim().is_empty()
    }

    /// The runs, from the prompt or from `batch` (the batch file's text),
    /// with the form's rules, ask policy and wall budget applied to every
    /// run that does not set its own; or what is wrong.
    pub fn runs(&self, batch: Option<&str>) -> Result<Vec<RunSpec>, String> {
        let approve = self
            .approve
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|r| r.parse::<RuleMatch>())
            .collect::<Result<Vec<_>, _>>()?;
        let ask: AskPolicy = self.ask.trim().parse()?;
        let budgets = self.budgets.budgets()?;
        let mut runs = match batch {
            Some(text) => parse_batch(text, &self.agent).map_err(|e| e.to_string())?,
            None => {
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
                let spec = RunSpec {
                    agent: self.agent.clone(),
                    prompt: self.prompt.clone(),
                    ..RunSpec::default()
                };
                let agents = listed(&self.agents);
                let models = listed(&self.models);
                let runs = fan_out(&spec, &agents, &models, count);
                if runs.len() > MAX_RUNS as usize {
                    return Err(format!(
                        "{} runs at once is too many (at most {MAX_RUNS}): fewer runs, agents or models",
                        runs.len()
                    ));
                }
                runs
            }
        };
        for run in &mut runs {
            run.approve.extend(approve.iter().cloned());
            if run.ask == AskPolicy::default() {
                run.ask = ask;
            }
            // A batch line's own limits win over the form's.
            run.budgets = budgets.overridden_by(&run.budgets);
        }
        Ok(runs)
    }

    /// Most runs live at once: the number given, or no limit of its own.
    pub fn parallel(&self) -> Result<u32, String> {
        let parallel = self.parallel.trim();
        if parallel.is_empty() {
            return Ok(u32::MAX);
        }
        parallel
            .parse()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| format!("at once: {parallel:?} is not a number from 1 up"))
    }

    /// The agents Start would run (a batch's are known once it is read).
    pub fn planned_agents(&self) -> Vec<String> {
        let compared = listed(&self.agents);
        if compared.is_empty() {
            vec![self.agent.clone()]
        } else {
            compared
        }
    }

    /// The group's name: the one given, else a batch file's name (else the
    /// daemon names it by the first prompt).
    pub fn group_name(&self) -> String {
        let given = self.name.trim();
        if !given.is_empty() || self.batch_path.trim().is_empty() {
            return given.to_owned();
        }
        std::path::Path::new(self.batch_path.trim())
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Reads the batch (the file the form names, or the pasted lines) and
    /// builds the runs.
    fn submit(&self) -> Result<(Vec<RunSpec>, u32, SpendCaps), String> {
        let parallel = self.parallel()?;
        let caps = self.caps.caps("group cap")?;
        self.checks.checks()?;
        let path = self.batch_path.trim();
        let runs = if !path.is_empty() {
            if !self.batch_text.trim().is_empty() {
                return Err("a batch file or pasted lines, not both".into());
            }
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
            self.runs(Some(&text)).map_err(|e| format!("{path}: {e}"))?
        } else if self.uses_batch() {
            self.runs(Some(&self.batch_text))
                .map_err(|e| format!("pasted batch: {e}"))?
        } else {
            self.runs(None)?
        };
        Ok((runs, parallel, caps))
    }
}

/// The names of a comma-separated list, blanks left out.
fn listed(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The run form.
#[component]
pub fn RunForm() -> Element {
    let commands = use_context::<Commands>();
    let state = use_context::<Signal<AppState>>();
    let agents = state.read().agent_names();
    let preselected = state.read().run_agent.clone();
    let mut draft = use_signal(|| RunDraft {
        agent: preselected
            .or_else(|| agents.first().cloned())
            .unwrap_or_default(),
        ..RunDraft::default()
    });
    let mut problem = use_signal(|| None::<String>);
    // Each budget's problem, shown under it (the rest in `problem`).
    let mut budget_problems = use_signal(Problems::default);
    let mut started = use_signal(|| None::<usize>);
    // Each agent's caps today, for the line under the form.
    use_hook(|| commands.send(Command::Spend));
    // "queued N run(s)" is about the form as it was: a change clears it.
    use_effect(move || {
        let _changed = draft.read();
        started.set(None);
    });
    let batch = draft.read().uses_batch();
    // How many runs Start would queue (a batch is counted when read).
    let planned = if batch {
        Err(())
    } else {
        draft.read().runs(None).map(|runs| runs.len()).map_err(drop)
    };
    // The caps this group would start under.
    let cap_lines = {
        let planned = draft.read().planned_agents();
        let standings: Vec<_> = state
            .read()
            .spending
            .today
            .iter()
            .filter(|s| planned.contains(&s.agent))
            .cloned()
            .collect();
        let group = draft.read().caps.caps("group cap").unwrap_or_default();
        studio_client::caps::lines(&standings, &group)
    };
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
                TextArea { name: "prompt", disabled: batch, value: draft.read().prompt.clone(), oninput: move |text| draft.write().prompt = text }
            }
            label { "Runs"
                TextInput { name: "count", r#type: "number", min: "1", max: "{MAX_RUNS}", disabled: batch, value: draft.read().count.clone(),
                    oninput: move |text| draft.write().count = text }
            }
            label { "Compare agents"
                TextInput { name: "agents", disabled: batch, value: draft.read().agents.clone(), placeholder: "writer, critic (each gets the prompt)",
                    oninput: move |text| draft.write().agents = text }
            }
            label { "Compare models"
                TextInput { name: "models", disabled: batch, value: draft.read().models.clone(), placeholder: "gpt-4.1, gpt-4.1-mini (of the agent's provider)",
                    oninput: move |text| draft.write().models = text }
            }
            label { "Group name"
                TextInput { name: "group_name", value: draft.read().name.clone(), placeholder: "the prompt's first line",
                    oninput: move |text| draft.write().name = text }
            }
            label { "or a batch file"
                TextInput { name: "batch_path", value: draft.read().batch_path.clone(), placeholder: "/path/to/runs.jsonl (one JSON run per line)",
                    oninput: move |text| draft.write().batch_path = text }
            }
            label { "or its lines"
                TextArea { name: "batch_text", value: draft.read().batch_text.clone(), placeholder: "{{\"prompt\": \"...\", \"label\": \"...\"}} (one run per line)",
                    oninput: move |text| draft.write().batch_text = text }
            }
            label { "At once"
                TextInput { name: "parallel", r#type: "number", min: "1", value: draft.read().parallel.clone(), placeholder: "daemon limit",
                    oninput: move |text| draft.write().parallel = text }
            }
            label { "Allow without asking"
                TextInput { name: "approve", value: draft.read().approve.clone(), placeholder: "fs.read, shell:command=git *",
                    oninput: move |text| draft.write().approve = text }
            }
            label { "Other calls"
                select { name: "ask", value: "{draft.read().ask}", onchange: move |e| draft.write().ask = e.value(),
                    option { value: "deny", "deny" }
                    option { value: "allow", "allow" }
                    option { value: "wait:300", "wait for me (5 min)" }
                }
            }
            BudgetInputs { draft: draft.read().budgets.clone(), empty: "the agent's",
                problems: budget_problems.read().clone(),
                on_change: move |budgets| draft.write().budgets = budgets }
            CapsInputs { draft: draft.read().caps.clone(), prefix: "group", label: "Group cap",
                on_change: move |caps| draft.write().caps = caps }
            ChecksInputs { draft: draft.read().checks.clone(),
                on_change: move |checks| draft.write().checks = checks }
            if let Some(why) = problem.read().as_ref() {
                p { class: "problem", role: "alert", "{why}" }
            }
            if let Some(count) = *started.read() {
                p { class: "muted", "queued {count} run(s) as one group" }
            } else if let Ok(runs) = planned {
                p { class: "muted planned", "Starts {runs} run(s) as one group." }
            }
            for line in cap_lines {
                p { class: "muted caps", "{line}" }
            }
            div { class: "buttons",
                button {
                    r#type: "button",
                    onclick: move |_| match draft.read().submit() {
                        Ok((runs, parallel, caps)) => {
                            budget_problems.set(Problems::default());
                            started.set(Some(runs.len()));
                            let name = draft.read().group_name();
                            let checks = draft.read().checks.checks().unwrap_or_default();
                            commands.send(Command::Run { runs, parallel, name, caps, checks });
                            problem.set(None);
                        }
                        Err(why) => {
                            let mut found = Problems::default();
                            draft.read().budgets.check(&mut found);
                            budget_problems.set(found);
                            started.set(None);
                            problem.set(Some(why));
                        }
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

    fn draft() -> RunDraft {
        RunDraft {
            agent: "writer".into(),
            prompt: "go".into(),
            count: "20".into(),
            approve: "fs.read, shell:command=git *".into(),
            ask: "wait:60".into(),
            budgets: BudgetDraft {
                max_wall_secs: "30".into(),
                max_tokens: "5000".into(),
                max_cost_usd: "0.25".into(),
                ..BudgetDraft::default()
            },
            ..RunDraft::default()
        }
    }

    #[test]
    fn a_draft_becomes_its_runs_or_says_why_not() {
        let runs = draft().runs(None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(runs.len(), 20);
        assert_eq!(runs[0].approve.len(), 2);
        assert_eq!(runs[0].ask, AskPolicy::Wait { secs: 60 });
        assert_eq!(runs[0].budgets.max_wall_secs, Some(30));
        assert_eq!(runs[0].budgets.max_tokens, Some(5000));
        assert_eq!(runs[0].budgets.max_cost_usd, Some(0.25));
        for (bad, why) in [
            (
                RunDraft {
                    count: "0".into(),
                    ..draft()
                },
                "runs: a number from 1 to 500",
            ),
            (
                RunDraft {
                    prompt: " ".into(),
                    ..draft()
                },
                "write a prompt",
            ),
            (
                RunDraft {
                    agent: String::new(),
                    ..draft()
                },
                "pick an agent",
            ),
            (
                RunDraft {
                    budgets: BudgetDraft {
                        max_cost_usd: "-1".into(),
                        ..BudgetDraft::default()
                    },
                    ..draft()
                },
                "max cost: a number of dollars above 0",
            ),
            (
                RunDraft {
                    budgets: BudgetDraft {
                        max_tokens: "lots".into(),
                        ..BudgetDraft::default()
                    },
                    ..draft()
                },
                "max tokens: \"lots\" is not a number",
            ),
        ] {
            assert_eq!(bad.runs(None).err().as_deref(), Some(why));
        }
        assert!(
            RunDraft {
                ask: "sometimes".into(),
                ..draft()
            }
            .runs(None)
            .is_err()
        );
    }

    #[test]
    fn agents_and_models_to_compare_multiply_the_runs_of_one_group() {
        let matrix = RunDraft {
            count: "2".into(),
            agents: "writer, critic,".into(),
            models: "small,large".into(),
            ..draft()
        };
        let runs = matrix.runs(None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(runs.len(), 8);
        assert_eq!(runs[0].label.as_deref(), Some("writer · small · #1"));
        assert_eq!(runs[7].agent, "critic");
        assert_eq!(runs[7].model.as_deref(), Some("large"));
        assert_eq!(
            runs[7].budgets.max_wall_secs,
            Some(30),
            "the form's budgets"
        );
        let too_many = RunDraft {
            count: "300".into(),
            models: "a,b".into(),
            ..draft()
        };
        let why = too_many.runs(None).unwrap_err();
        assert!(why.starts_with("600 runs at once is too many"), "{why}");
        assert_eq!(matrix.group_name(), "");
        let named = RunDraft {
            batch_path: "/tmp/tries.jsonl".into(),
            ..draft()
        };
        assert_eq!(named.group_name(), "tries.jsonl");
    }

    #[test]
    fn batch_lines_keep_their_own_settings_and_take_the_form_defaults() {
        let text = "{\"prompt\":\"a\"}\n{\"prompt\":\"b\",\"agent\":\"coder\",\"ask\":\"allow\",\"budgets\":{\"max_wall_secs\":5}}\n";
        let runs = draft().runs(Some(text)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(runs.len(), 2, "the count applies to the prompt only");
        assert_eq!(runs[0].agent, "writer");
        assert_eq!(runs[0].prompt, "a");
        assert_eq!(runs[0].ask, AskPolicy::Wait { secs: 60 });
        assert_eq!(runs[0].budgets.max_wall_secs, Some(30));
        assert_eq!(runs[1].agent, "coder");
        assert_eq!(runs[1].ask, AskPolicy::Allow);
        assert_eq!(runs[1].budgets.max_wall_secs, Some(5));
        assert_eq!(runs[1].approve.len(), 2);
        let bad = draft()
            .runs(Some("{\"prompt\":\"a\"}\n{\"promt\":\"b\"}\n"))
            .unwrap_err();
        assert!(bad.contains("line 2: unknown field `promt`"), "{bad}");
        assert!(bad.contains("nothing was started"), "{bad}");
    }

    #[test]
    fn a_batch_file_is_read_when_named_and_parallelism_is_checked() {
        let dir = std::env::temp_dir().join(format!("run-form-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let path = dir.join("runs.jsonl");
        std::fs::write(&path, "{\"prompt\":\"one\"}\n{\"prompt\":\"two\"}\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let from_file = RunDraft {
            batch_path: path.display().to_string(),
            parallel: "3".into(),
            caps: CapsDraft {
                usd: "2.5".into(),
                ..CapsDraft::default()
            },
            ..draft()
        };
        let (runs, parallel, caps) = from_file.submit().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((runs.len(), parallel), (2, 3));
        assert_eq!(caps.max_cost_usd, Some(2.5), "the group's caps go with it");
        let bad_cap = RunDraft {
            caps: CapsDraft {
                runs: "none".into(),
                ..CapsDraft::default()
            },
            ..draft()
        };
        assert_eq!(
            bad_cap.submit().unwrap_err(),
            "group cap (runs): \"none\" is not a number"
        );
        assert_eq!(draft().parallel(), Ok(u32::MAX));
        let missing = RunDraft {
            batch_path: dir.join("nope.jsonl").display().to_string(),
            ..draft()
        };
        assert!(missing.submit().unwrap_err().starts_with("cannot read "));
        let zero = RunDraft {
            parallel: "0".into(),
            ..draft()
        };
        assert!(zero.submit().is_err());
        // Pasted lines work the same, a bad one named; not with a file too.
        let pasted = RunDraft {
            batch_text: "{\"prompt\":\"one\"}\n".into(),
            ..draft()
        };
        assert!(pasted.uses_batch());
        let (runs, _, _) = pasted.submit().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(runs[0].prompt, "one");
        let typo = RunDraft {
            batch_text: "{\"promt\":\"one\"}\n".into(),
            ..draft()
        };
        let why = typo.submit().unwrap_err();
        assert!(
            why.starts_with("pasted batch: ") && why.contains("line 1"),
            "{why}"
        );
        let both = RunDraft {
            batch_path: path.display().to_string(),
            ..pasted
        };
        assert_eq!(
            both.submit().unwrap_err(),
            "a batch file or pasted lines, not both"
        );
        std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    }
}
