//! `studio agent create|list|show|rm` (and `export|import`, in
//! `agent_files`).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use protocol::agent::{AgentConfig, Budgets, Fault, ProviderKind, ScriptedToolCall};
use protocol::control::{ControlRequest, ControlResponse};

use super::caps::{DailyCapArgs, positive_dollars};
use super::output::{print_json, table};
use super::{CliError, Ctx};

#[derive(Subcommand, Debug)]
pub(crate) enum AgentCommand {
    /// Create an agent from flags, or from a TOML file with --file.
    Create(Box<CreateArgs>),
    /// List agents.
    List,
    /// Show one agent's configuration (as TOML, or JSON with --json).
    Show {
        /// Agent name.
        name: String,
    },
    /// Remove an agent (its recorded sessions stay).
    Rm {
        /// Agent name.
        name: String,
    },
    /// Write an agent and its own approval rules as a file (TOML or JSON)
    /// to keep or share; `agent import` reads it back.
    Export(super::agent_files::ExportArgs),
    /// Create an agent and its rules from a file `agent export` wrote (or
    /// a template), saying first what it may do beyond reading.
    Import(super::agent_files::ImportArgs),
}

#[derive(Args, Debug)]
pub(crate) struct CreateArgs {
    /// Agent name, used in commands (taken from the file when --file is
    /// given; made from --display-name when left out).
    #[arg(required_unless_present_any = ["file", "display_name"])]
    name: Option<String>,
    /// What people call it, any characters ("Code Helper").
    #[arg(long, value_name = "TEXT")]
    display_name: Option<String>,
    /// Read the whole agent from this TOML file.
    #[arg(long, short, conflicts_with_all = ["provider", "model", "base_url", "system_prompt", "tools", "safety", "workspace", "mcp", "network", "read", "write", "private_host", "on"])]
    file: Option<PathBuf>,
    /// Replace an existing agent of the same name.
    #[arg(long)]
    replace: bool,
    /// Provider: scripted, openai, anthropic, gemini, ollama.
    #[arg(long)]
    provider: Option<ProviderKind>,
    /// Model name.
    #[arg(long)]
    model: Option<String>,
    /// The provider's address, for OpenAI-compatible servers (LM Studio,
    /// vLLM, a proxy).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Send the provider's key to --base-url although it is not the
    /// provider's own host (without it, no key goes there).
    #[arg(long)]
    send_key_to_base_url: bool,
    /// System prompt.
    #[arg(long)]
    system_prompt: Option<String>,
    /// What it is for, in a sentence or two.
    #[arg(long)]
    description: Option<String>,
    /// Sampling temperature, from 0 to 2 [default: the provider's].
    #[arg(long, value_name = "T")]
    temperature: Option<f64>,
    /// Nucleus sampling, above 0 and at most 1 [default: the provider's].
    #[arg(long, value_name = "P")]
    top_p: Option<f64>,
    /// Most tokens one answer may hold [default: the provider's].
    #[arg(long, value_name = "N")]
    max_output_tokens: Option<u32>,
    /// Built-in tools it may use: shell, fs, fetch (comma-separated).
    #[arg(long, value_delimiter = ',')]
    tools: Vec<String>,
    /// MCP servers it uses, by name (comma-separated; see `studio mcp list`).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    mcp: Vec<String>,
    /// What its tools may do: read-only, workspace-write or full.
    #[arg(long)]
    safety: Option<protocol::SafetyMode>,
    /// Directory its tools work in [default: a private one beside the
    /// data dir, never inside it].
    #[arg(long, value_name = "DIR")]
    workspace: Option<std::path::PathBuf>,
    /// Each run works in a workspace of its own made from --workspace: a
    /// git worktree on a branch of its own (from HEAD) in a git
    /// repository, else a copy (see `studio diff`, `studio apply`).
    #[arg(long)]
    workspace_per_run: bool,
    /// With --workspace-per-run: a command run in each run's new
    /// workspace before its turn (`npm ci`), in the agent's sandbox.
    #[arg(long, value_name = "COMMAND", requires = "workspace_per_run")]
    setup: Option<String>,
    /// Whether its commands reach the network: off (default) or on.
    #[arg(long)]
    network: Option<protocol::sandbox::Network>,
    /// A path its commands may also read (repeatable; absolute or ~/).
    #[arg(long, value_name = "PATH")]
    read: Vec<String>,
    /// A path its commands may also write (repeatable; absolute or ~/;
    /// a repository's `.git` named here lets it commit there).
    #[arg(long, value_name = "PATH")]
    write: Vec<String>,
    /// Most processes a session may have at once [default: 512].
    #[arg(long, value_name = "N")]
    max_processes: Option<u32>,
    /// A loopback or private host its `fetch` may reach (repeatable;
    /// HOST or HOST:PORT); every other one is refused.
    #[arg(long, value_name = "HOST[:PORT]")]
    private_host: Vec<String>,
    /// Where its sessions' workers run: local, slurm or slurm:PARTITION
    /// [default: the daemon's --launcher]; `studio run --on` overrides it.
    #[arg(long, value_name = "LAUNCHER")]
    on: Option<protocol::launch::Launcher>,
    #[command(flatten)]
    script: ScriptArgs,
    #[command(flatten)]
    budgets: BudgetArgs,
    #[command(flatten)]
    daily: DailyCapArgs,
}

