//! Drawing a round's plan from its seed.

use std::time::Duration;

use protocol::agent::{Budgets, Fault, ScriptPatch, ScriptedToolCall};
use protocol::approval::RuleMatch;
use protocol::control::RunSpec;

use super::{
    AGENTS, Action, ActionKind, Attack, CancelFlood, FaultKind, Phase, RoundPlan, RunPlan,
    SHELL_AGENT, Socket, Trigger,
};
use crate::rng::Rng;

/// Milliseconds as a [`Duration`].
fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Words prompts are made of.
const WORDS: [&str; 12] = [
    "signals", "queues", "budgets", "frames", "sockets", "groups", "commits", "floods", "disks",
    "restarts", "cancels", "panics",
];

/// A fixed answer with multi-byte characters, chunked on char boundaries.
const UNICODE_ANSWER: &str = "Ünïcödé survives: naïve café, 東京, Ελληνικά, emoji 🦀🔥, and a \
     long tail of plain ASCII so the chunks cross many boundaries ✓";

impl RoundPlan {
    /// The plan of round `round` drawn from `rng`.
    pub fn draw(round: u32, rng: &mut Rng) -> RoundPlan {
        let (clean_specs, long_specs) = clean_specs(round, rng);
        let mut storm = storm_runs(rng, &clean_specs, &long_specs);
        rng.shuffle(&mut storm);
        storm.sort_by_key(|r| r.submit_at);
        let flood = CancelFlood {
            at: ms(rng.range(900, 2500)),
            copies: rng.range_u32(2, 4),
        };
        let mut attacks = Vec::new();
        for _ in 0..2 {
            let at = rng.range(300, 4000);
            for (socket, attack) in attack_batch(rng) {
                attacks.push((ms(at + rng.range(0, 200)), socket, attack));
            }
        }
        attacks.sort_by_key(|a| a.0);
        let mut polls: Vec<Duration> = (0..8).map(|_| ms(rng.range(200, 5000))).collect();
        polls.sort();
        let kill_runs = kill_runs(rng, &clean_specs, &long_specs);
        let disk_runs = disk_runs(rng, &clean_specs, &long_specs);
        RoundPlan {
            clean_specs,
            storm,
            flood,
            attacks,
            connection_flood: ms(rng.range(500, 4000)),
            polls,
            kill_runs,
            kill_after: ms(rng.range(900, 1800)),
            disk_runs,
            hold_full: ms(rng.range(500, 2000)),
            runs_while_full: rng.range_u32(1, 2),
        }
    }
}

/// The reference set: short specs, one with a fixed Unicode answer, and
/// two long ones; returns them and the indexes of the long ones.
fn clean_specs(round: u32, rng: &mut Rng) -> (Vec<RunSpec>, Vec<usize>) {
    let mut specs = Vec::new();
    for k in 0..4 {
        let patch = ScriptPatch {
            chunks: Some(rng.range_u32(8, 40)),
            chunk_chars: Some(rng.range_u32(4, 24)),
            chunk_delay_ms: Some(rng.range_u32(5, 25)),
            ..ScriptPatch::default()
        };
        specs.push(spec(rng, round, k, patch));
    }
    let unicode = ScriptPatch {
        answer: Some(UNICODE_ANSWER.to_owned()),
        chunk_chars: Some(rng.range_u32(1, 7)),
        chunk_delay_ms: Some(rng.range_u32(5, 15)),
        ..ScriptPatch::default()
    };
    specs.push(spec(rng, round, 4, unicode));
    let mut long = Vec::new();
    for k in 5..7 {
        let patch = ScriptPatch {
            chunks: Some(rng.range_u32(80, 120)),
            chunk_chars: Some(rng.range_u32(8, 16)),
            chunk_delay_ms: Some(rng.range_u32(20, 25)),
            ..ScriptPatch::default()
        };
        long.push(specs.len());
        specs.push(spec(rng, round, k, patch));
    }
    (specs, long)
}

/// A run spec of a random agent with a fully specified script.
fn spec(rng: &mut Rng, round: u32, k: usize, script: ScriptPatch) -> RunSpec {
    let agent = rng.pick(&AGENTS).map_or("chaos-a", |a| a.0);
    let word = rng.pick(&WORDS).copied().unwrap_or("chaos");
    RunSpec {
        agent: agent.to_owned(),
        prompt: format!("chaos round {round} spec {k}: tell me about {word}"),
        label: Some(format!("r{round}-spec{k}")),
        script,
        budgets: Budgets::default(),
        ..RunSpec::default()
    }
}

