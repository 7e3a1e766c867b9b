//! An agent's configuration: provider, model, prompt, tools, budgets.
//!
//! The same types are read from TOML files (`studio agent create --file`),
//! stored in the database as the snapshot a session ran with, and sent to
//! the worker in its start message.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Everything that defines an agent. Sessions keep a snapshot of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Unique name, used to address the agent from the CLI.
    pub name: String,
    /// Which wire format the worker speaks to the model.
    #[serde(default)]
    pub provider: ProviderKind,
    /// Model name as the provider spells it.
    #[serde(default = "default_model")]
    pub model: String,
    /// Base URL for OpenAI-compatible servers; `None` uses the provider's default.
    #[serde(default)]
    pub base_url: Option<String>,
    /// System prompt sent before the history.
    #[serde(default)]
    pub system_prompt: String,
    /// Built-in tools the agent may call: `shell`, `fs`, `fetch`
    /// (those its safety mode allows are offered to the model).
    #[serde(default)]
    pub tools: Vec<String>,
    /// What its tools may do.
    #[serde(default)]
    pub safety: SafetyMode,
    /// Directory its tools work in; `None` gives it a private one in the
    /// daemon's data dir.
    #[serde(default)]
    pub workspace: Option<String>,
    /// Names of configured MCP servers the agent uses.
    #[serde(default)]
    pub mcp_servers: Vec<String>,
    /// Limits the daemon enforces on every session of this agent.
    #[serde(default)]
    pub budgets: Budgets,
    /// What the `scripted` provider answers; ignored by real providers.
    #[serde(default)]
    pub script: Script,
}

/// The built-in tool groups an agent can list in `tools`.
pub const BUILTIN_TOOLS: [&str; 3] = ["shell", "fs", "fetch"];

fn default_model() -> String {
    "scripted-1".to_owned()
}

impl AgentConfig {
    /// A scripted agent with default settings, as `studio agent create NAME` makes.
    pub fn scripted(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            provider: ProviderKind::Scripted,
            model: default_model(),
            base_url: None,
            system_prompt: String::new(),
            tools: Vec::new(),
            safety: SafetyMode::default(),
            workspace: None,
            mcp_servers: Vec::new(),
            budgets: Budgets::default(),
            script: Script::default(),
        }
    }

    /// Checks what serde cannot: a usable name and sane script values.
    pub fn validate(&self) -> Result<(), String> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !name_ok {
            return Err(format!(
                "invalid agent name {:?}: use 1-64 letters, digits, '-', '_' or '.'",
                self.name
            ));
        }
        if self.model.is_empty() {
            return Err("model must not be empty".to_owned());
        }
        if let Some(unknown) = self
            .tools
            .iter()
            .find(|t| !BUILTIN_TOOLS.contains(&t.as_str()))
        {
            return Err(format!(
                "unknown tool {unknown:?}: built-in tools are shell, fs and fetch"
            ));
        }
        self.script.validate()
    }
}

/// What an agent's tools may do. Tools outside the mode are not offered to
/// the model at all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SafetyMode {
    /// Read files in the workspace (`fs.read`, `fs.list`, `fs.search`) and fetch URLs.
    #[default]
    ReadOnly,
    /// Also write and edit files in the workspace, and run shell commands there.
    WorkspaceWrite,
    /// Everything, with file paths no longer confined to the workspace.
    Full,
}

impl SafetyMode {
    /// Kebab-case name, as in TOML and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            SafetyMode::ReadOnly => "read-only",
            SafetyMode::WorkspaceWrite => "workspace-write",
            SafetyMode::Full => "full",
        }
    }
}

impl fmt::Display for SafetyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SafetyMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            SafetyMode::ReadOnly,
            SafetyMode::WorkspaceWrite,
            SafetyMode::Full,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
        .ok_or_else(|| {
            format!("unknown safety mode {s:?}: expected read-only, workspace-write or full")
        })
    }
}

/// The wire format a worker uses to reach a model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Built-in deterministic provider for demos and tests; needs no key.
    #[default]
    Scripted,
    /// OpenAI Chat Completions, or any server compatible with it.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini.
    Gemini,
    /// Ollama's native chat API.
    Ollama,
}

