//! What does not decode in the open store.
//!
//! At open every table but the events is decoded before the daemon starts
//! (they are small, and read at start anyway); the events, which can be
//! millions, are decoded by a thread of their own while the daemon already
//! serves. Damaged records are logged and remembered here, by session.
//! Nothing rewrites or deletes the damaged bytes, so the next open finds
//! them again: a quarantined session stays reported as corrupt across
//! restarts until the user salvages the file (`studio daemon salvage`).
//! Every other session is served as usual.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use protocol::control::{DamagedRecord, SessionSummary};
use protocol::event::SessionStatus;
use protocol::{SessionId, Timestamp};

use super::StoreError;
use super::cell::DbCell;
use super::check::{self, Kind};

/// The damaged records found so far, and which sessions they belong to.
#[derive(Debug, Default)]
pub(crate) struct Quarantine {
    /// Each damaged session's first damaged record.
    by_session: RwLock<HashMap<SessionId, DamagedRecord>>,
    /// The events have all been decoded.
    scanned: AtomicBool,
}

impl Quarantine {
    /// Logs `damaged` and remembers it by session.
    pub(crate) fn add(&self, damaged: Vec<DamagedRecord>) {
        log(&damaged);
        let mut by_session = self
            .by_session
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for record in damaged {
            if let Some(session) = record.session {
                by_session.entry(session).or_insert(record);
            }
        }
    }

    /// The first damaged record of `session` found so far, if any.
    pub(crate) fn session(&self, session: SessionId) -> Option<DamagedRecord> {
        self.by_session
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&session)
            .cloned()
    }

    /// Whether every event has been decoded (tests wait for it).
    #[cfg(test)]
    pub(crate) fn scanned(&self) -> bool {
        self.scanned.load(Ordering::Acquire)
    }

    /// `summary`, marked corrupt if its session has a damaged record: an
    /// ended session shows [`SessionStatus::Corrupt`]; a live one (a chat
    /// resumed since) keeps its status; both name the damage.
    pub(crate) fn mark(&self, mut summary: SessionSummary) -> SessionSummary {
        if let Some(damage) = self.session(summary.id) {
            if summary.status.is_terminal() {
                summary.status = SessionStatus::Corrupt;
                summary.pid = None;
            }
            summary.damage = Some(damage.to_string());
        }
        summary
    }
}

/// Decodes every event of the database in `db` on a thread of its own,
/// adding what does not decode to `quarantine`.
pub(super) fn scan_events(db: Arc<DbCell>, quarantine: Arc<Quarantine>) -> Result<(), StoreError> {
    let path: PathBuf = db.path().to_owned();
    std::thread::Builder::new()
        .name("store-scan".to_owned())
        .spawn(move || {
            // The transaction outlives the lock on the cell: a long scan
            // never holds up the writer reopening the file.
            match db.with(|db| Ok(redb::ReadableDatabase::begin_read(db)?)) {
                Ok(txn) => {
                    let report = check::scan(&txn, &path, &[Kind::Events], &|_| {});
                    tracing::debug!(
                        events = report.records(),
                        damaged = report.damaged.len(),
                        "every event decoded"
                    );
                    quarantine.add(report.damaged);
                }
                Err(err) => tracing::warn!(%err, "cannot decode the stored events"),
            }
            quarantine.scanned.store(true, Ordering::Release);
        })
        .map(drop)
        .map_err(|err| StoreError::Io {
            context: "cannot start the thread that decodes the events".to_owned(),
            source: err,
        })
}

/// Logs every damaged record, naming its session.
fn log(damaged: &[DamagedRecord]) {
    for record in damaged {
        match record.session {
            Some(session) => tracing::error!(
                %session,
                table = %record.table,
                key = %record.key,
                error = %record.error,
                "a record of this session does not decode: the session is quarantined as corrupt (`studio daemon salvage` copies every readable record to a new file)"
            ),
            None => tracing::error!(
                table = %record.table,
                key = %record.key,
                error = %record.error,
                "a record does not decode: it is skipped (`studio daemon salvage` copies every readable record to a new file)"
            ),
        }
    }
}
/// The summary of a session whose record does not decode: only its id,
/// and the creation time a v7 id carries, are known.
pub(crate) fn unreadable_summary(id: SessionId, damage: &DamagedRecord) -> SessionSummary {
    // A v7 id starts with its creation time in milliseconds since the epoch.
    let created_ms = (id.as_u128() >> 80) as u64;
    let created_at = Timestamp(created_ms.saturating_mul(1000));
    SessionSummary {
        id,
        agent: "?".to_owned(),
        label: None,
        title: String::new(),
        status: SessionStatus::Corrupt,
        pid: None,
        rss_bytes: None,
        events: 0,
        created_at,
        started_at: None,
        ended_at: None,
        parent: None,
        branched_at: None,
        interactive: false,
        totals: None,
        estimated: Default::default(),
        waiting: None,
        batch: None,
        last_activity: created_at,
        damage: Some(damage.to_string()),
        job: None,
    }
}
