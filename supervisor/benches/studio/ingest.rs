//! Section 3: durable ingest, next to raw redb and raw socket loops.

use std::time::Instant;

use interprocess::local_socket::tokio::{Listener, Stream};
use interprocess::local_socket::traits::tokio::{Listener as _, Stream as _};
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use protocol::Timestamp;
use protocol::agent::{Fault, ScriptPatch};
use protocol::codec::{encode_frame_into, encode_payload, read_frame};
use protocol::control::{ControlRequest, ControlResponse, RunSpec};
use protocol::event::EventKind;
use protocol::worker::FromWorker;
use redb::{Database, TableDefinition};
use tokio::io::{AsyncWriteExt, BufReader};

use crate::Sizes;
use crate::harness::{Binaries, Daemon, agent, spec};

/// Events per second three ways.
pub(crate) struct IngestResult {
    pub(crate) events: u64,
    pub(crate) workers: usize,
    /// Worker to committed record, through the daemon.
    pub(crate) end_to_end: f64,
    /// Inserting the same records into redb directly, 1,000 per transaction.
    pub(crate) raw_redb: f64,
    /// Writing and decoding the same frames over a local socket, nothing else.
    pub(crate) raw_socket: f64,
}

const TABLE: TableDefinition<(u128, u64), &[u8]> = TableDefinition::new("events");

fn chunk() -> EventKind {
    EventKind::LlmResponseChunk {
        request_id: "req-1".to_owned(),
        text: "x".to_owned(),
    }
}

pub(crate) async fn measure(bins: &Binaries, sizes: Sizes) -> anyhow::Result<IngestResult> {
    let workers = sizes.ingest_workers;
    let per_worker = sizes.ingest_events_per_worker;
    let daemon = Daemon::start(bins, workers, 500).await?;
    daemon.agent(agent("flood", 1, 1, 0)).await?;
    let flood = |i: usize| RunSpec {
        script: ScriptPatch {
            fault: Some(Fault::Flood { events: per_worker }),
            fault_after_chunks: Some(0),
            ..ScriptPatch::default()
        },
        ..spec("flood", format!("flood {i}"))
    };
    let start = Instant::now();
    let sessions = daemon.run_all((0..workers).map(flood).collect()).await?;
    daemon.wait_all(&sessions).await?;
    let elapsed = start.elapsed().as_secs_f64();
    let mut events = 0;
    for session in &sessions {
        if let ControlResponse::Session(s) = daemon
            .client
            .request(ControlRequest::SessionGet {
                id: session.to_string(),
            })
            .await?
        {
            events += s.events;
        }
    }
    drop(daemon);
    let total = workers as u64 * per_worker;
    Ok(IngestResult {
        events,
        workers,
        end_to_end: events as f64 / elapsed,
        raw_redb: raw_redb(total)?,
        raw_socket: raw_socket(total).await?,
    })
}

/// Inserts `total` encoded chunk events, 1,000 per write transaction.
fn raw_redb(total: u64) -> anyhow::Result<f64> {
    let tmp = tempfile::tempdir()?;
    let db = Database::create(tmp.path().join("raw.redb"))?;
    let mut value = vec![1u8];
    value.extend(encode_payload(&(Timestamp::now(), chunk()))?);
    let start = Instant::now();
    let mut seq = 0u64;
    while seq < total {
        let txn = db.begin_write()?;
        {
            let mut table = txn.open_table(TABLE)?;
            for _ in 0..1000.min(total - seq) {
                seq += 1;
                table.insert((7u128, seq), value.as_slice())?;
            }
        }
        txn.commit()?;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// Sends `total` event frames over a local socket, batched as the worker
/// does, and decodes them on the other side.
async fn raw_socket(total: u64) -> anyhow::Result<f64> {
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("raw.sock");
    let listener: Listener = ListenerOptions::new()
        .name(path.as_path().to_fs_name::<GenericFilePath>()?)
        .create_tokio()?;
    let sender_path = path.clone();
    let start = Instant::now();
    let sender = tokio::spawn(async move {
        let stream =
            Stream::connect(sender_path.as_path().to_fs_name::<GenericFilePath>()?).await?;
        let mut writer = &stream;
        let mut batch = Vec::with_capacity(64 * 1024);
        for _ in 0..total {
            let msg = FromWorker::Event {
                at: Timestamp::now(),
                kind: chunk(),
            };
            encode_frame_into(&msg, &mut batch)?;
            if batch.len() >= 64 * 1024 {
                writer.write_all(&batch).await?;
                batch.clear();
            }
        }
        writer.write_all(&batch).await?;
        writer.flush().await?;
        anyhow::Ok(())
    });
    let stream = listener.accept().await?;
    let mut reader = BufReader::with_capacity(64 * 1024, &stream);
    let mut buf = Vec::new();
    let mut received = 0u64;
    while received < total {
        match read_frame::<_, FromWorker>(&mut reader, &mut buf).await? {
            Some(_) => received += 1,
            None => anyhow::bail!("socket closed after {received} frames"),
        }
    }
    sender.await??;
    Ok(total as f64 / start.elapsed().as_secs_f64())
}