/// Flags shaping the scripted provider's answer (agent defaults or per run).
#[derive(Args, Debug, Default, Clone)]
pub(crate) struct ScriptArgs {
    /// Scripted: chunks in the answer.
    #[arg(long)]
    pub(crate) chunks: Option<u32>,
    /// Scripted: characters per chunk.
    #[arg(long)]
    pub(crate) chunk_chars: Option<u32>,
    /// Scripted: milliseconds before each chunk.
    #[arg(long)]
    pub(crate) chunk_delay_ms: Option<u32>,
    /// Scripted: misbehave (hang, spin, grow-memory[:MIB/S], panic, abort, exit[:CODE], flood[:N]).
    #[arg(long)]
    pub(crate) fault: Option<Fault>,
    /// Scripted: chunks streamed before the fault strikes.
    #[arg(long)]
    pub(crate) fault_after_chunks: Option<u32>,
    /// Scripted: a fixed answer instead of a derived one.
    #[arg(long)]
    pub(crate) answer: Option<String>,
    /// Scripted: call a tool before answering, `NAME` or `NAME:{json args}` (repeatable).
    #[arg(long = "tool-call", value_name = "NAME[:JSON]", value_parser = parse_tool_call)]
    pub(crate) tool_calls: Vec<ScriptedToolCall>,
}

/// `get_weather` or `get_weather:{"city":"Paris"}`.
fn parse_tool_call(text: &str) -> Result<ScriptedToolCall, String> {
    let (name, arguments) = text.split_once(':').unwrap_or((text, "{}"));
    if name.is_empty() {
        return Err("give a tool name".to_owned());
    }
    serde_json::from_str::<serde_json::Value>(arguments)
        .map_err(|e| format!("arguments of {name} are not JSON: {e}"))?;
    Ok(ScriptedToolCall {
        name: name.to_owned(),
        arguments: arguments.to_owned(),
    })
}

impl ScriptArgs {
    pub(crate) fn patch(&self) -> protocol::agent::ScriptPatch {
        protocol::agent::ScriptPatch {
            answer: self.answer.clone(),
            chunks: self.chunks,
            chunk_chars: self.chunk_chars,
            chunk_delay_ms: self.chunk_delay_ms,
            fault: self.fault,
            fault_after_chunks: self.fault_after_chunks,
            tool_calls: (!self.tool_calls.is_empty()).then(|| self.tool_calls.clone()),
        }
    }
}

