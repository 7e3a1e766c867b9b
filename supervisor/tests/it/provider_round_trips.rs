//! A full tool round trip through the daemon for each of the four
//! providers (the model asks for a tool, the result goes back in that
//! provider's format, the model answers), a rate limit then success, and
//! `studio run` against a provider.

use std::time::Duration;

use protocol::agent::{AgentConfig, ProviderKind};
use protocol::event::{Event, EventKind};
use serde_json::Value;

use crate::support::*;
use test_support::fake_provider::{FakeProvider, Reply, Seen};

fn named(events: &[(&str, &str)]) -> Reply {
    Reply::sse(
        events
            .iter()
            .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
            .collect::<String>(),
    )
}

fn data(events: &[&str]) -> Reply {
    Reply::sse(
        events
            .iter()
            .map(|e| format!("data: {e}\n\n"))
            .collect::<String>(),
    )
}

/// The two replies of a round trip, the path prefix of the agent's base
/// URL, and a check of how the tool result came back.
pub(crate) struct Case {
    pub(crate) provider: ProviderKind,
    pub(crate) model: &'static str,
    pub(crate) path: &'static str,
    /// Where the provider's API is asked.
    pub(crate) endpoint: &'static str,
    pub(crate) replies: Vec<Reply>,
    result_in_second_request: fn(&Value) -> bool,
}

pub(crate) fn cases() -> Vec<Case> {
    vec![
        Case {
            provider: ProviderKind::OpenAi,
            model: "gpt-4o-mini",
            path: "/v1",
            endpoint: "/v1/chat/completions",
            replies: vec![
                data(&[
                    r#"{"id":"c0","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_9","type":"function","function":{"name":"get_weather","arguments":"{\"city\":"}}]},"finish_reason":null}]}"#,
                    r#"{"id":"c0","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"finish_reason":null}]}"#,
                    r#"{"id":"c0","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
                    "[DONE]",
                ]),
                data(&[
                    r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"It is 18°C."},"finish_reason":null}]}"#,
                    r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
                    "[DONE]",
                ]),
            ],
            result_in_second_request: |body| {
                let m = &body["messages"];
                m[1]["tool_calls"][0]["id"] == "call_9"
                    && m[2]["role"] == "tool"
                    && m[2]["tool_call_id"] == "call_9"
            },
        },
        Case {
            provider: ProviderKind::Anthropic,
            model: "claude-sonnet-4-5",
            path: "",
            endpoint: "/v1/messages",
            replies: vec![
                named(&[
                    (
                        "message_start",
                        r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"usage":{"input_tokens":50,"output_tokens":1}}}"#,
                    ),
                    (
                        "content_block_start",
                        r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_9","name":"get_weather","input":{}}}"#,
                    ),
                    (
                        "content_block_delta",
                        r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Paris\"}"}}"#,
                    ),
                    (
                        "content_block_stop",
                        r#"{"type":"content_block_stop","index":0}"#,
                    ),
                    (
                        "message_delta",
                        r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":20}}"#,
                    ),
                    ("message_stop", r#"{"type":"message_stop"}"#),
                ]),
                named(&[
                    (
                        "message_start",
                        r#"{"type":"message_start","message":{"id":"msg_2","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","usage":{"input_tokens":80,"output_tokens":1}}}"#,
                    ),
                    (
                        "content_block_start",
                        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
                    ),
                    (
                        "content_block_delta",
                        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"It is 18°C."}}"#,
                    ),
                    (
                        "content_block_stop",
                        r#"{"type":"content_block_stop","index":0}"#,
                    ),
                    (
                        "message_delta",
                        r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":7}}"#,
                    ),
                    ("message_stop", r#"{"type":"message_stop"}"#),
                ]),
            ],
            result_in_second_request: |body| {
                let m = &body["messages"];
                m[1]["content"][0]["type"] == "tool_use"
                    && m[2]["content"][0]["type"] == "tool_result"
                    && m[2]["content"][0]["tool_use_id"] == "toolu_9"
            },
        },
        Case {
            provider: ProviderKind::Gemini,
            model: "gemini-2.5-flash",
            path: "/v1beta",
            endpoint: "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            replies: vec![
                data(&[
                    r#"{"candidates": [{"content": {"parts": [{"functionCall": {"name": "get_weather","args": {"city": "Paris"}}}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 40,"candidatesTokenCount": 5,"totalTokenCount": 45}}"#,
                ]),
                data(&[
                    r#"{"candidates": [{"content": {"parts": [{"text": "It is 18°C."}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 60,"candidatesTokenCount": 6,"totalTokenCount": 66}}"#,
                ]),
            ],
            result_in_second_request: |body| {
                let c = &body["contents"];
                c[1]["parts"][0]["functionCall"]["name"] == "get_weather"
                    && c[2]["parts"][0]["functionResponse"]["name"] == "get_weather"
            },
        },
        Case {
            provider: ProviderKind::Ollama,
            model: "llama3.2",
            path: "",
            endpoint: "/api/chat",
            replies: vec![
                Reply::ndjson(&[
                    r#"{"model":"llama3.2","created_at":"2024-07-22T20:33:28Z","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Paris"}}}]},"done":false}"#,
                    r#"{"model":"llama3.2","created_at":"2024-07-22T20:33:28Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":30,"eval_count":12}"#,
                ]),
                Reply::ndjson(&[
                    r#"{"model":"llama3.2","created_at":"2024-07-22T20:33:29Z","message":{"role":"assistant","content":"It is 18°C."},"done":false}"#,
                    r#"{"model":"llama3.2","created_at":"2024-07-22T20:33:29Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":50,"eval_count":8}"#,
                ]),
            ],
            result_in_second_request: |body| {
                let m = &body["messages"];
                m[1]["tool_calls"][0]["function"]["name"] == "get_weather"
                    && m[2]["role"] == "tool"
                    && m[2]["tool_name"] == "get_weather"
            },
        },
    ]
}

