//! Section 6: runs whose workers are Slurm jobs (the single-host cluster
//! of `scripts/slurm`, which `scripts/bench` brings up) next to local
//! runs of the same daemon in the same run: launch latency, throughput of
//! many runs at once, and durable ingest from a worker that dialed in over
//! TLS next to one on the local socket.

use std::time::{Duration, Instant};

use protocol::agent::{Fault, ScriptPatch};
use protocol::control::{ControlRequest, ControlResponse, RunSpec};
use protocol::event::EventKind;
use protocol::launch::Launcher;

use crate::Sizes;
use crate::harness::{Binaries, Daemon, agent, spec};
use crate::stats::Spread;

/// The figures, local next to Slurm.
pub(crate) struct SlurmResult {
    /// `Run` sent until `session.started` is pushed, local.
    pub(crate) launch_local: Spread,
    /// The same through Slurm: `sbatch`, the scheduler, the job, TLS.
    pub(crate) launch_slurm: Spread,
    /// Runs submitted at once in the throughput rows.
    pub(crate) batch: usize,
    /// Runs completed per second, `batch` at once, local.
    pub(crate) throughput_local: f64,
    /// The same through Slurm.
    pub(crate) throughput_slurm: f64,
    /// Events one flooding worker sent.
    pub(crate) events: u64,
    /// Committed events per second from a worker on the local socket.
    pub(crate) ingest_local: f64,
    /// The same from a worker that dialed in over TLS.
    pub(crate) ingest_remote: f64,
}

fn slurm() -> Option<Launcher> {
    Some(Launcher::Slurm { partition: None })
}

pub(crate) async fn measure(bins: &Binaries, sizes: Sizes) -> anyhow::Result<SlurmResult> {
    anyhow::ensure!(
        std::env::var_os("SLURM_CONF").is_some(),
        "no Slurm cluster: scripts/bench brings one up (scripts/slurm up)"
    );
    let daemon = Daemon::start_with(bins, 16, 500, &["--worker-listen", "127.0.0.1:0"]).await?;
    daemon.agent(agent("tiny", 1, 1, 0)).await?;
    let runs = sizes.slurm_runs;
    let launch_local = launches(&daemon, runs, None).await?;
    let launch_slurm = launches(&daemon, runs, slurm()).await?;
    let batch = runs.max(4);
    let throughput_local = throughput(&daemon, batch, None).await?;
    let throughput_slurm = throughput(&daemon, batch, slurm()).await?;
    daemon.agent(agent("flood", 1, 1, 0)).await?;
    let events = sizes.ingest_events_per_worker;
    let ingest_local = ingest(&daemon, events, None).await?;
    let ingest_remote = ingest(&daemon, events, slurm()).await?;
    Ok(SlurmResult {
        launch_local,
        launch_slurm,
        batch,
        throughput_local,
        throughput_slurm,
        events,
        ingest_local,
        ingest_remote,
    })
}

/// `runs` sequential runs on `on` (after 2 to warm up): until
/// `session.started`.
async fn launches(daemon: &Daemon, runs: usize, on: Option<Launcher>) -> anyhow::Result<Spread> {
    let mut took = Vec::new();
    for i in 0..runs + 2 {
        let start = Instant::now();
        let session = daemon
            .run(RunSpec {
                on: on.clone(),
                ..spec("tiny", format!("launch {i}"))
            })
            .await?;
        daemon
            .follow_until(session, |e| {
                matches!(e.kind, EventKind::SessionStarted { .. }) || e.kind.is_terminal()
            })
            .await?;
        let elapsed = start.elapsed();
        daemon
            .follow_until(session, |e| e.kind.is_terminal())
            .await?;
        if i >= 2 {
            took.push(elapsed);
        }
    }
    Ok(Spread::of(&took))
}

/// `batch` runs on `on` submitted at once: runs completed per second.
async fn throughput(daemon: &Daemon, batch: usize, on: Option<Launcher>) -> anyhow::Result<f64> {
    let specs = (0..batch)
        .map(|i| RunSpec {
            on: on.clone(),
            ..spec("tiny", format!("many {i}"))
        })
        .collect();
    let start = Instant::now();
    let sessions = daemon.run_all(specs).await?;
    let completed = daemon.wait_all(&sessions).await?;
    anyhow::ensure!(completed == batch, "{completed} of {batch} runs completed");
    Ok(batch as f64 / start.elapsed().as_secs_f64().max(1e-9))
}

/// One worker on `on` flooding `events` chunks: committed events per
/// second, from its first event to its last.
async fn ingest(daemon: &Daemon, events: u64, on: Option<Launcher>) -> anyhow::Result<f64> {
    let session = daemon
        .run(RunSpec {
            script: ScriptPatch {
                fault: Some(Fault::Flood { events }),
                fault_after_chunks: Some(0),
                ..ScriptPatch::default()
            },
            on,
            ..spec("flood", "flood".to_owned())
        })
        .await?;
    let seen = daemon
        .follow_until(session, |e| e.kind.is_terminal())
        .await?;
    let started = seen
        .iter()
        .find(|e| matches!(e.kind, EventKind::SessionStarted { .. }))
        .map(|e| e.at);
    let ended = seen.last().map(|e| e.at);
    let (Some(started), Some(ended)) = (started, ended) else {
        anyhow::bail!("the flood did not run");
    };
    let committed = match daemon
        .client
        .request(ControlRequest::SessionGet {
            id: session.to_string(),
        })
        .await?
    {
        ControlResponse::Session(s) => s.events,
        other => anyhow::bail!("unexpected answer {other:?}"),
    };
    let took: Duration = ended.since(started);
    Ok(committed as f64 / took.as_secs_f64().max(1e-9))
}
