//! What the tables hold, and how values are versioned.
//!
//! Every stored value is one version byte followed by the record's bincode
//! payload. Decoding dispatches on the version, so a database written by an
//! older release still opens: when a record changes shape, keep the old
//! struct, bump [`Record::VERSION`], and convert in [`Record::decode_version`].
//! `tests/fixtures` pins the bytes of every current version.

mod estimate;
mod group;
mod old;
mod waiting;

pub(crate) use estimate::Estimate;
pub(crate) use group::GroupRecord;
pub(crate) use waiting::WaitingCalls;

use protocol::agent::{AgentConfig, Budgets, Script};
use protocol::approval::ApprovalRule;
use protocol::codec::{decode_payload, encode_payload};
use protocol::control::{ModelPrice, RunSpec, SessionSummary, SessionTotals};
use protocol::event::{EventKind, SessionStatus};
use protocol::{Secret, SessionId, Timestamp};
use serde::{Deserialize, Serialize};
use studio_client::human::first_line;

use super::StoreError;

/// A value stored in a table.
pub(crate) trait Record: Sized + Serialize {
    /// Version written by this release.
    const VERSION: u8;
    /// Table name, for error messages.
    const WHAT: &'static str;

    /// Decodes a payload written with `version`.
    fn decode_version(version: u8, payload: &[u8]) -> Result<Self, String>;

    /// Version byte + payload.
    fn encode(&self) -> Result<Vec<u8>, StoreError> {
        let payload = encode_payload(self).map_err(|err| StoreError::Encode {
            what: Self::WHAT,
            detail: err.to_string(),
        })?;
        let mut out = Vec::with_capacity(payload.len() + 1);
        out.push(Self::VERSION);
        out.extend_from_slice(&payload);
        Ok(out)
    }

    /// Decodes a stored value of any known version.
    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let corrupt = |detail: String| StoreError::Corrupt {
            what: Self::WHAT,
            detail,
        };
        let (&version, payload) = bytes
            .split_first()
            .ok_or_else(|| corrupt("empty value".to_owned()))?;
        if version > Self::VERSION {
            return Err(corrupt(format!(
                "record version {version} is newer than this release understands ({}); upgrade studio",
                Self::VERSION
            )));
        }
        Self::decode_version(version, payload).map_err(corrupt)
    }
}

/// Decodes an older version's struct and converts it.
fn decode_old<Old, T>(payload: &[u8]) -> Result<T, String>
where
    Old: serde::de::DeserializeOwned + Into<T>,
{
    decode_payload::<Old>(payload)
        .map(Into::into)
        .map_err(|err| err.to_string())
}

fn decode_current<T: serde::de::DeserializeOwned>(
    expected: u8,
    version: u8,
    payload: &[u8],
) -> Result<T, String> {
    if version != expected {
        return Err(format!("unknown record version {version}"));
    }
    decode_payload(payload).map_err(|err| err.to_string())
}

/// From version 6 an agent is kept as JSON text, not bincode: a field
/// added to [`AgentConfig`] with a default decodes from older text as it
/// is. The version still goes up with the text it writes (7: with
/// `display_name`; 8: with `daily_caps`; 9: with `workspace_per_run`;
/// 10: with `on`), so that each release's bytes stay pinned.
impl Record for AgentConfig {
    const VERSION: u8 = 10;
    const WHAT: &'static str = "agent";

    fn encode(&self) -> Result<Vec<u8>, StoreError> {
        let json = serde_json::to_vec(self).map_err(|err| StoreError::Encode {
            what: Self::WHAT,
            detail: err.to_string(),
        })?;
        let mut out = Vec::with_capacity(json.len() + 1);
        out.push(Self::VERSION);
        out.extend_from_slice(&json);
        Ok(out)
    }

    fn decode_version(version: u8, payload: &[u8]) -> Result<Self, String> {
        match version {
            1 => decode_old::<old::AgentConfigV1, _>(payload),
            2 => decode_old::<old::AgentConfigV2, _>(payload),
            3 => decode_old::<old::AgentConfigV3, _>(payload),
            4 => decode_old::<old::AgentConfigV4, _>(payload),
            5 => decode_old::<old::AgentConfigV5, _>(payload),
            6..=10 => serde_json::from_slice(payload).map_err(|err| err.to_string()),
            _ => Err(format!("unknown record version {version}")),
        }
    }
}

