//! Bad input on both sockets gets a clear error and a closed connection;
//! the daemon serves everyone else and loses nothing (issue test 3).

use std::path::Path;
use std::time::Duration;

use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::tokio::Stream as _;
use interprocess::local_socket::{GenericFilePath, ToFsName};
use protocol::codec::{MAX_FRAME_LEN, encode_frame, read_frame};
use protocol::control::{ClientFrame, ControlRequest, ControlResponse, ServerFrame};
use protocol::event::EventKind;
use protocol::handshake::{Hello, HelloReply, PeerRole};
use protocol::{PROTOCOL_VERSION, SessionId};
use studio_client::{Client, ClientError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

async fn connect(path: &Path) -> Stream {
    Stream::connect(path.to_fs_name::<GenericFilePath>().unwrap())
        .await
        .unwrap()
}

/// Sends `bytes` (then half-closes if `close`), and returns the refusal.
/// A plain Unix socket: the daemon must cope with any peer, and it can
/// half-close.
async fn refusal(path: &Path, bytes: &[u8], close: bool) -> String {
    let mut stream = tokio::net::UnixStream::connect(path).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    if close {
        stream.shutdown().await.unwrap();
    }
    let reader = &mut stream;
    let reply: Option<HelloReply> =
        tokio::time::timeout(Duration::from_secs(10), read_frame(reader, &mut Vec::new()))
            .await
            .expect("the daemon answers")
            .expect("a well-formed refusal");
    let Some(HelloReply::Refused { reason }) = reply else {
        panic!("expected a refusal, got {reply:?}");
    };
    // And the connection is closed.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest)).await;
    // Closed cleanly, or reset because the daemon left our bytes unread.
    let closed_ok = match &closed {
        Ok(Ok(0)) => true,
        Ok(Err(err)) => err.kind() == std::io::ErrorKind::ConnectionReset,
        _ => false,
    };
    assert!(closed_ok, "connection closed after the refusal: {closed:?}");
    reason
}

fn hello(role: PeerRole, token: &str, protocol: u32) -> Vec<u8> {
    encode_frame(&Hello {
        protocol,
        role,
        token: token.to_owned(),
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_handshakes_and_frames_are_refused_and_everyone_else_is_served() {
    let daemon = TestDaemon::start(8).await;
    let client = daemon.client().await;
    create_agent(&client, agent("steady", 100, 20)).await;
    let before = run(&client, spec("steady", "recorded before the attack")).await;
    let recorded = follow_to_end(&client, before, Duration::from_secs(30)).await;
    // A run stays live through all of it.
    let during = run(&client, spec("steady", "runs during the attack")).await;

    let token = std::fs::read_to_string(daemon.dir.client_token()).unwrap();
    let control = daemon.dir.control_socket();
    let workers = daemon.dir.worker_socket();
    let worker_role = PeerRole::Worker {
        session: SessionId::new(),
    };
    let mut truncated = hello(PeerRole::Client, &token, PROTOCOL_VERSION);
    truncated.truncate(truncated.len() - 3);
    let oversized = u32::try_from(MAX_FRAME_LEN + 1).unwrap().to_le_bytes();

    for socket in [&control, &workers] {
        let garbage = refusal(socket, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false).await;
        assert!(
            garbage.contains("malformed handshake") || garbage.contains("exceeds the limit"),
            "{garbage}"
        );
        let half = refusal(socket, &truncated, true).await;
        assert!(half.contains("closed mid-frame"), "{half}");
        let big = refusal(socket, &oversized, false).await;
        assert!(big.contains("exceeds the limit"), "{big}");
        let role = if socket == &control {
            PeerRole::Client
        } else {
            worker_role
        };
        let version = refusal(socket, &hello(role, &token, PROTOCOL_VERSION + 1), false).await;
        assert!(version.contains("protocol version"), "{version}");
    }
    // A peer of a future version is told about the version even though its
    // Hello has another shape.
    let future =
        encode_frame(&(PROTOCOL_VERSION + 1, "a reshaped hello", vec![1u8, 2, 3])).unwrap();
    let reshaped = refusal(&control, &future, false).await;
    assert!(
        reshaped.contains(&format!("protocol version {}", PROTOCOL_VERSION + 1)),
        "{reshaped}"
    );
    let wrong = refusal(
        &control,
        &hello(PeerRole::Client, "not-the-token", PROTOCOL_VERSION),
        false,
    )
    .await;
    assert_eq!(wrong, "invalid client token");
    let worker_on_control = refusal(
        &control,
        &hello(worker_role, &token, PROTOCOL_VERSION),
        false,
    )
    .await;
    assert!(
        worker_on_control.contains("workers use worker.sock"),
        "{worker_on_control}"
    );
    let client_on_workers = refusal(
        &workers,
        &hello(PeerRole::Client, &token, PROTOCOL_VERSION),
        false,
    )
    .await;
    assert!(
        client_on_workers.contains("clients use control.sock"),
        "{client_on_workers}"
    );
    let stray_worker = refusal(
        &workers,
        &hello(worker_role, &token, PROTOCOL_VERSION),
        false,
    )
    .await;
    assert!(
        stray_worker.contains("no worker is expected"),
        "{stray_worker}"
    );
    let impostor = refusal(
        &workers,
        &hello(
            PeerRole::Worker { session: during },
            &token,
            PROTOCOL_VERSION,
        ),
        false,
    )
    .await;
    assert!(
        impostor.contains("no worker is expected") || impostor.contains("invalid worker token"),
        "{impostor}"
    );

    // The library client reports a refusal as such.
    let stream = connect(&control).await;
    let err = Client::handshake(stream, "wrong".to_owned())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, ClientError::Refused(ref r) if r == "invalid client token"),
        "{err}"
    );

    // After a good handshake, a malformed frame ends that connection with an error.
    let stream = connect(&control).await;
    let mut io = &stream;
    io.write_all(&hello(PeerRole::Client, token.trim(), PROTOCOL_VERSION))
        .await
        .unwrap();
    let accepted: Option<HelloReply> = read_frame(&mut io, &mut Vec::new()).await.unwrap();
    assert!(matches!(accepted, Some(HelloReply::Accepted { .. })));
    let ping = encode_frame(&ClientFrame {
        id: 1,
        request: ControlRequest::Ping,
    })
    .unwrap();
    io.write_all(&ping).await.unwrap();
    io.write_all(&[
        9, 0, 0, 0, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8, 0xf7,
    ])
    .await
    .unwrap();
    // Requests already read are still answered (in any order), then the
    // connection ends with an error naming the bad frame.
    let mut frames = Vec::new();
    while let Some(frame) = read_frame::<_, ServerFrame>(&mut io, &mut Vec::new())
        .await
        .unwrap()
    {
        frames.push(frame);
    }
    assert!(
        frames.contains(&ServerFrame::Response {
            id: 1,
            result: Ok(ControlResponse::Pong)
        }),
        "{frames:?}"
    );
    let error = frames.iter().find_map(|f| match f {
        ServerFrame::Response {
            id: 0,
            result: Err(err),
        } => Some(err.message.clone()),
        _ => None,
    });
    assert!(
        error
            .as_deref()
            .is_some_and(|m| m.contains("malformed frame")),
        "{frames:?}"
    );

    // Everyone else was served throughout, and nothing recorded was lost.
    assert_eq!(
        client.request(ControlRequest::Ping).await.unwrap(),
        ControlResponse::Pong
    );
    let after = follow_to_end(&client, during, Duration::from_secs(30)).await;
    assert_log_is_whole(&after);
    assert_eq!(after.last().unwrap().kind, EventKind::SessionCompleted);
    assert_eq!(events(&client, before).await, recorded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_breaks_the_protocol_is_ended_and_its_log_kept() {
    let daemon = TestDaemon::start(8).await;
    let client = daemon.client().await;
    create_agent(&client, agent("steady", 10, 5)).await;
    let steady = run(&client, spec("steady", "unaffected")).await;
    for (fault, expected) in [
        (protocol::Fault::Garbage, "protocol error: malformed frame"),
        (protocol::Fault::Oversized, "exceeds the limit"),
        (
            protocol::Fault::ForgeApproval,
            "a worker may not report tool.approved",
        ),
    ] {
        let session = run(
            &client,
            protocol::control::RunSpec {
                script: protocol::agent::ScriptPatch {
                    fault: Some(fault),
                    fault_after_chunks: Some(4),
                    ..Default::default()
                },
                ..spec("steady", "breaks the protocol")
            },
        )
        .await;
        let events = follow_to_end(&client, session, Duration::from_secs(20)).await;
        assert_log_is_whole(&events);
        let chunks = events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::LlmResponseChunk { .. }))
            .count();
        assert_eq!(
            chunks, 4,
            "what it sent before breaking the protocol is kept"
        );
        let EventKind::SessionCrashed { detail, .. } = &events.last().unwrap().kind else {
            panic!("expected a crash, got {:?}", events.last());
        };
        assert!(detail.contains(expected), "{detail}");
        assert!(
            !events
                .iter()
                .any(|e| matches!(e.kind, EventKind::ToolApproved { .. })),
            "a forged approval is never recorded"
        );
        let pid = worker_pid(&events).unwrap();
        assert!(group_members(pid).is_empty());
    }
    let events = follow_to_end(&client, steady, Duration::from_secs(20)).await;
    assert_eq!(events.last().unwrap().kind, EventKind::SessionCompleted);
}

/// NaN compares false against any spend, so a NaN cost budget would be
/// no budget at all: every way of setting one is refused, and nothing is
/// recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nan_infinite_and_non_positive_budgets_are_refused_everywhere() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    create_agent(&client, agent("steady", 2, 0)).await;
    let nan = protocol::agent::Budgets {
        max_cost_usd: Some(f64::NAN),
        ..protocol::agent::Budgets::default()
    };
    let expect_invalid = |result: Result<ControlResponse, ClientError>, what: &str| match result {
        Err(ClientError::Daemon(err)) => {
            assert_eq!(err.kind, protocol::control::ErrorKind::Invalid, "{what}");
            assert!(err.message.contains("max_cost_usd"), "{what}: {err:?}");
        }
        other => panic!("{what}: {other:?}"),
    };

    let mut bad = agent("nan", 2, 0);
    bad.budgets = nan.clone();
    let result = client
        .request(ControlRequest::AgentCreate {
            agent: Box::new(bad),
            replace: false,
        })
        .await;
    expect_invalid(result, "an agent with a NaN budget");

    for usd in [f64::NAN, f64::INFINITY, -1.0, 0.0] {
        let bad_run = protocol::control::RunSpec {
            budgets: protocol::agent::Budgets {
                max_cost_usd: Some(usd),
                ..protocol::agent::Budgets::default()
            },
            ..spec("steady", "spend")
        };
        let result = client.request(ControlRequest::Run(bad_run.clone())).await;
        expect_invalid(result, &format!("a run with a {usd} budget"));
        let result = client
            .request(ControlRequest::RunBatch {
                runs: vec![spec("steady", "fine"), bad_run],
                parallel: 2,
                name: String::new(),
                caps: Default::default(),
                checks: Vec::new(),
            })
            .await;
        expect_invalid(result, &format!("a batch with a {usd} budget"));
    }
    let listed = match client
        .request(ControlRequest::SessionList {
            all: true,
            limit: 100,
        })
        .await
        .unwrap()
    {
        ControlResponse::Sessions(list) => list,
        other => panic!("unexpected {other:?}"),
    };
    assert!(listed.is_empty(), "nothing was recorded: {listed:?}");
}

/// One process holding connections open (each costs the daemon a file
/// descriptor) is stopped at its cap with a refusal that says so; closing
/// them frees the places, and everyone else is served throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_cannot_hold_more_than_its_share_of_connections() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    create_agent(&client, agent("steady", 20, 10)).await;
    let during = run(
        &client,
        spec("steady", "runs while the connections pile up"),
    )
    .await;
    let token = std::fs::read_to_string(daemon.dir.client_token()).unwrap();
    let control = daemon.dir.control_socket();

    let mut held = Vec::new();
    let refusal = loop {
        assert!(held.len() <= 300, "no cap after {} connections", held.len());
        let mut stream = tokio::net::UnixStream::connect(&control).await.unwrap();
        // Over the cap the daemon refuses without reading the Hello, so
        // the write may meet a closed socket; the refusal is read anyway.
        let (mut reader, mut writer) = stream.split();
        let reply = Hello::new(PeerRole::Client, token.clone())
            .send(&mut writer, &mut reader)
            .await
            .unwrap();
        match reply {
            Some(HelloReply::Accepted { .. }) => held.push(stream),
            Some(HelloReply::Refused { reason }) => break reason,
            other => panic!("unexpected {other:?}"),
        }
    };
    // The test's own client counts too, and so may the connection that
    // found the daemon up (`TestDaemon::start`): dropped, but its end may
    // not have reached the daemon yet.
    assert!(
        (254..=255).contains(&held.len()),
        "refused after {} connections: {refusal}",
        held.len()
    );
    assert!(
        refusal.contains(&format!(
            "too many connections from process {}",
            std::process::id()
        )),
        "{refusal}"
    );
    // The client already connected is still served.
    let events = follow_to_end(&client, during, Duration::from_secs(30)).await;
    assert_eq!(events.last().unwrap().kind, EventKind::SessionCompleted);

    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let again = daemon.client().await;
    assert!(matches!(
        again.request(ControlRequest::Ping).await,
        Ok(ControlResponse::Pong)
    ));
}
