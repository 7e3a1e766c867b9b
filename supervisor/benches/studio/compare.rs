//! Section 5, continued: two long sessions of many steps compared side by
//! side (`Compare`, aligned in the daemon, one window of rows answered),
//! next to reading both of them whole over the socket, which any
//! comparison done in a client would need first.

use std::time::Instant;

use protocol::SessionId;
use protocol::agent::{ScriptPatch, ScriptedToolCall};
use protocol::control::{ControlRequest, ControlResponse, RowWindow, RunSpec};

use crate::Sizes;
use crate::harness::{Binaries, Daemon, agent, spec};
use crate::stats::Spread;

/// Compare against read.
pub(crate) struct CompareResult {
    /// Events of each session.
    pub(crate) events: [u64; 2],
    /// Rows of their alignment.
    pub(crate) rows: u64,
    /// Reading both, every event, in pages of 4096.
    pub(crate) read_both: Spread,
    /// Comparing them: the rows around the first divergence.
    pub(crate) compare: Spread,
    /// Comparing them: the last rows.
    pub(crate) compare_end: Spread,
}

const PAGE: u32 = 4096;

/// A run asking for `calls` tool calls (each denied by the run's policy:
/// three events), every `changed_every`th with other arguments.
fn calls_run(calls: usize, changed_every: usize) -> RunSpec {
    let tool_calls = (0..calls)
        .map(|i| ScriptedToolCall {
            name: "lookup".to_owned(),
            arguments: if changed_every > 0 && i % changed_every == changed_every - 1 {
                format!(r#"{{"n":{i},"again":true}}"#)
            } else {
                format!(r#"{{"n":{i}}}"#)
            },
        })
        .collect();
    RunSpec {
        script: ScriptPatch {
            tool_calls: Some(tool_calls),
            ..ScriptPatch::default()
        },
        ..spec("caller", "look every one up".to_owned())
    }
}

pub(crate) async fn measure(bins: &Binaries, sizes: Sizes) -> anyhow::Result<CompareResult> {
    let daemon = Daemon::start(bins, 2, 500).await?;
    daemon.agent(agent("caller", 1, 1, 0)).await?;
    let a = daemon.run(calls_run(sizes.compare_calls, 0)).await?;
    let b = daemon.run(calls_run(sizes.compare_calls, 100)).await?;
    daemon.wait_all(&[a, b]).await?;
    let events = [count(&daemon, a).await?, count(&daemon, b).await?];

    let mut read = Vec::new();
    for _ in 0..sizes.query_trials {
        let start = Instant::now();
        for session in [a, b] {
            let mut after = 0;
            loop {
                let page = daemon.events(session, after, PAGE).await?;
                let Some(last) = page.last() else { break };
                after = last.seq;
            }
        }
        read.push(start.elapsed());
    }
    let compare = |window| {
        let daemon = &daemon;
        async move {
            let mut samples = Vec::new();
            let mut rows = 0;
            for _ in 0..sizes.query_trials {
                let start = Instant::now();
                let answer = daemon
                    .client
                    .request(ControlRequest::Compare {
                        sessions: vec![a.to_string(), b.to_string()],
                        window,
                        max_rows: 300,
                    })
                    .await?;
                samples.push(start.elapsed());
                let ControlResponse::Compared(comparison) = answer else {
                    anyhow::bail!("unexpected answer {answer:?}");
                };
                anyhow::ensure!(
                    comparison.first_divergence.is_some(),
                    "the sessions should part"
                );
                rows = comparison.total_rows;
            }
            anyhow::Ok((Spread::of(&samples), rows))
        }
    };
    let (around, rows) = compare(RowWindow::AroundDivergence).await?;
    let (end, _) = compare(RowWindow::From(rows.saturating_sub(300))).await?;
    Ok(CompareResult {
        events,
        rows,
        read_both: Spread::of(&read),
        compare: around,
        compare_end: end,
    })
}

async fn count(daemon: &Daemon, session: SessionId) -> anyhow::Result<u64> {
    match daemon
        .client
        .request(ControlRequest::SessionGet {
            id: session.to_string(),
        })
        .await?
    {
        ControlResponse::Session(summary) => Ok(summary.events),
        other => anyhow::bail!("unexpected answer {other:?}"),
    }
}