/// An agent inside another record, as JSON text (see [`AgentConfig`]'s
/// [`Record`] implementation for why).
mod agent_as_json {
    use protocol::agent::AgentConfig;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(agent: &AgentConfig, to: S) -> Result<S::Ok, S::Error> {
        let text = serde_json::to_string(agent).map_err(serde::ser::Error::custom)?;
        to.serialize_str(&text)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(from: D) -> Result<AgentConfig, D::Error> {
        let text = String::deserialize(from)?;
        serde_json::from_str(&text).map_err(serde::de::Error::custom)
    }
}

/// Whether a session is a headless run or an interactive chat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum SessionKind {
    /// Started by `studio run`; ends after its turn.
    Run,
    /// Started by `studio chat`; waits for more input between turns.
    Chat,
}

/// A row of the sessions table: what the session is and where it stands.
///
/// The status fields are derived from the events as they are committed,
/// in the same transaction, so they never disagree with the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct SessionRecord {
    pub(crate) id: SessionId,
    pub(crate) kind: SessionKind,
    /// Snapshot of the agent's configuration when the session was created
    /// (as JSON text: see [`AgentConfig`]'s [`Record`] implementation).
    #[serde(with = "agent_as_json")]
    pub(crate) agent: AgentConfig,
    pub(crate) label: Option<String>,
    /// The first user input.
    pub(crate) prompt: String,
    /// The effective script (agent's, patched by the run).
    pub(crate) script: Script,
    /// The effective budgets (agent's, overridden by the run).
    pub(crate) budgets: Budgets,
    pub(crate) status: SessionStatus,
    /// Worker pid while live, kept after the end for diagnostics.
    pub(crate) pid: Option<u32>,
    pub(crate) created_at: Timestamp,
    pub(crate) started_at: Option<Timestamp>,
    pub(crate) ended_at: Option<Timestamp>,
    /// Seq of the last recorded event (0 when none).
    pub(crate) last_seq: u64,
    /// Session this one was branched from, and at which seq.
    pub(crate) parent: Option<(SessionId, u64)>,
    /// Tokens and cost so far (`None` when recorded by a release that did
    /// not keep them).
    pub(crate) totals: Option<SessionTotals>,
    /// When the last event was recorded.
    pub(crate) last_event_at: Timestamp,
    /// What responses without reported usage are estimated to have spent.
    pub(crate) estimate: Estimate,
    /// Tool calls waiting for a person.
    pub(crate) waiting: WaitingCalls,
    /// The title a person gave it (`None`: its first message is its title).
    pub(crate) title: Option<String>,
    /// The first line of its first user message, shortened.
    pub(crate) first_message: Option<String>,
    /// The batch it was queued in: the batch's first run.
    pub(crate) batch: Option<SessionId>,
}

impl Record for SessionRecord {
    /// 9: its agent's text may hold a `display_name`; 10: `daily_caps`;
    /// 11: `workspace_per_run`; 12: `on` (versions 8 to 11 read the same
    /// way).
    const VERSION: u8 = 12;
    const WHAT: &'static str = "session";

    fn decode_version(version: u8, payload: &[u8]) -> Result<Self, String> {
        match version {
            1 => decode_old::<old::SessionRecordV1, _>(payload),
            2 => decode_old::<old::SessionRecordV2, _>(payload),
            3 => decode_old::<old::SessionRecordV3, _>(payload),
            4 => decode_old::<old::SessionRecordV4, _>(payload),
            5 => decode_old::<old::SessionRecordV5, _>(payload),
            6 => decode_old::<old::SessionRecordV6, _>(payload),
            7 => decode_old::<old::SessionRecordV7, _>(payload),
            8..=11 => decode_payload(payload).map_err(|err| err.to_string()),
            _ => decode_current(Self::VERSION, version, payload),
        }
    }
}

impl SessionRecord {
    /// A new session of `agent` (its budgets and script as they are), with
    /// a fresh id, created at `now`, nothing recorded yet; its model's
    /// `price` prices the estimates.
    pub(crate) fn new(
        kind: SessionKind,
        agent: AgentConfig,
        status: SessionStatus,
        now: Timestamp,
        price: Option<ModelPrice>,
    ) -> Self {
        Self {
            estimate: Estimate::new(price, agent.system_prompt.len()),
            waiting: WaitingCalls::default(),
            title: None,
            first_message: None,
            batch: None,
            id: SessionId::new(),
            kind,
            budgets: agent.budgets.clone(),
            script: agent.script.clone(),
            agent,
            label: None,
            prompt: String::new(),
            status,
            pid: None,
            created_at: now,
            started_at: None,
            ended_at: None,
            last_seq: 0,
            parent: None,
            totals: Some(SessionTotals::default()),
            last_event_at: now,
        }
    }

