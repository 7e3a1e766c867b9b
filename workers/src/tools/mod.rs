//! The built-in tools: `shell`, `fs.*` and `fetch`.
//!
//! Which ones a model is offered follows the agent's `tools` list and its
//! safety mode ([`offered`]); a call is only ever run after the daemon
//! approved it (`agent::tool_call`). Every tool works in the agent's
//! workspace, caps its output, and reports failures as text for the model.

mod args;
mod capped;
mod fetch;
mod fs;
pub mod setup;
mod shell;

use std::path::PathBuf;

use protocol::agent::{AgentConfig, SafetyMode};
use protocol::sandbox::{Confinement, Network};
use protocol::worker::StartTurn;

use crate::sandbox::Policy;
use args::Call;
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

    /// This context with its commands allowed to write the workspace
    /// (a run's workspace setup).
    pub fn writing_workspace(mut self) -> Context {
        self.sandbox = self.sandbox.writing_workspace();
        self
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
    let call = Call::parse(name, arguments)?;
    if call.writes() && context.safety == SafetyMode::ReadOnly {
        // Never offered to a read-only agent: as if it did not exist.
        return Err(format!("there is no tool named {name:?}"));
    }
    match call {
        Call::Shell(args) => shell::run(context, &args.command, args.timeout_secs).await,
        Call::Fetch(args) => fetch::get(&args.url, &context.private_hosts).await,
        file_call => {
            // Off the runtime: a huge tree or a slow disk must not hold up
            // the worker's events, nor a Cancel (which drops this future,
            // and so stops a walk at its next entry).
            let stop = fs::Stop::default();
            let _cancel = StopWhenDropped(stop.clone());
            let context = context.clone();
            tokio::task::spawn_blocking(move || run_fs(file_call, &context, &stop))
                .await
                .map_err(|err| format!("the file tool failed: {err}"))?
        }
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
fn run_fs(call: Call, context: &Context, stop: &fs::Stop) -> Result<Output, String> {
    match call {
        Call::Read(args) => fs::read(context, &args.path, args.offset, args.limit),
        Call::List(args) => fs::list(context, &args.path),
        Call::Search(args) => fs::search(context, &args.glob, args.contains.as_deref(), stop),
        Call::Write(args) => fs::write(context, &args.path, &args.content),
        Call::Edit(args) => fs::edit(context, &args.path, &args.old, &args.new),
        Call::Shell(_) | Call::Fetch(_) => Err("not a file tool".to_owned()),
    }
}
