//! Bad connections on both sockets: garbage, random bytes, truncated and
//! oversized frames, wrong versions and tokens, and bad frames after a good
//! handshake. Each must be refused (or answered with an error) naming the
//! problem and closed, and the daemon must go on answering `Ping`.

use std::sync::Arc;
use std::time::Duration;

use protocol::codec::{encode_frame, read_frame};
use protocol::control::{ClientFrame, ControlRequest, ControlResponse, ServerFrame};
use protocol::handshake::{Hello, HelloReply, PeerRole};
use protocol::{PROTOCOL_VERSION, SessionId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::check::Check;
use crate::inject::Ctx;
use crate::plan::{Attack, FaultKind, Socket};
use crate::track::REQUEST_TIMEOUT;

/// Makes one bad connection, checks the daemon's answer, then checks the
/// daemon still answers a `Ping`.
pub async fn attack(ctx: Arc<Ctx>, socket: Socket, attack: Attack) {
    let result = match tokio::time::timeout(
        Duration::from_secs(30),
        bad_connection(&ctx, socket, &attack),
    )
    .await
    {
        Ok(result) => result,
        Err(_) => Err("no verdict within 30s".to_owned()),
    };
    let ping = tokio::time::timeout(
        Duration::from_secs(5),
        ctx.client(0).request(ControlRequest::Ping),
    )
    .await;
    let serving = match ping {
        Ok(Ok(ControlResponse::Pong)) => Ok(()),
        Ok(other) => Err(format!("then Ping got {other:?}")),
        Err(_) => Err("then Ping got no answer within 5s".to_owned()),
    };
    let name = match socket {
        Socket::Control => "control.sock",
        Socket::Worker => "worker.sock",
    };
    let verdict = result
        .and(serving)
        .map_err(|why| format!("{} on {name}: {why}", attack.name()));
    ctx.tally().verify(Check::BadFrames, None, verdict);
    let kind = match socket {
        Socket::Control => FaultKind::ControlFrame,
        Socket::Worker => FaultKind::WorkerFrame,
    };
    ctx.faults().record(kind, true);
}

/// A `Hello` frame of `role` with `protocol` and `token`.
fn hello_frame(role: PeerRole, protocol: u32, token: &str) -> Result<Vec<u8>, String> {
    encode_frame(&Hello {
        protocol,
        role,
        token: token.to_owned(),
    })
    .map_err(|err| err.to_string())
}

/// Makes the bad connection `attack` on `socket` and checks the answer.
async fn bad_connection(ctx: &Ctx, socket: Socket, attack: &Attack) -> Result<(), String> {
    let (path, role) = match socket {
        Socket::Control => (ctx.dir.control_socket(), PeerRole::Client),
        Socket::Worker => (
            ctx.dir.worker_socket(),
            PeerRole::Worker {
                session: SessionId::new(),
            },
        ),
    };
    let mut stream = tokio::time::timeout(Duration::from_secs(5), UnixStream::connect(&path))
        .await
        .map_err(|_| "connect timed out".to_owned())?
        .map_err(|err| format!("cannot connect: {err}"))?;
    let token = ctx.token.as_str();
    let (bytes, close, expect): (Vec<u8>, bool, &[&str]) = match attack {
        Attack::HttpGarbage => (
            b"GET / HTTP/1.1\r\nHost: studio\r\n\r\n".to_vec(),
            false,
            &["malformed handshake", "exceeds the limit"],
        ),
        Attack::RandomBytes(bytes) => (bytes.clone(), true, &[]),
        Attack::TruncatedHello => {
            let mut hello = hello_frame(role, PROTOCOL_VERSION, token)?;
            hello.truncate(hello.len() - 3);
            (hello, true, &["closed mid-frame"])
        }
        Attack::OversizedLength(len) => (len.to_le_bytes().to_vec(), false, &["exceeds the limit"]),
        Attack::BadVersion => (
            hello_frame(role, PROTOCOL_VERSION + 1, token)?,
            false,
            &["protocol version"],
        ),
        Attack::WrongToken => match socket {
            Socket::Control => (
                hello_frame(role, PROTOCOL_VERSION, "not-the-token")?,
                false,
                &["invalid client token"],
            ),
            Socket::Worker => (
                hello_frame(role, PROTOCOL_VERSION, "not-a-worker-token")?,
                false,
                &["no worker is expected"],
            ),
        },
        Attack::GarbageAfterHello(random) => {
            let mut payload = vec![0xff];
            payload.extend(random);
            let len = u32::try_from(payload.len()).unwrap_or(0).to_le_bytes();
            let mut frame = len.to_vec();
            frame.extend(payload);
            return after_hello(stream, token, frame, false, "malformed frame").await;
        }
        Attack::OversizedAfterHello(len) => {
            return after_hello(
                stream,
                token,
                len.to_le_bytes().to_vec(),
                false,
                "exceeds the limit",
            )
            .await;
        }
        Attack::TruncatedAfterHello => {
            let mut ping = encode_frame(&ClientFrame {
                id: 2,
                request: ControlRequest::Ping,
            })
            .map_err(|err| err.to_string())?;
            ping.pop();
            return after_hello(stream, token, ping, true, "closed mid-frame").await;
        }
    };
    stream
        .write_all(&bytes)
        .await
        .map_err(|err| format!("write failed: {err}"))?;
    if close {
        stream
            .shutdown()
            .await
            .map_err(|err| format!("half-close failed: {err}"))?;
    }
    let reply: Option<HelloReply> =
        tokio::time::timeout(REQUEST_TIMEOUT, read_frame(&mut stream, &mut Vec::new()))
            .await
            .map_err(|_| "no answer within 10s".to_owned())?
            .map_err(|err| format!("unreadable answer: {err}"))?;
    let reason = match reply {
        Some(HelloReply::Refused { reason }) => reason,
        other => return Err(format!("expected a refusal, got {other:?}")),
    };
    if !expect.is_empty() && !expect.iter().any(|e| reason.contains(e)) {
        return Err(format!(
            "refusal {reason:?} does not name the problem ({expect:?})"
        ));
    }
    expect_closed(&mut stream).await
}

/// The daemon must close the connection (cleanly, or by a reset because
/// it left bytes unread).
async fn expect_closed(stream: &mut UnixStream) -> Result<(), String> {
    let mut rest = Vec::new();
    match tokio::time::timeout(REQUEST_TIMEOUT, stream.read_to_end(&mut rest)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) if err.kind() == std::io::ErrorKind::ConnectionReset => Ok(()),
        Ok(Err(err)) => Err(format!("reading after the answer failed: {err}")),
        Err(_) => Err("the connection stayed open after the answer".to_owned()),
    }
}

