//! Retention: which sessions and groups a deletion or a gc removes
//! ([`Doomed`], planned in a read transaction); the writer removes them
//! (`removal::delete_in`).
//!
//! A session goes with every session that goes on from it (its branches
//! and replays, recursively): their conversations begin with its events.
//! A group goes when it has no run left. A live session is never removed:
//! a deletion that names one is refused, a gc leaves it (and what it goes
//! on from) alone, and the writer checks again, in the transaction that
//! removes it, that it has ended. Each session goes whole, with its run
//! record and every event, in one transaction: a daemon killed halfway
//! through a gc leaves each session either whole or gone.

use std::collections::{HashMap, HashSet};

use protocol::{SessionId, Timestamp};
use redb::{ReadTransaction, ReadableTable};

use super::query::session_at;
use super::records::{GroupRecord, Record, SessionRecord};
use super::schema::{GROUPS, SESSIONS};
use super::writer::WriteOp;
use super::{Store, StoreError};

/// How old a group without a run must be to be taken for the leftover of
/// an interrupted gc rather than a group whose runs are being queued.
const ABANDONED_AFTER_MICROS: u64 = 3600 * 1_000_000;

/// What a deletion or a gc removes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Doomed {
    /// The sessions, named ones and those going on from them, oldest first.
    pub(crate) sessions: Vec<SessionId>,
    /// How many of them were not named but go on from one that was.
    pub(crate) descendants: u32,
    /// Each of `sessions` with its group, if any.
    pub(crate) batches: Vec<(SessionId, Option<SessionId>)>,
    /// Groups left without a run.
    pub(crate) groups: Vec<SessionId>,
    /// Events of the sessions.
    pub(crate) events: u64,
    /// Sessions that would go but are live (a deletion is refused then).
    pub(crate) live: Vec<SessionId>,
}

impl Doomed {
    /// The removal in commits of about `per_commit` sessions each: a group
    /// goes in the commit that removes its last runs (all of them
    /// together), so no group is ever left without runs.
    pub(crate) fn commits(&self, per_commit: usize) -> Vec<(Vec<SessionId>, Vec<SessionId>)> {
        let groups: HashSet<SessionId> = self.groups.iter().copied().collect();
        let mut units: Vec<(Vec<SessionId>, Vec<SessionId>)> = Vec::new();
        let mut of_group: HashMap<SessionId, usize> = HashMap::new();
        for (id, batch) in &self.batches {
            match batch.filter(|g| groups.contains(g)) {
                Some(group) => {
                    let unit = *of_group.entry(group).or_insert_with(|| {
                        units.push((Vec::new(), vec![group]));
                        units.len() - 1
                    });
                    units[unit].0.push(*id);
                }
                None => units.push((vec![*id], Vec::new())),
            }
        }
        // Groups none of whose runs go (what an older release left).
        let leftover: Vec<SessionId> = self
            .groups
            .iter()
            .filter(|g| !of_group.contains_key(g))
            .copied()
            .collect();
        if !leftover.is_empty() {
            units.push((Vec::new(), leftover));
        }
        let mut commits: Vec<(Vec<SessionId>, Vec<SessionId>)> = Vec::new();
        for (sessions, groups) in units {
            match commits.last_mut() {
                Some(last) if last.0.len() + sessions.len() <= per_commit => {
                    last.0.extend(sessions);
                    last.1.extend(groups);
                }
                _ => commits.push((sessions, groups)),
            }
        }
        commits
    }
}

/// Every session record, and who goes on from whom.
struct Index {
    records: HashMap<SessionId, SessionRecord>,
    children: HashMap<SessionId, Vec<SessionId>>,
}

fn index(txn: &ReadTransaction) -> Result<Index, StoreError> {
    let table = txn.open_table(SESSIONS)?;
    let mut records = HashMap::new();
    let mut children: HashMap<SessionId, Vec<SessionId>> = HashMap::new();
    for row in table.iter()? {
        let (key, value) = row?;
        // A record that does not decode is left to `daemon salvage`.
        let Ok(record) = session_at(key.value(), value.value()) else {
            continue;
        };
        if let Some((parent, _)) = record.parent {
            children.entry(parent).or_default().push(record.id);
        }
        records.insert(record.id, record);
    }
    Ok(Index { records, children })
}

impl Index {
    /// `roots` and every session going on from one of them.
    fn with_descendants(&self, roots: &[SessionId]) -> Vec<SessionId> {
        let mut seen: HashSet<SessionId> = HashSet::new();
        let mut stack: Vec<SessionId> = roots.to_vec();
        while let Some(id) = stack.pop() {
            if self.records.contains_key(&id) && seen.insert(id) {
                stack.extend(self.children.get(&id).into_iter().flatten().copied());
            }
        }
        let mut all: Vec<SessionId> = seen.into_iter().collect();
        all.sort();
        all
    }

