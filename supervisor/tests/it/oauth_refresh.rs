//! A chat outlives an access token: `tests/mcp/oauth-server.mjs` issues
//! tokens that expire in 3 seconds (`EXPIRES_IN`); each turn of a chat
//! sends the token the daemon holds then, refreshed first when it
//! expires, and the worker reconnects with it. Without that the second
//! turn's call would meet a 401 on the first turn's connection.

use std::time::Duration;

use protocol::approval::RuleDecision;
use protocol::control::ControlRequest;
use protocol::event::EventKind;

use crate::chat::{follow, idle, open, say, until};
use crate::mcp_oauth::{OAuthServer, add_notes, sign_in};
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_turn_of_a_chat_sends_a_token_refreshed_when_it_expired() {
    let server = OAuthServer::start_with(&[("EXPIRES_IN", "3")]);
    let daemon = TestDaemon::start(2).await;
    let client = daemon.client().await;
    add_notes(&client, &server).await;
    let mut noter = agent("noter", 1, 0);
    noter.mcp_servers = vec!["notes".to_owned()];
    noter.script.tool_calls = vec![call("notes.whoami", serde_json::json!({}))];
    create_agent(&client, noter).await;
    client
        .request(ControlRequest::RuleAdd {
            agent: Some("noter".to_owned()),
            matches: "notes.*".parse().unwrap(),
            decision: RuleDecision::Allow,
            priority: 0,
        })
        .await
        .unwrap();
    sign_in(&daemon, "notes");

    let (session, ..) = open(
        &client,
        ControlRequest::ChatOpen {
            agent: "noter".to_owned(),
        },
    )
    .await;
    let mut sees = follow(&client, session, 0).await;
    until(&mut sees, idle).await;
    let mut answers = Vec::new();
    for turn in ["first", "second"] {
        if turn == "second" {
            // The token the first turn used has expired at the server.
            tokio::time::sleep(Duration::from_secs(4)).await;
        }
        say(&client, session, turn).await.unwrap();
        let done = until(&mut sees, |kind| {
            matches!(
                kind,
                EventKind::ToolCompleted { .. } | EventKind::ToolError { .. }
            )
        })
        .await;
        answers.push(match done.kind {
            EventKind::ToolCompleted { output, .. } => Ok(output),
            EventKind::ToolError { message, .. } => Err(message),
            _ => unreachable!(),
        });
        until(&mut sees, idle).await;
    }
    assert_eq!(
        answers,
        vec![
            Ok("signed in as client-1".to_owned()),
            Ok("signed in as client-1".to_owned())
        ]
    );
    // Refreshed by the daemon at the chat's start and before each turn:
    // every token is within a minute of its end, the daemon's margin.
    let stats = server.stats();
    assert_eq!(stats["grants"]["refresh_token"], 3, "{stats}");
    client
        .request(ControlRequest::ChatEnd { session })
        .await
        .unwrap();
    until(&mut sees, EventKind::is_terminal).await;
}
