//! The built-in tools: `shell`, `fs.*` and `fetch`.
//!
//! Which ones a model is offered follows the agent's `tools` list and its
//! safety mode ([`offered`]); a call is only ever run after the daemon
//! approved it (`agent::tool_call`). Every tool works in the agent's
//! workspace, caps its output, and reports failures as text for the model.

mod capped;
mod fetch;
mod fs;
mod shell;

use std::path::PathBuf;

use protocol::agent::{AgentConfig, SafetyMode};
use protocol::sandbox::{Confinement, Network};
use protocol::worker::StartTurn;

use crate::sandbox::Policy;
use protocol::worker::ToolSpec;
use serde_json::{Value, json};

pub use capped::Capped;

/// The name of every built-in tool, whatever an agent enables: names an
/// MCP tool may not take.
pub fn all_names() -> Vec<String> {
    let mut every = AgentConfig::scripted("every tool");
    every.tools = protocol::agent::BUILTIN_TOOLS.map(str::to_owned).to_vec();
    every.safety = SafetyMode::Full;
    offered(&every).into_iter().map(|t| t.name).collect()
}

/// Most bytes of output a tool hands back (head and tail kept).
pub const OUTPUT_CAP: usize = 64 * 1024;

/// What a tool returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// Text for the model.
    pub text: String,
    /// Whether it was cut to [`OUTPUT_CAP`].
    pub truncated: bool,
}

impl Output {
    fn text(text: impl Into<String>) -> Output {
        Output {
            text: text.into(),
            truncated: false,
        }
    }
}

/// Where and how tools run for one session.
#[derive(Clone, Debug)]
pub struct Context {
    /// The workspace root (canonical).
    pub root: PathBuf,
    /// The agent's safety mode.
    pub safety: SafetyMode,
    /// How its commands are confined.
    pub sandbox: Policy,
    /// Local or private hosts `fetch` may reach (`sandbox.private_hosts`).
    pub private_hosts: Vec<String>,
}

impl Context {
    /// The context of a turn, whose workspace the daemon has resolved.
    pub fn for_turn(start: &StartTurn) -> Result<Context, String> {
        let agent = &start.agent;
        let dir = agent
            .workspace
            .as_deref()
            .ok_or("the agent has no workspace")?;
        let root = std::fs::canonicalize(dir).map_err(|e| format!("workspace {dir}: {e}"))?;
        let sandbox = Policy::new(agent, start.session, &root, start.sandbox_support);
        Ok(Context {
            root,
            safety: agent.safety,
            sandbox,
            private_hosts: agent.sandbox.private_hosts.clone(),
        })
    }

    /// A context in `root` for unit tests: commands run unconfined (the
    /// sandbox needs the `studio-worker` binary; the integration tests
    /// cover it), file tools confined as `safety` says.
    #[cfg(test)]
    pub(crate) fn for_tests(root: PathBuf, safety: SafetyMode) -> Context {
        let mut agent = AgentConfig::scripted("test");
        agent.safety = SafetyMode::Full;
        let sandbox = Policy::new(
            &agent,
            protocol::SessionId::new(),
            &root,
            Default::default(),
        );
        Context {
            root,
            safety,
            sandbox,
            private_hosts: Vec::new(),
        }
    }

    /// What a call of the built-in tool `name` may touch: a command its
    /// sandbox; a file tool the workspace; `fetch` the network only.
    pub fn confinement(&self, name: &str) -> Confinement {
        if name == "shell" {
            return self.sandbox.confinement();
        }
        let unconfined = self.safety == SafetyMode::Full;
        let writes = matches!(name, "fs.write" | "fs.edit");
        Confinement {
            mode: self.safety,
            confined: !unconfined,
            writable: if writes && !unconfined {
                vec![self.root.display().to_string()]
            } else {
                Vec::new()
            },
            network: if name == "fetch" || unconfined {
                Network::On
            } else {
                Network::Off
            },
            missing: Vec::new(),
        }
    }
}

fn spec(name: &str, description: &str, parameters: Value) -> ToolSpec {
    ToolSpec {
        name: name.to_owned(),
        description: description.to_owned(),
        parameters: parameters.to_string(),
    }
}