    /// The plan for removing `sessions` (`named` of them asked for), with
    /// the groups left without a run (and `groups` asked for by name).
    fn doomed(
        &self,
        sessions: Vec<SessionId>,
        named: usize,
        txn: &ReadTransaction,
    ) -> Result<Doomed, StoreError> {
        let going: HashSet<SessionId> = sessions.iter().copied().collect();
        let mut runs_left: HashMap<SessionId, u32> = HashMap::new();
        for record in self.records.values() {
            if let Some(group) = record.batch
                && !going.contains(&record.id)
            {
                *runs_left.entry(group).or_default() += 1;
            }
        }
        let losing: HashSet<SessionId> = sessions
            .iter()
            .filter_map(|id| self.records.get(id)?.batch)
            .collect();
        // A group without runs is a new one whose runs are being queued,
        // unless it is old: what a gc cut short left behind.
        let abandoned = Timestamp(Timestamp::now().0.saturating_sub(ABANDONED_AFTER_MICROS));
        let mut groups = Vec::new();
        for row in txn.open_table(GROUPS)?.iter()? {
            let (key, value) = row?;
            let group = SessionId::from_u128(key.value());
            if runs_left.contains_key(&group) {
                continue;
            }
            let old = GroupRecord::decode(value.value()).is_ok_and(|g| g.created_at < abandoned);
            if losing.contains(&group) || old {
                groups.push(group);
            }
        }
        let events = sessions
            .iter()
            .filter_map(|id| self.records.get(id))
            .map(|r| r.last_seq)
            .sum();
        let live = sessions
            .iter()
            .filter(|id| {
                self.records
                    .get(id)
                    .is_some_and(|r| !r.status.is_terminal())
            })
            .copied()
            .collect();
        let batches = sessions
            .iter()
            .map(|id| (*id, self.records.get(id).and_then(|r| r.batch)))
            .collect();
        Ok(Doomed {
            batches,
            descendants: u32::try_from(sessions.len().saturating_sub(named)).unwrap_or(u32::MAX),
            sessions,
            groups,
            events,
            live,
        })
    }
}

impl Store {
    /// What deleting `roots` would remove.
    pub(crate) async fn plan_delete(&self, roots: Vec<SessionId>) -> Result<Doomed, StoreError> {
        self.read(move |txn| plan_delete(txn, &roots)).await
    }

    /// What a gc of sessions ended before `cutoff` would remove.
    pub(crate) async fn plan_gc(&self, cutoff: Timestamp) -> Result<Doomed, StoreError> {
        self.read(move |txn| plan_gc(txn, cutoff)).await
    }

    /// Removes the sessions that have ended among `sessions`, and `groups`,
    /// in one transaction.
    pub(crate) async fn delete(
        &self,
        sessions: Vec<SessionId>,
        groups: Vec<SessionId>,
    ) -> Result<(), StoreError> {
        self.send_acked(|ack| WriteOp::Delete {
            sessions,
            groups,
            ack,
        })
        .await
    }

    /// Compacts the file between two commits (writes wait meanwhile).
    pub(crate) async fn compact(&self) -> Result<(), StoreError> {
        self.send_acked(|ack| WriteOp::Compact { ack }).await
    }

    /// The database file's size in bytes.
    pub(crate) fn file_bytes(&self) -> u64 {
        std::fs::metadata(self.db.path()).map_or(0, |m| m.len())
    }
}

/// What deleting `roots` removes: them, what goes on from them, and the
/// groups that are left without a run.
pub(crate) fn plan_delete(
    txn: &ReadTransaction,
    roots: &[SessionId],
) -> Result<Doomed, StoreError> {
    let index = index(txn)?;
    let named = roots
        .iter()
        .filter(|id| index.records.contains_key(id))
        .count();
    let sessions = index.with_descendants(roots);
    index.doomed(sessions, named, txn)
}

/// What a gc with `cutoff` removes: every session that ended before it,
/// unless something that goes on from it is kept (a newer branch, a live
/// replay), and groups left without a run.
pub(crate) fn plan_gc(txn: &ReadTransaction, cutoff: Timestamp) -> Result<Doomed, StoreError> {
    let index = index(txn)?;
    let mut going: HashSet<SessionId> = index
        .records
        .values()
        .filter(|r| r.status.is_terminal() && r.ended_at.unwrap_or(r.last_event_at) < cutoff)
        .map(|r| r.id)
        .collect();
    // Keep whatever a kept session goes on from, up its whole line.
    loop {
        let kept_parents: Vec<SessionId> = index
            .records
            .values()
            .filter(|r| !going.contains(&r.id))
            .filter_map(|r| r.parent.map(|(parent, _)| parent))
            .filter(|parent| going.contains(parent))
            .collect();
        if kept_parents.is_empty() {
            break;
        }
        for parent in kept_parents {
            going.remove(&parent);
        }
    }
    let mut sessions: Vec<SessionId> = going.into_iter().collect();
    sessions.sort();
    let named = sessions.len();
    index.doomed(sessions, named, txn)
}