/// A run of clean spec `k`.
fn clean_run(phase: Phase, specs: &[RunSpec], k: usize, submit_at: Duration) -> RunPlan {
    RunPlan {
        phase,
        spec: specs[k].clone(),
        reference: Some(k),
        fault: None,
        action: None,
        flood_target: false,
        submit_at,
    }
}

/// A run whose script has `fault`, counted as `kind`.
fn faulty_run(
    rng: &mut Rng,
    phase: Phase,
    kind: FaultKind,
    fault: Fault,
    fault_after: u32,
    submit_at: Duration,
) -> RunPlan {
    let chunks = rng.range_u32(fault_after + 5, fault_after + 40);
    let agent = rng.pick(&AGENTS).map_or("chaos-a", |a| a.0);
    RunPlan {
        phase,
        spec: RunSpec {
            agent: agent.to_owned(),
            prompt: format!("misbehave: {fault}"),
            label: Some(format!("fault-{fault}")),
            script: ScriptPatch {
                answer: None,
                chunks: Some(chunks),
                chunk_chars: Some(rng.range_u32(8, 16)),
                chunk_delay_ms: Some(rng.range_u32(10, 30)),
                fault: Some(fault),
                fault_after_chunks: Some(fault_after),
                tool_calls: None,
            },
            budgets: Budgets::default(),
            ..RunSpec::default()
        },
        reference: None,
        fault: Some(kind),
        action: None,
        flood_target: false,
        submit_at,
    }
}

/// A harness action on a long clean run, early in it.
fn early_action(rng: &mut Rng, kind: ActionKind) -> Action {
    Action {
        kind,
        trigger: Trigger::Chunks {
            chunks: rng.range_u32(2, 20),
            delay: ms(rng.range(0, 300)),
        },
        pause: ms(rng.range(100, 400)),
    }
}

/// An action some time after a scripted hang or spin struck.
fn after_fault_action(rng: &mut Rng, kind: ActionKind, fault_after: u32) -> Action {
    Action {
        kind,
        trigger: Trigger::Chunks {
            chunks: fault_after,
            delay: ms(rng.range(300, 500)),
        },
        pause: Duration::ZERO,
    }
}

/// A run of [`SHELL_AGENT`] whose model calls `shell` with `command`
/// (allowed by the run), counted as `kind`.
fn command_run(kind: FaultKind, command: &str, submit_at: Duration) -> RunPlan {
    RunPlan {
        phase: Phase::Storm,
        spec: RunSpec {
            agent: SHELL_AGENT.to_owned(),
            prompt: format!("misbehave: {}", kind.label()),
            label: Some(format!("fault-{kind:?}").to_lowercase()),
            script: ScriptPatch {
                chunks: Some(4),
                chunk_delay_ms: Some(5),
                tool_calls: Some(vec![ScriptedToolCall {
                    name: "shell".to_owned(),
                    arguments: serde_json::json!({ "command": command }).to_string(),
                }]),
                ..ScriptPatch::default()
            },
            approve: vec![RuleMatch {
                tool: "shell".to_owned(),
                argument: None,
            }],
            ..RunSpec::default()
        },
        reference: None,
        fault: Some(kind),
        action: None,
        flood_target: false,
        submit_at,
    }
}

/// A request some time after a command started (its tool call comes
/// before any chunk).
fn after_command(kind: ActionKind, rng: &mut Rng) -> Action {
    Action {
        kind,
        trigger: Trigger::Chunks {
            chunks: 0,
            delay: ms(rng.range(800, 1200)),
        },
        pause: Duration::ZERO,
    }
}

/// Commands that try to outlive or outgrow their session.
fn command_runs(rng: &mut Rng) -> Vec<RunPlan> {
    let submit = |rng: &mut Rng| ms(rng.range(0, 1500));
    let escape = "setsid -f sleep 600 </dev/null >/dev/null 2>&1; \
                  (sh -c 'sleep 600 &'); \
                  nohup sleep 600 </dev/null >/dev/null 2>&1 & sleep 600";
    let mut escaper = command_run(FaultKind::Escape, escape, submit(rng));
    let stop = if rng.chance(50) {
        ActionKind::Kill
    } else {
        ActionKind::Cancel
    };
    escaper.action = Some(after_command(stop, rng));
    let hog = "dd if=/dev/zero of=/dev/null bs=300M count=1; sleep 600";
    let mut hog = command_run(FaultKind::ChildMemory, hog, submit(rng));
    hog.spec.budgets.max_memory_mib = Some(rng.range(60, 120));
    let bomb = "perl -e 'while (1) { fork; select(undef, undef, undef, 0.05) }'";
    let mut bomb = command_run(FaultKind::ForkBomb, bomb, submit(rng));
    bomb.action = Some(after_command(ActionKind::Kill, rng));
    vec![escaper, hog, bomb]
}

