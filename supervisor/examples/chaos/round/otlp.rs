//! The daemon's OTLP export under the round's faults. Before any run the
//! daemon is told to send every turn that ends to a receiver the harness
//! runs (`Receiver`), which refuses some requests (503) while the round
//! goes on. The daemon kill and the full disk strike meanwhile. At the end
//! the receiver accepts everything, the daemon is given time to send what
//! waits, and every turn recorded in the database must have reached the
//! receiver: its session's trace id is in a request body.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use protocol::Secret;
use protocol::control::{ControlRequest, ControlResponse};
use supervisor::otlp::{self, SessionFacts};
use supervisor::store::Snapshot;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::Round;
use crate::check::Check;
use crate::inject::Ctx;
use crate::plan::FaultKind;
use crate::track::REQUEST_TIMEOUT;

/// One request in this many is refused while the round goes on.
const REFUSE_ONE_IN: u64 = 4;
/// How long the daemon has to send what waits at the end of the round.
const DRAIN_DEADLINE: Duration = Duration::from_secs(90);
/// How long nothing may wait before the round counts as drained.
const DRAINED_FOR: Duration = Duration::from_secs(3);
/// The header the daemon must send with every request.
const HEADER: (&str, &str) = ("x-chaos-token", "chaos-otlp-token");

/// An OTLP/HTTP receiver: keeps the body of every request it accepts.
#[derive(Default)]
pub(super) struct Receiver {
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
    /// Whether it refuses one request in [`REFUSE_ONE_IN`].
    refusing: Arc<AtomicBool>,
    refused: Arc<AtomicU64>,
    /// Requests that came without the header.
    unauthorised: Arc<AtomicU64>,
    url: Option<String>,
}

impl Receiver {
    async fn start() -> anyhow::Result<Receiver> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let receiver = Receiver {
            url: Some(format!("http://{}/v1/traces", listener.local_addr()?)),
            ..Receiver::default()
        };
        receiver.refusing.store(true, Ordering::Relaxed);
        let (bodies, refusing, refused, unauthorised) = (
            Arc::clone(&receiver.bodies),
            Arc::clone(&receiver.refusing),
            Arc::clone(&receiver.refused),
            Arc::clone(&receiver.unauthorised),
        );
        tokio::spawn(async move {
            let count = Arc::new(AtomicU64::new(0));
            while let Ok((stream, _)) = listener.accept().await {
                let conn = Connection {
                    bodies: Arc::clone(&bodies),
                    refusing: Arc::clone(&refusing),
                    refused: Arc::clone(&refused),
                    unauthorised: Arc::clone(&unauthorised),
                    count: Arc::clone(&count),
                };
                tokio::spawn(async move {
                    let _ = conn.serve(stream).await;
                });
            }
        });
        Ok(receiver)
    }
}

struct Connection {
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
    refusing: Arc<AtomicBool>,
    refused: Arc<AtomicU64>,
    unauthorised: Arc<AtomicU64>,
    count: Arc<AtomicU64>,
}

impl Connection {
    /// Answers the requests of one connection (HTTP/1.1, kept alive).
    async fn serve(&self, stream: TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        loop {
            let mut length = 0;
            let mut authorised = false;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    let value = value.trim();
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.parse().unwrap_or(0);
                    }
                    if name.eq_ignore_ascii_case(HEADER.0) && value == HEADER.1 {
                        authorised = true;
                    }
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).await?;
            let n = self.count.fetch_add(1, Ordering::Relaxed);
            let refuse = self.refusing.load(Ordering::Relaxed) && n % REFUSE_ONE_IN == 1;
            let reply = if !authorised {
                self.unauthorised.fetch_add(1, Ordering::Relaxed);
                "HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n"
            } else if refuse {
                self.refused.fetch_add(1, Ordering::Relaxed);
                "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n"
            } else {
                self.bodies
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(body);
                "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n"
            };
            write.write_all(reply.as_bytes()).await?;
        }
    }
}

