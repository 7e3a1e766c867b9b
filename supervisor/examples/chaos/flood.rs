//! A connection flood on `control.sock`: another process opens
//! connections (each with a good handshake) until the daemon refuses one,
//! and holds them. The refusal must name the per-process cap, and the
//! daemon must go on serving everyone else while they are held and after.
//!
//! The flood runs in a child (this binary again, with [`FLOOD_SOCKET`] set),
//! because the cap counts per peer process: the harness's own connections
//! must not compete with it.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use protocol::PROTOCOL_VERSION;
use protocol::codec::{encode_frame, read_frame};
use protocol::control::{ControlRequest, ControlResponse};
use protocol::handshake::{Hello, HelloReply, PeerRole};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use crate::check::Check;
use crate::inject::Ctx;
use crate::plan::FaultKind;

/// Set in the child: the socket to flood.
pub const FLOOD_SOCKET: &str = "CHAOS_FLOOD_SOCKET";
/// Set in the child: the client token file.
const FLOOD_TOKEN: &str = "CHAOS_FLOOD_TOKEN";
/// More connections than this and the daemon has no cap.
const NO_CAP: usize = 10_000;

/// The child's side: floods, prints `HELD REASON` on one line, holds the
/// connections until stdin closes.
pub fn child() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            println!("0 cannot start a runtime: {err}");
            return std::process::ExitCode::from(2);
        }
    };
    runtime.block_on(async {
        let (held, reason) = match flood().await {
            Ok(flooded) => flooded,
            Err(err) => (Vec::new(), format!("flood failed: {err}")),
        };
        println!("{} {reason}", held.len());
        // Nothing else runs here: blocking until stdin closes is fine.
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
        drop(held);
    });
    std::process::ExitCode::SUCCESS
}

async fn flood() -> Result<(Vec<UnixStream>, String), String> {
    let socket = std::env::var(FLOOD_SOCKET).map_err(|e| e.to_string())?;
    let token_file = std::env::var(FLOOD_TOKEN).map_err(|e| e.to_string())?;
    let token = std::fs::read_to_string(token_file).map_err(|e| e.to_string())?;
    let hello = encode_frame(&Hello {
        protocol: PROTOCOL_VERSION,
        role: PeerRole::Client,
        token: token.trim().to_owned(),
    })
    .map_err(|e| e.to_string())?;
    let mut held = Vec::new();
    while held.len() <= NO_CAP {
        let mut stream = UnixStream::connect(&socket)
            .await
            .map_err(|e| format!("connect failed after {}: {e}", held.len()))?;
        // A refused connection may be closed before the hello is written
        // (the daemon refuses as it accepts): its refusal is still there
        // to read.
        let wrote = stream.write_all(&hello).await;
        let reply: Option<HelloReply> = read_frame(&mut stream, &mut Vec::new())
            .await
            .map_err(|e| format!("unreadable answer after {} ({wrote:?}): {e}", held.len()))?;
        match reply {
            Some(HelloReply::Accepted { .. }) => held.push(stream),
            Some(HelloReply::Refused { reason }) => return Ok((held, reason)),
            None => return Err(format!("closed without an answer after {}", held.len())),
        }
    }
    Ok((held, "no refusal".to_owned()))
}

/// The harness's side: starts the child, checks its refusal, checks the
/// daemon answers while the connections are held and after they close.
pub async fn connection_flood(ctx: Arc<Ctx>) {
    let verdict = tokio::time::timeout(Duration::from_secs(60), run(&ctx))
        .await
        .unwrap_or_else(|_| Err("no verdict within 60s".to_owned()))
        .map_err(|why| format!("connection flood on control.sock: {why}"));
    ctx.tally().verify(Check::BadFrames, None, verdict);
    ctx.faults().record(FaultKind::ConnectionFlood, true);
}

async fn run(ctx: &Ctx) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = tokio::process::Command::new(exe)
        .env(FLOOD_SOCKET, ctx.dir.control_socket())
        .env(FLOOD_TOKEN, ctx.dir.client_token())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start the flood: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .map_err(|e| e.to_string())?;
    let (held, reason) = line.trim().split_once(' ').unwrap_or(("0", line.trim()));
    let held: usize = held.parse().unwrap_or(0);
    let ping = |what: &'static str| async move {
        match tokio::time::timeout(
            Duration::from_secs(5),
            ctx.client(0).request(ControlRequest::Ping),
        )
        .await
        {
            Ok(Ok(ControlResponse::Pong)) => Ok(()),
            other => Err(format!("Ping {what} got {other:?}")),
        }
    };
    let checked =
        if held == 0 || held > NO_CAP || !reason.contains("too many connections from process") {
            Err(format!("after {held} connections: {reason:?}"))
        } else {
            ping("while the connections are held").await
        };
    // Closing stdin lets the child drop its connections and exit.
    drop(child.stdin.take());
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    checked?;
    ping("after the flood").await
}