pub(crate) fn agent(
    name: &str,
    provider: ProviderKind,
    model: &str,
    base_url: String,
) -> AgentConfig {
    AgentConfig {
        provider,
        model: model.to_owned(),
        base_url: Some(base_url),
        ..AgentConfig::scripted(name)
    }
}

fn names(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.kind.name()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_provider_completes_a_tool_round_trip_through_the_daemon() {
    let daemon = TestDaemon::start(4).await;
    let client = daemon.client().await;
    for case in cases() {
        let fake = FakeProvider::start(case.replies).await;
        let base = fake.base.clone();
        let name = format!("agent-{}", case.provider);
        create_agent(
            &client,
            agent(
                &name,
                case.provider,
                case.model,
                format!("{base}{}", case.path),
            ),
        )
        .await;
        let session = run(&client, spec(&name, "What is the weather in Paris?")).await;
        let events = follow_to_end(&client, session, Duration::from_secs(30)).await;
        assert_log_is_whole(&events);
        let names = names(&events);
        assert_eq!(
            names
                .iter()
                .filter(|n| **n == "llm.request.started")
                .count(),
            2,
            "{}: {names:?}",
            case.provider
        );
        for expected in [
            "tool.requested",
            "tool.approval.requested",
            "tool.denied",
            "message.assistant",
            "session.completed",
        ] {
            assert!(
                names.contains(&expected),
                "{}: no {expected} in {names:?}",
                case.provider
            );
        }
        let requested = events.iter().find_map(|e| match &e.kind {
            EventKind::ToolRequested {
                tool, arguments, ..
            } => Some((tool.clone(), arguments.clone())),
            _ => None,
        });
        let (tool, arguments) = requested.unwrap();
        assert_eq!(tool, "get_weather", "{}", case.provider);
        let arguments: Value = serde_json::from_str(&arguments).unwrap();
        assert_eq!(arguments["city"], "Paris", "{}", case.provider);
        let (streamed, message) = answer(&events);
        assert_eq!(streamed, "It is 18°C.", "{}", case.provider);
        assert_eq!(message.as_deref(), Some("It is 18°C."), "{}", case.provider);
        let seen: Vec<Seen> = fake.seen();
        assert_eq!(seen.len(), 2, "{}", case.provider);
        assert_eq!(seen[1].path, case.endpoint, "{}", case.provider);
        assert!(
            (case.result_in_second_request)(&seen[1].body),
            "{}: the tool result is not in the provider's format: {:#}",
            case.provider,
            seen[1].body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_is_recorded_and_retried_as_the_provider_asks() {
    let limited = r#"{"error":{"message":"Rate limit reached for gpt-4o-mini","type":"requests","code":"rate_limit_exceeded"}}"#;
    let answer_reply = data(&[
        r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Made it."},"finish_reason":null}]}"#,
        r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        "[DONE]",
    ]);
    let fake = FakeProvider::start(vec![
        Reply::error(429, limited).header("retry-after", "1"),
        Reply::error(503, r#"{"error":{"message":"The server is overloaded"}}"#)
            .header("retry-after", "0"),
        answer_reply,
    ])
    .await;
    let daemon = TestDaemon::start(4).await;
    let base = fake.base.clone();
    let client = daemon.client().await;
    create_agent(
        &client,
        agent(
            "gpt",
            ProviderKind::OpenAi,
            "gpt-4o-mini",
            format!("{base}/v1"),
        ),
    )
    .await;
    let session = run(&client, spec("gpt", "hi")).await;
    let events = follow_to_end(&client, session, Duration::from_secs(30)).await;
    assert_log_is_whole(&events);
    let errors: Vec<(String, bool)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::LlmError {
                message,
                will_retry,
                ..
            } => Some((message.clone(), *will_retry)),
            _ => None,
        })
        .collect();
    assert_eq!(
        errors,
        [
            (
                "openai answered 429: Rate limit reached for gpt-4o-mini".to_owned(),
                true
            ),
            (
                "openai answered 503: The server is overloaded".to_owned(),
                true
            ),
        ]
    );
    let first_error = events
        .iter()
        .position(|e| matches!(e.kind, EventKind::LlmError { .. }))
        .unwrap();
    let second_error = events
        .iter()
        .rposition(|e| matches!(e.kind, EventKind::LlmError { .. }))
        .unwrap();
    let waited = events[second_error].at.since(events[first_error].at);
    assert!(
        waited >= Duration::from_millis(900),
        "retry-after: 1 was honoured ({waited:?})"
    );
    assert_eq!(answer(&events).1.as_deref(), Some("Made it."));
    assert_eq!(events.last().unwrap().kind, EventKind::SessionCompleted);
    assert_eq!(fake.seen().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn studio_run_streams_a_providers_answer_to_the_terminal() {
    let _fake = FakeProvider::start(vec![data(&[
        r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hello from"},"finish_reason":null}]}"#,
        r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" a provider"},"finish_reason":"stop"}]}"#,
        "[DONE]",
    ])])
    .await;
    let daemon = TestDaemon::start(4).await;
    let base = _fake.base.clone();
    let client = daemon.client().await;
    create_agent(
        &client,
        agent(
            "gpt",
            ProviderKind::OpenAi,
            "gpt-4o-mini",
            format!("{base}/v1"),
        ),
    )
    .await;
    let dir = daemon.dir.root().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(studio_bin())
            .arg("--data-dir")
            .arg(dir)
            .args(["run", "gpt", "--prompt", "hi"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "Hello from a provider\n"
    );
}
