//! Section 2: many runs at once.

use std::time::{Duration, Instant};

use crate::Sizes;
use crate::harness::{self, Binaries, Daemon, agent, spec};
use crate::stats::median;

/// Figures for one N.
pub(crate) struct ConcurrencyResult {
    pub(crate) runs: usize,
    /// All N submitted at once until all ended.
    pub(crate) wall: Duration,
    pub(crate) failures: usize,
    /// Daemon plus workers, per run.
    pub(crate) cpu_per_run: f64,
    pub(crate) daemon_peak_rss: u64,
    /// Medians over the live workers, sampled while all N stream slowly.
    pub(crate) worker_rss: u64,
    pub(crate) worker_pss: u64,
    /// Drop of MemAvailable while N slow runs are live, per run.
    pub(crate) mem_available_drop_per_run: i64,
}

/// Chunks in the fixed answer.
pub(crate) const CHUNKS: u32 = 100;

pub(crate) async fn measure(
    bins: &Binaries,
    sizes: Sizes,
) -> anyhow::Result<Vec<ConcurrencyResult>> {
    let mut out = Vec::new();
    for &n in sizes.concurrency {
        let daemon = Daemon::start(bins, n, 500).await?;
        daemon.agent(agent("burst", CHUNKS, 8, 0)).await?;
        daemon.agent(agent("slow", CHUNKS, 8, 50)).await?;
        // Warm the page cache and the daemon.
        let warm = daemon
            .run_all((0..4).map(|i| spec("burst", format!("warm {i}"))).collect())
            .await?;
        daemon.wait_all(&warm).await?;

        let pid = daemon.pid();
        harness::reset_peak_rss(pid);
        let cpu_before = harness::cpu_with_children(pid);
        let start = Instant::now();
        let sessions = daemon
            .run_all(
                (0..n)
                    .map(|i| spec("burst", format!("burst {i}")))
                    .collect(),
            )
            .await?;
        let completed = daemon.wait_all(&sessions).await?;
        let wall = start.elapsed();
        // Reaped workers' CPU lands in the daemon's cutime/cstime.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let cpu = harness::cpu_with_children(pid) - cpu_before;
        let daemon_peak_rss = harness::peak_rss(pid).unwrap_or(0);

        let available_before = harness::mem_available();
        let slow = daemon
            .run_all((0..n).map(|i| spec("slow", format!("slow {i}"))).collect())
            .await?;
        let (worker_rss, worker_pss, available_during) = sample_live(&daemon, n).await?;
        daemon.wait_all(&slow).await?;
        out.push(ConcurrencyResult {
            runs: n,
            wall,
            failures: n - completed,
            cpu_per_run: cpu / n as f64,
            daemon_peak_rss,
            worker_rss,
            worker_pss,
            mem_available_drop_per_run: (available_before as i64 - available_during as i64)
                / n as i64,
        });
    }
    Ok(out)
}

/// Waits until `n` workers are live, then samples their memory.
async fn sample_live(daemon: &Daemon, n: usize) -> anyhow::Result<(u64, u64, u64)> {
    use protocol::control::{ControlRequest, ControlResponse};
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ControlResponse::Sessions(live) = daemon
            .client
            .request(ControlRequest::SessionList {
                all: false,
                limit: 100_000,
            })
            .await?
        else {
            anyhow::bail!("unexpected answer");
        };
        let pids: Vec<u32> = live.iter().filter_map(|s| s.pid).collect();
        if pids.len() >= n || Instant::now() > deadline {
            // Let the last ones settle into their steady state.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let available = harness::mem_available();
            let rss: Vec<f64> = pids
                .iter()
                .filter_map(|p| harness::rss(*p))
                .map(|b| b as f64)
                .collect();
            let pss: Vec<f64> = pids
                .iter()
                .filter_map(|p| harness::pss(*p))
                .map(|b| b as f64)
                .collect();
            return Ok((median(&rss) as u64, median(&pss) as u64, available));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
