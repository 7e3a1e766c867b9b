//! Reading groups: a group's record, its runs, their last answers.

use protocol::SessionId;
use protocol::event::EventKind;
use redb::{ReadTransaction, ReadableTable};

use super::StoreError;
use super::check::{KeyRef, Kind};
use super::query::{SessionLookup, decode_at, find_key, session_at};
use super::records::{EventRecord, GroupRecord, SessionRecord};
use super::schema::{EVENTS, GROUPS, SESSIONS};

/// A group's record with its runs, as read in one transaction.
pub(crate) struct GroupRead {
    pub(crate) record: GroupRecord,
    /// Every run of it whose record decodes, in the order queued.
    pub(crate) runs: Vec<SessionRecord>,
    /// For the page of runs asked for: each one's last answer, cut to the
    /// characters asked for, and its checks.
    pub(crate) answers: Vec<Answer>,
}

/// A run's last answer and how its checks came out.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Answer {
    /// The answer, cut to the characters asked for.
    pub(crate) text: String,
    /// Whether it was cut.
    pub(crate) cut: bool,
    /// Its `check.result`s, in order.
    pub(crate) checks: Vec<protocol::checks::CheckOutcome>,
    /// What the run changed in its own workspace (`workspace.changed`).
    pub(crate) changes: Option<protocol::workspace::Changes>,
}

/// Groups, newest first, each with its runs (no answers).
pub(crate) fn groups(txn: &ReadTransaction, limit: usize) -> Result<Vec<GroupRead>, StoreError> {
    let table = txn.open_table(GROUPS)?;
    let mut out = Vec::new();
    for row in table.iter()?.rev() {
        if out.len() >= limit {
            break;
        }
        let (key, value) = row?;
        match decode_at::<GroupRecord>(Kind::Groups, KeyRef::Session(key.value()), value.value()) {
            Ok(record) => {
                let runs = runs(txn, &record)?;
                out.push(GroupRead {
                    record,
                    runs,
                    answers: Vec::new(),
                });
            }
            Err(err) => tracing::warn!(%err, "skipped a group"),
        }
    }
    Ok(out)
}

/// The group `lookup` names, its runs, and the last answers of runs
/// `from..from + limit`, each cut to `answer_chars` characters.
pub(crate) fn group(
    txn: &ReadTransaction,
    lookup: &SessionLookup,
    from: usize,
    limit: usize,
    answer_chars: usize,
) -> Result<GroupRead, StoreError> {
    let table = txn.open_table(GROUPS)?;
    let key = find_key(&table, lookup, "group")?;
    let Some(value) = table.get(key)? else {
        return Err(StoreError::NotFound(format!(
            "no group {}",
            SessionId::from_u128(key)
        )));
    };
    let record: GroupRecord = decode_at(Kind::Groups, KeyRef::Session(key), value.value())?;
    let runs = runs(txn, &record)?;
    let mut answers = Vec::new();
    for run in runs.iter().skip(from).take(limit) {
        answers.push(last_answer(txn, run.id, answer_chars)?);
    }
    Ok(GroupRead {
        record,
        runs,
        answers,
    })
}

/// The runs of `group`: sessions from its first run on whose `batch` is
/// the group, until as many as it had queued are found. Run ids are
/// time-ordered, so a group's runs come after its first, with at most
/// what other clients started meanwhile in between.
fn runs(txn: &ReadTransaction, group: &GroupRecord) -> Result<Vec<SessionRecord>, StoreError> {
    let table = txn.open_table(SESSIONS)?;
    let mut out = Vec::new();
    for row in table.range(group.id.as_u128()..)? {
        if out.len() >= group.runs as usize {
            break;
        }
        let (key, value) = row?;
        match session_at(key.value(), value.value()) {
            Ok(record) if record.batch == Some(group.id) => out.push(record),
            Ok(_) => {}
            // Reported when the store was opened; the rest stay usable.
            Err(err) => tracing::warn!(%err, "skipped a run of a group"),
        }
    }
    Ok(out)
}

/// The text of the last `message.assistant` of `session`, cut to `chars`
/// characters (and whether it was cut; empty before one), and the
/// `check.result`s recorded after it, in order.
fn last_answer(
    txn: &ReadTransaction,
    session: SessionId,
    chars: usize,
) -> Result<Answer, StoreError> {
    let table = txn.open_table(EVENTS)?;
    let key = session.as_u128();
    let mut checks = Vec::new();
    let mut changes = None;
    for row in table.range((key, 0)..=(key, u64::MAX))?.rev() {
        let (k, value) = row?;
        let record: EventRecord =
            decode_at(Kind::Events, KeyRef::Event(key, k.value().1), value.value())?;
        match record.kind {
            EventKind::CheckResult { outcome } => checks.push(outcome),
            EventKind::WorkspaceChanged { changes: found, .. } if changes.is_none() => {
                changes = Some(found);
            }
            EventKind::MessageAssistant { text } => {
                checks.reverse();
                let (text, cut) = match text.char_indices().nth(chars) {
                    Some((cut, _)) => (text[..cut].to_owned(), true),
                    None => (text, false),
                };
                return Ok(Answer {
                    text,
                    cut,
                    checks,
                    changes,
                });
            }
            _ => {}
        }
    }
    checks.reverse();
    Ok(Answer {
        checks,
        changes,
        ..Answer::default()
    })
}
