//! Read queries, each in one read transaction.

use protocol::SessionId;
use protocol::agent::AgentConfig;
use protocol::approval::ApprovalRule;
use protocol::control::SessionSummary;
use protocol::event::Event;
use protocol::mcp::McpServerConfig;
use redb::{ReadTransaction, ReadableTable};

use super::StoreError;
use super::check::{self, KeyRef, Kind};
use super::quarantine::unreadable_summary;
use super::records::{EventRecord, Record, RunRecord, SessionRecord};
use super::schema::{AGENTS, EVENTS, MCP_SERVERS, RULES, RUNS, SESSIONS, SETTINGS};

/// How a user named a session: a full id, or the start of one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SessionLookup {
    /// A full id.
    Exact(SessionId),
    /// Leading hex digits of an id (hyphens ignored), at least 4; or,
    /// with exactly 8, its short form ([`SessionId::short`]).
    Prefix {
        /// The digits as typed.
        text: String,
        /// Lowest key the prefix matches.
        low: u128,
        /// Highest key the prefix matches.
        high: u128,
        /// The last 32 bits, when the digits may be a short id.
        short: Option<u32>,
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
                "{text:?} is not a session id: give the id, its short form (last 8 hex digits), or at least its first 4 hex digits"
            ));
        }
        let short = (digits.len() == 8)
            .then(|| u32::from_str_radix(&digits, 16).ok())
            .flatten();
        let shift = 4 * (32 - digits.len() as u32);
        let value = u128::from_str_radix(&digits, 16).map_err(|e| e.to_string())?;
        let low = value.checked_shl(shift).unwrap_or(0);
        let span = 1u128.checked_shl(shift).map_or(u128::MAX, |s| s - 1);
        Ok(Self::Prefix {
            text: text.to_owned(),
            low,
            high: low | span,
            short,
        })
    }
}

/// Decodes the value stored under `key` in `kind`'s table; one that does
/// not decode is [`StoreError::Damaged`], naming the table and key.
pub(super) fn decode_at<R: Record>(
    kind: Kind,
    key: KeyRef<'_>,
    bytes: &[u8],
) -> Result<R, StoreError> {
    R::decode(bytes).map_err(|err| StoreError::Damaged(check::damaged(kind, &key, err.to_string())))
}

/// Decodes every value of a table of named records, skipping (and
/// logging) those that do not decode: they were reported when the store
/// was opened, and the rest must stay usable.
fn decode_named<R: Record>(
    kind: Kind,
    table: &redb::ReadOnlyTable<&'static str, &'static [u8]>,
) -> Result<Vec<R>, StoreError> {
    let mut out = Vec::new();
    for row in table.iter()? {
        let (key, value) = row?;
        match decode_at(kind, KeyRef::Name(key.value()), value.value()) {
            Ok(record) => out.push(record),
            Err(err) => tracing::warn!(%err, "skipped"),
        }
    }
    Ok(out)
}

/// Every agent that decodes, by name.
pub(crate) fn agents(txn: &ReadTransaction) -> Result<Vec<AgentConfig>, StoreError> {
    decode_named(Kind::Agents, &txn.open_table(AGENTS)?)
}

pub(crate) fn agent(txn: &ReadTransaction, name: &str) -> Result<AgentConfig, StoreError> {
    let table = txn.open_table(AGENTS)?;
    match table.get(name)? {
        Some(value) => decode_at(Kind::Agents, KeyRef::Name(name), value.value()),
        None => Err(StoreError::NotFound(format!("no agent named {name:?}"))),
    }
}

/// Every approval rule that decodes, by id.
pub(crate) fn rules(txn: &ReadTransaction) -> Result<Vec<ApprovalRule>, StoreError> {
    decode_named(Kind::Rules, &txn.open_table(RULES)?)
}

/// Every MCP server that decodes, by name.
pub(crate) fn mcp_servers(txn: &ReadTransaction) -> Result<Vec<McpServerConfig>, StoreError> {
    decode_named(Kind::McpServers, &txn.open_table(MCP_SERVERS)?)
}

