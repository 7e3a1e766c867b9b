//! Batch files: one run per JSON line, read by `studio run --batch` and the
//! desktop app's run form alike, so both accept exactly the same files.
//!
//! ```text
//! {"prompt": "Summarise README.md", "label": "readme"}
//! {"prompt": "List the TODOs", "agent": "coder", "approve": ["fs.read"], "ask": "wait:60"}
//! {"prompt": "List the TODOs", "agent": "coder", "model": "gpt-4.1-mini"}
//! ```

use serde::Deserialize;

use protocol::agent::{Budgets, Fault, ScriptPatch};
use protocol::approval::{AskPolicy, RuleMatch};
use protocol::control::{MAX_BATCH_RUNS, RunSpec};

/// One line of a batch file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchLine {
    /// The prompt.
    prompt: String,
    /// Agent, if not the default one.
    #[serde(default)]
    agent: Option<String>,
    /// Another model of the agent's provider, for this run only.
    #[serde(default)]
    model: Option<String>,
    /// Label shown in progress and summaries (default: `line N`).
    #[serde(default)]
    label: Option<String>,
    /// Scripted provider overrides.
    #[serde(default)]
    script: ScriptPatch,
    /// Shortcut for `script.fault`.
    #[serde(default)]
    fault: Option<Fault>,
    /// Budget overrides.
    #[serde(default)]
    budgets: Budgets,
    /// Tool calls this run may make without asking (`TOOL[:FIELD=GLOB]`).
    #[serde(default)]
    approve: Vec<String>,
    /// `deny`, `allow` or `wait[:SECS]`.
    #[serde(default)]
    ask: Option<String>,
    /// Checks of this run: `{"contains": "..."}`, `{"regex": "..."}`,
    /// `"json"`, `{"schema": {...}}` (the schema itself, or its text),
    /// `{"command": "..."}`, `{"judge": "AGENT[:MIN]"}`.
    #[serde(default)]
    checks: Vec<serde_json::Value>,
    /// Where its worker runs: `local`, `slurm` or `slurm:PARTITION`.
    #[serde(default)]
    on: Option<String>,
}

/// Why a batch file cannot run; nothing of it should be started.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BatchFileError {
    /// Some lines are not valid runs (each message starts with `line N:`).
    #[error("{} bad line(s), nothing was started:\n  {}", .0.len(), .0.join("\n  "))]
    BadLines(Vec<String>),
    /// No line holds a run.
    #[error("the batch file has no runs")]
    Empty,
    /// More lines than [`MAX_BATCH_RUNS`].
    #[error("the batch file has {0} runs; at most {MAX_BATCH_RUNS} are allowed")]
    TooMany(usize),
}

/// The runs of a batch file's text, each labelled (`line N` unless the line
/// names one) and given `default_agent` unless the line names one. Every
/// line is checked: one bad line fails the whole file.
pub fn parse_batch(text: &str, default_agent: &str) -> Result<Vec<RunSpec>, BatchFileError> {
    let mut runs = Vec::new();
    let mut errors = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line, number, default_agent) {
            Ok(run) => runs.push(run),
            Err(err) => errors.push(format!("line {number}: {err}")),
        }
    }
    if !errors.is_empty() {
        return Err(BatchFileError::BadLines(errors));
    }
    if runs.is_empty() {
        return Err(BatchFileError::Empty);
    }
    if runs.len() > MAX_BATCH_RUNS {
        return Err(BatchFileError::TooMany(runs.len()));
    }
    Ok(runs)
}

fn parse_line(line: &str, number: usize, default_agent: &str) -> Result<RunSpec, String> {
    let parsed: BatchLine = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let approve = parsed
        .approve
        .iter()
        .map(|a| a.parse::<RuleMatch>())
        .collect::<Result<Vec<_>, _>>()?;
    let ask = parsed
        .ask
        .as_deref()
        .map(str::parse::<AskPolicy>)
        .transpose()?
        .unwrap_or_default();
    let on = parsed
        .on
        .as_deref()
        .map(str::parse::<protocol::launch::Launcher>)
        .transpose()?;
    let agent = parsed.agent.unwrap_or_else(|| default_agent.to_owned());
    if agent.is_empty() {
        return Err("no agent: name one on the line or pick a default".to_owned());
    }
    let mut script = parsed.script;
    if parsed.fault.is_some() {
        script.fault = parsed.fault;
    }
    Ok(RunSpec {
        agent,
        prompt: parsed.prompt,
        label: Some(parsed.label.unwrap_or_else(|| format!("line {number}"))),
        script,
        budgets: parsed.budgets,
        model: parsed.model,
        approve,
        ask,
        checks: parsed
            .checks
            .into_iter()
            .map(check_of)
            .collect::<Result<_, _>>()?,
        on,
    })
}

/// A check as a batch line writes it; a schema may be an object.
fn check_of(value: serde_json::Value) -> Result<protocol::checks::Check, String> {
    if let Some(schema) = value.get("schema").filter(|s| s.is_object()) {
        return Ok(protocol::checks::Check::Schema(schema.to_string()));
    }
    if let Some(judge) = value.get("judge").and_then(serde_json::Value::as_str) {
        return protocol::checks::Check::judge_from(judge);
    }
    serde_json::from_value(value.clone()).map_err(|err| format!("check {value}: {err}"))
}

