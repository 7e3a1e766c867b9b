//! An agent's configuration: provider, model, prompt, tools, budgets.
//!
//! The same types are read from TOML files (`studio agent create --file`),
//! stored in the database as the snapshot a session ran with, and sent to
//! the worker in its start message.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::caps::SpendCaps;

pub use crate::sampling::Sampling;
pub use crate::sandbox::{SafetyMode, SandboxConfig};
pub use crate::script::{Fault, Script, ScriptPatch, ScriptedToolCall};

/// Everything that defines an agent. Sessions keep a snapshot of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Unique name, used to address the agent from the CLI.
    pub name: String,
    /// What people call it ("Code Helper"): any characters, spaces too;
    /// empty, its `name` is shown.
    #[serde(default)]
    pub display_name: String,
    /// What it is for, in a sentence or two (shown with its name).
    #[serde(default)]
    pub description: String,
    /// Which wire format the worker speaks to the model.
    #[serde(default)]
    pub provider: ProviderKind,
    /// Model name as the provider spells it.
    #[serde(default = "default_model")]
    pub model: String,
    /// Temperature, top-p and the most tokens an answer may hold.
    #[serde(default)]
    pub sampling: Sampling,
    /// Base URL for OpenAI-compatible servers; `None` uses the provider's default.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Send the provider's key (stored, or from the daemon's environment)
    /// to `base_url` even though it is not the provider's own host. Off,
    /// a shared agent file could send your key anywhere.
    #[serde(default)]
    pub send_key_to_base_url: bool,
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
    /// Each run in a workspace of its own, made from `workspace` (a git
    /// worktree or a copy); `None`: runs work in `workspace` itself.
    /// Chats always work in `workspace`.
    #[serde(default)]
    pub workspace_per_run: Option<crate::workspace::WorkspacePerRun>,
    /// Names of configured MCP servers the agent uses.
    #[serde(default)]
    pub mcp_servers: Vec<String>,
    /// Limits the daemon enforces on every session of this agent.
    #[serde(default)]
    pub budgets: Budgets,
    /// Caps on what all its sessions created on one UTC day spend together.
    #[serde(default)]
    pub daily_caps: SpendCaps,
    /// How its commands are confined beyond what its safety mode says.
    #[serde(default)]
    pub sandbox: SandboxConfig,
    /// What the `scripted` provider answers; ignored by real providers.
    #[serde(default)]
    pub script: Script,
    /// Where its sessions' workers run, unless a run says (`RunSpec::on`);
    /// `None`: the daemon's default launcher.
    #[serde(default)]
    pub on: Option<crate::launch::Launcher>,
}

/// Longest display name an agent may have, in characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 80;

/// Longest description an agent may have, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

/// The built-in tool groups an agent can list in `tools`.
pub const BUILTIN_TOOLS: [&str; 3] = ["shell", "fs", "fetch"];

fn default_model() -> String {
    "scripted-1".to_owned()
}

/// The short name derived from a display name: its letters and digits
/// lowercased, every run of anything else one `-` ("Code Helper" is
/// `code-helper`, "Ünïcode?" is `n-code`), at most 64 characters; `agent`
/// when nothing is left.
pub fn name_from_display(display: &str) -> String {
    let mut name = String::new();
    for c in display.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c.to_ascii_lowercase());
        } else if !name.is_empty() && !name.ends_with('-') {
            name.push('-');
        }
        if name.len() >= 64 {
            break;
        }
    }
    let name = name.trim_end_matches('-');
    if name.is_empty() {
        "agent".to_owned()
    } else {
        name.to_owned()
    }
}

/// Whether `name` may name an agent. It is a path component (the agent's
/// default workspace): '.', '..' or a hidden name must never be one.
pub fn validate_name(name: &str) -> Result<(), String> {
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if name_ok {
        Ok(())
    } else {
        Err(format!(
            "invalid agent name {name:?}: use 1-64 letters, digits, '-', '_' or '.', not starting with '.'"
        ))
    }
}

