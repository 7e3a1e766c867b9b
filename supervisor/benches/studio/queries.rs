//! Section 5: reading a huge session and listing many sessions.

use std::time::{Duration, Instant};

use protocol::agent::{Fault, ScriptPatch};
use protocol::control::{ControlRequest, ControlResponse, RunSpec};

use crate::Sizes;
use crate::harness::{Binaries, Daemon, agent, spec};
use crate::stats::Spread;

/// Query latencies (client round trips).
pub(crate) struct QueryResult {
    pub(crate) session_events: u64,
    pub(crate) page_start: Spread,
    pub(crate) page_middle: Spread,
    pub(crate) page_end: Spread,
    pub(crate) sessions: usize,
    pub(crate) list_sessions: Spread,
}

const PAGE: u32 = 200;

pub(crate) async fn measure(bins: &Binaries, sizes: Sizes) -> anyhow::Result<QueryResult> {
    let daemon = Daemon::start(bins, 2, 500).await?;
    daemon.agent(agent("flood", 1, 1, 0)).await?;
    let big = daemon
        .run(RunSpec {
            script: ScriptPatch {
                fault: Some(Fault::Flood {
                    events: sizes.big_session_events,
                }),
                fault_after_chunks: Some(0),
                ..ScriptPatch::default()
            },
            ..spec("flood", "a very long session".to_owned())
        })
        .await?;
    daemon.wait_all(&[big]).await?;
    let ControlResponse::Session(summary) = daemon
        .client
        .request(ControlRequest::SessionGet {
            id: big.to_string(),
        })
        .await?
    else {
        anyhow::bail!("unexpected answer");
    };
    let total = summary.events;
    let page = |after: u64| {
        let daemon = &daemon;
        async move {
            let mut samples = Vec::new();
            for _ in 0..sizes.query_trials {
                let start = Instant::now();
                let events = daemon.events(big, after, PAGE).await?;
                samples.push(start.elapsed());
                anyhow::ensure!(
                    events.len() == PAGE as usize,
                    "short page: {}",
                    events.len()
                );
            }
            anyhow::Ok(Spread::of(&samples))
        }
    };
    let page_start = page(0).await?;
    let page_middle = page(total / 2).await?;
    let page_end = page(total - u64::from(PAGE)).await?;
    drop(daemon);

    // Many sessions: one run holds the only slot, the rest wait queued.
    let daemon = Daemon::start(bins, 1, 500).await?;
    daemon.agent(agent("hold", 100_000, 1, 50)).await?;
    daemon.agent(agent("queued", 1, 1, 0)).await?;
    daemon
        .run(spec("hold", "holds the slot".to_owned()))
        .await?;
    let mut submitted = 0;
    while submitted < sizes.many_sessions {
        let batch = (sizes.many_sessions - submitted).min(500);
        daemon
            .run_all(
                (0..batch)
                    .map(|i| spec("queued", format!("queued {}", submitted + i)))
                    .collect(),
            )
            .await?;
        submitted += batch;
    }
    let mut samples = Vec::new();
    let mut listed = 0;
    for _ in 0..sizes.query_trials.min(20) {
        let start = Instant::now();
        let ControlResponse::Sessions(sessions) = daemon
            .client
            .request(ControlRequest::SessionList {
                all: true,
                limit: u32::try_from(sizes.many_sessions + 10).unwrap_or(u32::MAX),
            })
            .await?
        else {
            anyhow::bail!("unexpected answer");
        };
        samples.push(start.elapsed());
        listed = sessions.len();
    }
    // Shutting down interrupts the queue; give it a moment before the kill.
    let _ = tokio::time::timeout(
        Duration::from_secs(10),
        daemon.client.request(ControlRequest::Shutdown),
    )
    .await;
    Ok(QueryResult {
        session_events: total,
        page_start,
        page_middle,
        page_end,
        sessions: listed,
        list_sessions: Spread::of(&samples),
    })
}
