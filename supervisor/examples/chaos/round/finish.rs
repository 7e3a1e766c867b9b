//! The end of a round: stopping the daemon, recovering the database if
//! it was left unreadable, and running the checks on it.

use std::collections::{HashMap, HashSet};

use anyhow::Context as _;
use protocol::SessionId;
use protocol::control::SessionSummary;
use protocol::event::EventKind;
use supervisor::store::Snapshot;

use super::Round;
use crate::check::{self, Check, Context};
use crate::daemon::Stopped;
use crate::plan::Phase;
use crate::procfs;
use crate::reference::normalise;

impl Round<'_> {
    /// Stops the daemon and runs the checks on its database and on /proc.
    ///
    /// The harness stays connected (with its follow streams) while the
    /// daemon stops, as clients do. The database must then open read-only
    /// at once; if the daemon did not stop or left the database needing
    /// repair, that is a violation, and a fresh daemon (started, then
    /// stopped with SIGTERM and no client connected) recovers the database
    /// so the other checks can still run.
    pub(super) async fn finish(&mut self) -> anyhow::Result<()> {
        let client = self.client.take().context("no connection to the daemon")?;
        let stopped = self.daemon.stop(&client).await?;
        drop(client);
        let mut recover = false;
        if let Stopped::Forced(why) = stopped {
            self.tally.fail(
                Check::Liveness,
                None,
                format!(
                    "the daemon did not stop cleanly ({why}); daemon log:\n    {}",
                    self.daemon
                        .log_excerpt(&["ERROR", "WARN"], 3)
                        .replace('\n', "\n    ")
                ),
            );
            recover = true;
        } else {
            self.tally.count(Check::Liveness, 1);
        }
        let left = procfs::workers_of(&self.dir.worker_socket());
        let result = if left.is_empty() {
            Ok(())
        } else {
            Err(format!("workers alive after the daemon stopped: {left:?}"))
        };
        self.tally.verify(Check::Group, None, result);
        if !recover {
            let opened = Snapshot::open(&self.dir.database()).map(|_| ());
            let result = opened.map_err(|err| {
                format!(
                    "after the daemon stopped on Shutdown (clients still connected), the database \
                     does not open read-only: {err}"
                )
            });
            recover = result.is_err();
            self.tally.verify(Check::Liveness, None, result);
        }
        if recover {
            self.recover_database().await?;
        }
        let db = Snapshot::open(&self.dir.database()).context("cannot open the database")?;
        self.check_database(&db)
    }

    /// Lets a fresh daemon open (and repair) the database, then stops it
    /// with SIGTERM while no client is connected.
    async fn recover_database(&mut self) -> anyhow::Result<()> {
        self.daemon
            .start_unconnected()
            .await
            .context("restart to recover the database")?;
        if !self.daemon.terminate().await? {
            anyhow::bail!("the recovery daemon did not exit on SIGTERM");
        }
        Ok(())
    }

    /// Per-session checks on the database, and a last scan of every group.
    fn check_database(&mut self, db: &Snapshot) -> anyhow::Result<()> {
        let summaries: HashMap<SessionId, SessionSummary> =
            db.sessions()?.into_iter().map(|s| (s.id, s)).collect();
        let tracks = self.tracks();
        let mut known: HashSet<SessionId> = tracks.iter().map(|t| t.id).collect();
        known.extend(self.fodder.sessions.iter().copied());
        known.extend(self.worktrees.sessions.iter().copied());
        known.extend(self.slurm.sessions());
        self.check_fodder(db)?;
        self.check_worktrees(db)?;
        self.check_slurm(db)?;
        self.check_otlp(db)?;
        for (id, summary) in &summaries {
            if !known.contains(id) {
                self.tally.fail(
                    Check::Whole,
                    Some(*id),
                    format!(
                        "session {:?} ({}) is in the database but no run was accepted for it",
                        summary.label, summary.status
                    ),
                );
            }
        }
        let mut references = HashMap::new();
        for track in tracks.iter().filter(|t| t.plan.phase == Phase::Reference) {
            let events = db.events(track.id)?;
            let completed = matches!(
                events.last().map(|e| &e.kind),
                Some(EventKind::SessionCompleted)
            );
            let result = if completed {
                if let Some(k) = track.plan.reference {
                    references.insert(k, normalise(&events));
                }
                Ok(())
            } else {
                Err(format!(
                    "fault-free reference run {} did not complete: {}",
                    check::describe(track),
                    check::names(&events)
                ))
            };
            self.tally.verify(Check::Reference, Some(track.id), result);
        }
        let ctx = Context {
            references: &references,
            kills: &self.kills,
            grace: self.cfg.settings.cancel_grace,
        };
        for track in &tracks {
            let events = db.events(track.id)?;
            self.tally.sessions += 1;
            self.tally.events += events.len() as u64;
            check::check_session(
                &mut self.tally,
                &ctx,
                track,
                summaries.get(&track.id),
                &events,
            );
            let mark = track.seen().mark.clone();
            if let Some(mark) = mark {
                let left = mark.members();
                let result = if left.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "{}: processes {left:?} of the session ({mark:?}) are alive after the round",
                        check::describe(track)
                    ))
                };
                self.tally.verify(Check::Group, Some(track.id), result);
            }
        }
        Ok(())
    }
}