/// Budget flags (agent defaults or per run).
#[derive(Args, Debug, Default, Clone)]
pub(crate) struct BudgetArgs {
    /// Budget: wall-clock seconds per session.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_wall_secs: Option<u64>,
    /// Budget: seconds without any event.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_idle_secs: Option<u64>,
    /// Budget: worker memory in MiB (over it the worker is killed).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_memory_mib: Option<u64>,
    /// Budget: model requests per session (a retry counts once).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_turns: Option<u32>,
    /// Budget: input plus output tokens per session.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_tokens: Option<u64>,
    /// Budget: US dollars per session (priced by `studio pricing`).
    #[arg(long, value_parser = positive_dollars)]
    pub(crate) max_cost_usd: Option<f64>,
}

impl BudgetArgs {
    pub(crate) fn budgets(&self) -> Budgets {
        Budgets {
            max_wall_secs: self.max_wall_secs,
            max_idle_secs: self.max_idle_secs,
            max_memory_mib: self.max_memory_mib,
            max_turns: self.max_turns,
            max_tokens: self.max_tokens,
            max_cost_usd: self.max_cost_usd,
        }
    }
}

pub(crate) async fn execute(cmd: AgentCommand, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    match cmd {
        AgentCommand::Create(args) => {
            let replace = args.replace;
            let agent = agent_from_args(*args)?;
            let name = agent.name.clone();
            let notices = agent.notices();
            client
                .request(ControlRequest::AgentCreate {
                    agent: Box::new(agent),
                    replace,
                })
                .await?;
            if ctx.json {
                print_json(&serde_json::json!({ "created": name, "notices": notices }));
            } else {
                outln!("agent {name} saved");
                for notice in notices {
                    errln!("note: {notice}");
                }
            }
        }
        AgentCommand::List => {
            let ControlResponse::Agents(agents) = client.request(ControlRequest::AgentList).await?
            else {
                return Err(CliError::msg("unexpected answer to agent list"));
            };
            if ctx.json {
                print_json(
                    &serde_json::to_value(&agents).map_err(|e| CliError::msg(e.to_string()))?,
                );
            } else if agents.is_empty() {
                outln!("no agents yet; create one with `studio agent create NAME`");
            } else {
                let mut t = table(&[
                    "NAME", "SHOWN AS", "PROVIDER", "MODEL", "TOOLS", "MCP", "SAFETY", "BUDGETS",
                ]);
                for a in &agents {
                    t.add_row(vec![
                        a.name.clone(),
                        a.shown_name().to_owned(),
                        a.provider.to_string(),
                        a.model.clone(),
                        if a.tools.is_empty() {
                            "-".to_owned()
                        } else {
                            a.tools.join(",")
                        },
                        if a.mcp_servers.is_empty() {
                            "-".to_owned()
                        } else {
                            a.mcp_servers.join(",")
                        },
                        a.safety.to_string(),
                        budget_summary(&a.budgets),
                    ]);
                }
                outln!("{t}");
            }
        }
        AgentCommand::Show { name } => {
            let ControlResponse::Agent(agent) =
                client.request(ControlRequest::AgentGet { name }).await?
            else {
                return Err(CliError::msg("unexpected answer to agent show"));
            };
            if ctx.json {
                print_json(
                    &serde_json::to_value(&agent).map_err(|e| CliError::msg(e.to_string()))?,
                );
            } else {
                let text =
                    toml::to_string_pretty(&agent).map_err(|e| CliError::msg(e.to_string()))?;
                out!("{text}");
            }
        }
        AgentCommand::Export(args) => super::agent_files::export(args, &client).await?,
        AgentCommand::Import(args) => super::agent_files::import(args, &client, ctx).await?,
        AgentCommand::Rm { name } => {
            client
                .request(ControlRequest::AgentRemove { name: name.clone() })
                .await?;
            if ctx.json {
                print_json(&serde_json::json!({ "removed": name }));
            } else {
                outln!("agent {name} removed");
            }
        }
    }
    Ok(())
}

