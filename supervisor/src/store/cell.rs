//! The open database, and reopening it after an I/O error.
//!
//! After a failed commit (a full disk, say) redb refuses every further
//! transaction until the database is closed and opened again; the last
//! committed state is intact. [`DbCell`] lets the writer do that while
//! readers wait on the lock instead of holding the file open. While
//! commits fail, the cell also says since when and why ([`Stall`]), so
//! clients can be told instead of waiting in silence.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError, RwLock};

use protocol::Timestamp;
use redb::Database;

use super::StoreError;

/// The writer cannot commit: since when, and the last error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Stall {
    /// The first failed commit of this stall.
    pub(crate) since: Timestamp,
    /// The last commit's error.
    pub(crate) error: String,
}

/// The database file and its open handle (none while reopening failed).
pub(super) struct DbCell {
    path: PathBuf,
    db: RwLock<Option<Database>>,
    stall: Mutex<Option<Stall>>,
}

impl DbCell {
    pub(super) fn new(path: &Path, db: Database) -> DbCell {
        DbCell {
            path: path.to_owned(),
            db: RwLock::new(Some(db)),
            stall: Mutex::new(None),
        }
    }

    /// The current stall, if commits are failing.
    pub(super) fn stall(&self) -> Option<Stall> {
        self.stall
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A commit failed with `error`. The first error of a stall is kept:
    /// later ones are often its consequence ("the store is closed" while
    /// reopening fails on the same full disk).
    pub(super) fn commit_failed(&self, error: &str) {
        let mut stall = self.stall.lock().unwrap_or_else(PoisonError::into_inner);
        if stall.is_none() {
            *stall = Some(Stall {
                since: Timestamp::now(),
                error: error.to_owned(),
            });
        }
    }

    /// A commit went through.
    pub(super) fn committed(&self) {
        let mut stall = self.stall.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(ended) = stall.take() {
            tracing::info!(since = %ended.since, "the store writes again");
        }
    }

    /// The database file.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the open database.
    pub(super) fn with<T>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let guard = self.db.read().unwrap_or_else(PoisonError::into_inner);
        match guard.as_ref() {
            Some(db) => f(db),
            None => Err(StoreError::Closed),
        }
    }

    /// Compacts the file until nothing more can be given back, waiting
    /// for every reader to finish first (and holding off new ones).
    pub(super) fn compact(&self) -> Result<(), StoreError> {
        let mut guard = self.db.write().unwrap_or_else(PoisonError::into_inner);
        let db = guard.as_mut().ok_or(StoreError::Closed)?;
        while db
            .compact()
            .map_err(|err| StoreError::Storage(err.into()))?
        {}
        Ok(())
    }

    /// Closes the database for good; later reads and writes fail.
    pub(super) fn close(&self) {
        drop(
            self.db
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
    }

    /// Closes the database and opens it again.
    pub(super) fn reopen(&self) -> Result<(), StoreError> {
        let mut guard = self.db.write().unwrap_or_else(PoisonError::into_inner);
        // Close first: redb holds a lock on the file while it is open.
        drop(guard.take());
        let db = Database::create(&self.path).map_err(|source| StoreError::Open {
            path: self.path.clone(),
            source,
        })?;
        *guard = Some(db);
        Ok(())
    }
}
