//! Records in the shapes earlier releases wrote, decoded and brought up to
//! date:
//! - version 1 (release 0.1): before `Script::tool_calls` and
//!   `ScriptPatch::tool_calls` (agents, sessions, runs);
//! - run version 2: before `RunSpec::approve` and `RunSpec::ask`;
//! - agent and session version 2: before `AgentConfig::safety` and
//!   `AgentConfig::workspace`;
//! - session version 3: before `SessionRecord::totals` and
//!   `SessionRecord::last_event_at`;
//! - agent version 3 and session version 4 (and the agent inside session
//!   version 3): before `AgentConfig::send_key_to_base_url` and
//!   `AgentConfig::sandbox`;
//! - limits version 1: before `DaemonLimits::max_live_chats`;
//! - agent version 4 and session version 5: before
//!   `SandboxConfig::private_hosts`;
//! - session version 6: before `SessionRecord::estimate`,
//!   `SessionRecord::waiting`, `SessionRecord::title` and
//!   `SessionRecord::first_message` and `SessionRecord::batch`.
//!
//! Keep these structs exactly as they were: the field order is the format.

use protocol::agent::{
    AgentConfig, Budgets, Fault, ProviderKind, SafetyMode, SandboxConfig, Script, ScriptPatch,
};
use protocol::approval::AskPolicy;
use protocol::control::{RunSpec, SessionTotals};
use protocol::event::SessionStatus;
use protocol::sandbox::{Fallback, Network};
use protocol::{SessionId, Timestamp};
use serde::Deserialize;

use super::estimate::Estimate;
use super::waiting::WaitingCalls;
use super::{DaemonLimits, RunRecord, SessionKind, SessionRecord};