/// Runs of the storm: clean, scripted faults, harness faults, flood targets.
fn storm_runs(rng: &mut Rng, specs: &[RunSpec], long: &[usize]) -> Vec<RunPlan> {
    let mut runs = command_runs(rng);
    let submit = |rng: &mut Rng| ms(rng.range(0, 1500));
    for _ in 0..rng.range(10, 16) {
        let k = rng.range_usize(0, specs.len() - 1);
        let at = submit(rng);
        runs.push(clean_run(Phase::Storm, specs, k, at));
    }
    let mut scripted = vec![
        (FaultKind::Panic, Fault::Panic),
        (FaultKind::Abort, Fault::Abort),
        (
            FaultKind::Exit,
            Fault::Exit {
                code: *rng.pick(&[0, 1, 2, 3, 42, 77, 100, 255]).unwrap_or(&1),
            },
        ),
        (
            FaultKind::Flood,
            Fault::Flood {
                events: rng.range(500, 5000),
            },
        ),
    ];
    if rng.chance(70) {
        scripted.push((FaultKind::Garbage, Fault::Garbage));
    }
    if rng.chance(70) {
        scripted.push((FaultKind::Oversized, Fault::Oversized));
    }
    for (kind, fault) in scripted {
        let after = rng.range_u32(1, 8);
        let at = submit(rng);
        runs.push(faulty_run(rng, Phase::Storm, kind, fault, after, at));
    }
    for _ in 0..rng.range(1, 2) {
        let after = rng.range_u32(1, 3);
        let fault = Fault::GrowMemory {
            mib_per_sec: rng.range_u32(100, 200),
        };
        let at = submit(rng);
        let mut run = faulty_run(rng, Phase::Storm, FaultKind::MemoryBudget, fault, after, at);
        run.spec.script.chunk_delay_ms = Some(10);
        run.spec.budgets.max_memory_mib = Some(rng.range(40, 80));
        runs.push(run);
    }
    let after = rng.range_u32(1, 6);
    let at = submit(rng);
    let mut hang = faulty_run(
        rng,
        Phase::Storm,
        FaultKind::HangCancel,
        Fault::Hang,
        after,
        at,
    );
    hang.action = Some(after_fault_action(rng, ActionKind::Cancel, after));
    runs.push(hang);
    if rng.chance(60) {
        let after = rng.range_u32(1, 6);
        let at = submit(rng);
        let mut spin = faulty_run(
            rng,
            Phase::Storm,
            FaultKind::SpinKill,
            Fault::Spin,
            after,
            at,
        );
        spin.action = Some(after_fault_action(rng, ActionKind::Kill, after));
        runs.push(spin);
    }
    let harness = [
        (FaultKind::SigKill, ActionKind::SigKill, rng.range(2, 3)),
        (
            FaultKind::StopKill,
            ActionKind::StopThenKill,
            rng.range(1, 2),
        ),
        (
            FaultKind::StopCancel,
            ActionKind::StopThenCancel,
            rng.range(1, 2),
        ),
    ];
    for (kind, action, count) in harness {
        for _ in 0..count {
            let k = *rng.pick(long).unwrap_or(&0);
            let at = submit(rng);
            let mut run = clean_run(Phase::Storm, specs, k, at);
            run.fault = Some(kind);
            run.action = Some(early_action(rng, action));
            runs.push(run);
        }
    }
    for _ in 0..rng.range(3, 5) {
        let k = *rng.pick(long).unwrap_or(&0);
        let at = submit(rng);
        let mut run = clean_run(Phase::Storm, specs, k, at);
        run.fault = Some(FaultKind::CancelFlood);
        run.flood_target = true;
        runs.push(run);
    }
    runs
}

