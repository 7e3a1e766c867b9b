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
//!   `SessionRecord::first_message` and `SessionRecord::batch`;
//! - run version 3: before `RunSpec::model`;
//! - run version 4: before `RunSpec::checks`;
//! - run version 5: before `RunSpec::on`.
//!
//! (A group's version 1, before `GroupRecord::caps`, is read beside it.)
//!

mod agents;
mod runs;
mod sessions;

pub(super) use agents::{
    AgentConfigV1, AgentConfigV2, AgentConfigV3, AgentConfigV4, AgentConfigV5,
};
pub(super) use runs::{
    DaemonLimitsV1, RunRecordV1, RunRecordV2, RunRecordV3, RunRecordV4, RunRecordV5,
};
pub(super) use sessions::{
    SessionRecordV1, SessionRecordV2, SessionRecordV3, SessionRecordV4, SessionRecordV5,
    SessionRecordV6, SessionRecordV7,
};
