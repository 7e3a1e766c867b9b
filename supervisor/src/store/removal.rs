//! Removing ended sessions (record, run record, every event) and groups
//! in the writer's transaction: what `WriteOp::Delete` does.

use protocol::SessionId;
use redb::{ReadableTable, Table};

use super::StoreError;
use super::records::{Record, SessionRecord};

/// Removes each of `sessions` that has ended (its record, run record and
/// events) and each of `groups`, in the writer's transaction; says which
/// sessions went. `skip` holds sessions this transaction wrote to: they
/// are live and stay.
pub(super) fn delete_in(
    tables: DeleteTables<'_, '_>,
    sessions: &[SessionId],
    groups: &[SessionId],
    skip: &dyn Fn(u128) -> bool,
) -> Result<Vec<SessionId>, StoreError> {
    let DeleteTables {
        sessions: session_table,
        events,
        runs,
        groups: group_table,
    } = tables;
    let mut removed = Vec::new();
    for id in sessions {
        let key = id.as_u128();
        if skip(key) {
            continue;
        }
        let ended = match session_table.get(key)? {
            Some(bytes) => {
                SessionRecord::decode(bytes.value()).is_ok_and(|r| r.status.is_terminal())
            }
            None => false,
        };
        if !ended {
            continue;
        }
        session_table.remove(key)?;
        runs.remove(key)?;
        events.retain_in((key, 0)..=(key, u64::MAX), |_, _| false)?;
        removed.push(*id);
    }
    for group in groups {
        group_table.remove(group.as_u128())?;
    }
    Ok(removed)
}

/// The tables a deletion writes.
pub(super) struct DeleteTables<'a, 'txn> {
    pub(super) sessions: &'a mut Table<'txn, u128, &'static [u8]>,
    pub(super) events: &'a mut Table<'txn, (u128, u64), &'static [u8]>,
    pub(super) runs: &'a mut Table<'txn, u128, &'static [u8]>,
    pub(super) groups: &'a mut Table<'txn, u128, &'static [u8]>,
}