/// A good client handshake and a `Ping`, then `bad`: the daemon must answer
/// the `Ping`, report an error naming `expect`, and close.
async fn after_hello(
    mut stream: UnixStream,
    token: &str,
    bad: Vec<u8>,
    close: bool,
    expect: &str,
) -> Result<(), String> {
    let hello = hello_frame(PeerRole::Client, PROTOCOL_VERSION, token)?;
    stream
        .write_all(&hello)
        .await
        .map_err(|err| format!("write failed: {err}"))?;
    let reply: Option<HelloReply> =
        tokio::time::timeout(REQUEST_TIMEOUT, read_frame(&mut stream, &mut Vec::new()))
            .await
            .map_err(|_| "no handshake answer within 10s".to_owned())?
            .map_err(|err| format!("unreadable handshake answer: {err}"))?;
    if !matches!(reply, Some(HelloReply::Accepted { .. })) {
        return Err(format!("a good handshake got {reply:?}"));
    }
    let mut bytes = encode_frame(&ClientFrame {
        id: 1,
        request: ControlRequest::Ping,
    })
    .map_err(|err| err.to_string())?;
    bytes.extend(bad);
    stream
        .write_all(&bytes)
        .await
        .map_err(|err| format!("write failed: {err}"))?;
    if close {
        stream
            .shutdown()
            .await
            .map_err(|err| format!("half-close failed: {err}"))?;
    }
    let mut frames = Vec::new();
    let read_all = async {
        let mut buf = Vec::new();
        loop {
            match read_frame::<_, ServerFrame>(&mut stream, &mut buf).await {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => return Ok(()),
                Err(err) => return Err(err.to_string()),
            }
        }
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, read_all).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) if err.contains("reset") => {}
        Ok(Err(err)) => return Err(format!("unreadable answers: {err}")),
        Err(_) => return Err("the connection stayed open after the bad frame".to_owned()),
    }
    let pong = frames.contains(&ServerFrame::Response {
        id: 1,
        result: Ok(ControlResponse::Pong),
    });
    let error = frames.iter().find_map(|f| match f {
        ServerFrame::Response {
            id: 0,
            result: Err(err),
        } => Some(err.message.clone()),
        _ => None,
    });
    match (pong, error) {
        (true, Some(message)) if message.contains(expect) => Ok(()),
        (pong, error) => Err(format!(
            "expected Pong and an error naming {expect:?}; got Pong: {pong}, error: {error:?}"
        )),
    }
}