/// The settings entry `name`, or its default when none is stored or the
/// stored one does not decode.
pub(crate) fn setting<T: Record + Default>(
    txn: &ReadTransaction,
    name: &str,
) -> Result<T, StoreError> {
    let table = txn.open_table(SETTINGS)?;
    let Some(value) = table.get(name)? else {
        return Ok(T::default());
    };
    match decode_at(Kind::Settings, KeyRef::Name(name), value.value()) {
        Err(StoreError::Damaged(damage)) => {
            // The damage was reported at open; the daemon goes on with the
            // default until the setting is changed again.
            tracing::warn!(%damage, "using the default instead");
            Ok(T::default())
        }
        decoded => decoded,
    }
}

/// Summaries of sessions, newest first; one whose record does not decode
/// is listed as corrupt (it has ended, as far as anyone can tell).
pub(crate) fn sessions(
    txn: &ReadTransaction,
    all: bool,
    limit: usize,
) -> Result<Vec<SessionSummary>, StoreError> {
    let table = txn.open_table(SESSIONS)?;
    let mut out = Vec::new();
    for row in table.iter()?.rev() {
        if out.len() >= limit {
            break;
        }
        let (key, value) = row?;
        let summary = match session_at(key.value(), value.value()) {
            Ok(record) => record.summary(),
            Err(StoreError::Damaged(damage)) => {
                unreadable_summary(SessionId::from_u128(key.value()), &damage)
            }
            Err(err) => return Err(err),
        };
        if all || !summary.status.is_terminal() {
            out.push(summary);
        }
    }
    Ok(out)
}

/// Decodes the session record stored under `key`.
pub(super) fn session_at(key: u128, bytes: &[u8]) -> Result<SessionRecord, StoreError> {
    let at = KeyRef::Session(key);
    let record: SessionRecord = decode_at(Kind::Sessions, at, bytes)?;
    if record.id.as_u128() != key {
        let error = check::misplaced(record.id);
        return Err(StoreError::Damaged(check::damaged(
            Kind::Sessions,
            &at,
            error,
        )));
    }
    Ok(record)
}

pub(crate) fn session(
    txn: &ReadTransaction,
    lookup: &SessionLookup,
) -> Result<SessionRecord, StoreError> {
    let table = txn.open_table(SESSIONS)?;
    let key = find_key(&table, lookup, "session")?;
    match table.get(key)? {
        Some(value) => session_at(key, value.value()),
        None => Err(StoreError::NotFound(format!(
            "no session {}",
            SessionId::from_u128(key)
        ))),
    }
}

/// The key of the one row of `table` (keyed by session id) that `lookup`
/// names; `what` the table holds, for the errors.
pub(super) fn find_key(
    table: &redb::ReadOnlyTable<u128, &'static [u8]>,
    lookup: &SessionLookup,
    what: &str,
) -> Result<u128, StoreError> {
    match lookup {
        SessionLookup::Exact(id) => match table.get(id.as_u128())? {
            Some(_) => Ok(id.as_u128()),
            None => Err(StoreError::NotFound(format!("no {what} {id}"))),
        },
        SessionLookup::Prefix {
            text,
            low,
            high,
            short,
        } => {
            let mut keys = Vec::new();
            for row in table.range(*low..=*high)?.take(2) {
                keys.push(row?.0.value());
            }
            if let Some(short) = short {
                for row in table.iter()? {
                    let key = row?.0.value();
                    if key as u32 == *short && !keys.contains(&key) {
                        keys.push(key);
                    }
                }
            }
            match keys[..] {
                [] => Err(StoreError::NotFound(format!(
                    "no {what} starts or ends with {text:?}"
                ))),
                [key] => Ok(key),
                _ => Err(StoreError::Conflict(format!(
                    "{text:?} matches several {what}s: give more digits"
                ))),
            }
        }
    }
}

/// The run recorded for `session` (what it was started with).
pub(crate) fn run(txn: &ReadTransaction, session: SessionId) -> Result<RunRecord, StoreError> {
    let table = txn.open_table(RUNS)?;
    match table.get(session.as_u128())? {
        Some(value) => decode_at(
            Kind::Runs,
            KeyRef::Session(session.as_u128()),
            value.value(),
        ),
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
        let seq = k.value().1;
        let record: EventRecord = decode_at(Kind::Events, KeyRef::Event(key, seq), value.value())?;
        out.push(Event {
            session,
            seq,
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
