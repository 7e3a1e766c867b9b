//! Read queries, each in one read transaction.

use protocol::SessionId;
use protocol::agent::AgentConfig;
use protocol::approval::ApprovalRule;
use protocol::event::Event;
use protocol::mcp::McpServerConfig;
use redb::{ReadTransaction, ReadableTable};

use super::StoreError;
use super::records::{EventRecord, Record, RunRecord, SessionRecord};
use super::schema::{AGENTS, EVENTS, MCP_SERVERS, RULES, RUNS, SESSIONS, SETTINGS};

/// How a user named a session: a full id, or the start of one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SessionLookup {
    /// A full id.
    Exact(SessionId),
    /// Leading hex digits of an id (hyphens ignored), at least 4.
    Prefix {
        /// The digits as typed.
        text: String,
        /// Lowest key the prefix matches.
        low: u128,
        /// Highest key the prefix matches.
        high: u128,
    },
}

impl SessionLookup {
    /// Parses what a user typed.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        if let Ok(id) = text.parse::<SessionId>() {
            return Ok(Self::Exact(id));
        }
        let digits: String = text.chars().filter(|c| *c != '-').collect();
        if digits.len() < 4 || digits.len() > 32 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!(
                "{text:?} is not a session id: give the id, or at least its first 4 hex digits"
            ));
        }
        let shift = 4 * (32 - digits.len() as u32);
        let value = u128::from_str_radix(&digits, 16).map_err(|e| e.to_string())?;
        let low = value.checked_shl(shift).unwrap_or(0);
        let span = 1u128.checked_shl(shift).map_or(u128::MAX, |s| s - 1);
        Ok(Self::Prefix {
            text: text.to_owned(),
            low,
            high: low | span,
        })
    }
}

pub(crate) fn agents(txn: &ReadTransaction) -> Result<Vec<AgentConfig>, StoreError> {
    let table = txn.open_table(AGENTS)?;
    let mut out = Vec::new();
    for row in table.iter()? {
        let (_, value) = row?;
        out.push(AgentConfig::decode(value.value())?);
    }
    Ok(out)
}

pub(crate) fn agent(txn: &ReadTransaction, name: &str) -> Result<AgentConfig, StoreError> {
    let table = txn.open_table(AGENTS)?;
    match table.get(name)? {
        Some(value) => AgentConfig::decode(value.value()),
        None => Err(StoreError::NotFound(format!("no agent named {name:?}"))),
    }
}

/// Every approval rule, by id.
pub(crate) fn rules(txn: &ReadTransaction) -> Result<Vec<ApprovalRule>, StoreError> {
    let table = txn.open_table(RULES)?;
    let mut out = Vec::new();
    for row in table.iter()? {
        out.push(ApprovalRule::decode(row?.1.value())?);
    }
    Ok(out)
}

/// Every MCP server, by name.
pub(crate) fn mcp_servers(txn: &ReadTransaction) -> Result<Vec<McpServerConfig>, StoreError> {
    let table = txn.open_table(MCP_SERVERS)?;
    let mut out = Vec::new();
    for row in table.iter()? {
        out.push(McpServerConfig::decode(row?.1.value())?);
    }
    Ok(out)
}

/// The settings entry `name`, or its default when none is stored.
pub(crate) fn setting<T: Record + Default>(
    txn: &ReadTransaction,
    name: &str,
) -> Result<T, StoreError> {
    let table = txn.open_table(SETTINGS)?;
    match table.get(name)? {
        Some(value) => T::decode(value.value()),
        None => Ok(T::default()),
    }
}

/// The settings entry holding the user's prices (`CustomPrices`).
pub(crate) const PRICING: &str = "pricing";

/// The settings entry holding the stored `DaemonLimits`.
pub(crate) const LIMITS: &str = "limits";

/// The settings entry holding `IdCounters`.
pub(crate) const ID_COUNTERS: &str = "id_counters";

pub(crate) fn sessions(
    txn: &ReadTransaction,
    all: bool,
    limit: usize,
) -> Result<Vec<SessionRecord>, StoreError> {
    let table = txn.open_table(SESSIONS)?;
    let mut out = Vec::new();
    for row in table.iter()?.rev() {
        if out.len() >= limit {
            break;
        }
        let (_, value) = row?;
        let record = SessionRecord::decode(value.value())?;
        if all || !record.status.is_terminal() {
            out.push(record);
        }
    }
    Ok(out)
}

pub(crate) fn session(
    txn: &ReadTransaction,
    lookup: &SessionLookup,
) -> Result<SessionRecord, StoreError> {
    let table = txn.open_table(SESSIONS)?;
    match lookup {
        SessionLookup::Exact(id) => match table.get(id.as_u128())? {
            Some(value) => SessionRecord::decode(value.value()),
            None => Err(StoreError::NotFound(format!("no session {id}"))),
        },
        SessionLookup::Prefix { text, low, high } => {
            let mut rows = table.range(*low..=*high)?;
            let first = rows.next().ok_or_else(|| {
                StoreError::NotFound(format!("no session starts with {text:?}"))
            })??;
            if rows.next().is_some() {
                return Err(StoreError::Conflict(format!(
                    "{text:?} matches several sessions: give more digits"
                )));
            }
            SessionRecord::decode(first.1.value())
        }
    }
}

/// The run recorded for `session` (what it was started with).
pub(crate) fn run(txn: &ReadTransaction, session: SessionId) -> Result<RunRecord, StoreError> {
    let table = txn.open_table(RUNS)?;
    match table.get(session.as_u128())? {
        Some(value) => RunRecord::decode(value.value()),
        None => Err(StoreError::NotFound(format!(
            "no run was recorded for session {session}"
        ))),
    }
}

pub(crate) fn events(
    txn: &ReadTransaction,
    session: SessionId,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<Event>, StoreError> {
    let table = txn.open_table(EVENTS)?;
    let key = session.as_u128();
    let Some(first) = after_seq.checked_add(1) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for row in table.range((key, first)..=(key, u64::MAX))?.take(limit) {
        let (k, value) = row?;
        let record = EventRecord::decode(value.value())?;
        out.push(Event {
            session,
            seq: k.value().1,
            at: record.at,
            kind: record.kind,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_cover_exactly_the_ids_that_start_with_them() {
        let SessionLookup::Prefix { low, high, .. } = SessionLookup::parse("0195-f1").unwrap()
        else {
            panic!("expected a prefix");
        };
        assert_eq!(low, 0x0195_f100_0000_0000_0000_0000_0000_0000);
        assert_eq!(high, 0x0195_f1ff_ffff_ffff_ffff_ffff_ffff_ffff);
    }

    #[test]
    fn full_ids_are_exact_and_junk_is_refused() {
        let id = SessionId::new();
        assert_eq!(
            SessionLookup::parse(&id.to_string()).unwrap(),
            SessionLookup::Exact(id)
        );
        assert!(SessionLookup::parse("abc").is_err());
        assert!(SessionLookup::parse("zzzzzz").is_err());
    }
}