    /// Updates the derived fields for `kind` recorded at `seq`, `at`.
    /// Returns whether the status changed (or the session began or
    /// stopped waiting for a person).
    pub(crate) fn apply(&mut self, seq: u64, at: Timestamp, kind: &EventKind) -> bool {
        self.last_seq = seq;
        self.last_event_at = at;
        if let Some(totals) = &mut self.totals {
            totals.add(kind);
        }
        self.estimate.apply(kind);
        let waiting_changed = self.waiting.apply(at, kind);
        if let EventKind::MessageUser { text } = kind
            && self.first_message.is_none()
        {
            self.first_message = Some(first_line(text, TITLE_CHARS));
        }
        if let EventKind::SessionStarted { pid, .. } | EventKind::SessionResumed { pid } = kind {
            self.pid = Some(*pid);
            self.started_at = Some(at);
            // A resumed session lives again.
            self.ended_at = None;
        }
        match kind.status_after() {
            Some(status) if status != self.status => {
                self.status = status;
                if status.is_terminal() {
                    self.ended_at = Some(at);
                }
                true
            }
            _ => waiting_changed,
        }
    }

    /// Its status as people see it: a running session whose calls wait for
    /// a person is waiting.
    pub(crate) fn shown_status(&self) -> SessionStatus {
        match self.waiting.summary() {
            Some(_) if self.status == SessionStatus::Running => SessionStatus::Waiting,
            _ => self.status,
        }
    }

    /// The row `studio ps` shows; live figures are filled in by the caller.
    pub(crate) fn summary(&self) -> SessionSummary {
        SessionSummary {
            id: self.id,
            agent: self.agent.name.clone(),
            label: self.label.clone(),
            status: self.shown_status(),
            pid: (!self.status.is_terminal()).then_some(self.pid).flatten(),
            rss_bytes: None,
            events: self.last_seq,
            created_at: self.created_at,
            started_at: self.started_at,
            ended_at: self.ended_at,
            parent: self.parent.map(|(id, _)| id),
            branched_at: self.parent.map(|(_, at)| at),
            interactive: self.kind == SessionKind::Chat,
            totals: self.totals.clone(),
            estimated: self.estimate.estimated(),
            waiting: self.waiting.summary(),
            batch: self.batch,
            title: self
                .title
                .clone()
                .or_else(|| self.first_message.clone())
                // Recorded before first messages were kept: a run's prompt.
                .unwrap_or_else(|| first_line(&self.prompt, TITLE_CHARS)),
            last_activity: self.last_event_at,
            damage: None,
            job: None,
        }
    }
}

/// Longest title derived from a first message, in characters.
pub(crate) const TITLE_CHARS: usize = 80;

/// A row of the runs table: the request a headless run was made from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct RunRecord {
    pub(crate) session: SessionId,
    pub(crate) spec: RunSpec,
}

impl Record for RunRecord {
    /// 6: with `RunSpec::on`.
    const VERSION: u8 = 6;
    const WHAT: &'static str = "run";

    fn decode_version(version: u8, payload: &[u8]) -> Result<Self, String> {
        match version {
            1 => decode_old::<old::RunRecordV1, _>(payload),
            2 => decode_old::<old::RunRecordV2, _>(payload),
            3 => decode_old::<old::RunRecordV3, _>(payload),
            4 => decode_old::<old::RunRecordV4, _>(payload),
            5 => decode_old::<old::RunRecordV5, _>(payload),
            _ => decode_current(Self::VERSION, version, payload),
        }
    }
}

/// A row of the secrets table: a provider's API key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct StoredKey {
    pub(crate) key: Secret,
    pub(crate) stored_at: Timestamp,
}

impl Record for StoredKey {
    const VERSION: u8 = 1;
    const WHAT: &'static str = "key";

    fn decode_version(version: u8, payload: &[u8]) -> Result<Self, String> {
        decode_current(Self::VERSION, version, payload)
    }
}

impl Record for ApprovalRule {
    const VERSION: u8 = 1;
    const WHAT: &'static str = "rule";

    fn decode_version(version: u8, payload: &[u8]) -> Result<Self, String> {
        decode_current(Self::VERSION, version, payload)
    }
}

impl Record for protocol::mcp::McpServerConfig {
    const VERSION: u8 = 1;
    const WHAT: &'static str = "MCP server";

    fn decode_version(version: u8, payload: &[u8]) -> Result<Self, String> {
        decode_current(Self::VERSION, version, payload)
    }
}

impl Record for crate::pricing::CustomPrices {
    const VERSION: u8 = 1;
    const WHAT: &'static str = "pricing";

    fn decode_version(version: u8, payload: &[u8]) -> Result<Self, String> {
        decode_current(Self::VERSION, version, payload)
    }
}