#[derive(Deserialize)]
pub(super) struct ScriptV1 {
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
pub(super) struct AgentConfigV1 {
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
            provider: v1.provider,
            model: v1.model,
            base_url: v1.base_url,
            system_prompt: v1.system_prompt,
            tools: v1.tools,
            mcp_servers: v1.mcp_servers,
            budgets: v1.budgets,
            script: v1.script.into(),
            safety: SafetyMode::default(),
            workspace: None,
            send_key_to_base_url: false,
            sandbox: SandboxConfig::default(),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct AgentConfigV2 {
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
            provider: v2.provider,
            model: v2.model,
            base_url: v2.base_url,
            system_prompt: v2.system_prompt,
            tools: v2.tools,
            mcp_servers: v2.mcp_servers,
            budgets: v2.budgets,
            script: v2.script,
            safety: SafetyMode::default(),
            workspace: None,
            send_key_to_base_url: false,
            sandbox: SandboxConfig::default(),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct AgentConfigV3 {
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
            provider: v3.provider,
            model: v3.model,
            base_url: v3.base_url,
            send_key_to_base_url: false,
            system_prompt: v3.system_prompt,
            tools: v3.tools,
            safety: v3.safety,
            workspace: v3.workspace,
            mcp_servers: v3.mcp_servers,
            budgets: v3.budgets,
            sandbox: SandboxConfig::default(),
            script: v3.script,
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
pub(super) struct AgentConfigV4 {
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
            provider: v4.provider,
            model: v4.model,
            base_url: v4.base_url,
            send_key_to_base_url: v4.send_key_to_base_url,
            system_prompt: v4.system_prompt,
            tools: v4.tools,
            safety: v4.safety,
            workspace: v4.workspace,
            mcp_servers: v4.mcp_servers,
            budgets: v4.budgets,
            sandbox: v4.sandbox.into(),
            script: v4.script,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct SessionRecordV6 {
    id: SessionId,
    kind: SessionKind,
    agent: AgentConfig,
    label: Option<String>,
    prompt: String,
    script: Script,
    budgets: Budgets,
    status: SessionStatus,
    pid: Option<u32>,
    created_at: Timestamp,
    started_at: Option<Timestamp>,
    ended_at: Option<Timestamp>,
    last_seq: u64,
    parent: Option<(SessionId, u64)>,
    totals: Option<SessionTotals>,
    last_event_at: Timestamp,
}

impl From<SessionRecordV6> for SessionRecord {
    fn from(v6: SessionRecordV6) -> SessionRecord {
        SessionRecord {
            id: v6.id,
            kind: v6.kind,
            agent: v6.agent,
            label: v6.label,
            prompt: v6.prompt,
            script: v6.script,
            budgets: v6.budgets,
            status: v6.status,
            pid: v6.pid,
            created_at: v6.created_at,
            started_at: v6.started_at,
            ended_at: v6.ended_at,
            last_seq: v6.last_seq,
            parent: v6.parent,
            totals: v6.totals,
            last_event_at: v6.last_event_at,
            estimate: Estimate::default(),
            waiting: WaitingCalls::default(),
            title: None,
            first_message: None,
            batch: None,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct SessionRecordV5 {
    id: SessionId,
    kind: SessionKind,
    agent: AgentConfigV4,
    label: Option<String>,
    prompt: String,
    script: Script,
    budgets: Budgets,
    status: SessionStatus,
    pid: Option<u32>,
    created_at: Timestamp,
    started_at: Option<Timestamp>,
    ended_at: Option<Timestamp>,
    last_seq: u64,
    parent: Option<(SessionId, u64)>,
    totals: Option<SessionTotals>,
    last_event_at: Timestamp,
}

impl From<SessionRecordV5> for SessionRecord {
    fn from(v5: SessionRecordV5) -> SessionRecord {
        SessionRecord {
            id: v5.id,
            kind: v5.kind,
            agent: v5.agent.into(),
            label: v5.label,
            prompt: v5.prompt,
            script: v5.script,
            budgets: v5.budgets,
            status: v5.status,
            pid: v5.pid,
            created_at: v5.created_at,
            started_at: v5.started_at,
            ended_at: v5.ended_at,
            last_seq: v5.last_seq,
            parent: v5.parent,
            totals: v5.totals,
            last_event_at: v5.last_event_at,
            estimate: Estimate::default(),
            waiting: WaitingCalls::default(),
            title: None,
            first_message: None,
            batch: None,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct SessionRecordV4 {
    id: SessionId,
    kind: SessionKind,
    agent: AgentConfigV3,
    label: Option<String>,
    prompt: String,
    script: Script,
    budgets: Budgets,
    status: SessionStatus,
    pid: Option<u32>,
    created_at: Timestamp,
    started_at: Option<Timestamp>,
    ended_at: Option<Timestamp>,
    last_seq: u64,
    parent: Option<(SessionId, u64)>,
    totals: Option<SessionTotals>,
    last_event_at: Timestamp,
}

impl From<SessionRecordV4> for SessionRecord {
    fn from(v4: SessionRecordV4) -> SessionRecord {
        SessionRecord {
            id: v4.id,
            kind: v4.kind,
            agent: v4.agent.into(),
            label: v4.label,
            prompt: v4.prompt,
            script: v4.script,
            budgets: v4.budgets,
            status: v4.status,
            pid: v4.pid,
            created_at: v4.created_at,
            started_at: v4.started_at,
            ended_at: v4.ended_at,
            last_seq: v4.last_seq,
            parent: v4.parent,
            totals: v4.totals,
            last_event_at: v4.last_event_at,
            estimate: Estimate::default(),
            waiting: WaitingCalls::default(),
            title: None,
            first_message: None,
            batch: None,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct SessionRecordV3 {
    id: SessionId,
    kind: SessionKind,
    agent: AgentConfigV3,
    label: Option<String>,
    prompt: String,
    script: Script,
    budgets: Budgets,
    status: SessionStatus,
    pid: Option<u32>,
    created_at: Timestamp,
    started_at: Option<Timestamp>,
    ended_at: Option<Timestamp>,
    last_seq: u64,
    parent: Option<(SessionId, u64)>,
}

impl From<SessionRecordV3> for SessionRecord {
    fn from(v3: SessionRecordV3) -> SessionRecord {
        SessionRecord {
            id: v3.id,
            kind: v3.kind,
            agent: v3.agent.into(),
            label: v3.label,
            prompt: v3.prompt,
            script: v3.script,
            budgets: v3.budgets,
            status: v3.status,
            pid: v3.pid,
            created_at: v3.created_at,
            started_at: v3.started_at,
            ended_at: v3.ended_at,
            last_seq: v3.last_seq,
            parent: v3.parent,
            // Totals were not kept: unknown rather than zero.
            totals: None,
            last_event_at: v3.ended_at.or(v3.started_at).unwrap_or(v3.created_at),
            estimate: Estimate::default(),
            waiting: WaitingCalls::default(),
            title: None,
            first_message: None,
            batch: None,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct SessionRecordV2 {
    id: SessionId,
    kind: SessionKind,
    agent: AgentConfigV2,
    label: Option<String>,
    prompt: String,
    script: Script,
    budgets: Budgets,
    status: SessionStatus,
    pid: Option<u32>,
    created_at: Timestamp,
    started_at: Option<Timestamp>,
    ended_at: Option<Timestamp>,
    last_seq: u64,
    parent: Option<(SessionId, u64)>,
}

impl From<SessionRecordV2> for SessionRecord {
    fn from(v2: SessionRecordV2) -> SessionRecord {
        SessionRecord {
            id: v2.id,
            kind: v2.kind,
            agent: v2.agent.into(),
            label: v2.label,
            prompt: v2.prompt,
            script: v2.script,
            budgets: v2.budgets,
            status: v2.status,
            pid: v2.pid,
            created_at: v2.created_at,
            started_at: v2.started_at,
            ended_at: v2.ended_at,
            last_seq: v2.last_seq,
            parent: v2.parent,
            totals: None,
            last_event_at: v2.ended_at.or(v2.started_at).unwrap_or(v2.created_at),
            estimate: Estimate::default(),
            waiting: WaitingCalls::default(),
            title: None,
            first_message: None,
            batch: None,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct SessionRecordV1 {
    id: SessionId,
    kind: SessionKind,
    agent: AgentConfigV1,
    label: Option<String>,
    prompt: String,
    script: ScriptV1,
    budgets: Budgets,
    status: SessionStatus,
    pid: Option<u32>,
    created_at: Timestamp,
    started_at: Option<Timestamp>,
    ended_at: Option<Timestamp>,
    last_seq: u64,
    parent: Option<(SessionId, u64)>,
}

impl From<SessionRecordV1> for SessionRecord {
    fn from(v1: SessionRecordV1) -> SessionRecord {
        SessionRecord {
            id: v1.id,
            kind: v1.kind,
            agent: v1.agent.into(),
            label: v1.label,
            prompt: v1.prompt,
            script: v1.script.into(),
            budgets: v1.budgets,
            status: v1.status,
            pid: v1.pid,
            created_at: v1.created_at,
            started_at: v1.started_at,
            ended_at: v1.ended_at,
            last_seq: v1.last_seq,
            parent: v1.parent,
            totals: None,
            last_event_at: v1.ended_at.or(v1.started_at).unwrap_or(v1.created_at),
            estimate: Estimate::default(),
            waiting: WaitingCalls::default(),
            title: None,
            first_message: None,
            batch: None,
        }
    }
}

#[derive(Deserialize)]
struct ScriptPatchV1 {
    answer: Option<String>,
    chunks: Option<u32>,
    chunk_chars: Option<u32>,
    chunk_delay_ms: Option<u32>,
    fault: Option<Fault>,
    fault_after_chunks: Option<u32>,
}

#[derive(Deserialize)]
struct RunSpecV1 {
    agent: String,
    prompt: String,
    label: Option<String>,
    script: ScriptPatchV1,
    budgets: Budgets,
}

#[derive(Deserialize)]
pub(super) struct RunRecordV1 {
    session: SessionId,
    spec: RunSpecV1,
}

impl From<RunRecordV1> for RunRecord {
    fn from(v1: RunRecordV1) -> RunRecord {
        let spec = v1.spec;
        let script = spec.script;
        RunRecord {
            session: v1.session,
            spec: RunSpec {
                agent: spec.agent,
                prompt: spec.prompt,
                label: spec.label,
                script: ScriptPatch {
                    answer: script.answer,
                    chunks: script.chunks,
                    chunk_chars: script.chunk_chars,
                    chunk_delay_ms: script.chunk_delay_ms,
                    fault: script.fault,
                    fault_after_chunks: script.fault_after_chunks,
                    tool_calls: None,
                },
                budgets: spec.budgets,
                approve: Vec::new(),
                ask: AskPolicy::default(),
            },
        }
    }
}

#[derive(Deserialize)]
struct RunSpecV2 {
    agent: String,
    prompt: String,
    label: Option<String>,
    script: ScriptPatch,
    budgets: Budgets,
}

#[derive(Deserialize)]
pub(super) struct RunRecordV2 {
    session: SessionId,
    spec: RunSpecV2,
}

impl From<RunRecordV2> for RunRecord {
    fn from(v2: RunRecordV2) -> RunRecord {
        let spec = v2.spec;
        RunRecord {
            session: v2.session,
            spec: RunSpec {
                agent: spec.agent,
                prompt: spec.prompt,
                label: spec.label,
                script: spec.script,
                budgets: spec.budgets,
                approve: Vec::new(),
                ask: AskPolicy::default(),
            },
        }
    }
}

#[derive(Deserialize)]
pub(super) struct DaemonLimitsV1 {
    max_concurrent_runs: u32,
}

impl From<DaemonLimitsV1> for DaemonLimits {
    fn from(v1: DaemonLimitsV1) -> DaemonLimits {
        DaemonLimits {
            max_concurrent_runs: v1.max_concurrent_runs,
            ..DaemonLimits::default()
        }
    }
}
