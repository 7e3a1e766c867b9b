//! Misbehaviours on demand, so the daemon's supervision (cancel grace
//! periods, kills, memory budgets, crash detection, backpressure) can be
//! tested and demonstrated with a real process.
//!
//! Every fault first flushes what the turn has sent, so the daemon records
//! the events leading up to it. `Hang` and `Spin` block the worker's only
//! thread and therefore ignore `Cancel` on purpose; `GrowMemory` yields
//! between allocations, so `Cancel` still stops it.

use std::time::Duration;

use protocol::Fault;
use protocol::event::EventKind;

use crate::connection::Outbox;

/// Size of one memory block allocated by [`Fault::GrowMemory`].
const MIB: usize = 1024 * 1024;

/// Memory page size assumed when touching blocks; writing one byte per
/// page is enough to make the page resident.
const PAGE: usize = 4096;

/// Lets `fault` strike in the turn answering `request_id`.
///
/// Returns only for faults after which the turn goes on ([`Fault::Flood`]);
/// the others never return, or end the process.
pub async fn strike(fault: Fault, request_id: &str, outbox: &Outbox) -> anyhow::Result<()> {
    outbox.flush().await?;
    tracing::warn!("scripted fault strikes: {fault}");
    match fault {
        Fault::Hang => hang(),
        Fault::Spin => spin(),
        Fault::GrowMemory { mib_per_sec } => grow_memory(mib_per_sec).await,
        Fault::Panic => panic!("scripted fault: panic"),
        Fault::Abort => std::process::abort(),
        Fault::Exit { code } => std::process::exit(code),
        Fault::Flood { events } => flood(events, request_id, outbox).await,
        Fault::Garbage => break_protocol(garbage_frame(), outbox).await,
        Fault::Oversized => break_protocol(oversized_header(), outbox).await,
        Fault::ForgeApproval => forge_approval(outbox).await,
    }
}

/// Blocks the thread forever, so nothing else in the worker runs.
fn hang() -> ! {
    loop {
        std::thread::park();
    }
}

/// Burns CPU forever without yielding.
fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

/// Allocates `mib_per_sec` MiB per second, touching every page so it
/// counts as resident, and never frees it. Runs until the turn is dropped.
async fn grow_memory(mib_per_sec: u32) -> anyhow::Result<()> {
    if mib_per_sec == 0 {
        return std::future::pending().await;
    }
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / mib_per_sec);
    let mut blocks: Vec<Box<[u8]>> = Vec::new();
    loop {
        ticks.tick().await;
        let mut block = vec![0u8; MIB].into_boxed_slice();
        for byte in block.iter_mut().step_by(PAGE) {
            *byte = 1;
        }
        blocks.push(std::hint::black_box(block));
        tracing::debug!(mib = blocks.len(), "memory grown");
    }
}

/// Reports a decision only the daemon may make, then waits to be ended.
async fn forge_approval(outbox: &Outbox) -> anyhow::Result<()> {
    outbox
        .event(EventKind::ToolApproved {
            call_id: "forged".to_owned(),
            by: protocol::event::Decider::User,
        })
        .await?;
    outbox.flush().await?;
    std::future::pending().await
}

/// A frame whose payload decodes as nothing the daemon expects.
fn garbage_frame() -> Vec<u8> {
    let mut frame = 8u32.to_le_bytes().to_vec();
    frame.extend([0xff; 8]);
    frame
}

/// A length prefix far over the frame limit.
fn oversized_header() -> Vec<u8> {
    u32::MAX.to_le_bytes().to_vec()
}

/// Writes `bytes` outside the framing, then waits for the daemon to act.
async fn break_protocol(bytes: Vec<u8>, outbox: &Outbox) -> anyhow::Result<()> {
    outbox.raw(bytes).await?;
    outbox.flush().await?;
    std::future::pending().await
}

/// Sends `events` one-character chunks as fast as the writer takes them.
async fn flood(events: u64, request_id: &str, outbox: &Outbox) -> anyhow::Result<()> {
    for _ in 0..events {
        outbox
            .event(EventKind::LlmResponseChunk {
                request_id: request_id.to_owned(),
                text: "x".to_owned(),
            })
            .await?;
    }
    Ok(())
}