impl AgentConfig {
    /// A scripted agent with default settings, as `studio agent create NAME` makes.
    pub fn scripted(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            display_name: String::new(),
            description: String::new(),
            provider: ProviderKind::Scripted,
            model: default_model(),
            sampling: Sampling::default(),
            base_url: None,
            send_key_to_base_url: false,
            system_prompt: String::new(),
            tools: Vec::new(),
            safety: SafetyMode::default(),
            workspace: None,
            workspace_per_run: None,
            mcp_servers: Vec::new(),
            budgets: Budgets::default(),
            daily_caps: SpendCaps::default(),
            sandbox: SandboxConfig::default(),
            script: Script::default(),
            on: None,
        }
    }

    /// What to call it: its display name, else its name.
    pub fn shown_name(&self) -> &str {
        if self.display_name.is_empty() {
            &self.name
        } else {
            &self.display_name
        }
    }

    /// Checks what serde cannot: a usable name and sane script values.
    pub fn validate(&self) -> Result<(), String> {
        validate_name(&self.name)?;
        if self.display_name.chars().count() > MAX_DISPLAY_NAME_CHARS
            || self.display_name.chars().any(char::is_control)
            || self.display_name.trim() != self.display_name
        {
            return Err(format!(
                "the display name must be one line of at most {MAX_DISPLAY_NAME_CHARS} characters, without spaces around it"
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
        if self.description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(format!(
                "the description is longer than {MAX_DESCRIPTION_CHARS} characters"
            ));
        }
        self.sampling.validate()?;
        self.sandbox.validate()?;
        self.budgets.validate()?;
        self.daily_caps
            .validate()
            .map_err(|err| format!("daily caps: {err}"))?;
        if let Some(per_run) = &self.workspace_per_run {
            per_run.validate()?;
        }
        self.script.validate()
    }

    /// `base_url` when it is set and is not the provider's own host: the
    /// provider's key goes there only if `send_key_to_base_url` says so.
    pub fn foreign_base_url(&self) -> Option<&str> {
        let base_url = self.base_url.as_deref()?;
        (!self.provider.is_own_url(base_url)).then_some(base_url)
    }

    /// What a person should know before using this agent: where it sends
    /// a key, and what it may do unconfined. Shown when an agent is
    /// created or imported.
    pub fn notices(&self) -> Vec<String> {
        let mut notices = Vec::new();
        if let Some(url) = self.foreign_base_url()
            && self.provider.own_host().is_some()
        {
            notices.push(if self.send_key_to_base_url {
                format!(
                    "agent {} sends your {} key to {url}, which is not {} (send_key_to_base_url)",
                    self.name,
                    self.provider,
                    self.provider.own_host().unwrap_or_default()
                )
            } else {
                format!(
                    "agent {} gets no {} key at {url}: keys go only to {} unless the agent sets send_key_to_base_url",
                    self.name,
                    self.provider,
                    self.provider.own_host().unwrap_or_default()
                )
            });
        }
        if self.safety == SafetyMode::Full {
            notices.push(format!(
                "agent {} runs its tools unconfined (safety = full): they can read and write whatever you can",
                self.name
            ));
        } else if self.sandbox.network == crate::sandbox::Network::On {
            notices.push(format!(
                "agent {}'s commands reach the network (sandbox.network = on)",
                self.name
            ));
        }
        notices
    }

    /// Whether the provider's key may go where this agent talks: to the
    /// provider's own host, or anywhere it opted in to.
    pub fn key_may_go_to_base_url(&self) -> bool {
        self.send_key_to_base_url || self.foreign_base_url().is_none()
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

    /// The host a key of this provider belongs to, over https; `None` for
    /// providers without keys.
    pub fn own_host(self) -> Option<&'static str> {
        match self {
            ProviderKind::OpenAi => Some("api.openai.com"),
            ProviderKind::Anthropic => Some("api.anthropic.com"),
            ProviderKind::Gemini => Some("generativelanguage.googleapis.com"),
            ProviderKind::Scripted | ProviderKind::Ollama => None,
        }
    }

    /// Whether `url` is this provider's own address: https, its host, the
    /// default port (no other spelling of a host counts: userinfo, a
    /// trailing dot, an IP address).
    pub fn is_own_url(self, url: &str) -> bool {
        let Some(host) = self.own_host() else {
            return false;
        };
        url::Url::parse(url).is_ok_and(|url| {
            url.scheme() == "https"
                && url.username().is_empty()
                && url.password().is_none()
                && url.host_str() == Some(host)
                && url.port().is_none()
        })
    }

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
    /// Every limit set must be above zero, and the cost a finite number:
    /// `NaN` would compare false against any spend and turn the budget off.
    pub fn validate(&self) -> Result<(), String> {
        let whole = [
            ("max_wall_secs", self.max_wall_secs),
            ("max_idle_secs", self.max_idle_secs),
            ("max_memory_mib", self.max_memory_mib),
            ("max_turns", self.max_turns.map(u64::from)),
            ("max_tokens", self.max_tokens),
        ];
        if let Some((name, _)) = whole.iter().find(|(_, value)| *value == Some(0)) {
            return Err(format!(
                "budget {name} must be at least 1 (leave it out for no limit)"
            ));
        }
        if let Some(usd) = self.max_cost_usd
            && !(usd.is_finite() && usd > 0.0)
        {
            return Err(format!(
                "budget max_cost_usd must be a finite number of dollars above 0, not {usd}"
            ));
        }
        Ok(())
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_reads_from_minimal_toml_with_defaults() {
        let agent: AgentConfig = toml_like_json(r#"{"name":"a"}"#);
        assert_eq!(agent, AgentConfig::scripted("a"));
    }

    #[test]
    fn a_display_name_is_free_text_and_gives_a_short_name() {
        assert_eq!(name_from_display("Code Helper"), "code-helper");
        assert_eq!(name_from_display("  Ünïcode? — v2.0 "), "n-code-v2-0");
        assert_eq!(name_from_display("🤖"), "agent");
        assert_eq!(name_from_display(&"x".repeat(100)).len(), 64);
        for display in ["Code Helper", "Ünïcode? 🤖", "a/b\\c..", ""] {
            let agent = AgentConfig {
                display_name: display.into(),
                ..AgentConfig::scripted(name_from_display(display))
            };
            agent
                .validate()
                .unwrap_or_else(|e| panic!("{display:?}: {e}"));
            assert!(validate_name(&agent.name).is_ok());
        }
        let shown = AgentConfig {
            display_name: "Code Helper".into(),
            ..AgentConfig::scripted("code-helper")
        };
        assert_eq!(shown.shown_name(), "Code Helper");
        assert_eq!(AgentConfig::scripted("a").shown_name(), "a");
        for bad in ["two\nlines", " padded", &"y".repeat(81)] {
            let agent = AgentConfig {
                display_name: bad.into(),
                ..AgentConfig::scripted("a")
            };
            assert!(agent.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn budgets_must_be_finite_and_above_zero() {
        let with = |budgets: Budgets| AgentConfig {
            budgets,
            ..AgentConfig::scripted("a")
        };
        for usd in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, 0.0] {
            let err = with(Budgets {
                max_cost_usd: Some(usd),
                ..Budgets::default()
            })
            .validate()
            .unwrap_err();
            assert!(err.contains("max_cost_usd"), "{usd}: {err}");
        }
        let err = with(Budgets {
            max_turns: Some(0),
            ..Budgets::default()
        })
        .validate()
        .unwrap_err();
        assert!(err.contains("max_turns"), "{err}");
        let ok = Budgets {
            max_cost_usd: Some(0.01),
            max_turns: Some(1),
            ..Budgets::default()
        };
        assert!(with(ok).validate().is_ok());
    }

    #[test]
    fn unknown_agent_fields_are_refused() {
        let err = serde_json::from_str::<AgentConfig>(r#"{"name":"a","modle":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn agent_names_are_validated() {
        assert!(AgentConfig::scripted("ok-name_1.2").validate().is_ok());
        // A name is a path component of the agent's default workspace.
        for bad in [
            "",
            "has space",
            "slash/",
            ".",
            "..",
            ".hidden",
            &"x".repeat(65),
        ] {
            assert!(AgentConfig::scripted(bad).validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_the_provider_s_own_host_counts_as_its_own() {
        let own = ProviderKind::OpenAi;
        for url in ["https://api.openai.com/v1", "https://API.openai.com/v1/"] {
            assert!(own.is_own_url(url), "{url}");
        }
        for other in [
            "http://api.openai.com/v1",
            "https://api.openai.com.evil.example/v1",
            "https://api.openai.com@evil.example/v1",
            "https://user@api.openai.com/v1",
            "https://api.openai.com:8443/v1",
            "https://evil.example/api.openai.com",
            "https://104.18.0.1/v1",
            "not a url",
        ] {
            assert!(!own.is_own_url(other), "{other}");
        }
        assert!(!ProviderKind::Ollama.is_own_url("http://127.0.0.1:11434"));
        let mut agent = AgentConfig::scripted("a");
        agent.provider = ProviderKind::Anthropic;
        assert!(agent.key_may_go_to_base_url());
        agent.base_url = Some("https://proxy.example/v1".into());
        assert_eq!(agent.foreign_base_url(), Some("https://proxy.example/v1"));
        assert!(!agent.key_may_go_to_base_url());
        agent.send_key_to_base_url = true;
        assert!(agent.key_may_go_to_base_url());
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

    fn toml_like_json<T: serde::de::DeserializeOwned>(s: &str) -> T {
        serde_json::from_str(s).unwrap()
    }
}