impl ProviderKind {
    /// Every provider, in display order.
    pub const ALL: [ProviderKind; 5] = [
        ProviderKind::Scripted,
        ProviderKind::OpenAi,
        ProviderKind::Anthropic,
        ProviderKind::Gemini,
        ProviderKind::Ollama,
    ];

    /// Lowercase name, as used in TOML and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Scripted => "scripted",
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Ollama => "ollama",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProviderKind::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown provider {s:?}: expected scripted, openai, anthropic, gemini or ollama"
                )
            })
    }
}

/// Limits enforced by the daemon's Session actor. `None` means unlimited.
///
/// A run may override any limit of its agent; see [`Budgets::overridden_by`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budgets {
    /// Wall-clock time from start to the terminal event, in seconds.
    #[serde(default)]
    pub max_wall_secs: Option<u64>,
    /// Longest time without any event from the worker, in seconds.
    #[serde(default)]
    pub max_idle_secs: Option<u64>,
    /// Resident memory of the worker, in MiB; over it the worker is killed.
    #[serde(default)]
    pub max_memory_mib: Option<u64>,
    /// Model turns per session.
    #[serde(default)]
    pub max_turns: Option<u32>,
    /// Input plus output tokens per session.
    #[serde(default)]
    pub max_tokens: Option<u64>,
    /// Spend per session, in US dollars.
    #[serde(default)]
    pub max_cost_usd: Option<f64>,
}

impl Budgets {
    /// These budgets with every limit `run` sets taking precedence.
    pub fn overridden_by(&self, run: &Budgets) -> Budgets {
        Budgets {
            max_wall_secs: run.max_wall_secs.or(self.max_wall_secs),
            max_idle_secs: run.max_idle_secs.or(self.max_idle_secs),
            max_memory_mib: run.max_memory_mib.or(self.max_memory_mib),
            max_turns: run.max_turns.or(self.max_turns),
            max_tokens: run.max_tokens.or(self.max_tokens),
            max_cost_usd: run.max_cost_usd.or(self.max_cost_usd),
        }
    }
}

/// What the `scripted` provider does: stream an answer in chunks, and
/// optionally misbehave after some chunks (for tests, chaos and the demo).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// Fixed answer text; `None` derives a deterministic answer from the prompt.
    #[serde(default)]
    pub answer: Option<String>,
    /// Number of chunks of a derived answer.
    #[serde(default = "Script::default_chunks")]
    pub chunks: u32,
    /// Characters per streamed chunk.
    #[serde(default = "Script::default_chunk_chars")]
    pub chunk_chars: u32,
    /// Pause before each chunk, in milliseconds.
    #[serde(default = "Script::default_chunk_delay_ms")]
    pub chunk_delay_ms: u32,
    /// Misbehaviour to show, if any.
    #[serde(default)]
    pub fault: Option<Fault>,
    /// Chunks streamed before the fault strikes.
    #[serde(default)]
    pub fault_after_chunks: u32,
    /// Tool calls the model makes before it answers (each asked of the
    /// daemon like a real model's; the answer follows their results).
    #[serde(default)]
    pub tool_calls: Vec<ScriptedToolCall>,
}

/// A tool call the scripted provider makes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedToolCall {
    /// Tool name.
    pub name: String,
    /// Arguments as JSON text.
    #[serde(default = "ScriptedToolCall::no_arguments")]
    pub arguments: String,
}

impl ScriptedToolCall {
    fn no_arguments() -> String {
        "{}".to_owned()
    }
}

impl Script {
    fn default_chunks() -> u32 {
        20
    }
    fn default_chunk_chars() -> u32 {
        16
    }
    fn default_chunk_delay_ms() -> u32 {
        20
    }

    /// Rejects values that would make the worker do nothing or too much.
    pub fn validate(&self) -> Result<(), String> {
        if self.chunk_chars == 0 {
            return Err("script.chunk_chars must be at least 1".to_owned());
        }
        if self.chunks > 1_000_000 {
            return Err("script.chunks must be at most 1000000".to_owned());
        }
        if self.chunk_delay_ms > 600_000 {
            return Err("script.chunk_delay_ms must be at most 600000".to_owned());
        }
        Ok(())
    }