impl Round<'_> {
    /// Starts the receiver and has the daemon send every turn to it.
    pub(super) async fn start_otlp(&mut self, ctx: &Ctx) -> anyhow::Result<()> {
        let receiver = Receiver::start().await?;
        let request = ControlRequest::SetOtlp {
            url: receiver.url.clone(),
            headers: vec![(HEADER.0.to_owned(), Secret::new(HEADER.1))],
        };
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, ctx.client(0).request(request))
            .await
            .context("SetOtlp got no answer")??;
        let ControlResponse::Otlp(_) = answer else {
            anyhow::bail!("unexpected answer to SetOtlp: {answer:?}");
        };
        self.otlp = receiver;
        Ok(())
    }

    /// Stops refusing and waits until the daemon has nothing waiting to
    /// send, for [`DRAINED_FOR`] in a row.
    pub(super) async fn drain_otlp(&mut self) {
        self.otlp.refusing.store(false, Ordering::Relaxed);
        let Some(client) = self.client.clone() else {
            return;
        };
        let deadline = Instant::now() + DRAIN_DEADLINE;
        let mut quiet_since: Option<Instant> = None;
        let mut last = None;
        while Instant::now() < deadline {
            let answer =
                tokio::time::timeout(REQUEST_TIMEOUT, client.request(ControlRequest::OtlpStatus))
                    .await;
            if let Ok(Ok(ControlResponse::Otlp(status))) = answer {
                let quiet = status.pending_sessions == 0 && status.last_error.is_none();
                last = Some(status);
                if !quiet {
                    quiet_since = None;
                } else if quiet_since.get_or_insert_with(Instant::now).elapsed() >= DRAINED_FOR {
                    self.tally.count(Check::Liveness, 1);
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        self.tally.fail(
            Check::Liveness,
            None,
            format!("the daemon did not send every waiting turn in {DRAIN_DEADLINE:?}: {last:?}"),
        );
    }

    /// Every session with an ended turn in the database reached the
    /// receiver. The refusals count as the fault.
    pub(super) fn check_otlp(&mut self, db: &Snapshot) -> anyhow::Result<()> {
        if self.otlp.url.is_none() {
            return Ok(());
        }
        let refused = self.otlp.refused.load(Ordering::Relaxed);
        self.faults.record(FaultKind::ReceiverRefuses, refused > 0);
        let unauthorised = self.otlp.unauthorised.load(Ordering::Relaxed);
        let result = if unauthorised == 0 {
            Ok(())
        } else {
            Err(format!(
                "{unauthorised} request(s) came without the configured header"
            ))
        };
        self.tally.verify(Check::Otlp, None, result);
        // The sessions with an ended turn, by trace id.
        let mut expected = HashMap::new();
        for summary in db.sessions()? {
            let events = db.events(summary.id)?;
            let facts = SessionFacts {
                agent: summary.agent.clone(),
                group: summary.batch,
                label: summary.label.clone(),
            };
            if !otlp::turns(summary.id, &facts, &events).is_empty() {
                let last = events.last().map_or("none", |e| e.kind.name());
                expected.insert(summary.id.as_u128().to_be_bytes(), (summary.id, last));
            }
        }
        // Each body read once: a window of 16 bytes that is an expected
        // trace id was received.
        let mut received = HashSet::new();
        for body in self
            .otlp
            .bodies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            for window in body.windows(16) {
                if let Ok(trace) = <[u8; 16]>::try_from(window)
                    && expected.contains_key(&trace)
                {
                    received.insert(trace);
                }
            }
        }
        for (trace, (id, last)) in expected {
            let result = if received.contains(&trace) {
                Ok(())
            } else {
                Err(format!(
                    "session {id} ended a turn (its last event: {last}) but its trace never reached the receiver"
                ))
            };
            self.tally.verify(Check::Otlp, Some(id), result);
        }
        Ok(())
    }
}
