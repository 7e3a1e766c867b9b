//! Section 4: how fast kill and cancel take effect.

use std::time::{Duration, Instant};

use protocol::agent::{Fault, ScriptPatch};
use protocol::control::{ControlRequest, RunSpec};
use protocol::event::EventKind;

use crate::Sizes;
use crate::harness::{Binaries, Daemon, agent, group_members, spec};
use crate::stats::Spread;

/// Latencies of stopping a session.
pub(crate) struct ControlResult {
    /// `Kill` sent until the terminal event is recorded and the group is empty.
    pub(crate) kill: Spread,
    /// `Cancel` sent until the terminal event is pushed, worker cooperating.
    pub(crate) cancel_cooperative: Spread,
    /// The same for a worker blocked in `hang` (killed after the grace period).
    pub(crate) cancel_hang: Spread,
    /// The same for a worker burning CPU in `spin`.
    pub(crate) cancel_spin: Spread,
    pub(crate) grace: Duration,
}

const GRACE_MS: u64 = 200;

pub(crate) async fn measure(bins: &Binaries, sizes: Sizes) -> anyhow::Result<ControlResult> {
    let daemon = Daemon::start(bins, 8, GRACE_MS).await?;
    daemon.agent(agent("slow", 100_000, 4, 20)).await?;
    let faulty = |fault: Fault, i: usize| RunSpec {
        script: ScriptPatch {
            fault: Some(fault),
            fault_after_chunks: Some(1),
            ..ScriptPatch::default()
        },
        ..spec("slow", format!("{fault} {i}"))
    };
    let mut kill = Vec::new();
    let mut cooperative = Vec::new();
    let mut hang = Vec::new();
    let mut spin = Vec::new();
    for i in 0..sizes.control_trials {
        kill.push(stop(&daemon, spec("slow", format!("kill {i}")), true).await?);
        cooperative.push(stop(&daemon, spec("slow", format!("cancel {i}")), false).await?);
        hang.push(stop(&daemon, faulty(Fault::Hang, i), false).await?);
        spin.push(stop(&daemon, faulty(Fault::Spin, i), false).await?);
    }
    Ok(ControlResult {
        kill: Spread::of(&kill),
        cancel_cooperative: Spread::of(&cooperative),
        cancel_hang: Spread::of(&hang),
        cancel_spin: Spread::of(&spin),
        grace: Duration::from_millis(GRACE_MS),
    })
}

/// Starts a run, waits until it streams, stops it, and times the stop.
async fn stop(daemon: &Daemon, spec: RunSpec, kill: bool) -> anyhow::Result<Duration> {
    let session = daemon.run(spec).await?;
    let seen = daemon
        .follow_until(session, |e| {
            matches!(e.kind, EventKind::LlmResponseChunk { .. })
        })
        .await?;
    let pid = seen
        .iter()
        .find_map(|e| match e.kind {
            EventKind::SessionStarted { pid, .. } => Some(pid),
            _ => None,
        })
        .ok_or_else(|| anyhow::anyhow!("no session.started"))?;
    // Let a fault strike after its first chunk.
    tokio::time::sleep(Duration::from_millis(30)).await;
    let start = Instant::now();
    if kill {
        // Answered once the terminal event is recorded.
        daemon
            .client
            .request(ControlRequest::Kill { session })
            .await?;
        while !group_members(pid).is_empty() {
            tokio::task::yield_now().await;
        }
    } else {
        daemon
            .client
            .request(ControlRequest::Cancel { session })
            .await?;
        daemon
            .follow_until(session, |e| e.kind.is_terminal())
            .await?;
    }
    Ok(start.elapsed())
}