/// Runs of the daemon-kill phase: long clean runs, one stopped, one hung.
fn kill_runs(rng: &mut Rng, specs: &[RunSpec], long: &[usize]) -> Vec<RunPlan> {
    let mut runs = Vec::new();
    let submit = |rng: &mut Rng| ms(rng.range(0, 300));
    for _ in 0..rng.range(4, 7) {
        let k = *rng.pick(long).unwrap_or(&0);
        let at = submit(rng);
        runs.push(clean_run(Phase::DaemonKill, specs, k, at));
    }
    let k = *rng.pick(long).unwrap_or(&0);
    let at = submit(rng);
    let mut stopped = clean_run(Phase::DaemonKill, specs, k, at);
    stopped.fault = Some(FaultKind::StopDaemonKill);
    stopped.action = Some(Action {
        kind: ActionKind::StopOnly,
        trigger: Trigger::Chunks {
            chunks: rng.range_u32(2, 5),
            delay: ms(rng.range(0, 200)),
        },
        pause: Duration::ZERO,
    });
    runs.push(stopped);
    let after = rng.range_u32(1, 4);
    let at = submit(rng);
    runs.push(faulty_run(
        rng,
        Phase::DaemonKill,
        FaultKind::HangDaemonKill,
        Fault::Hang,
        after,
        at,
    ));
    runs
}

/// Runs of the disk-full phase, maybe one SIGKILLed and one cancelled while full.
fn disk_runs(rng: &mut Rng, specs: &[RunSpec], long: &[usize]) -> Vec<RunPlan> {
    let mut runs = Vec::new();
    let submit = |rng: &mut Rng| ms(rng.range(0, 200));
    for _ in 0..rng.range(4, 6) {
        let k = *rng.pick(long).unwrap_or(&0);
        let at = submit(rng);
        runs.push(clean_run(Phase::DiskFull, specs, k, at));
    }
    let at = submit(rng);
    let short = rng.range_usize(0, 4);
    runs.push(clean_run(Phase::DiskFull, specs, short, at));
    for (kind, action, chance) in [
        (FaultKind::SigKill, ActionKind::SigKill, 60),
        (FaultKind::CancelFlood, ActionKind::Cancel, 60),
    ] {
        if rng.chance(chance) {
            let k = *rng.pick(long).unwrap_or(&0);
            let at = submit(rng);
            let mut run = clean_run(Phase::DiskFull, specs, k, at);
            run.fault = Some(kind);
            run.action = Some(Action {
                kind: action,
                trigger: Trigger::AfterFill {
                    delay: ms(rng.range(50, 400)),
                },
                pause: Duration::ZERO,
            });
            runs.push(run);
        }
    }
    runs
}

/// Bad connections for one batch: a few kinds on each socket.
fn attack_batch(rng: &mut Rng) -> Vec<(Socket, Attack)> {
    let random = |rng: &mut Rng| -> Vec<u8> {
        let len = rng.range_usize(1, 64);
        (0..len).map(|_| (rng.next_u64() & 0xff) as u8).collect()
    };
    let oversized = |rng: &mut Rng| {
        let lo = u64::try_from(protocol::codec::MAX_FRAME_LEN).unwrap_or(u64::MAX) + 1;
        u32::try_from(rng.range(lo, u64::from(u32::MAX))).unwrap_or(u32::MAX)
    };
    let mut control = vec![
        Attack::HttpGarbage,
        Attack::RandomBytes(random(rng)),
        Attack::TruncatedHello,
        Attack::OversizedLength(oversized(rng)),
        Attack::BadVersion,
        Attack::WrongToken,
        Attack::GarbageAfterHello(random(rng)),
        Attack::OversizedAfterHello(oversized(rng)),
        Attack::TruncatedAfterHello,
    ];
    let mut worker = vec![
        Attack::HttpGarbage,
        Attack::RandomBytes(random(rng)),
        Attack::TruncatedHello,
        Attack::OversizedLength(oversized(rng)),
        Attack::BadVersion,
        Attack::WrongToken,
    ];
    rng.shuffle(&mut control);
    rng.shuffle(&mut worker);
    let mut batch: Vec<(Socket, Attack)> = Vec::new();
    let control_count = rng.range_usize(4, 6);
    let worker_count = rng.range_usize(3, 4);
    batch.extend(
        control
            .into_iter()
            .take(control_count)
            .map(|a| (Socket::Control, a)),
    );
    batch.extend(
        worker
            .into_iter()
            .take(worker_count)
            .map(|a| (Socket::Worker, a)),
    );
    batch
}