/// The runs of one prompt over `agents` (none: `base`'s own) × `models`
/// (none: the agent's own) × `attempts`, in that order, each labelled by
/// what sets it apart (after `base`'s own label): `studio run --attempts
/// --agents --models` and the app's run form alike.
pub fn fan_out(
    base: &RunSpec,
    agents: &[String],
    models: &[String],
    attempts: u32,
) -> Vec<RunSpec> {
    let own = [base.agent.clone()];
    let agents = if agents.is_empty() { &own[..] } else { agents };
    let models: Vec<Option<&String>> = if models.is_empty() {
        vec![None]
    } else {
        models.iter().map(Some).collect()
    };
    let mut out = Vec::new();
    for agent in agents {
        for model in &models {
            for attempt in 1..=attempts.max(1) {
                let mut parts = Vec::new();
                if agents.len() > 1 {
                    parts.push(agent.clone());
                }
                if let Some(model) = model {
                    parts.push((*model).clone());
                }
                if attempts > 1 {
                    parts.push(format!("#{attempt}"));
                }
                let label = match &base.label {
                    Some(given) => std::iter::once(given.clone()).chain(parts).collect(),
                    None => parts,
                }
                .join(" · ");
                out.push(RunSpec {
                    agent: agent.clone(),
                    model: model.cloned(),
                    label: Some(label),
                    ..base.clone()
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_labelled_runs_of_the_default_or_named_agent() {
        let text = "{\"prompt\":\"a\"}\n\n{\"prompt\":\"b\",\"agent\":\"coder\",\"label\":\"bee\",\"approve\":[\"fs.read\"],\"ask\":\"wait:60\",\"fault\":\"panic\"}\n";
        let runs = parse_batch(text, "writer").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].agent, "writer");
        assert_eq!(runs[0].label.as_deref(), Some("line 1"));
        assert_eq!(runs[0].ask, AskPolicy::default());
        assert_eq!(runs[1].agent, "coder");
        assert_eq!(runs[1].label.as_deref(), Some("bee"));
        assert_eq!(runs[1].approve.len(), 1);
        assert_eq!(runs[1].ask, AskPolicy::Wait { secs: 60 });
        assert_eq!(runs[1].script.fault, Some(Fault::Panic));
    }

    #[test]
    fn every_bad_line_is_named_and_nothing_runs() {
        let text = "{\"prompt\":\"ok\"}\nnot json\n{\"prompt\":\"x\",\"colour\":\"red\"}\n{\"prompt\":\"y\",\"ask\":\"sometimes\"}\n";
        let Err(BatchFileError::BadLines(lines)) = parse_batch(text, "writer") else {
            panic!("bad lines accepted");
        };
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].starts_with("line 2: "), "{lines:?}");
        assert!(lines[1].contains("colour"), "{lines:?}");
        assert!(lines[2].starts_with("line 4: "), "{lines:?}");
        assert_eq!(parse_batch("\n \n", "writer"), Err(BatchFileError::Empty));
        assert!(matches!(
            parse_batch("{\"prompt\":\"no agent\"}", ""),
            Err(BatchFileError::BadLines(_))
        ));
    }

    #[test]
    fn a_lines_checks_take_a_schema_as_an_object_or_as_text() {
        use protocol::checks::Check;
        let text = r#"{"prompt":"p","checks":["json",{"contains":"a"},{"schema":{"type":"object"}},{"schema":"{\"type\":\"array\"}"},{"command":"make test"},{"judge":"critic:8"}]}"#;
        let runs = parse_batch(text, "writer").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            runs[0].checks,
            [
                Check::Json,
                Check::Contains("a".into()),
                Check::Schema(r#"{"type":"object"}"#.into()),
                Check::Schema(r#"{"type":"array"}"#.into()),
                Check::Command("make test".into()),
                Check::Judge {
                    agent: "critic".into(),
                    pass_at: 8
                },
            ]
        );
        let bad = r#"{"prompt":"p","checks":[{"smell":"good"}]}"#;
        let Err(BatchFileError::BadLines(lines)) = parse_batch(bad, "writer") else {
            panic!("an unknown check accepted");
        };
        assert!(lines[0].contains("smell"), "{lines:?}");
    }

    fn base() -> RunSpec {
        RunSpec {
            agent: "coder".into(),
            prompt: "fix it".into(),
            ..RunSpec::default()
        }
    }

    #[test]
    fn attempts_models_and_agents_multiply_and_say_what_sets_each_apart() {
        let labels = |runs: Vec<RunSpec>| -> Vec<String> {
            runs.into_iter()
                .map(|r| r.label.unwrap_or_default())
                .collect()
        };
        assert_eq!(labels(fan_out(&base(), &[], &[], 3)), ["#1", "#2", "#3"]);
        let models = ["m1".to_owned(), "m2".to_owned()];
        let run = fan_out(&base(), &[], &models, 2);
        assert_eq!(
            labels(run.clone()),
            ["m1 · #1", "m1 · #2", "m2 · #1", "m2 · #2"]
        );
        assert_eq!(run[2].model.as_deref(), Some("m2"));
        assert_eq!(run[2].agent, "coder");
        let agents = ["a".to_owned(), "b".to_owned()];
        let run = fan_out(&base(), &agents, &[], 1);
        assert_eq!(labels(run.clone()), ["a", "b"]);
        assert_eq!(run[1].agent, "b");
        assert_eq!(run[1].model, None);
        let labelled = RunSpec {
            label: Some("try".into()),
            ..base()
        };
        assert_eq!(
            labels(fan_out(&labelled, &[], &[], 2)),
            ["try · #1", "try · #2"]
        );
    }
}