/// The built-in tools offered to `agent`'s model: those it lists that its
/// safety mode allows.
pub fn offered(agent: &AgentConfig) -> Vec<ToolSpec> {
    let listed = |group: &str| agent.tools.iter().any(|t| t == group);
    let writes = agent.safety != SafetyMode::ReadOnly;
    let mut out = Vec::new();
    if listed("fs") {
        out.push(spec(
            "fs.read",
            "Read a text file in the workspace.",
            json!({"type":"object","properties":{"path":{"type":"string","description":"path relative to the workspace"},"offset":{"type":"integer","description":"first line, from 1"},"limit":{"type":"integer","description":"most lines"}},"required":["path"]}),
        ));
        out.push(spec(
            "fs.list",
            "List a directory of the workspace.",
            json!({"type":"object","properties":{"path":{"type":"string","description":"directory relative to the workspace (default: the workspace)"}}}),
        ));
        out.push(spec(
            "fs.search",
            "Find files by glob, optionally only lines containing a text.",
            json!({"type":"object","properties":{"glob":{"type":"string","description":"e.g. src/**/*.rs (default: every file)"},"contains":{"type":"string"}}}),
        ));
        if writes {
            out.push(spec(
                "fs.write",
                "Write a whole file in the workspace, creating directories as needed.",
                json!({"type":"object","properties":{"path":{"type":"string"},"content":{"type":"string"}},"required":["path","content"]}),
            ));
            out.push(spec(
                "fs.edit",
                "Replace one unique span of text in a file of the workspace.",
                json!({"type":"object","properties":{"path":{"type":"string"},"old":{"type":"string","description":"text that occurs exactly once"},"new":{"type":"string"}},"required":["path","old","new"]}),
            ));
        }
    }
    if listed("shell") && writes {
        out.push(spec(
            "shell",
            "Run a shell command in the workspace.",
            json!({"type":"object","properties":{"command":{"type":"string"},"timeout_secs":{"type":"integer","description":"default 120, at most 600"}},"required":["command"]}),
        ));
    }
    if listed("fetch") {
        out.push(spec(
            "fetch",
            "GET a URL; HTML comes back as readable text.",
            json!({"type":"object","properties":{"url":{"type":"string"}},"required":["url"]}),
        ));
    }
    out
}

/// Runs an approved call of a built-in tool. `Err` is a message for the
/// model (and the `tool.error` event).
pub async fn run(name: &str, arguments: &str, context: &Context) -> Result<Output, String> {
    let args: Value =
        serde_json::from_str(arguments).map_err(|e| format!("the arguments are not JSON: {e}"))?;
    let text = |key: &str| args.get(key).and_then(Value::as_str);
    let required = |key: &str| text(key).ok_or_else(|| format!("missing string argument {key:?}"));
    let number = |key: &str| args.get(key).and_then(Value::as_u64);
    match name {
        "shell" if context.safety != SafetyMode::ReadOnly => {
            shell::run(context, required("command")?, number("timeout_secs")).await
        }
        "fetch" => fetch::get(required("url")?, &context.private_hosts).await,
        _ if name.starts_with("fs.") => {
            // Off the runtime: a huge tree or a slow disk must not hold up
            // the worker's events, nor a Cancel (which drops this future,
            // and so stops a walk at its next entry).
            let stop = fs::Stop::default();
            let _cancel = StopWhenDropped(stop.clone());
            let (name, context) = (name.to_owned(), context.clone());
            tokio::task::spawn_blocking(move || run_fs(&name, &args, &context, &stop))
                .await
                .map_err(|err| format!("the file tool failed: {err}"))?
        }
        _ => Err(format!("there is no tool named {name:?}")),
    }
}

/// Sets its [`fs::Stop`] when dropped.
struct StopWhenDropped(fs::Stop);

impl Drop for StopWhenDropped {
    fn drop(&mut self) {
        self.0.set();
    }
}

/// Runs a file tool (blocking).
fn run_fs(name: &str, args: &Value, context: &Context, stop: &fs::Stop) -> Result<Output, String> {
    let text = |key: &str| args.get(key).and_then(Value::as_str);
    let required = |key: &str| text(key).ok_or_else(|| format!("missing string argument {key:?}"));
    let number = |key: &str| args.get(key).and_then(Value::as_u64);
    let writes = context.safety != SafetyMode::ReadOnly;
    match name {
        "fs.read" => fs::read(
            context,
            required("path")?,
            number("offset"),
            number("limit"),
        ),
        "fs.list" => fs::list(context, text("path").unwrap_or(".")),
        "fs.search" => fs::search(
            context,
            text("glob").unwrap_or("**/*"),
            text("contains"),
            stop,
        ),
        "fs.write" if writes => fs::write(context, required("path")?, required("content")?),
        "fs.edit" if writes => fs::edit(
            context,
            required("path")?,
            required("old")?,
            required("new")?,
        ),
        _ => Err(format!("there is no tool named {name:?}")),
    }
}