fn agent_from_args(args: CreateArgs) -> Result<AgentConfig, CliError> {
    let mut agent = match &args.file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::invalid(format!("cannot read {}: {e}", path.display())))?;
            let agent: AgentConfig = toml::from_str(&text)
                .map_err(|e| CliError::invalid(format!("{}: {e}", path.display())))?;
            if let Some(name) = &args.name
                && name != &agent.name
            {
                return Err(CliError::invalid(format!(
                    "name {name:?} does not match {:?} in {}",
                    agent.name,
                    path.display()
                )));
            }
            agent
        }
        None => {
            let name = match (&args.name, &args.display_name) {
                (Some(name), _) => name.clone(),
                (None, Some(display)) => protocol::agent::name_from_display(display),
                (None, None) => String::new(),
            };
            AgentConfig::scripted(name)
        }
    };
    if let Some(display) = &args.display_name {
        agent.display_name = display.trim().to_owned();
    }
    if let Some(provider) = args.provider {
        agent.provider = provider;
    }
    if let Some(model) = args.model {
        agent.model = model;
    }
    if args.base_url.is_some() {
        agent.base_url = args.base_url;
    }
    if args.send_key_to_base_url {
        agent.send_key_to_base_url = true;
    }
    if let Some(network) = args.network {
        agent.sandbox.network = network;
    }
    agent.sandbox.read.extend(args.read);
    agent.sandbox.write.extend(args.write);
    agent.sandbox.private_hosts.extend(args.private_host);
    if args.max_processes.is_some() {
        agent.sandbox.max_processes = args.max_processes;
    }
    if let Some(prompt) = args.system_prompt {
        agent.system_prompt = prompt;
    }
    if let Some(description) = args.description {
        agent.description = description;
    }
    if args.temperature.is_some() {
        agent.sampling.temperature = args.temperature;
    }
    if args.top_p.is_some() {
        agent.sampling.top_p = args.top_p;
    }
    if args.max_output_tokens.is_some() {
        agent.sampling.max_output_tokens = args.max_output_tokens;
    }
    if !args.tools.is_empty() {
        agent.tools = args.tools;
    }
    if !args.mcp.is_empty() {
        agent.mcp_servers = args.mcp;
    }
    if let Some(safety) = args.safety {
        agent.safety = safety;
    }
    if let Some(dir) = args.workspace {
        let dir = std::path::absolute(&dir)
            .map_err(|e| CliError::invalid(format!("{}: {e}", dir.display())))?;
        agent.workspace = Some(dir.display().to_string());
    }
    if args.workspace_per_run {
        agent.workspace_per_run = Some(protocol::workspace::WorkspacePerRun { setup: args.setup });
    }
    if args.on.is_some() {
        agent.on = args.on;
    }
    agent.script = agent.script.patched(&args.script.patch());
    agent.budgets = agent.budgets.overridden_by(&args.budgets.budgets());
    agent.daily_caps = args.daily.over(&agent.daily_caps);
    agent.validate().map_err(CliError::invalid)?;
    Ok(agent)
}

fn budget_summary(b: &Budgets) -> String {
    let mut parts = Vec::new();
    if let Some(s) = b.max_wall_secs {
        parts.push(format!("wall {s}s"));
    }
    if let Some(s) = b.max_idle_secs {
        parts.push(format!("idle {s}s"));
    }
    if let Some(m) = b.max_memory_mib {
        parts.push(format!("mem {m} MiB"));
    }
    if let Some(t) = b.max_turns {
        parts.push(format!("{t} turns"));
    }
    if let Some(t) = b.max_tokens {
        parts.push(format!("{t} tokens"));
    }
    if let Some(usd) = b.max_cost_usd {
        parts.push(format!("${usd}"));
    }
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(", ")
    }
}
