//! Session records in the shapes earlier releases wrote (see the parent
//! module): versions 1 to 7.

use protocol::agent::{Budgets, Script};
use protocol::control::SessionTotals;
use protocol::event::SessionStatus;
use protocol::{SessionId, Timestamp};
use serde::Deserialize;

use super::agents::{
    AgentConfigV1, AgentConfigV2, AgentConfigV3, AgentConfigV4, AgentConfigV5, ScriptV1,
};
use crate::store::records::estimate::Estimate;
use crate::store::records::waiting::WaitingCalls;
use crate::store::records::{SessionKind, SessionRecord};

/// Session version 7, whose agent bincode wrote in its version 5 shape.
#[derive(Deserialize)]
pub(in crate::store::records) struct SessionRecordV7 {
    id: SessionId,
    kind: SessionKind,
    agent: AgentConfigV5,
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
    estimate: Estimate,
    waiting: WaitingCalls,
    title: Option<String>,
    first_message: Option<String>,
    batch: Option<SessionId>,
}

impl From<SessionRecordV7> for SessionRecord {
    fn from(v7: SessionRecordV7) -> SessionRecord {
        SessionRecord {
            id: v7.id,
            kind: v7.kind,
            agent: v7.agent.into(),
            label: v7.label,
            prompt: v7.prompt,
            script: v7.script,
            budgets: v7.budgets,
            status: v7.status,
            pid: v7.pid,
            created_at: v7.created_at,
            started_at: v7.started_at,
            ended_at: v7.ended_at,
            last_seq: v7.last_seq,
            parent: v7.parent,
            totals: v7.totals,
            last_event_at: v7.last_event_at,
            estimate: v7.estimate,
            waiting: v7.waiting,
            title: v7.title,
            first_message: v7.first_message,
            batch: v7.batch,
        }
    }
}

#[derive(Deserialize)]
pub(in crate::store::records) struct SessionRecordV6 {
    id: SessionId,
    kind: SessionKind,
    agent: AgentConfigV5,
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
            agent: v6.agent.into(),
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
pub(in crate::store::records) struct SessionRecordV5 {
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
pub(in crate::store::records) struct SessionRecordV4 {
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
pub(in crate::store::records) struct SessionRecordV3 {
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
pub(in crate::store::records) struct SessionRecordV2 {
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
pub(in crate::store::records) struct SessionRecordV1 {
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
