//! Section 1: from a run request to the worker's first recorded event,
//! with and without what holds a session (its PID namespace and cgroup),
//! and a shell call with and without the sandbox, each next to the other
//! in the same run.

use std::time::Instant;

use protocol::agent::{SafetyMode, ScriptPatch, ScriptedToolCall};
use protocol::control::RunSpec;
use protocol::event::EventKind;

use crate::Sizes;
use crate::harness::{Binaries, Daemon, agent, spec};
use crate::stats::Spread;

/// Spawn latency and its baselines.
pub(crate) struct SpawnResult {
    /// Client-side: `Run` sent until `session.started` is pushed to the client.
    pub(crate) end_to_end: Spread,
    /// Daemon-side: `run.queued` to `session.started` timestamps.
    pub(crate) daemon_side: Spread,
    /// The same end to end, sessions not held (`--unheld-sessions`).
    pub(crate) unheld: Spread,
    /// fork + exec + wait of `/bin/true`.
    pub(crate) baseline: Spread,
    /// A `shell` call of `true` (`tool.started` → `tool.completed`), in
    /// the sandbox of a `workspace-write` agent.
    pub(crate) sandboxed_call: Spread,
    /// The same call of a `full` agent, unconfined.
    pub(crate) unconfined_call: Spread,
}

pub(crate) async fn measure(bins: &Binaries, sizes: Sizes) -> anyhow::Result<SpawnResult> {
    let held = Daemon::start(bins, 4, 500).await?;
    let (end_to_end, daemon_side) = spawns(&held, sizes.spawn_runs).await?;
    let unheld = Daemon::start_with(bins, 4, 500, &["--unheld-sessions"]).await?;
    let (unheld_spawn, _) = spawns(&unheld, sizes.spawn_runs).await?;
    drop(unheld);
    let mut baseline = Vec::new();
    for _ in 0..sizes.spawn_runs {
        let start = Instant::now();
        std::process::Command::new("/bin/true").status()?;
        baseline.push(start.elapsed());
    }
    let calls = sizes.spawn_runs.clamp(5, 100);
    let sandboxed_call = shell_calls(&held, SafetyMode::WorkspaceWrite, calls).await?;
    let unconfined_call = shell_calls(&held, SafetyMode::Full, calls).await?;
    Ok(SpawnResult {
        end_to_end,
        daemon_side,
        unheld: unheld_spawn,
        baseline: Spread::of(&baseline),
        sandboxed_call,
        unconfined_call,
    })
}

/// `runs` sequential runs after 5 to warm up: end to end, daemon side.
async fn spawns(daemon: &Daemon, runs: usize) -> anyhow::Result<(Spread, Spread)> {
    daemon.agent(agent("tiny", 1, 1, 0)).await?;
    let mut end_to_end = Vec::new();
    let mut daemon_side = Vec::new();
    for i in 0..runs + 5 {
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
    Ok((Spread::of(&end_to_end), Spread::of(&daemon_side)))
}

/// `calls` shell calls of `true` by an agent in `safety` mode, in one run
/// (the first one, which sets up the session's temp dirs, left out).
async fn shell_calls(daemon: &Daemon, safety: SafetyMode, calls: usize) -> anyhow::Result<Spread> {
    let name = format!("shell-{safety}");
    let mut shell = agent(&name, 1, 1, 0);
    shell.tools = vec!["shell".to_owned()];
    shell.safety = safety;
    daemon.agent(shell).await?;
    // Each call differs (`true N`), or the daemon stops them as a loop.
    let tool_calls = (0..=calls)
        .map(|i| ScriptedToolCall {
            name: "shell".to_owned(),
            arguments: format!(r#"{{"command":"true {i}"}}"#),
        })
        .collect();
    let run = RunSpec {
        script: ScriptPatch {
            tool_calls: Some(tool_calls),
            ..ScriptPatch::default()
        },
        approve: vec!["shell".parse().map_err(anyhow::Error::msg)?],
        ..spec(&name, "call the shell".to_owned())
    };
    let session = daemon.run(run).await?;
    let events = daemon
        .follow_until(session, |e| e.kind.is_terminal())
        .await?;
    let mut started = std::collections::HashMap::new();
    let mut took = Vec::new();
    for event in &events {
        match &event.kind {
            EventKind::ToolStarted { call_id, .. } => {
                started.insert(call_id.clone(), event.at);
            }
            EventKind::ToolCompleted { call_id, .. } => {
                if let Some(at) = started.get(call_id) {
                    took.push(event.at.since(*at));
                }
            }
            _ => {}
        }
    }
    anyhow::ensure!(
        took.len() == calls + 1,
        "{} of {} shell calls completed",
        took.len(),
        calls + 1
    );
    took.remove(0);
    Ok(Spread::of(&took))
}
