//! Attacks on `fetch`: a prompt-injected agent turning it on the machine's
//! own services or a cloud's metadata service, by every spelling of a
//! local address, by a name that resolves to one, and through a redirect
//! from a host it may reach. Each is refused with its cause, and the local
//! service never sees a request.

use std::time::Duration;

use protocol::agent::{ScriptPatch, ScriptedToolCall};
use protocol::approval::RuleDecision;
use protocol::control::{ControlRequest, ControlResponse, RunSpec};
use protocol::event::{Decider, Event, EventKind};

use crate::support::*;
use test_support::fake_provider::{FakeProvider, Reply};

fn fetches(urls: &[String]) -> ScriptPatch {
    ScriptPatch {
        tool_calls: Some(
            urls.iter()
                .map(|url| ScriptedToolCall {
                    name: "fetch".to_owned(),
                    arguments: serde_json::json!({ "url": url }).to_string(),
                })
                .collect(),
        ),
        chunk_delay_ms: Some(0),
        ..ScriptPatch::default()
    }
}

/// Each tool call's outcome, in order: its output, or its error.
fn outcomes(events: &[Event]) -> Vec<Result<String, String>> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolCompleted { output, .. } => Some(Ok(output.clone())),
            EventKind::ToolError { message, .. } => Some(Err(message.clone())),
            EventKind::ToolDenied { by, .. } => Some(Err(format!("denied by {by:?}"))),
            _ => None,
        })
        .collect()
}

/// A local service holding something an agent must not read.
async fn secret_service(requests: usize) -> (String, FakeProvider) {
    let secret = Reply::text(200, "the local secret");
    let fake = FakeProvider::start(vec![secret; requests]).await;
    (fake.base.clone(), fake)
}

async fn fetcher(client: &studio_client::Client, private_hosts: Vec<String>) {
    let mut fetcher = agent("fetcher", 1, 0);
    fetcher.tools = vec!["fetch".into()];
    fetcher.sandbox.private_hosts = private_hosts;
    create_agent(client, fetcher).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_refuses_local_and_metadata_addresses_by_every_spelling() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    fetcher(&client, Vec::new()).await;
    let (base, service) = secret_service(10).await;
    let port = base.rsplit(':').next().unwrap();
    let urls: Vec<String> = [
        format!("http://127.0.0.1:{port}/"),
        format!("http://0x7f000001:{port}/"),
        format!("http://2130706433:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        // A name, resolved by DNS to a loopback address.
        format!("http://localhost:{port}/"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://metadata.google.internal/computeMetadata/v1/".to_owned(),
    ]
    .into();
    let session = run(
        &client,
        RunSpec {
            script: fetches(&urls),
            approve: vec!["fetch".parse().unwrap()],
            ..spec("fetcher", "read the local service")
        },
    )
    .await;
    let events = follow_to_end(&client, session, Duration::from_secs(60)).await;
    assert_log_is_whole(&events);
    let seen = outcomes(&events);
    assert_eq!(seen.len(), urls.len(), "{seen:?}");
    let causes = [
        "loopback",
        "loopback",
        "loopback",
        "loopback",
        "loopback",
        "link-local",
        "metadata service",
    ];
    for ((url, outcome), cause) in urls.iter().zip(&seen).zip(causes) {
        let err = outcome.as_ref().expect_err(url);
        assert!(
            err.contains("refused") && err.contains(cause),
            "{url}: {err}"
        );
    }
    assert!(service.seen().is_empty(), "the local service was reached");
    assert_eq!(events.last().unwrap().kind, EventKind::SessionCompleted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_not_followed_and_its_target_is_checked_like_a_new_call() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    let (secret_base, secret) = secret_service(2).await;
    let target = format!("{secret_base}/secret");
    let bounce = Reply::text(302, "moved").header("location", &target);
    let allowed = FakeProvider::start(vec![bounce.clone(), bounce]).await;
    let allowed_base = allowed.base.clone();
    let allowed_host = allowed_base.trim_start_matches("http://").to_owned();
    let start = format!("{allowed_base}/start");

    // The target is not a host the agent may reach: the guard refuses it.
    fetcher(&client, vec![allowed_host.clone()]).await;
    let session = run(
        &client,
        RunSpec {
            script: fetches(&[start.clone(), target.clone()]),
            approve: vec!["fetch".parse().unwrap()],
            ..spec("fetcher", "follow the link")
        },
    )
    .await;
    let events = follow_to_end(&client, session, Duration::from_secs(60)).await;
    assert_log_is_whole(&events);
    let seen = outcomes(&events);
    let first = seen[0].as_ref().unwrap();
    assert!(
        first.starts_with("HTTP 302") && first.contains(&format!("redirected to {target}")),
        "{first}"
    );
    let second = seen[1].as_ref().unwrap_err();
    assert!(
        second.contains("refused") && second.contains("loopback"),
        "{second}"
    );
    assert_eq!(allowed.seen().len(), 1);
    assert!(
        secret.seen().is_empty(),
        "the redirect's target was reached"
    );

    // Both hosts reachable, but a rule denies the target: the hop is a call
    // of its own, so the rule decides it.
    let secret_host = secret_base.trim_start_matches("http://");
    let mut agent = agent("fetcher", 1, 0);
    agent.tools = vec!["fetch".into()];
    agent.sandbox.private_hosts = vec![allowed_host, secret_host.to_owned()];
    client
        .request(ControlRequest::AgentCreate {
            agent: Box::new(agent),
            replace: true,
        })
        .await
        .unwrap();
    let deny = match client
        .request(ControlRequest::RuleAdd {
            agent: None,
            matches: format!("fetch:url={secret_base}/*").parse().unwrap(),
            decision: RuleDecision::Deny,
            priority: 10,
        })
        .await
        .unwrap()
    {
        ControlResponse::Rule(rule) => rule.id,
        other => panic!("unexpected {other:?}"),
    };
    let session = run(
        &client,
        RunSpec {
            script: fetches(&[start, target]),
            approve: vec!["fetch".parse().unwrap()],
            ..spec("fetcher", "follow the link")
        },
    )
    .await;
    let events = follow_to_end(&client, session, Duration::from_secs(60)).await;
    assert_log_is_whole(&events);
    let seen = outcomes(&events);
    assert!(seen[0].as_ref().unwrap().contains("redirected to"));
    assert_eq!(
        seen[1],
        Err(format!("denied by {:?}", Decider::Rule { id: deny })),
    );
    assert!(secret.seen().is_empty(), "the denied target was reached");
}
