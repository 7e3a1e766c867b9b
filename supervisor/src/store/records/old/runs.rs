//! Run records and daemon limits in the shapes earlier releases wrote
//! (see the parent module).

use protocol::SessionId;
use protocol::agent::{Budgets, Fault, ScriptPatch};
use protocol::approval::{AskPolicy, RuleMatch};
use protocol::control::RunSpec;
use serde::Deserialize;

use crate::store::records::{DaemonLimits, RunRecord};

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
pub(in crate::store::records) struct RunRecordV1 {
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
                model: None,
                approve: Vec::new(),
                ask: AskPolicy::default(),
                checks: Vec::new(),
                on: None,
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
pub(in crate::store::records) struct RunRecordV2 {
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
                model: None,
                approve: Vec::new(),
                ask: AskPolicy::default(),
                checks: Vec::new(),
                on: None,
            },
        }
    }
}

#[derive(Deserialize)]
struct RunSpecV3 {
    agent: String,
    prompt: String,
    label: Option<String>,
    script: ScriptPatch,
    budgets: Budgets,
    approve: Vec<RuleMatch>,
    ask: AskPolicy,
}

#[derive(Deserialize)]
pub(in crate::store::records) struct RunRecordV3 {
    session: SessionId,
    spec: RunSpecV3,
}

impl From<RunRecordV3> for RunRecord {
    fn from(v3: RunRecordV3) -> RunRecord {
        let spec = v3.spec;
        RunRecord {
            session: v3.session,
            spec: RunSpec {
                agent: spec.agent,
                prompt: spec.prompt,
                label: spec.label,
                script: spec.script,
                budgets: spec.budgets,
                model: None,
                approve: spec.approve,
                ask: spec.ask,
                checks: Vec::new(),
                on: None,
            },
        }
    }
}

#[derive(Deserialize)]
struct RunSpecV4 {
    agent: String,
    prompt: String,
    label: Option<String>,
    script: ScriptPatch,
    budgets: Budgets,
    model: Option<String>,
    approve: Vec<RuleMatch>,
    ask: AskPolicy,
}

/// Version 4: before `RunSpec::checks`.
#[derive(Deserialize)]
pub(in crate::store::records) struct RunRecordV4 {
    session: SessionId,
    spec: RunSpecV4,
}

impl From<RunRecordV4> for RunRecord {
    fn from(v4: RunRecordV4) -> RunRecord {
        let spec = v4.spec;
        RunRecord {
            session: v4.session,
            spec: RunSpec {
                agent: spec.agent,
                prompt: spec.prompt,
                label: spec.label,
                script: spec.script,
                budgets: spec.budgets,
                model: spec.model,
                approve: spec.approve,
                ask: spec.ask,
                checks: Vec::new(),
                on: None,
            },
        }
    }
}

#[derive(Deserialize)]
struct RunSpecV5 {
    agent: String,
    prompt: String,
    label: Option<String>,
    script: ScriptPatch,
    budgets: Budgets,
    model: Option<String>,
    approve: Vec<RuleMatch>,
    ask: AskPolicy,
    checks: Vec<protocol::checks::Check>,
}

/// Version 5: before `RunSpec::on`.
#[derive(Deserialize)]
pub(in crate::store::records) struct RunRecordV5 {
    session: SessionId,
    spec: RunSpecV5,
}

impl From<RunRecordV5> for RunRecord {
    fn from(v5: RunRecordV5) -> RunRecord {
        let spec = v5.spec;
        RunRecord {
            session: v5.session,
            spec: RunSpec {
                agent: spec.agent,
                prompt: spec.prompt,
                label: spec.label,
                script: spec.script,
                budgets: spec.budgets,
                model: spec.model,
                approve: spec.approve,
                ask: spec.ask,
                checks: spec.checks,
                on: None,
            },
        }
    }
}

#[derive(Deserialize)]
pub(in crate::store::records) struct DaemonLimitsV1 {
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
