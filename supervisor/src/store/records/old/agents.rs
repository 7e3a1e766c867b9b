//! Agent configurations in the shapes earlier releases wrote (see the
//! parent module): versions 1 to 5, the last in bincode before version 6
//! kept them as JSON text.

use protocol::agent::{
    AgentConfig, Budgets, Fault, ProviderKind, SafetyMode, Sampling, SandboxConfig, Script,
};
use protocol::sandbox::{Fallback, Network};
use serde::Deserialize;

#[derive(Deserialize)]
pub(in crate::store::records) struct ScriptV1 {
    answer: Option<String>,
    chunks: u32,
    chunk_chars: u32,
    chunk_delay_ms: u32,
    fault: Option<Fault>,
    fault_after_chunks: u32,
}

impl From<ScriptV1> for Script {
    fn from(v1: ScriptV1) -> Script {
        Script {
            answer: v1.answer,
            chunks: v1.chunks,
            chunk_chars: v1.chunk_chars,
            chunk_delay_ms: v1.chunk_delay_ms,
            fault: v1.fault,
            fault_after_chunks: v1.fault_after_chunks,
            tool_calls: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
pub(in crate::store::records) struct AgentConfigV1 {
    name: String,
    provider: ProviderKind,
    model: String,
    base_url: Option<String>,
    system_prompt: String,
    tools: Vec<String>,
    mcp_servers: Vec<String>,
    budgets: Budgets,
    script: ScriptV1,
}

impl From<AgentConfigV1> for AgentConfig {
    fn from(v1: AgentConfigV1) -> AgentConfig {
        AgentConfig {
            name: v1.name,
            display_name: String::new(),
            description: String::new(),
            sampling: Sampling::default(),
            provider: v1.provider,
            model: v1.model,
            base_url: v1.base_url,
            system_prompt: v1.system_prompt,
            tools: v1.tools,
            mcp_servers: v1.mcp_servers,
            budgets: v1.budgets,
            daily_caps: Default::default(),
            script: v1.script.into(),
            safety: SafetyMode::default(),
            workspace: None,
            workspace_per_run: None,
            send_key_to_base_url: false,
            sandbox: SandboxConfig::default(),
            on: None,
        }
    }
}

#[derive(Deserialize)]
pub(in crate::store::records) struct AgentConfigV2 {
    name: String,
    provider: ProviderKind,
    model: String,
    base_url: Option<String>,
    system_prompt: String,
    tools: Vec<String>,
    mcp_servers: Vec<String>,
    budgets: Budgets,
    script: Script,
}

impl From<AgentConfigV2> for AgentConfig {
    fn from(v2: AgentConfigV2) -> AgentConfig {
        AgentConfig {
            name: v2.name,
            display_name: String::new(),
            description: String::new(),
            sampling: Sampling::default(),
            provider: v2.provider,
            model: v2.model,
            base_url: v2.base_url,
            system_prompt: v2.system_prompt,
            tools: v2.tools,
            mcp_servers: v2.mcp_servers,
            budgets: v2.budgets,
            daily_caps: Default::default(),
            script: v2.script,
            safety: SafetyMode::default(),
            workspace: None,
            workspace_per_run: None,
            send_key_to_base_url: false,
            sandbox: SandboxConfig::default(),
            on: None,
        }
    }
}

#[derive(Deserialize)]
pub(in crate::store::records) struct AgentConfigV3 {
    name: String,
    provider: ProviderKind,
    model: String,
    base_url: Option<String>,
    system_prompt: String,
    tools: Vec<String>,
    safety: SafetyMode,
    workspace: Option<String>,
    mcp_servers: Vec<String>,
    budgets: Budgets,
    script: Script,
}

impl From<AgentConfigV3> for AgentConfig {
    fn from(v3: AgentConfigV3) -> AgentConfig {
        AgentConfig {
            name: v3.name,
            display_name: String::new(),
            description: String::new(),
            sampling: Sampling::default(),
            provider: v3.provider,
            model: v3.model,
            base_url: v3.base_url,
            send_key_to_base_url: false,
            system_prompt: v3.system_prompt,
            tools: v3.tools,
            safety: v3.safety,
            workspace: v3.workspace,
            workspace_per_run: None,
            mcp_servers: v3.mcp_servers,
            budgets: v3.budgets,
            daily_caps: Default::default(),
            sandbox: SandboxConfig::default(),
            script: v3.script,
            on: None,
        }
    }
}

#[derive(Deserialize)]
struct SandboxConfigV1 {
    network: Network,
    read: Vec<String>,
    write: Vec<String>,
    max_processes: Option<u32>,
    fallback: Fallback,
}

impl From<SandboxConfigV1> for SandboxConfig {
    fn from(v1: SandboxConfigV1) -> SandboxConfig {
        SandboxConfig {
            network: v1.network,
            read: v1.read,
            write: v1.write,
            max_processes: v1.max_processes,
            fallback: v1.fallback,
            private_hosts: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
pub(in crate::store::records) struct AgentConfigV4 {
    name: String,
    provider: ProviderKind,
    model: String,
    base_url: Option<String>,
    send_key_to_base_url: bool,
    system_prompt: String,
    tools: Vec<String>,
    safety: SafetyMode,
    workspace: Option<String>,
    mcp_servers: Vec<String>,
    budgets: Budgets,
    sandbox: SandboxConfigV1,
    script: Script,
}

impl From<AgentConfigV4> for AgentConfig {
    fn from(v4: AgentConfigV4) -> AgentConfig {
        AgentConfig {
            name: v4.name,
            display_name: String::new(),
            description: String::new(),
            sampling: Sampling::default(),
            provider: v4.provider,
            model: v4.model,
            base_url: v4.base_url,
            send_key_to_base_url: v4.send_key_to_base_url,
            system_prompt: v4.system_prompt,
            tools: v4.tools,
            safety: v4.safety,
            workspace: v4.workspace,
            workspace_per_run: None,
            mcp_servers: v4.mcp_servers,
            budgets: v4.budgets,
            daily_caps: Default::default(),
            sandbox: v4.sandbox.into(),
            script: v4.script,
            on: None,
        }
    }
}

/// Agent version 5, as bincode wrote it (sessions up to version 7 hold one
/// too).
#[derive(Deserialize)]
pub(in crate::store::records) struct AgentConfigV5 {
    name: String,
    provider: ProviderKind,
    model: String,
    base_url: Option<String>,
    send_key_to_base_url: bool,
    system_prompt: String,
    tools: Vec<String>,
    safety: SafetyMode,
    workspace: Option<String>,
    mcp_servers: Vec<String>,
    budgets: Budgets,
    sandbox: SandboxConfig,
    script: Script,
}

impl From<AgentConfigV5> for AgentConfig {
    fn from(v5: AgentConfigV5) -> AgentConfig {
        AgentConfig {
            name: v5.name,
            display_name: String::new(),
            provider: v5.provider,
            model: v5.model,
            base_url: v5.base_url,
            send_key_to_base_url: v5.send_key_to_base_url,
            system_prompt: v5.system_prompt,
            tools: v5.tools,
            safety: v5.safety,
            workspace: v5.workspace,
            workspace_per_run: None,
            mcp_servers: v5.mcp_servers,
            budgets: v5.budgets,
            daily_caps: Default::default(),
            sandbox: v5.sandbox,
            script: v5.script,
            ..AgentConfig::scripted("")
        }
    }
}
