//! Section 1: from a run request to the worker's first recorded event.

use std::time::Instant;

use protocol::event::EventKind;

use crate::Sizes;
use crate::harness::{Binaries, Daemon, agent, spec};
use crate::stats::Spread;

/// Spawn latency and its baseline.
pub(crate) struct SpawnResult {
    /// Client-side: `Run` sent until `session.started` is pushed to the client.
    pub(crate) end_to_end: Spread,
    /// Daemon-side: `run.queued` to `session.started` timestamps.
    pub(crate) daemon_side: Spread,
    /// fork + exec + wait of `/bin/true`.
    pub(crate) baseline: Spread,
}

pub(crate) async fn measure(bins: &Binaries, sizes: Sizes) -> anyhow::Result<SpawnResult> {
    let daemon = Daemon::start(bins, 4, 500).await?;
    daemon.agent(agent("tiny", 1, 1, 0)).await?;
    let mut end_to_end = Vec::new();
    let mut daemon_side = Vec::new();
    for i in 0..sizes.spawn_runs + 5 {
        let start = Instant::now();
        let session = daemon.run(spec("tiny", format!("spawn {i}"))).await?;
        let seen = daemon
            .follow_until(session, |e| {
                matches!(e.kind, EventKind::SessionStarted { .. })
            })
            .await?;
        let elapsed = start.elapsed();
        daemon
            .follow_until(session, |e| e.kind.is_terminal())
            .await?;
        if i < 5 {
            continue; // warm-up
        }
        end_to_end.push(elapsed);
        if let (Some(first), Some(started)) = (seen.first(), seen.last()) {
            daemon_side.push(started.at.since(first.at));
        }
    }
    let mut baseline = Vec::new();
    for _ in 0..sizes.spawn_runs {
        let start = Instant::now();
        std::process::Command::new("/bin/true").status()?;
        baseline.push(start.elapsed());
    }
    Ok(SpawnResult {
        end_to_end: Spread::of(&end_to_end),
        daemon_side: Spread::of(&daemon_side),
        baseline: Spread::of(&baseline),
    })
}