/// The daemon's limits as last set by a user; they outlive restarts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DaemonLimits {
    /// Most headless runs live at once.
    pub(crate) max_concurrent_runs: u32,
    /// Most interactive sessions live at once.
    pub(crate) max_live_chats: u32,
}

impl Default for DaemonLimits {
    fn default() -> Self {
        Self {
            max_concurrent_runs: DEFAULT_MAX_CONCURRENT_RUNS,
            max_live_chats: DEFAULT_MAX_LIVE_CHATS,
        }
    }
}

/// Concurrent runs when no limit was set.
pub(crate) const DEFAULT_MAX_CONCURRENT_RUNS: u32 = 16;
/// Live interactive sessions when no limit was set.
pub(crate) const DEFAULT_MAX_LIVE_CHATS: u32 = 32;

impl Record for DaemonLimits {
    const VERSION: u8 = 2;
    const WHAT: &'static str = "limits";

    fn decode_version(version: u8, payload: &[u8]) -> Result<Self, String> {
        match version {
            1 => decode_old::<old::DaemonLimitsV1, _>(payload),
            _ => decode_current(Self::VERSION, version, payload),
        }
    }
}

/// Where the daemon sends ended turns as traces (`studio otlp set`), kept
/// in [`super::schema::SETTINGS`]; the header values are in the secret
/// store (`otlp`), only their names are here.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct OtlpExportSetting {
    /// The OTLP/HTTP traces URL; `None`: export is off.
    pub(crate) url: Option<String>,
    /// The names of the headers, in the order their values are stored.
    pub(crate) header_names: Vec<String>,
    /// Every turn that ended before this was sent (or ended before export
    /// was set): where a restarted daemon goes on from.
    pub(crate) sent_before: Timestamp,
}

impl Record for OtlpExportSetting {
    const VERSION: u8 = 1;
    const WHAT: &'static str = "otlp export";

    fn decode_version(version: u8, payload: &[u8]) -> Result<Self, String> {
        decode_current(Self::VERSION, version, payload)
    }
}

/// The highest approval-rule and pending-approval numbers ever given out,
/// so that neither is given out twice, not even by the next daemon:
/// recorded decisions name their rule by id, and a person may still hold
/// an old approval number (`studio approve 7`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IdCounters {
    /// The number of the last rule added (`r{last_rule}`).
    pub(crate) last_rule: u64,
    /// The number of the last tool call parked for a person.
    pub(crate) last_approval: u64,
}

impl Record for IdCounters {
    const VERSION: u8 = 1;
    const WHAT: &'static str = "id counters";

    fn decode_version(version: u8, payload: &[u8]) -> Result<Self, String> {
        decode_current(Self::VERSION, version, payload)
    }
}

/// A row of the events table; the key holds the session and seq.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct EventRecord {
    pub(crate) at: Timestamp,
    pub(crate) kind: EventKind,
}

impl Record for EventRecord {
    const VERSION: u8 = 1;
    const WHAT: &'static str = "event";

    fn decode_version(version: u8, payload: &[u8]) -> Result<Self, String> {
        decode_current(Self::VERSION, version, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_with_their_version_byte() {
        let record = EventRecord {
            at: Timestamp(42),
            kind: EventKind::MessageUser { text: "hi".into() },
        };
        let bytes = record.encode().unwrap();
        assert_eq!(bytes[0], EventRecord::VERSION);
        assert_eq!(EventRecord::decode(&bytes).unwrap(), record);
    }

    #[test]
    fn an_agent_kept_as_json_takes_the_defaults_of_fields_it_lacks() {
        let mut bytes = vec![AgentConfig::VERSION];
        bytes.extend_from_slice(br#"{"name": "older", "model": "m-1"}"#);
        let agent = AgentConfig::decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            agent,
            AgentConfig {
                model: "m-1".into(),
                ..AgentConfig::scripted("older")
            }
        );
        let mut session = vec![SessionRecord::VERSION];
        session.extend_from_slice(b"not bincode");
        assert!(SessionRecord::decode(&session).is_err());
    }

    #[test]
    fn newer_and_garbage_records_are_clear_errors() {
        let mut bytes = AgentConfig::scripted("a").encode().unwrap();
        bytes[0] = AgentConfig::VERSION + 1;
        let err = AgentConfig::decode(&bytes).unwrap_err().to_string();
        assert!(err.contains("newer than this release"), "{err}");
        let err = AgentConfig::decode(&[]).unwrap_err().to_string();
        assert!(err.contains("empty value"), "{err}");
        let err = AgentConfig::decode(&[1, 0xff, 0xff])
            .unwrap_err()
            .to_string();
        assert!(err.contains("corrupt agent record"), "{err}");
    }
}