    /// This script with every field `patch` sets replaced.
    pub fn patched(&self, patch: &ScriptPatch) -> Script {
        Script {
            answer: patch.answer.clone().or_else(|| self.answer.clone()),
            chunks: patch.chunks.unwrap_or(self.chunks),
            chunk_chars: patch.chunk_chars.unwrap_or(self.chunk_chars),
            chunk_delay_ms: patch.chunk_delay_ms.unwrap_or(self.chunk_delay_ms),
            fault: patch.fault.or(self.fault),
            fault_after_chunks: patch.fault_after_chunks.unwrap_or(self.fault_after_chunks),
            tool_calls: patch
                .tool_calls
                .clone()
                .unwrap_or_else(|| self.tool_calls.clone()),
        }
    }
}

impl Default for Script {
    fn default() -> Self {
        Self {
            answer: None,
            chunks: Self::default_chunks(),
            chunk_chars: Self::default_chunk_chars(),
            chunk_delay_ms: Self::default_chunk_delay_ms(),
            fault: None,
            fault_after_chunks: 0,
            tool_calls: Vec::new(),
        }
    }
}

/// Per-run changes to an agent's [`Script`], so one batch can mix
/// well-behaved and misbehaving runs of the same agent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptPatch {
    /// Replaces [`Script::answer`].
    #[serde(default)]
    pub answer: Option<String>,
    /// Replaces [`Script::chunks`].
    #[serde(default)]
    pub chunks: Option<u32>,
    /// Replaces [`Script::chunk_chars`].
    #[serde(default)]
    pub chunk_chars: Option<u32>,
    /// Replaces [`Script::chunk_delay_ms`].
    #[serde(default)]
    pub chunk_delay_ms: Option<u32>,
    /// Replaces [`Script::fault`].
    #[serde(default)]
    pub fault: Option<Fault>,
    /// Replaces [`Script::fault_after_chunks`].
    #[serde(default)]
    pub fault_after_chunks: Option<u32>,
    /// Replaces [`Script::tool_calls`].
    #[serde(default)]
    pub tool_calls: Option<Vec<ScriptedToolCall>>,
}

/// A way for the scripted worker to misbehave on purpose.
///
/// Written as text everywhere (CLI, TOML, JSON, wire):
/// `hang`, `spin`, `grow-memory[:MIB_PER_SEC]`, `panic`, `abort`,
/// `exit[:CODE]`, `flood[:EVENTS]`, `garbage`, `oversized`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Fault {
    /// Block the worker's only thread forever; ignores cancellation.
    Hang,
    /// Burn CPU forever; ignores cancellation.
    Spin,
    /// Allocate and touch memory steadily until stopped.
    GrowMemory {
        /// Growth rate.
        mib_per_sec: u32,
    },
    /// Panic (exit code 101).
    Panic,
    /// Abort (SIGABRT).
    Abort,
    /// Exit at once with this code, without saying goodbye.
    Exit {
        /// Process exit code.
        code: i32,
    },
    /// Send this many chunk events as fast as possible, then finish normally.
    /// The extra chunks are `"x"`, so the streamed text no longer matches
    /// `message.assistant`.
    Flood {
        /// Number of events.
        events: u64,
    },
    /// Send a malformed frame, then wait: the daemon must end the session.
    Garbage,
    /// Announce a frame over the size limit, then wait.
    Oversized,
    /// Report `tool.approved` for a call of its own, which only the daemon
    /// may record, then wait: the daemon must ignore it and end the session.
    ForgeApproval,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Hang => f.write_str("hang"),
            Fault::Spin => f.write_str("spin"),
            Fault::GrowMemory { mib_per_sec } => write!(f, "grow-memory:{mib_per_sec}"),
            Fault::Panic => f.write_str("panic"),
            Fault::Abort => f.write_str("abort"),
            Fault::Exit { code } => write!(f, "exit:{code}"),
            Fault::Flood { events } => write!(f, "flood:{events}"),
            Fault::Garbage => f.write_str("garbage"),
            Fault::Oversized => f.write_str("oversized"),
            Fault::ForgeApproval => f.write_str("forge-approval"),
        }
    }
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, arg) = match s.split_once(':') {
            Some((name, arg)) => (name, Some(arg)),
            None => (s, None),
        };
        fn number<T: FromStr>(s: &str, arg: Option<&str>, default: T) -> Result<T, String> {
            arg.map_or(Ok(default), |a| {
                a.parse()
                    .map_err(|_| format!("invalid number {a:?} in fault {s:?}"))
            })
        }
        let fault = match name {
            "hang" => Fault::Hang,
            "spin" => Fault::Spin,
            "grow-memory" => Fault::GrowMemory {
                mib_per_sec: number(s, arg, 64)?,
            },
            "panic" => Fault::Panic,
            "abort" => Fault::Abort,
            "exit" => Fault::Exit {
                code: number(s, arg, 1)?,
            },
            "flood" => Fault::Flood {
                events: number(s, arg, 10_000)?,
            },
            "garbage" => Fault::Garbage,
            "oversized" => Fault::Oversized,
            "forge-approval" => Fault::ForgeApproval,
            _ => {
                return Err(format!(
                    "unknown fault {s:?}: expected hang, spin, grow-memory[:MIB_PER_SEC], panic, abort, exit[:CODE], flood[:EVENTS], garbage, oversized or forge-approval"
                ));
            }
        };
        let takes_arg = matches!(
            fault,
            Fault::GrowMemory { .. } | Fault::Exit { .. } | Fault::Flood { .. }
        );
        if arg.is_some() && !takes_arg {
            return Err(format!("fault {name:?} takes no argument"));
        }
        Ok(fault)
    }
}

impl TryFrom<String> for Fault {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Fault> for String {
    fn from(value: Fault) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_round_trip_through_text() {
        let all = [
            Fault::Hang,
            Fault::Spin,
            Fault::GrowMemory { mib_per_sec: 32 },
            Fault::Panic,
            Fault::Abort,
            Fault::Exit { code: -3 },
            Fault::Flood { events: 7 },
            Fault::Garbage,
            Fault::Oversized,
            Fault::ForgeApproval,
        ];
        for fault in all {
            assert_eq!(fault.to_string().parse::<Fault>(), Ok(fault));
        }
        assert_eq!("exit".parse::<Fault>(), Ok(Fault::Exit { code: 1 }));
    }

    #[test]
    fn bad_faults_are_refused_with_a_reason() {
        assert!(
            "melt"
                .parse::<Fault>()
                .unwrap_err()
                .contains("unknown fault")
        );
        assert!(
            "hang:3"
                .parse::<Fault>()
                .unwrap_err()
                .contains("no argument")
        );
        assert!(
            "exit:x"
                .parse::<Fault>()
                .unwrap_err()
                .contains("invalid number")
        );
    }

    #[test]
    fn agent_reads_from_minimal_toml_with_defaults() {
        let agent: AgentConfig = toml_like_json(r#"{"name":"a"}"#);
        assert_eq!(agent, AgentConfig::scripted("a"));
    }

    #[test]
    fn unknown_agent_fields_are_refused() {
        let err = serde_json::from_str::<AgentConfig>(r#"{"name":"a","modle":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn agent_names_are_validated() {
        assert!(AgentConfig::scripted("ok-name_1.2").validate().is_ok());
        for bad in ["", "has space", "slash/", &"x".repeat(65)] {
            assert!(AgentConfig::scripted(bad).validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn run_budgets_override_agent_budgets_field_by_field() {
        let agent = Budgets {
            max_wall_secs: Some(60),
            max_memory_mib: Some(100),
            ..Budgets::default()
        };
        let run = Budgets {
            max_memory_mib: Some(10),
            max_idle_secs: Some(5),
            ..Budgets::default()
        };
        assert_eq!(
            agent.overridden_by(&run),
            Budgets {
                max_wall_secs: Some(60),
                max_idle_secs: Some(5),
                max_memory_mib: Some(10),
                ..Budgets::default()
            }
        );
    }

    #[test]
    fn script_patch_replaces_only_what_it_sets() {
        let base = Script::default();
        let patched = base.patched(&ScriptPatch {
            fault: Some(Fault::Panic),
            fault_after_chunks: Some(3),
            ..ScriptPatch::default()
        });
        assert_eq!(
            patched,
            Script {
                fault: Some(Fault::Panic),
                fault_after_chunks: 3,
                ..Script::default()
            }
        );
    }

    fn toml_like_json<T: serde::de::DeserializeOwned>(s: &str) -> T {
        serde_json::from_str(s).unwrap()
    }
}
